/**
 * trace-cmd trace.dat reader (file versions 6 and 7), written from trace-cmd's file-format documentation
 * (trace-cmd.dat.v6(5), trace-cmd.dat.v7(5)) and the kernel's ring-buffer page layout (events/header_page,
 * events/header_event).
 *
 *  v6: magic, "6\0", endian, long size, page size; header_page/header_event; ftrace formats; event formats;
 *      kallsyms; printk formats; saved cmdlines; cpu count; "options  \0" + options (id 0 ends);
 *      "flyrecord\0" + per cpu (offset, size) + trace clock. A BUFFER option (offset, name) points at another
 *      "flyrecord\0" block of the same shape for an instance.
 *  v7: magic, "7\0", endian, long size, page size, compression "name\0version\0", offset of the first options
 *      section; then sections (u16 id, u16 flags (1 = compressed), u32 string id, u64 size), located by the
 *      options (HEADER_INFO 16 .. CMDLINES 21, BUFFER 3 per instance, DONE 0 = offset of the next options
 *      section). Compressed sections carry (u32 compressed size, u32 size) + data; compressed flyrecord data is
 *      a u32 chunk count followed by (u32 compressed size, u32 size, data) chunks of whole pages.
 *
 * Ring-buffer page: u64 timestamp, local_t commit (kernel long: data size in the low 27 bits, bit 31 = events
 * were lost before this page, bit 30 = their count is stored after the data), data. Each event starts with a
 * u32 (type_len:5, time_delta:27; type_len in the low bits on little-endian machines): 29 padding, 30 time
 * extend (delta = array[0] << 27 | time_delta), 31 absolute time stamp, 1..28 data of type_len*4 bytes,
 * 0 data whose length (+4) is in array[0].
 *
 * The per-CPU streams are merged in timestamp order (ties: lower CPU first) and every record is handed to a
 * KvmEventDecoder, which pushes one sink event per record.
 */
import { KWayMerge } from './kway.js';
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import type { EventSink } from '../core/sink.js';
import { CLOCK_NS, CLOCK_RAW, EV_LOST } from '../../assembly/constants.js';
import { FormatError, parseEventFormat, type EventFormat, type FormatField } from './tracefs-format.js';
import { KvmEventDecoder } from './kvm-events.js';

export { FormatError };

const MAGIC = [0x17, 0x08, 0x44, 0x74, 0x72, 0x61, 0x63, 0x69, 0x6e, 0x67]; // \x17\x08D tracing

export function isTraceDat(head: Uint8Array): boolean {
  if (head.length < MAGIC.length) return false;
  for (let i = 0; i < MAGIC.length; i++) if (head[i] !== MAGIC[i]) return false;
  return true;
}

export interface TraceDatInfo {
  version: number;
  cpus: number;
  clock: string;
  buffers: string[];
  compression?: string;
  events: number;
  lostEvents: number;
  /** name of the buffer (instance) that was decoded; "" is the top instance */
  buffer: string;
}

export interface TraceDatOptions {
  /** instance to decode; default: the top instance, or the first instance with data when the top one is empty */
  buffer?: string;
  /** files up to this size are read whole; larger ones page by page (default 32 MiB) */
  wholeFileLimit?: number;
}

// option ids
const OPT_DONE = 0, OPT_BUFFER = 3, OPT_TRACECLOCK = 4, OPT_OFFSET = 7, OPT_CPUCOUNT = 8, OPT_TSC2NSEC = 14;
const OPT_HEADER_INFO = 16, OPT_FTRACE_EVENTS = 17, OPT_EVENT_FORMATS = 18, OPT_CMDLINES = 21;
const OPT_BUFFER_TEXT = 22;
const OPT_SAVED_TGIDS = 32; // gpuvis' trace-cmd fork: text of saved_tgids
const SEC_FL_COMPRESS = 1;

const MISSING_EVENTS = 0x80000000;
const MISSING_STORED = 0x40000000;
const COMMIT_MASK = (1 << 27) - 1;
const TS_MSB = 0xf8n << 56n;
const RAW_CLOCKS = new Set(['x86-tsc', 'counter', 'uptime', 'ppc-tb']);

// ---------------------------------------------------------------------------------------------------------
// byte sources

/** The file, read whole when small, else at offsets with readSync. */
class FileSrc {
  readonly size: number;
  private whole: Uint8Array | undefined;
  private readonly fd: number;

  constructor(path: string, wholeLimit: number) {
    this.fd = openSync(path, 'r');
    this.size = fstatSync(this.fd).size;
    if (this.size <= wholeLimit) {
      this.whole = new Uint8Array(this.size);
      let got = 0;
      while (got < this.size) {
        const n = readSync(this.fd, this.whole, got, this.size - got, got);
        if (n <= 0) break;
        got += n;
      }
      if (got < this.size) this.whole = this.whole.subarray(0, got);
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  /** bytes [off, off+len) of the file; throws FormatError("truncated <what> at offset N") past its end. */
  read(off: number, len: number, what: string): Uint8Array {
    if (!(off >= 0) || !(len >= 0) || off + len > this.size || !Number.isSafeInteger(off + len)) {
      throw new FormatError(`truncated ${what} at offset ${off}`, Math.min(off, this.size));
    }
    if (this.whole) return this.whole.subarray(off, off + len);
    const b = new Uint8Array(len);
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, b, got, len - got, off + got);
      if (n <= 0) throw new FormatError(`truncated ${what} at offset ${off}`, off + got);
      got += n;
    }
    return b;
  }

  /** up to len bytes from off (fewer at the end of the file) */
  readUpTo(off: number, len: number): Uint8Array {
    const n = Math.max(0, Math.min(len, this.size - off));
    return this.read(off, n, 'data');
  }
}

/**
 * A bounded cursor over either the file (through a window) or an in-memory block (a decompressed section).
 * Every read is checked; errors carry file offsets (for in-memory blocks: the block's file offset).
 */
class Cur {
  pos: number;
  private buf: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private bufStart = 0;

  private constructor(private readonly file: FileSrc | undefined, private readonly mem: Uint8Array | undefined,
    pos: number, private readonly limit: number, readonly le: boolean, private readonly memFileOff: number,
    private readonly memCompressed: boolean) {
    this.pos = pos;
    if (mem) {
      this.buf = mem;
      this.view = new DataView(mem.buffer, mem.byteOffset, mem.byteLength);
    }
  }

