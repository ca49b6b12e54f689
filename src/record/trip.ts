/**
 * `kvmtax record --flight --trip COND`: conditions on the in-kernel histograms (in-kernel.ts) that snapshot
 * the flight recorder's overwrite-mode instance when they hold.
 *
 *   p50|p90|p99|p999|max [(REASON)] > DURATION    a quantile of the kvm_exit -> kvm_entry time, of one exit
 *                                                reason (as kvmtax names it: hlt, npf, EPT_VIOLATION...) or of
 *                                                all; DURATION in ns, us, ms or s. Quantiles are log2-bucket
 *                                                upper bounds (what the kernel's hist keeps), so 5ms trips when
 *                                                the quantile's bucket ends above 5 ms.
 *   tax > N%                                     exit handling time outside the idle reasons (HLT...), summed
 *                                                exactly by a hist trigger, as a share of the wall time of the
 *                                                vCPU threads that exited in the window.
 *
 * The window is the time since the start or since the last trip, so one burst trips once.
 */
import { KvmtaxError } from '../core/errors.js';
import { canonicalReason, isIdleReason } from '../core/reasons.js';
import { bucketQuantile, type HistRow } from './in-kernel.js';

export type Trip =
  | { kind: 'quantile'; text: string; q: number; reason?: string; ns: number }
  | { kind: 'tax'; text: string; share: number };

const UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9 };
const QS: Record<string, number> = { p50: 0.5, p90: 0.9, p99: 0.99, p999: 0.999, max: 1 };

export function parseTrip(s: string, isa: number): Trip {
  const t = s.trim();
  const q = /^(p50|p90|p99|p999|max)\s*(?:\(\s*([^()]+?)\s*\))?\s*>\s*(\d+(?:\.\d+)?)\s*(ns|us|\u00b5s|ms|s)$/i.exec(t);
  if (q) {
    const trip: Trip = { kind: 'quantile', text: t, q: QS[q[1]!.toLowerCase()]!, ns: Number(q[3]) * UNITS[q[4]!.toLowerCase()]! };
    if (q[2]) trip.reason = canonicalReason(q[2], isa);
    return trip;
  }
  const x = /^tax\s*>\s*(\d+(?:\.\d+)?)\s*%$/i.exec(t);
  if (x) return { kind: 'tax', text: t, share: Number(x[1]) / 100 };
  throw KvmtaxError.usage(`--trip "${s}": expected "p99(REASON) > 5ms" (p50, p90, p99, p999 or max; reason optional; ns, us, ms or s) or "tax > 40%"`);
}

/** Parse the exact sums of a "hist:keys=pid,reason:vals=hitcount,lat" trigger: "{ pid: 1, reason: 2 } hitcount: 3  lat: 4". */
export function parseSums(text: string): { pid: number; reason: number; count: number; sumNs: number }[] {
  const out: { pid: number; reason: number; count: number; sumNs: number }[] = [];
  for (const m of text.matchAll(/^\{\s*pid:\s*(\d+),\s*reason:\s*(\d+)\s*\}\s*hitcount:\s*(\d+)\s+lat:\s*(\d+)\s*$/gm)) {
    out.push({ pid: Number(m[1]), reason: Number(m[2]), count: Number(m[3]), sumNs: Number(m[4]) });
  }
  return out;
}

export interface HistState { rows: HistRow[]; sums: ReturnType<typeof parseSums> }

/**
 * The first trip that holds over the window between `base` and `now` (histograms are cumulative), with
 * the figure that made it hold, or undefined. `unitNs` is the histograms' unit; `dtS` the window's length.
 */
export function checkTrips(trips: Trip[], base: HistState, now: HistState, dtS: number, reasonOf: (code: number) => string, unitNs = 1): string | undefined {
  const key = (pid: number, reason: number | null, b: number): string => `${pid}/${reason}/${b}`;
  const before = new Map(base.rows.map((r) => [key(r.pid, r.reason, r.log2), r.count] as const));
  for (const t of trips) {
    if (t.kind === 'quantile') {
      const buckets = new Map<number, number>();
      for (const r of now.rows) {
        if (t.reason !== undefined && (r.reason === null || reasonOf(r.reason).toLowerCase() !== t.reason.toLowerCase())) continue;
        const n = r.count - (before.get(key(r.pid, r.reason, r.log2)) ?? 0);
        if (n > 0) buckets.set(r.log2, (buckets.get(r.log2) ?? 0) + n);
      }
      const v = bucketQuantile(buckets, t.q);
      if (v !== null && v * unitNs > t.ns) return `${t.text}: ${fmtNs(v * unitNs)} (log2 bucket bound) over ${[...buckets.values()].reduce((a, b) => a + b, 0)} exits`;
    } else if (dtS > 0) {
      const sb = new Map(base.sums.map((r) => [`${r.pid}/${r.reason}`, r.sumNs] as const));
      const pids = new Set<number>();
      let busy = 0;
      for (const r of now.sums) {
        const d = r.sumNs - (sb.get(`${r.pid}/${r.reason}`) ?? 0);
        if (d <= 0) continue;
        pids.add(r.pid);
        if (!isIdleReason(reasonOf(r.reason))) busy += d * unitNs;
      }
      const share = pids.size ? busy / (dtS * 1e9 * pids.size) : 0;
      if (share > t.share) return `${t.text}: ${(share * 100).toFixed(1)}% over ${pids.size} vCPU thread${pids.size === 1 ? '' : 's'} in ${dtS.toFixed(2)} s`;
    }
  }
  return undefined;
}

function fmtNs(ns: number): string { return ns >= 1e9 ? `${ns / 1e9}s` : ns >= 1e6 ? `${(ns / 1e6).toFixed(3)}ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(3)}us` : `${ns}ns`; }
