/**
 * --jobs for perf.data: the file's delivered event stream read in slices, one WebAssembly core each (the main
 * thread reads the first, a worker thread each other: jobs-worker-main.ts), cut at FINISHED_ROUND records
 * (formats/perfdata/slices.ts) once the workers are ready (slice-control.ts); the slices' tables merge as a text
 * file's slices do (src/wasm/merge.ts). The run's own core is untouched until all have said they could read
 * their slice exactly; when one could not (assembly/perfdata.ts pdSlice: perf's ordering does not hold around a
 * cut, a record without a time where two slices read, compressed records), the file is read by one job as usual.
 */
import { slicesReadAhead } from '../formats/read-ahead.js';
import { Core, type FileCounters } from '../wasm/core.js';
import { mergeCounters, type Part } from '../wasm/merge.js';
import { KvmtaxError } from '../core/errors.js';
import { readPerfData, type PerfDataInfo } from '../formats/perfdata/reader.js';
import { cutsFrom, dataSection } from '../formats/perfdata/slices.js';
import { Cutter, SliceControl } from './slice-control.js';
import fs from 'node:fs';
import { FormatError } from '../formats/bytes.js';
import { oneLine } from '../formats/registry.js';
import type { SliceResult } from './jobs-worker.js';
import { startWorker } from './jobs.js';
import { phase } from '../core/phases.js';

/** How files asked to be sliced fared in this process (tests): sliced, read whole by the main thread before the workers were ready or with no cut in the rest (unsliced), or why not (SLF_* code, 0: no data section). */
export const perfDataJobStats = { sliced: 0, fallbacks: [] as number[], unsliced: 0 };

export interface PerfSliceJob {
  kind: 'perfdata';
  file: string;
  /** FINISHED_ROUND offsets (-1: the data's start / end) */
  from: number;
  to: number;
  fileIndex: number;
  topN: number;
  /** this slice's place among `slices`, and where they publish their timeline origins (originShare) */
  index: number;
  slices: number;
  share: SharedArrayBuffer;
  maxMemoryMb?: number;
  /** tests: the core's input arena (chunk size) */
  arenaBytes?: number;
  /** read the next chunk ahead while the core walks this one (jobs.ts: only with a CPU to spare) */
  readAhead?: boolean;
  /** a worker whose slice is cut once it is ready (slice-control.ts): from and to are set then */
  control?: { sab: SharedArrayBuffer; k: number };
}

export interface PerfSliceResult extends Omit<SliceResult, 'error'> {
  info?: PerfDataInfo;
  error?: { message: string; offset?: number; internal?: boolean };
}

/** Read one slice with a core of its own (`forClone`: pack its histograms for postMessage). */
export async function readPerfSlice(job: PerfSliceJob, forClone: boolean, plan?: (unread: number) => number | undefined): Promise<PerfSliceResult> {
  const core = new Core({ topN: job.topN, maxMemoryMb: job.maxMemoryMb, arenaBytes: job.arenaBytes });
  // a later slice cannot know yet which threads are vCPUs: follow every thread's scheduling
  if (job.from >= 0) core.trackAllThreads(true);
  while (core.nextFileIndex() < job.fileIndex);
  const sink = core.sinkFor(job.fileIndex);
  const flags = new Int32Array(job.share, 0, job.index + 1);
  const origins = new BigInt64Array(job.share, originsAt(job.slices), job.slices);
  const publish = (): void => {
    if (Atomics.load(flags, job.index) !== 0) return;
    const o = core.timelineOrigin();
    if (o === NO_ORIGIN) return;
    origins[job.index] = o;
    Atomics.store(flags, job.index, 1);
    Atomics.notify(flags, job.index);
  };
  // a later slice's timeline starts where the whole file's does: the first earlier slice with an event says where
  const atStart = (): void => {
    for (let j = 0; j < job.index; j++) {
      while (Atomics.load(flags, j) === 0) Atomics.wait(flags, j, 0, 1000);
      if (Atomics.load(flags, j) === 1) { core.setTimelineOrigin(origins[j]!); return; }
    }
  };
  try {
    phase(`perf.data slice ${job.index}: read`);
    const info = await readPerfData(job.file, sink, { slice: { from: job.from, to: job.to, atStart, afterWalk: publish, plan, readAhead: job.readAhead } });
    phase(`perf.data slice ${job.index}: read done`);
    const counters = core.endFile();
    if (info.sliceFailed) return { ok: true, info };
    // for another thread: the core's records copied out (decoded there: jobs-worker.ts unpackSlice)
    const r: PerfSliceResult = forClone ? { ok: true, counters, snap: core.snapshot(), packed: core.packHists(), info } : { ok: true, counters, tables: core.tables(), info };
    phase(`perf.data slice ${job.index}: tables`);
    return r;
  } catch (e) {
    if (e instanceof FormatError) return { ok: false, error: { message: oneLine(e.message), offset: e.offset } };
    if (e instanceof KvmtaxError) return { ok: false, error: { message: e.message, offset: e.offset } };
    return { ok: false, error: { message: String((e as Error)?.stack ?? e), internal: true } };
  } finally {
    // no event (or an error): later slices look further back
    publish();
    if (Atomics.compareExchange(flags, job.index, 0, 2) === 0) Atomics.notify(flags, job.index);
  }
}

