/**
 * --jobs on perf.data (src/pipeline/perfdata-jobs.ts, assembly/perfdata.ts pdSlice): the file's delivered
 * stream read in slices cut at FINISHED_ROUND records, one worker each, merged. The merged report must equal
 * the one-job report field for field; a file whose ordering breaks perf's rule around a cut, or that has a
 * record without a time where two slices read, is read by one job (and says why in perfDataJobStats).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect, afterAll } from 'vitest';
import { analyze } from '../../../src/pipeline/analyze.js';
import { perfDataJobStats } from '../../../src/pipeline/perfdata-jobs.js';
import { cutsFrom, dataSection } from '../../../src/formats/perfdata/slices.js';
import { tilePerfData, readMaybeXz } from '../../../bench/tile.js';
import { SHARED, HAVE_SHARED } from '../../support/paths.js';
import { tmpFile, removePerfTmpDir } from '../../support/perf-files.js';
import { PerfCraft, rawKvmExit, rawKvmEntry, ID_KVM_EXIT, ID_KVM_ENTRY, S_IP, S_TID, S_TIME, S_CPU, S_PERIOD, S_RAW, S_IDENTIFIER } from '../../support/perf-craft.js';

afterAll(removePerfTmpDir);

/** Every leaf that differs. */
function differences(a: unknown, b: unknown, p = ''): string[] {
  if (typeof a !== 'object' || a === null) return a === b ? [] : [`${p}: ${String(a)} != ${String(b)}`];
  return Object.keys(a).flatMap((k) => differences((a as Record<string, unknown>)[k], (b as Record<string, unknown> | undefined)?.[k], `${p}.${k}`));
}

/**
 * The one-job report and the report at each job count; which of them were sliced. The slices are cut once the
 * workers are ready and the main thread has read `after` bytes of the data (it waits for them: alone it would read
 * a small file whole before they start), in chunks of `arenaBytes`.
 */
async function compare(file: string, jobs: number[], after = 0, arenaBytes?: number, sliceReadAhead?: boolean): Promise<{ sliced: number; fallbacks: number[] }> {
  const one = await analyze([file], { top: 20, histograms: true });
  const sliced0 = perfDataJobStats.sliced, fb0 = perfDataJobStats.fallbacks.length;
  for (const j of jobs) {
    const many = await analyze([file], { top: 20, histograms: true, jobs: j, jobsMinBytes: 0, jobsCutAfter: after, arenaBytes, sliceReadAhead });
    expect(differences(one, many), `jobs ${j}`).toEqual([]);
  }
  return { sliced: perfDataJobStats.sliced - sliced0, fallbacks: perfDataJobStats.fallbacks.slice(fb0) };
}

/** A FINISHED_ROUND record's 8 bytes read as a little-endian u64. */
const ROUND_BYTES = 0x0008_0000_0000_0044n;

const ST = S_IP | S_TID | S_TIME | S_CPU | S_PERIOD | S_RAW | S_IDENTIFIER;
const kvm = (): PerfCraft => new PerfCraft(true)
  .attr({ config: ID_KVM_EXIT, sampleType: ST, ids: [11, 12], name: 'kvm:kvm_exit' })
  .attr({ config: ID_KVM_ENTRY, sampleType: ST, ids: [13, 14], name: 'kvm:kvm_entry' });

/**
 * Two vCPU threads on two CPUs, `rounds` rounds; in each round perf reads CPU 0's buffer then CPU 1's, so
 * the file's order is not time order within a round, and CPU 1's events can be older than CPU 0's last.
 */
function twoCpus(rounds: number, perRound = 40, untimedEachRound = false, lookAlike = false): PerfCraft {
  const c = kvm();
  c.comm(1, 11, 'vcpu0', { time: 1n, pid: 1, tid: 11, cpu: 0 });
  c.comm(1, 12, 'vcpu1', { time: 2n, pid: 1, tid: 12, cpu: 1 });
  c.round();
  for (let r = 0; r < rounds; r++) {
    const t0 = 1000n + BigInt(r) * 100_000n;
    for (const [tid, cpu] of [[11, 0], [12, 1]] as const) {
      for (let i = 0; i < perRound; i++) {
        const t = t0 + BigInt(i) * 2000n + BigInt(cpu) * 700n;
        const reason = [0x78, 0x7c, 0x400, 0x72][(i + r) % 4]!;
        // lookAlike: the bytes of a FINISHED_ROUND record (44 00 00 00 00 00 08 00) in the sample's ip (8-byte aligned
        // in the file) and in the exit's rip (4 bytes off alignment): neither is a record
        const ip = lookAlike ? ROUND_BYTES : undefined, rip = lookAlike ? ROUND_BYTES : 0x1000n + BigInt(i);
        c.sample(0, { id: 11, pid: 1, tid, time: t, cpu, ip, raw: rawKvmExit(true, tid, reason, rip, cpu) });
        c.sample(1, { id: 13, pid: 1, tid, time: t + 300n + BigInt((i * 37 + r * 11) % 900), cpu, raw: rawKvmEntry(true, tid, 0x1000n + BigInt(i), cpu) });
      }
    }
    // a COMM record without a time (no sample_id_all): delivered at once, at the latest time delivered
    if (untimedEachRound) c.comm(1, 20 + r, `worker${r}`);
    c.round();
  }
  return c;
}

