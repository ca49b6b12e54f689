/**
 * The levers (src/analysis/levers/): each evidence figure hand-computed on a small crafted trace, the
 * cpu-pm model's arithmetic on hand-made terms, and the host facts that decide "not advised".
 */
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { termsOf, forecastCpuPm, observeCpuPm, buildLevers, hostFacts, type Terms } from '../../src/analysis/levers/index.js';
import { sections } from '../../src/report/sections.js';
import { tmpTrace } from '../support/paths.js';

// tid 101 (vCPU 0) and 102 (vCPU 1) of VM 100; times in us from 1 s
const L = (tid: number, cpu: number, us: number, ev: string) =>
  `             vmm-${tid}     (    100) [00${cpu}] d..1.  ${(1 + us / 1e6).toFixed(6)}: ${ev}\n`;
const X = (v: number, r: string) => `kvm_exit: vcpu ${v} reason ${r} rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0`;
const E = (v: number) => `kvm_entry: vcpu ${v}, rip 0x1`;

/** cpu0, cpu1: the host CPUs of the two vCPU threads */
function crafted(cpu0: number, cpu1: number): string {
  const a = (us: number, ev: string) => L(101, cpu0, us, ev);
  const b = (us: number, ev: string) => L(102, cpu1, us, ev);
  return '# tracer: nop\n' + [
    a(0, E(0)), b(0, E(1)),
    a(10, X(0, 'MSR_WRITE')), a(20, E(0)), //                                       10 us
    a(30, X(0, 'HLT')), b(50, X(1, 'HLT')),
    b(90, 'kvm_vcpu_wakeup: wait time 30000 ns, polling valid'), b(100, E(1)), //  HLT 50 us, halted 30
    b(110, X(1, 'MSR_WRITE')), b(114, E(1)), //                                     4 us; vCPU 1 ends at 114
    a(120, 'kvm_vcpu_wakeup: wait time 80000 ns, polling valid'), a(130, E(0)), // HLT 100 us, halted 80
    a(140, X(0, 'PAUSE_INSTRUCTION')), a(145, E(0)), //                             5 us
    a(150, X(0, 'EXTERNAL_INTERRUPT')), a(156, E(0)), //                            6 us
    a(160, X(0, 'IO_INSTRUCTION')), a(161, 'kvm_pio: pio_write at 0x502 size 1 count 1 val 0x5'), a(170, E(0)), // 10 us
  ].join('');
}