  static overFile(file: FileSrc, pos: number, le: boolean, limit = file.size): Cur {
    return new Cur(file, undefined, pos, limit, le, 0, false);
  }

  static overMem(mem: Uint8Array, le: boolean, fileOff: number, compressed: boolean): Cur {
    return new Cur(undefined, mem, 0, mem.length, le, fileOff, compressed);
  }

  /** file offset for an error at cursor position p */
  fileOff(p = this.pos): number {
    if (this.mem) return this.memCompressed ? this.memFileOff : this.memFileOff + p;
    return p;
  }

  get remaining(): number {
    return this.limit - this.pos;
  }

  /**
   * "truncated <what> at offset N". An offset read from the file may point past its end (a cut file, a
   * corrupt pointer): then the message says so and the error's offset is the end of the file, a place
   * that exists (fuzz-found: tracedat-93e4163178).
   */
  truncated(what: string, off: number): FormatError {
    const size = this.file?.size;
    if (size !== undefined && off > size) {
      return new FormatError(`truncated ${what}: offset ${off} is beyond the end of the file (${size} bytes)`, size);
    }
    return new FormatError(`truncated ${what} at offset ${off}`, off);
  }

  private ensure(n: number, what: string): number {
    if (this.pos + n > this.limit) throw this.truncated(what, this.fileOff());
    if (this.mem) return this.pos;
    const rel = this.pos - this.bufStart;
    if (rel < 0 || rel + n > this.buf.length) {
      const len = Math.max(n, 1 << 16);
      this.buf = this.file!.readUpTo(this.pos, Math.min(len, this.limit - this.pos));
      this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
      this.bufStart = this.pos;
      if (this.buf.length < n) throw this.truncated(what, this.pos);
    }
    return this.pos - this.bufStart;
  }

  u8(what = 'header'): number {
    const i = this.ensure(1, what);
    this.pos += 1;
    return this.view.getUint8(i);
  }
  u16(what = 'header'): number {
    const i = this.ensure(2, what);
    this.pos += 2;
    return this.view.getUint16(i, this.le);
  }
  u32(what = 'header'): number {
    const i = this.ensure(4, what);
    this.pos += 4;
    return this.view.getUint32(i, this.le);
  }
  /** u64 as a JS number; values above 2^53 are a format error (sizes and offsets never get there) */
  u64(what = 'header'): number {
    const at = this.fileOff();
    const i = this.ensure(8, what);
    this.pos += 8;
    const v = this.view.getBigUint64(i, this.le);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`bad ${what} value ${v} at offset ${at}`, at);
    return Number(v);
  }
  u64big(what = 'header'): bigint {
    const i = this.ensure(8, what);
    this.pos += 8;
    return this.view.getBigUint64(i, this.le);
  }
  bytes(n: number, what: string): Uint8Array {
    if (!(n >= 0) || this.pos + n > this.limit) throw this.truncated(what, this.fileOff());
    if (this.mem) {
      const b = this.mem.subarray(this.pos, this.pos + n);
      this.pos += n;
      return b;
    }
    const b = this.file!.read(this.pos, n, what);
    this.pos += n;
    return b;
  }
  skip(n: number, what: string): void {
    if (!(n >= 0) || this.pos + n > this.limit) throw this.truncated(what, this.fileOff());
    this.pos += n;
  }
  /** NUL-terminated string (at most `max` bytes) */
  cstr(what: string, max = 4096): string {
    const start = this.pos;
    const out: number[] = [];
    for (;;) {
      if (this.pos >= this.limit) throw this.truncated(what, this.fileOff(start));
      const c = this.u8(what);
      if (c === 0) break;
      out.push(c);
      if (out.length > max) throw new FormatError(`unterminated ${what} at offset ${this.fileOff(start)}`, this.fileOff(start));
    }
    return latin1(Uint8Array.from(out));
  }
  text(n: number, what: string): string {
    return utf8(this.bytes(n, what));
  }
}

const td = new TextDecoder('utf-8', { fatal: false });
function utf8(b: Uint8Array): string {
  return td.decode(b);
}
function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}
function cstrOf(b: Uint8Array): string {
  let e = b.indexOf(0);
  if (e < 0) e = b.length;
  return utf8(b.subarray(0, e));
}

// ---------------------------------------------------------------------------------------------------------
// decompression

type Decompress = (data: Uint8Array, size: number, fileOff: number) => Uint8Array;

