/**
 * `--what-if cpu-pm`: a forecast from one baseline report of what KVM_CAP_X86_DISABLE_EXITS
 * (QEMU -overcommit cpu-pm=on: MWAIT 0x1 | HLT 0x2 | PAUSE 0x4 | CSTATE 0x8) would change.
 *
 * What stops trapping, and how it is found in the report:
 *   HLT      exit reasons HLT (VMX), hlt and idle-halt (SVM)                     from the exit reasons
 *   MWAIT    MWAIT_INSTRUCTION and MONITOR_INSTRUCTION (VMX), mwait and monitor (SVM): KVM stops
 *            intercepting both                                                   from the exit reasons
 *   PAUSE    PAUSE_INSTRUCTION (VMX, also pause-loop exits), pause (SVM)         from the exit reasons
 *   C-state MSR reads  of the core residency counters MSR_CORE_C1_RES (0x660) and MSR_CORE_C3/C6/C7_RESIDENCY
 *            (0x3fc-0x3fe), passed through on VMX (vmx.c); they are MSR_READ (VMX) / msr (SVM) exits, and
 *            which MSR an exit read is known only from kvm_msr events (the report's msr section): without
 *            them these reads cannot be told apart from the other MSR exits and are not counted.
 *
 * The estimate is the cpu-pm model of src/analysis/levers/ (the same one `--sections levers` and
 * `kvmtax advise` use), calibrated on real before/after pairs: the stopped exits' overhead leaves, the
 * halted time becomes guest time, each wake-up becomes an interrupt exit, and the range carries how far
 * the calibration pairs landed from that mechanism. On vCPU threads that share host CPUs the forecast
 * has no upper end (tax_high null): cpu-pm is not advised there.
 */
import type { Report, VcpuRow } from '../summary.js';
import { CLASSES } from '../levers/terms.js';
import { cpuPmForecast, hostFacts, termsOf, forecastCpuPm, fitCpuPm, CALIBRATED_ON } from '../levers/index.js';

export type WhatIfScenario = 'cpu-pm' | 'exitless-timer' | 'exitless-ipi';
export const WHAT_IF_SCENARIOS: WhatIfScenario[] = ['cpu-pm', 'exitless-timer', 'exitless-ipi'];

/** MSRs whose reads cpu-pm's CSTATE bit stops intercepting (Linux arch/x86/kvm/vmx/vmx.c). */
export const CSTATE_MSRS: Record<string, string> = {
  '0x660': 'MSR_CORE_C1_RES', '0x3fc': 'MSR_CORE_C3_RESIDENCY', '0x3fd': 'MSR_CORE_C6_RESIDENCY', '0x3fe': 'MSR_CORE_C7_RESIDENCY',
};

export interface StoppedExits {
  class: 'HLT' | 'MWAIT' | 'PAUSE' | 'C-state MSR read' | 'timer' | 'IPI';
  reason: string;
  idle: boolean;
  exits: number;
  exits_per_s: number | null;
  host_ns: number;
  /** host time that is overhead (in the tax) and leaves it */
  overhead_ns: number;
}

export interface WhatIfFigures {
  tax: number | null;
  halted_share: number | null;
  guest_share: number | null;
  overhead_ns: number;
  wall_ns: number;
}

export interface WhatIfVcpu {
  vm: string;
  vcpu: number | null;
  tid: number;
  tax: number | null;
  removed_overhead_ns: number;
  added_exits: number;
  tax_low: number | null;
  tax_high: number | null;
}

export interface WhatIf {
  scenario: WhatIfScenario;
  description: string;
  unit: 'ns' | 'cycles';
  stopped: StoppedExits[];
  identified: string[];
  not_identified: string[];
  current: WhatIfFigures;
  estimate: {
    tax_low: number | null;
    tax_high: number | null;
    overhead_low_ns: number;
    overhead_high_ns: number;
    removed_overhead_ns: number;
    halted_to_guest_ns: number;
    halted_share: number;
    guest_share_low: number | null;
    guest_share_high: number | null;
    added_exits: number;
    added_reason: string;
    added_mean_ns: number | null;
  };
  vcpus: WhatIfVcpu[];
  assumptions: string[];
  /** where the model's range comes from */
  calibration: string;
  /** set when the lever's preconditions fail (vCPU threads sharing host CPUs) */
  not_advised?: string;
  /** the forecast's centre (the calibration pairs' median) */
  tax_point?: number | null;
}