const NO_ORIGIN = -(2n ** 63n);
/** The shared buffer of `n` slices: an Int32 flag each (0 not yet, 1 origin set, 2 none), then a BigInt64 origin each. */
function originShare(n: number): SharedArrayBuffer { return new SharedArrayBuffer(originsAt(n) + 8 * n); }
function originsAt(n: number): number { return Math.ceil((4 * n) / 8) * 8; }

/**
 * Read a perf.data in `jobs` slices; undefined when it cannot be cut (no core path, too few rounds) or a slice
 * found perf's ordering broken around its cut: then the caller reads the file with one job (its core is untouched).
 * The main thread reads the first slice from the start at once; each worker says when it has started and waits
 * (slice-control.ts); once all have, the rest of the data is cut at FINISHED_ROUND records near even shares, the
 * main thread keeps the first and each worker reads one. If the main thread reads everything first (or no cuts
 * are found in the rest), the workers read nothing and its read is the one-job read.
 */
export async function readPerfDataSlices(file: string, display: string, idx: number, jobs: number, topN: number,
  maxMemoryMb: number | undefined, opts: { cutAfter?: number; minBytes?: number; arenaBytes?: number; readAhead?: boolean } = {}): Promise<{ parts: Part[]; counters: FileCounters; info: PerfDataInfo } | undefined> {
  phase('perf.data slices: plan');
  const fd = fs.openSync(file, 'r');
  const data = (() => { try { return dataSection(fd); } finally { fs.closeSync(fd); } })();
  if (!data) { perfDataJobStats.fallbacks.push(0); return undefined; }
  const share = originShare(jobs);
  const control = SliceControl.create(jobs);
  const readAhead = slicesReadAhead(jobs, opts.readAhead);
  const jobOf = (k: number, from: number, to: number): PerfSliceJob => ({ kind: 'perfdata', file, from, to, fileIndex: idx, topN, index: k, slices: jobs, share, maxMemoryMb, arenaBytes: opts.arenaBytes, readAhead });
  const release = (k: number): void => {
    // later slices may wait on this one's origin
    const flags = new Int32Array(share, 0, jobs);
    if (Atomics.compareExchange(flags, k, 0, 2) === 0) Atomics.notify(flags, k);
  };
  const started = Array.from({ length: jobs - 1 }, (_, i) => (startWorker({ ...jobOf(i + 1, -1, -1), control: { sab: control.sab, k: i + 1 } }) as Promise<PerfSliceResult>)
    .catch((e: unknown) => { release(i + 1); throw e; }));
  phase('perf.data slices: workers started');
  // slice k reads from the FINISHED_ROUND at bounds[k] to the one at bounds[k + 1] (-1: the data's start / end)
  const cutter = new Cutter(control, jobs - 1, {
    start: data.start, end: data.end, cutAfter: opts.cutAfter, minBytes: opts.minBytes,
    cuts: (unread) => { const c = cutsFrom(file, unread, jobs); return c && [-1, ...c, -1]; },
    onCut: (bounds) => phase(`perf.data slices: cut at ${bounds.slice(1, -1).join(' ')}`),
  });
  const first = readPerfSlice(jobOf(0, -1, -1), false, (unread) => cutter.plan(unread)).finally(() => cutter.done());
  const all = await Promise.all([first, ...started]);
  phase('perf.data slices: all read');
  const results = all.filter((r) => !r.cancelled);
  for (const r of results) {
    if (!r.ok) {
      const e = r.error!;
      if (e.internal) throw new Error(e.message);
      throw new KvmtaxError(e.message, { file: display, offset: e.offset });
    }
  }
  const failed = results.find((r) => r.info!.sliceFailed)?.info!.sliceFailed;
  if (failed) { perfDataJobStats.fallbacks.push(failed); return undefined; }
  if (cutter.cut) perfDataJobStats.sliced++;
  else perfDataJobStats.unsliced++;
  return {
    parts: results.map((r) => ({ tables: r.tables!, lineOffset: 0 })),
    counters: mergeCounters(results.map((r) => r.counters!)),
    info: mergeInfo(results.map((r) => r.info!)),
  };
}

/** The slices' PerfDataInfo as one: the header's facts from the first, the counts summed. */
function mergeInfo(infos: PerfDataInfo[]): PerfDataInfo {
  const out: PerfDataInfo = { ...infos[0]!, events: { ...infos[0]!.events } };
  for (const i of infos.slice(1)) {
    out.samples += i.samples;
    out.guestSamples += i.guestSamples;
    out.lost += i.lost;
    if (i.throttled) out.throttled = (out.throttled ?? 0) + i.throttled;
    for (const [k, n] of Object.entries(i.events)) out.events[k] = (out.events[k] ?? 0) + n;
    if (i.periodSums) {
      out.periodSums ??= {};
      for (const [k, n] of Object.entries(i.periodSums)) out.periodSums[k] = (out.periodSums[k] ?? 0) + n;
    }
  }
  return out;
}
