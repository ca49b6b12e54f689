/**
 * A worker thread reading one line-aligned slice of a text trace with its own WebAssembly core
 * (--jobs). It posts back the core's tables and counters; jobs.ts starts it, src/wasm/merge.ts joins the slices.
 */
import { parentPort, workerData } from 'node:worker_threads';
import fs from 'node:fs';
import { Core, useModule, type FileCounters } from '../wasm/core.js';
import type { Part } from '../wasm/merge.js';
import { KvmtaxError } from '../core/errors.js';
import { scanTextSource } from '../formats/text/text.js';
import type { ByteSource } from '../formats/source.js';

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
}

/** Bytes [start, end) of a file. */
class RangeSource implements ByteSource {
  readonly head = new Uint8Array(0);
  private pos: number;
  private fd: number;
  constructor(readonly name: string, private readonly start: number, private readonly end: number) {
    this.fd = fs.openSync(name, 'r');
    this.pos = start;
  }
  async read(dst: Uint8Array, off: number, len: number): Promise<number> {
    const n = fs.readSync(this.fd, dst, off, Math.min(len, this.end - this.pos), this.pos);
    this.pos += n;
    return n;
  }
  close(): void { fs.closeSync(this.fd); }
}

export interface SliceResult {
  ok: boolean;
  counters?: FileCounters;
  tables?: Part['tables'];
  error?: { message: string; line?: number; col?: number; internal?: boolean };
}

/** Read one slice with a core of its own (in a worker, or on the main thread for the first slice). */
export async function scanSlice(job: SliceJob, forClone: boolean): Promise<SliceResult> {
  const core = new Core({ topN: job.topN, maxMemoryMb: job.maxMemoryMb });
  // a later slice cannot know yet which threads are vCPUs: follow every thread's scheduling
  if (job.start > 0) core.trackAllThreads(true);
  const src = new RangeSource(job.file, job.start, job.end);
  try {
    await scanTextSource(core, src, job.fileIndex, job.format, job.strict, undefined, undefined, job.origin);
    const counters = core.endFile();
    const tables = core.tables();
    // each bin's histogram is read into one scratch array (core.ts): copies, or the clone shares one
    if (forClone) for (const b of tables.bins) b.hist = b.hist.slice();
    return { ok: true, counters, tables };
  } catch (e) {
    if (e instanceof KvmtaxError) return { ok: false, error: { message: e.message, line: e.line, col: e.col } };
    return { ok: false, error: { message: String((e as Error)?.stack ?? e), internal: true } };
  } finally {
    src.close();
  }
}

if (parentPort && workerData) {
  const job = workerData as SliceJob;
  if (job.module) useModule(job.module);
  void scanSlice(job, true).then((r) => parentPort!.postMessage(r));
}
