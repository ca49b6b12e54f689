/**
 * trace.dat writer, file version 7 (trace-cmd.dat.v7(5)), uncompressed or zstd: what
 * `kvmtax record --format-version 7 [--compress zstd]` writes.
 *
 *   "\x17\x08Dtracing" "7\0" endian(0) long-size(8) page-size(u32) compression "name\0version\0"
 *   ("none\0\0" or "zstd\0<libzstd version>\0"), u64 offset of the first OPTIONS section.
 *   Sections, each: u16 id, u16 flags (1 = compressed), u32 string id (offset of its description in the
 *   STRINGS option), u64 size; a compressed section's body is (u32 compressed size, u32 size, data).
 *     16 HEADER_INFO    "header_page\0" u64 size + text, "header_event\0" u64 size + text
 *     17 FTRACE_EVENTS  u32 count, each u64 size + format text
 *     18 EVENT_FORMATS  u32 systems, each "system\0" u32 count, each u64 size + format text
 *     21 CMDLINES       u64 size + saved_cmdlines text
 *      3 BUFFER         padding to a page boundary, then each CPU's data: whole pages, or (compressed)
 *                       u32 chunk count + (u32 compressed size, u32 size, data) chunks of whole pages.
 *      0 OPTIONS        written last (the CPU data offsets and compressed sizes are known only then):
 *                       HEADER_INFO/FTRACE_EVENTS/EVENT_FORMATS/CMDLINES (u64 section offsets), BUFFER
 *                       (u64 section offset, name "", clock, u32 page size, u32 cpus, each u32 cpu + u64
 *                       offset + u64 size; the page size is there as trace-cmd 3.x writes it), CPUSTAT,
 *                       TRACECLOCK, UNAME, CPUCOUNT, the tid -> tgid table (32, as in v6), DONE (u64 0:
 *                       no further options section).
 *     15 STRINGS        the sections' descriptions, NUL-terminated, last in the file, as trace-cmd 3.x
 *                       writes it (its readers find it by walking the sections one after the other, so the
 *                       sections are contiguous).
 * Metadata sections are compressed too when the file is. The file is written beside its final name and
 * renamed into place only when complete.
 */
import fs from 'node:fs';
import type { TraceDatContent } from './tracedat-writer.js';
import { commit, releaseScratch, tempBeside } from '../core/output.js';

/** A block compressor (one zstd frame per call) and the name/version the file header states. */
export interface Compressor {
  name: string;
  version: string;
  compress(data: Uint8Array): Uint8Array;
}

/**
 * zstd through @hpcc-js/wasm-zstd (a WebAssembly build of the reference libzstd; Node 20 has no zstd
 * encoder). Loaded on demand: only `--compress zstd` pays for it.
 */
export async function loadZstd(level = 3): Promise<Compressor> {
  const { Zstd } = await import('@hpcc-js/wasm-zstd');
  const z = await Zstd.load();
  return { name: 'zstd', version: z.version(), compress: (d) => z.compress(d, level) };
}

const SEC_OPTIONS = 0, OPT_CPUSTAT = 2, OPT_BUFFER = 3, OPT_TRACECLOCK = 4, OPT_UNAME = 5, OPT_CPUCOUNT = 8,
  SEC_STRINGS = 15, OPT_HEADER_INFO = 16, OPT_FTRACE_EVENTS = 17, OPT_EVENT_FORMATS = 18, OPT_CMDLINES = 21,
  OPT_SAVED_TGIDS = 32;
const FL_COMPRESS = 1;
/** pages per compressed chunk of CPU data */
const CHUNK_PAGES = 32;

class Bytes {
  private chunks: Buffer[] = [];
  length = 0;
  bytes(b: Uint8Array): void { const x = Buffer.from(b.buffer, b.byteOffset, b.byteLength); this.chunks.push(x); this.length += x.length; }
  cstr(s: string): void { this.bytes(Buffer.from(`${s}\0`, 'utf8')); }
  u16(v: number): void { const b = Buffer.alloc(2); b.writeUInt16LE(v); this.bytes(b); }
  u32(v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.bytes(b); }
  u64(v: number): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.bytes(b); }
  text64(s: string): void { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.bytes(b); }
  option(id: number, data: Uint8Array): void { this.u16(id); this.u32(data.length); this.bytes(data); }
  buffer(): Buffer { return Buffer.concat(this.chunks); }
}

