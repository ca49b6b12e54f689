/**
 * The summary's histogram reads done in the core (core/histogram.ts HistCore, assembly/analysis.ts histRanks /
 * histSum): a Histogram given core bins whole asks the core for its nearest-rank quantiles and reads its counts
 * from there only when it needs them here. Every case is checked against hand-computed ranks and against the
 * same counts put into a Histogram bucket by bucket (the JavaScript walk the summary used before).
 */
import { describe, expect, it } from 'vitest';
import { Core } from '../../src/wasm/core.js';
import { Histogram, DenseHist, bucketBounds, bucketValue, type BinHistSource } from '../../src/core/histogram.js';

const QS = [0.5, 0.9, 0.99, 0.999];

/** A histogram of the core with `counts` ([bucket, count]), as a bin that lends it to the summary. */
function coreBin(core: Core, counts: Array<[number, number]>): BinHistSource {
  const h = core.histNew();
  let n = 0;
  for (const [b, c] of counts) { core.histAdd(h, b, c); n += c; }
  const lo = Math.min(...counts.map(([b]) => bucketValue(b))), hi = Math.max(...counts.map(([b]) => bucketValue(b)));
  return {
    get hist() { return core.histDenseOf(h); }, handled: n, sum: 0n, sumsq: 0n, min: BigInt(Math.floor(lo)), max: BigInt(Math.ceil(hi)),
    eachHistPage: (fn) => core.eachHistPage(h, fn),
    coreHist: () => ({ core, h }),
  };
}

/** The same bins read bucket by bucket into JavaScript pages (no core reads). */
function jsHist(bins: BinHistSource[]): Histogram {
  const h = new Histogram();
  for (const b of bins) h.addBin({ ...b, hist: b.hist, eachHistPage: b.eachHistPage, coreHist: undefined }, 1);
  return h;
}

describe('histogram reads in the core', () => {
  it('gives the nearest-rank bucket of one histogram, page by page and across page ends', () => {
    const core = new Core();
    // 10 values: 4 in bucket 5, 1 in 130 (page 2), 4 in 255 (the last bucket of page 3), 1 in 256 (page 4)
    const b = coreBin(core, [[5, 4], [130, 1], [255, 4], [256, 1]]);
    const h = new Histogram();
    h.addBin(b, 1);
    expect(h.n).toBe(10);
    // ranks ceil(q n) = 5, 9, 10, 10: the 5th value is in bucket 130, the 9th in 255, the 10th in 256
    const want = [130, 255, 256, 256].map((i) => Math.min(Number(b.max), Math.max(Number(b.min), bucketValue(i))));
    expect(h.quantiles(QS)).toEqual(want);
    expect(h.quantile(0.5)).toBe(want[0]);
    expect(h.quantiles(QS)).toEqual(jsHist([b]).quantiles(QS));
    // a rank that falls on the last count of a page (rank 9 = 4 + 1 + 4): the page is not passed over
    expect(h.quantile(0.9)).toBe(want[1]);
    const d = new DenseHist(b, 10, 0, 0, Number(b.min), Number(b.max));
    expect(d.quantiles(QS)).toEqual(want);
  });

  it('sums several histograms before ranking, as the JavaScript pages did', () => {
    const core = new Core();
    const bins = [
      coreBin(core, [[3, 2], [200, 7]]),
      coreBin(core, [[3, 1], [1000, 5], [2000, 1]]),
      coreBin(core, [[64, 3], [200, 1], [2600, 2]]),
    ];
    const h = new Histogram();
    for (const b of bins) h.addBin(b, 1);
    // 22 values in bucket order: 3 x3, 64 x3, 200 x8, 1000 x5, 2000 x1, 2600 x2 (running counts 3, 6, 14, 19, 20, 22)
    // ranks ceil(q n) = 11, 20, 22, 22 -> buckets 200, 2000, 2600, 2600
    expect(h.n).toBe(22);
    const raw = h.quantiles(QS).map((v) => v);
    const js = jsHist(bins).quantiles(QS);
    expect(raw).toEqual(js);
    const min = Math.min(...bins.map((b) => Number(b.min))), max = Math.max(...bins.map((b) => Number(b.max)));
    const at = (i: number) => Math.min(max, Math.max(min, bucketValue(i)));
    expect(raw).toEqual([at(200), at(2000), at(2600), at(2600)]);
    // the counts read back from the core, bucket by bucket
    expect(h.buckets().map(([lo, , c]) => [lo, c])).toEqual(jsHist(bins).buckets().map(([lo, , c]) => [lo, c]));
  });

  it('adds JavaScript counts and core histograms together when a histogram holds both', () => {
    const core = new Core();
    const b = coreBin(core, [[10, 3], [300, 3]]);
    const h = new Histogram();
    h.addBin(b, 1);
    h.addBucket(20, 4);
    h.n += 4;
    // 10 values: 10 x3, 20 x4, 300 x3: ranks 5, 9, 10, 10 -> 20, 300, 300, 300
    const at = (i: number) => Math.min(Number(b.max), Math.max(Number(b.min), bucketValue(i)));
    expect(h.quantiles(QS)).toEqual([at(20), at(300), at(300), at(300)]);
    // merged into another: the pages come along, and so do the core histograms of one that holds only those
    const g = new Histogram();
    g.addBin(coreBin(core, [[300, 10]]), 1);
    const m = new Histogram();
    m.merge(h);
    m.merge(g);
    m.n = h.n + g.n;
    expect(m.n).toBe(20);
    expect(m.buckets().map(([lo, , c]) => [lo, c])).toEqual([[10, 3], [20, 4], [bucketBounds(300)[0], 13]]);
  });

  it('says "the counts end first" as the JavaScript walk did: a rank past the counts gives max', () => {
    const core = new Core();
    // n says 5 and max 100, but the counts hold 2 values (bucket 7): rank 1 is bucket 7, rank 5 is never reached
    const b = { ...coreBin(core, [[7, 2]]), handled: 5, max: 100n };
    const h = new Histogram();
    h.addBin(b, 1);
    expect(h.quantiles([0.2, 0.9])).toEqual([7, 100]);
    expect(jsHist([b]).quantiles([0.2, 0.9])).toEqual([7, 100]);
  });
});

