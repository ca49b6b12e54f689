/** Guest RIP hotspots (issue 17, --by rip) with --guest-symbols. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { render } from '../../src/report/render.js';
import { GuestSymbols } from '../../src/analysis/rips.js';
import { TRACES, tmpTrace } from '../support/paths.js';

const MAP = 'ffffffff81000000 T _stext\n0000000000010200 t idle_loop\n00000000000104e0 T port80_delay\n0000000000020000 D some_data\n';

describe('guest RIPs', () => {
  it('symbols: code symbols only, name+offset, nothing below the first', () => {
    const g = new GuestSymbols(MAP);
    expect(g.size).toBe(3);
    expect(g.lookup(0x104e5n)).toBe('port80_delay+0x5');
    expect(g.lookup(0x10200n)).toBe('idle_loop');
    expect(g.lookup(0x100n)).toBeNull();
  });
  it('crafted: exits per rip and their time, per reason and per vCPU (hand-computed)', async () => {
    const H = (tid: number, cpu: number) => `             vmm-${tid}     (    188) [00${cpu}] d..1.`;
    const lines = [
      `${H(192, 0)}     7.000000: kvm_entry: vcpu 0, rip 0x104e0`,
      `${H(192, 0)}     7.000010: kvm_exit: vcpu 0 reason io rip 0x104e5 info1 0x0 info2 0x0 intr_info 0x00000000 error_code 0x00000000`,
      `${H(192, 0)}     7.000030: kvm_entry: vcpu 0, rip 0x104e6`,
      `${H(192, 0)}     7.000040: kvm_exit: vcpu 0 reason io rip 0x104e5 info1 0x0 info2 0x0 intr_info 0x00000000 error_code 0x00000000`,
      `${H(192, 0)}     7.000070: kvm_entry: vcpu 0, rip 0x104e6`,
      `${H(193, 1)}     7.000000: kvm_entry: vcpu 1, rip 0x10200`,
      `${H(193, 1)}     7.000005: kvm_exit: vcpu 1 reason io rip 0x104e5 info1 0x0 info2 0x0 intr_info 0x00000000 error_code 0x00000000`,
      `${H(193, 1)}     7.000015: kvm_entry: vcpu 1, rip 0x104e6`,
      `${H(193, 1)}     7.000020: kvm_exit: vcpu 1 reason hlt rip 0x10212 info1 0x0 info2 0x0 intr_info 0x00000000 error_code 0x00000000`,
      `${H(193, 1)}     7.000120: kvm_entry: vcpu 1, rip 0x10213`,
    ];
    const r = await analyze([tmpTrace(lines.join('\n') + '\n')], { rips: true, guestSymbols: new GuestSymbols(MAP) });
    const rp = r.rips!;
    // io at 0x104e5: 20 + 30 (vCPU 0) + 10 (vCPU 1) = 60 us in 3 exits; hlt at 0x10212: 100 us
    expect(rp.reasons.map((g) => [g.reason, g.exits, g.distinct_rips, g.top.map((x) => [x.rip, x.symbol, x.exits, x.total_ns])])).toEqual([
      ['io', 3, 1, [['0x104e5', 'port80_delay+0x5', 3, 60000]]],
      ['hlt', 1, 1, [['0x10212', 'idle_loop+0x12', 1, 100000]]],
    ]);
    expect(rp.vcpus.map((v) => [v.vcpu, v.reason, v.exits, v.top[0]!.total_ns])).toEqual([[0, 'io', 2, 50000], [1, 'hlt', 1, 100000], [1, 'io', 1, 10000]]);
    expect(render(r, 'table', { by: ['rip'] })).toMatch(/io\s+0x104e5 port80_delay\+0x5\s+3\s+60\.00 us\s+100\.0%/);
  });
  it('svm-D-small: the counts grep gives ("reason io rip 0x104e5" 200, "reason msr rip 0x102c6" 66, "reason cpuid rip 0x1050a" 200)', async () => {
    const r = await analyze([path.join(TRACES, 'svm-D-small', 'trace.txt.xz')], { rips: true });
    const top = Object.fromEntries(r.rips!.reasons.map((g) => [g.reason, [g.top[0]!.rip, g.top[0]!.exits]]));
    expect(top.io).toEqual(['0x104e5', 200]);
    expect(top.msr).toEqual(['0x102c6', 66]);
    expect(top.cpuid).toEqual(['0x1050a', 200]);
    expect((await analyze([path.join(TRACES, 'svm-D-small', 'trace.txt.xz')])).rips).toBeUndefined();
    // --vcpu 1: the rip table follows the filtered bins (vCPU 1 runs 21 of the 66 msr exits at 0x102c6)
    const one = await analyze([path.join(TRACES, 'svm-D-small', 'trace.txt.xz')], { rips: true, filter: { vcpu: 1 } });
    expect(new Set(one.rips!.vcpus.map((v) => v.vcpu))).toEqual(new Set([1]));
    expect(one.rips!.vcpus.find((v) => v.reason === 'msr')!.top.find((x) => x.rip === '0x102c6')!.exits).toBe(21);
  });
});

describe('NPF exits by guest-physical page (--by gpa)', () => {
  it('crafted: new (info2) and old ("info A B") SVM renderings, by 4 KiB page (hand-computed)', async () => {
    const H = '             vmm-192     (    188) [000] d..1.';
    const lines = [
      `${H}     7.000000: kvm_entry: vcpu 0, rip 0x10000`,
      `${H}     7.000010: kvm_exit: vcpu 0 reason npf rip 0x10000 info1 0x0000000200000006 info2 0x0000000000001000 intr_info 0x00000000 error_code 0x00000000`,
      `${H}     7.000030: kvm_entry: vcpu 0, rip 0x10000`,
      `${H}     7.000040: kvm_exit: reason EXIT_NPF rip 0x10000 info 200000006 1ff8`,
      `${H}     7.000100: kvm_entry: vcpu 0, rip 0x10000`,
      `${H}     7.000110: kvm_exit: vcpu 0 reason npf rip 0x10000 info1 0x0000000100000014 info2 0x0000000000081058 intr_info 0x00000000 error_code 0x00000000`,
      `${H}     7.000115: kvm_entry: vcpu 0, rip 0x10000`,
      `${H}     7.000120: kvm_exit: vcpu 0 reason msr rip 0x10050 info1 0x0000000000000001 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000`,
      `${H}     7.000125: kvm_entry: vcpu 0, rip 0x10052`,
    ];
    const r = await analyze([tmpTrace(lines.join('\n') + '\n')], { gpas: true });
    // page 0x1000: 20 + 60 us (info2 0x1000 and 0x1ff8); page 0x81000: 5 us; the msr exit has no page
    expect(r.gpas!.pages.map((p) => [p.gpa, p.exits, p.total_ns])).toEqual([['0x1000', 2, 80000], ['0x81000', 1, 5000]]);
    expect(r.gpas!.vcpus.map((v) => [v.vcpu, v.exits])).toEqual([[0, 3]]);
  });
  it('svm-D-small: the pages grep gives for "reason npf ... info2" (0x1000, 0x10000, 0x81000 twice each; 13 exits)', async () => {
    const r = await analyze([path.join(TRACES, 'svm-D-small', 'trace.txt.xz')], { gpas: true });
    expect(r.gpas!.pages.slice(0, 3).map((p) => [p.gpa, p.exits])).toEqual([['0x1000', 2], ['0x10000', 2], ['0x81000', 2]]);
    expect(r.gpas!.pages.reduce((s, p) => s + p.exits, 0)).toBe(13);
  });
});
