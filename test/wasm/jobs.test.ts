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
import * as K from '../../assembly/constants.js';
import { Core } from '../../src/wasm/core.js';
import { MergeInexact, mergeTables } from '../../src/wasm/merge.js';
import { writeTrace } from '../../bench/gen.js';
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
  // the bench's generated traces (bench/gen.ts: 2 VMs x 4 vCPUs, every event kind it writes, in the three text
  // formats), several seeds, cut where each run falls: the one-thread report at 2, 3 and 7 slices
  it('generated traces of the three text formats, at 2, 3 and 7 slices: the one-thread report', async () => {
    let cuts = 0;
    for (const [format, seed] of [['ftrace', 1], ['ftrace', 2], ['perf', 3], ['trace-cmd', 4]] as const) {
      const file = tmpTrace('', `gen-${seed}.txt`);
      await writeTrace({ format, size: 3 << 20, seed, vms: 2, vcpus: 4 }, file);
      const one = await analyze([file], { top: 20 });
      for (const jobs of [2, 3, 7]) {
        const many = await analyze([file], { top: 20, jobs, jobsMinBytes: 0, jobsCutAfter: 0, onJobsCut: () => { cuts++; } });
        expect(differences(one, many), `${format} seed ${seed}, ${jobs} jobs`).toEqual([]);
      }
    }
    expect(cuts, 'every run cut its file').toBe(12);
  }, 60000);
  // the main thread reads the last file's own tables while its workers finish (analyze.ts): an earlier file's
  // slices must not hand theirs over, since the core reads on
  it('two files, each read in slices, or the first only: the same report as one thread', async () => {
    const a = await plain(cases[0]!), b = await plain(cases[1]!); // 7.9 MB and 0.4 MB of text
    const one = await analyze([a, b]);
    for (const [minBytes, slicedFiles] of [[0, 2], [1 << 20, 1]] as const) {
      let cut = 0;
      const many = await analyze([a, b], { jobs: 2, jobsMinBytes: minBytes, jobsCutAfter: 0, onJobsCut: () => { cut++; } });
      expect(cut, 'files read in slices').toBe(slicedFiles);
      expect(differences(one, many)).toEqual([]);
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
  // hand-computed: twelve 80 us exits, then one of 90 us after the cut (and shorter ones): the 10 slowest are the 90 us one and the
  // nine earliest 80 us ones, in one thread (the core keeps ties to the earliest: crafted.test.ts) and merged (each
  // slice's own, sorted by duration and then by line)
  it('the slowest exits: equally long ones are the earliest, in one thread and merged', async () => {
    const head: string[] = [];
    for (let i = 0; i < 12; i++) head.push(HLT(`10.0${String(i).padStart(2, '0')}000`), V(`10.0${String(i).padStart(2, '0')}080`, 'kvm_entry: vcpu 0, rip 0x1000'));
    // (the last 80 us exit's entry after the cut, and 10 us exits at the end: the middle of the file, where it is cut,
    // falls in head's last line)
    const tail = [head.pop()!, HLT('10.020000'), V('10.020090', 'kvm_entry: vcpu 0, rip 0x1000')];
    for (let i = 0; i < 16; i++) tail.push(HLT(`10.1${String(i).padStart(2, '0')}000`), V(`10.1${String(i).padStart(2, '0')}010`, 'kvm_entry: vcpu 0, rip 0x1000'));
    const { one, many } = await cutBetween(head, tail, {});
    for (const r of [one, many]) {
      expect(r.top.map((x) => [x.duration_ns, x.ts_ns])).toEqual([[90000, 10020000000], ...Array.from({ length: 9 }, (_, i) => [80000, 10000000000 + i * 1000000])]);
    }
  });
  // ---- halt polling across a cut (virt/kvm/kvm_main.c kvm_vcpu_halt: a halt polls when its window, the one it
  // started with, is non-zero; kvm_halt_poll_ns comes at the end of a halt whose window changed, before its
  // kvm_vcpu_wakeup). A later slice keeps its halts before its first kvm_halt_poll_ns one by one and the merge counts
  // them as one thread does; they were once settled in bulk (approximate blocked times, and the window-0 polls
  // counted as successful), and a cut between a kvm_halt_poll_ns and its kvm_vcpu_wakeup made the file cut again.
  const HP = (ts: string, nw: number, old: number) => V(ts, `kvm_halt_poll_ns: vcpu 0: halt_poll_ns ${nw} (${nw > old ? 'grow' : 'shrink'} ${old})`);
  const WK = (ts: string, how: 'poll' | 'wait', ns: number, valid = true) => V(ts, `kvm_vcpu_wakeup: ${how} time ${ns} ns, polling ${valid ? 'valid' : 'invalid'}`);
  const EN = (ts: string) => V(ts, 'kvm_entry: vcpu 0, rip 0x1002');
  const haltFigures = (r: Awaited<ReturnType<typeof analyze>>) => {
    if (!r.halt.available) throw new Error('no halt section');
    const c = r.halt.vcpus[0]!;
    return { attempted: c.halt_attempted_poll, success: c.halt_successful_poll, failNs: c.halt_poll_fail_ns_max, waitNs: c.halt_wait_ns_min,
      polls: [c.poll_success.min_ns, c.poll_success.max_ns], blockedMin: c.blocked.min_ns, blockedMax: c.blocked.max_ns };
  };
  const noJobsNote = (r: { notes: string[] }) => expect(r.notes).not.toContainEqual(expect.stringMatching(/--jobs/));

  // hand-computed: the first halt starts with 100 us (the old window of its grow), waits 300 us: 100 us polling,
  // 200 us blocked; after the cut the window is 200 us: waits of 1234567, 987654, 300001, 250000 and 150000 ns block
  // for 1034567, 787654, 100001, 50000 and 0 ns (the last polled all of its 150 us); a poll of 120 us succeeds
  it('halts after a cut, before the later slice\'s first kvm_halt_poll_ns: counted with the window before the cut, exactly', async () => {
    const head = [HLT('10.000000'), HP('10.000300', 200000, 100000), WK('10.000300', 'wait', 300000), EN('10.000310')];
    const tail: string[] = [];
    [1234567, 987654, 300001, 250000, 150000].forEach((n, i) => tail.push(HLT(`11.00${i}000`), WK(`11.00${i}500`, 'wait', n), EN(`11.00${i}600`)));
    tail.push(HLT('11.009000'), WK('11.009200', 'poll', 120000), EN('11.009300'));
    const { one, many } = await cutBetween(head, tail, {});
    noJobsNote(many);
    for (const r of [one, many]) {
      expect(haltFigures(r)).toEqual({ attempted: 7, success: 1, failNs: 100000 + 4 * 200000 + 150000, waitNs: 200000 + 1034567 + 787654 + 100001 + 50000,
        polls: [120000, 120000], blockedMin: 0, blockedMax: 1034567 });
    }
  });
  // hand-computed: the window grows 20 -> 40 us in the first halt (it polled 20 us of its 60); the second halt shrinks
  // it to 0 and the cut falls before its kvm_vcpu_wakeup: it started with 40 us and its 30 us poll succeeds; the third
  // starts with 0 and blocks its whole 500 us
  it('a cut between a kvm_halt_poll_ns and its kvm_vcpu_wakeup: that halt counted with the window it started with, one cut', async () => {
    const head = [HLT('10.000000'), HP('10.000050', 40000, 20000), WK('10.000060', 'wait', 60000), EN('10.000100'), HLT('10.001000'), HP('10.001050', 0, 40000)];
    const tail = [WK('10.001060', 'poll', 30000), EN('10.001100'), HLT('10.002000'), WK('10.002500', 'wait', 500000), EN('10.002600')];
    const { one, many } = await cutBetween(head, tail, {});
    noJobsNote(many);
    for (const r of [one, many]) expect(haltFigures(r)).toEqual({ attempted: 2, success: 1, failNs: 20000, waitNs: 40000 + 500000, polls: [30000, 30000], blockedMin: 40000, blockedMax: 500000 });
  });
  // hand-computed: the window is 0 after the first halt, so the later slice's 5 us wake-up without blocking is no
  // successful poll (KVM did not poll), and its waits block for their whole time
  it('a window of 0 before the cut: the later slice\'s wake-ups without blocking are not counted as polls', async () => {
    const head = [HLT('10.000000'), HP('10.000050', 0, 10000), WK('10.000080', 'wait', 80000), EN('10.000100')];
    const tail = [HLT('10.001000'), WK('10.001005', 'poll', 5000), EN('10.001010'), HLT('10.002000'), WK('10.002070', 'wait', 70000, false), EN('10.002080')];
    const { one, many } = await cutBetween(head, tail, {});
    noJobsNote(many);
    for (const r of [one, many]) {
      expect(haltFigures(r)).toEqual({ attempted: 1, success: 0, failNs: 10000, waitNs: 70000 + 70000, polls: [null, null], blockedMin: 70000, blockedMax: 70000 });
      if (!r.halt.available) throw new Error('no halt section');
      expect([r.halt.vcpus[0]!.halts, r.halt.vcpus[0]!.poll_wakeups]).toEqual([3, 1]);
    }
  });
  // one thread settles the halts it saw before it knew the window at its first kvm_halt_poll_ns, with that change's
  // old window: halts on both sides of the cut (hand-computed: 3 before the change, 2 waits of 50 and 60 us with the
  // 5 us window polling 10 us of them, 1 poll; the changed halt started with 5 us and its poll succeeds)
  it('the window unknown before the cut and learned after it: the halts of both slices settled together', async () => {
    const head = [HLT('10.000000'), WK('10.000050', 'wait', 50000), EN('10.000060'), HLT('10.001000'), WK('10.001003', 'poll', 3000), EN('10.001010')];
    const tail = [HLT('10.002000'), WK('10.002060', 'wait', 60000), EN('10.002070'), HLT('10.003000'), HP('10.003002', 10000, 5000), WK('10.003002', 'poll', 2000), EN('10.003010')];
    const { one, many } = await cutBetween(head, tail, {});
    noJobsNote(many);
    for (const r of [one, many]) {
      const f = haltFigures(r);
      expect([f.attempted, f.success, f.failNs, f.waitNs, f.polls]).toEqual([4, 2, 10000, 100000, [2000, 3000]]);
    }
  });
  // a thread first seen after the cut, whose halts before its first change the later slice keeps for the merge
  it('a vCPU thread first seen after the cut: its halts before its first change settled as one thread does', async () => {
    const W = (ts: string, ev: string) => `             vmm-193     (    188) [001] d..1.    ${ts}: ${ev}`;
    const head = [HLT('10.000000'), EN('10.000100')];
    const tail = [W('10.001000', 'kvm_exit: vcpu 1 reason hlt rip 0x1002 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000'),
      W('10.001090', 'kvm_vcpu_wakeup: wait time 90000 ns, polling valid'), W('10.001100', 'kvm_entry: vcpu 1, rip 0x1002'),
      W('10.002000', 'kvm_exit: vcpu 1 reason hlt rip 0x1002 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000'),
      W('10.002004', 'kvm_vcpu_wakeup: poll time 4000 ns, polling valid'), W('10.002010', 'kvm_entry: vcpu 1, rip 0x1002'),
      W('10.003000', 'kvm_exit: vcpu 1 reason hlt rip 0x1002 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000'),
      W('10.003008', 'kvm_halt_poll_ns: vcpu 1: halt_poll_ns 20000 (grow 10000)'), W('10.003008', 'kvm_vcpu_wakeup: poll time 8000 ns, polling valid'), W('10.003010', 'kvm_entry: vcpu 1, rip 0x1002')];
    const { one, many } = await cutBetween(head, tail, {});
    noJobsNote(many);
    for (const r of [one, many]) {
      if (!r.halt.available) throw new Error('no halt section');
      const c = r.halt.vcpus.find((x) => x.vcpu === 1)!;
      expect([c.halt_attempted_poll, c.halt_successful_poll, c.halt_poll_fail_ns_max, c.halt_wait_ns_min]).toEqual([3, 2, 10000, 80000]);
    }
  });
  // a later slice keeps at most PW_MAX such halts one by one: past that, a thread whose window the slices before it
  // knew cannot be counted as one thread counts it, and the merge says so (analyze.ts then reads the file with one)
  it(`a later slice with more than ${K.PW_MAX} halts before a thread's first kvm_halt_poll_ns: MergeInexact`, () => {
    const slice = (later: boolean, events: (push: (kind: number, ts: bigint, a: bigint, b: bigint, c: number, name: number) => void) => void) => {
      const core = new Core({ topN: 10 });
      if (later) core.trackAllThreads(true);
      const sink = core.sinkFor(core.nextFileIndex());
      sink.beginFile('crafted', K.CLOCK_NS);
      let where = 0;
      events((kind, ts, a, b, c, name) => sink.push(kind, ts, 192, 188, 0, 0, a, b, c, name, ++where));
      core.endFile();
      return core;
    };
    const first = slice(false, (push) => {
      const hp = -1;
      push(K.EV_HALT_POLL_NS, 1000n, 10000n, 0n, 1, hp);
      push(K.EV_VCPU_WAKEUP, 1000n, 20000n, 0n, K.WAKE_VALID, -1);
    });
    const n = K.PW_MAX + 1;
    const later = slice(true, (push) => { for (let i = 0; i < n; i++) push(K.EV_VCPU_WAKEUP, 2000n + BigInt(i) * 1000n, 5000n, 0n, K.WAKE_VALID, -1); });
    const t = later.tables();
    const th = t.threads.find((x) => x.tid === 192)!;
    expect([t.laterSlice, th.preWindowWakes, th.preWindowListed, th.preWakes?.ns.length]).toEqual([true, n, K.PW_MAX, K.PW_MAX]);
    expect(() => mergeTables([{ tables: first.tables(), lineOffset: 0 }, { tables: t, lineOffset: 2 }], 10, first)).toThrow(MergeInexact);
    // one fewer: merged, each counted with the 10 us window (attempted, and successful: "poll" wake-ups); the first
    // slice's halt grew the window from 0, which it started with: no attempt
    const fits = slice(true, (push) => { for (let i = 0; i < K.PW_MAX; i++) push(K.EV_VCPU_WAKEUP, 2000n + BigInt(i) * 1000n, 5000n, 0n, K.WAKE_VALID, -1); });
    const m = mergeTables([{ tables: first.tables(), lineOffset: 0 }, { tables: fits.tables(), lineOffset: 2 }], 10, first);
    const mt = m.threads.find((x) => x.tid === 192)!;
    expect([mt.hpAttempted, mt.hpSuccess, mt.hpSuccessNs]).toEqual([K.PW_MAX, K.PW_MAX, 5000n * BigInt(K.PW_MAX)]);
  }, 60000);
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
