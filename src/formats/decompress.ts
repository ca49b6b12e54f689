/**
 * The one decompression module of the readers: zlib (node:zlib), zstd (the reference libzstd built to
 * WebAssembly, @hpcc-js/wasm-zstd as build/libzstd.cjs, once loaded by zstdWarmup; fzstd before that) and xz
 * (xz-decompress), for whole-file streams (source.ts) and for in-memory blocks (trace.dat v7 sections and page chunks,
 * Perfetto compressed_packets). Every in-memory inflate is capped at MAX_INFLATED bytes, whatever the
 * reader, so a small corrupt or hostile block cannot claim gigabytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type * as Fzstd from 'fzstd';
import { FormatError } from './bytes.js';
import { packageRoot } from '../core/package-root.js';
import { PipeReader, streamFd, type PullReader } from './pipe-reader.js';

// zlib, child_process and fzstd load on first use: a plain text report needs none of them, and loading
// them was about 5 ms of its start-up
const zlib = () => process.getBuiltinModule('node:zlib');
let fzstdModule: typeof Fzstd | undefined;
const fzstd = () => (fzstdModule ??= createRequire(import.meta.url)('fzstd') as typeof Fzstd);

/** fzstd's streaming decoder: one zstd stream pushed in pieces, its output handed to `onChunk`. */
export function zstdStreamDecoder(onChunk: (chunk: Uint8Array) => void): Fzstd.Decompress {
  return new (fzstd().Decompress)(onChunk);
}

/** The most bytes one compressed block may inflate to (1 GiB). */
export const MAX_INFLATED = 1 << 30;

/** zlib (RFC 1950) data; `raw` falls back to a bare deflate stream. Throws a plain Error when corrupt. */
export function inflateCapped(data: Uint8Array, maxOut = MAX_INFLATED, raw = false): Uint8Array {
  const opts = { maxOutputLength: Math.max(1, Math.min(maxOut, MAX_INFLATED)) };
  try {
    return zlib().inflateSync(data, opts);
  } catch (e) {
    if (!raw) throw e;
    try {
      return zlib().inflateRawSync(data, opts);
    } catch {
      throw e;
    }
  }
}

/** libzstd's one-shot decoder in WebAssembly memory (see zstdWarmup), or undefined until it is loaded. */
interface WasmZstd {
  heap(): Uint8Array;
  malloc(n: number): number;
  free(p: number): void;
  /** ZSTD_decompress: the bytes written, or an error code (isError) */
  decompress(dst: number, cap: number, src: number, len: number): number;
  isError(code: number): boolean;
  errorName(code: number): string;
  /** ZSTD_getFrameContentSize of the first frame: a number, or >= 2^64 - 2 when unknown or bad */
  contentSize(src: number, len: number): number;
}
let wasmZstd: WasmZstd | undefined;
let wasmZstdLoading: Promise<void> | undefined;

/**
 * Files at least this large load libzstd before they are read. Measured on this machine (2 cores, loaded):
 * loading the module cost about 95 ms (most of it the package's own JS unpacking of its wasm; about 25 ms from
 * build/libzstd.cjs, which skips that), and libzstd
 * inflates trace.dat v7 chunks at about 1 GB/s against fzstd's 170-260 MB/s, about 4 ms saved per MB inflated,
 * 15-20 ms per MB of a zstd file at trace ratios (4-5x). A 3.0 MiB Perfetto file of zstd_compressed_packets
 * (13.1 MiB inflated) took 0.155 s more than its uncompressed twin with libzstd, 0.365 s more with fzstd.
 * Checked again with the 25 ms load (a 64 KiB threshold against this one, 11 alternating runs): the real 1.0-1.2
 * MB captures of ../shared/captures were still faster with fzstd (svm-D-small 0.377 against 0.404 s, svm-A
 * 0.329 against 0.341 s); only a 1.1 MB file of 5 tiled copies, 13 MB inflated, gained (0.395 -> 0.355 s). What
 * pays the load back is the bytes inflated, which only the file's chunk headers tell: the size stays the test.
 */
export const ZSTD_WASM_MIN_FILE = 2 << 20;

