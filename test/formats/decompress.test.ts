/**
 * The capped decompression module: libzstd (WebAssembly) and fzstd give the same bytes on the zstd chunks of a
 * real trace.dat v7 (traces/svm-D-small/trace.dat.xz, recorded by trace-cmd with zstd), stated sizes are held
 * to, frames without a stated size grow their buffer, and the cap and the error wording hold for both.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import { blockDecompressor, unzstdCapped, unzstdInto, zstdWarmup, xzStream, xzFileReader, systemXz, zstdSizeBound, MAX_INFLATED } from '../../src/formats/decompress.js';
import { openSource } from '../../src/formats/source.js';
import os from 'node:os';
import { FormatError } from '../../src/formats/bytes.js';

const DAT = path.join(import.meta.dirname, '../../traces/svm-D-small/trace.dat.xz');

/** The zstd chunks of a trace.dat v7: each one [u32 compressed size][u32 size][frame] (trace-cmd.dat.v7 compression). */
function zstdChunks(b: Buffer): Array<[Uint8Array, number]> {
  const out: Array<[Uint8Array, number]> = [];
  for (let i = 8; i + 4 < b.length; i++) {
    if (b[i] !== 0x28 || b[i + 1] !== 0xb5 || b[i + 2] !== 0x2f || b[i + 3] !== 0xfd) continue;
    const cs = b.readUInt32LE(i - 8), us = b.readUInt32LE(i - 4);
    if (cs > 0 && i + cs <= b.length && us > 0 && us < MAX_INFLATED) {
      out.push([b.subarray(i, i + cs), us]);
      i += cs - 1;
    }
  }
  return out;
}

let chunks: Array<[Uint8Array, number]> = [];
let byFzstd: Uint8Array[] = [];
let compressor: { compress(b: Uint8Array): Uint8Array; reset(): void; compressChunk(b: Uint8Array): Uint8Array; compressEnd(): Uint8Array };

beforeAll(async () => {
  chunks = zstdChunks(execFileSync('xz', ['-dc', DAT], { maxBuffer: 1 << 26 }));
  // before zstdWarmup: fzstd
  byFzstd = chunks.map(([c, u]) => unzstdCapped(c, u));
  await zstdWarmup();
  compressor = await (await import('@hpcc-js/wasm-zstd')).Zstd.load();
});

describe('zstd', () => {
  it('libzstd gives the bytes fzstd gives on a real trace.dat v7, with and without the stated size', () => {
    expect(chunks.length).toBeGreaterThan(5);
    expect(chunks.reduce((a, [, u]) => a + u, 0)).toBeGreaterThan(4 << 20);
    chunks.forEach(([c, u], i) => {
      const a = unzstdCapped(c, u);
      expect(a.length).toBe(u);
      expect(Buffer.compare(a, byFzstd[i]!)).toBe(0);
      expect(Buffer.compare(unzstdCapped(c), byFzstd[i]!)).toBe(0);
    });
  });

  it('a frame without a stated size larger than the first guess (8x the input): the buffer grows', () => {
    const data = new Uint8Array(5 << 20).map((_, i) => (i >> 12) & 0xff); // compresses far more than 8x
    compressor.reset();
    const a = compressor.compressChunk(data), b = compressor.compressEnd(); // streamed: no content size
    const z = Buffer.concat([a, b]);
    expect(z.length * 8).toBeLessThan(data.length);
    expect(Buffer.compare(unzstdCapped(z), data)).toBe(0);
    // two frames back to back: both
    const two = unzstdCapped(Buffer.concat([compressor.compress(data.subarray(0, 1000)), compressor.compress(data.subarray(1000, 3000))]));
    expect(Buffer.compare(two, data.subarray(0, 3000))).toBe(0);
  });

  it('trace.dat block decoder: the stated size is held to, the cap applies, corrupt data is a FormatError with the offset', () => {
    const d = blockDecompressor('zstd')!;
    const [c, u] = chunks[0]!;
    expect(d(c, u, 100).length).toBe(u);
    expect(() => d(c, u - 1, 100)).toThrow(FormatError);
    expect(() => d(c, MAX_INFLATED + 1, 200)).toThrow(/at offset 200 claims \d+ bytes, over the 1073741824-byte cap/);
    const bad = Uint8Array.from(c);
    bad.fill(0x55, 12, 40);
    let e: unknown;
    try { d(bad, u, 300); } catch (x) { e = x; }
    expect(e).toBeInstanceOf(FormatError);
    expect((e as FormatError).message).toMatch(/^corrupt zstd data at offset 300: /);
    expect(() => unzstdCapped(c, MAX_INFLATED + 1)).toThrow(/over the 1073741824-byte cap/);
  });
});

