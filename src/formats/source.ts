/**
 * Byte sources: a plain file (read straight into the caller's buffer, or claimed by range for a reader to
 * read ahead: no copy), stdin,
 * and transparently decompressed .gz (node:zlib) and .xz (xz-decompress, a streaming WebAssembly
 * decoder: no native addon to build) files, both through decompress.ts. Compression is recognized by magic
 * bytes, not by name.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipStream, xzFileReader, xzStream } from './decompress.js';
import { PipeReader, streamFd, type PullReader } from './pipe-reader.js';
import { KvmtaxError } from '../core/errors.js';

export interface ByteSource {
  /** Display name for messages. */
  readonly name: string;
  /** A path readable at offsets (plain files only): binary readers use it directly. */
  readonly path?: string;
  /** "gzip", "xz" or undefined. */
  readonly compression?: string;
  /** The first bytes of the (decompressed) content, at most HEAD_BYTES. */
  readonly head: Uint8Array;
  /** Read up to `len` bytes into dst[off..]; 0 at the end. */
  read(dst: Uint8Array, off: number, len: number): Promise<number>;
  close(): void;
  /** A compressed source: how many bytes of the file (compressed) have been read so far. */
  rawPosition?(): number;
  /**
   * Plain files: claim the source's next `len` bytes (fewer at a known end) as a positional read of `fd`,
   * for the reader to issue off the main thread while it works on earlier bytes (read-ahead.ts). The
   * source's position moves past them; the read returns less than `n` only at the end of the file.
   */
  claim?(len: number): { fd: number; at: number; n: number };
  /** Plain files: the size when opened (the file may still grow: read until a read gives 0). */
  readonly size?: number;
}

export const HEAD_BYTES = 64 * 1024;
/** How the CLI passes a "-" argument (standard input) through its parser. */
export const STDIN = '\u0000stdin';

const GZIP = [0x1f, 0x8b];
const XZ = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
function startsWith(b: Uint8Array, magic: number[]): boolean {
  return b.length >= magic.length && magic.every((m, i) => b[i] === m);
}
/** The compression a file's first bytes show (the ones openSource decompresses), or undefined. */
export function compressionOf(head: Uint8Array): 'gzip' | 'xz' | undefined {
  return startsWith(head, GZIP) ? 'gzip' : startsWith(head, XZ) ? 'xz' : undefined;
}

/**
 * A file's descriptor, read at offsets from `start` (a file kvmtax opened: 0; standard input redirected from a
 * file: where the shell left it). The descriptor's own offset is never moved. `owned`: closed by close().
 */
class FdSource implements ByteSource {
  readonly head: Uint8Array;
  private pos: number;
  constructor(readonly name: string, private fd: number, readonly path?: string, start = 0, private readonly owned = true) {
    this.pos = start;
    const h = Buffer.alloc(HEAD_BYTES);
    const n = fs.readSync(fd, h, 0, HEAD_BYTES, start);
    this.head = h.subarray(0, n);
    const st = fs.fstatSync(fd);
    if (st.isFile()) {
      this.size = Math.max(0, st.size - start);
      this.claim = (len: number) => {
        const at = this.pos;
        this.pos += len;
        return { fd: this.fd, at, n: len };
      };
    }
  }
  async read(dst: Uint8Array, off: number, len: number): Promise<number> {
    const n = fs.readSync(this.fd, dst, off, len, this.pos);
    this.pos += n;
    return n;
  }
  /** A regular file's descriptor (only ever read at offsets here: its offset is the source's start), else undefined. */
  fileFd(): number | undefined {
    return this.claim ? this.fd : undefined;
  }
  /** a regular file's (a pipe cannot be read at an offset) */
  readonly claim?: (len: number) => { fd: number; at: number; n: number };
  readonly size?: number;
  close(): void {
    if (this.owned) fs.closeSync(this.fd);
  }
}

