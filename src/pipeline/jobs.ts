/**
 * --jobs: a plain text file read in line-aligned slices, one worker thread (jobs-worker.ts) and
 * WebAssembly core each; wasm/merge.ts joins the slices' tables exactly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Core, wasmModule, type CoreTables, type FileCounters } from '../wasm/core.js';
import { mergeCounters, type Part } from '../wasm/merge.js';
import { packageRoot } from '../core/package-root.js';
import { KvmtaxError } from '../core/errors.js';
import { HEAD_BYTES, type ByteSource } from '../formats/source.js';
import type { AnalyzeOptions } from './analyze.js';
import { scanSlice, unpackSlice, type SliceJob, type SliceResult, type TraceDatJob } from './jobs-worker.js';
import type { PerfSliceJob } from './perfdata-jobs.js';
import { phase } from '../core/phases.js';
import { slicesReadAhead } from '../formats/read-ahead.js';
import { Cutter, SliceControl } from './slice-control.js';

/**
 * --jobs could not read this file in slices that merge exactly (a trace.dat whose times go back, a halt-poll
 * window the slices cannot place): analyze.ts reads it again with one thread and says why in the report; or
 * first, when the trouble is where the cuts fell (`retry`), in slices cut elsewhere (AnalyzeOptions.jobsShift).
 */
export class JobsFallback extends Error {
  constructor(readonly file: string, readonly why: string, readonly retry = false) { super(`${file}: ${why}`); }
}

/** Where cut k of `jobs` falls, as a share of the whole: k / jobs, or a seventh of a slice later when shifted. */
export function cutShare(k: number, jobs: number, shifted: boolean): number {
  return (k + (shifted ? 1 / 7 : 0)) / jobs;
}

/**
 * Read a plain text file in `jobs` line-aligned slices, one worker thread and WebAssembly core each; the main
 * thread reads the first slice into the run's core. The cuts are made once every worker has started
 * (slice-control.ts), in what the main thread has not read yet. Every slice's timeline starts at the file's
 * first event, found by scanning the head first.
 */
export async function readSlices(core: Core, src: ByteSource, idx: number, fmt: number, opts: AnalyzeOptions, jobs: number, size: number, topN: number,
  ownTables?: (t: CoreTables) => void): Promise<{ parts: Part[]; counters: FileCounters }> {
  const file = src.path!;
  phase('slices: plan');
  const head = new Core({ arenaBytes: Math.max(src.head.length, 4096) });
  head.beginTextFile(0, fmt, false);
  head.arena().set(src.head);
  head.scan(src.head.length, src.head.length < HEAD_BYTES);
  const origin = head.timelineOrigin();
  const shifted = opts.jobsShift?.includes(src.name) ?? false;
  const control = SliceControl.create(jobs);
  const readAhead = slicesReadAhead(jobs, opts.sliceReadAhead);
  const base = { file, fileIndex: idx, format: fmt, strict: opts.strict ?? false, topN, origin, maxMemoryMb: opts.maxMemoryMb, readAhead };
  const started = Array.from({ length: jobs - 1 }, (_, i) => startWorker({ ...base, start: -1, end: -1, control: { sab: control.sab, k: i + 1 } }));
  phase('slices: workers started');
  // the main thread reads from the start meanwhile; before each read it looks whether the workers are ready
  const cutter = new Cutter(control, jobs - 1, {
    start: 0, end: size, cutAfter: opts.jobsCutAfter, minBytes: opts.jobsMinBytes,
    cuts: (pos) => lineCuts(file, pos, size, jobs, shifted),
    onCut: (cuts) => { phase(`slices: cut at ${cuts.join(' ')}`); opts.onJobsCut?.(src.name, [0, ...cuts.slice(1)]); },
  });
  const first = scanSlice({ ...base, start: 0, end: size, chunkBytes: opts.chunkBytes }, false, core, (pos) => cutter.plan(pos))
    .finally(() => cutter.done())
    // the core's own tables, read while the workers finish (the main thread's slice usually ends first)
    .then((r) => { if (ownTables && r.ok) ownTables(core.tables()); return r; });
  const results = await Promise.all([first, ...started]);
  phase('slices: all read');
  let lineOffset = 0;
  const parts: Part[] = [];
  const read = results.filter((r) => !r.cancelled);
  for (const [k, r] of read.entries()) {
    if (!r.ok) {
      const e = r.error!;
      if (e.internal) throw new Error(e.message);
      throw new KvmtaxError(e.message, { file: src.name, line: e.line !== undefined ? e.line + lineOffset : undefined, col: e.col });
    }
    if (k > 0) parts.push({ tables: r.tables!, lineOffset });
    lineOffset += r.counters!.lines;
  }
  return { parts, counters: mergeCounters(read.map((r) => r.counters!)) };
}