/**
 * Load libzstd (WebAssembly) for the zstd blocks of `file` if it is big enough to pay the load back (or
 * always, without a file) and, given a `marker`, its first 4 KiB hold it (the compression's name). Readers are synchronous: the registry awaits this before calling them; until it
 * has run, unzstdCapped uses fzstd (same output, slower).
 */
export async function zstdWarmup(file?: string, marker?: string): Promise<void> {
  if (wasmZstd) return;
  if (file !== undefined) {
    try {
      if (fs.statSync(file).size < ZSTD_WASM_MIN_FILE) return;
      // a container that names its compression in its header (trace.dat v7: "zstd"): only when it says so
      if (marker !== undefined) {
        const fd = fs.openSync(file, 'r');
        const head = Buffer.alloc(4096);
        const n = fs.readSync(fd, head, 0, head.length, 0);
        fs.closeSync(fd);
        if (!head.subarray(0, n).includes(marker, 0, 'latin1')) return;
      }
    } catch {
      return;
    }
  }
  wasmZstdLoading ??= (async () => {
    const { Zstd } = await libzstdModule();
    const z = await Zstd.load();
    // The package's public decompress copies its output through a JS array ([...heap], about 8 MB/s here) and
    // cannot take a capacity: the same embind functions are called directly, the output copied with slice().
    const inner = z as unknown as {
      _mainModule: { _module: { HEAPU8: Uint8Array; _malloc(n: number): number; _free(p: number): void } };
      _zstdClass: {
        decompress(d: number, c: number, s: number, n: number): number; isError(c: number): number;
        getErrorName(c: number): string; getFrameContentSize(s: number, n: number): number;
      };
    };
    const m = inner._mainModule?._module, c = inner._zstdClass;
    if (!m || typeof m._malloc !== 'function' || typeof c?.decompress !== 'function' || typeof c.getFrameContentSize !== 'function') return;
    wasmZstd = {
      heap: () => m.HEAPU8, malloc: (n) => m._malloc(n), free: (p) => m._free(p),
      decompress: (d, cap, s, n) => c.decompress(d, cap, s, n), isError: (x) => c.isError(x) !== 0,
      errorName: (x) => c.getErrorName(x), contentSize: (s, n) => c.getFrameContentSize(s, n),
    };
  })().catch(() => undefined); // without it, fzstd does the work
  await wasmZstdLoading;
}

/**
 * The libzstd package's module: build/libzstd.cjs when the build made it (scripts/libzstd.mjs: the package with
 * its WebAssembly in a file beside it, instead of unpacked from text in JavaScript at every load: a load took
 * 60-90 ms, now about 25), else the package itself.
 */
async function libzstdModule(): Promise<typeof import('@hpcc-js/wasm-zstd')> {
  const copy = path.join(packageRoot(), 'build', 'libzstd.cjs');
  // (the copy without its WebAssembly beside it would fail at load, and fzstd would do all the work)
  if (fs.existsSync(copy) && fs.existsSync(path.join(packageRoot(), 'build', 'libzstd.wasm'))) {
    try {
      return createRequire(import.meta.url)(copy) as typeof import('@hpcc-js/wasm-zstd');
    } catch {
      // the package below
    }
  }
  return await import('@hpcc-js/wasm-zstd');
}

/**
 * zstd data through libzstd: exactly `size` bytes when stated, else into a buffer that doubles (from the first
 * frame's stated size, or 8x the input) until the frames fit, never past the cap.
 */
