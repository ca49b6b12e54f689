/**
 * arm64 KVM (issue 18), on the real captures made by scripts/capture-arm64 (traces/arm64-D-small: VHE;
 * traces/arm64-D-small-nvhe: nVHE; traces/arm64-D-small-protected: pKVM; traces/arm64-A-baseline: VHE, 10x the work) and on crafted lines for what
 * they do not show.
 *
 * The oracle is perf kvm stat's own report of the same run. perf 6.1 on arm64 (tools/perf/arch/arm64/util/
 * kvm-stat.c) begins an event at kvm_entry and ends it at kvm_exit, keyed by the exit: its Samples per reason are
 * the exits that had an entry before them on their thread (here: every exit), and its times are the guest time
 * before each exit, not the handling time. So kvmtax's exits seen per reason equal perf's samples, and its handled
 * exits (exit -> next entry) are those minus the exits still pending when the trace ends (each vCPU thread's last
 * exit: the MMIO write that tells the VMM it is done, after which the thread never re-enters).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import type { Report } from '../../src/analysis/types.js';
import { TRACES, tmpTrace } from '../support/paths.js';
import { perfVmexitTable } from '../support/perf-kvm-stat.js';
import { buildPerfetto, parseFtraceText } from '../support/perfetto-build.js';
import { arm64ExitReason, arm64Tables, symbolicTable, ARM64_EXCEPTION_CLASSES, ARM64_EXCEPTION_TYPES } from '../../src/formats/arm64.js';

const VHE = path.join(TRACES, 'arm64-D-small');
const NVHE = path.join(TRACES, 'arm64-D-small-nvhe');
const seen = (r: Report) => Object.fromEntries(r.reasons.map((x) => [x.reason, x.exits_seen]));
const handled = (r: Report) => Object.fromEntries(r.reasons.map((x) => [x.reason, x.exits_handled]));
const perfSamples = (dir: string) =>
  Object.fromEntries(perfVmexitTable(fs.readFileSync(path.join(dir, 'perf-kvm-stat-report.txt'), 'utf8')).rows.map((p) => [p.reason, p.samples]));

/** counts.txt of the capture tools: "kvm_exit reasons (all threads):" of the first file listed (trace.txt). */
function countsOf(dir: string): Record<string, number> {
  const sec = fs.readFileSync(path.join(dir, 'counts.txt'), 'utf8').split('kvm_exit reasons (all threads):')[1]!;
  const out: Record<string, number> = {};
  for (const l of sec.split('\n').slice(1)) {
    const m = /^\s+(\d+)\s+(\S+)\s*$/.exec(l);
    if (!m) break;
    out[m[2]!] = +m[1]!;
  }
  return out;
}

