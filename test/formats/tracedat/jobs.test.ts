/**
 * --jobs for trace.dat (issue 15): every CPU stream cut at common times, the slices read by worker threads and
 * merged (src/pipeline/jobs-tracedat.ts), must give the one-thread report. Real captures (v6, v7 with zstd and
 * zlib chunks, x86-tsc) at 2, 16 and 64 slices, and crafted files for each rule: equal timestamps at a cut, lost
 * events at a page start, a stream whose times go back (read again by one thread, with a note), processes
 * learned and threads renamed before a cut (a later slice's assumptions checked, and read again when wrong),
 * v6 / v7 plain / zstd / zlib, a file too small to split. A run delay whose wake-up and switch-in fall in
 * different slices is counted as one thread counts it (the merge settles each later slice's first switch-in).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze, type AnalyzeOptions } from '../../../src/pipeline/analyze.js';
import { tdJobsStats } from '../../../src/pipeline/jobs-tracedat.js';
import { HAVE_SHARED, SHARED, TRACES } from '../../support/paths.js';
import { craftTraceDat, pages, rec, type Rec } from '../../support/tracedat-craft.js';

const plain = (r: unknown): unknown => JSON.parse(JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));

/** Every leaf that differs. */
function differences(a: unknown, b: unknown, p = ''): string[] {
  if (typeof a !== 'object' || a === null) return a === b ? [] : [`${p}: ${String(a)} != ${String(b)}`];
  const keys = new Set([...Object.keys(a), ...Object.keys((b ?? {}) as object)]);
  return [...keys].flatMap((k) => differences((a as Record<string, unknown>)[k], (b as Record<string, unknown> | undefined)?.[k], `${p}.${k}`));
}

const OPTS: AnalyzeOptions = { top: 20, histograms: true };

/** The report with `jobs` slices (no size limit) and one job's, compared; returns the sliced one. */
async function same(file: string, jobs: number, o: AnalyzeOptions = {}): Promise<Record<string, unknown>> {
  const one = plain(await analyze([file], { ...OPTS, ...o }));
  const many = plain(await analyze([file], { ...OPTS, ...o, jobs, jobsMinBytes: 0 })) as Record<string, unknown>;
  expect(differences(one, many), `${path.basename(file)}, ${jobs} jobs`).toEqual([]);
  return many;
}

const dir = (d: string, re: RegExp): string[] => (fs.existsSync(d) ? fs.readdirSync(d).filter((f) => re.test(f)).map((f) => path.join(d, f)) : []);
const local = [path.join(TRACES, 'svm-D-small/trace.dat.xz'), ...dir(path.join(TRACES, 'svm-R-kvmtax-record'), /\.dat\.xz$/)];
const shared = HAVE_SHARED ? [
  ...fs.readdirSync(path.join(SHARED, 'captures')).map((c) => path.join(SHARED, 'captures', c, 'trace.dat')).filter((f) => fs.existsSync(f)),
  ...dir(path.join(SHARED, 'public-traces/hip24-masterarbeit'), /kvm-entry-exit.*\.trace\.dat$/),
] : [];