function decompressor(name: string): Decompress | undefined {
  if (name === 'zlib') {
    return (data, size, off) => {
      let out: Uint8Array;
      try {
        out = inflateSync(data, { maxOutputLength: Math.max(1, size) });
      } catch (e) {
        throw new FormatError(`corrupt zlib data at offset ${off}: ${(e as Error).message}`, off);
      }
      if (out.length !== size) throw new FormatError(`zlib data at offset ${off} gave ${out.length} bytes, expected ${size}`, off);
      return out;
    };
  }
  if (name === 'zstd') {
    return (data, size, off) => {
      let out: Uint8Array;
      try {
        out = zstdDecompress(data, new Uint8Array(size));
      } catch (e) {
        throw new FormatError(`corrupt zstd data at offset ${off}: ${(e as Error).message}`, off);
      }
      if (out.length !== size) throw new FormatError(`zstd data at offset ${off} gave ${out.length} bytes, expected ${size}`, off);
      return out;
    };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// file metadata

interface CpuData {
  cpu: number;
  offset: number;
  size: number;
}

interface BufferDesc {
  name: string;
  clock: string;
  cpus: CpuData[];
  compressed: boolean;
  pageSize: number;
}

interface PageLayout {
  tsOff: number;
  tsSize: number;
  commitOff: number;
  commitSize: number;
  dataOff: number;
}

interface Meta {
  version: number;
  le: boolean;
  longSize: number;
  pageSize: number;
  compression?: string;
  decompress?: Decompress;
  layout: PageLayout;
  formats: EventFormat[];
  cmdlines: string;
  tgids: Map<number, number>;
  cpuCount: number;
  topClock: string;
  buffers: BufferDesc[];
  tsOffset: bigint;
  tsc2nsec?: { mult: bigint; shift: bigint; offset: bigint };
}

function parseHeaderPage(text: string, longSize: number): PageLayout {
  const re = /field:\s*([^;]*?)\s*;\s*offset:\s*(\d+)\s*;\s*size:\s*(\d+)\s*;/g;
  const f = new Map<string, { off: number; size: number }>();
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const name = /([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?$/.exec(m[1]!)?.[1];
    if (name && !f.has(name)) f.set(name, { off: Number(m[2]), size: Number(m[3]) });
  }
  const ts = f.get('timestamp');
  const commit = f.get('commit');
  const data = f.get('data');
  return {
    tsOff: ts?.off ?? 0,
    tsSize: ts?.size ?? 8,
    commitOff: commit?.off ?? 8,
    commitSize: commit?.size ?? longSize,
    dataOff: data?.off ?? 8 + (commit?.size ?? longSize),
  };
}

/** A format that could not be parsed: keep its name and id so its records count as EV_OTHER. */
function fallbackFormat(text: string, system: string): EventFormat | undefined {
  const name = /^\s*name:\s*(\S+)/m.exec(text)?.[1];
  const id = /^\s*ID:\s*(\d+)/m.exec(text)?.[1];
  if (!name || id === undefined) return undefined;
  const common: FormatField[] = [
    { name: 'common_type', type: 'unsigned short', offset: 0, size: 2, signed: false, isArray: false, arrayLen: 0, isDynamic: false },
    { name: 'common_flags', type: 'unsigned char', offset: 2, size: 1, signed: false, isArray: false, arrayLen: 0, isDynamic: false },
    { name: 'common_preempt_count', type: 'unsigned char', offset: 3, size: 1, signed: false, isArray: false, arrayLen: 0, isDynamic: false },
    { name: 'common_pid', type: 'int', offset: 4, size: 4, signed: true, isArray: false, arrayLen: 0, isDynamic: false },
  ];
  // take the common fields the text does declare, when they parse
  const m = /field:[^;]*common_pid;\s*offset:\s*(\d+);\s*size:\s*(\d+);/.exec(text);
  if (m) { common[3]!.offset = Number(m[1]); common[3]!.size = Number(m[2]); }
  const byName = new Map(common.map((f) => [f.name, f] as const));
  return { system, name, id: Number(id), fields: [], commonFields: common, printFmt: '', field: (n) => byName.get(n) };
}

function readFormat(cur: Cur, system: string, formats: EventFormat[]): void {
  const at = cur.fileOff();
  const size = cur.u64('event format size');
  if (size > cur.remaining) throw new FormatError(`truncated event format at offset ${at}`, at);
  const text = cur.text(size, 'event format');
  parts?.formats.push({ system, text });
  try {
    formats.push(parseEventFormat(text, system));
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    const f = fallbackFormat(text, system);
    if (f) formats.push(f);
  }
}

function readFtraceFormats(cur: Cur, formats: EventFormat[]): void {
  const at = cur.fileOff();
  const n = cur.u32('ftrace format count');
  if (n > 100000) throw new FormatError(`bad ftrace format count ${n} at offset ${at}`, at);
  for (let i = 0; i < n; i++) readFormat(cur, 'ftrace', formats);
}

function readEventFormats(cur: Cur, formats: EventFormat[]): void {
  const at = cur.fileOff();
  const nsys = cur.u32('event system count');
  if (nsys > 100000) throw new FormatError(`bad event system count ${nsys} at offset ${at}`, at);
  for (let s = 0; s < nsys; s++) {
    const system = cur.cstr('event system name');
    const at2 = cur.fileOff();
    const n = cur.u32('event count');
    if (n > 100000) throw new FormatError(`bad event count ${n} at offset ${at2}`, at2);
    for (let i = 0; i < n; i++) readFormat(cur, system, formats);
  }
}

function readHeaderInfo(cur: Cur, meta: Meta): void {
  const at = cur.fileOff();
  const tag = cstrOf(cur.bytes(12, 'header_page'));
  if (tag !== 'header_page') throw new FormatError(`missing header_page at offset ${at}`, at);
  const size = cur.u64('header_page size');
  const text = cur.text(size, 'header_page');
  if (parts) parts.headerPage = text;
  const L = parseHeaderPage(text, meta.longSize);
  if ((L.tsSize !== 8 && L.tsSize !== 4) || (L.commitSize !== 8 && L.commitSize !== 4) ||
      L.tsOff + L.tsSize > L.dataOff || L.commitOff + L.commitSize > L.dataOff || L.dataOff >= meta.pageSize) {
    throw new FormatError(`unsupported ring-buffer page header at offset ${at}`, at);
  }
  meta.layout = L;
  const at2 = cur.fileOff();
  const tag2 = cstrOf(cur.bytes(13, 'header_event'));
  if (tag2 !== 'header_event') throw new FormatError(`missing header_event at offset ${at2}`, at2);
  const size2 = cur.u64('header_event size');
  if (parts) parts.headerEvent = cur.text(size2, 'header_event');
  else cur.skip(size2, 'header_event');
}

function parseTgids(text: string, into: Map<number, number>): void {
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)/.exec(line);
    if (m) into.set(Number(m[1]), Number(m[2]));
  }
}

function clockName(s: string): string {
  const m = /\[([^\]]+)\]/.exec(s);
  return (m ? m[1]! : s).trim().replace(/\0+$/, '');
}

/** One option (id, data at file/mem offset). Shared by v6 and v7. */
function handleOption(id: number, data: Cur, size: number, meta: Meta): void {
  const end = data.pos + size;
  switch (id) {
    case OPT_TRACECLOCK:
      meta.topClock = clockName(cstrOf(data.bytes(size, 'TRACECLOCK option')));
      break;
    case OPT_OFFSET: {
      const s = cstrOf(data.bytes(size, 'OFFSET option')).trim();
      if (/^[-+]?\d+$/.test(s)) meta.tsOffset += BigInt(s);
      break;
    }
    case OPT_CPUCOUNT:
      if (size === 4) meta.cpuCount = data.u32('CPUCOUNT option');
      else if (size > 8) parseTgids(cstrOf(data.bytes(size, 'CPUCOUNT option')), meta.tgids); // old gpuvis hack
      break;
    case OPT_TSC2NSEC:
      if (size >= 16) {
        const mult = data.u32('TSC2NSEC option');
        const shift = data.u32('TSC2NSEC option');
        const offset = data.u64big('TSC2NSEC option');
        if (mult !== 0) meta.tsc2nsec = { mult: BigInt(mult), shift: BigInt(shift), offset };
      }
      break;
    case OPT_SAVED_TGIDS:
      parseTgids(cstrOf(data.bytes(size, 'tgids option')), meta.tgids);
      break;
    default: // BUFFER is handled by the callers (its layout differs between v6 and v7)
      break;
  }
  data.pos = end;
}