/**
 * A stream source's read returns what has arrived once it holds this much, rather than waiting to fill the
 * window: the scan of those bytes then overlaps the producer's next ones (xz -dc in a child, which blocks
 * once its pipe holds 64 KiB; zlib on libuv's pool). Against waiting for half of a 4 MiB window, 256 MiB
 * of ftrace took 1317 -> 1151 ms as .xz and 580 -> 526 ms as .gz (5 alternating runs).
 */
const STREAM_READ_MIN = 64 * 1024;

/** A source over an async iterable of chunks (decompressors, stdin). */
class StreamSource implements ByteSource {
  head: Uint8Array = new Uint8Array(0);
  rawPosition?: () => number;
  private it: AsyncIterator<Uint8Array>;
  private pending: Uint8Array = new Uint8Array(0);
  private done = false;
  constructor(readonly name: string, iterable: AsyncIterable<Uint8Array>, readonly compression?: string, private onClose?: () => void) {
    this.it = iterable[Symbol.asyncIterator]();
  }
  async fillHead(): Promise<void> {
    const parts: Uint8Array[] = [];
    let n = 0;
    while (n < HEAD_BYTES) {
      const c = await this.next();
      if (!c) break;
      parts.push(c);
      n += c.length;
    }
    const all = Buffer.concat(parts);
    this.head = all.subarray(0, Math.min(all.length, HEAD_BYTES));
    this.pending = all;
  }
  private async next(): Promise<Uint8Array | undefined> {
    if (this.done) return undefined;
    try {
      const r = await this.it.next();
      if (r.done) { this.done = true; return undefined; }
      return r.value;
    } catch (e) {
      throw new KvmtaxError(`cannot decompress ${this.compression ?? 'input'}: ${(e as Error).message}`, this.name);
    }
  }
  async read(dst: Uint8Array, off: number, len: number): Promise<number> {
    let got = 0;
    while (got < len) {
      if (this.pending.length === 0) {
        const c = await this.next();
        if (!c) break;
        this.pending = c;
      }
      const k = Math.min(len - got, this.pending.length);
      dst.set(this.pending.subarray(0, k), off + got);
      this.pending = this.pending.subarray(k);
      got += k;
      if (got > 0 && this.pending.length === 0 && got >= Math.min(len / 2, STREAM_READ_MIN)) break;
    }
    return got;
  }
  close(): void {
    this.onClose?.();
  }
}

/** A source whose bytes a PullReader reads straight into the caller's buffer (xz's output, a piped stdin). */
class PullSource implements ByteSource {
  head: Uint8Array = new Uint8Array(0);
  private pending: Uint8Array = new Uint8Array(0);
  /** A decompressor's source: how far it has read the file (the last position it told, once it has exited). */
  readonly rawPosition?: () => number;
  constructor(readonly name: string, private readonly reader: PullReader, readonly compression?: string, private readonly onClose?: () => void) {
    // (a plain pipe has none: its progress is the bytes read)
    if (compression) {
      let last = 0;
      this.rawPosition = () => (last = reader.rawPosition() ?? last);
    }
  }
  async fillHead(): Promise<void> {
    const h = Buffer.allocUnsafe(HEAD_BYTES);
    let n = 0;
    for (let k; n < HEAD_BYTES && (k = await this.pull(h, n, HEAD_BYTES - n)) > 0;) n += k;
    this.head = h.subarray(0, n);
    this.pending = this.head;
  }
  private async pull(dst: Uint8Array, off: number, len: number): Promise<number> {
    try {
      return await this.reader.read(dst, off, len);
    } catch (e) {
      const why = (e as Error).message;
      throw new KvmtaxError(this.compression ? `cannot decompress ${this.compression}: ${why}` : why, this.name);
    }
  }
  async read(dst: Uint8Array, off: number, len: number): Promise<number> {
    if (this.pending.length === 0) return len > 0 ? this.pull(dst, off, len) : 0;
    const k = Math.min(len, this.pending.length);
    dst.set(this.pending.subarray(0, k), off);
    this.pending = this.pending.subarray(k);
    return k;
  }
  close(): void {
    this.reader.close();
    this.onClose?.();
  }
}