describe('trace.dat --jobs: real captures', () => {
  it.each(local.map((f) => [path.relative(TRACES, f), f]))('%s at 2, 16 and 64 slices', async (_n, file) => {
    const before = tdJobsStats.files;
    for (const jobs of [2, 16, 64]) expect((await same(file!, jobs)).notes).not.toContainEqual(expect.stringMatching(/--jobs/));
    expect(tdJobsStats.files).toBe(before + 3);
  }, 300_000);
  // an exit pending at a cut whose kvm_userspace_exit or preemption falls in the later slice
  it.each(local.map((f) => [path.relative(TRACES, f), f]))('%s with --userspace and --handling at 2, 16 and 64 slices', async (_n, file) => {
    for (const jobs of [2, 16, 64]) await same(file!, jobs, { userspace: true, handling: true });
  }, 300_000);
  it.skipIf(!HAVE_SHARED).each(shared.map((f) => [path.relative(SHARED, f), f]))('%s at 2 and 16 slices', async (_n, file) => {
    for (const jobs of [2, 16]) expect((await same(file!, jobs)).notes).not.toContainEqual(expect.stringMatching(/--jobs/));
  }, 300_000);
  it.skipIf(!HAVE_SHARED)('svm-A and svm-F (halt polling) at 64 slices', async () => {
    for (const c of ['svm-A-baseline', 'svm-F-haltpoll-2ms']) await same(path.join(SHARED, 'captures', c, 'trace.dat'), 64);
  }, 300_000);
  // the x86-tsc capture's halt-poll window changes without a kvm_halt_poll_ns event (hip24: halt_poll_ns 10000 at TSC
  // 303281111276669, then "10000 (grow 0)" at 303281861309189): the halts a slice cut between saw before its first
  // change are counted with the window the slice before it ended with, as one thread counts them (they were once
  // settled with that change's old window, which differs: the file was then read again by one thread)
  it.skipIf(!HAVE_SHARED)('hip24 x86-tsc: a halt-poll window that changes without its event: the slices merge as one thread reads it', async () => {
    const file = path.join(SHARED, 'public-traces/hip24-masterarbeit/host-6.5.0-18-all-kvm-events-x86tsc.trace.dat');
    const one = plain(await analyze([file], OPTS)) as { notes: string[] };
    // (two cuts 10^7 ticks apart in that gap: cut again a seventh of the way on, the first is still in it)
    const many = plain(await analyze([file], { ...OPTS, jobs: 3, jobsMinBytes: 0, jobsCuts: [303281840000000n, 303281850000000n] })) as { notes: string[] };
    expect(many.notes).not.toContainEqual(expect.stringMatching(/--jobs/));
    expect(differences(one, many)).toEqual([]);
  }, 120_000);
  it('arm64 (kvm_exit reasons named in TypeScript): one thread, the same report', async () => {
    const before = tdJobsStats.files;
    await same(path.join(TRACES, 'arm64-D-small/trace.dat'), 4);
    expect(tdJobsStats.files).toBe(before);
  }, 60_000);
});

// ------------------------------------------------------------------------------------------------ crafted

const VM = 200, V0 = 201, V1 = 202;
const US = 1000n;

/** A vCPU thread's run on one CPU: exits (hlt, msr, io) and entries, a sched_switch out and in around each hlt. */
function vcpuRun(tid: number, vcpu: number, comm: string, t0: bigint, n: number, step: bigint): Rec[] {
  const out: Rec[] = [];
  let t = t0;
  for (let i = 0; i < n; i++) {
    const reason = [0x7c, 0x7b, 0x78, 0x60][i % 4]!;
    out.push({ ts: t, data: rec.exit(tid, reason, vcpu) });
    if (reason === 0x78) {
      out.push({ ts: t + 2n * US, data: rec.switch(comm, tid, 1, 'swapper/0', 0) });
      out.push({ ts: t + 40n * US, data: rec.wakeup(0, comm, tid, vcpu) });
      out.push({ ts: t + 45n * US, data: rec.switch('swapper/0', 0, 0, comm, tid) });
    }
    out.push({ ts: t + (reason === 0x78 ? 50n : 3n) * US, data: rec.entry(tid, vcpu) });
    t += step;
  }
  return out;
}

const CMDLINES = `${VM} qemu-system-x86\n${V0} CPU 0/KVM\n${V1} CPU 1/KVM\n`;
const TGIDS = `${VM} ${VM}\n${V0} ${VM}\n${V1} ${VM}\n`;

