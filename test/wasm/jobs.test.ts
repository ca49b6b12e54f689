/**
 * --jobs: worker threads over line-aligned slices of one file, merged (src/wasm/merge.ts). The merged
 * report must equal the one-thread report: the exits cut at a slice boundary still pair, halts and
 * keys before a slice's first exit/entry belong to the exit pending before it, the halt-poll window
 * carries over, the timeline merges exactly, and a run delay whose wake-up and switch-in fall in different
 * slices is counted once, from the wake-up (the merge settles each later slice's first switch-in).
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

/** Every leaf that differs. */
function differences(a: unknown, b: unknown, p = ''): string[] {
  if (typeof a !== 'object' || a === null) return a === b ? [] : [`${p}: ${String(a)} != ${String(b)}`];
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

// crafted lines of vCPU thread 192 (VM 188) and of rcu_preempt, which runs while it is switched out
const V = (ts: string, ev: string) => `             vmm-192     (    188) [000] d..1.    ${ts}: ${ev}`;
const R = (ts: string, ev: string) => `     rcu_preempt-15      (     15) [000] d..2.    ${ts}: ${ev}`;
const HLT = (ts: string) => V(ts, 'kvm_exit: vcpu 0 reason hlt rip 0x1002 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000');
const OUT = (st: string) => `sched_switch: prev_comm=vmm prev_pid=192 prev_prio=120 prev_state=${st} ==> next_comm=rcu_preempt next_pid=15 next_prio=120`;
const IN = 'sched_switch: prev_comm=rcu_preempt prev_pid=15 prev_prio=120 prev_state=I ==> next_comm=vmm next_pid=192 next_prio=120';
const WAKE = 'sched_wakeup: comm=vmm pid=192 prio=120 target_cpu=000';

/**
 * The lines `head` then `tail` (times after 10 s) read by one thread and by 2 with the cut between them: HLT exits
 * and entries before 10 s are put first until the middle of the file falls in head's last line.
 */
async function cutBetween(head: string[], tail: string[], o: AnalyzeOptions) {
  const size = () => [...head, ...tail].join('\n').length + 1;
  const cutAt = () => head.join('\n').length + 1;
  for (let ts = 9999000; size() / 2 >= cutAt(); ts -= 100) head.unshift(HLT(`9.${String(ts).slice(1)}`), V(`9.${String(ts + 50).slice(1)}`, 'kvm_entry: vcpu 0, rip 0x1000'));
  expect(size() / 2).toBeGreaterThanOrEqual(cutAt() - head[head.length - 1]!.length - 1);
  const file = tmpTrace([...head, ...tail].join('\n') + '\n');
  let cuts: number[] = [];
  const many = await analyze([file], { ...o, ...J(2), onJobsCut: (_f, c) => { cuts = c; } });
  expect(cuts[1], 'the cut falls between head and tail').toBe(cutAt());
  const one = await analyze([file], o);
  expect(differences(one, many)).toEqual([]);
  return { one, many };
}

const cases = [path.join(TRACES, 'svm-A-baseline/trace.txt.xz'), path.join(TRACES, 'svm-D-small/trace.txt.xz'), path.join(TRACES, 'pvm-08-small/trace.txt.xz')];

describe('--jobs: slices merged exactly', () => {
  it.each(cases)('%s with 2, 3, 5 and 16 workers', async (xz) => {
    const file = await plain(xz);
    const one = await analyze([file]);
    for (const jobs of [2, 3, 5, 16]) {
      const many = await analyze([file], J(jobs));
      expect(differences(one, many), `jobs ${jobs}`).toEqual([]);
    }
  });
  // slices read ahead only with a CPU to spare (jobs.ts): both ways give the one-thread report
  it.each(cases)('%s with 2 and 3 workers, the slices read ahead and read in turn', async (xz) => {
    const file = await plain(xz);
    const one = await analyze([file]);
    for (const jobs of [2, 3]) {
      for (const sliceReadAhead of [true, false]) {
        expect(differences(one, await analyze([file], { ...J(jobs), sliceReadAhead })), `jobs ${jobs}, read ahead ${sliceReadAhead}`).toEqual([]);
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
  // --userspace / --handling: an exit pending at a cut whose kvm_userspace_exit, or preemption, falls in the
  // later slice (or whose preemption ends there)
  it.each(cases)('%s: the userspace and handling sections the same with 2, 5, 16 and 64 workers', async (xz) => {
    const file = await plain(xz);
    const o = { userspace: true, handling: true };
    const one = await analyze([file], o);
    for (const jobs of [2, 5, 16, 64]) expect(differences(one, await analyze([file], { ...o, ...J(jobs) })), `jobs ${jobs}`).toEqual([]);
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
  // hand-computed: vCPU 192 blocks in a HLT exit, is woken at 10.000300 and switched in at 10.000550 (run delay 250
  // us), with the cut between the wake-up and the switch-in; the second wake-up (10.000700 -> 10.000750, 50 us) is
  // all in the later slice
  it('a run delay whose wake-up and switch-in fall in different slices is counted once, from the wake-up', async () => {
    const head = [V('10.000000', 'kvm_entry: vcpu 0, rip 0x1000'), HLT('10.000100'), V('10.000200', OUT('S')), R('10.000300', WAKE)];
    const tail = [R('10.000550', IN), V('10.000600', 'kvm_entry: vcpu 0, rip 0x1002'), HLT('10.000650'), V('10.000660', OUT('S')), R('10.000700', WAKE), R('10.000750', IN), V('10.000800', 'kvm_entry: vcpu 0, rip 0x1002')];
    const { one, many } = await cutBetween(head, tail, {});
    for (const r of [one, many]) {
      if (!r.sched.available) throw new Error('no sched section');
      const rd = r.sched.vcpus[0]!.run_delay;
      expect([rd.min_ns, rd.max_ns, rd.mean_ns]).toEqual([50000, 250000, 150000]);
    }
  });
  // hand-computed (as test/analysis/handling.test.ts): an io exit of 300 us, preempted 30 us (switched out runnable
  // at .000120, in at .000150) and in the VMM 240 us (kvm_userspace_exit at .000160, entry at .000400); the cut
  // falls while the thread is switched out, so its switch-in, userspace exit and entry are all in the later slice
  it('--userspace / --handling: an exit whose preemption and userspace exit cross a cut keeps its parts', async () => {
    const head = [V('10.000000', 'kvm_entry: vcpu 0, rip 0x1000'), V('10.000100', 'kvm_exit: vcpu 0 reason io rip 0x1000 info1 0x0000000000800010 info2 0x0000000000001002 intr_info 0x00000000 error_code 0x00000000'), V('10.000110', 'kvm_pio: pio_write at 0x80 size 1 count 1 val 0x1'), V('10.000120', OUT('R'))];
    const tail = [R('10.000150', IN), V('10.000160', 'kvm_userspace_exit: reason KVM_EXIT_IO (2)'), V('10.000400', 'kvm_entry: vcpu 0, rip 0x1002')];
    const { one, many } = await cutBetween(head, tail, { userspace: true, handling: true });
    for (const r of [one, many]) {
      if (!r.handling?.available || !r.userspace?.available) throw new Error('no handling or userspace section');
      const h = r.handling.reasons.find((x) => x.key === 'io')!;
      expect([h.exits_handled, h.total_ns, h.on_cpu_ns, h.preempted_ns, h.vmm_ns, h.halted_ns, h.preempted_exits]).toEqual([1, 300000, 30000, 30000, 240000, 0, 1]);
      const u = r.userspace.reasons.find((x) => x.key === 'io')!;
      expect([u.to_userspace, u.userspace_ns, u.in_kernel_ns]).toEqual([1, 240000, 60000]);
    }
  });
  it('a strict-mode error before the cut: the workers are told to read nothing, the error is the one-thread error', async () => {
    const file = await plain(path.join(TRACES, 'svm-D-small/trace.txt.xz'));
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines.splice(2, 0, 'garbage line');
    fs.writeFileSync(file, lines.join('\n'));
    const e = (await analyze([file], { jobs: 2, jobsMinBytes: 0, strict: true }).catch((x: unknown) => x)) as { format(): string };
    expect(e.format()).toMatch(/:3:1: expected a trace event line/);
  }, 20000);
  it('a strict-mode error in a later slice names its line in the whole file', async () => {
    const file = await plain(path.join(TRACES, 'svm-D-small/trace.txt.xz'));
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines.splice(2000, 0, 'garbage line');
    fs.writeFileSync(file, lines.join('\n'));
    const e = (await analyze([file], { ...J(4), strict: true }).catch((x: unknown) => x)) as { format(): string };
    expect(e.format()).toMatch(/:2001:1: expected a trace event line/);
  });
});
