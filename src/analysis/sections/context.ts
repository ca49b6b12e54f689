/**
 * What every report section is built from: the core's tables, the vCPU threads in report order, who
 * each is, the clock scale of each file, and helpers over one thread's bins (exit reasons, metrics
 * M_*, sub-keys). summary.ts makes one context; each sections/*.ts module reads it.
 */
import * as K from '../../../assembly/constants.js';
import type { BinRec, CoreTables } from '../../wasm/core.js';
import { DenseHist, Histogram, type HistStats } from '../../core/histogram.js';
import type { Stats, Unavailable, Who } from '../types.js';

/** What summarize() hands the sections. */
export interface ExtraContext {
  tables: CoreTables;
  /** vCPU threads (index into tables.threads) in report order */
  vcpuThreads: number[];
  who(ti: number): Who;
  /** ns per tick of each input file */
  scale: number[];
  /** canonical reason of a bin's reason id in a file */
  reasonOf(file: number, id: number): string;
  /** ns per guest TSC cycle, if known (--tsc-khz) */
  tscNs?: number;
  /** events per name in the whole input */
  events: Record<string, number>;
  /** total handling overhead (host time that is not halted), for shares */
  overheadNs: number;
  stats(h: HistStats): Stats;
  /** each input's last timestamp (for threads without exits/entries, e.g. the window's time-weighted mean) */
  fileLastTs: Array<number | null>;
}

/** Bins of one thread, split into exit reasons, metrics (M_*) and sub-keys. */
export interface ThreadBins { reasons: BinRec[]; metrics: Map<number, BinRec>; keys: BinRec[] }

export function splitBins(t: CoreTables): Map<number, ThreadBins> {
  const m = new Map<number, ThreadBins>();
  for (const b of t.bins) {
    let e = m.get(b.thread);
    if (!e) m.set(b.thread, (e = { reasons: [], metrics: new Map(), keys: [] }));
    if (b.reason < 0) e.metrics.set(b.reason, b);
    else if (b.reason & K.SUBKEY_FLAG) e.keys.push(b);
    else e.reasons.push(b);
  }
  return m;
}

/**
 * A bin's histogram, its values times k (ns per tick, or per guest TSC cycle), for its statistics: read
 * in place when k is 1 (no copy), else a scaled copy.
 */
export function hist(b: BinRec | undefined, k: number): HistStats {
  if (b && k === 1) return binStats(b);
  const h = new Histogram();
  if (b) h.addBin(b, k);
  return h;
}

/** A bin's histogram in its own unit, read in place. */
export function binStats(b: BinRec): HistStats {
  return new DenseHist(b, b.handled, Number(b.sum), Number(b.sumsq), b.handled > 0 ? Number(b.min) : Infinity, b.handled > 0 ? Number(b.max) : -Infinity);
}

/** Two bins' histograms merged, times k. */
export function mergeHist(a: BinRec | undefined, b: BinRec | undefined, k: number): Histogram {
  const h = new Histogram();
  for (const x of [a, b]) if (x) h.addBin(x, k);
  return h;
}

/** The context with the helpers every section uses. */
export interface SectionContext extends ExtraContext {
  /** each thread's bins */
  bins: Map<number, ThreadBins>;
  binsOf(ti: number): ThreadBins;
  /** handled exits and their host time (ns) of some exit reasons on one thread */
  reasonTotal(ti: number, names: string[]): { n: number; ns: number };
  /** a thread's bin of one sub-key ("msr 0x6e0 w") */
  keyOf(ti: number, key: string): BinRec | undefined;
  /** the trace has at least one of these events */
  has(...names: string[]): boolean;
  /** handling times need both kvm_exit and kvm_entry; without them time figures are null, not 0 */
  timed: boolean;
}

/** The section of a trace without the events it is made from: present, saying why, never zeros. */
export function absent(...names: string[]): Unavailable {
  return { available: false, reason: `the trace has no ${names.join(' or ')} events` };
}

export function sectionContext(ctx: ExtraContext): SectionContext {
  const t = ctx.tables;
  const bins = splitBins(t);
  const empty: ThreadBins = { reasons: [], metrics: new Map(), keys: [] };
  const binsOf = (ti: number) => bins.get(ti) ?? empty;
  const has = (...names: string[]) => names.some((n) => (ctx.events[n] ?? 0) > 0);
  return {
    ...ctx, bins, binsOf, has,
    reasonTotal: (ti, names) => {
      let n = 0, ns = 0;
      const th = t.threads[ti]!;
      for (const b of binsOf(ti).reasons) {
        if (names.includes(ctx.reasonOf(th.file, b.reason))) { n += b.handled; ns += Number(b.sum) * ctx.scale[th.file]!; }
      }
      return { n, ns };
    },
    keyOf: (ti, key) => binsOf(ti).keys.find((b) => t.strings[b.reason & ~K.SUBKEY_FLAG] === key),
    timed: has('kvm_exit') && has('kvm_entry'),
  };
}