describe('trace.dat --jobs: crafted files', () => {
  it('v6, v7 plain, zstd and zlib: the same report at 2, 16 and 64 slices', async () => {
    const cpus = [pages(vcpuRun(V0, 0, 'CPU 0/KVM', 1_000_000n, 3000, 97n * US), 40), pages(vcpuRun(V1, 1, 'CPU 1/KVM', 1_000_500n, 3000, 89n * US), 40)];
    for (const o of [{ version: 6 }, { version: 7 }, { version: 7, compress: 'zstd' }, { version: 7, compress: 'zlib' }] as const) {
      const file = await craftTraceDat(cpus, { ...o, cmdlines: CMDLINES, tgids: TGIDS });
      const before = tdJobsStats.slices;
      for (const jobs of [2, 16, 64]) {
        const r = await same(file, jobs);
        expect(r.notes).not.toContainEqual(expect.stringMatching(/--jobs/));
      }
      // read in slices each time (as many as the sampled page or chunk times allow)
      expect(tdJobsStats.slices - before).toBeGreaterThanOrEqual(2 + 4 + 4);
    }
  }, 300_000);

  it('too small to split (under jobsMinBytes): one thread', async () => {
    const file = await craftTraceDat([pages(vcpuRun(V0, 0, 'CPU 0/KVM', 1_000_000n, 200, 97n * US))], { cmdlines: CMDLINES, tgids: TGIDS });
    const before = tdJobsStats.files;
    expect(differences(plain(await analyze([file])), plain(await analyze([file], { jobs: 4 })))).toEqual([]);
    expect(tdJobsStats.files).toBe(before);
  });

  it('equal timestamps at a cut: every record at the cut time goes to the later slice, in CPU order', async () => {
    // both CPUs have records at exactly the same times; the cut is one of them; an unknown record after the cut
    // is skipped with its record number (the line of the first skip), which must count the earlier slice's records
    const T = 5_000_000n;
    const r0: Rec[] = [], r1: Rec[] = [];
    for (let i = 0n; i < 200n; i++) {
      const t = T + (i - 100n) * 10n * US;
      r0.push({ ts: t, data: i % 2n ? rec.entry(V0, 0) : rec.exit(V0, 0x7c, 0) });
      r1.push({ ts: t, data: i % 2n ? rec.entry(V1, 1) : rec.exit(V1, 0x7b, 1) });
      if (i === 150n) r1.push({ ts: t, data: Uint8Array.of(0x0f, 0x27, 0, 0, 0xca, 0, 0, 0) });
    }
    const file = await craftTraceDat([pages(r0, 30), pages(r1, 30)], { cmdlines: CMDLINES, tgids: TGIDS });
    for (const cuts of [[T], [T - 10n * US, T, T + 10n * US], [T + 1n]]) await same(file, cuts.length + 1, { jobsCuts: cuts });
    const r = (await same(file, 2, { jobsCuts: [T] })) as { quality: { skipped: unknown } };
    expect(JSON.stringify(r.quality.skipped)).toMatch(/unknown event type id 9999/);
  }, 120_000);

  it('lost events flagged at page starts on both sides of a cut', async () => {
    const r0 = vcpuRun(V0, 0, 'CPU 0/KVM', 1_000_000n, 400, 97n * US);
    const r1 = vcpuRun(V1, 1, 'CPU 1/KVM', 1_000_500n, 400, 89n * US);
    // pages of 20 records; the records that start pages 3, 7 and 11 say events were lost before them
    for (const i of [60, 140, 220]) { r0[i]!.lostBefore = 17; r1[i]!.lostBefore = 5; }
    const file = await craftTraceDat([pages(r0, 20), pages(r1, 20)], { cmdlines: CMDLINES, tgids: TGIDS });
    const one = plain(await analyze([file], OPTS)) as { inputs: Array<{ lost_events: number }> };
    expect(one.inputs[0]!.lost_events).toBe(3 * (17 + 5));
    // cuts just before, at and after the first lost page's time, and inside the pages around it
    const t = r0[60]!.ts;
    for (const cuts of [[t], [t - 1n], [t + 1n], [t - 500n * US, t + 500n * US]]) await same(file, cuts.length + 1, { jobsCuts: cuts });
    await same(file, 16);
  }, 120_000);

  it('a cut inside a halt whose poll window changed: that halt counted with the window it started with, the same report', async () => {
    // KVM ends a halt with kvm_halt_poll_ns (the window changed) and then kvm_vcpu_wakeup: that halt polled with the
    // old window, which a slice that starts between them does not know; it keeps its halts before its first change
    // one by one, and the merge counts the first with the start window the slice before it ended with (once this
    // was MergeInexact, and the file was cut again a seventh of a slice later)
    const r0: Rec[] = [];
    let t = 1_000_000n, w = 0;
    for (let i = 0; i < 300; i++) {
      r0.push({ ts: t, data: rec.exit(V0, 0x78, 0) });
      const nw = i % 3 === 2 ? 0 : Math.min(w * 2 || 10000, 40000);
      if (nw !== w) { r0.push({ ts: t + 30n * US, data: rec.haltPollNs(V0, 0, nw > w, nw, w) }); }
      r0.push({ ts: t + 30n * US + 200n, data: rec.vcpuWakeup(V0, 30n * US, i % 2 === 0) });
      r0.push({ ts: t + 31n * US, data: rec.entry(V0, 0) });
      w = nw;
      t += 100n * US;
    }
    const file = await craftTraceDat([pages(r0, 20)], { cmdlines: CMDLINES, tgids: TGIDS });
    const hp = r0.filter((x) => x.data[0] === (1345 & 0xff) && x.data[1] === 1345 >> 8).map((x) => x.ts);
    const cut = hp[hp.length >> 1]! + 100n;
    const before = tdJobsStats.files;
    const r = await same(file, 2, { jobsCuts: [cut] });
    expect(r.notes).not.toContainEqual(expect.stringMatching(/--jobs/));
    expect(tdJobsStats.files).toBe(before + 1); // cut at `cut`, once
  }, 120_000);

  it('a CPU whose times go back: read by one thread, with a note', async () => {
    const r0 = pages(vcpuRun(V0, 0, 'CPU 0/KVM', 1_000_000n, 400, 97n * US), 20);
    const r1 = pages(vcpuRun(V1, 1, 'CPU 1/KVM', 1_000_500n, 400, 89n * US), 20);
    [r1[5], r1[6]] = [r1[6]!, r1[5]!]; // two pages swapped
    const file = await craftTraceDat([r0, r1], { cmdlines: CMDLINES, tgids: TGIDS });
    const one = plain(await analyze([file], OPTS));
    const many = plain(await analyze([file], { ...OPTS, jobs: 4, jobsMinBytes: 0 })) as { notes: string[] };
    expect(many.notes.pop()).toMatch(/^--jobs: .*crafted\.dat was read by one thread: a CPU's times go back \(in the page at byte \d+\)/);
    expect(differences(one, many)).toEqual([]);
  }, 120_000);

  it('processes learned and threads renamed before a cut: what later slices assumed is checked, and they are read again when wrong', async () => {
    // the VM starts inside the trace: exec, then its vCPU threads are cloned (CLONE_THREAD) and renamed; no saved
    // tgids say which process they are in, so a later slice that meets them assumes "unknown" and is read again
    // from the state the slices before it leave; a thread renamed after the cut keeps its new name
    const start: Rec[] = [
      { ts: 900_000n, data: rec.exec(VM, '/usr/bin/qemu-system-x86_64') },
      { ts: 900_100n, data: rec.newtask(VM, V0, 'qemu-system-x86', 0x10000) },
      { ts: 900_200n, data: rec.newtask(VM, V1, 'qemu-system-x86', 0x10000) },
      { ts: 900_300n, data: rec.switch('qemu-system-x86', VM, 1, 'qemu-system-x86', V0) },
    ];
    const r0 = [...start, ...vcpuRun(V0, 0, 'CPU 0/KVM', 1_000_000n, 400, 97n * US)];
    const r1 = [...vcpuRun(V1, 1, 'qemu-system-x86', 1_000_500n, 200, 89n * US), ...vcpuRun(V1, 1, 'CPU 1/KVM', 1_000_500n + 200n * 89n * US, 200, 89n * US)];
    for (const tg of [undefined, TGIDS]) {
      const file = await craftTraceDat([pages(r0, 20), pages(r1, 20)], { cmdlines: `${VM} qemu-system-x86\n`, tgids: tg });
      const before = tdJobsStats.redone;
      const mid = r1[r1.length / 2 + 3]!.ts;
      for (const cuts of [[950_000n], [mid], [950_000n, mid, mid + 5000n * US]]) {
        const r = (await same(file, cuts.length + 1, { jobsCuts: cuts })) as { vms: Array<{ name: string; vcpus: Array<{ comm: string }> }>; inputs: Array<{ meta: { processes_from?: string } }> };
        expect(r.vms.map((v) => [v.name, v.vcpus.map((c) => c.comm)])).toEqual([['qemu-system-x86 (pid 200)', ['CPU 0/KVM', 'CPU 1/KVM']]]);
        if (!tg) expect(r.inputs[0]!.meta.processes_from).toBe('sched events (sched_process_exec, task_newtask: 3 threads)');
      }
      // without saved tgids the later slices assumed wrong and were read again; with them they assumed right
      if (!tg) expect(tdJobsStats.redone).toBeGreaterThan(before);
      else expect(tdJobsStats.redone).toBe(before);
    }
  }, 120_000);
});
