/**
 * Levers per VM and the phases of work timed (src/analysis/levers/phases.ts, per-vm.ts): hand-computed
 * on a crafted two-VM trace, and the phase walls of a real capture against its VMM's own clock.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { buildLevers, PhaseCollector, termsOf } from '../../src/analysis/levers/index.js';
import { adviseTables, leverTables } from '../../src/report/levers.js';
import { tmpTrace, TRACES } from '../support/paths.js';

// VM 100: tid 101 (vCPU 0, host CPU 1), tid 102 (vCPU 1, CPU 2); VM 200: tid 201 (vCPU 0, CPU 3); times in us from 1 s
const L = (pid: number, tid: number, cpu: number, us: number, ev: string) =>
  `             vmm-${tid}     (    ${pid}) [00${cpu}] d..1.  ${(1 + us / 1e6).toFixed(6)}: ${ev}\n`;
const X = (v: number, r: string) => `kvm_exit: vcpu ${v} reason ${r} rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0`;
const E = (v: number) => `kvm_entry: vcpu ${v}, rip 0x1`;
const PIO = (port: number, val: number) => `kvm_pio: pio_write at 0x${port.toString(16)} size 1 count 1 val 0x${val}`;

function crafted(): string {
  const a = (us: number, ev: string) => L(100, 101, 1, us, ev);
  const b = (us: number, ev: string) => L(100, 102, 2, us, ev);
  const c = (us: number, ev: string) => L(200, 201, 3, us, ev);
  return '# tracer: nop\n' + [
    a(0, E(0)), b(0, E(1)), c(0, E(0)),
    a(10, X(0, 'IO_INSTRUCTION')), a(11, PIO(0x501, 1)), a(20, E(0)), //   phase 1 begins at 10: 10 us, guest before 10
    c(20, X(0, 'CPUID')), c(30, E(0)), //                                   VM 200: no phases
    a(30, X(0, 'MSR_WRITE')), a(34, E(0)), //                               4 us, guest 10
    b(40, X(1, 'HLT')), b(70, 'kvm_vcpu_wakeup: wait time 20000 ns, polling valid'), b(75, E(1)), // 35 us, halted 20, guest 40
    a(50, X(0, 'CPUID')), a(52, E(0)), //                                   2 us, guest 16
    c(50, X(0, 'HLT')), c(60, 'kvm_vcpu_wakeup: wait time 8000 ns, polling valid'), c(65, E(0)),
    a(60, X(0, 'IO_INSTRUCTION')), a(61, PIO(0x502, 1)), a(70, E(0)), //    phase 1 ends at 60
    a(80, X(0, 'CPUID')), a(82, E(0)), //                                   after the phase
  ].join('');
}

describe('phases of work (port 0x501 / 0x502), hand-computed', () => {
  it('one phase of VM 100: its window, the exits of both its vCPU threads in it, their split and tax', async () => {
    const pc = new PhaseCollector();
    const r = await analyze([tmpTrace(crafted())], { rows: pc.sink });
    const s = pc.finish()!;
    expect(s.unfinished).toBe(0);
    // outside every phase: VM 100's CPUID at 80, VM 200's CPUID and HLT (the 0x502 exit ends the phase, in none)
    expect(s.outside_exits).toBe(3);
    expect(s.phases).toHaveLength(1);
    const p = s.phases[0]!;
    // exits at 10 (IO, the 0x501 write), 30 (MSR), 40 (HLT of vCPU 1), 50 (CPUID): host 10+4+35+2, halted 20 (vCPU 1's halt)
    expect(p).toMatchObject({ pid: 100, tid: 101, vcpu: 0, index: 1, begin_ns: 1_000_010_000, end_ns: 1_000_060_000, wall_ns: 50_000, vcpu_threads: 2, exits: 4,
      host_ns: 51_000, halted_ns: 20_000, overhead_ns: 31_000, guest_ns: 10_000 + 10_000 + 40_000 + 16_000 });
    expect(p.tax).toBeCloseTo(31 / 127, 9);
    expect(p.exits_per_s).toBeCloseTo(4 / 50e-6, 6);
    expect(p.top.map((x) => x.exits)).toEqual([1, 1, 1]);
    // a trace without port 0x501 writes has no phases
    const none = new PhaseCollector();
    await analyze([tmpTrace('# tracer: nop\n' + L(100, 101, 1, 0, E(0)) + L(100, 101, 1, 5, X(0, 'CPUID')) + L(100, 101, 1, 7, E(0)))], { rows: none.sink });
    expect(none.finish()).toBeNull();
    // the levers section carries them, and its tables show them
    const lv = buildLevers(r, { phases: s });
    expect(lv.phases!.phases).toHaveLength(1);
    expect(leverTables(lv).map((t) => t.title)).toContain('Phases of work (timed)');
  });

  it('two VMs: the pooled ranking and one per VM, each from its own vCPUs (units of work from its own phases)', async () => {
    const pc = new PhaseCollector();
    const r = await analyze([tmpTrace(crafted())], { rows: pc.sink });
    const lv = buildLevers(r, { phases: pc.finish() });
    expect(lv.per_vm!.map((v) => v.vm.pid)).toEqual([100, 200]);
    const [v1, v2] = lv.per_vm!;
    // VM 100: tid 101 wall 82 us, exits IO 10 + MSR 4 + CPUID 2 + IO 10 + CPUID 2; tid 102 wall 75, HLT 35 (halted 20)
    expect(v1!.absolute).toMatchObject({ exits: 6, wall_ns: 82_000 + 75_000, halted_ns: 20_000, overhead_ns: 28_000 + 15_000, units: 1 });
    // VM 200: CPUID 10, HLT 15 (halted 8); wall 65 us; no phases of its own
    expect(v2!.absolute).toMatchObject({ exits: 2, wall_ns: 65_000, halted_ns: 8_000, overhead_ns: 17_000, units: null });
    expect(v2!.phases).toBeUndefined();
    // each VM's figures are the pooled figures of its threads
    expect(v1!.absolute.wall_ns).toBe(termsOf(r, new Set([101, 102])).wall_ns);
    for (const v of lv.per_vm!) expect(v.levers.map((l) => l.id).sort()).toEqual(lv.levers.map((l) => l.id).sort());
    expect(v1!.per_vm).toBeUndefined();
    expect(leverTables(lv).map((t) => t.title)).toContain('Levers per VM (ranked)');
    // one VM: no per-VM part
    const one = buildLevers(await analyze([tmpTrace(crafted().split('\n').filter((l) => !l.includes('(    200)')).join('\n'))]));
    expect(one.per_vm).toBeUndefined();
  });
});

describe('phases of a real capture (svm-A-baseline) against the VMM\'s own phase clock', () => {
  it('eight phases; walls within 2 ms of vmm-output.txt; pio and cpuid phases hold their 5000 exits', async () => {
    const dir = path.join(TRACES, 'svm-A-baseline');
    const pc = new PhaseCollector();
    await analyze([path.join(dir, 'trace.txt.xz')], { rows: pc.sink });
    const s = pc.finish()!;
    const truth = [...fs.readFileSync(path.join(dir, 'vmm-output.txt'), 'utf8').matchAll(/^vcpu0 phase (\S+)\s+([\d.]+) ms$/gm)].map((m) => ({ name: m[1]!, ms: Number(m[2]) }));
    expect(truth.map((t) => t.name)).toEqual(['hlt_short', 'hlt_long', 'ipi', 'msr', 'pio', 'cpuid', 'rdtsc', 'pause']);
    expect(s.phases).toHaveLength(8);
    s.phases.forEach((p, i) => expect(Math.abs(p.wall_ns / 1e6 - truth[i]!.ms)).toBeLessThan(2));
    // -n 0.25: 20000 x 0.25 OUT 0x80 (+ the 0x501 write) and 20000 x 0.25 CPUID
    expect(s.phases[4]!.top[0]).toEqual({ reason: 'io', exits: 5001 });
    expect(s.phases[5]!.top[0]).toEqual({ reason: 'cpuid', exits: 5000 });
  }, 60_000);
});

describe('two VMs at once (svm-s3-G-two-vms: VM1 baseline, VM2 with DISABLE_EXITS HLT|PAUSE)', () => {
  it('a ranking per VM, each VM\'s phases against its own VMM\'s clock', async () => {
    const dir = path.join(TRACES, 'svm-s3-G-two-vms');
    const pc = new PhaseCollector();
    const r = await analyze([path.join(dir, 'trace.txt.xz')], { rows: pc.sink });
    const lv = buildLevers(r, { phases: pc.finish() });
    const pids = [1, 2].map((k) => Number(/^vmm pid (\d+)$/m.exec(fs.readFileSync(path.join(dir, `vmm${k}-output.txt`), 'utf8'))![1]));
    expect(lv.per_vm!.map((v) => v.vm.pid)).toEqual(pids);
    const [vm1, vm2] = lv.per_vm!;
    const cp = (v: typeof vm1) => v!.levers.find((l) => l.id === 'cpu-pm')!;
    // VM2 runs with HLT and PAUSE in the guest: nothing left for cpu-pm to remove
    expect(cp(vm2).status).toBe('no-effect');
    expect(termsOf(r, new Set(r.vms.find((vm) => vm.pid === vm2!.vm.pid)!.vcpus.map((c) => c.tid))).hlt_exits).toBe(0);
    // VM1 halts; its 2 vCPU threads and VM2's 2 ran on the L1's 2 CPUs: not dedicated, so not advised
    expect(vm1!.absolute.exits).toBeGreaterThan(0);
    expect(cp(vm1).status).toBe('not-advised');
    // advise's short form ranks per VM too
    expect(adviseTables(lv).map((t) => t.title)).toContain('Levers per VM (ranked)');
    // each VM's eight phases, within 2 ms of what its VMM measured
    for (const [k, v] of [[1, vm1!], [2, vm2!]] as const) {
      const truth = [...fs.readFileSync(path.join(dir, `vmm${k}-output.txt`), 'utf8').matchAll(/^vcpu0 phase (\S+)\s+([\d.]+) ms$/gm)].map((m) => Number(m[2]));
      expect(v.phases!.phases.map((p) => p.pid)).toEqual(Array(8).fill(v.vm.pid));
      v.phases!.phases.forEach((p, i) => expect(Math.abs(p.wall_ns / 1e6 - truth[i]!)).toBeLessThan(2));
      expect(v.absolute.units).toBe(8);
    }
  }, 60_000);
});

describe('phases are the same in every format (svm-D-small: one run, several recordings)', () => {
  it('ftrace text, trace-cmd report, trace.dat and perf.data give the same phases', async () => {
    const phases = async (f: string) => { const pc = new PhaseCollector(); await analyze([path.join(TRACES, 'svm-D-small', f)], { rows: pc.sink }); return pc.finish()!.phases; };
    const txt = await phases('trace.txt.xz');
    expect(txt).toHaveLength(8);
    // trace-cmd report of the same buffer (no tgid column: one VM per input): the same figures
    const strip = (ps: typeof txt) => ps.map(({ pid: _pid, ...rest }) => rest);
    expect(strip(await phases('trace-cmd-report.txt.xz'))).toEqual(strip(txt));
    // trace.dat of the same buffer, ns timestamps: the same exits, walls within 1 us
    const dat = await phases('trace.dat.xz');
    expect(dat.map((p) => p.exits)).toEqual(txt.map((p) => p.exits));
    dat.forEach((p, i) => expect(Math.abs(p.wall_ns - txt[i]!.wall_ns)).toBeLessThan(1000));
    // perf record of the same run (its own clock): the same exits per phase
    expect((await phases('perf.data.xz')).map((p) => p.exits)).toEqual(txt.map((p) => p.exits));
  }, 60_000);
});