describe('a --jobs worker\'s histograms added in few calls (Core.histAddPairsMany)', () => {
  it('gives each histogram its pairs, across calls and with an item larger than the input arena', () => {
    // a 4 KiB arena holds 1,024 words: 300 items of 2 pairs (6 words each) take two calls; one item of
    // 700 pairs (1,402 words) does not fit and goes through the chunked single call
    const core = new Core({ arenaBytes: 4096 });
    const items: Array<{ h: number; pairs: Uint32Array }> = [];
    const want = new Map<number, Map<number, number>>();
    const add = (h: number, b: number, c: number) => {
      const m = want.get(h) ?? new Map<number, number>();
      m.set(b, (m.get(b) ?? 0) + c);
      want.set(h, m);
    };
    for (let i = 0; i < 300; i++) {
      const h = core.histNew();
      const pairs = new Uint32Array([i % 128, 1 + (i % 5), 200 + (i % 900), 7]);
      items.push({ h, pairs });
      add(h, pairs[0]!, pairs[1]!); add(h, pairs[2]!, pairs[3]!);
    }
    const big = core.histNew();
    const bigPairs = new Uint32Array(1400);
    for (let j = 0; j < 700; j++) { bigPairs[2 * j] = j * 3; bigPairs[2 * j + 1] = j + 1; add(big, j * 3, j + 1); }
    items.splice(150, 0, { h: big, pairs: bigPairs });
    // the same histogram twice: both add
    items.push({ h: items[0]!.h, pairs: new Uint32Array([5, 10]) });
    add(items[0]!.h, 5, 10);
    core.histAddPairsMany(items);
    for (const [h, m] of want) {
      const got = new Map<number, number>();
      core.eachHistPage(h, (pg, mem, at, len) => { for (let j = 0; j < len; j++) if (mem[at + j]) got.set(pg * 64 + j, mem[at + j]!); });
      expect(got, `histogram ${h}`).toEqual(m);
    }
  });
});