// ---------------------------------------------------------------------------------------------------------
// v6

function readV6(file: FileSrc, cur: Cur, meta: Meta): void {
  readHeaderInfo(cur, meta);
  readFtraceFormats(cur, meta.formats);
  readEventFormats(cur, meta.formats);
  let at = cur.fileOff();
  const kallsyms = cur.u32('kallsyms size');
  cur.skip(kallsyms, `kallsyms (${kallsyms} bytes from offset ${at})`);
  at = cur.fileOff();
  const printk = cur.u32('printk size');
  cur.skip(printk, `printk formats (${printk} bytes from offset ${at})`);
  const cmdSize = cur.u64('cmdlines size');
  meta.cmdlines = cur.text(cmdSize, 'saved cmdlines');
  const cpus = cur.u32('cpu count');
  if (cpus > 65536) throw new FormatError(`bad cpu count ${cpus} at offset ${cur.fileOff() - 4}`, cur.fileOff() - 4);
  meta.cpuCount = cpus;
  let kind = cstrOf(cur.bytes(10, 'section tag')).trim();
  const bufferOpts: { name: string; off: number }[] = [];
  if (kind === 'options') {
    for (let guard = 0; ; guard++) {
      const optAt = cur.fileOff();
      const id = cur.u16('option id');
      if (id === OPT_DONE) break;
      const size = cur.u32('option size');
      if (size > cur.remaining) throw new FormatError(`truncated option ${id} at offset ${optAt}`, optAt);
      if (guard > 1_000_000) throw new FormatError(`too many options at offset ${optAt}`, optAt);
      if (id === OPT_BUFFER) {
        const o = Cur.overMem(cur.bytes(size, 'BUFFER option'), meta.le, optAt + 6, false);
        const off = o.u64('BUFFER option');
        const name = o.cstr('buffer name');
        bufferOpts.push({ name, off });
        continue;
      }
      const data = Cur.overMem(cur.bytes(size, `option ${id}`), meta.le, optAt + 6, false);
      handleOption(id, data, size, meta);
    }
    kind = cstrOf(cur.bytes(10, 'section tag')).trim();
  }
  if (kind === 'latency') {
    throw new FormatError(`latency (text) trace.dat data is not supported at offset ${cur.fileOff() - 10}`, cur.fileOff() - 10);
  }
  if (kind !== 'flyrecord') throw new FormatError(`expected "flyrecord" at offset ${cur.fileOff() - 10}, found "${kind}"`, cur.fileOff() - 10);
  const top = readV6Fly(cur, '', cpus, meta);
  meta.buffers.push(top);
  for (const b of bufferOpts) {
    const c = Cur.overFile(file, b.off, meta.le);
    const tag = cstrOf(c.bytes(10, 'buffer flyrecord tag'));
    if (tag !== 'flyrecord') throw new FormatError(`expected "flyrecord" for buffer "${b.name}" at offset ${b.off}`, b.off);
    meta.buffers.push(readV6Fly(c, b.name, cpus, meta));
  }
}

function readV6Fly(cur: Cur, name: string, cpus: number, meta: Meta): BufferDesc {
  const list: CpuData[] = [];
  for (let i = 0; i < cpus; i++) {
    const offset = cur.u64('cpu data offset');
    const size = cur.u64('cpu data size');
    list.push({ cpu: i, offset, size });
  }
  // newer trace-cmd writes the trace clock after the cpu table: u64 size + "[local] global ..."
  let clock = meta.topClock;
  const save = cur.pos;
  try {
    const n = cur.u64('trace clock size');
    if (n > 0 && n < 4096) {
      const t = cur.text(n, 'trace clock');
      if (/^[\x20-\x7e\s]*$/.test(t) && t.trim() !== '') clock = clockName(t);
    }
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    cur.pos = save;
  }
  return { name, clock, cpus: list.filter((c) => c.size > 0), compressed: false, pageSize: meta.pageSize };
}

// ---------------------------------------------------------------------------------------------------------
// v7

interface Section {
  id: number;
  flags: number;
  /** cursor over the (decompressed) section body */
  body: Cur;
}

function openSection(file: FileSrc, off: number, meta: Meta, expect: number, what: string): Section {
  const c = Cur.overFile(file, off, meta.le);
  const id = c.u16(`${what} section header`);
  const flags = c.u16(`${what} section header`);
  c.u32(`${what} section header`);
  const size = c.u64(`${what} section header`);
  if (id !== expect) throw new FormatError(`expected section ${expect} (${what}) at offset ${off}, found id ${id}`, off);
  const dataOff = c.pos;
  if (dataOff + size > file.size) throw new FormatError(`truncated ${what} section at offset ${off}`, off);
  if (flags & SEC_FL_COMPRESS) {
    if (!meta.decompress) throw new FormatError(`compressed ${what} section at offset ${off} but the file has no compression`, off);
    const csize = c.u32(`${what} compression header`);
    const usize = c.u32(`${what} compression header`);
    if (csize > size - 8) throw new FormatError(`bad compressed size ${csize} of ${what} section at offset ${off}`, off);
    if (usize > 1 << 30) throw new FormatError(`bad uncompressed size ${usize} of ${what} section at offset ${off}`, off);
    const raw = file.read(c.pos, csize, `${what} section`);
    const out = meta.decompress(raw, usize, off);
    return { id, flags, body: Cur.overMem(out, meta.le, off, true) };
  }
  return { id, flags, body: Cur.overFile(file, dataOff, meta.le, dataOff + size) };
}

