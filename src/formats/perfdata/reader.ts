/**
 * Reader of perf.data files (magic PERFILE2): `perf record`, `perf kvm stat record`, pipe mode
 * (`perf record -o - > file`) and directory recordings (`perf record --threads`).
 *
 * This file: the file header, attrs, feature sections, naming the attrs, the directory's data files and
 * the end of the read. header.ts: layouts and the tracing data; records.ts: the record stream (TypeScript
 * path); samples.ts: sample fields, kernel records, ordering and delivery; order.ts: the round queue;
 * compressed.ts: PERF_RECORD_COMPRESSED; core-path.ts: samples decoded in the wasm core.
 *
 * Where the format is defined (facts taken from the Linux tree, code written from scratch):
 *   tools/perf/Documentation/perf.data-file-format.txt   file header, feature sections, pipe mode, user records
 *   tools/include/uapi/linux/perf_event.h                 perf_event_attr, PERF_RECORD_* and PERF_SAMPLE_* layouts
 *   tools/perf/util/header.c                              attr entries (attr + ids section), feature payloads
 *   tools/perf/util/trace-event-read.c                    the embedded tracing data (HEADER_TRACING_DATA)
 *   tools/perf/util/session.c, ordered-events.c           record processing and the time ordering by rounds
 *
 * Data flow:
 *
 *   file header -> attrs (+ ids) -> features (tracing data = event formats, EVENT_DESC names, host info)
 *   data section, read in large chunks: record -> [sample fields] -> round queue (sorted by time at each
 *   FINISHED_ROUND, as perf does) -> KvmEventDecoder (RAW tracepoint record) -> EventSink
 *
 * Layouts this module relies on (all integers in the byte order the magic reveals):
 *
 *   file header  magic[8] "PERFILE2" | u64 size (104; 16 = pipe mode) | u64 attr_size
 *                | attrs{off,size} | data{off,size} | event_types{off,size} | u64 features[4]
 *   attr entry   perf_event_attr (attr.size bytes) | ids{off,size} -> u64 ids[]        (attr_size apart)
 *   features     at data.off + data.size: one {off,size} per set feature bit, in bit order
 *   record       u32 type | u16 misc | u16 size | payload
 *   SAMPLE (9)   [IDENTIFIER] [IP] [pid,tid] [TIME] [ADDR] [ID] [STREAM_ID] [cpu,res] [PERIOD] [READ]
 *                [CALLCHAIN nr + ips] [RAW u32 size + data] ...     (present when the sample_type bit is set)
 *   other kernel records, when sample_id_all: trailer [pid,tid] [TIME] [ID] [STREAM_ID] [cpu,res] [IDENTIFIER]
 *
 * Real header of a capture (svm-D-small/perf-kvm.data, `perf report --header-only`):
 *   # event : name = kvm:kvm_exit, , id = { 13, 14 }, type = 2, size = 128, config = 0x58b,
 *     sample_type = IP|TID|TIME|CPU|PERIOD|RAW|IDENTIFIER, read_format = ID|LOST, sample_id_all = 1
 *
 * Behaviour worth knowing (checked against `perf script` of the real captures, event by event):
 * - Order: records with a time wait in a queue; at each FINISHED_ROUND the ones not later than the newest
 *   time seen before the PREVIOUS round are delivered sorted by (time, file order); the rest at the end.
 *   Records without a usable time (0, or no TIME bit) are delivered at once, as perf does.
 * - Thread of an event = the tracepoint's common_pid (the decoder's choice). perf script shows ":-1 -1" for
 *   samples whose pid/tid perf could not resolve (an exiting thread); the raw record still names it.
 * - Samples flagged as guest mode (misc GUEST_KERNEL/USER: host tracepoints fired while a vCPU was in guest
 *   mode) are kept; perf script hides them without --guest (svm-B: 12 sched_wakeup). See skipGuestSamples.
 * - `where` of every pushed event is the byte offset of its record in the file.
 * - Pipe mode: also readable from a real pipe or FIFO; a stream that does not end with a FINISHED_ROUND is
 *   reported as probably cut short (sink.skip SKIP_TRUNCATED).
 * - Compressed records (perf record -z, PERF_RECORD_COMPRESSED): one zstd stream across the file (compressed.ts).
 * - Directory recordings (`perf record --threads -o DIR`): DIR/data is a perf.data file whose header has the
 *   HEADER_DIR_FORMAT feature (u64 version 1); its data section holds the records perf synthesized at the
 *   start (COMM, MMAP, FORK), and each writer thread's records are in DIR/data.N (no header: records only,
 *   in the header file's byte order; each file its own zstd stream with -z). perf writes no FINISHED_ROUND
 *   there and orders all the records by time at the end; so does this reader (data first, then data.0,
 *   data.1, ... for equal times). An event's `where` counts the directory's files as one concatenation
 *   (data, data.0, data.1, ...); an error names the data file and the offset inside it. The directory or its
 *   data file may be given.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import type { EventSink } from '../../core/sink.js';
import { FormatError, u64n } from '../bytes.js';
import type { EventFormat } from '../tracefs-format.js';
import { KvmEventDecoder } from '../kvm-events.js';
import {
  PERF_TYPE_TRACEPOINT, ATTR_SIZE_VER0, FILE_HEADER_SIZE, PIPE_HEADER_SIZE, MAGIC, latin1, isPerfData,
  hex, truncated, parseAttr, attrSizeOf,
  type Attr, type PerfDataInfo, type PerfDataOptions, type TracingData,
} from './header.js';
export type { PerfDataInfo, PerfDataOptions } from './header.js';
export { isPerfData } from './header.js';
import { PerfDataCorePath } from './core-path.js';
import { RecordStage } from './records.js';
import { parseFeature, WANTED_FEATURES } from './features.js';
import { CLOCK_NS, SKIP_TRUNCATED } from '../../../assembly/constants.js';

// ---- the reader ----

const CHUNK_DEFAULT = 16 << 20;
/** PerfDataInfo.sliceFailed: the file is not read by the core path (or has data.N files) */
export const SLICE_NOT_CORE = 100;
const MAX_QUEUED_DEFAULT = 4 << 20;

