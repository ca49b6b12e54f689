/**
 * The log-linear histogram of the core (assembly/analysis.ts bucketOf): values below 128 are exact, then
 * 64 buckets per power of two, so a bucket's midpoint is within 0.78% of any value in it.
 */
import { HIST_BUCKETS } from '../../assembly/constants.js';

export function bucketOf(v: number): number {
  if (v < 128) return v < 0 ? 0 : Math.floor(v);
  const e = Math.floor(Math.log2(v));
  // Math.log2 can round up just below a power of two
  const ee = 2 ** e > v ? e - 1 : e;
  if (ee > 45) return HIST_BUCKETS - 1;
  const shift = ee - 6;
  const sub = Math.floor(v / 2 ** shift);
  return 128 + (ee - 7) * 64 + (sub - 64);
}

/** [lo, hi) of bucket i. */
export function bucketBounds(i: number): [number, number] {
  if (i < 128) return [i, i + 1];
  const e = 7 + ((i - 128) >> 6);
  const sub = 64 + ((i - 128) & 63);
  const shift = e - 6;
  return [sub * 2 ** shift, (sub + 1) * 2 ** shift];
}

/** The value reported for bucket i: exact below 128, else the midpoint. */
export function bucketValue(i: number): number {
  if (i < 128) return i;
  const [lo, hi] = bucketBounds(i);
  return (lo + hi - 1) / 2;
}

const PAGE = 64;
const PAGES = Math.ceil(HIST_BUCKETS / PAGE);

/** A core that sums and ranks its own histograms in place (wasm/core.ts). */
export interface HistCore {
  /** for each rank (ascending), the first bucket where the histograms `ids` summed reach it; -1 when their counts end first */
  histRanks(ids: readonly number[], ranks: readonly number[]): Int32Array;
  /** fn(bucket, count) for each non-empty bucket of the histograms `ids` summed, in bucket order */
  histEach(ids: readonly number[], fn: (bucket: number, count: number) => void): void;
}

/** What Histogram.addBin reads of a core bin (wasm/core.ts BinRec; the core's bins also list their pages). */
export interface BinHistSource {
  hist: Uint32Array; handled: number; sum: bigint; sumsq: bigint; min: bigint; max: bigint;
  eachHistPage?(fn: (page: number, mem: Uint32Array, at: number, len: number) => void): void;
  /** the core and number of the bin's histogram, when its counts are the core's (not replaced by a copy) */
  coreHist?(): { core: HistCore; h: number } | undefined;
}

/**
 * Counts per bucket, with min, max, sum and sum of squares. The counts are kept in pages of 64 buckets
 * made only where a value fell (a distribution spans a few octaves: a few pages of the 41), so that a
 * report with thousands of (thread, reason) histograms stays small.
 */
export class Histogram {
  private readonly pages: (Float64Array | undefined)[] = new Array(PAGES);
  /** a page was made (addBucket) */
  private paged = false;
  /**
   * Core histograms added whole and not read here yet: the core sums and ranks them when asked (at hundreds of
   * vCPUs, reading every bin's pages into these took most of the summary and its garbage). settle() adds them
   * to the pages first when a read needs the counts here.
   */
  private refs: { core: HistCore; ids: number[] } | undefined;
  n = 0;
  sum = 0;
  /** the sum of squares: exact for whole bins (so the order they are added in does not matter), plus what came scaled or estimated */
  private sqExact = 0n;
  private sqApprox = 0;
  get sumsq(): number { return this.sqExact === 0n ? this.sqApprox : Number(this.sqExact) + this.sqApprox; }
  /** add to the sum of squares a figure that is not exact (scaled, or estimated from a stddev) */
  addSumsq(v: number): void { this.sqApprox += v; }
  min = Infinity;
  max = -Infinity;

  /** The counts as one dense array (a copy: write through addBucket). */
  get counts(): Float64Array {
    this.settle();
    const out = new Float64Array(HIST_BUCKETS);
    this.pages.forEach((p, i) => { if (p) out.set(p.subarray(0, Math.min(PAGE, HIST_BUCKETS - i * PAGE)), i * PAGE); });
    return out;
  }

  /** Add c to the count of bucket i (not to n). */
  addBucket(i: number, c: number): void {
    const pi = i >> 6;
    let p = this.pages[pi];
    if (!p) { this.pages[pi] = p = new Float64Array(PAGE); this.paged = true; }
    p[i & 63]! += c;
  }

  /** Core histogram h added whole, summed when read (counts add up in any order: the same histogram). */
  private addRef(core: HistCore, h: number): void {
    if (this.refs && this.refs.core !== core) this.settle();
    (this.refs ??= { core, ids: [] }).ids.push(h);
  }