describe('perf.data --jobs: slices merged exactly', () => {
  it('crafted: 60 rounds of two CPUs read at 2, 3, 5 and 9 jobs', async () => {
    const r = await compare(tmpFile('jobs-2cpu.data', twoCpus(60).buildFile()), [2, 3, 5, 9]);
    expect(r.fallbacks).toEqual([]);
    expect(r.sliced).toBe(4);
  });

  it('crafted: FINISHED_ROUND look-alikes inside samples, aligned and not, are never taken for cuts', async () => {
    const f = tmpFile('jobs-2cpu-lookalike.data', twoCpus(60, 40, false, true).buildFile());
    const fd = fs.openSync(f, 'r');
    const d = dataSection(fd)!;
    const bytes = fs.readFileSync(f);
    fs.closeSync(fd);
    // the look-alikes are there, at both alignments
    const at: number[] = [];
    for (let p = bytes.indexOf(Buffer.from([0x44, 0, 0, 0, 0, 0, 8, 0]), d.start); p >= 0; p = bytes.indexOf(Buffer.from([0x44, 0, 0, 0, 0, 0, 8, 0]), p + 1)) at.push((p - d.start) % 8);
    expect(new Set(at)).toEqual(new Set([0, 4]));
    // the real records, walked from the data's start
    const rounds = new Set<number>();
    for (let p = d.start; p < d.end; p += bytes.readUInt16LE(p + 6)) if (bytes.readUInt32LE(p) === 68) rounds.add(p);
    // shares that end at every place within a round (one round is about 18 KB): the next bytes that look like a
    // FINISHED_ROUND are most often a sample's ip or rip
    for (const jobs of [2, 3, 5]) {
      for (let unread = d.start; unread < d.start + 20_000; unread += 1_000) {
        const cuts = cutsFrom(f, unread, jobs)!;
        expect(cuts).toHaveLength(jobs - 1);
        for (const c of cuts) expect(rounds.has(c), `cut at ${c} (${jobs} jobs from ${unread})`).toBe(true);
      }
    }
    const r = await compare(f, [2, 3]);
    expect(r.fallbacks).toEqual([]);
    expect(r.sliced).toBe(2);
  });

  it('crafted: cut after the main thread read a third of the data (64 KiB chunks), at 2 and 3 jobs', async () => {
    const f = tmpFile('jobs-2cpu-late-cut.data', twoCpus(60).buildFile());
    const r = await compare(f, [2, 3], Math.floor(fs.statSync(f).size / 3), 64 << 10);
    expect(r.fallbacks).toEqual([]);
    expect(r.sliced).toBe(2);
  });

  // slices read ahead only with a CPU to spare (perfdata-jobs.ts): both ways, in 64 KiB chunks
  it('crafted: the slices read ahead and read in turn with the walk, at 2 and 3 jobs', async () => {
    const f = tmpFile('jobs-2cpu-ahead.data', twoCpus(60).buildFile());
    for (const ahead of [true, false]) {
      const r = await compare(f, [2, 3], Math.floor(fs.statSync(f).size / 3), 64 << 10, ahead);
      expect(r.fallbacks, `read ahead ${ahead}`).toEqual([]);
      expect(r.sliced, `read ahead ${ahead}`).toBe(2);
    }
  });

  it('the main thread read everything before the cut (too little left): the workers read nothing, the same report', async () => {
    const f = tmpFile('jobs-2cpu-whole.data', twoCpus(60).buildFile());
    const one = await analyze([f], { top: 20, histograms: true });
    const before = { ...perfDataJobStats, fallbacks: perfDataJobStats.fallbacks.length };
    const many = await analyze([f], { top: 20, histograms: true, jobs: 3, jobsMinBytes: fs.statSync(f).size, jobsCutAfter: 1 });
    expect(differences(one, many)).toEqual([]);
    expect([perfDataJobStats.sliced, perfDataJobStats.unsliced, perfDataJobStats.fallbacks.length]).toEqual([before.sliced, before.unsliced + 1, before.fallbacks]);
  });

  it('crafted: an event older than a cut, long after it (perf would deliver it late): read by one job, the same report', async () => {
    const c = twoCpus(30);
    // a late kvm_exit/kvm_entry pair of CPU 1 at a time of round 2, written after round 29
    c.sample(0, { id: 11, pid: 1, tid: 12, time: 201_500n, cpu: 1, raw: rawKvmExit(true, 12, 0x7c, 0x2000n, 1) });
    c.sample(1, { id: 13, pid: 1, tid: 12, time: 201_600n, cpu: 1, raw: rawKvmEntry(true, 12, 0x2000n, 1) });
    c.round();
    const r = await compare(tmpFile('jobs-late.data', c.buildFile()), [2, 4]);
    expect(r.sliced).toBe(0);
    expect(r.fallbacks.length).toBe(2);
    expect(r.fallbacks.every((f) => f === 3)).toBe(true); // SLF_LATE
  });

  it('crafted: a record without a time where two slices read: read by one job, the same report', async () => {
    const r = await compare(tmpFile('jobs-untimed.data', twoCpus(40, 40, true).buildFile()), [2, 3]);
    expect(r.sliced).toBe(0);
    expect(r.fallbacks).toEqual([4, 4]); // SLF_UNTIMED
  });
});

describe.skipIf(!HAVE_SHARED)('perf.data --jobs on a real capture (../shared)', () => {
  it('svm-A perf kvm stat record, tiled 4 times: 2, 3 and 6 jobs', async () => {
    const src = path.join(SHARED, 'captures/svm-A-baseline/perf-kvm.data.xz');
    const out = tmpFile('jobs-svmA-tiled.data', new Uint8Array(0));
    const raw = readMaybeXz(src);
    const t = tilePerfData(raw, out, 4 * raw.length);
    expect(t.copies).toBeGreaterThanOrEqual(4);
    const r = await compare(out, [2, 3, 6]);
    expect(r.fallbacks).toEqual([]);
    expect(r.sliced).toBe(3);
  });
});
