/**
 * A plain text file is read ahead (text/text.ts scanAhead: the next chunk is read into one of two core
 * buffers while the core scans the other). The core must see what the arena path shows it: every case is
 * read both ways, from a file (read ahead) and from memory (the arena path), at small arenas so that lines,
 * over-long lines, non-breaking spaces and the file's end fall on every kind of boundary; the core's tables
 * (threads, bins, histograms, skips, dictionary, counters), or the error, must be identical.
 */
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Core } from '../../../src/wasm/core.js';
import { detectFormat, readWith } from '../../../src/formats/registry.js';
import { openSource, type ByteSource } from '../../../src/formats/source.js';
import { TRACES } from '../../support/paths.js';
import { MemSource } from '../../support/fuzz-harness.js';

let dir = '';
let real: Buffer = Buffer.alloc(0);
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-ahead-'));
  real = execFileSync('xz', ['-dc', path.join(TRACES, 'svm-D-small/trace.txt.xz')], { maxBuffer: 1 << 30 });
});
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

async function tablesOf(src: ByteSource, arenaBytes: number): Promise<string> {
  const core = new Core({ arenaBytes, batch: 256 });
  try {
    const entry = detectFormat(src.head, src.name);
    await readWith(entry, { src, path: '', display: 'x' }, core, { fileIndex: core.nextFileIndex() });
    const c = core.endFile();
    return JSON.stringify({ c, t: core.tables() }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch (e) {
    return `error: ${(e as Error).message}`;
  } finally {
    src.close();
  }
}

let n = 0;
/** The same bytes through both paths; returns the tables (to check that a case says what it should). */
async function same(bytes: Buffer, arenaBytes: number): Promise<string> {
  const file = path.join(dir, `case${n++}.txt`);
  fs.writeFileSync(file, bytes);
  const src = await openSource(file);
  expect(src.claim, 'a plain file is read ahead').toBeTypeOf('function');
  const ahead = await tablesOf(src, arenaBytes);
  const arena = await tablesOf(new MemSource(file, bytes), arenaBytes);
  if (ahead !== arena) {
    const at = [...ahead].findIndex((ch, i) => ch !== arena[i]);
    expect.fail(`arena ${arenaBytes}: read ahead differs near ${JSON.stringify(ahead.slice(Math.max(0, at - 120), at + 80))}\n vs ${JSON.stringify(arena.slice(Math.max(0, at - 120), at + 80))}`);
  }
  return ahead;
}

describe('text read ahead = the arena path', () => {
  it('a real capture at arenas from 4 KiB up, and cut to end on every kind of boundary', async () => {
    for (const a of [4096, 4099, 65536]) await same(real, a);
    // the file's size a multiple of the arena, one byte more or less, and ending without a newline
    for (const len of [4096 * 3, 4096 * 3 + 1, 4096 * 3 - 1, 65536, 200_000]) {
      const t = await same(real.subarray(0, len), 4096);
      expect(t.startsWith('error'), t.slice(0, 200)).toBe(false);
    }
  });

  it('over-long lines (longer than the arena, exactly it, one short) where the buffers meet', async () => {
    const lines = real.toString('latin1').split('\n');
    for (const long of [4095, 4096, 4097, 9000, 20000]) {
      for (const at of [3, 40, 41, 200]) {
        const l = lines.slice();
        l.splice(at, 0, `x${'y'.repeat(long - 1)}`);
        const t = await same(Buffer.from(l.slice(0, 400).join('\n'), 'latin1'), 4096);
        expect(t.startsWith('error'), t.slice(0, 200)).toBe(false);
      }
    }
  });

  it('non-breaking spaces (C2 A0) on both sides of every chunk boundary read as the two spaces they stand for', async () => {
    // copies from web pages: the spaces in the lines' padding are U+00A0 (the tokenizer makes each two
    // spaces as its newline search passes it): the tables equal those of the file with plain spaces
    const plain = Buffer.from(real.subarray(0, 60000));
    const bytes = Buffer.from(plain.toString('latin1').replace(/ {2}/g, '\u00c2\u00a0'), 'latin1');
    expect(bytes.length).toBe(plain.length);
    for (const a of [4096, 4097, 4098]) {
      const t = await same(bytes, a);
      expect(t.startsWith('error'), t.slice(0, 200)).toBe(false);
      expect(t, `arena ${a}`).toBe(await same(plain, a));
    }
  });

  it('an error stops both at the same line (binary bytes in a text trace)', async () => {
    const bad = Buffer.concat([real.subarray(0, 10000), Buffer.from([0, 1, 2, 10]), real.subarray(10000, 20000)]);
    const t = await same(bad, 4096);
    expect(t).toMatch(/^error: binary data/);
  });

  it('a file smaller than the arena is one read into it: no read-ahead buffers, the same tables', async () => {
    // the read-ahead buffers (4 x the arena) took a 2-line report's core memory from 34 to 68 MB, past the
    // 64 MB at which V8 starts a full collection for external memory
    const memoryAfter = async (arenaBytes: number): Promise<number> => {
      const src = await openSource(path.join(dir, 'small.txt'));
      const core = new Core({ arenaBytes, batch: 256 });
      try {
        await readWith(detectFormat(src.head, src.name), { src, path: '', display: 'x' }, core, { fileIndex: core.nextFileIndex() });
        return core.memoryBuffer().byteLength;
      } finally {
        src.close();
      }
    };
    fs.writeFileSync(path.join(dir, 'small.txt'), real.subarray(0, 300_000));
    expect(await same(real.subarray(0, 300_000), 1 << 20)).not.toMatch(/^error/);
    // the core's memory at the default 4 MiB arena: 17 MB after its set-up, grown by doubling
    expect(await memoryAfter(4 << 20), 'a 300 KB file: no 16 MiB of read-ahead buffers').toBeLessThanOrEqual(34 << 20);
  });

  it('a gzip file goes through the arena path (its source is not a plain file)', async () => {
    const file = path.join(dir, 'z.txt.gz');
    fs.writeFileSync(file, zlib.gzipSync(real.subarray(0, 20000)));
    const src = await openSource(file);
    expect(src.claim).toBeUndefined();
    src.close();
  });
});