describe('build/libzstd.cjs (scripts/libzstd.mjs: the package with its WebAssembly kept in a file)', () => {
  it('is made from the installed package and decodes real trace.dat chunks as fzstd does', async () => {
    const root = path.join(import.meta.dirname, '../..');
    const copy = path.join(root, 'build', 'libzstd.cjs');
    expect(fs.existsSync(copy), 'npm run build writes it (scripts/libzstd.mjs prints why when it cannot)').toBe(true);
    const version = (JSON.parse(fs.readFileSync(path.join(root, 'node_modules/@hpcc-js/wasm-zstd/package.json'), 'utf8')) as { version: string }).version;
    expect(fs.readFileSync(copy, 'utf8').split('\n')[0]).toContain(`@hpcc-js/wasm-zstd ${version},`);
    const z = await (createRequire(import.meta.url)(copy) as typeof import('@hpcc-js/wasm-zstd')).Zstd.load();
    // the package's own decompress copies through a JS array (slow): three chunks
    for (let i = 0; i < 3; i++) expect(Buffer.compare(z.decompress(chunks[i]![0]), byFzstd[i]!)).toBe(0);
  });
});

describe('zstd into a given buffer (trace.dat chunks straight into core memory)', () => {
  it('libzstd writes exactly the stated bytes into the view, and nothing around it', () => {
    const d = blockDecompressor('zstd')!;
    expect(d.into).toBeTypeOf('function');
    const mem = new Uint8Array(Math.max(...chunks.map(([, u]) => u)) + 64);
    chunks.forEach(([c, u], i) => {
      mem.fill(0xa5);
      d.into!(c, mem.subarray(32, 32 + u), 100);
      expect(Buffer.compare(mem.subarray(32, 32 + u), byFzstd[i]!)).toBe(0);
      expect(mem.subarray(0, 32).every((b) => b === 0xa5)).toBe(true);
      expect(mem.subarray(32 + u).every((b) => b === 0xa5)).toBe(true);
    });
    // a smaller chunk after the largest (the buffers in libzstd's heap are reused)
    const [c, u] = chunks[chunks.length - 1]!;
    expect(unzstdInto(c, mem.subarray(0, u))).toBe(u);
    expect(Buffer.compare(mem.subarray(0, u), byFzstd[chunks.length - 1]!)).toBe(0);
  });

  it('a wrong stated size or corrupt data is a FormatError with the offset', () => {
    const d = blockDecompressor('zstd')!;
    const [c, u] = chunks[0]!;
    expect(() => d.into!(c, new Uint8Array(u - 1), 100)).toThrow(/^corrupt zstd data at offset 100: /);
    expect(() => d.into!(c, new Uint8Array(u + 1), 100)).toThrow(new RegExp(`^zstd data at offset 100 gave ${u} bytes, expected ${u + 1}$`));
    const bad = Uint8Array.from(c);
    bad.fill(0x55, 12, 40);
    let e: unknown;
    try { d.into!(bad, new Uint8Array(u), 300); } catch (x) { e = x; }
    expect(e).toBeInstanceOf(FormatError);
    expect((e as FormatError).message).toMatch(/^corrupt zstd data at offset 300: /);
  });
});

