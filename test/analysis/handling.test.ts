/**
 * Where handling time goes (issue 17): each exit's interval split into on-CPU, preempted (sched_switch out
 * runnable during the kernel part), VMM (kvm_userspace_exit -> kvm_entry) and halted; hand-computed.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { render } from '../../src/report/render.js';
import type { HandlingSection } from '../../src/analysis/types.js';
import { TRACES, tmpTrace } from '../support/paths.js';

const V = (ts: string, ev: string) => `             vmm-192     (    188) [000] d..1.    ${ts}: ${ev}`;
const R = (ts: string, ev: string) => `     rcu_preempt-15      (     15) [000] d..2.    ${ts}: ${ev}`;
const OUT = (st: string) => `sched_switch: prev_comm=vmm prev_pid=192 prev_prio=120 prev_state=${st} ==> next_comm=rcu_preempt next_pid=15 next_prio=120`;
const IN = 'sched_switch: prev_comm=rcu_preempt prev_pid=15 prev_prio=120 prev_state=I ==> next_comm=vmm next_pid=192 next_prio=120';
const LINES = [
  V('10.000000', 'kvm_entry: vcpu 0, rip 0x1000'),
  // io: 300 us = preempted 30 (.000120-.000150) + VMM 240 (.000160-.000400) + on-CPU 30
  V('10.000100', 'kvm_exit: vcpu 0 reason io rip 0x1000 info1 0x0000000000800010 info2 0x0000000000001002 intr_info 0x00000000 error_code 0x00000000'),
  V('10.000110', 'kvm_pio: pio_write at 0x80 size 1 count 1 val 0x1'),
  V('10.000120', OUT('R')),
  R('10.000150', IN),
  V('10.000160', 'kvm_userspace_exit: reason KVM_EXIT_IO (2)'),
  V('10.000400', 'kvm_entry: vcpu 0, rip 0x1002'),
  // hlt: 500 us = halted 400 (kvm_vcpu_wakeup) + on-CPU 100; blocking (prev_state=S) is not preemption
  V('10.000500', 'kvm_exit: vcpu 0 reason hlt rip 0x1002 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000'),
  V('10.000510', OUT('S')),
  R('10.000900', IN),
  V('10.000950', 'kvm_vcpu_wakeup: wait time 400000 ns, polling valid'),
  V('10.001000', 'kvm_entry: vcpu 0, rip 0x1003'),
  // msr: 100 us = preempted 20 (.001110-.001130) + on-CPU 80
  V('10.001100', 'kvm_exit: vcpu 0 reason msr rip 0x1003 info1 0x0000000000000001 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000'),
  V('10.001110', OUT('R')),
  R('10.001130', IN),
  V('10.001200', 'kvm_entry: vcpu 0, rip 0x1005'),
];
const TRACE = LINES.join('\n') + '\n';
const us = (n: number) => n * 1000;
const pick = (r: HandlingSection['totals']) => [r.exits_handled, r.total_ns, r.on_cpu_ns, r.preempted_ns, r.vmm_ns, r.halted_ns, r.preempted_exits];

describe('where handling time goes', () => {
  it('splits each exit into on-CPU, preempted, VMM and halted (hand-computed)', async () => {
    const r = await analyze([tmpTrace(TRACE)], { handling: true });
    const h = r.handling as HandlingSection;
    expect(h.available).toBe(true);
    expect(h.missing).toEqual([]);
    const by = Object.fromEntries(h.reasons.map((x) => [x.key, pick(x)]));
    expect(by).toEqual({
      io: [1, us(300), us(30), us(30), us(240), 0, 1],
      hlt: [1, us(500), us(100), 0, 0, us(400), 0],
      msr: [1, us(100), us(80), us(20), 0, 0, 1],
    });
    expect(pick(h.totals)).toEqual([3, us(900), us(210), us(50), us(240), us(400), 2]);
    expect(h.vcpus.map((v) => [v.vcpu, v.tid, ...pick(v)])).toEqual([[0, 192, 3, us(900), us(210), us(50), us(240), us(400), 2]]);
    // the exit tax counts all but the halts: 500 of 900 us
    expect(r.totals.overhead_ns).toBe(us(500));
    const text = render(r, 'table', { sections: new Set(['handling']) });
    expect(text).toMatch(/handling 900\.00 us = on-CPU 210\.00 us \+ preempted 50\.00 us \(2 exits\) \+ VMM 240\.00 us \+ halted 400\.00 us/);
    expect(text).toMatch(/the exit tax counts on-CPU \+ preempted \+ VMM/);
    expect(render(r, 'csv', { sections: new Set(['handling']) }).split('\n')).toContain('all,all,,,3,900000,210000,50000,240000,400000,2');
  });
  it('says which part it cannot separate when an event is missing', async () => {
    const r = await analyze([tmpTrace(LINES.filter((l) => !l.includes('sched_switch') && !l.includes('kvm_userspace_exit')).join('\n') + '\n')], { handling: true });
    const h = r.handling as HandlingSection;
    expect(h.missing.join('\n')).toMatch(/no sched_switch events: preempted time cannot be separated/);
    expect(h.missing.join('\n')).toMatch(/no kvm_userspace_exit events/);
    expect(pick(h.totals)).toEqual([3, us(900), us(500), 0, 0, us(400), 0]);
  });
  it('only when asked', async () => {
    expect((await analyze([tmpTrace(TRACE)])).handling).toBeUndefined();
  });
  it('svm-D-small: the two preemptions checked by hand against the trace', async () => {
    // line 184: vCPU 0 switched out R at 7.337136 during the npf exit of 7.335251, back in at 7.337371 (235 us);
    // line 2343: out R at 7.435762 during the cpuid exit of 7.435318, back in at 7.436001 (239 us)
    const r = await analyze([path.join(TRACES, 'svm-D-small', 'trace.txt.xz')], { handling: true });
    const h = r.handling as HandlingSection;
    const by = Object.fromEntries(h.reasons.map((x) => [x.key, x]));
    expect(by.npf!.preempted_ns).toBe(us(235));
    expect(by.cpuid!.preempted_ns).toBe(us(239));
    expect(h.totals.preempted_exits).toBe(2);
    // the parts add up to the host time, and the halted part is the summary's
    expect(h.totals.on_cpu_ns + h.totals.preempted_ns + h.totals.vmm_ns + h.totals.halted_ns).toBe(r.totals.host_ns);
    expect(h.totals.halted_ns).toBe(r.totals.halted_ns);
  });
});