function unzstdWasm(z: WasmZstd, data: Uint8Array, size?: number): Uint8Array {
  const src = z.malloc(Math.max(1, data.length));
  if (!src) throw new Error('out of memory for zstd input');
  z.heap().set(data, src);
  try {
    let cap = size;
    if (cap === undefined) {
      const stated = z.contentSize(src, data.length);
      cap = stated > 0 && stated < MAX_INFLATED ? stated : Math.min(MAX_INFLATED, Math.max(1 << 20, data.length * 8));
    }
    for (;;) {
      const dst = z.malloc(Math.max(1, cap));
      if (!dst) throw new Error(`out of memory for ${cap} bytes of zstd output`);
      try {
        const n = z.decompress(dst, cap, src, data.length);
        if (!z.isError(n)) return z.heap().slice(dst, dst + n);
        const why = z.errorName(n);
        if (size !== undefined || !/too small/i.test(why)) throw new Error(why);
        if (cap >= MAX_INFLATED) throw new Error(`inflates past the ${MAX_INFLATED}-byte cap`);
        cap = Math.min(MAX_INFLATED, cap * 2);
      } finally {
        z.free(dst);
      }
    }
  } finally {
    z.free(src);
  }
}

/**
 * zstd data. With `size` (the decompressed size a container states) the output is exactly that buffer;
 * without it, every frame is decoded and the total is capped. Throws a plain Error when corrupt.
 */