describe('a stated block size is checked against the zstd headers before a buffer is set aside', () => {
  // hand-made frames (RFC 8878): magic 28 b5 2f fd, a frame header descriptor, then block headers of 3 bytes
  // (bit 0 last, bits 1-2 type: 0 raw, 1 RLE, 2 compressed; bits 3.. the size)
  const bh = (last: number, type: number, size: number): number[] => { const v = last | (type << 1) | (size << 3); return [v & 255, (v >> 8) & 255, v >> 16]; };
  const MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
  // single segment (0x20), a 1-byte content size of 5, one raw block of "hello"
  const raw = Uint8Array.from([...MAGIC, 0x20, 5, ...bh(1, 0, 5), ...Buffer.from('hello')]);
  // no content size (0x00) and a window descriptor, an RLE block of 1000 'x', then a raw block of 3 bytes
  const rle = Uint8Array.from([...MAGIC, 0x00, 0x00, ...bh(0, 1, 1000), 0x78, ...bh(1, 0, 3), 0x61, 0x62, 0x63]);

  it('reads the stated size and the bound of raw and RLE blocks, which the decoder agrees with', () => {
    expect(zstdSizeBound(raw)).toEqual({ stated: 5, max: 5 });
    expect(Buffer.from(unzstdCapped(raw)).toString()).toBe('hello');
    expect(zstdSizeBound(rle)).toEqual({ stated: undefined, max: 1003 });
    expect(unzstdCapped(rle).length).toBe(1003);
    // two frames: the sizes add up, and one frame without a stated size makes the sum unknown
    expect(zstdSizeBound(Uint8Array.from([...raw, ...raw]))).toEqual({ stated: 10, max: 10 });
    expect(zstdSizeBound(Uint8Array.from([...raw, ...rle]))).toEqual({ stated: undefined, max: 1008 });
    // a compressed block regenerates at most 128 KiB
    expect(zstdSizeBound(Uint8Array.from([...MAGIC, 0x00, 0x00, ...bh(1, 2, 2), 0, 0]))!.max).toBe(128 << 10);
    // not a clean run of frames: no bound (the decoder has the last word)
    expect(zstdSizeBound(raw.subarray(0, raw.length - 1))).toBeUndefined();
    expect(zstdSizeBound(Uint8Array.from([...raw, 1, 2, 3]))).toBeUndefined();
  });

  it('a chunk header claiming more than the frames hold is a FormatError before anything is inflated', () => {
    const d = blockDecompressor('zstd')!;
    expect(() => d.check(raw, 6, 40)).toThrow(/^zstd data at offset 40 claims 6 bytes, its frames say 5$/);
    // the fuzz-found case: 64 MiB more than the chunk can hold, once set aside in core memory as a memory-budget error
    expect(() => d.check(rle, 1003 + (64 << 20), 40)).toThrow(/^zstd data at offset 40 claims 67109867 bytes, its blocks hold at most 1003$/);
    expect(() => d.into!(rle, new Uint8Array(1004), 40)).toThrow(/its blocks hold at most 1003/);
    d.check(rle, 1003, 40);
    // zlib: deflate cannot inflate more than about 1032:1
    const z = blockDecompressor('zlib')!;
    expect(() => z.check(new Uint8Array(10), 10 * 1032 + 65, 7)).toThrow(/^zlib data at offset 7 claims 10385 bytes, more than 10 compressed bytes can hold$/);
    z.check(new Uint8Array(10), 10 * 1032 + 64, 7);
  });
});

