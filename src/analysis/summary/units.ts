/**
 * Units and time spans of a report: ns, or raw counter ticks (trace_clock=x86-tsc) converted with
 * --tsc-khz (or left as cycles); each input's span (its longest vCPU wall time) and the rate per second.
 */
import type { CoreTables } from '../../wasm/core.js';
import type { InputInfo } from '../types.js';

export interface Units {
  unit: 'ns' | 'cycles';
  /** ns per tick of each input */
  scale: number[];
  notes: string[];
}

export function units(inputs: InputInfo[], tscKhz: number | undefined): Units {
  const notes: string[] = [];
  const rawFiles = inputs.map((f) => f.clock === 'raw');
  const anyRaw = rawFiles.some(Boolean);
  let unit: 'ns' | 'cycles' = 'ns';
  const scale = inputs.map((f) => (f.clock === 'raw' ? (tscKhz ? 1e6 / tscKhz : 1) : 1));
  if (anyRaw && !tscKhz) {
    if (rawFiles.every(Boolean)) {
      unit = 'cycles';
      notes.push('timestamps are raw counter ticks (trace_clock=x86-tsc); times are in cycles: give --tsc-khz to convert to ns');
    } else {
      notes.push('some inputs have raw counter timestamps and no --tsc-khz was given: their times are counted as if they were ns');
    }
  } else if (anyRaw) {
    notes.push(`raw counter timestamps converted with --tsc-khz ${tscKhz}`);
  }
  return { unit, scale, notes };
}

export interface Spans {
  /** the inputs' spans added up (ns) */
  spanNs: number;
  firstTs: number | null;
  lastTs: number | null;
  notes: string[];
}

/**
 * A file's span is its longest vCPU wall time (the kvm events' own time, not stretched by lines of another
 * clock mixed in); without vCPU threads, its first to last event.
 */
export function spans(t: CoreTables, inputs: InputInfo[], scale: number[]): Spans {
  const notes: string[] = [];
  let spanNs = 0;
  let firstTs: number | null = null;
  let lastTs: number | null = null;
  const vcpuWall = inputs.map(() => 0);
  for (const th of t.threads) if (th.exits + th.entries > 0) vcpuWall[th.file] = Math.max(vcpuWall[th.file]!, Number(th.wall));
  inputs.forEach((f, i) => {
    if (f.first_ts !== null && f.last_ts !== null && f.last_ts >= f.first_ts) {
      spanNs += (vcpuWall[i]! > 0 ? vcpuWall[i]! : f.last_ts - f.first_ts) * scale[i]!;
      firstTs = firstTs === null ? f.first_ts : Math.min(firstTs, f.first_ts);
      lastTs = lastTs === null ? f.last_ts : Math.max(lastTs, f.last_ts);
    }
  });
  const jumps = t.threads.reduce((n, th) => n + th.jumps, 0);
  if (jumps > 0) notes.push(`timestamps jumped back ${jumps} time(s) on vCPU threads (two captures concatenated?): pairing started over at each jump, and wall times leave the jumps out`);
  // a step back smaller than a jump (under 1 ms): an entry stamped before its own exit (per-CPU clocks
  // that disagree, trace_clock=local across a migration); such an exit is seen but never handled
  const backwards = t.threads.reduce((n, th) => n + th.backwards, 0);
  if (backwards > 0) notes.push(`the clock stepped back (by less than 1 ms) between ${backwards} exit(s) and their kvm_entry on vCPU threads (per-CPU clocks that disagree? trace_clock=global avoids it): those exits are counted as seen, not handled, and the steps are left out of wall time`);
  return { spanNs, firstTs, lastTs, notes };
}

/** Events per second of trace time, or null for cycles or an empty span. */
export function perSecondOf(unit: 'ns' | 'cycles'): (n: number, ns: number) => number | null {
  return (n, ns) => (unit === 'ns' && ns > 0 ? Math.round((n / (ns / 1e9)) * 10) / 10 : null);
}