/** Open a file ('-' for stdin), decompressing .gz and .xz content transparently. */
export async function openSource(file: string): Promise<ByteSource> {
  // /dev/stdin names fd 0, which may be a socket that cannot be opened again (ENXIO): read it as "-"
  if (file === '-' || file === STDIN || file === '/dev/stdin' || file === '/dev/fd/0' || file === '/proc/self/fd/0') {
    const file = stdinFile();
    if (file) return wrapCompressed(file, '<stdin>');
    const pipe = stdinPipe();
    if (pipe) {
      const p = new PullSource('<stdin>', pipe);
      await p.fillHead();
      return wrapCompressed(p, '<stdin>');
    }
    const s = new StreamSource('<stdin>', process.stdin as AsyncIterable<Uint8Array>);
    await s.fillHead();
    return wrapCompressed(s, '<stdin>');
  }
  // a FIFO, /dev/stdin, <(xz -dc ...) or a socket cannot be read at offsets: it is read as a stream, like
  // "-", and opened without blocking the event loop (a FIFO nobody writes to can still be interrupted)
  let st: fs.Stats | undefined;
  try { st = fs.statSync(file); } catch { st = undefined; }
  if (st && st.isFIFO()) return wrapCompressed(await openFifo(file), file);
  if (st && !st.isFile() && !st.isDirectory() && !st.isBlockDevice()) {
    const stream = fs.createReadStream(file);
    const opened = new Promise<void>((resolve, reject) => { stream.once('open', () => resolve()); stream.once('error', reject); });
    try { await opened; } catch (e) { throw new KvmtaxError((e as Error).message, file); }
    const s = new StreamSource(file, stream as AsyncIterable<Uint8Array>, undefined, () => stream.destroy());
    await s.fillHead();
    return wrapCompressed(s, file);
  }
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new KvmtaxError(err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.message, file);
  }
  if (fs.fstatSync(fd).isDirectory()) {
    fs.closeSync(fd);
    // a directory recording of perf (perf record --threads): its header file DIR/data is detected; the
    // perf.data reader, given the directory, reads DIR/data and its DIR/data.N files
    const data = path.join(file, 'data');
    let dfd = -1;
    try { if (fs.statSync(data).isFile()) dfd = fs.openSync(data, 'r'); } catch { dfd = -1; }
    if (dfd < 0) throw new KvmtaxError('is a directory', file);
    return new FdSource(file, dfd, file);
  }
  const src = new FdSource(file, fd, file);
  return wrapCompressed(src, file);
}

/**
 * Standard input redirected from a regular file (`kvmtax report - < trace.txt`): read at offsets from where the
 * shell left it (/proc/self/fdinfo/0), as a file is, read ahead off the main thread; its path (the file's, when
 * reading starts at 0) lets the binary readers and --jobs open it. 256 MiB, 3 alternating runs: median 1166 ms
 * as process.stdin's stream, against 591 ms for the file named. Undefined when it is no regular file or where
 * /proc does not tell the offset.
 */
function stdinFile(): FdSource | undefined {
  let st: fs.Stats;
  try { st = fs.fstatSync(0); } catch { return undefined; }
  if (!st.isFile()) return undefined;
  let start: number;
  try {
    const m = /^pos:\s*(\d+)/m.exec(fs.readFileSync('/proc/self/fdinfo/0', 'latin1'));
    if (!m) return undefined;
    start = Number(m[1]);
  } catch {
    return undefined;
  }
  let real: string | undefined;
  if (start === 0) {
    try {
      real = fs.realpathSync('/proc/self/fd/0');
      const rs = fs.statSync(real);
      if (!rs.isFile() || rs.ino !== st.ino || rs.dev !== st.dev) real = undefined;
    } catch {
      real = undefined;
    }
  }
  return new FdSource('<stdin>', 0, real, start, false);
}