export function unzstdCapped(data: Uint8Array, size?: number): Uint8Array {
  if (size !== undefined && size > MAX_INFLATED) throw new Error(`stated size ${size} is over the ${MAX_INFLATED}-byte cap`);
  if (wasmZstd) return unzstdWasm(wasmZstd, data, size);
  if (size !== undefined) {
    const out = new Uint8Array(size);
    // fzstd's frame-header reader tests its output argument with `w == 1`, which turns a Uint8Array into the
    // string of all its bytes ("0,0,0,...") on every frame: most of the time of reading a zstd trace.dat went
    // there. A valueOf of its own makes that comparison a number comparison (the buffer is used as given).
    Object.defineProperty(out, 'valueOf', { value: () => 0 });
    return fzstd().decompress(data, out);
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  const s = zstdStreamDecoder((chunk: Uint8Array) => {
    total += chunk.length;
    if (total > MAX_INFLATED) throw new Error(`inflates past the ${MAX_INFLATED}-byte cap`);
    parts.push(chunk);
  });
  s.push(data, true);
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/**
 * zstd data of a stated size (dst.length) inflated into `dst` (for example a view of another WebAssembly
 * memory): with libzstd, its output is copied once, into place, from input and output buffers kept in its heap
 * (no buffer per block for the collector). Returns the bytes written. Throws a plain Error when corrupt.
 */
export function unzstdInto(data: Uint8Array, dst: Uint8Array): number {
  const z = wasmZstd;
  if (!z) {
    const out = unzstdCapped(data, dst.length);
    dst.set(out.subarray(0, dst.length));
    return out.length;
  }
  const inP = zScratch(0, Math.max(1, data.length)), outP = zScratch(1, Math.max(1, dst.length));
  const heap = z.heap(); // after the mallocs (a grown heap is a new buffer)
  heap.set(data, inP);
  const n = z.decompress(outP, dst.length, inP, data.length);
  if (z.isError(n)) throw new Error(z.errorName(n));
  dst.set(heap.subarray(outP, outP + n));
  return n;
}

/**
 * What zstd data can inflate to, from its frame and block headers alone (RFC 8878): `stated`, the sum of the
 * frames' Frame_Content_Size fields when every frame has one (trace-cmd's streamed chunks have none), and
 * `max`, an upper bound (a raw or RLE block regenerates the size its header gives, a compressed block at
 * most 128 KiB). undefined when the data is not a clean sequence of frames (the decoder then has the last
 * word). Lets a container's stated size be checked before a buffer of that size is set aside.
 */
export function zstdSizeBound(d: Uint8Array): { stated?: number; max: number } | undefined {
  const u32 = (o: number): number => (d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16) | (d[o + 3]! << 24)) >>> 0;
  let o = 0;
  let stated: number | undefined = 0;
  let max = 0;
  while (o < d.length) {
    if (o + 8 > d.length) return undefined;
    const magic = u32(o);
    if ((magic & 0xfffffff0) === 0x184d2a50) { o += 8 + u32(o + 4); continue; } // a skippable frame
    if (magic !== 0xfd2fb528) return undefined;
    const fhd = d[o + 4]!;
    const single = (fhd >> 5) & 1, fcsFlag = fhd >> 6, dictFlag = fhd & 3, checksum = (fhd >> 2) & 1;
    const fcsBytes = [single, 2, 4, 8][fcsFlag]!;
    let p = o + 5 + (single ? 0 : 1) + [0, 1, 2, 4][dictFlag]!;
    if (p + fcsBytes > d.length) return undefined;
    if (fcsBytes === 0) stated = undefined;
    else if (stated !== undefined) {
      if (fcsBytes === 1) stated += d[p]!;
      else if (fcsBytes === 2) stated += (d[p]! | (d[p + 1]! << 8)) + 256;
      else if (fcsBytes === 4) stated += u32(p);
      else stated += u32(p) + u32(p + 4) * 2 ** 32;
    }
    p += fcsBytes;
    for (;;) { // the blocks
      if (p + 3 > d.length) return undefined;
      const bh = d[p]! | (d[p + 1]! << 8) | (d[p + 2]! << 16);
      const type = (bh >> 1) & 3, size = bh >>> 3;
      if (type === 3) return undefined;
      max += type === 2 ? 128 << 10 : size;
      p += 3 + (type === 1 ? 1 : size);
      if (bh & 1) break;
    }
    o = p + (checksum ? 4 : 0);
  }
  return o === d.length ? { stated, max } : undefined;
}

/** unzstdInto's two buffers in libzstd's heap, grown (never shrunk) to the largest block seen. */
const zBuf = [{ p: 0, cap: 0 }, { p: 0, cap: 0 }];
function zScratch(i: number, n: number): number {
  const b = zBuf[i]!;
  if (b.cap >= n) return b.p;
  if (n > MAX_INFLATED) throw new Error(`${n} bytes is over the ${MAX_INFLATED}-byte cap`);
  if (b.p) wasmZstd!.free(b.p);
  b.cap = 0;
  b.p = wasmZstd!.malloc(n);
  if (!b.p) throw new Error(`out of memory for ${n} bytes of zstd buffer`);
  b.cap = n;
  return b.p;
}

/**
 * A block decoder of a container that states each block's decompressed size (trace.dat). `into`, when
 * present, inflates into a given buffer of exactly the stated size instead (one copy less per block);
 * `check` throws when the data itself shows the stated size cannot be right, before anyone sets aside a
 * buffer of that size (into core memory, where a made-up size would count against the memory budget).
 */
export type BlockDecompress = ((data: Uint8Array, size: number, fileOff: number) => Uint8Array) & {
  check: (data: Uint8Array, size: number, fileOff: number) => void;
  into?: (data: Uint8Array, dst: Uint8Array, fileOff: number) => void;
};

/** deflate's largest ratio: a 258-byte match per 2 bits, about 1032:1 (zlib's FAQ) */
const DEFLATE_MAX_RATIO = 1032;

/** The block decoder for a trace.dat compression name ("zlib", "zstd"), or undefined when unknown. */
export function blockDecompressor(name: string): BlockDecompress | undefined {
  if (name !== 'zlib' && name !== 'zstd') return undefined;
  const how = name;
  const check = (data: Uint8Array, size: number, off: number): void => {
    if (size > MAX_INFLATED) throw new FormatError(`${how} data at offset ${off} claims ${size} bytes, over the ${MAX_INFLATED}-byte cap`, off);
    if (how === 'zlib') {
      if (size > data.length * DEFLATE_MAX_RATIO + 64) throw new FormatError(`zlib data at offset ${off} claims ${size} bytes, more than ${data.length} compressed bytes can hold`, off);
    } else {
      const b = zstdSizeBound(data);
      if (b?.stated !== undefined && b.stated !== size) throw new FormatError(`zstd data at offset ${off} claims ${size} bytes, its frames say ${b.stated}`, off);
      if (b && size > b.max) throw new FormatError(`zstd data at offset ${off} claims ${size} bytes, its blocks hold at most ${b.max}`, off);
    }
  };
  const inflate = how === 'zlib' ? (d: Uint8Array, size: number) => inflateCapped(d, size) : (d: Uint8Array, size: number) => unzstdCapped(d, size);
  const d: BlockDecompress = Object.assign((data: Uint8Array, size: number, off: number): Uint8Array => {
    check(data, size, off);
    let out: Uint8Array;
    try {
      out = inflate(data, size);
    } catch (e) {
      throw new FormatError(`corrupt ${how} data at offset ${off}: ${(e as Error).message}`, off);
    }
    if (out.length !== size) throw new FormatError(`${how} data at offset ${off} gave ${out.length} bytes, expected ${size}`, off);
    return out;
  }, { check });
  if (how === 'zstd') {
    d.into = (data, dst, off) => {
      const size = dst.length;
      check(data, size, off);
      let n: number;
      try {
        n = unzstdInto(data, dst);
      } catch (e) {
        throw new FormatError(`corrupt zstd data at offset ${off}: ${(e as Error).message}`, off);
      }
      if (n !== size) throw new FormatError(`zstd data at offset ${off} gave ${n} bytes, expected ${size}`, off);
    };
  }
  return d;
}

/** A whole gzip file as a stream of inflated chunks (no cap: the content is streamed, not held). */
export function gunzipStream(raw: Readable): AsyncIterable<Uint8Array> {
  // 1 MiB output chunks: zlib's default 16 KiB gives one stream callback and one copy into the scan per 16 KiB
  const gunzip = zlib().createGunzip({ chunkSize: 1 << 20 });
  raw.pipe(gunzip);
  return gunzip;
}

/**
 * The system's xz (liblzma, the reference decoder) when it is on PATH, else undefined. KVMTAX_XZ=builtin
 * makes kvmtax use its own decoder (xz-decompress) even so; KVMTAX_XZ=PATH names the program.
 */
let xzProgram: string | null | undefined;
export function systemXz(): string | undefined {
  if (xzProgram !== undefined) return xzProgram ?? undefined;
  xzProgram = null;
  const want = process.env.KVMTAX_XZ;
  if (want === 'builtin') return undefined;
  const candidates = want ? [want] : (process.env.PATH ?? '/usr/bin:/bin').split(':').filter(Boolean).map((d) => path.join(d, 'xz'));
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      if (fs.statSync(c).isFile()) { xzProgram = c; break; }
    } catch { /* next */ }
  }
  return xzProgram ?? undefined;
}

