/**
 * The whole pipeline for a set of inputs:
 *   open (decompress) -> detect the format -> reader -> core -> summarize -> Report
 * Several files give one report; each keeps its own threads and VMs (file index in the core).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as K from '../assembly/constants.js';
import { Worker } from 'node:worker_threads';
import { Core, packageRoot, type RowSink, type FileCounters } from './core/core.js';
import { mergeTables, mergeCounters, type Part } from './core/merge.js';
import type { SliceJob } from './core/worker.js';
import { KvmtaxError, excerpt } from './core/errors.js';
import { openSource, HEAD_BYTES, type ByteSource } from './formats/source.js';
import { detectFormat, formatNamed, readWith } from './formats/registry.js';
import { summarize, type InputInfo, type Report } from './analysis/summary.js';

export interface AnalyzeOptions {
  /** force a format: ftrace | trace-cmd | perf | perf.data | trace.dat | perfetto */
  format?: string;
  strict?: boolean;
  tscKhz?: number;
  isa?: number;
  top?: number;
  histograms?: boolean;
  /** trace.dat: the buffer (instance) to read */
  buffer?: string;
  /** tests: new bytes per scan call, to exercise chunk boundaries */
  chunkBytes?: number;
  /** stream every handled exit, halt and lapic event out as rows (src/analysis/rows.ts) */
  rows?: RowSink;
  /** tests: rows held between two drains */
  rowCapacity?: number;
  /** called as input bytes are read: (bytes of this file, its index) */
  onProgress?: (bytes: number, fileIndex: number) => void;
  /** worker threads for a plain text file (line-aligned slices, merged exactly); 1: none */
  jobs?: number;
  /** files smaller than this are read by one thread even with jobs > 1 (default 16 MiB) */
  jobsMinBytes?: number;
}

let versionCache: string | undefined;
export function version(): string {
  if (!versionCache) {
    versionCache = (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  }
  return versionCache;
}

export async function analyze(files: string[], opts: AnalyzeOptions = {}): Promise<Report> {
  if (files.length === 0) throw new KvmtaxError('no input files');
  const core = new Core({ topN: Math.max(opts.top ?? 10, 10), rows: opts.rows, rowCapacity: opts.rowCapacity });
  const inputs: InputInfo[] = [];
  const sliced: Part[] = [];
  const topN = Math.max(opts.top ?? 10, 10);
  for (const file of files) {
    const src = await openSource(file);
    try {
      inputs.push(await readOne(core, src, opts, sliced, topN));
    } finally {
      src.close();
    }
  }
  const tables = sliced.length ? mergeTables([{ tables: core.tables(), lineOffset: 0 }, ...sliced], topN) : core.tables();
  return summarize(tables, inputs, {
    tscKhz: opts.tscKhz, isa: opts.isa, top: opts.top ?? 10, histograms: opts.histograms, version: version(),
  });
}

async function readOne(core: Core, src: ByteSource, opts: AnalyzeOptions, sliced: Part[], topN: number): Promise<InputInfo> {
  const idx = core.nextFileIndex();
  const entry = opts.format ? formatNamed(opts.format) : detectFormat(src.head, src.name);
  if (!entry.text) {
    // binary readers read at offsets: a compressed or piped file is first written out whole
    let p = src.path && !src.compression ? src.path : undefined;
    let tmp: string | undefined;
    if (!p) {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-'));
      p = path.join(tmp, path.basename(src.name).replace(/\.(xz|gz)$/, '') || 'input');
      const out = fs.openSync(p, 'w');
      const buf = Buffer.alloc(1 << 20);
      for (let n; (n = await src.read(buf, 0, buf.length)) > 0;) fs.writeSync(out, buf, 0, n);
      fs.closeSync(out);
    }
    try {
      core.fileIndexForBinary = idx;
      const meta = (await readWith(entry, { src, path: p, display: src.name }, core, { buffer: opts.buffer })) ?? {};
      const c = core.endFile();
      return {
        file: src.name, format: entry.name, compression: src.compression, clock: c.clock === K.CLOCK_RAW ? 'raw' : 'ns',
        bytes: fs.statSync(p).size, events: c.events, first_ts: c.events ? Number(c.firstTs) : null,
        last_ts: c.events ? Number(c.lastTs) : null, lost_markers: c.lostMarkers, lost_events: c.lostEvents, meta,
      };
    } finally {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  const fmt = entry.fmt!;
  const jobs = opts.jobs ?? 1;
  const size = src.path && !src.compression ? fs.statSync(src.path).size : 0;
  let c: FileCounters;
  if (jobs > 1 && !opts.rows && size >= (opts.jobsMinBytes ?? 16 << 20)) {
    const r = await readSlices(src, idx, fmt, opts, jobs, size, topN);
    sliced.push(...r.parts);
    c = r.counters;
  } else {
    await readWith(entry, { src, path: src.path ?? '', display: src.name }, core,
      { fileIndex: idx, strict: opts.strict, chunkBytes: opts.chunkBytes, onProgress: opts.onProgress && ((n) => opts.onProgress!(n, idx)) });
    c = core.endFile();
  }
  if (c.events === 0 && c.lines > 0 && c.comments + c.blank < c.lines) {
    const rec = [...core.tables().skips, ...sliced.flatMap((p) => p.tables.skips)].find((s) => s.file === idx);
    throw new KvmtaxError(`no trace event could be read (got ${excerpt(rec?.excerpt ?? '')})`, src.name, rec?.line ?? 1, rec?.col ?? 1);
  }
  return {
    file: src.name, format: entry.name, compression: src.compression, clock: c.clock === K.CLOCK_RAW ? 'raw' : 'ns',
    lines: c.lines, bytes: c.bytes, events: c.events, first_ts: c.events ? Number(c.firstTs) : null,
    last_ts: c.events ? Number(c.lastTs) : null, lost_markers: c.lostMarkers, lost_events: c.lostEvents,
  };
}

/**
 * Read a plain text file in `jobs` line-aligned slices, one worker thread and WebAssembly core each.
 * Every slice's timeline starts at the file's first event, found by scanning the head first.
 */
async function readSlices(src: ByteSource, idx: number, fmt: number, opts: AnalyzeOptions, jobs: number, size: number, topN: number): Promise<{ parts: Part[]; counters: FileCounters }> {
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
  const worker = path.join(packageRoot(), 'dist', 'src', 'core', 'worker.js');
  if (!fs.existsSync(worker)) throw new KvmtaxError(`${worker} is missing: run "npm run build" first (needed for --jobs)`);
  const results = await Promise.all(cuts.slice(0, -1).map((start, k) => new Promise<{ ok: boolean; counters?: FileCounters; tables?: Part['tables']; error?: { message: string; line?: number; col?: number; internal?: boolean } }>((resolve, reject) => {
    const job: SliceJob = { file, start, end: cuts[k + 1]!, fileIndex: idx, format: fmt, strict: opts.strict ?? false, topN, origin };
    const w = new Worker(worker, { workerData: job });
    w.once('message', (m) => { resolve(m); void w.terminate(); });
    w.once('error', reject);
  })));
  let lineOffset = 0;
  const parts: Part[] = [];
  for (const r of results) {
    if (!r.ok) {
      const e = r.error!;
      if (e.internal) throw new Error(e.message);
      throw new KvmtaxError(e.message, src.name, e.line !== undefined ? e.line + lineOffset : undefined, e.col);
    }
    parts.push({ tables: r.tables!, lineOffset });
    lineOffset += r.counters!.lines;
  }
  return { parts, counters: mergeCounters(results.map((r) => r.counters!)) };
}

