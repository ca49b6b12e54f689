/**
 * --jobs: worker threads over line-aligned slices of one file, merged (src/wasm/merge.ts). The merged
 * report must equal the one-thread report: the exits cut at a slice boundary still pair, halts and
 * keys before a slice's first exit/entry belong to the exit pending before it, the halt-poll window
 * carries over, the timeline merges exactly. The one documented exception: a run delay whose wake-up
 * and switch-in fall in different slices is not counted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze, type AnalyzeOptions } from '../../src/pipeline/analyze.js';
import { openSource } from '../../src/formats/source.js';
import { HAVE_SHARED, SHARED, TRACES, tmpTrace } from '../support/paths.js';

async function plain(xz: string): Promise<string> {
  const src = await openSource(xz);
  const parts: Buffer[] = [];
  const buf = Buffer.alloc(1 << 20);
  for (let n; (n = await src.read(buf, 0, buf.length)) > 0;) parts.push(Buffer.from(buf.subarray(0, n)));
  src.close();
  return tmpTrace(Buffer.concat(parts), path.basename(xz, '.xz'));
}

/** Every leaf that differs, but the run delays. */
function differences(a: unknown, b: unknown, p = ''): string[] {
  if (typeof a !== 'object' || a === null) return a === b ? [] : [`${p}: ${String(a)} != ${String(b)}`];
  if (/\.run_delay$/.test(p)) return [];
  return Object.keys(a).flatMap((k) => differences((a as Record<string, unknown>)[k], (b as Record<string, unknown> | undefined)?.[k], `${p}.${k}`));
}

/**
 * --jobs options for a small file: cut once every worker is ready and the main thread has read `after` bytes
 * (it waits for them: on its own it would read a small file whole before they start); each run must cut the
 * file into `jobs` slices (the workers' cancelled path would pass every comparison without a slice).
 */
function J(jobs: number, after = 0): AnalyzeOptions {
  return {
    jobs, jobsMinBytes: 0, jobsCutAfter: after,
    onJobsCut: (_f, cuts) => { expect(cuts.length, 'slices cut').toBe(jobs + 1); expect(cuts[1]).toBeGreaterThan(after); cutRuns++; },
  };
}
let cutRuns = 0;

const cases = [path.join(TRACES, 'svm-A-baseline/trace.txt.xz'), path.join(TRACES, 'svm-D-small/trace.txt.xz'), path.join(TRACES, 'pvm-08-small/trace.txt.xz')];

describe('--jobs: slices merged exactly', () => {
  it.each(cases)('%s with 2, 3, 5 and 16 workers', async (xz) => {
    const file = await plain(xz);
    const one = await analyze([file]);
    for (const jobs of [2, 3, 5, 16]) {
      const many = await analyze([file], J(jobs));
      expect(differences(one, many), `jobs ${jobs}`).toEqual([]);
      // run delays: at most one per vCPU thread and boundary is lost
      if (one.sched.available && many.sched.available) {
        one.sched.vcpus.forEach((c, i) => {
          const m = many.sched.available ? many.sched.vcpus[i]! : c;
          expect(m.switched_in).toBe(c.switched_in);
        });
      }
    }
  });
  it.skipIf(!HAVE_SHARED)('a halt-polling capture (svm-F: windows grow and shrink across slices)', async () => {
    const file = await plain(path.join(SHARED, 'captures/svm-F-haltpoll-2ms/trace.txt.xz'));
    const one = await analyze([file]);
    for (const jobs of [2, 4, 9]) expect(differences(one.halt, (await analyze([file], J(jobs))).halt, '.halt'), `jobs ${jobs}`).toEqual([]);
  });
  // issue 15: --jobs 16, 32 and 64 changed halt_attempted_poll by one and the poll-fail/wait split
  it.each(cases)('%s: the same halt figures with 16, 32 and 64 workers', async (xz) => {
    const file = await plain(xz);
    const one = await analyze([file]);
    for (const jobs of [16, 32, 64]) expect(differences(one.halt, (await analyze([file], J(jobs))).halt, '.halt'), `jobs ${jobs}`).toEqual([]);
  }, 60000);
  it.each(cases)('%s: the same report with 16, 32 and 64 workers', async (xz) => {
    const file = await plain(xz);
    const one = await analyze([file]);
    for (const jobs of [16, 32, 64]) expect(differences(one, await analyze([file], J(jobs))), `jobs ${jobs}`).toEqual([]);
  }, 60000);
  // issue 15: at 32 slices svm-A lost one 356 ms sched_wake_to_entry sample of vCPU 1: its sched_wakeup
  // fell in a slice that held no exit or entry of that thread (a halt longer than a slice)
  it('svm-A: the same report with 32 workers (a wake-to-entry across more than one boundary)', async () => {
    const file = await plain(cases[0]!);
    const one = await analyze([file]);
    expect(differences(one, await analyze([file], J(32)))).toEqual([]);
  }, 60000);
  it.skipIf(!HAVE_SHARED)('svm-F (halt-polling): halt figures the same with 16, 32 and 64 workers', async () => {
    const file = await plain(path.join(SHARED, 'captures/svm-F-haltpoll-2ms/trace.txt.xz'));
    const one = await analyze([file]);
    for (const jobs of [16, 32, 64]) expect(differences(one.halt, (await analyze([file], J(jobs))).halt, '.halt'), `jobs ${jobs}`).toEqual([]);
  }, 60000);
  // the cuts are made in what the main thread has not read yet, once the workers are ready (slice-control.ts)
  it.each(cases)('%s: cut after the main thread read a third of it, with 2 and 3 workers', async (xz) => {
    const file = await plain(xz);
    const one = await analyze([file]);
    const third = Math.floor(fs.statSync(file).size / 3);
    for (const jobs of [2, 3]) {
      const before = cutRuns;
      expect(differences(one, await analyze([file], { ...J(jobs, third), chunkBytes: 1 << 16 })), `jobs ${jobs}`).toEqual([]);
      expect(cutRuns).toBeGreaterThan(before);
    }
  });
  it('the main thread read the whole file before the cut (too little left): the workers read nothing, the same report', async () => {
    const file = await plain(cases[1]!);
    const one = await analyze([file]);
    const size = fs.statSync(file).size;
    let cut = false;
    const many = await analyze([file], { jobs: 3, jobsMinBytes: size, jobsCutAfter: 1, chunkBytes: 1 << 16, onJobsCut: () => { cut = true; } });
    expect(cut).toBe(false);
    expect(JSON.stringify(many)).toBe(JSON.stringify(one));
  });
  it('a strict-mode error in a later slice names its line in the whole file', async () => {
    const file = await plain(path.join(TRACES, 'svm-D-small/trace.txt.xz'));
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines.splice(2000, 0, 'garbage line');
    fs.writeFileSync(file, lines.join('\n'));
    const e = (await analyze([file], { ...J(4), strict: true }).catch((x: unknown) => x)) as { format(): string };
    expect(e.format()).toMatch(/:2001:1: expected a trace event line/);
  });
});