/**
 * A whole xz file as a stream of inflated chunks. With the system's xz (systemXz), the raw bytes are piped
 * through `xz -dc` in a child process: liblzma's speed (xz-decompress, WebAssembly, took 2.1-2.5x the time of
 * `xz -dc` here), and the decompression runs on another core beside the scan. Without it, xz-decompress.
 * A corrupt file ends the stream with xz's own message. `builtin`: xz-decompress even when xz is there.
 */
export async function xzStream(raw: Readable, builtin = false): Promise<AsyncIterable<Uint8Array>> {
  const xz = builtin ? undefined : systemXz();
  if (xz) return xzChild(xz, raw);
  const web = Readable.toWeb(raw) as unknown as ReadableStream<Uint8Array>;
  const lib = (await import('xz-decompress')).default;
  return new lib.XzReadableStream(web) as unknown as AsyncIterable<Uint8Array>;
}

/**
 * The chunks of a readable stream, taken in flowing mode ('data' events) and queued here, up to QUEUE_MAX bytes
 * (then the stream is paused until the consumer has taken half). A stream's own async iterator reads in paused
 * mode: each read() joins the chunks waiting into a new buffer, and each time the stream's buffer passes its
 * 64 KiB mark it stops and restarts reading the pipe (two epoll_ctl calls). xz writes 8 KiB at a time: 256 MiB
 * of .xz cost 21,000 epoll_ctl calls besides 13,000 reads, each a costly system call on this VM.
 */
