/**
 * One slice of a file read with its own WebAssembly core (--jobs), in a worker thread (entry:
 * jobs-worker-main.ts) or on the main thread for the first slice: a line-aligned slice of a text trace
 * (scanSlice), or a time slice of a trace.dat (readTraceDatSlice). A worker posts back the core's tables and
 * counters; jobs.ts and jobs-tracedat.ts start it, src/wasm/merge.ts joins the slices.
 */
import fs from 'node:fs';
import { Core, tablesOfSnapshot, type FileCounters, type TableSnapshot } from '../wasm/core.js';
import type { Part } from '../wasm/merge.js';
import { KvmtaxError } from '../core/errors.js';
import { scanTextSource } from '../formats/text/text.js';
import type { ByteSource } from '../formats/source.js';
import { FormatError } from '../formats/bytes.js';
import type { TraceDatInfo, TraceDatSlice, TraceDatSliceResult } from '../formats/tracedat/reader.js';
import { phase } from '../core/phases.js';

export interface SliceJob {
  file: string;
  start: number;
  end: number;
  fileIndex: number;
  format: number;
  strict: boolean;
  topN: number;
  origin: bigint;
  /** the main thread's compiled module (no compile of its own) */
  module?: WebAssembly.Module;
  maxMemoryMb?: number;
  /** tests: new bytes per scan call (AnalyzeOptions.chunkBytes) */
  chunkBytes?: number;
  /** read ahead (AnalyzeOptions.sliceReadAhead): else each chunk is read in turn with the scan */
  readAhead?: boolean;
  /** a worker whose slice is cut once it is ready (slice-control.ts): start and end are set then */
  control?: { sab: SharedArrayBuffer; k: number };
}

/**
 * Bytes [start, end) of a file; `plan`, asked before each read with the position, may move the end (the
 * main thread's slice, cut once the workers are ready: jobs.ts).
 */
class RangeSource implements ByteSource {
  readonly head = new Uint8Array(0);
  private pos: number;
  private fd: number;
  constructor(readonly name: string, start: number, private end: number, private readonly plan?: (pos: number) => number | undefined, readAhead = true) {
    this.fd = fs.openSync(name, 'r');
    this.pos = start;
    if (readAhead) {
      this.claim = (len: number) => {
        this.end = this.plan?.(this.pos) ?? this.end;
        const at = this.pos;
        const n = Math.max(0, Math.min(len, this.end - at));
        this.pos += n;
        return { fd: this.fd, at, n };
      };
    }
  }
  async read(dst: Uint8Array, off: number, len: number): Promise<number> {
    this.end = this.plan?.(this.pos) ?? this.end;
    const n = fs.readSync(this.fd, dst, off, Math.min(len, this.end - this.pos), this.pos);
    this.pos += n;
    return n;
  }
  readonly claim?: (len: number) => { fd: number; at: number; n: number };
  close(): void { fs.closeSync(this.fd); }
}

/** A time slice of a trace.dat (jobs-tracedat.ts): reader.ts TraceDatSlice, and what the core needs. */
export interface TraceDatJob {
  kind: 'tracedat';
  file: string;
  fileIndex: number;
  buffer?: string;
  slice: Omit<TraceDatSlice, 'onBegin' | 'result'>;
  /** the file's timeline origin (its first event's time), for a later slice */
  origin?: bigint;
  topN: number;
  module?: WebAssembly.Module;
  maxMemoryMb?: number;
}

export interface SliceResult {
  ok: boolean;
  /** a worker that read nothing: the main thread had read the whole file before it was ready */
  cancelled?: boolean;
  /** a trace.dat slice: what the reader says of it */
  td?: { info: TraceDatInfo; result: TraceDatSliceResult };
  counters?: FileCounters;
  tables?: Part['tables'];
  /** from a worker: its core's records, copied out (Core.snapshot); the main thread makes `tables` of them (unpackSlice) */
  snap?: TableSnapshot;
  /**
   * From a worker: every bin's histogram, sparse, in one transferred buffer (bin i's non-zero buckets are
   * pairs [bucket, count] at histAt[i]..histAt[i + 1]: Core.packHists); unpackSlice gives them to the bins.
   */
  packed?: { pairs: Uint32Array; histAt: Uint32Array };
  error?: { message: string; line?: number; col?: number; offset?: number; internal?: boolean };
}