const r6 = (x: number) => Math.round(x * 1e6) / 1e6;
const share = (x: number, wall: number) => (wall > 0 ? r6(x / wall) : null);

/** The forecast of a scenario on a baseline report. */
export function whatIf(r: Report, scenario: WhatIfScenario = 'cpu-pm'): WhatIf {
  if (scenario === 'exitless-timer' || scenario === 'exitless-ipi') return exitless(r, scenario);
  if (scenario !== 'cpu-pm') throw new Error(`unknown what-if scenario ${String(scenario)}`);
  const t = r.totals;
  const wall = t.wall_ns;
  const stopped: StoppedExits[] = [];
  let hltHost = 0;
  let hltExits = 0;
  for (const x of r.reasons) {
    const cls = CLASSES[x.reason];
    if (!cls) continue;
    if (cls === 'HLT') { hltHost += x.total_ns; hltExits += x.exits_seen; }
    stopped.push({ class: cls, reason: x.reason, idle: x.idle, exits: x.exits_seen, exits_per_s: x.exits_per_s, host_ns: x.total_ns, overhead_ns: x.idle ? 0 : x.total_ns });
  }
  // the HLT exits' handling time beyond the halts themselves is overhead that leaves too
  const hltOverhead = Math.max(0, hltHost - t.halted_ns);
  for (const s of stopped) if (s.idle && hltHost > 0) s.overhead_ns = Math.round((hltOverhead * s.host_ns) / hltHost);

  const identified = ['HLT, MWAIT/MONITOR and PAUSE exits: from the exit reasons'];
  const notIdentified: string[] = [];
  const msr = (r as unknown as { msr?: { available?: boolean; keys?: Array<{ key: string; dir: string; name: string | null; events: number; total_ns: number | null }> } }).msr;
  if (msr && msr.available !== false && Array.isArray(msr.keys)) {
    const reads = msr.keys.filter((k) => k.dir === 'r' && k.key.toLowerCase() in CSTATE_MSRS);
    for (const k of reads) {
      stopped.push({ class: 'C-state MSR read', reason: `${r.isa === 'svm' ? 'msr' : 'MSR_READ'} ${k.key} ${CSTATE_MSRS[k.key.toLowerCase()]}`, idle: false, exits: k.events, exits_per_s: null, host_ns: k.total_ns ?? 0, overhead_ns: k.total_ns ?? 0 });
    }
    identified.push(`C-state MSR reads (${Object.entries(CSTATE_MSRS).map(([k, n]) => `${k} ${n}`).join(', ')}): from kvm_msr events (${reads.length ? `${reads.reduce((n, k) => n + k.events, 0)} reads` : 'none in this trace'})`);
    if (r.isa === 'svm') notIdentified.push('on SVM, KVM passes the C-state residency MSRs through only on VMX (vmx.c): listed reads may keep trapping');
  } else {
    notIdentified.push(`C-state MSR reads (${Object.keys(CSTATE_MSRS).join(', ')}): they are ${r.isa === 'svm' ? 'msr' : 'MSR_READ'} exits, and which MSR an exit read needs kvm_msr events (record kvm:kvm_msr): not counted`);
  }

  const removed = stopped.reduce((s, x) => s + x.overhead_ns, 0);
  const replacement = r.isa === 'vmx' ? 'EXTERNAL_INTERRUPT' : r.isa === 'svm' ? 'interrupt' : r.reasons.some((x) => x.reason === 'EXTERNAL_INTERRUPT') ? 'EXTERNAL_INTERRUPT' : 'interrupt';
  const { terms, forecast: f, fittedOn } = cpuPmForecast(r);
  const host = hostFacts(r);
  const shared = host.shared || host.contended;
  const fit = fitCpuPm();

  // ---- per vCPU: the same model on each thread's own terms ----
  const vcpus: WhatIfVcpu[] = [];
  for (const vm of r.vms) {
    for (const c of vm.vcpus as VcpuRow[]) {
      if (c.exits_seen === 0) continue;
      const tt = termsOf(r, new Set([c.tid]));
      const fc = forecastCpuPm(tt, fit.box, fit.point, fit.band);
      vcpus.push({
        vm: vm.name, vcpu: c.vcpu, tid: c.tid, tax: c.tax, removed_overhead_ns: fc.removed_ns, added_exits: fc.added_exits.point,
        tax_low: fc.tax.low === null ? null : r6(fc.tax.low), tax_high: shared || fc.tax.high === null ? null : r6(fc.tax.high),
      });
    }
  }
  const addedMean = terms.exit_mean_ns === null ? null : Math.round(terms.exit_mean_ns * f.params.kappa / Math.max(f.params.kappa_n, 1e-9) * 10) / 10;
  const out: WhatIf = {
    scenario,
    description: 'cpu-pm: KVM_CAP_X86_DISABLE_EXITS with MWAIT|HLT|PAUSE|CSTATE (QEMU -overcommit cpu-pm=on): these instructions and reads run in guest mode without an exit',
    unit: r.unit,
    stopped,
    identified,
    not_identified: notIdentified,
    current: { tax: t.tax, halted_share: t.halted_share, guest_share: t.guest_share, overhead_ns: t.overhead_ns, wall_ns: wall },
    estimate: {
      tax_low: f.tax.low === null ? null : r6(f.tax.low), tax_high: shared || f.tax.high === null ? null : r6(f.tax.high),
      overhead_low_ns: f.overhead_ns.low, overhead_high_ns: f.overhead_ns.high,
      removed_overhead_ns: removed, halted_to_guest_ns: t.halted_ns, halted_share: 0,
      guest_share_low: shared || f.tax.high === null ? null : r6(1 - f.tax.high), guest_share_high: f.tax.low === null ? null : r6(1 - f.tax.low),
      added_exits: f.added_exits.point, added_reason: replacement, added_mean_ns: addedMean,
    },
    vcpus,
    assumptions: [
      'the stopped exits\' overhead leaves the tax: MWAIT/MONITOR/PAUSE host time, and the HLT exits\' handling time beyond the halts themselves',
      'the halted time (polling and blocked in the host) becomes guest time: the vCPU idles in guest mode, its host CPU is never released (cpu-pm wants dedicated, pinned host CPUs) and host halt-polling disappears; but for the run delay inside the halts (a woken vCPU thread waiting for its CPU), which a vCPU that never sleeps does not have',
      `each wake-up that ended a halt (${terms.wakes}) now interrupts a vCPU idling in guest mode: ${f.params.kappa_n.toFixed(2)} ${replacement} exits per wake-up, costing ${f.params.kappa.toFixed(2)} x the mean exit (${fittedOn.length} calibration pairs' medians)`,
      'the range is that mechanism plus how far the calibration pairs (' + fittedOn.join(', ') + ') landed from it: the other exits\' cost and the run\'s wall time drift with the delivery changes (on the emulator: both ways); those pairs met the same machine load before and after, and so does the range',
      'no posted interrupts or AVIC, as in the calibration pairs: with them an interrupt reaches a halted vCPU in guest mode without an exit, and the range is high',
    ],
    calibration: CALIBRATED_ON + '; pairs ' + fittedOn.join(', '),
    tax_point: f.tax.point === null ? null : r6(f.tax.point),
  };
  if (shared) out.not_advised = `${host.evidence.find((e) => /share|preempted/.test(e)) ?? host.evidence[0]}: a vCPU idling in guest mode keeps the CPU from the others; no upper end is forecast (our SMP=1 pairs ran 5-7x longer)`;
  return out;
}