const QUEUE_MAX = 16 << 20;
async function* flowing(stream: Readable): AsyncGenerator<Uint8Array> {
  const queue: Uint8Array[] = [];
  let head = 0;
  let bytes = 0;
  let ended = false;
  let failed: Error | undefined;
  let wake: (() => void) | undefined;
  const signal = (): void => { const w = wake; wake = undefined; w?.(); };
  stream.on('data', (c: Buffer) => {
    queue.push(c);
    bytes += c.length;
    if (bytes > QUEUE_MAX) stream.pause();
    signal();
  });
  stream.once('end', () => { ended = true; signal(); });
  stream.once('error', (e) => { failed = e; signal(); });
  stream.once('close', () => { ended = true; signal(); });
  try {
    for (;;) {
      if (head < queue.length) {
        const c = queue[head]!;
        queue[head++] = EMPTY;
        if (head > 1024 && head * 2 > queue.length) { queue.splice(0, head); head = 0; }
        bytes -= c.length;
        if (stream.isPaused() && bytes <= QUEUE_MAX / 2) stream.resume();
        yield c;
        continue;
      }
      if (failed) throw failed;
      if (ended) return;
      await new Promise<void>((r) => { wake = r; });
    }
  } finally {
    stream.removeAllListeners('data');
    if (!ended) stream.destroy();
  }
}
const EMPTY = new Uint8Array(0);

/**
 * A regular file's xz content, by the system's xz reading the file itself (its descriptor `fd` as xz's
 * standard input, read from offset 0: kvmtax reads its files at offsets and leaves the offset alone), rather
 * than through a pipe that kvmtax fills: that was 13 MB of reads and writes on the scanning thread for a
 * 256 MiB file. `rawPosition()` tells how far xz has read (its /proc fdinfo; for the progress line).
 * Without a system xz: undefined (the caller pipes the bytes to the builtin decoder).
 * xz's output is read by the scanning thread itself, straight into the scan's buffer (pipe-reader.ts).
 */
export function xzFileReader(fd: number): PullReader | undefined {
  const xz = systemXz();
  if (!xz) return undefined;
  const child = process.getBuiltinModule('node:child_process').spawn(xz, ['-dc'], { stdio: [fd, 'pipe', 'pipe'] });
  const out = streamFd(child.stdout);
  if (out === undefined) {
    // no descriptor to read (not expected on Linux): the caller pipes the file through xz as for a stream
    child.kill();
    return undefined;
  }
  const outcome = xzOutcome(child, xz);
  return new PipeReader(out, async () => {
    // xz closed its output: done once it has exited, with its status (its stdout is closed here, so that
    // the child's 'close' comes)
    child.stdout!.destroy();
    await outcome();
  }, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    child.stdout!.destroy();
  }, () => readPosition(child.pid));
}

/** Collects xz's stderr; the function returned resolves once it has exited, and throws with xz's first line
 * of complaint (without its "xz: (stdin): ") when it failed. */
function xzOutcome(child: import('node:child_process').ChildProcess, xz: string): () => Promise<void> {
  let stderr = '';
  const err = child.stderr!;
  err.setEncoding('utf8');
  err.on('data', (d: string) => { if (stderr.length < 4096) stderr += d; });
  const exited = new Promise<number | string>((resolve) => {
    child.once('close', (code, signal) => resolve(code ?? signal ?? 'killed'));
    child.once('error', (e) => resolve(e.message));
  });
  return async () => {
    const code = await exited;
    if (code !== 0) throw new Error(stderr.trim().split('\n')[0]?.replace(/^.*?\(stdin\): /, '') || `${path.basename(xz)} exited with ${code}`);
  };
}

/** How far process `pid` has read its fd 0 (Linux /proc), or undefined. */
function readPosition(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /^pos:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/0`, 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** xz -dc as a child, its input `raw` piped in. */
async function* xzChild(xz: string, raw: Readable): AsyncGenerator<Uint8Array> {
  const child = process.getBuiltinModule('node:child_process').spawn(xz, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const outcome = xzOutcome(child, xz);
  child.stdin!.on('error', () => { /* xz stopped reading (corrupt data, or we stopped): its exit says why */ });
  raw.on('error', () => child.kill());
  // the consumer closed the source before the end: stop xz too
  raw.once('close', () => { if (!raw.readableEnded) child.kill(); });
  raw.pipe(child.stdin!);
  try {
    yield* flowing(child.stdout!);
    await outcome();
  } finally {
    if (child.exitCode === null) child.kill();
  }
}
