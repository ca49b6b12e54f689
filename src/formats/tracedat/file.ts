/**
 * Byte access to a trace.dat: the file (read whole when small, else at offsets), a bounded cursor over it
 * or over a decompressed section, and the per-CPU page streams of flyrecord data (plain pages, or v7's
 * compressed chunks of whole pages: u32 chunk count, then (u32 csize, u32 usize, data) chunks).
 */
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { FormatError } from '../bytes.js';
import type { BlockDecompress } from '../decompress.js';
import type { Page, PageStream } from './pages.js';
import type { CpuData } from './sections.js';
import type { Feed } from './core-path.js';

/** The file, read whole when small, else at offsets with readSync. */
export class FileSrc {
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

  /** bytes [off, off+dst.length) of the file into dst (the caller checked the range) */
  readInto(off: number, dst: Uint8Array): void {
    if (this.whole) { dst.set(this.whole.subarray(off, off + dst.length)); return; }
    let got = 0;
    while (got < dst.length) {
      const n = readSync(this.fd, dst, got, dst.length - got, off + got);
      if (n <= 0) throw new FormatError(`truncated page at offset ${off + got}`, off + got);
      got += n;
    }
  }

  /** the whole file is in memory (read() gives views of it) */
  get isWhole(): boolean { return this.whole !== undefined; }

  /** up to len bytes from off (fewer at the end of the file) */
  readUpTo(off: number, len: number): Uint8Array {
    const n = Math.max(0, Math.min(len, this.size - off));
    return this.read(off, n, 'data');
  }
}

/**
 * Reads that move forward through one region (a compressed CPU stream: chunk header, chunk, header, ...)
 * served from a buffer of this window's own, refilled `bytes` at a time. A read and a new buffer per header
 * and per chunk were 70 ms of a 21 MB zstd file's 0.9 s, and reading that file whole into a fresh buffer
 * first was no better here (a page fault per 4 KiB). A view it gives is valid until its next read; a read
 * larger than the window, or past the file's end (for FileSrc's error), goes to the file.
 */
export class FileWindow {
  private buf: Uint8Array | undefined;
  private start = 0;
  private len = 0;

  constructor(private readonly file: FileSrc, private readonly bytes: number) {}

  read(off: number, len: number, what: string): Uint8Array {
    if (off >= this.start && off + len <= this.start + this.len) return this.buf!.subarray(off - this.start, off - this.start + len);
    if (this.file.isWhole || len > this.bytes || !(off >= 0) || !(len >= 0) || off + len > this.file.size) return this.file.read(off, len, what);
    this.buf ??= new Uint8Array(this.bytes);
    const n = Math.min(this.bytes, this.file.size - off);
    this.file.readInto(off, this.buf.subarray(0, n));
    this.start = off;
    this.len = n;
    return this.buf.subarray(0, len);
  }
}

/**
 * A bounded cursor over either the file (through a window) or an in-memory block (a decompressed section).
 * Every read is checked; errors carry file offsets (for in-memory blocks: the block's file offset).
 */
export class Cur {
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

export const td = new TextDecoder('utf-8', { fatal: false });

export function utf8(b: Uint8Array): string {
  return td.decode(b);
}

export function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

export function cstrOf(b: Uint8Array): string {
  let e = b.indexOf(0);
  if (e < 0) e = b.length;
  return utf8(b.subarray(0, e));
}


/** Uncompressed pages: read a few pages at a time (or slice the in-memory file). */
export class RawPages implements PageStream {
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
export class ZPages implements PageStream {
  private pos: number;
  private readonly end: number;
  private left: number;
  private chunk: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.chunk.buffer);
  private rel = 0;
  private chunkFileOff = 0;

  constructor(private readonly file: FileSrc, cd: CpuData, private readonly pageSize: number,
    private readonly decompress: BlockDecompress, private readonly le: boolean) {
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
 * Bytes of plain pages handed to the core per call for each of `streams` CPU streams (whole pages): a MiB, less
 * with many CPUs, so that the streams' buffers in core memory stay about 16 MiB in all (192 streams of a MiB were
 * 192 MiB, over the memory budget).
 */
export function pieceBytes(streams: number, pageSize: number): number {
  const want = Math.min(1 << 20, Math.max(64 << 10, Math.floor((16 << 20) / Math.max(1, streams))));
  return Math.max(pageSize, Math.floor(want / pageSize) * pageSize);
}

/**
 * A CPU's plain pages for the core path (core-path.ts): whole pages in pieces of `piece` bytes, read straight
 * into core memory; a short last page is a page, unless the CPU table points past the end of the file (then the
 * page the file cuts is an error when the merge comes to it, as RawPages reports it).
 */
export function rawFeed(file: FileSrc, cd: CpuData, pageSize: number, start = cd.offset, piece = pieceBytes(1, pageSize)): Feed {
  let pos = start;
  let end = cd.offset + cd.size;
  let cut = -1;
  if (end > file.size) { end = Math.max(pos, file.size); cut = file.size; }
  return (write) => {
    let n = end - pos;
    if (cut >= 0) n = Math.floor(n / pageSize) * pageSize;
    if (n <= 0) {
      if (cut >= 0) throw new FormatError(`truncated page at offset ${pos}`, Math.min(pos, cut));
      return false;
    }
    n = Math.min(n, piece);
    const at = pos;
    write(n, at, true, (dst) => file.readInto(at, dst));
    pos += n;
    return true;
  };
}

/**
 * A CPU's compressed chunks for the core path: one chunk (whole pages) decompressed per call. From `start` (a
 * --jobs slice: a chunk found by slices.ts) the chunks are read up to the end of the CPU's data, not counted.
 */
export function zFeed(file: FileSrc, cd: CpuData, decompress: BlockDecompress, le: boolean, start?: number, windowBytes = 1 << 20): Feed {
  let pos = cd.offset;
  const win = new FileWindow(file, windowBytes);
  const end = cd.offset + 4 + cd.size; // the size counts the chunks, not the leading u32 chunk count
  const h = file.read(pos, 4, 'compressed cpu data');
  let left = new DataView(h.buffer, h.byteOffset, 4).getUint32(0, le);
  pos += 4;
  if (start !== undefined && start > pos) { pos = start; left = Infinity; }
  return (write) => {
    // (from a chunk found mid-stream: the end is where no chunk header fits; older trace-cmd counts the leading
    // u32 in the size, so 4 bytes are left after the last chunk)
    if (left === 0 || (left === Infinity && pos + 8 > end)) return false;
    const at = pos;
    if (at + 8 > end) throw new FormatError(`truncated compressed chunk at offset ${at}`, at);
    const hb = win.read(at, 8, 'compressed chunk');
    const hv = new DataView(hb.buffer, hb.byteOffset, 8);
    const csize = hv.getUint32(0, le);
    const usize = hv.getUint32(4, le);
    if (at + 8 + csize > end) throw new FormatError(`truncated compressed chunk at offset ${at}`, at);
    if (usize > 1 << 30) throw new FormatError(`bad compressed chunk size ${usize} at offset ${at}`, at);
    const data = win.read(at + 8, csize, 'compressed chunk');
    decompress.check(data, usize, at); // before core memory is set aside for usize bytes
    const into = decompress.into;
    if (into) write(usize, at, false, (dst) => into(data, dst, at)); // straight into core memory
    else {
      const chunk = decompress(data, usize, at);
      write(chunk.length, at, false, (dst) => dst.set(chunk));
    }
    pos = at + 8 + csize;
    left--;
    return true;
  };
}