/**
 * Standard input when it is a pipe or a socket (`xz -dc f | kvmtax report -`): read by the scanning thread
 * itself (pipe-reader.ts). 256 MiB through `cat` into `-`, 5 alternating runs: median 1008 ms as
 * process.stdin's stream, against 659 ms for the file itself.
 */
function stdinPipe(): PullReader | undefined {
  let st: fs.Stats;
  try { st = fs.fstatSync(0); } catch { return undefined; }
  if (!st.isFIFO() && !st.isSocket()) return undefined;
  // process.stdin over a pipe is a net.Socket that has not started reading; libuv made fd 0 non-blocking
  const fd = streamFd(process.stdin);
  return fd === undefined ? undefined : new PipeReader(fd, async () => {}, () => {});
}

/**
 * A FIFO (mkfifo, bash's <(xz -dc ...)), read by the scanning thread itself (pipe-reader.ts). The first open
 * waits on libuv's pool for a writer (a FIFO nobody writes to can still be interrupted); once there is one, a
 * second, non-blocking descriptor of the same pipe is opened for the reads and the first is closed.
 */
async function openFifo(file: string): Promise<ByteSource> {
  let first: number;
  try {
    first = await new Promise<number>((resolve, reject) => fs.open(file, 'r', (e, fd) => (e ? reject(e) : resolve(fd))));
  } catch (e) {
    throw new KvmtaxError((e as Error).message, file);
  }
  let fd: number | undefined;
  try { fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK); } catch { fd = undefined; }
  if (fd === undefined) {
    // (not expected) read as a stream of the first descriptor
    const stream = fs.createReadStream('', { fd: first });
    const s = new StreamSource(file, stream as AsyncIterable<Uint8Array>, undefined, () => stream.destroy());
    await s.fillHead();
    return s;
  }
  fs.closeSync(first);
  const nb = fd;
  let open = true;
  const s = new PullSource(file, new PipeReader(nb, async () => {}, () => {}), undefined, () => { if (open) { open = false; fs.closeSync(nb); } });
  await s.fillHead();
  return s;
}

async function wrapCompressed(src: ByteSource, name: string): Promise<ByteSource> {
  if (startsWith(src.head, GZIP)) {
    const raw = rawStream(src, name);
    const s = new StreamSource(name, gunzipStream(raw), 'gzip', () => { raw.destroy(); src.close(); });
    s.rawPosition = () => rawRead(src);
    await s.fillHead();
    return s;
  }
  if (startsWith(src.head, XZ)) {
    // a regular file: the system's xz reads it itself (decompress.ts xzFileReader)
    const fd = src instanceof FdSource ? src.fileFd() : undefined;
    const direct = fd === undefined ? undefined : xzFileReader(fd);
    if (direct) {
      const s = new PullSource(name, direct, 'xz', () => src.close());
      await s.fillHead();
      return s;
    }
    const raw = rawStream(src, name);
    const s = new StreamSource(name, await xzStream(raw), 'xz', () => { raw.destroy(); src.close(); });
    s.rawPosition = () => rawRead(src);
    await s.fillHead();
    return s;
  }
  return src;
}

const rawCount = new WeakMap<ByteSource, number>();
/** Bytes of `src` the decompressor has taken. */
function rawRead(src: ByteSource): number {
  return rawCount.get(src) ?? 0;
}

/** The raw bytes of a source as a Node stream (for the decompressors). */
function rawStream(src: ByteSource, _name: string): Readable {
  const chunk = 1 << 20;
  return new Readable({
    async read() {
      const b = Buffer.alloc(chunk);
      try {
        const n = await src.read(b, 0, chunk);
        rawCount.set(src, rawRead(src) + n);
        this.push(n > 0 ? b.subarray(0, n) : null);
      } catch (e) {
        this.destroy(e as Error);
      }
    },
  });
}