const u32le = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
const u64le = (v: number): Buffer => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; };

/**
 * Write `content` as a version 7 trace.dat at `out` (through a temporary file renamed when complete),
 * compressed with `compressor` when given. Errors propagate as Node errors; the partial file is removed.
 */
export function writeTraceDatV7(out: string, content: TraceDatContent, opts: { compressor?: Compressor; fsync?: boolean } = {}): void {
  const ps = content.pageSize;
  const z = opts.compressor;
  const strings = new Bytes();
  const stringIds = new Map<string, number>();
  const stringId = (s: string): number => {
    let id = stringIds.get(s);
    if (id === undefined) { id = strings.length; stringIds.set(s, id); strings.cstr(s); }
    return id;
  };

  const tmp = tempBeside(out);
  const fd = fs.openSync(tmp, 'w');
  let pos = 0;
  const write = (b: Uint8Array): void => {
    for (let done = 0; done < b.length;) done += fs.writeSync(fd, b, done, b.length - done, pos + done);
    pos += b.length;
  };
  const pwrite = (b: Uint8Array, at: number): void => {
    for (let done = 0; done < b.length;) done += fs.writeSync(fd, b, done, b.length - done, at + done);
  };
  /** a section with a body known in full: compressed when the file is; returns its offset */
  const section = (id: number, desc: string, body: Uint8Array): number => {
    const at = pos;
    const h = new Bytes();
    h.u16(id);
    h.u16(z ? FL_COMPRESS : 0);
    h.u32(stringId(desc));
    if (z) {
      const c = z.compress(body);
      h.u64(8 + c.length); h.u32(c.length); h.u32(body.length);
      write(h.buffer()); write(c);
    } else {
      h.u64(body.length);
      write(h.buffer()); write(body);
    }
    return at;
  };

  try {
    const fh = new Bytes();
    fh.bytes(Uint8Array.from([0x17, 0x08, 0x44]));
    fh.bytes(Buffer.from('tracing', 'latin1'));
    fh.cstr('7');
    fh.bytes(Uint8Array.from([0, 8])); // little-endian, long size 8
    fh.u32(ps);
    fh.cstr(z ? z.name : 'none');
    fh.cstr(z ? z.version : '');
    const optOffAt = fh.length;
    fh.u64(0); // the first options section: filled in at the end
    write(fh.buffer());

    const hi = new Bytes();
    hi.cstr('header_page'); hi.text64(content.headerPage);
    hi.cstr('header_event'); hi.text64(content.headerEvent);
    const secHeader = section(OPT_HEADER_INFO, 'headers', hi.buffer());

    const ftrace = content.formats.filter((f) => f.system === 'ftrace');
    const fe = new Bytes();
    fe.u32(ftrace.length);
    for (const f of ftrace) fe.text64(f.text);
    const secFtrace = section(OPT_FTRACE_EVENTS, 'ftrace events format', fe.buffer());

    const systems = new Map<string, string[]>();
    for (const f of content.formats) {
      if (f.system === 'ftrace') continue;
      let l = systems.get(f.system);
      if (!l) systems.set(f.system, (l = []));
      l.push(f.text);
    }
    const ev = new Bytes();
    ev.u32(systems.size);
    for (const [sys, texts] of systems) {
      ev.cstr(sys);
      ev.u32(texts.length);
      for (const t of texts) ev.text64(t);
    }
    const secEvents = section(OPT_EVENT_FORMATS, 'events format', ev.buffer());

    const cl = new Bytes();
    cl.text64(content.cmdlines);
    const secCmdlines = section(OPT_CMDLINES, 'command lines', cl.buffer());

    // the flyrecord section: its size is known once every CPU's data is written
    const secBuffer = pos;
    write(Buffer.alloc(16));
    const cpuData: { cpu: number; offset: number; size: number }[] = [];
    for (const c of [...content.cpus].sort((a, b) => a.cpu - b.cpu)) {
      const pages = pagesOf(c, ps);
      if (pages.count === 0) continue;
      write(new Uint8Array((ps - (pos % ps)) % ps)); // page-aligned, compressed or not (as trace-cmd does)
      const start = pos;
      if (!z) {
        for (let i = 0; i < pages.count; i += CHUNK_PAGES) write(pages.read(i, Math.min(CHUNK_PAGES, pages.count - i)));
      } else {
        const chunks = Math.ceil(pages.count / CHUNK_PAGES);
        write(u32le(chunks));
        for (let i = 0; i < pages.count; i += CHUNK_PAGES) {
          const raw = pages.read(i, Math.min(CHUNK_PAGES, pages.count - i));
          const comp = z.compress(raw);
          write(u32le(comp.length)); write(u32le(raw.length)); write(comp);
        }
      }
      pages.close();
      cpuData.push({ cpu: c.cpu, offset: start, size: pos - start });
    }
    const bh = new Bytes();
    bh.u16(OPT_BUFFER); bh.u16(z ? FL_COMPRESS : 0); bh.u32(stringId('buffer flyrecord')); bh.u64(pos - secBuffer - 16);
    pwrite(bh.buffer(), secBuffer);

    const ncpu = content.cpus.reduce((m, c) => Math.max(m, c.cpu + 1), 0);
    const o = new Bytes();
    o.option(OPT_HEADER_INFO, u64le(secHeader));
    o.option(OPT_FTRACE_EVENTS, u64le(secFtrace));
    o.option(OPT_EVENT_FORMATS, u64le(secEvents));
    o.option(OPT_CMDLINES, u64le(secCmdlines));
    const b = new Bytes();
    b.u64(secBuffer); b.cstr(''); b.cstr(content.clock); b.u32(ps); b.u32(cpuData.length);
    for (const d of cpuData) { b.u32(d.cpu); b.u64(d.offset); b.u64(d.size); }
    o.option(OPT_BUFFER, b.buffer());
    for (const [cpu, text] of [...(content.cpuStats ?? new Map<number, string>())].sort((x, y) => x[0] - y[0])) {
      o.option(OPT_CPUSTAT, Buffer.from(`CPU: ${cpu}\n${text}\0`, 'utf8'));
    }
    o.option(OPT_TRACECLOCK, Buffer.from(`[${content.clock}]\n\0`, 'utf8'));
    if (content.uname) o.option(OPT_UNAME, Buffer.from(`${content.uname}\0`, 'utf8'));
    o.option(OPT_CPUCOUNT, u32le(ncpu));
    if (content.tgids) o.option(OPT_SAVED_TGIDS, Buffer.from(`${content.tgids}\0`, 'utf8'));
    const optId = stringId('options');
    o.option(0, u64le(0)); // DONE: no further options section
    const body = o.buffer();
    // the options section stays uncompressed: it is small, and a reader finds everything else through it
    const optAt = pos;
    const oh = new Bytes();
    oh.u16(SEC_OPTIONS); oh.u16(0); oh.u32(optId); oh.u64(body.length);
    write(oh.buffer()); write(body);
    pwrite(u64le(optAt), optOffAt);
    // the section descriptions, last (trace-cmd finds this section by walking the sections in order)
    stringId('strings');
    section(SEC_STRINGS, 'strings', strings.buffer());

    if (opts.fsync !== false) fs.fsyncSync(fd);
    fs.closeSync(fd);
    commit(tmp, out);
  } catch (e) {
    try { fs.closeSync(fd); } catch { /* already closed */ }
    fs.rmSync(tmp, { force: true });
    releaseScratch(tmp);
    throw e;
  }
}

/** A CPU's whole pages, from memory or from a spool file of whole pages, read a few at a time. */
function pagesOf(c: TraceDatContent['cpus'][number], ps: number): { count: number; read(first: number, n: number): Uint8Array; close(): void } {
  if (c.file) {
    const fd = fs.openSync(c.file, 'r');
    const count = Math.floor(fs.fstatSync(fd).size / ps);
    return {
      count,
      read(first, n) {
        const b = Buffer.alloc(n * ps);
        for (let done = 0; done < b.length;) {
          const r = fs.readSync(fd, b, done, b.length - done, first * ps + done);
          if (r <= 0) throw new Error(`${c.file}: short read`);
          done += r;
        }
        return b;
      },
      close() { fs.closeSync(fd); },
    };
  }
  const pages = c.pages ?? [];
  return {
    count: pages.length,
    read(first, n) {
      const b = new Uint8Array(n * ps);
      for (let i = 0; i < n; i++) b.set(pages[first + i]!.subarray(0, ps), i * ps);
      return b;
    },
    close() { /* nothing held */ },
  };
}