class PerfDataReader extends RecordStage {
  private descNames: { name: string; ids: number[] }[] = [];
  private tracing: TracingData | null = null;
  private readonly formatsById = new Map<number, EventFormat>();
  protected readonly chunkSize: number;
  /** HEADER_DIR_FORMAT's version (0: not a directory recording) */
  private dirVersion = 0;

  constructor(private readonly path: string, fd: number, private fileSize: number, private readonly seekable: boolean, sink: EventSink, opts: PerfDataOptions) {
    super(fd, sink, Math.max(opts.maxQueued ?? MAX_QUEUED_DEFAULT, 1), opts.skipGuestSamples ?? false);
    this.chunkSize = Math.max(opts.chunkSize ?? CHUNK_DEFAULT, 64);
    this.slice = opts.slice;
  }
  /** --jobs: the slice of the stream this reader delivers (PerfDataOptions.slice) */
  private readonly slice: PerfDataOptions['slice'];

  /** Read exactly `len` bytes at `off` (seekable input only). */
  private readAt(off: number, len: number, what: string): Uint8Array {
    if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0 || off + len > this.fileSize) {
      throw new FormatError(`perf.data: ${what} [${off}, ${off + len}) lies beyond the end of the file (${this.fileSize} bytes)`,
        Math.min(off, this.fileSize));
    }
    const b = new Uint8Array(len);
    let got = 0;
    while (got < len) {
      const n = fs.readSync(this.fd, b, got, len - got, off + got);
      if (n <= 0) throw truncated(what, off + got);
      got += n;
    }
    return b;
  }

  async run(): Promise<PerfDataInfo> {
    const head = new Uint8Array(PIPE_HEADER_SIZE);
    let got = 0;
    while (got < PIPE_HEADER_SIZE) {
      const n = fs.readSync(this.fd, head, got, PIPE_HEADER_SIZE - got, this.seekable ? got : null);
      if (n <= 0) break;
      got += n;
    }
    if (got < 8 || !isPerfData(head)) throw new FormatError('perf.data: not a perf.data file (no PERFILE2 magic)', 0);
    if (got < PIPE_HEADER_SIZE) throw truncated('file header', got);
    this.le = latin1.decode(head.subarray(0, 8)) === MAGIC;
    const hv = new DataView(head.buffer);
    const hsize = u64n(hv, 8, this.le);
    if (hsize === PIPE_HEADER_SIZE) {
      this.info.pipeMode = true;
      this.processData(PIPE_HEADER_SIZE, this.seekable ? this.fileSize : Number.MAX_SAFE_INTEGER, !this.seekable);
    } else {
      if (!this.seekable) throw new FormatError('perf.data: a file-mode perf.data must be read from a regular file', 8);
      if (hsize < FILE_HEADER_SIZE) throw new FormatError(`perf.data: bad header size ${hsize}`, 8);
      await this.readFileHeader();
      if (this.info.sliceFailed) return this.info;
    }
    this.finish();
    return this.info;
  }

  // ---- file mode ----

  private async readFileHeader(): Promise<void> {
    const le = this.le;
    const h = this.readAt(0, FILE_HEADER_SIZE, 'file header');
    const v = new DataView(h.buffer);
    const attrSize = u64n(v, 16, le);
    const attrsOff = u64n(v, 24, le);
    const attrsSize = u64n(v, 32, le);
    const dataOff = u64n(v, 40, le);
    const dataSize = u64n(v, 48, le);
    if (dataOff + dataSize > this.fileSize) {
      throw new FormatError(`perf.data: truncated file: the data section ends at ${dataOff + dataSize} but the file has ${this.fileSize} bytes`,
        this.fileSize);
    }
    if (dataSize === 0 && this.fileSize > dataOff && u64n(v, 72, le) === 0) {
      throw new FormatError('perf.data: the header was never completed (data size 0): perf record did not finish writing this file',
        40);
    }
    // attrs: { perf_event_attr (attr.size bytes); perf_file_section ids }, attr_size apart
    if (attrsSize > 0) {
      if (attrSize < ATTR_SIZE_VER0 + 16) throw new FormatError(`perf.data: bad attr_size ${attrSize}`, 16);
      const ab = this.readAt(attrsOff, attrsSize, 'attrs section');
      const av = new DataView(ab.buffer);
      const n = Math.floor(attrsSize / attrSize);
      for (let i = 0; i < n; i++) {
        const o = i * attrSize;
        const sz = attrSizeOf(av, o, le);
        if (sz + 16 > attrSize) throw new FormatError(`perf.data: attr ${i} of ${sz} bytes does not fit attr_size ${attrSize}`, attrsOff + o);
        const attr = parseAttr(ab, o, sz, le, attrsOff + o, this.attrs.length);
        const idsOff = u64n(av, o + sz, le);
        const idsSize = u64n(av, o + sz + 8, le);
        if (idsSize > 0) {
          const ib = this.readAt(idsOff, idsSize, `ids of attr ${i}`);
          const iv = new DataView(ib.buffer);
          for (let k = 0; k + 8 <= idsSize; k += 8) attr.ids.push(u64n(iv, k, le));
        }
        this.addAttr(attr);
      }
    }
    // feature sections: a perf_file_section per set bit, right after the data section
    const featOff = dataOff + dataSize;
    const bits: number[] = [];
    for (let w = 0; w < 4; w++) {
      const lo = v.getUint32(72 + w * 8 + (le ? 0 : 4), le);
      const hi = v.getUint32(72 + w * 8 + (le ? 4 : 0), le);
      for (let b = 0; b < 32; b++) {
        if (lo & (1 << b)) bits.push(w * 64 + b);
        if (hi & (1 << b)) bits.push(w * 64 + 32 + b);
      }
    }
    bits.sort((a, b) => a - b);
    if (bits.length > 0) {
      const table = this.readAt(featOff, bits.length * 16, 'feature section table');
      const tv = new DataView(table.buffer);
      for (let i = 0; i < bits.length; i++) {
        const off = u64n(tv, i * 16, le);
        const size = u64n(tv, i * 16 + 8, le);
        const feat = bits[i]!;
        if (off + size > this.fileSize) {
          throw new FormatError(`perf.data: truncated file: feature section ${feat} [${off}, ${off + size}) lies beyond the end of the file (${this.fileSize} bytes)`,
            Math.min(off, this.fileSize));
        }
        if (!this.wantsFeature(feat)) continue;
        const payload = this.readAt(off, size, `feature section ${feat}`);
        this.processFeature(feat, payload, off);
      }
    }
    const cp = PerfDataCorePath.open({ sink: this.sink, le, attrs: this.attrs, byId: this.byId, formats: this.tracing?.formats ?? null,
      lostNameId: this.lostNameId, maxQueued: this.maxQueued, skipGuest: this.skipGuest });
    if (this.slice && (!cp || this.dirVersion > 0)) {
      // a slice needs the core path's ordering (and one data section)
      this.info.sliceFailed = SLICE_NOT_CORE;
      return;
    }
    if (cp) {
      this.corePath = cp;
      if (this.slice) cp.slice(this.slice);
      await cp.run(this.fd, this.slice && this.slice.from >= 0 ? this.slice.from : dataOff, dataOff + dataSize, () => { if (!this.attrsResolved) this.resolveAttrs(); },
        (type, buf, view, p, size, off) => this.coreRecord(type, buf, view, p, size, off), truncated);
    } else {
      this.processData(dataOff, dataOff + dataSize, false);
    }
    if (this.dirVersion > 0) await this.readDataFiles(cp);
  }

  /** The data.N files of a directory recording, after the header file's data section (see the top). */
  private async readDataFiles(cp: PerfDataCorePath | undefined): Promise<void> {
    const dir = nodePath.dirname(this.path);
    const files = fs.readdirSync(dir).map((n) => /^data\.(\d+)$/.exec(n)).filter((m) => m !== null)
      .map((m) => ({ name: m[0], n: Number(m[1]) })).sort((a, b) => a.n - b.n);
    this.info.dataFiles = files.length;
    if (files.length === 0) {
      this.sink.skip(SKIP_TRUNCATED, this.fileSize, `perf.data: a directory recording (perf record --threads) without its data.N files beside ${nodePath.basename(this.path)}: the samples they hold are missing`);
    }
    let base = this.fileSize;
    const headerFd = this.fd;
    for (const f of files) {
      const fd = fs.openSync(nodePath.join(dir, f.name), 'r');
      try {
        const size = fs.fstatSync(fd).size;
        this.endCompressed(); // each writer thread compresses on its own
        this.fd = fd;
        this.whereBase = base;
        if (cp) {
          cp.whereBase = base;
          await cp.run(fd, 0, size, () => { if (!this.attrsResolved) this.resolveAttrs(); },
            (type, buf, view, p, sz, off) => this.coreRecord(type, buf, view, p, sz, off), truncated);
        } else this.processData(0, size, false);
        base += size;
      } catch (e) {
        if (e instanceof FormatError) throw new FormatError(`perf.data: ${f.name}: ${e.message.replace(/^perf\.data: /, '')}`, e.offset);
        throw e;
      } finally {
        fs.closeSync(fd);
        this.fd = headerFd;
      }
    }
  }

  protected wantsFeature(feat: number): boolean {
    return WANTED_FEATURES.has(feat);
  }

  /** A feature payload: the content of a feature section, or of a pipe-mode HEADER_FEATURE record. */
  protected processFeature(feat: number, b: Uint8Array, fileOff: number): void {
    const f = parseFeature(feat, b, fileOff, this.le, this.sink);
    if (f.tracing) this.setTracing(f.tracing);
    if (f.descNames) { this.descNames = f.descNames; this.attrsResolved = false; }
    if (f.dirVersion !== undefined) this.dirVersion = f.dirVersion;
    Object.assign(this.info, f.info);
  }

  protected setTracing(t: TracingData): void {
    this.tracing = t;
    this.decoder = new KvmEventDecoder(this.sampledSink(), t.littleEndian);
    for (const f of t.formats) {
      this.decoder.addFormat(f);
      this.formatsById.set(f.id, f);
    }
    this.attrsResolved = false;
  }

  protected addAttr(attr: Attr): void {
    this.attrs.push(attr);
    for (const id of attr.ids) this.byId.set(id, attr);
    this.attrsResolved = false;
  }

  /** Name every attr from the best source available: EVENT_DESC/EVENT_UPDATE, the tracing formats, EVENT_TYPE. */
  protected resolveAttrs(): void {
    this.attrsResolved = true;
    for (let i = 0; i < this.attrs.length; i++) {
      const a = this.attrs[i]!;
      let name = a.updName;
      if (name === '') {
        const byIds = this.descNames.find(d => d.ids.length > 0 && a.ids.length > 0 && d.ids[0] === a.ids[0]);
        const d = byIds ?? (this.descNames.length === this.attrs.length ? this.descNames[i] : undefined);
        if (d) name = d.name;
      }
      let key = '';
      if (a.type === PERF_TYPE_TRACEPOINT) {
        const f = a.config <= 0xffffffffn ? this.formatsById.get(Number(a.config)) : undefined;
        if (f) {
          key = f.name;
          if (name === '') name = `${f.system}:${f.name}`;
        } else {
          const t = this.eventTypeNames.get(a.config.toString());
          if (name === '' && t) name = t;
        }
      }
      if (name === '') name = `type${a.type}:${hex(Number(a.config & 0xffffffffn))}`;
      if (key === '') key = a.type === PERF_TYPE_TRACEPOINT && name.includes(':') ? name.slice(name.indexOf(':') + 1) : name;
      if (key !== a.key) {
        a.key = key;
        a.nameId = this.sink.intern(key);
      }
      a.name = name;
    }
  }

  // ---- the data stream ----

  /** The end of a zstd stream of compressed records: a record it leaves unfinished is reported. */
  private endCompressed(): void {
    const z = this.compressed;
    if (!z) return;
    this.compressed = undefined;
    z.end();
    if (z.leftover > 0) {
      this.sink.skip(SKIP_TRUNCATED, z.lastOff + this.whereBase, `perf.data: the compressed records end inside a record (${z.leftover} bytes of it)`);
    }
  }

  private finish(): void {
    this.endCompressed();
    // the final flush: everything still queued, in time order
    if (this.corePath) {
      const r = this.corePath.finish();
      if (r.sliceFailed) this.info.sliceFailed = r.sliceFailed;
      this.attrs.forEach((a, i) => { a.periodSum += r.periodSums[i]!; });
      this.info.samples += r.samples;
      this.info.guestSamples += r.guestSamples;
      this.info.lost += r.lost;
      this.attrs.forEach((a, i) => { if (r.perAttr[i]) this.info.events[a.key] = (this.info.events[a.key] ?? 0) + r.perAttr[i]!; });
    } else this.queue.flushAll();
    if (!this.attrsResolved) this.resolveAttrs();
    // Σ PERIOD per event and how the recording sampled (perf record -c N / -F N)
    const withPeriod = this.attrs.filter((a) => a.layout.period >= 0 && this.info.events[a.key]);
    if (withPeriod.length > 0) {
      this.info.periodSums = {};
      for (const a of withPeriod) this.info.periodSums[a.key] = (this.info.periodSums[a.key] ?? 0) + a.periodSum;
    }
    const sampled = this.attrs.find((a) => this.info.events[a.key] && (a.freq || a.period > 1));
    if (sampled) {
      this.info.sampling = sampled.freq ? `-F ${sampled.period}` : `-c ${sampled.period}`;
      this.info.exitPeriods = this.exitPeriods;
    }
    // threads perf never saw a COMM for, named from the saved cmdlines of the tracing data
    // (a slice after the first: the first one names them, as it holds the COMM records before the others)
    if (this.tracing && !(this.slice && this.slice.from >= 0)) {
      for (const [tid, comm] of this.tracing.savedCmdlines) {
        if (!this.comms.has(tid)) {
          this.comms.set(tid, comm);
          this.sink.nameThread(tid, this.corePath?.pidOf(tid) ?? this.pidOf.get(tid) ?? -1, comm);
        }
      }
    }
  }
}

/**
 * Read a perf.data file (file mode or pipe mode) and push its events to `sink`.
 * Throws FormatError (with the byte offset) when the file is truncated or malformed.
 */
export async function readPerfData(path: string, sink: EventSink, opts: PerfDataOptions = {}): Promise<PerfDataInfo> {
  // a directory recording (perf record --threads): its header file is DIR/data
  const file = isPerfDataDir(path) ? nodePath.join(path, 'data') : path;
  const fd = fs.openSync(file, 'r');
  try {
    const st = fs.fstatSync(fd);
    sink.beginFile(path, CLOCK_NS);
    const r = new PerfDataReader(file, fd, st.size, st.isFile(), sink, opts);
    return await r.run();
  } finally {
    fs.closeSync(fd);
  }
}

/** A directory written by `perf record --threads` (or -o DIR with a directory layout): it holds a perf.data "data". */
export function isPerfDataDir(path: string): boolean {
  try {
    return fs.statSync(path).isDirectory() && fs.statSync(nodePath.join(path, 'data')).isFile();
  } catch {
    return false;
  }
}