/**
 * Read one time slice of a trace.dat with a core of its own (in a worker), or into the run's core (`into`: the
 * main thread's first slice).
 */
export async function readTraceDatSlice(job: TraceDatJob, forClone: boolean, into?: Core): Promise<SliceResult> {
  const core = into ?? new Core({ topN: job.topN, maxMemoryMb: job.maxMemoryMb });
  // a later slice cannot know yet which threads are vCPUs: follow every thread's scheduling
  if (job.slice.later) core.trackAllThreads(true);
  try {
    const { readTraceDat } = await import('../formats/tracedat/reader.js');
    const { zstdWarmup } = await import('../formats/decompress.js');
    await zstdWarmup(job.file, 'zstd');
    const origin = job.origin;
    const slice: TraceDatSlice = { ...job.slice, onBegin: origin !== undefined ? () => core.setTimelineOrigin(origin) : undefined };
    const info = readTraceDat(job.file, core.sinkFor(job.fileIndex), { buffer: job.buffer, slice });
    const td = { info, result: slice.result! };
    const counters = core.endFile();
    if (into) return { ok: true, counters, td };
    if (forClone) return { ok: true, counters, snap: core.snapshot(), packed: core.packHists(), td };
    return { ok: true, counters, tables: core.tables(), td };
  } catch (e) {
    if (e instanceof FormatError) return { ok: false, error: { message: e.message, offset: e.offset } };
    if (e instanceof KvmtaxError) return { ok: false, error: { message: e.message, offset: e.offset } };
    return { ok: false, error: { message: String((e as Error)?.stack ?? e), internal: true } };
  }
}

/**
 * Read one slice with a core of its own (in a worker), or into the run's core (`into`: the main thread's
 * first slice, whose tables are then the run's own and need no copy; `plan` moves its end: RangeSource).
 */
export async function scanSlice(job: SliceJob, forClone: boolean, into?: Core, plan?: (pos: number) => number | undefined): Promise<SliceResult> {
  const core = into ?? new Core({ topN: job.topN, maxMemoryMb: job.maxMemoryMb });
  // a later slice cannot know yet which threads are vCPUs: follow every thread's scheduling
  if (job.start > 0) core.trackAllThreads(true);
  const src = new RangeSource(job.file, job.start, job.end, plan, job.readAhead ?? true);
  try {
    phase(`slice ${job.start}: scan`);
    await scanTextSource(core, src, job.fileIndex, job.format, job.strict, job.chunkBytes, undefined, job.origin);
    phase(`slice ${job.start}: scanned`);
    const counters = core.endFile();
    if (into) return { ok: true, counters };
    // for the main thread: the core's records copied into one buffer, and the bins' histograms sparse into
    // another (a dense copy per bin is 10.5 KB, mostly zeros), both transferred, not cloned; decoded there
    // (unpackSlice)
    if (forClone) {
      const r: SliceResult = { ok: true, counters, snap: core.snapshot(), packed: core.packHists() };
      phase(`slice ${job.start}: tables`);
      return r;
    }
    return { ok: true, counters, tables: core.tables() };
  } catch (e) {
    if (e instanceof KvmtaxError) return { ok: false, error: { message: e.message, line: e.line, col: e.col } };
    return { ok: false, error: { message: String((e as Error)?.stack ?? e), internal: true } };
  } finally {
    src.close();
  }
}


/**
 * On the main thread: a worker's tables, decoded from its snapshot, and its bins' histograms given back as
 * [bucket, count] pairs (wasm/merge.ts adds them).
 */
export function unpackSlice(r: SliceResult): void {
  if (r.snap) { r.tables = tablesOfSnapshot(r.snap); r.snap = undefined; }
  if (!r.packed || !r.tables) return;
  const { pairs, histAt } = r.packed;
  r.tables.bins.forEach((b, i) => { (b as { histPairs?: Uint32Array }).histPairs = pairs.subarray(histAt[i]!, histAt[i + 1]!); });
  r.packed = undefined;
}
