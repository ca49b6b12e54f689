/**
 * arm64's own exit events (issue 18): kvm_wfx_arm64 splits WFx exits into WFI / WFE per vCPU, kvm_hvc_arm64
 * keys HVC exits by r0 (the PSCI/SMCCC function id). Real capture traces/arm64-D-small in every format it was
 * recorded in; a crafted trace for what it cannot show (a trapped WFE never happens under QEMU TCG, see
 * scripts/capture-arm64/README.md; only PSCI_VERSION is called).
 *
 * Hand figures for arm64-D-small (trace.txt): `grep -c kvm_wfx_arm64` = 47 (47 "wfi", 0 "wfe"), 13 on vmm-145
 * and 34 on vmm-146; `grep -c kvm_hvc_arm64` = 400, all r0 0x84000000 (PSCI_VERSION). Handling times by awk
 * (kvm_exit -> next kvm_entry of the thread, over the WFx / HVC64 exits): WFx 30919000 ns (145) and
 * 103513000 ns (146), HVC64 32075000 + 24432000 = 56507000 ns.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import type { Report } from '../../src/analysis/types.js';
import { TRACES, tmpTrace } from '../support/paths.js';
import { render } from '../../src/report/render.js';

const VHE = path.join(TRACES, 'arm64-D-small');

function wfx(r: Report) {
  const s = r.arm64!.wfx;
  if (!s.available) throw new Error(s.reason);
  return Object.fromEntries(s.vcpus.map((v) => [v.tid, v]));
}
function hvc(r: Report) {
  const s = r.arm64!.hvc;
  if (!s.available) throw new Error(s.reason);
  return s.functions;
}

describe('arm64 WFx split and hypercalls on the real capture', () => {
  // trace-cmd 3.1 and perf 6.1 print kvm_wfx_arm64 as "wf>c< at: 0x0" (they cannot render the ternary): unknown
  const files: Array<[string, 'wfi' | 'unknown', boolean]> = [
    ['trace.txt.xz', 'wfi', true], ['trace.dat', 'wfi', false], ['trace-cmd-report.txt.xz', 'unknown', true],
    ['perf-script.txt.xz', 'unknown', false], ['perf.data.xz', 'wfi', false],
  ];
  for (const [f, kind, exactTimes] of files) {
    it(`${f}: 13 + 34 WFx exits (${kind}), no WFE; 400 PSCI_VERSION calls`, async () => {
      const r = await analyze([path.join(VHE, f)]);
      expect(r.isa).toBe('arm64');
      const w = wfx(r);
      expect(Object.keys(w).map(Number).sort()).toEqual([145, 146]);
      expect([w[145]![kind].events, w[146]![kind].events]).toEqual([13, 34]);
      expect([w[145]!.wfe.events, w[146]!.wfe.events]).toEqual([0, 0]);
      // every WFI here halted (kvm_vcpu_wakeup): 47 wakeups, 31 wait + 16 poll (counts.txt)
      expect([w[145]!.halts, w[146]!.halts]).toEqual([13, 34]);
      const h = hvc(r);
      expect(h.map((x) => [x.function_id, x.name, x.events, x.exits_handled])).toEqual([['0x84000000', 'PSCI_VERSION', 400, 400]]);
      if (exactTimes) {
        // the text of ftrace/trace-cmd has µs timestamps: the awk figures exactly
        expect([w[145]![kind].total_ns, w[146]![kind].total_ns]).toEqual([30919000, 103513000]);
        expect(h[0]!.total_ns).toBe(56507000);
      }
      if (kind === 'wfi') expect([w[145]!.idle_ns, w[146]!.idle_ns]).toEqual([w[145]!.wfi.total_ns, w[146]!.wfi.total_ns]);
      else expect(w[145]!.idle_ns).toBe(0);
    });
  }

  it('timer and vgic events are counted with a note (grep -c: 585 each), kvm_wfx_arm64 named in the WFx note', async () => {
    const r = await analyze([path.join(VHE, 'trace.txt.xz')]);
    expect(r.notes).toContain('arm64: kvm_timer_update_irq 585, vgic_update_irq_pending 585: counted by name only (events by name); they mark timer and interrupt-line updates, not a span of time, so no time is derived from them');
    expect(r.notes.some((n) => n.includes('kvm_wfx_arm64 tells WFI from WFE (arm64.wfx per vCPU'))).toBe(true);
    expect(r.notes.some((n) => n.includes('kvm_mmio_emulate'))).toBe(false); // not in this capture
  });

  it('trace.dat (ns clock) agrees with the text to the microsecond', async () => {
    const w = wfx(await analyze([path.join(VHE, 'trace.dat')]));
    expect(Math.round(w[145]!.wfi.total_ns! / 1000)).toBe(30919);
    expect(Math.round(w[146]!.wfi.total_ns! / 1000)).toBe(103513);
  });
});

describe('crafted: a WFI, a trapped WFE and two hypercalls', () => {
  const L = (ts: string, ev: string, body: string, tid = 7) =>
    `             vmm-${tid}     (      5) [000] .....    ${ts}: ${ev}: ${body}`;
  const text = [
    '# tracer: nop',
    L('1.000000', 'kvm_exit', 'TRAP: HSR_EC: 0x0001 (WFx), PC: 0x0000000040000100'),
    L('1.000010', 'kvm_wfx_arm64', 'guest executed wfi at: 0x0000000040000100'),
    L('1.000500', 'kvm_vcpu_wakeup', 'wait time 480000 ns, polling valid'),
    L('1.000600', 'kvm_entry', 'PC: 0x0000000040000104'),
    L('1.001000', 'kvm_exit', 'TRAP: HSR_EC: 0x0001 (WFx), PC: 0x0000000040000200'),
    L('1.001005', 'kvm_wfx_arm64', 'guest executed wfe at: 0x0000000040000200'),
    L('1.001020', 'kvm_entry', 'PC: 0x0000000040000204'),
    L('1.002000', 'kvm_exit', 'TRAP: HSR_EC: 0x0016 (HVC64), PC: 0x0000000040000300'),
    L('1.002002', 'kvm_hvc_arm64', 'HVC at 0x0000000040000300 (r0: 0x00000000c4000003, imm: 0x0)'),
    L('1.002050', 'kvm_entry', 'PC: 0x0000000040000304'),
    L('1.003000', 'kvm_exit', 'TRAP: HSR_EC: 0x0016 (HVC64), PC: 0x0000000040000300'),
    L('1.003002', 'kvm_hvc_arm64', 'HVC at 0x0000000040000300 (r0: 0x0000000086000000, imm: 0x0)'),
    L('1.003010', 'kvm_entry', 'PC: 0x0000000040000304'),
    '',
  ].join('\n');

  it('WFI 600 µs idle, WFE 20 µs overhead; CPU_ON64 50 µs, an unnamed vendor id 10 µs (exit -> entry)', async () => {
    const r = await analyze([tmpTrace(text)]);
    expect(r.isa).toBe('arm64');
    const v = wfx(r)[7]!;
    expect(v.wfi).toEqual({ events: 1, exits_handled: 1, total_ns: 600000 });
    expect(v.wfe).toEqual({ events: 1, exits_handled: 1, total_ns: 20000 });
    expect(v.unknown.events).toBe(0);
    expect([v.idle_ns, v.overhead_ns, v.halts]).toEqual([600000, 20000, 1]);
    expect(hvc(r).map((x) => [x.function_id, x.name, x.events, x.total_ns])).toEqual([
      ['0xc4000003', 'PSCI_CPU_ON64', 1, 50000], ['0x86000000', null, 1, 10000]]);
  });

  it('an x86 report has no arm64 member', async () => {
    const r = await analyze([tmpTrace([
      '# tracer: nop',
      '           qemu-9     [000] .....     1.000000: kvm_exit: vcpu 0 reason HLT rip 0xffffffff81000000 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0',
      '           qemu-9     [000] .....     1.000100: kvm_entry: vcpu 0, rip 0xffffffff81000001',
      ''].join('\n'))]);
    expect(r.isa).not.toBe('arm64');
    expect(r.arm64).toBeUndefined();
  });

  it('without kvm_wfx_arm64 / kvm_hvc_arm64 the parts say so, never zeros', async () => {
    const r = await analyze([tmpTrace(text.split('\n').filter((l) => !/kvm_wfx_arm64|kvm_hvc_arm64/.test(l)).join('\n'))]);
    expect(r.arm64!.wfx).toEqual({ available: false, reason: 'the trace has no kvm_wfx_arm64 events' });
    expect(r.arm64!.hvc).toEqual({ available: false, reason: 'the trace has no kvm_hvc_arm64 events' });
  });
});

describe('the arm64 section in the table, Markdown and HTML reports', () => {
  // figures as above (grep -c / awk over trace.txt; trace-cmd report gives no process, so no pid/ before the vcpu): 13 + 34 WFI exits on 145 / 146, 400 x PSCI_VERSION in 56507000 ns
  // the lines of the table titled `title` (up to the blank line after it), the row starting with `start`, split into cells
  const WFX = 'arm64 WFx exits per vCPU', HVC = 'arm64 hypercalls';
  const row = (text: string, title: string, start: string) => {
    const from = text.split('\n').findIndex((l) => l.startsWith(title));
    const lines = text.split('\n').slice(from);
    return lines.slice(0, lines.indexOf('')).find((l) => l.startsWith(start))?.trim().split(/\s{2,}/);
  };
  it('table: WFI / WFE per vCPU and the hypercalls by function id, shown by default', async () => {
    const r = await analyze([path.join(VHE, 'trace.txt.xz')]);
    const t = render(r, 'table', {});
    expect(t).toContain('arm64 WFx exits per vCPU (kvm_wfx_arm64)');
    // vCPU, WFI exits, WFI time, WFE exits, WFE time, unknown, its time, halts
    expect(row(t, WFX, '142/0 (145)')).toEqual(['142/0 (145)', '13', '30.92 ms', '0', '0 ns', '0', '0 ns', '13']);
    expect(row(t, WFX, '142/1 (146)')).toEqual(['142/1 (146)', '34', '103.51 ms', '0', '0 ns', '0', '0 ns', '34']);
    expect(row(t, HVC, '0x84000000')?.slice(0, 5)).toEqual(['0x84000000', 'PSCI_VERSION', '400', '400', '56.51 ms']);
  });
  it('Markdown and HTML carry the same rows; --sections without arm64 leaves them out', async () => {
    const r = await analyze([path.join(VHE, 'trace.txt.xz')]);
    const md = render(r, 'md', {});
    expect(md.split('\n').find((l) => l.includes('142/1 (146)') && l.includes('103.51 ms'))?.split('|').map((c) => c.trim()).filter(Boolean))
      .toEqual(['142/1 (146)', '34', '103.51 ms', '0', '0 ns', '0', '0 ns', '34']);
    expect(md).toMatch(/\|\s*0x84000000\s*\|\s*PSCI_VERSION\s*\|\s*400\s*\|\s*400\s*\|\s*56\.51 ms/);
    const html = render(r, 'html', {});
    expect(html).toContain('arm64 hypercalls (kvm_hvc_arm64) per PSCI/SMCCC function id');
    expect(html).toContain('PSCI_VERSION');
    expect(render(r, 'table', { sections: new Set(['exits']) })).not.toContain('kvm_wfx_arm64');
    expect(render(r, 'table', { sections: new Set(['arm64']) })).toContain('arm64 WFx exits per vCPU');
  });
  it('trace-cmd report (prints "wf>c<"): the WFx exits are counted as unknown, and the table says why', async () => {
    const t = render(await analyze([path.join(VHE, 'trace-cmd-report.txt.xz')]), 'table', {});
    expect(row(t, WFX, '0 (145)')).toEqual(['0 (145)', '0', '0 ns', '0', '0 ns', '13', '30.92 ms', '13']);
    expect(t).toContain('unknown: kvm_wfx_arm64 printed without telling WFI from WFE');
  });
});
