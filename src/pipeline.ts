/**
 * The whole pipeline for a set of inputs:
 *   open (decompress) -> detect the format -> reader -> core -> summarize -> Report
 * Several files give one report; each keeps its own threads and VMs (file index in the core).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as K from '../assembly/constants.js';
import { Core, packageRoot, type RowSink } from './core/core.js';
import { KvmtaxError, excerpt } from './core/errors.js';
import { openSource, type ByteSource } from './formats/source.js';
import { detectTextFormat, looksLikeText, scanTextSource, TEXT_FORMATS, TEXT_FORMAT_NAMES } from './formats/text.js';
import { detectBinary, readBinary, BINARY_FORMATS } from './formats/binary.js';
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
  for (const file of files) {
    const src = await openSource(file);
    try {
      inputs.push(await readOne(core, src, opts));
    } finally {
      src.close();
    }
  }
  return summarize(core.tables(), inputs, {
    tscKhz: opts.tscKhz, isa: opts.isa, top: opts.top ?? 10, histograms: opts.histograms, version: version(),
  });
}

async function readOne(core: Core, src: ByteSource, opts: AnalyzeOptions): Promise<InputInfo> {
  const idx = core.nextFileIndex();
  const forced = opts.format;
  const binary = forced ? (BINARY_FORMATS.includes(forced) ? forced : undefined) : detectBinary(src.head, src.name);
  if (binary) {
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
      const meta = readBinary(binary, p, core, src.name, { buffer: opts.buffer });
      const c = core.endFile();
      return {
        file: src.name, format: binary, compression: src.compression, clock: c.clock === K.CLOCK_RAW ? 'raw' : 'ns',
        bytes: fs.statSync(p).size, events: c.events, first_ts: c.events ? Number(c.firstTs) : null,
        last_ts: c.events ? Number(c.lastTs) : null, lost_markers: c.lostMarkers, lost_events: c.lostEvents, meta,
      };
    } finally {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  let fmt: number | undefined;
  if (forced) {
    fmt = TEXT_FORMATS[forced];
    if (fmt === undefined) throw new KvmtaxError(`unknown format "${forced}" (known: ${[...Object.keys(TEXT_FORMATS), ...BINARY_FORMATS].join(', ')})`);
  } else {
    if (src.head.length === 0) throw new KvmtaxError('empty file: expected a trace', src.name, 1, 1);
    if (!looksLikeText(src.head)) {
      throw new KvmtaxError(`expected a trace (ftrace, trace-cmd report or perf script text, perf.data, trace.dat or Perfetto) (got binary data ${hexHead(src.head)})`, src.name, undefined, undefined, 0);
    }
    const head = Buffer.from(src.head).toString('latin1');
    fmt = detectTextFormat(head);
    if (fmt === undefined) {
      const first = head.split('\n').find((l) => l.trim() !== '') ?? '';
      throw new KvmtaxError(`expected a trace (ftrace, trace-cmd report or perf script text, perf.data, trace.dat or Perfetto) (got ${excerpt(first)})`, src.name, 1, 1);
    }
  }
  await scanTextSource(core, src, idx, fmt, opts.strict ?? false, opts.chunkBytes, opts.onProgress && ((n) => opts.onProgress!(n, idx)));
  const c = core.endFile();
  if (c.events === 0 && c.lines > 0 && c.comments + c.blank < c.lines) {
    const rec = core.tables().skips.find((s) => s.file === idx);
    throw new KvmtaxError(`no trace event could be read (got ${excerpt(rec?.excerpt ?? '')})`, src.name, rec?.line ?? 1, rec?.col ?? 1);
  }
  return {
    file: src.name, format: TEXT_FORMAT_NAMES[fmt]!, compression: src.compression, clock: c.clock === K.CLOCK_RAW ? 'raw' : 'ns',
    lines: c.lines, bytes: c.bytes, events: c.events, first_ts: c.events ? Number(c.firstTs) : null,
    last_ts: c.events ? Number(c.lastTs) : null, lost_markers: c.lostMarkers, lost_events: c.lostEvents,
  };
}

function hexHead(b: Uint8Array): string {
  return `"${[...b.subarray(0, 8)].map((x) => x.toString(16).padStart(2, '0')).join(' ')}..."`;
}