/** KVM's own per-vCPU "exits" statistic (KVM_GET_STATS_FD, printed by the VMM): exits that reached handle_exit. */
function kvmStatExits(dir: string): number {
  const t = fs.readFileSync(path.join(dir, 'vmm-output.txt'), 'utf8');
  return [...t.matchAll(/^KVM stats vcpu\d+:.* exits=(\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
}

const vheFiles: Array<[string, string]> = [
  ['trace.txt.xz', 'ftrace'], ['trace-cmd-report.txt.xz', 'trace-cmd'], ['trace-cmd-report-N.txt.xz', 'trace-cmd'],
  ['perf-script.txt.xz', 'perf'], ['perf-kvm-script.txt.xz', 'perf'], ['trace.dat', 'trace.dat'],
  ['perf.data.xz', 'perf.data'], ['perf-kvm.data.xz', 'perf.data'],
];
const nvheFiles: Array<[string, string]> = [
  ['trace.txt.xz', 'ftrace'], ['trace-cmd-report-N.txt.xz', 'trace-cmd'], ['perf-kvm-script.txt.xz', 'perf'],
  ['perf-kvm.data.xz', 'perf.data'],
];

const BASE = path.join(TRACES, 'arm64-A-baseline');
const PKVM = path.join(TRACES, 'arm64-D-small-protected');
const baseFiles: Array<[string, string]> = [['trace.txt.xz', 'ftrace'], ['perf-kvm.data.xz', 'perf.data']];

describe.each([['VHE', VHE, vheFiles], ['nVHE', NVHE, nvheFiles], ['VHE, 10x scale', BASE, baseFiles], ['pKVM', PKVM, nvheFiles]] as const)('real arm64 capture (%s)', (_mode, dir, files) => {
  it.each(files)('%s: exits per reason = perf kvm stat report; handled = seen minus the exits pending at the end', async (f, format) => {
    const r = await analyze([path.join(dir, f)]);
    expect(r.inputs[0]!.format).toBe(format);
    expect(r.quality.skipped).toEqual([]);
    expect(seen(r)).toEqual(perfSamples(dir));
    expect(seen(r)).toEqual(countsOf(dir));
    // the two vCPU threads' last exits (DABT_LOW: the "done" MMIO write) never see an entry
    expect(r.quality.unpaired.exits_pending_at_end).toBe(2);
    expect(r.quality.unpaired.exits_without_entry + r.quality.unpaired.entries_without_exit).toBe(0);
    const want = { ...perfSamples(dir) };
    want.DABT_LOW! -= 2;
    expect(handled(r)).toEqual(want);
    // a vCPU is its thread (arm64 exits carry no vCPU id): two threads, KVM's own exit statistic in total
    expect(r.vms.flatMap((v) => v.vcpus).length).toBe(2);
    expect(r.totals.exits_seen).toBe(kvmStatExits(dir));
  });

  it('every format of the run gives the same counts; files of one recording the same times (1 us per exit for us texts)', async () => {
    const reps = await Promise.all(files.map(([f]) => analyze([path.join(dir, f)])));
    for (const r of reps) expect(handled(r)).toEqual(handled(reps[0]!));
    // three recordings of one run (ftrace instance, perf record, perf kvm stat record): each stamps its own copy
    // of an event, so times agree within a recording only
    const group = (f: string) => (/^perf-kvm/.test(f) ? 'perf-kvm' : /^perf/.test(f) ? 'perf' : 'ftrace');
    for (const g of ['ftrace', 'perf', 'perf-kvm']) {
      const rs = reps.filter((_, i) => group(files[i]![0]) === g);
      for (const r of rs) {
        for (const x of r.reasons) {
          const y = rs[0]!.reasons.find((z) => z.reason === x.reason)!;
          expect(Math.abs(x.total_ns - y.total_ns), `${g} ${x.reason}`).toBeLessThanOrEqual(1000 * x.exits_handled);
        }
      }
    }
    // perf kvm stat's recording, binary and --ns text, agrees exactly
    const pk = reps.filter((_, i) => group(files[i]![0]) === 'perf-kvm');
    if (pk.length === 2) expect(JSON.stringify(pk[0]!.reasons)).toBe(JSON.stringify(pk[1]!.reasons));
  });
});

describe('arm64 rules on the real capture', () => {
  it('WFx takes HLT\'s place: its halts (kvm_vcpu_wakeup) count as idle, everything else as overhead', async () => {
    const r = await analyze([path.join(VHE, 'trace.txt.xz')]);
    const wfx = r.reasons.find((x) => x.reason === 'WFx')!;
    expect(wfx.idle).toBe(true);
    expect(r.reasons.filter((x) => x.idle).map((x) => x.reason)).toEqual(['WFx']);
    expect(r.totals.halted_ns).toBeGreaterThan(0);
    expect(r.totals.halted_ns).toBeLessThanOrEqual(wfx.total_ns);
    // every trapped WFx of this run was a WFI (kvm_wfx_arm64 "guest executed wfi"; the VMM's wfe_exit_stat is 0)
    const txt = (await import('node:child_process')).execFileSync('xz', ['-dc', path.join(VHE, 'trace.txt.xz')], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect((txt.match(/kvm_wfx_arm64: guest executed wfi/g) ?? []).length).toBe(wfx.exits_seen);
    expect(txt).not.toMatch(/guest executed wfe/);
    expect(fs.readFileSync(path.join(VHE, 'vmm-output.txt'), 'utf8')).toMatch(/wfe_exit_stat=0 .*\n.*wfe_exit_stat=0 /);
    // the other arm64 events are read and counted by name
    for (const e of ['kvm_wfx_arm64', 'kvm_hvc_arm64', 'kvm_timer_update_irq', 'vgic_update_irq_pending', 'kvm_sys_access', 'kvm_handle_sys_reg', 'kvm_mmio', 'kvm_guest_fault']) {
      expect(r.quality.events_by_name[e], e).toBeGreaterThan(0);
    }
    expect(r.quality.events_by_name.kvm_hvc_arm64).toBe(seen(r).HVC64);
  });

  it('Perfetto KvmExitFtraceEvent / KvmEntryFtraceEvent (typed or generic) built from the ftrace twin give the same report', async () => {
    const txt = (await import('node:child_process')).execFileSync('xz', ['-dc', path.join(VHE, 'trace.txt.xz')], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const events = parseFtraceText(txt);
    const text = await analyze([path.join(VHE, 'trace.txt.xz')]);
    // typed kvm_exit/kvm_entry (Perfetto's own arm64 protos), and the same events as generic events (older
    // Perfetto, or a build that does not know them): legacy (name, value) pairs or the dense encoding
    for (const [generic, typedKvm] of [['legacy', true], ['dense', true], ['legacy', false], ['dense', false]] as const) {
      const pf = await analyze([tmpTrace(buildPerfetto(events, { generic, typedKvm }), 'arm64.pftrace')]);
      expect(pf.inputs[0]!.format).toBe('perfetto');
      expect(JSON.stringify(pf.reasons)).toBe(JSON.stringify(text.reasons));
      expect(pf.totals).toEqual(text.totals);
      expect(pf.quality.unpaired).toEqual(text.quality.unpaired);
    }
  });
});

describe('arm64 kvm_exit variants (crafted lines in the kernel\'s exact print format; no capture shows them)', () => {
  const line = (tid: number, ts: string, body: string) =>
    `             vmm-${tid}     (    140) [000] d....    ${ts}: ${body}\n`;
  it('names TRAP by exception class, IRQ/SERROR/HYP_GONE by type, and a class missing from the table by its hex', async () => {
    // "(0x1a)": __print_symbolic prints a value missing from its table as 0x<hex> (6.1's table has no 0x1a)
    const t = line(141, '10.000000', 'kvm_entry: PC: 0x0000000040000000')
      + line(141, '10.000010', 'kvm_exit: TRAP: HSR_EC: 0x001a (0x1a), PC: 0x0000000040000004')
      + line(141, '10.000013', 'kvm_entry: PC: 0x0000000040000004')
      + line(141, '10.000020', 'kvm_exit: SERROR: HSR_EC: 0x0000 (UNKNOWN), PC: 0x0000000040000008')
      + line(141, '10.000024', 'kvm_entry: PC: 0x0000000040000008')
      + line(141, '10.000030', 'kvm_exit: HYP_GONE: HSR_EC: 0x0000 (UNKNOWN), PC: 0x000000004000000c')
      + line(141, '10.000035', 'kvm_entry: PC: 0x000000004000000c')
      + line(141, '10.000040', 'kvm_exit: TRAP: HSR_EC: 0x0017 (SMC64), PC: 0x0000000040000010')
      + line(141, '10.000046', 'kvm_entry: PC: 0x0000000040000010');
    const r = await analyze([tmpTrace(t)]);
    expect(r.reasons.map((x) => [x.reason, x.exits_handled, x.total_ns]).sort()).toEqual(
      [['0x1a', 1, 3000], ['HYP_GONE', 1, 5000], ['SERROR', 1, 4000], ['SMC64', 1, 6000]]);
    expect(r.quality.skipped).toEqual([]);
    // the binary readers name them the same way
    expect([arm64ExitReason(2, 0x1a), arm64ExitReason(1, 0), arm64ExitReason(0xbadca11, 0), arm64ExitReason(2, 0x17), arm64ExitReason(0, 0), arm64ExitReason(7, 0)])
      .toEqual(['0x1a', 'SERROR', 'HYP_GONE', 'SMC64', 'IRQ', '0x7']);
  });
});

describe('RISC-V kvm_exit (CRAFTED: lines in arch/riscv/kvm/trace.h\'s print format; no real RISC-V capture backs this)', () => {
  const line = (tid: number, ts: string, body: string) =>
    `             vmm-${tid}     (    140) [001] d....    ${ts}: ${body}\n`;
  it('names the exit by scause: the interrupt bit gives IRQ_*, the rest EXC_*, an unknown cause its hex', async () => {
    const t = line(151, '20.000000', 'kvm_entry: PC: 0x0000000080200000')
      + line(151, '20.000010', 'kvm_exit: SEPC:0x80200004, SCAUSE:0xa, STVAL:0x0, HTVAL:0x0, HTINST:0x0')
      + line(151, '20.000012', 'kvm_entry: PC: 0x0000000080200008')
      + line(151, '20.000020', 'kvm_exit: SEPC:0x80200010, SCAUSE:0x8000000000000005, STVAL:0x0, HTVAL:0x0, HTINST:0x0')
      + line(151, '20.000023', 'kvm_entry: PC: 0x0000000080200010')
      + line(151, '20.000030', 'kvm_exit: SEPC:0x80200020, SCAUSE:0x15, STVAL:0x10000000, HTVAL:0x4000000, HTINST:0x0')
      + line(151, '20.000034', 'kvm_entry: PC: 0x0000000080200024')
      + line(151, '20.000040', 'kvm_exit: SEPC:0x80200030, SCAUSE:0x5, STVAL:0x0, HTVAL:0x0, HTINST:0x0')
      + line(151, '20.000045', 'kvm_entry: PC: 0x0000000080200034')
      + line(151, '20.000050', 'kvm_exit: SEPC:0x80200040, SCAUSE:0x3f, STVAL:0x0, HTVAL:0x0, HTINST:0x0')
      + line(151, '20.000056', 'kvm_entry: PC: 0x0000000080200044');
    const r = await analyze([tmpTrace(t)]);
    expect(r.quality.skipped).toEqual([]);
    expect(r.reasons.map((x) => [x.reason, x.exits_handled, x.total_ns]).sort()).toEqual([
      ['EXC_LOAD_ACCESS', 1, 5000], ['EXC_LOAD_GUEST_PAGE_FAULT', 1, 4000], ['EXC_SUPERVISOR_SYSCALL', 1, 2000],
      ['IRQ_S_TIMER', 1, 3000], ['scause 0x3f', 1, 6000]]);
    // the binary readers' path (kvm-events.ts: scause field) names through the same table
    const { reasonName, riscvCode, ISA_RISCV } = await import('../../src/core/reasons.js');
    expect(reasonName(ISA_RISCV, riscvCode(0x8000000000000005n))).toBe('IRQ_S_TIMER');
    expect(reasonName(ISA_RISCV, riscvCode(0x16n))).toBe('EXC_VIRTUAL_INST_FAULT');
  });
});

describe('arm64 in the report', () => {
  it('says the trace is arm64 and states arm64\'s rules in its notes', async () => {
    const r = await analyze([path.join(VHE, 'trace.txt.xz')]);
    expect(r.isa).toBe('arm64');
    const notes = r.notes.filter((x) => x.startsWith('arm64: '));
    // fast path, naming, WFx, and the timer/vgic events counted by name only (arm64-events.test.ts)
    expect(notes.length).toBe(4);
    expect(notes.join('\n')).toMatch(/hyp fast path.*emit no kvm_exit\/kvm_entry/);
    expect(notes.join('\n')).toMatch(/WFx .*takes HLT's place.*only the halts inside a WFx exit/);
    // x86 traces keep theirs: no arm64 name is a VMX or SVM name
    const { VMX_REASONS, SVM_REASONS, ARM64_EXCEPTION_CLASSES, ARM64_EXCEPTION_TYPES } = await import('../../src/core/reason-tables.js');
    const x86 = new Set([...VMX_REASONS, ...SVM_REASONS].map(([, n]) => n));
    expect([...ARM64_EXCEPTION_CLASSES, ...ARM64_EXCEPTION_TYPES].map(([, n]) => n).filter((n) => x86.has(n))).toEqual([]);
  });
});

describe('arm64 naming tables from the format file', () => {
  it('the real 6.1 kvm_exit print fmt gives exactly the built-in tables', () => {
    const info = fs.readFileSync(path.join(VHE, 'l1-info.txt'), 'utf8');
    const fmt = /kvm_exit\/format\n[^]*?print fmt: (.*)\n/.exec(info)![1]!;
    expect([...symbolicTable(fmt, 'ret')!]).toEqual(ARM64_EXCEPTION_TYPES.map(([c, n]) => [c, n]));
    expect([...symbolicTable(fmt, 'esr_ec')!]).toEqual(ARM64_EXCEPTION_CLASSES.map(([c, n]) => [c, n]));
    expect(symbolicTable(fmt, 'vcpu_pc')).toBeUndefined();
  });
  it('a kernel whose table knows more classes names them (crafted print fmt)', () => {
    const fmt = '"%s: HSR_EC: 0x%04x (%s), PC: 0x%016lx", __print_symbolic(REC->ret, {0, "IRQ" }, {2, "TRAP" }), REC->esr_ec, '
      + '__print_symbolic(REC->esr_ec, { (0x16), "HVC64" }, { (0x1A), "ERET" }), REC->vcpu_pc';
    const t = arm64Tables(fmt);
    expect([arm64ExitReason(2, 0x1a, t), arm64ExitReason(2, 0x16, t), arm64ExitReason(2, 0x24, t), arm64ExitReason(0, 0, t)])
      .toEqual(['ERET', 'HVC64', '0x24', 'IRQ']);
    // a print fmt without the lists falls back to the 6.1 tables
    expect(arm64ExitReason(2, 0x24, arm64Tables('"PC: 0x%016lx", REC->vcpu_pc'))).toBe('DABT_LOW');
  });
});