function readV7(file: FileSrc, cur: Cur, meta: Meta): void {
  const comp = cur.cstr('compression name', 64);
  cur.cstr('compression version', 64);
  if (comp !== 'none' && comp !== '') {
    meta.compression = comp;
    const d = decompressor(comp);
    if (d) meta.decompress = d;
  }
  let optOff = cur.u64('options offset');
  const sections = new Map<number, number>();
  const seen = new Set<number>();
  const bufferOpts: { cur: Cur; size: number; at: number }[] = [];
  while (optOff !== 0) {
    if (seen.has(optOff)) throw new FormatError(`options sections loop at offset ${optOff}`, optOff);
    seen.add(optOff);
    const sec = openSection(file, optOff, meta, 0, 'options');
    const c = sec.body;
    let next = 0;
    for (;;) {
      const optAt = c.fileOff();
      const id = c.u16('option id');
      const size = c.u32('option size');
      if (size > c.remaining) throw new FormatError(`truncated option ${id} at offset ${optAt}`, optAt);
      const start = c.pos;
      if (id === OPT_DONE) {
        next = size >= 8 ? c.u64('DONE option') : 0;
        break;
      }
      if (id >= OPT_HEADER_INFO && id <= OPT_CMDLINES && size >= 8) {
        sections.set(id, c.u64(`option ${id}`));
      } else if (id === OPT_BUFFER) {
        bufferOpts.push({ cur: Cur.overMem(c.bytes(size, 'BUFFER option'), meta.le, c.fileOff(start), sec.flags !== 0), size, at: optAt });
      } else if (id === OPT_BUFFER_TEXT) {
        // latency (text) buffers are not decoded
      } else {
        handleOption(id, c, size, meta);
      }
      c.pos = start + size;
    }
    optOff = next;
  }
  if (meta.compression && !meta.decompress) {
    throw new FormatError(`unsupported trace.dat compression "${meta.compression}" at offset 18`, 18);
  }
  const hdr = sections.get(OPT_HEADER_INFO);
  if (hdr === undefined) throw new FormatError('trace.dat v7 without a HEADER_INFO section at offset 0', 0);
  readHeaderInfo(openSection(file, hdr, meta, OPT_HEADER_INFO, 'header info').body, meta);
  const ft = sections.get(OPT_FTRACE_EVENTS);
  if (ft !== undefined) readFtraceFormats(openSection(file, ft, meta, OPT_FTRACE_EVENTS, 'ftrace formats').body, meta.formats);
  const ev = sections.get(OPT_EVENT_FORMATS);
  if (ev !== undefined) readEventFormats(openSection(file, ev, meta, OPT_EVENT_FORMATS, 'event formats').body, meta.formats);
  const cl = sections.get(OPT_CMDLINES);
  if (cl !== undefined) {
    const b = openSection(file, cl, meta, OPT_CMDLINES, 'cmdlines').body;
    const n = b.u64('cmdlines size');
    meta.cmdlines = b.text(n, 'saved cmdlines');
  }
  for (const bo of bufferOpts) meta.buffers.push(readV7Buffer(file, bo.cur, bo.size, bo.at, meta));
}

function readV7Buffer(file: FileSrc, c: Cur, size: number, at: number, meta: Meta): BufferDesc {
  const secOff = c.u64('BUFFER option');
  const name = c.cstr('buffer name');
  const clock = clockName(c.cstr('buffer clock'));
  // trace-cmd >= 3.0 writes the page size before the cpu count; the v7 document does not list it.
  const rest = size - c.pos;
  let pageSize = meta.pageSize;
  let ncpu: number;
  const a = c.u32('BUFFER option');
  if (rest >= 8) {
    const save = c.pos;
    const b = c.u32('BUFFER option');
    if (rest === 8 + b * 20) {
      pageSize = a;
      ncpu = b;
    } else if (rest === 4 + a * 20) {
      ncpu = a;
      c.pos = save;
    } else {
      throw new FormatError(`bad BUFFER option for "${name}" at offset ${at}`, at);
    }
  } else {
    ncpu = a;
    if (rest !== 4 + a * 20) throw new FormatError(`bad BUFFER option for "${name}" at offset ${at}`, at);
  }
  if (pageSize <= 0 || pageSize > 1 << 24 || (pageSize & (pageSize - 1)) !== 0) {
    throw new FormatError(`bad page size ${pageSize} of buffer "${name}" at offset ${at}`, at);
  }
  const cpus: CpuData[] = [];
  for (let i = 0; i < ncpu; i++) {
    const cpu = c.u32('BUFFER cpu');
    const offset = c.u64('BUFFER cpu offset');
    const sz = c.u64('BUFFER cpu size');
    if (sz > 0) cpus.push({ cpu, offset, size: sz });
  }
  // the flyrecord section header tells whether the cpu data is compressed
  let compressed = false;
  if (cpus.length > 0) {
    const h = Cur.overFile(file, secOff, meta.le);
    h.u16('flyrecord section header');
    const flags = h.u16('flyrecord section header');
    compressed = (flags & SEC_FL_COMPRESS) !== 0;
    if (compressed && !meta.decompress) {
      throw new FormatError(`compressed buffer "${name}" at offset ${secOff} but the file has no compression`, secOff);
    }
  }
  return { name, clock, cpus, compressed, pageSize };
}

// ---------------------------------------------------------------------------------------------------------
// per-CPU page streams

interface Page {
  bytes: Uint8Array;
  view: DataView;
  /** start of the page within bytes */
  base: number;
  /** file offset of the page (of its compressed chunk for compressed data) */
  fileOff: number;
  /** bytes of the page that exist (less than the page size only for a final partial page) */
  avail: number;
}

interface PageStream {
  next(): Page | null;
}