  /** The core histograms added whole, into the pages. */
  private settle(): void {
    const r = this.refs;
    if (!r) return;
    this.refs = undefined;
    r.core.histEach(r.ids, (i, c) => this.addBucket(i, c));
  }

  /** Add a core histogram whose values are in the same unit. */
  addCounts(h: Uint32Array, n: number, sum: number, sumsq: number, min: number, max: number): void {
    for (let i = 0; i < h.length; i++) if (h[i]) this.addBucket(i, h[i]!);
    this.n += n;
    this.sum += sum;
    this.sqApprox += sumsq;
    if (n > 0) {
      this.min = Math.min(this.min, min);
      this.max = Math.max(this.max, max);
    }
  }

  /**
   * Add a bin's histogram scaled by k: when k is 1 and the bin can list its non-empty pages (the core's
   * two-level histograms), only those are read (a dense read is 2,624 buckets per bin, most of them 0).
   */
  addBin(b: BinHistSource, k: number): void {
    const n = b.handled, sum = Number(b.sum), min = Number(b.min), max = Number(b.max);
    if (k !== 1) return this.addScaled(b.hist, k, n, sum, Number(b.sumsq), min, max);
    if (!b.eachHistPage) { this.addCounts(b.hist, n, sum, 0, min, max); this.sqExact += b.sumsq; return; }
    const ref = b.coreHist?.();
    if (ref) this.addRef(ref.core, ref.h);
    else {
      b.eachHistPage((pg, mem, at, len) => {
        for (let j = 0; j < len; j++) if (mem[at + j]) this.addBucket(pg * PAGE + j, mem[at + j]!);
      });
    }
    this.n += n;
    this.sum += sum;
    this.sqExact += b.sumsq;
    if (n > 0) {
      this.min = Math.min(this.min, min);
      this.max = Math.max(this.max, max);
    }
  }

  /** Add a core histogram recorded in another unit, scaled by `k` (e.g. TSC cycles -> ns). */
  addScaled(h: Uint32Array, k: number, n: number, sum: number, sumsq: number, min: number, max: number): void {
    if (k === 1) return this.addCounts(h, n, sum, sumsq, min, max);
    for (let i = 0; i < h.length; i++) if (h[i]) this.addBucket(bucketOf(bucketValue(i) * k), h[i]!);
    this.n += n;
    this.sum += sum * k;
    this.sqApprox += sumsq * k * k;
    if (n > 0) {
      this.min = Math.min(this.min, min * k);
      this.max = Math.max(this.max, max * k);
    }
  }

  merge(o: Histogram): void {
    if (o.refs) for (const h of o.refs.ids) this.addRef(o.refs.core, h);
    o.pages.forEach((p, pi) => {
      if (!p) return;
      for (let j = 0; j < PAGE; j++) if (p[j]) this.addBucket(pi * PAGE + j, p[j]!);
    });
    this.n += o.n;
    this.sum += o.sum;
    this.sqExact += o.sqExact;
    this.sqApprox += o.sqApprox;
    this.min = Math.min(this.min, o.min);
    this.max = Math.max(this.max, o.max);
  }

  /** The q-quantile (0 < q <= 1) by nearest rank, clamped to the exact min and max. */
  quantile(q: number): number {
    if (this.n === 0) return NaN;
    if (this.refs && !this.paged) return this.quantiles([q])[0]!;
    this.settle();
    const rank = Math.max(1, Math.ceil(q * this.n));
    let c = 0;
    for (let pi = 0; pi < PAGES; pi++) {
      const p = this.pages[pi];
      if (!p) continue;
      for (let j = 0; j < PAGE; j++) {
        if (!p[j]) continue;
        c += p[j]!;
        if (c >= rank) return Math.min(this.max, Math.max(this.min, bucketValue(pi * PAGE + j)));
      }
    }
    return this.max;
  }

  /** quantile() of each of qs (ascending), in one pass over the pages. */
  quantiles(qs: readonly number[]): number[] {
    const q = new Quantiles(qs, this.n, this.min, this.max);
    if (this.refs && !this.paged) return q.fromCore(this.refs.core, this.refs.ids);
    this.settle();
    for (let pi = 0; pi < PAGES && !q.done(); pi++) {
      const p = this.pages[pi];
      if (p) q.add(p, 0, PAGE, pi * PAGE);
    }
    return q.result();
  }

  mean(): number {
    return meanOf(this);
  }

  /** Sample standard deviation. */
  stddev(): number {
    return stddevOf(this);
  }

