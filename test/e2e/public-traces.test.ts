/**
 * Other people's public captures, read from ../shared/public-traces (never copied into this
 * repository): real Intel VMX hosts (kernel 6.5), trace-cmd's kvm-plugin rendering, two VMs in one
 * trace, an x86-tsc clock. Two of them come with the author's published per-reason counts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { HAVE_SHARED, SHARED } from '../support/paths.js';

const HIP = path.join(SHARED, 'public-traces', 'hip24-masterarbeit');
const seen = (r: Awaited<ReturnType<typeof analyze>>) => Object.fromEntries(r.reasons.map((x) => [x.reason, x.exits_seen]));

describe.skipIf(!HAVE_SHARED || !fs.existsSync(HIP))('HIP24 public traces (../shared/public-traces/hip24-masterarbeit)', () => {
  it('grep-kvm_exit-default: the published counts exactly', async () => {
    const r = await analyze([path.join(HIP, 'grep-kvm_exit-default.report.txt')]);
    expect(r.totals.exits_seen).toBe(14132);
    expect(seen(r)).toEqual({
      APIC_WRITE: 8445, HLT: 3778, EPT_MISCONFIG: 1289, PREEMPTION_TIMER: 163, EXTERNAL_INTERRUPT: 207, IO_INSTRUCTION: 78,
      EOI_INDUCED: 38, EPT_VIOLATION: 90, PAUSE_INSTRUCTION: 33, CPUID: 10, MSR_READ: 1,
    });
    expect(r.notes.join('\n')).toMatch(/no kvm_entry/);
  });
  it('grep-kvm_exit-vapic: the published counts exactly', async () => {
    const r = await analyze([path.join(HIP, 'grep-kvm_exit-vapic.report.txt')]);
    expect(r.totals.exits_seen).toBe(1333);
    expect(seen(r)).toEqual({ MSR_WRITE: 820, HLT: 337, EPT_MISCONFIG: 108, PREEMPTION_TIMER: 39, EXTERNAL_INTERRUPT: 28, MSR_READ: 1 });
  });
  it('110k trace, plugin and kernel (-N) renderings: two VMs paired per thread, same numbers', async () => {
    const a = await analyze([path.join(HIP, 'host-6.5.0-21-kvm-entry-exit-110k.report.txt.gz')]);
    const b = await analyze([path.join(HIP, 'host-6.5.0-21-kvm-entry-exit-110k.report-N.txt.gz')]);
    expect(a.totals.exits_seen).toBe(110653);
    expect(seen(a)).toEqual({
      APIC_WRITE: 56120, HLT: 29876, EPT_MISCONFIG: 10697, MSR_WRITE: 7293, EPT_VIOLATION: 4130, PREEMPTION_TIMER: 1378,
      EXTERNAL_INTERRUPT: 432, EOI_INDUCED: 395, PAUSE_INSTRUCTION: 175, MSR_READ: 137, CPUID: 13, VMCALL: 6, IO_INSTRUCTION: 1,
    });
    const threads = a.vms.flatMap((v) => v.vcpus.map((c) => [c.comm, c.tid, c.vcpu, c.exits_seen]));
    expect(threads).toEqual([['CPU 0/KVM', 453724, 0, 9262], ['qemu-system-x86', 483882, 0, 94927], ['CPU 1/KVM', 453725, 1, 6464]]);
    expect(JSON.stringify(b.reasons)).toBe(JSON.stringify(a.reasons));
    expect(a.quality.skipped).toEqual([]);
  });
  it('x86-tsc clock: raw cycles, converted with --tsc-khz', async () => {
    const f = path.join(HIP, 'host-6.5.0-18-all-kvm-events-x86tsc.report.txt.gz');
    const c = await analyze([f]);
    expect(c.unit).toBe('cycles');
    expect(seen(c)).toEqual({ APIC_WRITE: 1055, HLT: 472, EXTERNAL_INTERRUPT: 16, EPT_MISCONFIG: 11, PREEMPTION_TIMER: 3, EOI_INDUCED: 1 });
    const n = await analyze([f], { tscKhz: 3_000_000 });
    expect(n.unit).toBe('ns');
    expect(n.totals.host_ns).toBeCloseTo(c.totals.host_ns / 3, -3);
  });
});

describe.skipIf(!HAVE_SHARED)('public snippets of format variants', () => {
  const S = path.join(SHARED, 'public-traces', 'snippets');
  it('4.x trace_pipe with a truncated kvm_exit line: counted, not dropped', async () => {
    const r = await analyze([path.join(S, 'vmx-4.x-trace_pipe-ctf-writeup-challenge.txt')]);
    expect(seen(r)).toEqual({ EXTERNAL_INTERRUPT: 1, IO_INSTRUCTION: 2, HLT: 2 });
    expect(r.quality.skipped.map((s) => [s.kind, s.count])).toEqual([['exit-without-reason', 1]]);
    expect(r.quality.skipped[0]!.first).toMatch(/:18:\d+$/);
  });
  it('perf script without comm/tid columns', async () => {
    const r = await analyze([path.join(S, 'vmx-5.13-perf-script-kvm-all-nested-triplefault-kvm-list-2022.txt')]);
    expect(r.reasons.map((x) => [x.reason, x.exits_seen])).toEqual([['TRIPLE_FAULT', 1]]);
  });
  it('mail-wrapped events are joined (issue 17): the counts SOURCE.txt gives', async () => {
    const a = await analyze([path.join(S, 'vmx-5.x-ftrace-wrapped-qemu-devel-pckbd-2021.txt')]);
    expect(a.quality.events_by_name.kvm_exit).toBe(10);
    expect(a.quality.events_by_name.kvm_entry).toBe(9);
    expect(a.quality.skipped).toEqual([]);
    const b = await analyze([path.join(S, 'svm-5.8-ftrace-wrapped-npf-multivcpu-2020.txt')]);
    expect(seen(b)).toEqual({ npf: 3 });
    expect(b.quality.skipped).toEqual([]);
    const c = await analyze([path.join(S, 'vmx-4.18-tracecmd-wrapped-unknown-comm-kvm-list-2020.txt')]);
    expect(seen(c)).toEqual({ EPT_VIOLATION: 1 });
    expect(c.quality.events_by_name.kvm_userspace_exit).toBe(2);
    expect(c.quality.skipped).toEqual([]);
  });
  it('a trace-cmd body without header columns: its kvm_exit lines are counted as not understood, never "no events"', async () => {
    await expect(analyze([path.join(S, 'svm-5.13-tracecmd-noheader-nested-smm-kvm-list-2021.txt')])).rejects.toThrow(/though 5 lines name kvm_exit\/kvm_entry/);
  });
  it('6.x ftrace with 5-character irq flags and VMX names', async () => {
    const r = await analyze([path.join(S, 'vmx-6.x-ftrace-5charflags-kvm-list-2023-tdp-roots.txt')]);
    expect(seen(r)).toEqual({ EXCEPTION_NMI: 1 });
  });
});