/** Uncompressed pages: read a few pages at a time (or slice the in-memory file). */
class RawPages implements PageStream {
  private pos: number;
  private readonly end: number;
  private chunk: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.chunk.buffer);
  private chunkOff = 0;
  /** file size when the cpu table points past the end of the file, else -1 */
  private truncatedAt = -1;

  constructor(private readonly file: FileSrc, cd: CpuData, private readonly pageSize: number) {
    this.pos = cd.offset;
    this.end = cd.offset + cd.size;
    if (this.end > file.size) {
      // the table says more than the file holds: read what is there, the page reader reports the cut
      this.end = Math.max(this.pos, file.size);
      this.truncatedAt = file.size;
    }
  }

  next(): Page | null {
    const ps = this.pageSize;
    if (this.truncatedAt >= 0 && this.pos + ps > this.end) {
      // the file ends before this page does (the error offset is where the file ends)
      throw new FormatError(`truncated page at offset ${this.pos}`, Math.min(this.pos, this.truncatedAt));
    }
    if (this.pos >= this.end) return null;
    let rel = this.pos - this.chunkOff;
    if (rel < 0 || rel + Math.min(ps, this.end - this.pos) > this.chunk.length) {
      const len = Math.min(this.end - this.pos, ps * 16);
      this.chunk = this.file.read(this.pos, len, 'page');
      this.view = new DataView(this.chunk.buffer, this.chunk.byteOffset, this.chunk.byteLength);
      this.chunkOff = this.pos;
      rel = 0;
    }
    const avail = Math.min(ps, this.end - this.pos);
    const p: Page = { bytes: this.chunk, view: this.view, base: rel, fileOff: this.pos, avail };
    this.pos += ps;
    return p;
  }
}

/** Compressed pages: u32 chunk count, then (u32 csize, u32 usize, data) chunks of whole pages. */
class ZPages implements PageStream {
  private pos: number;
  private readonly end: number;
  private left: number;
  private chunk: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.chunk.buffer);
  private rel = 0;
  private chunkFileOff = 0;

  constructor(private readonly file: FileSrc, cd: CpuData, private readonly pageSize: number,
    private readonly decompress: Decompress, private readonly le: boolean) {
    this.pos = cd.offset;
    // the size in the BUFFER option counts the chunks, not the leading u32 chunk count
    this.end = cd.offset + 4 + cd.size;
    const h = file.read(this.pos, 4, 'compressed cpu data');
    this.left = new DataView(h.buffer, h.byteOffset, 4).getUint32(0, le);
    this.pos += 4;
  }

  next(): Page | null {
    while (this.rel >= this.chunk.length) {
      if (this.left === 0) return null;
      const at = this.pos;
      if (at + 8 > this.end) throw new FormatError(`truncated compressed chunk at offset ${at}`, at);
      const h = this.file.read(at, 8, 'compressed chunk');
      const hv = new DataView(h.buffer, h.byteOffset, 8);
      const csize = hv.getUint32(0, this.le);
      const usize = hv.getUint32(4, this.le);
      if (at + 8 + csize > this.end) throw new FormatError(`truncated compressed chunk at offset ${at}`, at);
      if (usize > 1 << 30) throw new FormatError(`bad compressed chunk size ${usize} at offset ${at}`, at);
      const data = this.file.read(at + 8, csize, 'compressed chunk');
      this.chunk = this.decompress(data, usize, at);
      this.view = new DataView(this.chunk.buffer, this.chunk.byteOffset, this.chunk.byteLength);
      this.rel = 0;
      this.chunkFileOff = at;
      this.pos = at + 8 + csize;
      this.left--;
    }
    const avail = Math.min(this.pageSize, this.chunk.length - this.rel);
    const p: Page = { bytes: this.chunk, view: this.view, base: this.rel, fileOff: this.chunkFileOff, avail };
    this.rel += this.pageSize;
    return p;
  }
}

/**
 * Walks the events of one CPU, page by page, and stops at each data record: recTs/recBase/recLen describe it.
 */
class CpuCursor {
  recTs = 0n;
  recBase = 0;
  recLen = 0;
  /** file offset of the page holding the current record */
  recPageOff = 0;
  /** lost events announced by the page of the current record (only on its first record): -1 none, 0 unknown */
  recLost = -1;
  bytes: Uint8Array = new Uint8Array(0);
  view: DataView = new DataView(this.bytes.buffer);

  private ts = 0n;
  private pos = 0;
  private end = 0;
  private pageLost = -1;
  private pageOff = 0;

  constructor(readonly cpu: number, private readonly pages: PageStream, private readonly layout: PageLayout,
    private readonly le: boolean, private readonly pageSize: number) {}

  private loadPage(): boolean {
    for (;;) {
      const p = this.pages.next();
      if (!p) return false;
      const L = this.layout;
      const need = L.dataOff;
      if (p.avail < need) throw new FormatError(`truncated page at offset ${p.fileOff}`, p.fileOff);
      const v = p.view;
      const b = p.base;
      this.ts = L.tsSize === 8 ? v.getBigUint64(b + L.tsOff, this.le) : BigInt(v.getUint32(b + L.tsOff, this.le));
      // the flags are in the low 32 bits of the (long) commit word
      let flags: number;
      if (L.commitSize === 8) flags = this.le ? v.getUint32(b + L.commitOff, true) : v.getUint32(b + L.commitOff + 4, false);
      else flags = v.getUint32(b + L.commitOff, this.le);
      const size = flags & COMMIT_MASK;
      if (size > this.pageSize - L.dataOff) {
        throw new FormatError(`bad page commit ${size} at offset ${p.fileOff}`, p.fileOff);
      }
      if (L.dataOff + size > p.avail) throw new FormatError(`truncated page at offset ${p.fileOff}`, p.fileOff);
      this.pageLost = -1;
      if (flags & MISSING_EVENTS) {
        this.pageLost = 0;
        if (flags & MISSING_STORED) {
          const lo = b + L.dataOff + size;
          if (L.dataOff + size + L.commitSize <= p.avail) {
            const n = L.commitSize === 8 ? v.getBigUint64(lo, this.le) : BigInt(v.getUint32(lo, this.le));
            this.pageLost = n > 0xffffffffn ? 0xffffffff : Number(n);
          }
        }
      }
      this.bytes = p.bytes;
      this.view = v;
      this.pos = b + L.dataOff;
      this.end = b + L.dataOff + size;
      this.pageOff = p.fileOff;
      return true;
    }
  }

  private bad(what: string): never {
    throw new FormatError(`${what} in page at offset ${this.pageOff}`, this.pageOff);
  }

