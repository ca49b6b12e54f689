/**
 * --jobs for perf.data: the file's delivered event stream read in slices, one worker thread and WebAssembly
 * core each (entry: perfdata-jobs-worker.ts), cut at FINISHED_ROUND records (formats/perfdata/slices.ts); the
 * slices' tables merge as a text file's slices do (src/wasm/merge.ts). Every slice runs in a worker, so that the
 * run's own core is untouched until all have said they could read their slice exactly; when one could not
 * (assembly/perfdata.ts pdSlice: perf's ordering does not hold around a cut, a record without a time where
 * two slices read, compressed records), the file is read by one job as usual.
 */
import { Core, type FileCounters } from '../wasm/core.js';
import { mergeCounters, type Part } from '../wasm/merge.js';
import { KvmtaxError } from '../core/errors.js';
import { readPerfData, type PerfDataInfo } from '../formats/perfdata/reader.js';
import { roundCuts } from '../formats/perfdata/slices.js';
import { FormatError } from '../formats/bytes.js';
import { oneLine } from '../formats/registry.js';
import { packHists, type SliceResult } from './jobs-worker.js';
import { startWorker } from './jobs.js';

/** How files asked to be sliced fared in this process (tests): sliced, or why not (SLF_* code, 0: no cut found). */
export const perfDataJobStats = { sliced: 0, fallbacks: [] as number[] };

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
}

export interface PerfSliceResult extends Omit<SliceResult, 'error'> {
  info?: PerfDataInfo;
  error?: { message: string; offset?: number; internal?: boolean };
}

/** Read one slice with a core of its own (`forClone`: pack its histograms for postMessage). */
export async function readPerfSlice(job: PerfSliceJob, forClone: boolean): Promise<PerfSliceResult> {
  const core = new Core({ topN: job.topN, maxMemoryMb: job.maxMemoryMb });
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
    const info = await readPerfData(job.file, sink, { slice: { from: job.from, to: job.to, atStart, afterWalk: publish } });
    const counters = core.endFile();
    if (info.sliceFailed) return { ok: true, info };
    const tables = core.tables();
    if (forClone) return { ok: true, counters, tables, packed: packHists(tables.bins), info };
    return { ok: true, counters, tables, info };
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
 */
export async function readPerfDataSlices(file: string, display: string, idx: number, jobs: number, topN: number,
  maxMemoryMb: number | undefined): Promise<{ parts: Part[]; counters: FileCounters; info: PerfDataInfo } | undefined> {
  const cuts = roundCuts(file, jobs);
  if (cuts.length === 0) { perfDataJobStats.fallbacks.push(0); return undefined; }
  const bounds = [-1, ...cuts, -1];
  const share = originShare(bounds.length - 1);
  const jobOf = (k: number): PerfSliceJob => ({ kind: 'perfdata', file, from: bounds[k]!, to: bounds[k + 1]!, fileIndex: idx, topN, index: k, slices: bounds.length - 1, share, maxMemoryMb });
  // the workers start first; the main thread reads the first slice meanwhile, with a core of its own (the
  // run's core stays untouched until every slice has said it could be read exactly)
  const started = bounds.slice(1, -1).map((_, i) => (startWorker(jobOf(i + 1)) as Promise<PerfSliceResult>).catch((e: unknown) => {
    // later slices may wait on this one's origin: release them
    const flags = new Int32Array(share, 0, bounds.length - 1);
    if (Atomics.compareExchange(flags, i + 1, 0, 2) === 0) Atomics.notify(flags, i + 1);
    throw e;
  }));
  const results = await Promise.all([readPerfSlice(jobOf(0), false), ...started]);
  for (const r of results) {
    if (!r.ok) {
      const e = r.error!;
      if (e.internal) throw new Error(e.message);
      throw new KvmtaxError(e.message, { file: display, offset: e.offset });
    }
  }
  const failed = results.find((r) => r.info!.sliceFailed)?.info!.sliceFailed;
  if (failed) { perfDataJobStats.fallbacks.push(failed); return undefined; }
  perfDataJobStats.sliced++;
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
