/**
 * The one decompression module of the readers: zlib (node:zlib), zstd (fzstd) and xz (xz-decompress),
 * for whole-file streams (source.ts) and for in-memory blocks (trace.dat v7 sections and page chunks,
 * Perfetto compressed_packets). Every in-memory inflate is capped at MAX_INFLATED bytes, whatever the
 * reader, so a small corrupt or hostile block cannot claim gigabytes.
 */
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { Decompress as ZstdStream, decompress as zstdDecompress } from 'fzstd';
import { FormatError } from './bytes.js';

/** The most bytes one compressed block may inflate to (1 GiB). */
export const MAX_INFLATED = 1 << 30;

/** zlib (RFC 1950) data; `raw` falls back to a bare deflate stream. Throws a plain Error when corrupt. */
export function inflateCapped(data: Uint8Array, maxOut = MAX_INFLATED, raw = false): Uint8Array {
  const opts = { maxOutputLength: Math.max(1, Math.min(maxOut, MAX_INFLATED)) };
  try {
    return zlib.inflateSync(data, opts);
  } catch (e) {
    if (!raw) throw e;
    try {
      return zlib.inflateRawSync(data, opts);
    } catch {
      throw e;
    }
  }
}

/**
 * zstd data. With `size` (the decompressed size a container states) the output is exactly that buffer;
 * without it, the frames are streamed and the total is capped. Throws a plain Error when corrupt.
 */
export function unzstdCapped(data: Uint8Array, size?: number): Uint8Array {
  if (size !== undefined) {
    if (size > MAX_INFLATED) throw new Error(`stated size ${size} is over the ${MAX_INFLATED}-byte cap`);
    const out = new Uint8Array(size);
    // fzstd's frame-header reader tests its output argument with `w == 1`, which turns a Uint8Array into the
    // string of all its bytes ("0,0,0,...") on every frame: most of the time of reading a zstd trace.dat went
    // there. A valueOf of its own makes that comparison a number comparison (the buffer is used as given).
    Object.defineProperty(out, 'valueOf', { value: () => 0 });
    return zstdDecompress(data, out);
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  const s = new ZstdStream((chunk: Uint8Array) => {
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

/** A block decoder of a container that states each block's decompressed size (trace.dat). */
export type BlockDecompress = (data: Uint8Array, size: number, fileOff: number) => Uint8Array;

/** The block decoder for a trace.dat compression name ("zlib", "zstd"), or undefined when unknown. */
export function blockDecompressor(name: string): BlockDecompress | undefined {
  const run = (how: string, f: (d: Uint8Array, size: number) => Uint8Array): BlockDecompress => (data, size, off) => {
    if (size > MAX_INFLATED) throw new FormatError(`${how} data at offset ${off} claims ${size} bytes, over the ${MAX_INFLATED}-byte cap`, off);
    let out: Uint8Array;
    try {
      out = f(data, size);
    } catch (e) {
      throw new FormatError(`corrupt ${how} data at offset ${off}: ${(e as Error).message}`, off);
    }
    if (out.length !== size) throw new FormatError(`${how} data at offset ${off} gave ${out.length} bytes, expected ${size}`, off);
    return out;
  };
  if (name === 'zlib') return run('zlib', (d, size) => inflateCapped(d, size));
  if (name === 'zstd') return run('zstd', (d, size) => unzstdCapped(d, size));
  return undefined;
}

/** A whole gzip file as a stream of inflated chunks (no cap: the content is streamed, not held). */
export function gunzipStream(raw: Readable): AsyncIterable<Uint8Array> {
  const gunzip = zlib.createGunzip();
  raw.pipe(gunzip);
  return gunzip;
}

/** A whole xz file as a stream of inflated chunks; xz-decompress is loaded only for xz input. */
export async function xzStream(raw: Readable): Promise<AsyncIterable<Uint8Array>> {
  const web = Readable.toWeb(raw) as unknown as ReadableStream<Uint8Array>;
  const xz = (await import('xz-decompress')).default;
  return new xz.XzReadableStream(web) as unknown as AsyncIterable<Uint8Array>;
}
