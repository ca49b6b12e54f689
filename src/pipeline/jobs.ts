/**
 * --jobs: a plain text file read in line-aligned slices, one worker thread (jobs-worker.ts) and
 * WebAssembly core each; wasm/merge.ts joins the slices' tables exactly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Core, wasmModule, type FileCounters } from '../wasm/core.js';
import { mergeCounters, type Part } from '../wasm/merge.js';
import { packageRoot } from '../core/package-root.js';
import { KvmtaxError } from '../core/errors.js';
import { HEAD_BYTES, type ByteSource } from '../formats/source.js';
import type { AnalyzeOptions } from './analyze.js';
import { scanSlice, unpackHists, type SliceJob, type SliceResult, type TraceDatJob } from './jobs-worker.js';

/**
 * --jobs could not read this file in slices that merge exactly (a trace.dat whose times go back, a halt-poll
 * window the slices cannot place): analyze.ts reads it again with one thread and says why in the report.
 */
export class JobsFallback extends Error {
  constructor(readonly file: string, readonly why: string) { super(`${file}: ${why}`); }
}

/**
 * Read a plain text file in `jobs` line-aligned slices, one worker thread and WebAssembly core each.
 * Every slice's timeline starts at the file's first event, found by scanning the head first.
 */
export async function readSlices(core: Core, src: ByteSource, idx: number, fmt: number, opts: AnalyzeOptions, jobs: number, size: number, topN: number): Promise<{ parts: Part[]; counters: FileCounters }> {
  const file = src.path!;
  const head = new Core({ arenaBytes: Math.max(src.head.length, 4096) });
  head.beginTextFile(0, fmt, false);
  head.arena().set(src.head);
  head.scan(src.head.length, src.head.length < HEAD_BYTES);
  const origin = head.timelineOrigin();
  // line-aligned cut points
  const cuts = [0];
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 16);
  for (let k = 1; k < jobs; k++) {
    const at = Math.floor((k * size) / jobs);
    if (at <= cuts[cuts.length - 1]!) continue;
    const n = fs.readSync(fd, buf, 0, buf.length, at);
    const nl = buf.subarray(0, n).indexOf(10);
    if (nl >= 0 && at + nl + 1 < size) cuts.push(at + nl + 1);
  }
  fs.closeSync(fd);
  cuts.push(size);
  // the workers get the compiled module; the main thread reads the first slice itself meanwhile, into the
  // run's core (its tables are the merge's base: only the workers' are copied, into that core)
  const jobOf = (k: number): SliceJob => ({ file, start: cuts[k]!, end: cuts[k + 1]!, fileIndex: idx, format: fmt, strict: opts.strict ?? false, topN, origin, maxMemoryMb: opts.maxMemoryMb });
  const started = cuts.slice(1, -1).map((_, i) => startWorker(jobOf(i + 1)));
  const results = await Promise.all([scanSlice(jobOf(0), false, core), ...started]);
  let lineOffset = 0;
  const parts: Part[] = [];
  for (const [k, r] of results.entries()) {
    if (!r.ok) {
      const e = r.error!;
      if (e.internal) throw new Error(e.message);
      throw new KvmtaxError(e.message, { file: src.name, line: e.line !== undefined ? e.line + lineOffset : undefined, col: e.col });
    }
    if (k > 0) parts.push({ tables: r.tables!, lineOffset });
    lineOffset += r.counters!.lines;
  }
  return { parts, counters: mergeCounters(results.map((r) => r.counters!)) };
}

/** A worker thread reading one slice (jobs-worker-main.ts) with the main thread's compiled module. */
export function startWorker(job: SliceJob | TraceDatJob): Promise<SliceResult> {
  const worker = path.join(packageRoot(), 'dist', 'src', 'pipeline', 'jobs-worker-main.js');
  if (!fs.existsSync(worker)) throw new KvmtaxError(`${worker} is missing: run "npm run build" first (needed for --jobs)`);
  return new Promise<SliceResult>((resolve, reject) => {
    const w = new (process.getBuiltinModule('node:worker_threads').Worker)(worker, { workerData: { ...job, module: wasmModule() } });
    w.once('message', (m: SliceResult) => { unpackHists(m); resolve(m); void w.terminate(); });
    w.once('error', reject);
  });
}
