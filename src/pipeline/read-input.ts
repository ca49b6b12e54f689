/**
 * Read one input into the core: detect its format (magic bytes for binary captures, the first lines for
 * text), hand it to its reader, and describe it (InputInfo) for the report. A plain text file may be read
 * in slices by worker threads (jobs.ts), a trace.dat in time slices (jobs-tracedat.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as K from '../../assembly/constants.js';
import type { Core, CoreTables, FileCounters, SkipRec } from '../wasm/core.js';
import type { Part } from '../wasm/merge.js';
import { KvmtaxError, excerpt } from '../core/errors.js';
import type { ByteSource } from '../formats/source.js';
import { registerScratch, releaseScratch } from '../core/scratch.js';
import { detectFormat, formatNamed, readWith, perfDataMeta, traceDatMeta, type ReaderMeta, type SampledRead } from '../formats/registry.js';
import type { InputInfo } from '../analysis/types.js';
import type { AnalyzeOptions } from './analyze.js';
import { readSlices } from './jobs.js';
import { readPerfDataSlices } from './perfdata-jobs.js';
import { readTraceDatSlices } from './jobs-tracedat.js';

/**
 * Read `src` as the core's next file; worker-read slices of a text file are added to `sliced`. `ownTables`: the
 * run's last file, whose --jobs slices may hand over the core's own tables, read while the workers finish.
 */
export async function readOne(core: Core, src: ByteSource, opts: AnalyzeOptions, sliced: Part[], topN: number, ownTables?: (t: CoreTables) => void): Promise<InputInfo> {
  const idx = core.nextFileIndex();
  const entry = opts.format ? formatNamed(opts.format) : detectFormat(src.head, src.name);
  if (!entry.text) {
    // binary readers read at offsets: a compressed or piped file is first written out whole
    let p = src.path && !src.compression ? src.path : undefined;
    let tmp: string | undefined;
    if (!p) {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-'));
      registerScratch(tmp);
      p = path.join(tmp, path.basename(src.name).replace(/\.(xz|gz)$/, '') || 'input');
      const out = fs.openSync(p, 'w');
      const buf = Buffer.alloc(1 << 20);
      for (let n; (n = await src.read(buf, 0, buf.length)) > 0;) fs.writeSync(out, buf, 0, n);
      fs.closeSync(out);
    }
    try {
      if (entry.name === 'perf.data' && !tmp && slicing(opts, fs.statSync(p).size, src.name)) {
        // slices of its delivered stream, one worker each (perfdata-jobs.ts); undefined: one job reads it
        const r = await readPerfDataSlices(p, src.name, idx, opts.jobs!, topN, opts.maxMemoryMb, { cutAfter: opts.jobsCutAfter, minBytes: opts.jobsMinBytes, arenaBytes: opts.arenaBytes, readAhead: opts.sliceReadAhead });
        if (r) {
          sliced.push(...r.parts);
          const c = r.counters;
          return {
            file: src.name, format: entry.name, compression: src.compression, clock: c.clock === K.CLOCK_RAW ? 'raw' : 'ns',
            bytes: fs.statSync(p).size, events: c.events, first_ts: c.events ? Number(c.firstTs) : null,
            last_ts: c.events ? Number(c.lastTs) : null, lost_markers: c.lostMarkers, lost_events: c.lostEvents, meta: perfDataMeta(r.info),
          };
        }
      }
      let sampled: InputInfo['sampled'];
      const onSampled = (s: SampledRead): void => {
        const exits = [...s.exits].map(([key, [n, sum]]) => ({ reason: core.stringOf(key), samples: n, estimated: sum }));
        sampled = { sampling: s.sampling, samples: s.samples, period_sum: s.periodSum, exits };
      };
      let meta: ReaderMeta, c: FileCounters;
      // --jobs: a trace.dat in time slices (jobs-tracedat.ts), when it is big enough and can be cut
      const td = entry.name === 'trace.dat' && slicing(opts, fs.statSync(p).size, src.name)
        ? await readTraceDatSlices(core, p, src.name, idx, opts, opts.jobs!, topN) : undefined;
      if (td) {
        sliced.push(...td.parts);
        meta = traceDatMeta(td.info);
        c = td.counters;
      } else {
        meta = (await readWith(entry, { src, path: p, display: src.name }, core.sinkFor(idx), { buffer: opts.buffer, onSampled })) ?? {};
        c = core.endFile();
      }
      return {
        ...(sampled ? { sampled } : {}),
        file: src.name, format: entry.name, compression: src.compression, clock: c.clock === K.CLOCK_RAW ? 'raw' : 'ns',
        bytes: fs.statSync(p).size, events: c.events, first_ts: c.events ? Number(c.firstTs) : null,
        last_ts: c.events ? Number(c.lastTs) : null, lost_markers: c.lostMarkers, lost_events: c.lostEvents, meta,
      };
    } finally {
      if (tmp) { fs.rmSync(tmp, { recursive: true, force: true }); releaseScratch(tmp); }
    }
  }
  const fmt = entry.fmt!;
  const jobs = opts.jobs ?? 1;
  const size = src.path && !src.compression ? fs.statSync(src.path).size : 0;
  let c: FileCounters;
  if (jobs > 1 && slicing(opts, size, src.name)) {
    const r = await readSlices(core, src, idx, fmt, opts, jobs, size, topN, ownTables);
    sliced.push(...r.parts);
    c = r.counters;
  } else {
    // progress of a compressed file: its compressed position (the total is its size on disk)
    await readWith(entry, { src, path: src.path ?? '', display: src.name }, core,
      { fileIndex: idx, strict: opts.strict, chunkBytes: opts.chunkBytes, onProgress: opts.onProgress && ((n) => opts.onProgress!(src.rawPosition?.() ?? n, idx)) });
    c = core.endFile();
  }
  if (c.events === 0 && c.lines > 0 && c.comments + c.blank < c.lines) {
    throw noEventsError([...core.tables().skips, ...sliced.flatMap((p) => p.tables.skips)].filter((s) => s.file === idx), src.name);
  }
  return {
    file: src.name, format: entry.name, compression: src.compression, clock: c.clock === K.CLOCK_RAW ? 'raw' : 'ns',
    lines: c.lines, bytes: c.bytes, events: c.events, first_ts: c.events ? Number(c.firstTs) : null,
    last_ts: c.events ? Number(c.lastTs) : null, lost_markers: c.lostMarkers, lost_events: c.lostEvents,
    ...segmentsOf(c),
  };
}

