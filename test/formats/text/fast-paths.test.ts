/**
 * The text tokenizer's shortcuts (assembly/text.ts: the header cache, which takes a line's task, tid, tgid and
 * CPU from an earlier line with the same bytes up to its CPU column, and the timestamp read at the layout of
 * the last line) must never change a result: every case here is read with them and without them, and the
 * core's tables (threads, bins, histograms, skips with their first line and text, dictionary, counters) must
 * be identical. Cases: the real text captures (six seeds of the text fuzz suite), the bench generator's three
 * text formats, and mutations of both (fast-check, through the fuzz harness's mutations).
 */
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Core } from '../../../src/wasm/core.js';
import { detectFormat, readWith } from '../../../src/formats/registry.js';
import { TRACES } from '../../support/paths.js';
import { MemSource as Mem, lineStarts, mutate, mutationArb, readAll, runs, type Mutation } from '../../support/fuzz-harness.js';
import { writeTrace } from '../../../bench/gen.js';

const SOURCES = [
  'svm-D-small/trace.txt.xz', 'svm-D-small/trace-cmd-report.txt.xz', 'svm-D-small/trace-cmd-report-N.txt.xz',
  'svm-D-small/perf-script.txt.xz', 'svm-D-small/perf-kvm-script.txt.xz', 'pvm-08-small/trace.txt.xz',
];
const RUNS = runs(800);


/** The core's tables after reading `bytes` as text, or the error, as one string. */
async function tables(bytes: Uint8Array, name: string, fast: boolean, chunkBytes?: number): Promise<string> {
  const core = new Core({ arenaBytes: 64 * 1024, batch: 1024 });
  core.textFastPaths(fast);
  const src = new Mem(name, bytes);
  let out: string;
  try {
    const entry = detectFormat(src.head, name);
    if (!entry.text) return 'binary';
    await readWith(entry, { src, path: '', display: name }, core, { fileIndex: core.nextFileIndex(), chunkBytes });
    const c = core.endFile();
    out = JSON.stringify({ c, t: core.tables() }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch (e) {
    out = `error: ${(e as Error).message}`;
  }
  return out;
}

async function same(bytes: Uint8Array, name: string, chunkBytes?: number): Promise<void> {
  const a = await tables(bytes, name, true, chunkBytes);
  const b = await tables(bytes, name, false, chunkBytes);
  if (a !== b) {
    const at = [...a].findIndex((ch, i) => ch !== b[i]);
    expect.fail(`${name}: the shortcuts changed the result near ${JSON.stringify(a.slice(Math.max(0, at - 120), at + 80))}\n vs ${JSON.stringify(b.slice(Math.max(0, at - 120), at + 80))}`);
  }
}

interface Seed { name: string; bytes: Buffer; lines: Buffer[]; header: Buffer }
const seeds: Seed[] = [];

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-fast-'));
  try {
    const all: Array<[string, Buffer]> = [];
    for (const s of SOURCES) all.push([s.replace(/\//g, '_').replace('.xz', ''), await readAll(path.join(TRACES, s))]);
    for (const format of ['ftrace', 'perf', 'trace-cmd'] as const) {
      const f = path.join(dir, `gen.${format}.txt`);
      await writeTrace({ format, size: 300_000, seed: 7 }, f);
      all.push([`gen.${format}.txt`, fs.readFileSync(f)]);
    }
    for (const [name, bytes] of all) {
      const ls = lineStarts(bytes);
      const lines = ls.map((st, i) => bytes.subarray(st, ls[i + 1] ?? bytes.length));
      let h = 0;
      while (h < lines.length && (lines[h]![0] === 0x23 || lines[h]!.toString('latin1').startsWith('cpus='))) h++;
      seeds.push({ name, bytes, header: Buffer.concat(lines.slice(0, h)), lines: lines.slice(h, h + 3000) });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

describe('text tokenizer shortcuts change nothing', () => {
  it('on the real captures and the generated traces, whole and in 100-byte chunks', async () => {
    for (const s of seeds) {
      await same(s.bytes, s.name);
      await same(Buffer.concat([s.header, ...s.lines.slice(0, 400)]), s.name, 100);
    }
  }, 300_000);

  it(`on ${RUNS} mutations of them`, async () => {
    const arb = fc.record({
      seed: fc.nat({ max: 1000 }), start: fc.double({ min: 0, max: 1, noNaN: true }), len: fc.integer({ min: 1, max: 300 }),
      muts: fc.array(mutationArb(true), { maxLength: 5 }),
    });
    await fc.assert(fc.asyncProperty(arb, async (c: { seed: number; start: number; len: number; muts: Mutation[] }) => {
      const s = seeds[c.seed % seeds.length]!;
      const from = Math.floor(c.start * s.lines.length);
      const base = Buffer.concat([s.header, ...s.lines.slice(from, from + c.len)]);
      await same(mutate({ bytes: base, points: lineStarts(base) }, c.muts), s.name);
    }), { numRuns: RUNS, seed: 15 });
  }, 600_000);
});
