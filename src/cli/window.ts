/** --window START,END of `kvmtax export`: a time range of the trace, parsed exactly into ns. */
import { KvmtaxError } from '../core/errors.js';
import type { TimeWindow } from '../export/perfetto.js';

/**
 * Parse a --window value "START,END": each a number of seconds (as the trace prints its timestamps:
 * 7.5, 7.345521) or a number with a unit (s, ms, us, ns: 7345521000ns); either may be left empty for the
 * trace's start or end. Returns ns of the trace clock, [start, end).
 */
export function parseWindow(s: string): TimeWindow {
  const parts = s.split(',');
  if (parts.length !== 2) throw KvmtaxError.usage(`--window: expected START,END (got ${JSON.stringify(s)})`);
  const one = (p: string, open: number): number => {
    const v = p.trim();
    if (v === '') return open;
    const m = /^(\d+(?:\.\d*)?|\.\d+)(s|ms|us|ns)?$/.exec(v);
    if (!m) throw KvmtaxError.usage(`--window: expected seconds (7.5) or a number with a unit s, ms, us or ns (got ${JSON.stringify(v)})`);
    const unit = m[2] ?? 's';
    if (unit === 'ns') {
      if (!/^\d+$/.test(m[1]!)) throw KvmtaxError.usage(`--window: ns are whole numbers (got ${JSON.stringify(v)})`);
      return Number(m[1]);
    }
    return toNs(m[1]!, unit === 's' ? 9 : unit === 'ms' ? 6 : 3);
  };
  const w = { start: one(parts[0]!, -Infinity), end: one(parts[1]!, Infinity) };
  if (!(w.start < w.end)) throw KvmtaxError.usage(`--window: START must be before END (got ${JSON.stringify(s)})`);
  return w;
}

/** A decimal string times 10^digits, exactly (no binary rounding: 7.345521 s is 7345521000 ns). */
function toNs(dec: string, digits: number): number {
  const [i = '', frac = ''] = dec.split('.');
  const f = (frac + '0'.repeat(digits)).slice(0, digits);
  return Number((i || '0') + f);
}