  /** Move to the next data record; false at the end of this CPU's data. */
  advance(): boolean {
    const le = this.le;
    for (;;) {
      if (this.pos >= this.end) {
        if (!this.loadPage()) return false;
        continue;
      }
      const v = this.view;
      const p = this.pos;
      if (p + 4 > this.end) this.bad('truncated event header');
      const w = v.getUint32(p, le);
      const typeLen = le ? w & 0x1f : w >>> 27;
      const delta = le ? w >>> 5 : w & 0x7ffffff;
      if (typeLen >= 1 && typeLen <= 28) {
        const len = typeLen * 4;
        if (p + 4 + len > this.end) this.bad('event past the page commit');
        this.ts += BigInt(delta);
        this.setRec(p + 4, len);
        this.pos = p + 4 + len;
        return true;
      }
      switch (typeLen) {
        case 0: {
          if (p + 8 > this.end) this.bad('truncated event length');
          const n = v.getUint32(p + 4, le);
          if (n < 4 || p + 4 + n > this.end) this.bad(`bad event length ${n}`);
          this.ts += BigInt(delta);
          this.setRec(p + 8, n - 4);
          this.pos = p + 4 + n;
          return true;
        }
        case 29: {
          // padding: time_delta 0 = the rest of the page is empty; else array[0] = bytes after the header
          if (delta === 0) {
            this.pos = this.end;
            break;
          }
          if (p + 8 > this.end) {
            this.pos = this.end;
            break;
          }
          const n = v.getUint32(p + 4, le);
          if (n < 4) this.bad(`bad padding length ${n}`);
          this.ts += BigInt(delta); // as libtraceevent's kbuffer does
          this.pos = p + 4 + n;
          break;
        }
        case 30: {
          if (p + 8 > this.end) this.bad('truncated time extend');
          const hi = v.getUint32(p + 4, le);
          this.ts += (BigInt(hi) << 27n) | BigInt(delta);
          this.pos = p + 8;
          break;
        }
        case 31: {
          if (p + 8 > this.end) this.bad('truncated time stamp');
          const hi = v.getUint32(p + 4, le);
          let abs = (BigInt(hi) << 27n) | BigInt(delta);
          const cur = this.ts;
          if (cur & TS_MSB) {
            abs |= cur & TS_MSB;
            if (abs < cur) abs += 1n << 59n;
          }
          this.ts = abs;
          this.pos = p + 8;
          break;
        }
        default:
          this.bad(`bad event type ${typeLen}`);
      }
    }
  }

  private setRec(base: number, len: number): void {
    this.recTs = this.ts;
    this.recBase = base;
    this.recLen = len;
    this.recPageOff = this.pageOff;
    this.recLost = this.pageLost;
    this.pageLost = -1;
  }
}

// ---------------------------------------------------------------------------------------------------------
// entry point

function chooseBuffer(buffers: BufferDesc[], want: string | undefined): BufferDesc {
  if (want !== undefined) {
    const b = buffers.find((x) => x.name === want);
    if (!b) {
      const names = buffers.map((x) => JSON.stringify(x.name)).join(', ');
      throw new FormatError(`no buffer named "${want}" in this trace.dat (buffers: ${names})`, 0);
    }
    return b;
  }
  const top = buffers.find((x) => x.name === '');
  if (top && top.cpus.length > 0) return top;
  return buffers.find((x) => x.cpus.length > 0) ?? top ?? buffers[0] ?? { name: '', clock: 'local', cpus: [], compressed: false, pageSize: 4096 };
}

/** Read the metadata of a trace.dat (everything but the per-CPU data). */
function readMeta(file: FileSrc): Meta {
  const head = file.readUpTo(0, 64);
  if (!isTraceDat(head)) throw new FormatError('not a trace.dat file (bad magic) at offset 0', 0);
  const cur0 = Cur.overFile(file, 10, true);
  const vs = cur0.cstr('version', 16);
  if (vs !== '6' && vs !== '7') throw new FormatError(`unknown trace.dat version ${vs} at offset 10`, 10);
  const endian = cur0.u8('endianness');
  if (endian > 1) throw new FormatError(`bad endianness flag ${endian} at offset ${cur0.pos - 1}`, cur0.pos - 1);
  const le = endian === 0;
  const longSize = cur0.u8('long size');
  if (longSize !== 4 && longSize !== 8) throw new FormatError(`bad long size ${longSize} at offset ${cur0.pos - 1}`, cur0.pos - 1);
  const cur = Cur.overFile(file, cur0.pos, le);
  const pageSize = cur.u32('page size');
  if (pageSize < 64 || pageSize > 1 << 24 || (pageSize & (pageSize - 1)) !== 0) {
    throw new FormatError(`bad page size ${pageSize} at offset ${cur.pos - 4}`, cur.pos - 4);
  }
  const meta: Meta = {
    version: Number(vs), le, longSize, pageSize,
    layout: { tsOff: 0, tsSize: 8, commitOff: 8, commitSize: longSize, dataOff: 8 + longSize },
    formats: [], cmdlines: '', tgids: new Map(), cpuCount: 0, topClock: 'local', buffers: [], tsOffset: 0n,
  };
  if (meta.version === 6) readV6(file, cur, meta);
  else readV7(file, cur, meta);
  // the top instance's clock comes from TRACECLOCK when its buffer did not carry one
  for (const b of meta.buffers) if (b.clock === '') b.clock = meta.topClock;
  if (meta.buffers.length === 0) meta.buffers.push({ name: '', clock: meta.topClock, cpus: [], compressed: false, pageSize });
  return meta;
}

/**
 * Decode one buffer (instance) of a trace.dat into `sink`: beginFile once, nameThread for every saved cmdline,
 * then one push per record in global time order (CPUs merged; equal timestamps: lower CPU first), preceded by an
 * EV_LOST push (a = count, 0 = unknown) on the CPU whose next page says events were lost. `where` is the
 * 1-based number of the record in that merged order (the line number among the events of `trace-cmd report`
 * for the same buffer). Timestamps are ns (TSC2NSEC and OFFSET options applied) unless the clock is a raw
 * counter (x86-tsc without TSC2NSEC, counter, uptime), then CLOCK_RAW ticks.
 * Throws FormatError (message and byte offset) on a truncated or malformed file; events decoded before the
 * damage have already been pushed.
 */
