/**
 * Userspace round trips by key (issue 17): an exit's handling split at its first kvm_userspace_exit into
 * in-kernel and VMM time, per reason and per port/MMIO/MSR key.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { render } from '../../src/report/render.js';
import type { UserspaceSection } from '../../src/analysis/types.js';
import { TRACES, tmpTrace } from '../support/paths.js';

// three port writes of svm-D-small's vCPU 0 (lines 560-569, 655-659 of traces/svm-D-small/trace.txt),
// and one MSR exit that stays in the kernel
const H = '             vmm-192     (    188) [000]';
const CRAFTED = [
  `${H} d..1.     7.363000: kvm_entry: vcpu 0, rip 0x100dd`,
  `${H} .....     7.363127: kvm_exit: vcpu 0 reason io rip 0x100dd info1 0x0000000005020010 info2 0x00000000000100de intr_info 0x00000000 error_code 0x00000000`,
  `${H} .....     7.363148: kvm_pio: pio_write at 0x502 size 1 count 1 val 0x5 `,
  `${H} .....     7.363230: kvm_userspace_exit: reason KVM_EXIT_IO (2)`,
  `${H} d..1.     7.364433: kvm_entry: vcpu 0, rip 0x100de`,
  `${H} .....     7.364551: kvm_exit: vcpu 0 reason io rip 0x100f1 info1 0x0000000005010010 info2 0x00000000000100f2 intr_info 0x00000000 error_code 0x00000000`,
  `${H} .....     7.364592: kvm_pio: pio_write at 0x501 size 1 count 1 val 0x6 `,
  `${H} .....     7.364646: kvm_userspace_exit: reason KVM_EXIT_IO (2)`,
  `${H} d..1.     7.364759: kvm_entry: vcpu 0, rip 0x100f2`,
  `${H} .....     7.373634: kvm_exit: vcpu 0 reason io rip 0x10136 info1 0x0000000005020010 info2 0x0000000000010137 intr_info 0x00000000 error_code 0x00000000`,
  `${H} .....     7.373664: kvm_pio: pio_write at 0x502 size 1 count 1 val 0x6 `,
  `${H} .....     7.373716: kvm_userspace_exit: reason KVM_EXIT_IO (2)`,
  `${H} d..1.     7.374240: kvm_entry: vcpu 0, rip 0x10137`,
  `${H} .....     7.374300: kvm_exit: vcpu 0 reason msr rip 0x10140 info1 0x0000000000000001 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000`,
  `${H} .....     7.374301: kvm_msr: msr_write 6e0 = 0x1234`,
  `${H} d..1.     7.374310: kvm_entry: vcpu 0, rip 0x10142`,
].join('\n') + '\n';

const row = (rows: UserspaceSection['reasons'], key: string) => rows.find((r) => r.key === key);

describe('userspace round trips', () => {
  it('splits each exit at its first kvm_userspace_exit (hand-computed)', async () => {
    const r = await analyze([tmpTrace(CRAFTED)], { userspace: true });
    const us = r.userspace as UserspaceSection;
    expect(us.available).toBe(true);
    // io: 1306 + 208 + 606 = 2120 us; VMM: (7.364433-7.363230) + (7.364759-7.364646) + (7.374240-7.373716) = 1203 + 113 + 524 = 1840 us
    expect(row(us.reasons, 'io')).toEqual({ key: 'io', exits_handled: 3, total_ns: 2_120_000, to_userspace: 3, userspace_ns: 1_840_000, in_kernel_ns: 280_000 });
    expect(row(us.reasons, 'msr')).toEqual({ key: 'msr', exits_handled: 1, total_ns: 10_000, to_userspace: 0, userspace_ns: 0, in_kernel_ns: 10_000 });
    expect(row(us.keys, 'pio 0x502 w')).toEqual({ key: 'pio 0x502 w', exits_handled: 2, total_ns: 1_912_000, to_userspace: 2, userspace_ns: 1_727_000, in_kernel_ns: 185_000 });
    expect(row(us.keys, 'pio 0x501 w')).toEqual({ key: 'pio 0x501 w', exits_handled: 1, total_ns: 208_000, to_userspace: 1, userspace_ns: 113_000, in_kernel_ns: 95_000 });
    const text = render(r, 'table', { sections: new Set(['userspace']) });
    expect(text).toMatch(/io: 2\.12 ms, of which 1\.84 ms in the VMM \(3 of 3 exits went to userspace\)/);
    expect(render(r, 'md', { sections: new Set(['userspace']) })).toMatch(/Userspace round trips by port/);
    const csv = render(r, 'csv', { sections: new Set(['userspace']) }).split('\n');
    expect(csv[0]).toBe('by,key,exits_handled,total_ns,to_userspace,in_kernel_ns,userspace_ns');
    expect(csv).toContain('reason,io,3,2120000,3,280000,1840000');
    expect(csv).toContain('key,pio 0x502 w,2,1912000,2,185000,1727000');
  });
  it('only when asked: the default report has no userspace member', async () => {
    const r = await analyze([tmpTrace(CRAFTED)]);
    expect(r.userspace).toBeUndefined();
  });
  it('says why when the trace has no kvm_userspace_exit', async () => {
    const r = await analyze([tmpTrace(CRAFTED.split('\n').filter((l) => !l.includes('kvm_userspace_exit')).join('\n'))], { userspace: true });
    expect(r.userspace).toMatchObject({ available: false, reason: expect.stringMatching(/no kvm_userspace_exit/) });
  });
  it('svm-D-small: port 0x80 goes to the VMM; figures agree with an independent awk pass over the trace', async () => {
    // awk over trace.txt: per thread, exit -> first kvm_userspace_exit -> entry; io VMM 0.015284 s in 216 exits
    // of 0.028188 s; keys 0x80 0.008382 s, 0x502 0.003901 s, 0x501 0.003001 s
    const r = await analyze([path.join(TRACES, 'svm-D-small', 'trace.txt.xz')], { userspace: true });
    const us = r.userspace as UserspaceSection;
    const io = row(us.reasons, 'io')!;
    expect([io.exits_handled, io.to_userspace]).toEqual([216, 216]);
    expect(io.userspace_ns / 1e6).toBeCloseTo(15.284, 3);
    expect(io.total_ns / 1e6).toBeCloseTo(28.188, 3);
    expect(row(us.keys, 'pio 0x80 w')!.userspace_ns / 1e6).toBeCloseTo(8.382, 3);
    expect(row(us.keys, 'pio 0x502 w')!.userspace_ns / 1e6).toBeCloseTo(3.901, 3);
    expect(row(us.keys, 'pio 0x501 w')!.userspace_ns / 1e6).toBeCloseTo(3.001, 3);
    expect(row(us.reasons, 'msr')!.to_userspace).toBe(0);
  });
});