describe('xz', () => {
  const TEXT = path.join(import.meta.dirname, '../../traces/svm-D-small/trace.txt.xz');
  const all = async (it: AsyncIterable<Uint8Array>): Promise<Buffer> => {
    const parts: Uint8Array[] = [];
    for await (const c of it) parts.push(c);
    return Buffer.concat(parts);
  };
  const raw = (b: Uint8Array): Readable => Readable.from([b]);
  const xz = systemXz();
  if (!xz) console.warn('decompress tests: no xz on PATH: the system-xz cases are skipped');

  it.skipIf(!xz)('the system xz and the builtin decoder give the same bytes on a real capture', async () => {
    const file = fs.readFileSync(TEXT);
    const a = await all(await xzStream(raw(file)));
    const b = await all(await xzStream(raw(file), true));
    expect(a.length).toBeGreaterThan(300_000);
    expect(Buffer.compare(a, b)).toBe(0);
    expect(a.subarray(0, 12).toString()).toBe('# tracer: no');
  });

  it.skipIf(!xz)('corrupt or cut data ends the stream with an error, in liblzma\'s words', async () => {
    const file = Buffer.from(fs.readFileSync(TEXT));
    const cut = file.subarray(0, Math.floor(file.length / 2));
    await expect(all(await xzStream(raw(cut)))).rejects.toThrow(/Unexpected end of input/);
    const bad = Buffer.from(file);
    bad.fill(0x33, 4000, 4100);
    await expect(all(await xzStream(raw(bad)))).rejects.toThrow(/corrupt/i);
    await expect(all(await xzStream(raw(bad), true))).rejects.toThrow();
  });

  it.skipIf(!xz)('a file read by xz itself (its descriptor as xz\'s input): the same bytes, how far it read, and the file\'s offset left alone', async () => {
    const fd = fs.openSync(TEXT, 'r');
    try {
      const s = xzFileReader(fd)!;
      const parts: Buffer[] = [];
      const b = Buffer.alloc(100_000);
      for (let n; (n = await s.read(b, 0, b.length)) > 0;) parts.push(Buffer.from(b.subarray(0, n)));
      const got = Buffer.concat(parts);
      expect(Buffer.compare(got, await all(await xzStream(raw(fs.readFileSync(TEXT)), true)))).toBe(0);
      // xz has exited: its fdinfo is gone (the progress line then keeps the last position it saw)
      expect(s.rawPosition()).toBeUndefined();
      // the descriptor is kvmtax's too, read at offsets: a positional read still sees the start
      const head = Buffer.alloc(6);
      fs.readSync(fd, head, 0, 6, 0);
      expect([...head]).toEqual([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
    } finally { fs.closeSync(fd); }
  });

  it.skipIf(!xz)('the progress line\'s position: a .xz file has one (how far xz has read it); a FIFO has none (its bytes read count)', async () => {
    const src = await openSource(TEXT);
    try {
      expect(src.compression).toBe('xz');
      expect(typeof src.rawPosition).toBe('function');
      // (the position while xz runs: test/cli/inputs.test.ts, "progress of a compressed input")
      const at = src.rawPosition!();
      expect(at >= 0 && at <= fs.statSync(TEXT).size).toBe(true);
    } finally { src.close(); }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-fifo-'));
    try {
      const fifo = path.join(dir, 'f');
      execFileSync('mkfifo', [fifo]);
      const writer = (await import('node:child_process')).spawn('sh', ['-c', `xz -dc "${TEXT}" > "${fifo}"`]);
      const s = await openSource(fifo);
      try {
        expect(s.compression).toBeUndefined();
        expect(s.rawPosition).toBeUndefined();
        let n = 0;
        const b = Buffer.alloc(1 << 20);
        for (let k; (k = await s.read(b, 0, b.length)) > 0;) n += k;
        expect(n).toBe(execFileSync('xz', ['-dc', TEXT], { maxBuffer: 1 << 26 }).length);
      } finally { s.close(); writer.kill(); }
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });

  it.skipIf(!xz)('through openSource: a .xz file\'s content, and a corrupt one ends in liblzma\'s words', async () => {
    const src = await openSource(TEXT);
    const parts: Buffer[] = [];
    const b = Buffer.alloc(1 << 20);
    for (let n; (n = await src.read(b, 0, b.length)) > 0;) parts.push(Buffer.from(b.subarray(0, n)));
    src.close();
    expect(Buffer.compare(Buffer.concat(parts), execFileSync('xz', ['-dc', TEXT], { maxBuffer: 1 << 26 }))).toBe(0);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-xz-'));
    try {
      const bad = Buffer.from(fs.readFileSync(TEXT));
      bad.fill(0x33, 4000, 4100);
      const f = path.join(dir, 'bad.txt.xz');
      fs.writeFileSync(f, bad);
      const read = async (): Promise<void> => {
        const s = await openSource(f);
        try { while ((await s.read(b, 0, b.length)) > 0); } finally { s.close(); }
      };
      await expect(read()).rejects.toThrow(/corrupt/i);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });
});