  /** Non-empty buckets as [lo, hi, count] (for JSON and charts). */
  buckets(): Array<[number, number, number]> {
    this.settle();
    const out: Array<[number, number, number]> = [];
    this.pages.forEach((p, pi) => {
      if (p) for (let j = 0; j < PAGE; j++) if (p[j]) out.push([...bucketBounds(pi * PAGE + j), p[j]!]);
    });
    return out;
  }
}

/** The mean of n values summing to sum (NaN for none). */
function meanOf(h: { n: number; sum: number }): number {
  return h.n ? h.sum / h.n : NaN;
}

/** The sample standard deviation from the count, sum and sum of squares. */
function stddevOf(h: { n: number; sum: number; sumsq: number }): number {
  if (h.n < 2) return 0;
  const m = h.sum / h.n;
  return Math.sqrt(Math.max(0, (h.sumsq - h.n * m * m) / (h.n - 1)));
}

/**
 * Nearest-rank quantiles of several q (ascending) in one walk over the buckets in order, as quantile() finds each:
 * the first bucket where the running count reaches ceil(q n) (at least 1), its value clamped to [min, max]; max
 * when the walk ends first.
 */
class Quantiles {
  private readonly ranks: number[];
  private readonly out: number[];
  private k = 0;
  private c = 0;
  constructor(qs: readonly number[], n: number, private readonly min: number, private readonly max: number) {
    this.ranks = qs.map((q) => Math.max(1, Math.ceil(q * n)));
    this.out = qs.map(() => (n === 0 ? NaN : max));
    if (n === 0) this.k = qs.length;
  }
  done(): boolean { return this.k >= this.ranks.length; }
  /** Counts mem[at, at + len) of buckets first, first + 1, ... */
  add(mem: ArrayLike<number>, at: number, len: number, first: number): void {
    for (let j = 0; j < len && this.k < this.ranks.length; j++) {
      const v = mem[at + j]!;
      if (!v) continue;
      this.c += v;
      while (this.k < this.ranks.length && this.c >= this.ranks[this.k]!) this.out[this.k++] = Math.min(this.max, Math.max(this.min, bucketValue(first + j)));
    }
  }
  result(): number[] { return this.out; }
  /** The result read from the histograms `ids` of `core` summed (the same nearest ranks, walked in the core). */
  fromCore(core: HistCore, ids: readonly number[]): number[] {
    if (this.done()) return this.out;
    const b = core.histRanks(ids, this.ranks);
    for (let k = 0; k < b.length; k++) if (b[k]! >= 0) this.out[k] = Math.min(this.max, Math.max(this.min, bucketValue(b[k]!)));
    return this.out;
  }
}

/** What a report's statistics read of a histogram (summary.ts stats()). */
export interface HistStats {
  n: number; sum: number; sumsq: number; min: number; max: number;
  quantile(q: number): number;
  /** quantile() of each of qs (ascending), in one pass */
  quantiles(qs: readonly number[]): number[];
  mean(): number;
  stddev(): number;
}

/**
 * One core bin's histogram read in place, in its own unit (no scaling): the same statistics as a
 * Histogram filled from it, without building one (pages of Float64Arrays per (thread, metric) were most
 * of what the summary allocated at hundreds of vCPUs). `src.hist` is read again at each quantile: the
 * core hands out one dense scratch array that the next bin's read overwrites.
 */
export class DenseHist implements HistStats {
  constructor(private readonly src: { hist: Uint32Array; eachHistPage?: BinHistSource['eachHistPage']; coreHist?: BinHistSource['coreHist'] }, readonly n: number, readonly sum: number, readonly sumsq: number, readonly min: number, readonly max: number) {}

  /** The q-quantile by nearest rank, clamped to the exact min and max (as Histogram.quantile). */
  quantile(q: number): number {
    if (this.n === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.n));
    const h = this.src.hist;
    let c = 0;
    for (let i = 0; i < h.length; i++) {
      if (!h[i]) continue;
      c += h[i]!;
      if (c >= rank) return Math.min(this.max, Math.max(this.min, bucketValue(i)));
    }
    return this.max;
  }

  /** quantile() of each of qs (ascending), in one pass: over the pages that have counts when the bin lists them. */
  quantiles(qs: readonly number[]): number[] {
    const q = new Quantiles(qs, this.n, this.min, this.max);
    if (this.n === 0) return q.result();
    const ref = this.src.coreHist?.();
    if (ref) return q.fromCore(ref.core, [ref.h]);
    if (this.src.eachHistPage) this.src.eachHistPage((pg, mem, at, len) => q.add(mem, at, len, pg * PAGE));
    else q.add(this.src.hist, 0, this.src.hist.length, 0);
    return q.result();
  }

  mean(): number {
    return meanOf(this);
  }

  stddev(): number {
    return stddevOf(this);
  }
}
