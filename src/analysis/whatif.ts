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
 * The estimate (assumptions, also listed in the output):
 *   - the vCPUs' wall time is unchanged (the guest's work sets it) and the other exits keep their rate
 *     and handling cost;
 *   - the halted (idle) time moves into guest mode: the vCPU idles in the guest instead of blocking in
 *     the host, so its host CPU is never released (cpu-pm wants dedicated, pinned host CPUs) and host
 *     halt-polling disappears;
 *   - the part of the HLT exits' handling time that was not the halt itself (entry/exit work) and the
 *     MWAIT/PAUSE/C-state exits' host time leave the overhead;
 *   - wake-ups that ended a halt now reach a vCPU idling in guest mode as interrupt exits (real capture
 *     svm-B: interrupt exits grew from 113 to 1445): the tax estimate is a range from no such exit (low)
 *     to one per HLT exit at the baseline's mean cost of the interrupt exit reason (high).
 */
import type { Report, VcpuRow } from './summary.js';
import { isIdleReason } from '../core/reasons.js';

export type WhatIfScenario = 'cpu-pm' | 'exitless-timer' | 'exitless-ipi';
export const WHAT_IF_SCENARIOS: WhatIfScenario[] = ['cpu-pm', 'exitless-timer', 'exitless-ipi'];

const CLASSES: Record<string, 'HLT' | 'MWAIT' | 'PAUSE'> = {
  HLT: 'HLT', hlt: 'HLT', 'idle-halt': 'HLT',
  MWAIT_INSTRUCTION: 'MWAIT', MONITOR_INSTRUCTION: 'MWAIT', mwait: 'MWAIT', monitor: 'MWAIT', mwait_cond: 'MWAIT',
  PAUSE_INSTRUCTION: 'PAUSE', pause: 'PAUSE',
};
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
  const rep = r.reasons.find((x) => x.reason === replacement);
  let addedMean = rep?.mean_ns ?? null;
  if (addedMean === null) {
    const ni = r.reasons.filter((x) => !isIdleReason(x.reason) && x.exits_handled > 0);
    const n = ni.reduce((s, x) => s + x.exits_handled, 0);
    addedMean = n ? ni.reduce((s, x) => s + x.total_ns, 0) / n : null;
  }
  const added = hltExits;
  const low = t.overhead_ns - removed;
  const high = low + added * (addedMean ?? 0);

  // ---- per vCPU ----
  const vcpus: WhatIfVcpu[] = [];
  for (const vm of r.vms) {
    for (const c of vm.vcpus as VcpuRow[]) {
      if (c.exits_seen === 0) continue;
      let rem = 0, hHost = 0, hExits = 0;
      for (const x of c.reasons ?? []) {
        const cls = CLASSES[x.reason];
        if (!cls) continue;
        if (cls === 'HLT') { hHost += x.total_ns; hExits += x.exits_seen; } else rem += x.total_ns;
      }
      rem += Math.max(0, hHost - c.halted_ns);
      const lo = c.overhead_ns - rem;
      vcpus.push({
        vm: vm.name, vcpu: c.vcpu, tid: c.tid, tax: c.tax, removed_overhead_ns: rem, added_exits: hExits,
        tax_low: share(lo, c.wall_ns), tax_high: share(lo + hExits * (addedMean ?? 0), c.wall_ns),
      });
    }
  }

  return {
    scenario,
    description: 'cpu-pm: KVM_CAP_X86_DISABLE_EXITS with MWAIT|HLT|PAUSE|CSTATE (QEMU -overcommit cpu-pm=on): these instructions and reads run in guest mode without an exit',
    unit: r.unit,
    stopped,
    identified,
    not_identified: notIdentified,
    current: { tax: t.tax, halted_share: t.halted_share, guest_share: t.guest_share, overhead_ns: t.overhead_ns, wall_ns: wall },
    estimate: {
      tax_low: share(low, wall), tax_high: share(high, wall), overhead_low_ns: low, overhead_high_ns: Math.round(high),
      removed_overhead_ns: removed, halted_to_guest_ns: t.halted_ns, halted_share: 0,
      guest_share_low: wall > 0 ? r6(1 - high / wall) : null, guest_share_high: wall > 0 ? r6(1 - low / wall) : null,
      added_exits: added, added_reason: replacement, added_mean_ns: addedMean === null ? null : Math.round(addedMean * 10) / 10,
    },
    vcpus,
    assumptions: [
      'the vCPUs\' wall time stays the same (the guest\'s work sets it), and every other exit keeps its rate and handling cost',
      'the halted time (polling and blocked in the host) becomes guest time: the vCPU idles in guest mode, its host CPU is never released (cpu-pm wants dedicated, pinned host CPUs) and host halt-polling disappears',
      'the stopped exits\' overhead leaves the tax: MWAIT/MONITOR/PAUSE/C-state host time, and the HLT exits\' handling time beyond the halts themselves',
      `wake-ups that ended a halt now reach a vCPU idling in guest mode as ${replacement} exits: the estimate runs from none (low) to one per HLT exit (${added}) at the baseline's mean ${replacement} cost${rep ? '' : ' (absent here: the mean of all non-idle exits)'} (high)`,
    ],
  };
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
        add(c.tid, (c.tsc_deadline_exits_ns ?? 0) + (c.preemption_timer_ns ?? 0), (c.tsc_deadline_writes ?? 0) + (c.preemption_timer_exits ?? 0));
      }
      stopped.push({ class: 'timer', reason: 'IA32_TSC_DEADLINE writes (MSR 0x6e0)', idle: false, exits: wN, exits_per_s: perSec(wN), host_ns: wNs, overhead_ns: wNs });
      stopped.push({ class: 'timer', reason: 'PREEMPTION_TIMER', idle: false, exits: pN, exits_per_s: perSec(pN), host_ns: pNs, overhead_ns: pNs });
      identified.push('TSC-deadline writes: from kvm_msr events inside MSR exits', 'PREEMPTION_TIMER exits: from the exit reasons');
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
    ? 'exitless timer: the guest arms its timer without an exit (e.g. timer virtualization or a paravirtual timer), and KVM\'s VMX preemption timer no longer fires into the host'
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
  };
}
