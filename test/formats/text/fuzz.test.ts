/**
 * Fuzzing the text reader (the wasm tokenizer of assembly/text.ts behind src/formats/text.ts) with mutations
 * of real captures: the five text twins of svm-D-small (raw ftrace with the tgid column, trace-cmd report
 * with and without the kvm plugin's names, perf script, perf kvm stat's perf script --ns) and the pvm-08
 * raw ftrace (no kvm_exit/kvm_entry). Each case takes the header lines of a capture and a window of its
 * event lines, then applies up to five mutations: truncation at a line boundary or inside a line, dropped,
 * duplicated and swapped lines, CRLF line ends (all or some), NUL bytes, non-UTF-8 bytes, bit flips, random
 * and printable insertions, deletions. Plus generated garbage.
 *
 * Outcome of every case (harness outcome()): a report satisfying checkReport(), or a KvmtaxError of one line
 * with file:line:col or a byte offset. Every 8th case also runs through the real analyze() on a file (4 MiB
 * arena) and must give exactly the same outcome as the in-memory run (64 KiB arena).
 *
 * CI runs TEXT_RUNS cases; `npm run fuzz` (FUZZ_RUNS) runs more.
 */
import path from 'node:path';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { analyze } from '../../../src/pipeline/analyze.js';
import { TRACES } from '../../support/paths.js';
import {
  frac, fuzz, isBinary, lineStarts, mutate, mutationArb, outcome, readAll, runs, runText, sameOutcome, scratchDir, type Mutation,
} from '../../support/fuzz-harness.js';

const TEXT_RUNS = runs(10_000);
const GARBAGE_RUNS = runs(1_500);
const SOURCES = [
  'svm-D-small/trace.txt.xz', 'svm-D-small/trace-cmd-report.txt.xz', 'svm-D-small/trace-cmd-report-N.txt.xz',
  'svm-D-small/perf-script.txt.xz', 'svm-D-small/perf-kvm-script.txt.xz', 'pvm-08-small/trace.txt.xz',
];

interface Seed { name: string; header: Buffer; lines: Buffer[] }
const seeds: Seed[] = [];
let dir = '';

beforeAll(async () => {
  dir = scratchDir('fuzz-text-files');
  for (const s of SOURCES) {
    const all = await readAll(path.join(TRACES, s));
    const ls = lineStarts(all);
    const lines = ls.map((st, i) => all.subarray(st, ls[i + 1] ?? all.length));
    let h = 0;
    while (h < lines.length && (lines[h]![0] === 0x23 /* # */ || lines[h]!.toString('latin1').startsWith('cpus='))) h++;
    // pvm-08 is large: its first 3000 events are plenty
    seeds.push({ name: s.replace(/\//g, '_').replace('.xz', ''), header: Buffer.concat(lines.slice(0, h)), lines: lines.slice(h, h + 3000) });
  }
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Case { seed: number; start: number; len: number; keepHeader: boolean; muts: Mutation[] }

const caseArb: fc.Arbitrary<Case> = fc.record({
  seed: fc.nat({ max: SOURCES.length - 1 }),
  start: frac,
  len: fc.integer({ min: 1, max: 300 }),
  keepHeader: fc.boolean(),
  muts: fc.array(mutationArb(true), { maxLength: 5 }),
});

function bytesOf(c: Case): Uint8Array {
  const s = seeds[c.seed]!;
  const from = Math.floor(c.start * s.lines.length);
  const body = Buffer.concat(s.lines.slice(from, from + c.len));
  const base = c.keepHeader ? Buffer.concat([s.header, body]) : body;
  return mutate({ bytes: base, points: lineStarts(base) }, c.muts);
}

/** One text case: in memory, and every 8th one also through analyze() on a file; the outcomes must agree. */
async function runCase(bytes: Uint8Array, name: string, i: number): Promise<void> {
  const file = path.join(dir, name);
  if (isBinary(bytes, name)) {
    fs.writeFileSync(file, bytes);
    await outcome(() => analyze([file]), bytes.length);
    return;
  }
  const mem = await outcome(() => runText(bytes, file), bytes.length);
  if (i % 8 === 0) {
    fs.writeFileSync(file, bytes);
    const real = await outcome(() => analyze([file]), bytes.length);
    if (mem.kind === 'error' && real.kind === 'error' && mem.error.offset === 0 && real.error.offset === 0) return; // binary-data message carries the hex head only in the pipeline
    sameOutcome(mem, real, 'in-memory (64 KiB arena) vs analyze() on a file (4 MiB arena)');
  }
}

describe('fuzz: text reader', () => {
  it(`mutated real captures: ${TEXT_RUNS} cases`, async () => {
    const line = await fuzz({
      reader: 'text', ext: (c) => `.${seeds[c.seed]!.name}`, arb: caseArb, bytesOf, numRuns: TEXT_RUNS,
      run: (bytes, c, i) => runCase(bytes, `${seeds[c.seed]!.name}`, i),
    });
    console.log(line);
  }, 600_000);

  it(`generated garbage: ${GARBAGE_RUNS} cases`, async () => {
    // garbage that passes the text check: printable lines with trace-like pieces, and raw bytes
    const piece = fc.oneof(
      fc.constantFrom('# tracer: nop\n', 'cpus=2\n', 'CPU:1 [LOST 5 EVENTS]\n', ' [001] ', ' d..1. ', ': kvm_exit: ', ': kvm_entry: ',
        'reason ', 'vcpu ', ' rip 0x', 'kvm:kvm_exit:', ' 1.000000: ', ' 99999999999999999999.9: ', '-1', '\n', '\r\n', '\t',
        'vmm-193 ', '(  188) ', 'sched_switch: prev_comm=a prev_pid=1 prev_prio=1 prev_state=S ==> next_comm=b next_pid=2 next_prio=1',
        'kvm_vcpu_wakeup: wait time 1000 ns, polling valid', 'kvm_msr: msr_write 6e0 = 0x1234', 'kvm_pio: pio_write at 0x70 size 1 count 1 val 0x8f',
        '18446744073709551615', '4294967296', '0x', 'EXIT_', ' ==> ', ': '),
      fc.string({ maxLength: 20 }),
      fc.stringMatching(/^[ -~]{0,40}$/),
      fc.uint8Array({ maxLength: 32 }).map((u) => Buffer.from(u).toString('latin1')),
    );
    const arb = fc.array(piece, { minLength: 1, maxLength: 120 }).map((ps) => Buffer.from(ps.join(''), 'latin1'));
    const line = await fuzz({
      reader: 'text-garbage', ext: () => '.txt', arb, bytesOf: (b) => b, numRuns: GARBAGE_RUNS,
      run: (bytes, _x, i) => runCase(bytes, 'garbage.txt', i),
    });
    console.log(line);
  }, 600_000);

  it('the seeds themselves read without skips', async () => {
    for (const s of seeds) {
      const r = await runText(Buffer.concat([s.header, ...s.lines]), s.name);
      expect(r.quality.skipped, s.name).toEqual([]);
    }
  });
});
