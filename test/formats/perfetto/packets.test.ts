/**
 * The Perfetto reader's file access (src/formats/perfetto/packets.ts): forEachPacket reads the top level in
 * 1 MiB chunks, with packets that straddle a chunk or outgrow it; FileWindows serves bundles from a few
 * windows. Both must give exactly the file's bytes at every offset, and word a short file as before.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { forEachPacket, FileWindows } from '../../../src/formats/perfetto/packets.js';
import { FormatError } from '../../../src/formats/bytes.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-pf-packets-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A varint's bytes. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) { out.push((n % 0x80) | 0x80); n = Math.floor(n / 0x80); }
  out.push(n);
  return out;
}

/** A seeded byte generator (xorshift). */
function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x & 0xff; }
  return b;
}

describe('Perfetto file access', () => {
  it('forEachPacket: packets of every size, across and beyond its 1 MiB chunks, and other top-level fields', () => {
    const sizes = [10, 3 << 20, 100, (1 << 20) - 3, 5, 0, (1 << 20) + 17, 70_000, 1];
    const parts: number[] = [];
    const want: Array<{ at: number; data: Uint8Array }> = [];
    sizes.forEach((n, i) => {
      if (i % 3 === 1) parts.push(0x10, ...varint(i * 1000)); // field 2, a varint: skipped
      const at = parts.length;
      const data = bytes(n, i + 1);
      parts.push(0x0a, ...varint(n));
      want.push({ at, data });
      for (const c of data) parts.push(c);
    });
    const f = path.join(dir, 'packets.pftrace');
    fs.writeFileSync(f, Uint8Array.from(parts));
    const fd = fs.openSync(f, 'r');
    const got: Array<{ at: number; data: Uint8Array }> = [];
    forEachPacket(fd, parts.length, (buf, len, at, dataOff) => {
      expect(dataOff).toBe(at + 1 + varint(len).length);
      got.push({ at, data: Uint8Array.from(buf.subarray(0, len)) });
    });
    fs.closeSync(fd);
    expect(got.length).toBe(want.length);
    got.forEach((g, i) => {
      expect(g.at, `packet ${i}`).toBe(want[i]!.at);
      expect(Buffer.compare(Buffer.from(g.data), Buffer.from(want[i]!.data)), `packet ${i}`).toBe(0);
    });
  });

  it('forEachPacket: a packet announced past the end of the file is truncated, at its offset', () => {
    const f = path.join(dir, 'short.pftrace');
    fs.writeFileSync(f, Uint8Array.from([0x0a, 2, 1, 2, 0x0a, ...varint(5000), 1, 2, 3]));
    const fd = fs.openSync(f, 'r');
    try {
      expect(() => forEachPacket(fd, fs.fstatSync(fd).size, () => {})).toThrow(/truncated packet at offset 4: 5000 bytes announced, 3 left/);
    } finally { fs.closeSync(fd); }
  });

  it('FileWindows: any (offset, length) gives the bytes of the file, through windows, alone when larger, or a truncation', () => {
    const content = bytes(20_000, 7);
    const f = path.join(dir, 'windows.bin');
    fs.writeFileSync(f, content);
    const fd = fs.openSync(f, 'r');
    try {
      const w = new FileWindows(fd, content.length, 512, 3);
      let x = 12345;
      const rnd = (n: number): number => { x = (x * 1103515245 + 12345) % 2147483648; return x % n; };
      for (let i = 0; i < 3000; i++) {
        // mostly forward and near each other, as bundles are, sometimes far back or larger than a window
        const off = i % 10 === 0 ? rnd(content.length) : Math.min(content.length - 1, (i * 37) % content.length + rnd(64));
        const len = Math.min(content.length - off, i % 17 === 0 ? 600 + rnd(2000) : rnd(300));
        const [b, s] = w.get(off, len, off);
        expect(Buffer.compare(Buffer.from(b.subarray(s, s + len)), Buffer.from(content.subarray(off, off + len))), `${off}+${len}`).toBe(0);
      }
      expect(() => w.get(content.length - 10, 20, 999)).toThrow(FormatError);
      expect(() => w.get(content.length - 10, 20, 999)).toThrow('truncated packet at offset 999');
      expect(() => w.get(content.length - 10, 2000, 998)).toThrow('truncated packet at offset 998');
    } finally { fs.closeSync(fd); }
  });
});
