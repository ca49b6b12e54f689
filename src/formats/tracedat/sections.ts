/**
 * trace.dat metadata sections (trace-cmd.dat.v6(5), trace-cmd.dat.v7(5)): header_page / header_event,
 * ftrace and event formats, options (buffers, clock, offsets, TSC2NSEC, cmdlines, tgids), v6's
 * flyrecord blocks and v7's section table.
 */
import { FormatError } from '../bytes.js';
import type { EventFormat } from '../tracefs-format.js';
import { eventFormat, fallbackFormat } from './formats.js';

export { fallbackFormat };
import { blockDecompressor, type BlockDecompress } from '../decompress.js';
import { parseHeaderPage, type PageLayout } from './pages.js';
import { Cur, FileSrc, utf8, latin1, cstrOf } from './file.js';

/** The texts tracefs held, kept while traceDatParts() (reader.ts) reads the metadata; else undefined. */
export interface PartsTexts {
  headerPage: string;
  headerEvent: string;
  formats: { system: string; text: string }[];
}
let parts: PartsTexts | undefined;
/** Keep the header_page, header_event and format texts of the next metadata read in `p` (undefined: stop). */
export function captureParts(p: PartsTexts | undefined): void {
  parts = p;
}

// option ids
export const OPT_DONE = 0, OPT_BUFFER = 3, OPT_TRACECLOCK = 4, OPT_OFFSET = 7, OPT_CPUCOUNT = 8, OPT_TSC2NSEC = 14;
export const OPT_HEADER_INFO = 16, OPT_FTRACE_EVENTS = 17, OPT_EVENT_FORMATS = 18, OPT_CMDLINES = 21;
export const OPT_BUFFER_TEXT = 22;
export const OPT_SAVED_TGIDS = 32; // gpuvis' trace-cmd fork: text of saved_tgids
export const SEC_FL_COMPRESS = 1;
// ---------------------------------------------------------------------------------------------------------
// file metadata

export interface CpuData {
  cpu: number;
  offset: number;
  size: number;
}

export interface BufferDesc {
  name: string;
  clock: string;
  cpus: CpuData[];
  compressed: boolean;
  pageSize: number;
}


export interface Meta {
  version: number;
  le: boolean;
  longSize: number;
  pageSize: number;
  compression?: string;
  decompress?: BlockDecompress;
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


export function readFormat(cur: Cur, system: string, formats: EventFormat[]): void {
  const at = cur.fileOff();
  const size = cur.u64('event format size');
  if (size > cur.remaining) throw new FormatError(`truncated event format at offset ${at}`, at);
  const text = cur.text(size, 'event format');
  parts?.formats.push({ system, text });
  const f = eventFormat(text, system);
  if (f) formats.push(f);
}

export function readFtraceFormats(cur: Cur, formats: EventFormat[]): void {
  const at = cur.fileOff();
  const n = cur.u32('ftrace format count');
  if (n > 100000) throw new FormatError(`bad ftrace format count ${n} at offset ${at}`, at);
  for (let i = 0; i < n; i++) readFormat(cur, 'ftrace', formats);
}

export function readEventFormats(cur: Cur, formats: EventFormat[]): void {
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

export function readHeaderInfo(cur: Cur, meta: Meta): void {
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

export function parseTgids(text: string, into: Map<number, number>): void {
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)/.exec(line);
    if (m) into.set(Number(m[1]), Number(m[2]));
  }
}

export function clockName(s: string): string {
  const m = /\[([^\]]+)\]/.exec(s);
  return (m ? m[1]! : s).trim().replace(/\0+$/, '');
}

/** One option (id, data at file/mem offset). Shared by v6 and v7. */
export function handleOption(id: number, data: Cur, size: number, meta: Meta): void {
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

export function readV6(file: FileSrc, cur: Cur, meta: Meta): void {
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

export function readV6Fly(cur: Cur, name: string, cpus: number, meta: Meta): BufferDesc {
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

export interface Section {
  id: number;
  flags: number;
  /** cursor over the (decompressed) section body */
  body: Cur;
}

export function openSection(file: FileSrc, off: number, meta: Meta, expect: number, what: string): Section {
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

export function readV7(file: FileSrc, cur: Cur, meta: Meta): void {
  const comp = cur.cstr('compression name', 64);
  cur.cstr('compression version', 64);
  if (comp !== 'none' && comp !== '') {
    meta.compression = comp;
    const d = blockDecompressor(comp);
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

export function readV7Buffer(file: FileSrc, c: Cur, size: number, at: number, meta: Meta): BufferDesc {
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