describe('levers: terms of a crafted trace (hand-computed)', () => {
  it('wall, halted, HLT rest, PAUSE, wake-ups, interrupts, mean exit cost and units of work', async () => {
    const r = await analyze([tmpTrace(crafted(1, 2))]);
    const t = termsOf(r);
    // vCPU 0: wall 170, host 10+100+5+6+10 = 131, halted 80; vCPU 1: wall 114, host 50+4 = 54, halted 30
    expect(t).toMatchObject({
      vcpus: 2, wall_ns: 284000, host_ns: 185000, halted_ns: 110000, overhead_ns: 75000, guest_ns: 284000 - 185000,
      exits: 7, span_ns: 170000, hlt_exits: 2, hlt_rest_ns: 40000, pause_exits: 1, mwait_exits: 0, stop_ns: 5000,
      wakes: 2, wakes_traced: true, interrupt_exits: 1, interrupt_ns: 6000, units: 1,
    });
    // non-idle exits: 10 + 5 + 6 + 10 + 4 us over 5
    expect(t.exit_mean_ns).toBe(7000);
    expect(t.tax).toBeCloseTo(75 / 284, 9);
    // one vCPU's own terms
    const one = termsOf(r, new Set([102]));
    expect(one).toMatchObject({ vcpus: 1, wall_ns: 114000, halted_ns: 30000, overhead_ns: 24000, hlt_rest_ns: 20000, wakes: 1, units: null });
  });

  it('the levers section: evidence figures and absolute figures per unit of work', async () => {
    const r = await analyze([tmpTrace(crafted(1, 2))]);
    const s = buildLevers(r);
    expect(s.available).toBe(true);
    expect(s.host).toMatchObject({ vcpu_threads: 2, shared: false, pinned: true, apic: 'unknown', versions: [] });
    expect(s.absolute).toMatchObject({ wall_ns: 284000, guest_ns: 99000, host_ns: 185000, halted_ns: 110000, overhead_ns: 75000, exits: 7, units: 1, per_unit: { wall_ns: 284000, exits: 7 } });
    const by = Object.fromEntries(s.levers.map((l) => [l.id, l]));
    expect(Object.keys(by).sort()).toEqual(['cpu-pm', 'exitless-ipi', 'exitless-timer', 'hints-realtime', 'host-haltpoll', 'lapic-advance', 'ple', 'priority-boost']);
    // cpu-pm: 2 HLT exits over a 170 us span; HLT rest 40 us; PAUSE 5 us
    expect(by['cpu-pm']!.figures).toMatchObject({ hlt_rest_ns: 40000, pause_exits: 1, mwait_exits: 0, wakes: 2, removed_overhead_ns: 45000 });
    expect(by['cpu-pm']!.figures.hlt_exits_per_s).toBeCloseTo(2 / 170e-6, 3);
    expect(by['cpu-pm']!.status).toBe('advised');
    expect(by['cpu-pm']!.effect.basis).toBe('calibrated');
    expect(by['cpu-pm']!.calibration).toMatch(/^calibrated on emulated SVM only/);
    // halt polling: 2 halts, none polled (no kvm_halt_poll_ns: window 0)
    expect(by['host-haltpoll']!.figures).toMatchObject({ halts: 2, attempted_poll: 0, successful_poll: 0, poll_success_ns: 0, wait_ns: 110000 });
    // PLE: one PAUSE exit, no window updates, no sched events
    expect(by.ple!.figures).toMatchObject({ pause_exits: 1, ple_window_updates: 0, preempted_in_guest: null });
    expect(by.ple!.status).toBe('evidence-only');
    // no sched_switch: the priority boost cannot be judged, and says what to record
    expect(by['priority-boost']!).toMatchObject({ status: 'cannot-judge', record: ['sched:sched_switch', 'sched:sched_wakeup'] });
    // no kvm_wait_lapic_expire: lapic advance cannot be judged
    expect(by['lapic-advance']!).toMatchObject({ status: 'cannot-judge', record: ['kvm:kvm_wait_lapic_expire'] });
    // no kvm_msr: ICR writes cannot be told from other MSR exits
    expect(by['exitless-ipi']!).toMatchObject({ status: 'cannot-judge', record: ['kvm:kvm_msr', 'kvm:kvm_apic_ipi'] });
    // ranks are 1..8 in order
    expect(s.levers.map((l) => l.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const t = sections(r, { sections: new Set(['levers']) });
    expect(t.map((x) => x.title)).toEqual(['Levers (ranked)', 'Levers: evidence, preconditions, how to enable', 'Lever combinations']);
  });

  it('vCPU threads on one host CPU: cpu-pm is not advised and gets no upper end', async () => {
    const r = await analyze([tmpTrace(crafted(1, 1))]);
    const h = hostFacts(r);
    expect(h).toMatchObject({ shared: true, pinned: false });
    expect(h.evidence[0]).toMatch(/2 vCPU threads ran on 1 host CPU \(1\): they share host CPUs/);
    const cp = buildLevers(r).levers.find((l) => l.id === 'cpu-pm')!;
    expect(cp.status).toBe('not-advised');
    expect(cp.effect.basis).toBe('none');
    expect(cp.effect.tax_after!.high).toBeNull();
    expect(cp.rank).toBeGreaterThan(5);
  });
});

describe('cpu-pm model arithmetic (hand-made terms)', () => {
  const b: Terms = {
    vcpus: 2, wall_ns: 284000, guest_ns: 99000, host_ns: 185000, halted_ns: 110000, overhead_ns: 75000, tax: 75 / 284, exits: 7, span_ns: 170000,
    hlt_exits: 2, hlt_rest_ns: 40000, pause_exits: 1, mwait_exits: 0, stop_ns: 5000, wakes: 2, wakes_traced: true, exit_mean_ns: 7000,
    interrupt_exits: 1, interrupt_ns: 6000, units: 1, preempt_per_s_max: null, wake_delay_ns: 0, ref_exit_ns: 7000,
  };
  const box = { rho: [1, 1] as [number, number], kappa: [0.5, 0.5] as [number, number], kappa_n: [0.5, 2] as [number, number], omega: [0, 0] as [number, number] };
  const point = { rho: 1, kappa: 0.5, kappa_n: 1, omega: 0 };
  const band = { tax_pp: [-1, 0, 2] as [number, number, number], exits_per_s: [0.8, 1, 1.5] as [number, number, number], wall: [0.9, 1, 1.2] as [number, number, number] };

  it('overhead = kept + kappa x wakes x mean cost; the band around it', () => {
    const f = forecastCpuPm(b, box, point, band);
    // kept = 75 - 40 - 5 = 30 us; + 0.5 x 2 x 7 us = 37 us over 284 us
    expect(f.tax.point).toBeCloseTo(37 / 284, 9);
    expect(f.tax.low).toBeCloseTo(37 / 284 - 0.01, 9);
    expect(f.tax.high).toBeCloseTo(37 / 284 + 0.02, 9);
    expect(f.removed_ns).toBe(45000);
    expect(f.removed_exits).toBe(3);
    // exits: 7 - 2 HLT - 1 PAUSE + 1 x 2 wakes = 6 over the 170 us span
    expect(f.exits).toEqual({ low: 5, point: 6, high: 8 });
    expect(f.exits_per_s.point).toBeCloseTo(6 / 170e-6, 3);
    expect(f.exits_per_s.low).toBeCloseTo(0.8 * 6 / 170e-6, 3);
    // wall: 284 x 0.9 (above the floor 284 - 110), x 1, x 1.2
    expect(f.wall_ns).toEqual({ low: 255600, point: 284000, high: 340800 });
    expect(f.added_exits).toEqual({ low: 1, point: 2, high: 4 });
  });

  it('observing a pair inverts the model', () => {
    // after: kept x 1.2, plus 3 interrupt exits of 7 us each (21 us), wall + 0.5 x halted
    const a: Terms = { ...b, overhead_ns: 1.2 * 30000 + 21000, interrupt_exits: 4, interrupt_ns: 6000 + 21000, wall_ns: 284000 + 55000, halted_ns: 0 };
    const o = observeCpuPm(b, a)!;
    expect(o.rho).toBeCloseTo(1.2, 9);
    expect(o.kappa).toBeCloseTo(21000 / (2 * 7000), 9);
    expect(o.kappa_n).toBeCloseTo(3 / 2, 9);
    expect(o.omega).toBeCloseTo(0.5, 9);
  });
});
