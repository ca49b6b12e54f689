/**
 * A worker thread reading one line-aligned slice of a text trace with its own WebAssembly core
 * (--jobs). It posts back the core's tables and counters; jobs.ts starts it, src/wasm/merge.ts joins the slices.
 */
import { parentPort, workerData } from 'node:worker_threads';
import fs from 'node:fs';
import { Core } from '../wasm/core.js';
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

async function run(job: SliceJob): Promise<void> {
  const core = new Core({ topN: job.topN });
  // a later slice cannot know yet which threads are vCPUs: follow every thread's scheduling
  if (job.start > 0) core.trackAllThreads(true);
  const src = new RangeSource(job.file, job.start, job.end);
  try {
    await scanTextSource(core, src, job.fileIndex, job.format, job.strict, undefined, undefined, job.origin);
    const counters = core.endFile();
    parentPort!.postMessage({ ok: true, counters, tables: core.tables() });
  } catch (e) {
    if (e instanceof KvmtaxError) parentPort!.postMessage({ ok: false, error: { message: e.message, line: e.line, col: e.col } });
    else parentPort!.postMessage({ ok: false, error: { message: String((e as Error)?.stack ?? e), internal: true } });
  } finally {
    src.close();
  }
}

if (parentPort && workerData) void run(workerData as SliceJob);