describe('a --jobs worker\'s histograms packed in the core (Core.packHists)', () => {
  it('gives the pairs and bin ends the JavaScript page walk gives, on a real capture and on hand-placed counts', async () => {
    const { scanTextSource } = await import('../../src/formats/text/text.js');
    const { openSource } = await import('../../src/formats/source.js');
    const { TRACES } = await import('../support/paths.js');
    const path = await import('node:path');
    const K = await import('../../assembly/constants.js');
    const core = new Core();
    const src = await openSource(path.join(TRACES, 'svm-A-baseline/trace.txt.xz'));
    await scanTextSource(core, src, core.nextFileIndex(), K.FMT_FTRACE, false);
    src.close();
    core.endFile();
    const bins = core.tables().bins;
    expect(bins.length).toBeGreaterThan(40);
    const fromCore = core.packHists();
    // the same read bin by bin, page by page, in JavaScript (as a worker packed them before)
    const pairs: number[] = [], histAt = [0];
    for (const b of bins) {
      (b as unknown as BinHistSource).eachHistPage!((pg, mem, at, len) => { for (let j = 0; j < len; j++) if (mem[at + j]) pairs.push(pg * 64 + j, mem[at + j]!); });
      histAt.push(pairs.length);
    }
    expect(Array.from(fromCore.histAt)).toEqual(histAt);
    expect(Array.from(fromCore.pairs)).toEqual(pairs);
    // hand-placed: one bin's counts in bucket 3 (x2), 64 (page 1) and the last bucket; the pairs come back in bucket order
    const c2 = new Core();
    c2.beginFile(c2.nextFileIndex(), K.CLOCK_NS);
    const sink = c2.sinkFor(0);
    const exit = c2.intern('hlt');
    let t = 1000n;
    for (const d of [3n, 3n, 64n, 2n ** 50n]) {
      sink.push(K.EV_EXIT, t, 7, 7, 0, 0, BigInt(exit), 0n, 0, -1, 1);
      sink.push(K.EV_ENTRY, t + d, 7, 7, 0, 0, 0n, 0n, 0, -1, 2);
      t += d + 10n;
    }
    c2.endFile();
    const tb = c2.tables();
    const hb = tb.bins.findIndex((b) => b.reason === exit);
    const p = c2.packHists();
    const mine = Array.from(p.pairs.subarray(p.histAt[hb]!, p.histAt[hb + 1]!));
    expect(mine).toEqual([3, 2, 64, 1, K.HIST_BUCKETS - 1, 1]);
    expect(p.histAt[tb.bins.length]).toBe(p.pairs.length);
  });
});

describe('a --jobs worker\'s tables as a snapshot (Core.snapshot, tablesOfSnapshot)', () => {
  it('decode to the tables tables() gives, but for the bins\' histograms, which travel apart', async () => {
    const { scanTextSource } = await import('../../src/formats/text/text.js');
    const { openSource } = await import('../../src/formats/source.js');
    const { tablesOfSnapshot } = await import('../../src/wasm/core.js');
    const { TRACES } = await import('../support/paths.js');
    const path = await import('node:path');
    const v8 = await import('node:v8');
    const K = await import('../../assembly/constants.js');
    const core = new Core();
    core.trackAllThreads(true); // a later slice: its halts before each thread's first change travel too
    const src = await openSource(path.join(TRACES, 'svm-F-haltpoll-2ms/trace.txt.xz'));
    await scanTextSource(core, src, core.nextFileIndex(), K.FMT_FTRACE, false);
    src.close();
    core.endFile();
    const snap = core.snapshot();
    const plain = (x: unknown) => v8.deserialize(v8.serialize(x)); // as postMessage clones (own enumerable fields)
    const want = plain(core.tables());
    // transferred, then decoded in another realm's memory
    const moved = structuredClone(snap, { transfer: [snap.buf] });
    const got = tablesOfSnapshot(moved);
    expect(plain(got)).toEqual(want);
    expect(got.threads.some((t) => t.preWakes && t.preWakes.ns.length > 0 && t.timeline)).toBe(true);
    expect(got.laterSlice).toBe(true);
  });
});