/**
 * `--what-if exitless-timer` / `exitless-ipi`: the timer- and IPI-related exits of the report's timers
 * and ipi sections stop trapping (TSC-deadline MSR writes and PREEMPTION_TIMER exits; x2APIC ICR writes
 * and APIC_WRITE exits), and their handling time leaves the overhead.
 */
function exitless(r: Report, scenario: 'exitless-timer' | 'exitless-ipi'): WhatIf {
  const t = r.totals;
  const wall = t.wall_ns;
  const stopped: StoppedExits[] = [];
  const identified: string[] = [];
  const notIdentified: string[] = [];
  const perThread = new Map<number, { ns: number; n: number }>();
  const add = (tid: number, ns: number | null, n: number | null) => {
    const e = perThread.get(tid) ?? { ns: 0, n: 0 };
    e.ns += ns ?? 0; e.n += n ?? 0;
    perThread.set(tid, e);
  };
  const perSec = (n: number) => (r.quality.span_ns > 0 && r.unit === 'ns' ? Math.round((n / (r.quality.span_ns / 1e9)) * 10) / 10 : null);
  if (scenario === 'exitless-timer') {
    if (!r.timers.available) notIdentified.push(`timer exits: ${r.timers.reason}`);
    else {
      let wN = 0, wNs = 0, pN = 0, pNs = 0;
      for (const c of r.timers.vcpus) {
        wN += c.tsc_deadline_writes ?? 0; wNs += c.tsc_deadline_exits_ns ?? 0; pN += c.preemption_timer_exits ?? 0; pNs += c.preemption_timer_ns ?? 0;
        add(c.tid, c.preemption_timer_ns ?? 0, c.preemption_timer_exits ?? 0);
      }
      stopped.push({ class: 'timer', reason: 'PREEMPTION_TIMER', idle: false, exits: pN, exits_per_s: perSec(pN), host_ns: pNs, overhead_ns: pNs });
      identified.push('PREEMPTION_TIMER exits: from the exit reasons', `IA32_TSC_DEADLINE writes (MSR 0x6e0, from kvm_msr): ${wN} exits, ${wNs} ns: they still exit with posted timer interrupts and are not removed`);
      if (r.timers.vcpus.every((c) => c.tsc_deadline_writes === null)) notIdentified.push('TSC-deadline writes: the trace has no kvm_msr events');
    }
  } else {
    if (!r.ipi.available) notIdentified.push(`IPI exits: ${r.ipi.reason}`);
    else {
      let iN = 0, iNs = 0, aN = 0, aNs = 0;
      for (const c of r.ipi.vcpus) {
        iN += c.icr_writes ?? 0; iNs += c.icr_exits_ns ?? 0; aN += c.apic_write_exits ?? 0; aNs += c.apic_write_ns ?? 0;
        add(c.tid, (c.icr_exits_ns ?? 0) + (c.apic_write_ns ?? 0), (c.icr_writes ?? 0) + (c.apic_write_exits ?? 0));
      }
      stopped.push({ class: 'IPI', reason: 'x2APIC ICR writes (MSR 0x830)', idle: false, exits: iN, exits_per_s: perSec(iN), host_ns: iNs, overhead_ns: iNs });
      stopped.push({ class: 'IPI', reason: 'APIC_WRITE (xAPIC)', idle: false, exits: aN, exits_per_s: perSec(aN), host_ns: aNs, overhead_ns: aNs });
      identified.push('x2APIC ICR writes: from kvm_msr events inside MSR exits', 'APIC_WRITE exits: from the exit reasons (all APIC registers: an upper bound)');
    }
  }
  const removed = stopped.reduce((a, x) => a + x.overhead_ns, 0);
  const low = t.overhead_ns - removed;
  const vcpus: WhatIfVcpu[] = [];
  for (const vm of r.vms) {
    for (const c of vm.vcpus) {
      if (c.exits_seen === 0) continue;
      const e = perThread.get(c.tid) ?? { ns: 0, n: 0 };
      const lo = c.overhead_ns - e.ns;
      vcpus.push({ vm: vm.name, vcpu: c.vcpu, tid: c.tid, tax: c.tax, removed_overhead_ns: e.ns, added_exits: 0, tax_low: share(lo, c.wall_ns), tax_high: share(lo, c.wall_ns) });
    }
  }
  const what = scenario === 'exitless-timer'
    ? 'exitless timer: timer interrupts are posted to the vCPU from housekeeping CPUs (kvm.pi_inject_timer, with APICv and HLT/MWAIT left to the guest): KVM\'s VMX preemption timer no longer fires into the host; TSC-deadline writes still exit'
    : 'exitless IPI: IPIs are delivered without an exit of the sender (posted interrupts with IPI virtualization, or AVIC)';
  return {
    scenario, description: what, unit: r.unit, stopped, identified, not_identified: notIdentified,
    current: { tax: t.tax, halted_share: t.halted_share, guest_share: t.guest_share, overhead_ns: t.overhead_ns, wall_ns: wall },
    estimate: {
      tax_low: share(low, wall), tax_high: share(low, wall), overhead_low_ns: low, overhead_high_ns: low, removed_overhead_ns: removed,
      halted_to_guest_ns: 0, halted_share: t.halted_share ?? 0, guest_share_low: t.guest_share, guest_share_high: t.guest_share,
      added_exits: 0, added_reason: '-', added_mean_ns: null,
    },
    vcpus,
    assumptions: [
      'the vCPUs\' wall time stays the same and every other exit keeps its rate and handling cost',
      'the removed exits\' handling time leaves the overhead whole; the interrupt that a timer or IPI raises still has to be delivered (its cost is not removed)',
    ],
    calibration: 'not calibrated: no before/after pair exercises it (the emulated SVM has no AVIC or posted interrupts): an arithmetic bound on this trace',
  };
}