export function readTraceDat(path: string, sink: EventSink, opts: TraceDatOptions = {}): TraceDatInfo {
  const file = new FileSrc(path, opts.wholeFileLimit ?? 32 << 20);
  try {
    return decodeFile(file, path, sink, opts);
  } finally {
    file.close();
  }
}

function decodeFile(file: FileSrc, path: string, sink: EventSink, opts: TraceDatOptions): TraceDatInfo {
  const meta = readMeta(file);
  const buf = chooseBuffer(meta.buffers, opts.buffer);

  // clock and timestamp conversion
  let clock = buf.clock || meta.topClock || 'local';
  const conv = meta.tsc2nsec && (clock === 'x86-tsc' || clock === 'tsc2nsec') ? meta.tsc2nsec : undefined;
  if (conv) clock = 'tsc2nsec';
  const raw = !conv && RAW_CLOCKS.has(clock);
  const tsOffset = meta.tsOffset;
  const mult = conv?.mult ?? 1n;
  const shift = conv?.shift ?? 0n;
  // TSC2NSEC: ns = (tsc - offset) * mult >> shift (trace-cmd's mul_u64_u32_shr); the offset is 0 in every file seen
  const tscOff = conv?.offset ?? 0n;
  const convert = conv
    ? (t: bigint): bigint => (((t - tscOff) * mult) >> shift) + tsOffset
    : tsOffset !== 0n ? (t: bigint): bigint => t + tsOffset : undefined;

  sink.beginFile(path, raw ? CLOCK_RAW : CLOCK_NS);

  // threads
  const tgids = meta.tgids;
  const tgidOf = (tid: number): number => tgids.get(tid) ?? -1;
  for (const line of meta.cmdlines.split('\n')) {
    const m = /^\s*(\d+)\s(.*)$/.exec(line);
    if (m) sink.nameThread(Number(m[1]), tgidOf(Number(m[1])), m[2]!.replace(/\0+$/, ''));
  }

  const decoder = new KvmEventDecoder(sink, meta.le);
  for (const f of meta.formats) decoder.addFormat(f);

  // per-CPU cursors, ordered by CPU number (ties go to the lower CPU)
  const cursors: CpuCursor[] = [];
  for (const cd of [...buf.cpus].sort((a, b) => a.cpu - b.cpu)) {
    const pages: PageStream = buf.compressed
      ? new ZPages(file, cd, buf.pageSize, meta.decompress!, meta.le)
      : new RawPages(file, cd, buf.pageSize);
    const c = new CpuCursor(cd.cpu, pages, meta.layout, meta.le, buf.pageSize);
    if (c.advance()) cursors.push(c);
  }

  let events = 0;
  let lostEvents = 0;
  let lostName = -1;

  // CPUs merged by (recTs, cpu), as trace-cmd does
  const merge = new KWayMerge(cursors, (a, b) => a.recTs < b.recTs || (a.recTs === b.recTs && a.cpu < b.cpu));
  while (merge.size > 0) {
    const c = merge.top();
    const ts = convert ? convert(c.recTs) : c.recTs;
    events++;
    if (c.recLost >= 0) {
      if (lostName < 0) lostName = sink.intern('lost_events');
      lostEvents += c.recLost;
      sink.push(EV_LOST, ts, -1, -1, c.cpu, -1, BigInt(c.recLost), 0n, 0, lostName, events);
    }
    decoder.decode(c.bytes, c.view, c.recBase, c.recLen, ts, c.cpu, tgidOf, events);
    if (c.advance()) merge.advanced();
    else merge.drop();
  }

  const info: TraceDatInfo = {
    version: meta.version,
    cpus: meta.cpuCount || buf.cpus.length,
    clock,
    buffers: meta.buffers.map((b) => b.name),
    events,
    lostEvents,
    buffer: buf.name,
  };
  if (meta.compression) info.compression = meta.compression;
  return info;
}

// ---------------------------------------------------------------------------------------------------------
// the parts of a trace.dat as tracefs gives them (for kvmtax record's replay directories and its tests)

/** What tracefs held when the file was recorded: texts of header_page/header_event and formats, cmdlines, pages. */
export interface TraceDatParts {
  version: number;
  littleEndian: boolean;
  longSize: number;
  pageSize: number;
  clock: string;
  headerPage: string;
  headerEvent: string;
  formats: { system: string; text: string }[];
  cmdlines: string;
  tgids: Map<number, number>;
  /** per CPU: its pages, each pageSize bytes, exactly as per_cpu/cpuN/trace_pipe_raw yields them */
  cpus: { cpu: number; pages: Uint8Array[] }[];
}

let parts: TraceDatParts | undefined;

/** The parts of one buffer (default: as readTraceDat chooses) of a trace.dat, decompressed. */
export function traceDatParts(path: string, buffer?: string): TraceDatParts {
  const file = new FileSrc(path, 1 << 30);
  const p: TraceDatParts = {
    version: 0, littleEndian: true, longSize: 8, pageSize: 4096, clock: 'local', headerPage: '', headerEvent: '',
    formats: [], cmdlines: '', tgids: new Map(), cpus: [],
  };
  parts = p;
  try {
    const meta = readMeta(file);
    parts = undefined;
    const buf = chooseBuffer(meta.buffers, buffer);
    Object.assign(p, {
      version: meta.version, littleEndian: meta.le, longSize: meta.longSize, pageSize: buf.pageSize,
      clock: buf.clock || meta.topClock || 'local', cmdlines: meta.cmdlines, tgids: meta.tgids,
    });
    for (const cd of [...buf.cpus].sort((a, b) => a.cpu - b.cpu)) {
      const stream: PageStream = buf.compressed
        ? new ZPages(file, cd, buf.pageSize, meta.decompress!, meta.le)
        : new RawPages(file, cd, buf.pageSize);
      const pages: Uint8Array[] = [];
      for (let pg = stream.next(); pg; pg = stream.next()) {
        const out = new Uint8Array(buf.pageSize);
        out.set(pg.bytes.subarray(pg.base, pg.base + pg.avail));
        pages.push(out);
      }
      p.cpus.push({ cpu: cd.cpu, pages });
    }
    return p;
  } finally {
    parts = undefined;
    file.close();
  }
}