/**
 * Whether --jobs reads file `name` of `size` bytes in slices (rows, rips, gpas and nested want one thread's order;
 * a file whose slices could not be exact is read again by one thread).
 */
function slicing(opts: AnalyzeOptions, size: number, name: string): boolean {
  return (opts.jobs ?? 1) > 1 && !opts.rows && !opts.rips && !opts.gpas && !opts.nested && size >= (opts.jobsMinBytes ?? 16 << 20) &&
    !opts.oneThread?.includes(name);
}

/** A pasted capture's time segments, for InputInfo (nothing when the file is one segment). */
export function segmentsOf(c: FileCounters): Pick<InputInfo, 'segments' | 'segment_count'> {
  if (!(c.segments?.length > 1)) return {};
  return { segments: c.segments, ...(c.segmentCount > c.segments.length ? { segment_count: c.segmentCount } : {}) };
}

/** The error of a text file from which no event could be read; lines naming kvm_exit/kvm_entry are counted in it. */
export function noEventsError(recs: SkipRec[], file: string): KvmtaxError {
  const kvm = recs.filter((s) => s.kind === K.SKIP_KVM_UNREADABLE);
  if (kvm.length > 0) {
    // kvm_exit text that could not be read is never "no events": say how many such lines there are
    const n = kvm.reduce((a, s) => a + s.count, 0);
    return new KvmtaxError(`no trace event could be read, though ${n} line${n === 1 ? ' names' : 's name'} kvm_exit/kvm_entry (kvm_exit line not understood: the header columns "<task>-<pid> [<cpu>] <timestamp>:" are missing?) (got ${excerpt(kvm[0]!.excerpt)})`, { file, line: kvm[0]!.line, col: kvm[0]!.col });
  }
  const rec = recs[0];
  return new KvmtaxError(`no trace event could be read (got ${excerpt(rec?.excerpt ?? '')})`, { file, line: rec?.line ?? 1, col: rec?.col ?? 1 });
}