/**
 * Line-aligned cuts of [pos, size) into `jobs` shares (the first line start at or after each even share), with
 * pos first and size last; undefined when a share has no line start of its own (a very long line).
 */
function lineCuts(file: string, pos: number, size: number, jobs: number, shifted: boolean): number[] | undefined {
  const cuts = [pos];
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 16);
    for (let k = 1; k < jobs; k++) {
      const at = pos + Math.floor(cutShare(k, jobs, shifted) * (size - pos));
      const n = fs.readSync(fd, buf, 0, buf.length, at);
      const nl = buf.subarray(0, n).indexOf(10);
      if (nl < 0 || at + nl + 1 >= size || at + nl + 1 <= cuts[cuts.length - 1]!) return undefined;
      cuts.push(at + nl + 1);
    }
  } finally {
    fs.closeSync(fd);
  }
  cuts.push(size);
  return cuts;
}

/**
 * The worker's entry: the bundle's when this code runs from the bundle (one module graph to load: a worker
 * from dist/src took about 110 ms to start, one from dist/bundle about 40), else the compiled sources' (tests).
 */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const bundled = path.basename(path.dirname(here)) === 'bundle';
  const worker = bundled ? path.join(path.dirname(here), 'jobs-worker-main.js') : path.join(packageRoot(), 'dist', 'src', 'pipeline', 'jobs-worker-main.js');
  if (!fs.existsSync(worker)) throw new KvmtaxError(`${worker} is missing: run "npm run build" first (needed for --jobs)`);
  return worker;
}

/** A worker thread reading one slice (jobs-worker-main.ts) with the main thread's compiled module. */
export function startWorker(job: SliceJob | TraceDatJob | PerfSliceJob): Promise<SliceResult> {
  return new Promise<SliceResult>((resolve, reject) => {
    const w = new (process.getBuiltinModule('node:worker_threads').Worker)(workerFile(), { workerData: { ...job, module: wasmModule() } });
    w.once('message', (m: SliceResult) => { unpackSlice(m); resolve(m); void w.terminate(); });
    w.once('error', reject);
  });
}

/** A worker thread started before its slice is known (its start-up overlaps the planning): run it, or drop it. */
export interface WaitingWorker { run(job: SliceJob | TraceDatJob): Promise<SliceResult>; drop(): void }

/** A waiting worker; `warm`: a trace.dat it gets ready for (libzstd) meanwhile. */
export function waitingWorker(warm?: string): WaitingWorker {
  const w = new (process.getBuiltinModule('node:worker_threads').Worker)(workerFile(), { workerData: { module: wasmModule(), waiting: { warm } } });
  let failed: unknown;
  w.once('error', (e) => { failed = e; });
  return {
    run: (job) => new Promise<SliceResult>((resolve, reject) => {
      if (failed) { reject(failed); return; }
      w.once('message', (m: SliceResult) => { unpackSlice(m); resolve(m); void w.terminate(); });
      w.once('error', reject);
      w.postMessage(job);
    }),
    drop: () => { void w.terminate(); },
  };
}
