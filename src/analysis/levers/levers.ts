/**
 * Which lever to pull: every tax-cutting lever judged from one report, with its evidence, its effect as
 * a range (only where real before/after pairs calibrate it), preconditions, risks, how to turn it on,
 * and the combinations where levers interact. `kvmtax report --sections levers` and `kvmtax advise`.
 */
import type { Report } from '../types.js';
import { termsOf, type Terms } from './terms.js';
import { forecastCpuPm, type CpuPmForecast } from './cpupm.js';
import { CALIBRATED_ON, CONTENDED_PREEMPT_PER_S, SAME_LOAD, fitCpuPm, fitDelta } from './calibration.js';
import { phasesOf, type PhaseSection } from './phases.js';
import { phasesOfVm, reportOfVm, vmsWithExits } from './per-vm.js';

export type LeverStatus = 'advised' | 'advised-if' | 'evidence-only' | 'cannot-judge' | 'not-advised' | 'no-effect';
export const STATUS_ORDER: LeverStatus[] = ['advised', 'advised-if', 'evidence-only', 'no-effect', 'cannot-judge', 'not-advised'];

export interface Range { low: number | null; point: number | null; high: number | null }

export interface Lever {
  id: string;
  name: string;
  rank: number;
  status: LeverStatus;
  /** why this status, in a line */
  verdict: string;
  evidence: Array<{ what: string; value: string }>;
  /** numbers behind the evidence, for pipelines */
  figures: Record<string, number | null>;
  effect: {
    /** calibrated: a range from real pairs; bound: at most this much (arithmetic on the trace, no pair); none */
    basis: 'calibrated' | 'bound' | 'none';
    tax_after: Range | null;
    /** change of the exit tax in percentage points (negative: less tax) */
    delta_pp: Range | null;
    exits_per_s_after: Range | null;
    /** vCPU wall time after, ns (all vCPUs) */
    wall_after_ns: Range | null;
    assumptions: string[];
  };
  preconditions: string[];
  risks: string[];
  enable: string[];
  /** events to record when the trace cannot judge the lever */
  record: string[];
  interactions: string[];
  calibration: string;
}

export interface Combination { levers: string[]; delta_pp: Range | null; basis: 'calibrated' | 'bound' | 'none'; note: string }

export interface HostFacts {
  vcpu_threads: number;
  /** vCPU threads of one VM that share host CPUs (fewer CPUs used than vCPU threads): overcommitted */
  shared: boolean;
  /** every vCPU thread stayed on one host CPU of its own */
  pinned: boolean;
  /** some vCPU thread was preempted more than CONTENDED_PREEMPT_PER_S times a second: its CPU is not its own */
  contended: boolean;
  evidence: string[];
  /** host kernel (and other) versions, when the trace says (perf.data's os_release); empty otherwise */
  versions: string[];
  /** APIC virtualization (APICv / AVIC: posted interrupts) as the exits show it */
  apic: 'virtualized' | 'not-virtualized' | 'unknown';
}

export interface Absolute {
  wall_ns: number;
  guest_ns: number;
  host_ns: number;
  halted_ns: number;
  overhead_ns: number;
  exits: number;
  /** units of work the trace marks (port 0x502 writes: phase ends), or null */
  units: number | null;
  per_unit: { wall_ns: number; exits: number } | null;
}

export interface LeversSection {
  available: boolean;
  reason?: string;
  calibrated_on: string;
  host: HostFacts;
  absolute: Absolute;
  levers: Lever[];
  combinations: Combination[];
  notes: string[];
  /** the phases of work the VMM marked, timed (when the rows were collected: advise, --sections levers) */
  phases?: PhaseSection;
  /** a trace with several VMs: the whole section again per VM */
  per_vm?: VmLevers[];
}

export interface VmLevers extends LeversSection {
  vm: { name: string; pid: number | null; file: string };
}

export interface BuildOptions {
  /** phases timed from the rows (default: those attached to the report, phases.ts) */
  phases?: PhaseSection | null;
  /** false: no per-VM sections (the per-VM sections themselves) */
  perVm?: boolean;
}

const pp = (x: number | null) => (x === null ? null : Math.round(x * 1e4) / 100);
const r2 = (x: number | null) => (x === null ? null : Math.round(x * 100) / 100);
const fmtPct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(2)}%`);
const fmtNs = (v: number | null) => (v === null ? '-' : v >= 1e9 ? `${(v / 1e9).toFixed(3)} s` : v >= 1e6 ? `${(v / 1e6).toFixed(2)} ms` : v >= 1e3 ? `${(v / 1e3).toFixed(2)} us` : `${Math.round(v)} ns`);
const perS = (n: number, t: Terms) => (t.span_ns > 0 ? n / (t.span_ns / 1e9) : null);
const fmtRate = (x: number | null) => (x === null ? '-' : `${x.toFixed(1)}/s`);

export function hostFacts(r: Report): HostFacts {
  const ev: string[] = [];
  let shared = false;
  let pinned = true;
  let n = 0;
  for (const vm of r.vms) {
    const vc = vm.vcpus.filter((c) => c.exits_seen > 0);
    n += vc.length;
    const union = new Set(vc.flatMap((c) => c.cpus));
    if (vc.length > 1 && union.size > 0 && union.size < vc.length) {
      shared = true;
      ev.push(`${vm.name}: ${vc.length} vCPU threads ran on ${union.size} host CPU${union.size > 1 ? 's' : ''} (${[...union].join(',')}): they share host CPUs`);
    }
    const owners = new Map<number, number>();
    for (const c of vc) {
      if (c.cpus.length !== 1 || c.migrations > 0) pinned = false;
      for (const cpu of c.cpus) owners.set(cpu, (owners.get(cpu) ?? 0) + 1);
    }
    if ([...owners.values()].some((k) => k > 1)) pinned = false;
  }
  if (n === 0) { pinned = false; ev.push('no vCPU thread with kvm_exit/kvm_entry: where vCPUs ran is unknown'); }
  else if (!shared) ev.push(pinned ? 'every vCPU thread stayed on a host CPU of its own' : 'vCPU threads moved between host CPUs (not pinned), but never fewer CPUs than vCPUs');
  // APIC virtualization: EOI_INDUCED (VMX virtual-interrupt delivery) or AVIC exits say it is on; x2APIC
  // EOI writes that exit say the guest's APIC is not virtualized (no posted interrupts to it)
  const reasons = new Set(r.reasons.map((x) => x.reason));
  const eoiExits = r.msr.available ? r.msr.keys.filter((k) => k.key === '0x80b' && k.dir === 'w').reduce((a, k) => a + k.events, 0) : 0;
  let apic: HostFacts['apic'] = 'unknown';
  if (reasons.has('EOI_INDUCED') || reasons.has('avic_incomplete_ipi') || reasons.has('avic_unaccelerated_access')) {
    apic = 'virtualized';
    ev.push(`APIC virtualized (${['EOI_INDUCED', 'avic_incomplete_ipi', 'avic_unaccelerated_access'].filter((x) => reasons.has(x)).join(', ')} exits): posted interrupts reach a vCPU in guest mode without an exit`);
  } else if (eoiExits > 0) {
    apic = 'not-virtualized';
    ev.push(`x2APIC EOI writes exit (${eoiExits}): the guest's APIC is not virtualized (no APICv; AVIC without x2AVIC does not cover x2APIC mode), as on the calibration pairs`);
  } else ev.push('APIC virtualization unknown from this trace (record kvm:kvm_msr to see whether EOI writes exit)');
  const pps = termsOf(r).preempt_per_s_max;
  const contended = pps !== null && pps > CONTENDED_PREEMPT_PER_S;
  if (contended) ev.push(`a vCPU thread was preempted ${pps} times per second of its wall time (over ${CONTENDED_PREEMPT_PER_S}/s): other tasks share its host CPU`);
  if (r.sched.available) {
    const pre = r.sched.vcpus.reduce((s, c) => s + c.preempted_in_guest + c.preempted_in_host, 0);
    const p99 = Math.max(0, ...r.sched.vcpus.map((c) => c.run_delay.p99_ns ?? 0));
    ev.push(`sched_switch: ${pre} preemptions of vCPU threads; run delay p99 up to ${fmtNs(p99)}`);
  } else ev.push('no sched_switch events: preemptions and run delay unknown (record sched:sched_switch, sched:sched_wakeup)');
  const versions = [...new Set(r.inputs.flatMap((f) => (f.meta && f.meta.os_release !== undefined ? [`host kernel ${String(f.meta.os_release)} (${f.file})`] : [])))];
  if (!versions.length) ev.push('the trace does not say the host kernel or QEMU version (perf.data records the kernel: os_release)');
  return { vcpu_threads: n, shared, pinned, contended, evidence: ev, versions, apic };
}

function range(low: number | null, point: number | null, high: number | null): Range { return { low, point, high }; }

function base(id: string, name: string): Lever {
  return {
    id, name, rank: 0, status: 'evidence-only', verdict: '', evidence: [], figures: {},
    effect: { basis: 'none', tax_after: null, delta_pp: null, exits_per_s_after: null, wall_after_ns: null, assumptions: [] },
    preconditions: [], risks: [], enable: [], record: [], interactions: [], calibration: 'not calibrated: no before/after pair exercises this lever',
  };
}

/** The cpu-pm forecast of a report (the one `--what-if cpu-pm` and the levers section share). */
export function cpuPmForecast(r: Report): { terms: Terms; forecast: CpuPmForecast; fittedOn: string[] } {
  const t = termsOf(r);
  const fit = fitCpuPm();
  return { terms: t, forecast: forecastCpuPm(t, fit.box, fit.point, fit.band), fittedOn: fit.pairs };
}

export function buildLevers(r: Report, opts: BuildOptions = {}): LeversSection {
  const phases = opts.phases !== undefined ? opts.phases : phasesOf(r);
  const s = buildOne(r, phases);
  if (phases) s.phases = phases;
  if (opts.perVm !== false && s.available) {
    const vms = vmsWithExits(r);
    if (vms.length) {
      s.per_vm = vms.map((vm) => ({ vm: { name: vm.name, pid: vm.pid, file: vm.file }, ...buildLevers(reportOfVm(r, vm), { phases: phasesOfVm(phases, vm), perVm: false }) }));
      s.notes.push(`${vms.length} VMs in this trace: the ranking above pools their vCPUs; each VM's own ranking follows (per_vm)`);
    }
  }
  return s;
}

function buildOne(r: Report, phases: PhaseSection | null): LeversSection {
  const host = hostFacts(r);
  const t = termsOf(r);
  // units of work: the port table's phase ends, or (one VM of several) that VM's timed phases
  if (t.units === null && phases && phases.phases.length) t.units = phases.phases.length;
  const absolute: Absolute = {
    wall_ns: t.wall_ns, guest_ns: t.guest_ns, host_ns: t.host_ns, halted_ns: t.halted_ns, overhead_ns: t.overhead_ns, exits: t.exits, units: t.units,
    per_unit: t.units && t.wall_ns > 0 ? { wall_ns: Math.round(t.wall_ns / t.units), exits: Math.round((t.exits / t.units) * 10) / 10 } : null,
  };
  const notes: string[] = [];
  if (!r.quality.exit_entry_present) {
    return { available: false, reason: 'the trace has no kvm_exit/kvm_entry events: no exit tax to cut (record kvm:kvm_exit, kvm:kvm_entry)', calibrated_on: CALIBRATED_ON, host, absolute, levers: [], combinations: [], notes };
  }
  if (r.isa !== 'svm') notes.push(`this trace is ${r.isa.toUpperCase()}; every calibrated range comes from emulated SVM pairs and assumes no posted interrupts: on hardware with APICv/AVIC an interrupt reaches a vCPU idling in guest mode without an exit, so the cpu-pm range is high`);
  const tax = t.tax;
  const levers: Lever[] = [];

  // ---- cpu-pm ----
  {
    const L = base('cpu-pm', 'cpu-pm (KVM_CAP_X86_DISABLE_EXITS: HLT, MWAIT, PAUSE, C-state reads stay in the guest)');
    const { forecast: f, fittedOn } = cpuPmForecast(r);
    L.figures = {
      hlt_exits_per_s: perS(t.hlt_exits, t), hlt_rest_ns: t.hlt_rest_ns, pause_exits: t.pause_exits, mwait_exits: t.mwait_exits, wakes: t.wakes,
      halted_share: t.wall_ns ? t.halted_ns / t.wall_ns : null, removed_overhead_ns: f.removed_ns,
    };
    L.evidence.push(
      { what: 'HLT exits', value: `${t.hlt_exits} (${fmtRate(perS(t.hlt_exits, t))}); their handling beyond the halt ${fmtNs(t.hlt_rest_ns)} = ${fmtPct(t.wall_ns ? t.hlt_rest_ns / t.wall_ns : null)} of wall` },
      { what: 'MWAIT/PAUSE exits', value: `${t.mwait_exits + t.pause_exits}, ${fmtNs(t.stop_ns)}` },
      { what: 'halted (becomes guest time)', value: `${fmtNs(t.halted_ns)} = ${fmtPct(t.wall_ns ? t.halted_ns / t.wall_ns : null)} of wall` },
      { what: 'wake-ups (each becomes an interrupt exit)', value: `${t.wakes}${t.wakes_traced ? ' (kvm_vcpu_wakeup)' : ' (HLT exits: no kvm_vcpu_wakeup events)'}, ${fmtRate(perS(t.wakes, t))}` },
      { what: 'interrupt exits now', value: `${t.interrupt_exits}, ${fmtNs(t.interrupt_ns)}` },
    );
    L.effect.assumptions = [
      `model (src/analysis/levers/cpupm.ts): overhead' = rho x kept exits + kappa x wake-ups x mean exit cost; wall' = wall - run delay inside the halts + omega x halted; exits' = exits - HLT/MWAIT/PAUSE + kappa_n x wake-ups`,
      `kappa ${f.params.kappa.toFixed(2)} and kappa_n ${f.params.kappa_n.toFixed(2)}: the medians over the pairs ${fittedOn.join(', ')}; rho 1 and omega 0 (the kept exits' cost and the wall time drift both ways between runs on the emulator)`,
      'range: that mechanism plus how far those pairs landed from it (their residuals\' min and max in pp, widened by a quarter of their spread on each side; centre: their median)',
      `the same machine load after as before: the pairs fitted are those whose after run handled the exits cpu-pm leaves alone at ${(1 / SAME_LOAD).toFixed(2)}-${SAME_LOAD.toFixed(2)}x the baseline's cost; on the emulator, pairs whose load changed more landed up to 10 pp below or 12 pp above (compare --forecast gives the ratio)`,
      'no posted interrupts / AVIC (as in the calibration pairs): each wake-up of an idling vCPU costs an interrupt exit; with them the added exits shrink and the range is high',
    ];
    if (host.apic === 'virtualized') L.effect.assumptions.push('THIS host virtualizes the APIC: timer and IPI wake-ups can be posted without an exit, so expect the low end of the range or below');
    L.preconditions.push('dedicated, pinned host CPUs: one host CPU per vCPU, nothing else runs there (the vCPU never gives its CPU back)');
    L.risks.push('the host sees 100% busy CPUs; host halt-polling and PLE stop; on shared or unpinned CPUs a test report found higher latency and lower throughput, and our SMP=1 pairs ran 5-7x longer',
      'migration: QEMU cpu-pm=on also shows MWAIT to the guest; the destination must allow it and give the same dedicated CPUs');
    L.interactions.push('removes PAUSE exits (so PLE / directed yield) and host halt-polling; exitless timer (pi_inject_timer) needs HLT/MWAIT in the guest, i.e. this lever');
    L.enable.push('QEMU: -overcommit cpu-pm=on', 'libvirt: <qemu:commandline> -overcommit cpu-pm=on, with <vcpupin> for every vCPU', 'VMM: KVM_ENABLE_CAP(KVM_CAP_X86_DISABLE_EXITS, HLT|MWAIT|PAUSE|CSTATE) before creating vCPUs');
    L.calibration = CALIBRATED_ON;
    if (t.hlt_exits + t.pause_exits + t.mwait_exits === 0) {
      L.status = 'no-effect';
      L.verdict = 'no HLT, MWAIT or PAUSE exits in this trace: nothing for cpu-pm to remove (already on?)';
    } else if (host.shared || host.contended) {
      L.status = 'not-advised';
      L.verdict = (host.shared ? 'vCPU threads share host CPUs' : 'other tasks preempt the vCPU threads (their host CPUs are not dedicated)') +
        ': a vCPU idling in guest mode keeps its CPU from the others (no narrow range: our SMP=1 pairs ran 5-7x longer, svm-rep2-M 4x)';
      L.effect.basis = 'none';
      L.effect.tax_after = range(f.tax.low, null, null);
      L.effect.delta_pp = range(tax === null || f.tax.low === null ? null : pp(f.tax.low - tax), null, null);
    } else {
      L.status = host.pinned ? 'advised' : 'advised-if';
      L.verdict = host.pinned ? 'vCPUs pinned to host CPUs of their own' : 'only once every vCPU is pinned to a host CPU of its own (they moved in this trace)';
      L.effect.basis = 'calibrated';
      L.effect.tax_after = range(f.tax.low, f.tax.point, f.tax.high);
      L.effect.delta_pp = tax === null ? null : range(pp(f.tax.low! - tax), pp(f.tax.point! - tax), pp(f.tax.high! - tax));
      L.effect.exits_per_s_after = range(r2(f.exits_per_s.low), r2(f.exits_per_s.point), r2(f.exits_per_s.high));
      L.effect.wall_after_ns = range(f.wall_ns.low, f.wall_ns.point, f.wall_ns.high);
      if (t.units) {
        // per unit of work (phases marked by port 0x502): the same forecast divided by the units
        L.figures.wall_per_unit_ns = t.wall_ns / t.units;
        L.figures.wall_per_unit_after_low_ns = f.wall_ns.low / t.units;
        L.figures.wall_per_unit_after_high_ns = f.wall_ns.high / t.units;
        L.figures.exits_per_unit = t.exits / t.units;
        L.figures.exits_per_unit_after = f.exits.point / t.units;
        L.evidence.push({ what: `per unit of work (${t.units} phases)`, value: `vCPU wall ${fmtNs(t.wall_ns / t.units)} -> ${fmtNs(f.wall_ns.low / t.units)} .. ${fmtNs(f.wall_ns.high / t.units)}; exits ${(t.exits / t.units).toFixed(1)} -> ${(f.exits.point / t.units).toFixed(1)}` });
      }
    }
    levers.push(L);
  }

  // ---- host halt-polling ----
  {
    const L = base('host-haltpoll', 'host halt-polling (halt_poll_ns, grow, shrink)');
    L.enable.push('module: kvm.halt_poll_ns=N (default 200000), kvm.halt_poll_ns_grow, kvm.halt_poll_ns_shrink', 'per VM: KVM_CAP_HALT_POLL, set by the VMM', 'sysfs: /sys/module/kvm/parameters/halt_poll_ns');
    L.interactions.push('moot under cpu-pm (no HLT exits); the guest\'s cpuidle-haltpoll turns it off through MSR_KVM_POLL_CONTROL');
    L.risks.push('polling burns host CPU that other vCPUs or the host could use; on overcommitted hosts it delays them');
    if (!r.halt.available) {
      L.status = 'cannot-judge';
      L.verdict = 'no kvm_vcpu_wakeup events';
      L.record.push('kvm:kvm_vcpu_wakeup', 'kvm:kvm_halt_poll_ns');
    } else {
      const hv = r.halt.vcpus;
      const halts = hv.reduce((s, c) => s + c.halts, 0);
      const att = hv.reduce((s, c) => s + c.halt_attempted_poll, 0);
      const ok = hv.reduce((s, c) => s + c.halt_successful_poll, 0);
      const flips = hv.reduce((s, c) => s + c.window.flips, 0);
      const okNs = hv.reduce((s, c) => s + c.halt_poll_success_ns, 0);
      const waitNs = hv.reduce((s, c) => s + c.halt_wait_ns_plus_poll_fail_ns, 0);
      const p50 = hv.map((c) => c.halt_blocked.p50_ns).filter((x): x is number => x !== null);
      L.figures = { halts, attempted_poll: att, successful_poll: ok, success_rate: att ? ok / att : null, window_flips: flips, poll_success_ns: okNs, wait_ns: waitNs };
      L.evidence.push(
        { what: 'halts / polled / succeeded', value: `${halts} / ${att} / ${ok}${att ? ` (${fmtPct(ok / att)})` : ''}` },
        { what: 'halt time: woke in poll / blocked', value: `${fmtNs(okNs)} / ${fmtNs(waitNs)}` },
        { what: 'blocked halts p50', value: p50.length ? p50.map((x) => fmtNs(x)).join(', ') : '-' },
        { what: 'window direction changes (thrash)', value: String(flips) },
      );
      const raise = fitDelta('haltpoll-2ms');
      const off = fitDelta('haltpoll-off');
      const tooFew = att < halts / 2;
      const failing = att >= 20 && ok / att < 0.5;
      const fit = tooFew ? raise : failing ? off : null;
      L.verdict = tooFew ? `only ${att} of ${halts} halts polled: the window stays below this host's halt times; a larger max window (e.g. 2 ms) lets them poll` :
        failing ? `polls mostly fail (${ok} of ${att}): polling burns CPU for nothing; a smaller window or polling off` : 'polling works (most polls succeed): leave it';
      L.status = tooFew || failing ? 'advised-if' : 'no-effect';
      if (fit && tax !== null) {
        L.effect.basis = 'calibrated';
        L.effect.delta_pp = range(r2(fit.tax_pp[0]), null, r2(fit.tax_pp[1]));
        L.effect.tax_after = range(tax + fit.tax_pp[0] / 100, null, tax + fit.tax_pp[1] / 100);
        L.effect.wall_after_ns = range(Math.round(t.wall_ns * (1 + fit.wall[0])), null, Math.round(t.wall_ns * (1 + fit.wall[1])));
        L.effect.assumptions.push(`the change measured on the pair(s) ${fit.pairs.join(', ')} (not a model of this trace): polling time counts as halted, so the tax moves little; the wake-up latency saved shortens the run`);
        L.calibration = `${CALIBRATED_ON}; one pair per direction: no leave-one-out possible`;
        L.preconditions.push('host CPU to spare while a vCPU polls (not overcommitted)');
        if (host.shared || host.contended) { L.status = 'not-advised'; L.verdict += host.shared ? '; but vCPU threads share host CPUs: polling takes the CPU from the other vCPU' : '; but other tasks preempt the vCPU threads: polling takes their CPU'; }
      }
    }
    levers.push(L);
  }

  // ---- exitless timer ----
  {
    const L = base('exitless-timer', 'exitless timer (posted timer interrupts from housekeeping CPUs: kvm.pi_inject_timer)');
    const tm = r.timers.available ? r.timers : null;
    const dlN = tm ? tm.vcpus.reduce((s, c) => s + (c.tsc_deadline_writes ?? 0), 0) : 0;
    const ptN = tm ? tm.vcpus.reduce((s, c) => s + (c.preemption_timer_exits ?? 0), 0) : 0;
    const ptNs = tm ? tm.vcpus.reduce((s, c) => s + (c.preemption_timer_ns ?? 0), 0) : 0;
    L.figures = { tsc_deadline_writes: tm ? dlN : null, preemption_timer_exits: tm ? ptN : null, preemption_timer_ns: tm ? ptNs : null };
    L.evidence.push(
      { what: 'TSC-deadline writes (still exit)', value: tm ? `${dlN} (${fmtRate(perS(dlN, t))})` : '-' },
      { what: 'PREEMPTION_TIMER exits (removed)', value: tm ? `${ptN}, ${fmtNs(ptNs)}` : '-' },
    );
    L.preconditions.push('APICv/AVIC with posted interrupts; HLT/MWAIT left to the guest (cpu-pm): pi_inject_timer posts timers only then', 'isolated housekeeping CPUs to run the host timers (nohz_full on the vCPU CPUs)');
    L.enable.push('kvm.pi_inject_timer=1 (default -1: on when the host has nohz_full housekeeping CPUs); used only with APICv/AVIC and HLT/MWAIT in the guest (cpu-pm)');
    L.interactions.push('needs cpu-pm; with cpu-pm it also removes the timer share of the interrupt exits cpu-pm adds');
    if (!tm) { L.status = 'cannot-judge'; L.verdict = 'no timer events'; L.record.push('kvm:kvm_msr', 'kvm:kvm_exit', 'kvm:kvm_entry', 'kvm:kvm_wait_lapic_expire'); }
    else {
      L.effect.basis = 'bound';
      const d = t.wall_ns ? ptNs / t.wall_ns : 0;
      L.effect.delta_pp = range(pp(-d), null, 0);
      L.effect.tax_after = tax === null ? null : range(tax - d, null, tax);
      L.effect.assumptions.push('at most the PREEMPTION_TIMER exits\' host time leaves; TSC-deadline writes still exit; the timer wake-ups cpu-pm turns into interrupt exits leave too (see the combination)');
      L.status = ptN > 0 ? 'advised-if' : 'evidence-only';
      L.verdict = ptN > 0 ? 'PREEMPTION_TIMER exits to remove, with cpu-pm and APICv' : `no PREEMPTION_TIMER exits here${r.isa === 'svm' ? ' (SVM has none)' : ''}: alone it removes nothing; with cpu-pm it removes the timer wake-ups' interrupt exits`;
    }
    levers.push(L);
  }

  // ---- exitless IPI ----
  {
    const L = base('exitless-ipi', 'exitless IPI (IPIv / AVIC; the PV send-IPI hypercall)');
    const ip = r.ipi.available ? r.ipi : null;
    const icrN = ip ? ip.vcpus.reduce((s, c) => s + (c.icr_writes ?? 0), 0) : 0;
    const icrNs = ip ? ip.vcpus.reduce((s, c) => s + (c.icr_exits_ns ?? 0) + (c.apic_write_ns ?? 0), 0) : 0;
    const ipis = r.quality.events_by_name['kvm_apic_ipi'] ?? null;
    L.figures = { icr_writes: ip ? icrN : null, icr_exits_ns: ip ? icrNs : null, kvm_apic_ipi: ipis, icr_writes_per_ipi: ipis ? icrN / ipis : null };
    L.evidence.push(
      { what: 'ICR writes (x2APIC MSR 0x830) / APIC_WRITE time', value: ip ? `${icrN} (${fmtRate(perS(icrN, t))}), ${fmtNs(icrNs)} = ${fmtPct(t.wall_ns ? icrNs / t.wall_ns : null)} of wall` : '-' },
      { what: 'ICR writes per IPI (kvm_apic_ipi)', value: ipis ? (icrN / ipis).toFixed(2) : 'no kvm_apic_ipi events' },
    );
    L.preconditions.push('Intel IPIv (Sapphire Rapids, Linux 5.19+) or AMD AVIC: exitless only to running targets; a halted target still needs a wake-up', 'the PV send-IPI hypercall (kvm-pv-ipi) still exits once, but replaces one ICR write per destination in x2APIC physical mode');
    L.enable.push('kvm_intel.enable_ipiv=1 (default on IPIv hardware), kvm_amd.avic=1; guest: the PV send-IPI hypercall is used when the host offers KVM_FEATURE_PV_SEND_IPI (QEMU kvm-pv-ipi, on by default)');
    const apicWrites = ip ? ip.vcpus.reduce((s, c) => s + (c.apic_write_exits ?? 0), 0) : 0;
    if (!ip || (!r.quality.events_by_name['kvm_msr'] && apicWrites === 0)) {
      L.status = 'cannot-judge';
      L.verdict = ip ? 'no kvm_msr events: x2APIC ICR writes cannot be told from other MSR exits' : 'no kvm_msr/kvm_exit events';
      L.record.push('kvm:kvm_msr', 'kvm:kvm_apic_ipi', ...(ip ? [] : ['kvm:kvm_exit', 'kvm:kvm_entry']));
    }
    else {
      L.effect.basis = 'bound';
      const d = t.wall_ns ? icrNs / t.wall_ns : 0;
      L.effect.delta_pp = range(pp(-d), null, 0);
      L.effect.tax_after = tax === null ? null : range(tax - d, null, tax);
      L.effect.exits_per_s_after = range(r2(perS(t.exits - icrN, t)), null, r2(perS(t.exits, t)));
      L.effect.assumptions.push('at most the ICR-write (or APIC_WRITE) exits\' host time leaves; the IPI still has to be delivered');
      L.status = icrN > 0 ? 'advised-if' : 'no-effect';
      L.verdict = icrN > 0 ? `${icrN} ICR-write exits to remove, on IPIv/AVIC hardware` : 'no ICR writes here';
      if (!r.quality.events_by_name['kvm_apic_ipi']) L.record.push('kvm:kvm_apic_ipi (to count IPIs per ICR write)');
    }
    levers.push(L);
  }

  // ---- KVM_HINTS_REALTIME (guest haltpoll) ----
  {
    const L = base('hints-realtime', 'KVM_HINTS_REALTIME (guest cpuidle-haltpoll, native qspinlock, no PV yield)');
    const pollCtl = r.msr.available ? r.msr.keys.filter((k) => k.key === '0x4b564d05').reduce((s, k) => s + k.events, 0) : null;
    L.figures = { hlt_exits: t.hlt_exits, msr_kvm_poll_control: pollCtl };
    L.evidence.push(
      { what: 'HLT exits (guest polling would cut the short ones)', value: `${t.hlt_exits} (${fmtRate(perS(t.hlt_exits, t))})` },
      { what: 'MSR_KVM_POLL_CONTROL writes (guest haltpoll active)', value: pollCtl === null ? 'no kvm_msr events' : String(pollCtl) },
    );
    L.preconditions.push('dedicated pinned host CPUs (the hint says so); a guest kernel with cpuidle-haltpoll');
    L.risks.push('the guest polls in guest mode: burns host CPU like cpu-pm, but only for short idle periods');
    L.interactions.push('guest haltpoll turns host halt-polling off (MSR_KVM_POLL_CONTROL); with cpu-pm there are no HLT exits to save');
    L.enable.push('QEMU: -cpu ...,kvm-hint-dedicated=on; guest: cpuidle_haltpoll module (guest_halt_poll_ns, ...)');
    L.status = t.hlt_exits > 0 ? (host.shared || host.contended ? 'not-advised' : 'evidence-only') : 'no-effect';
    L.verdict = host.shared || host.contended ? (host.shared ? 'vCPU threads share host CPUs' : 'other tasks preempt the vCPU threads') + ': the hint promises dedicated CPUs' : t.hlt_exits > 0 ? 'no pair measures it: the HLT exits it would cut are the evidence' : 'no HLT exits';
    if (r.msr.available === false) L.record.push('kvm:kvm_msr');
    levers.push(L);
  }

  // ---- LAPIC timer advance ----
  {
    const L = base('lapic-advance', 'LAPIC timer advance (kvm.lapic_timer_advance_ns, adaptive = -1)');
    const lv = r.timers.available ? r.timers.vcpus.filter((c) => c.lapic_expire) : [];
    L.enable.push('module: kvm.lapic_timer_advance_ns=-1 (adaptive, default) or a fixed ns value');
    if (lv.length === 0) {
      L.status = 'cannot-judge';
      L.verdict = 'no kvm_wait_lapic_expire events (advance off, or not recorded)';
      L.record.push('kvm:kvm_wait_lapic_expire');
    } else {
      const early = lv.reduce((s, c) => s + c.lapic_expire!.early, 0);
      const late = lv.reduce((s, c) => s + c.lapic_expire!.late, 0);
      const lateP50 = lv.map((c) => c.lapic_expire!.late_stats.p50_ns).filter((x): x is number => x !== null);
      const unit = lv[0]!.lapic_expire!.unit;
      const med = lateP50.length ? lateP50.sort((a, b) => a - b)[Math.floor(lateP50.length / 2)]! : null;
      L.figures = { early, late, late_p50: med };
      L.evidence.push({ what: 'kvm_wait_lapic_expire early / late', value: `${early} / ${late}` }, { what: 'late delta p50', value: med === null ? '-' : `${Math.round(med)} ${unit === 'cycles' ? 'guest TSC cycles' : 'ns'}` });
      const settled = early > 0 && late > 0 && Math.min(early, late) / (early + late) > 0.2;
      L.status = settled ? 'no-effect' : 'evidence-only';
      L.verdict = settled ? 'early and late deltas balance: the adaptive advance has settled' :
        late > early ? `deltas are mostly late: the advance is too small (or off/fixed); adding about the late p50 (${med === null ? '-' : Math.round(med)} ${unit}) would center it${r.isa === 'svm' ? ' (under emulation the late deltas are artefacts)' : ''}` :
          'deltas are mostly early: the advance is too large; KVM busy-waits in the host before each entry';
      L.effect.assumptions.push('changes timer latency, not exit counts: no effect on the tax is forecast');
    }
    levers.push(L);
  }

  // ---- PLE / directed yield ----
  {
    const L = base('ple', 'pause-loop exiting and directed yield (kvm_intel.ple_gap/ple_window, kvm_amd.pause_filter_*)');
    const sc = r.sched.available ? r.sched : null;
    const pause = t.pause_exits;
    const ple = sc ? sc.vcpus.reduce((s, c) => s + (c.ple_window ? c.ple_window.grows + c.ple_window.shrinks : 0), 0) : 0;
    const preGuest = sc ? sc.vcpus.reduce((s, c) => s + c.preempted_in_guest, 0) : null;
    L.figures = { pause_exits: pause, ple_window_updates: ple, preempted_in_guest: preGuest };
    L.evidence.push({ what: 'PAUSE exits', value: `${pause} (${fmtRate(perS(pause, t))})` }, { what: 'PLE window updates', value: String(ple) }, { what: 'vCPU preempted in guest mode (lock-holder risk)', value: preGuest === null ? '-' : String(preGuest) });
    L.enable.push('kvm_intel.ple_gap / ple_window / ple_window_grow / ple_window_shrink; kvm_amd.pause_filter_count / pause_filter_thresh');
    L.interactions.push('cpu-pm disables PAUSE exiting (and so PLE)');
    if (pause === 0 && ple === 0) {
      L.status = 'cannot-judge';
      L.verdict = 'no PAUSE exits and no PLE window updates: PAUSE does not exit here (no pause filter, or PAUSE left to the guest), or they were not recorded';
      L.record.push('kvm:kvm_ple_window_update', 'kvm:kvm_exit (PAUSE_INSTRUCTION / pause)');
    } else {
      L.status = 'evidence-only';
      L.verdict = host.shared || host.contended ? 'overcommitted: PLE and directed yield help spinning vCPUs give way' : 'PAUSE exits on dedicated CPUs are overhead: a larger window, or cpu-pm';
    }
    levers.push(L);
  }

  // ---- vCPU priority boost ----
  {
    const L = base('priority-boost', 'dynamic vCPU priority boost (cut the run delay of a vCPU with an interrupt pending)');
    L.enable.push('not upstream: out-of-tree patches; meanwhile: SCHED_FIFO vCPU threads or dedicated CPUs');
    if (!r.sched.available) { L.status = 'cannot-judge'; L.verdict = 'no sched_switch events'; L.record.push('sched:sched_switch', 'sched:sched_wakeup'); }
    else {
      const s2e = r.timers.available ? r.timers.vcpus.map((c) => c.sched_wake_to_entry?.p99_ns ?? null).filter((x): x is number => x !== null) : [];
      const rd = r.sched.vcpus.map((c) => c.run_delay.p99_ns).filter((x): x is number => x !== null);
      const pre = r.sched.vcpus.reduce((s, c) => s + c.preempted_in_guest + c.preempted_in_host, 0);
      L.figures = { run_delay_p99_ns: rd.length ? Math.max(...rd) : null, wake_to_entry_p99_ns: s2e.length ? Math.max(...s2e) : null, preemptions: pre };
      L.evidence.push({ what: 'run delay p99 (runnable -> running)', value: rd.length ? fmtNs(Math.max(...rd)) : '-' }, { what: 'sched_wakeup -> kvm_entry p99', value: s2e.length ? fmtNs(Math.max(...s2e)) : '-' }, { what: 'preemptions', value: String(pre) });
      L.status = host.shared || host.contended ? 'advised-if' : 'evidence-only';
      L.verdict = host.shared || host.contended ? (host.shared ? 'vCPUs share host CPUs' : 'other tasks preempt the vCPUs') + ': run delay is double scheduling a boost would cut' : 'dedicated CPUs: little double scheduling to cut';
      L.effect.assumptions.push('shortens wall time (run delay), not exit handling: no tax forecast');
    }
    levers.push(L);
  }

  // ---- rank ----
  // expected cut in pp: a calibrated range's centre (or midpoint), half of a bound; none: 0
  const gain = (l: Lever) => {
    const d = l.effect.delta_pp;
    if (!d || d.low === null) return 0;
    if (l.effect.basis === 'bound') return -d.low / 2;
    if (l.effect.basis === 'calibrated') return -(d.point ?? (d.high === null ? d.low : (d.low + d.high) / 2));
    return 0;
  };
  levers.sort((a, b) => STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status) || gain(b) - gain(a) || a.id.localeCompare(b.id));
  levers.forEach((l, i) => { l.rank = i + 1; });

  // ---- combinations ----
  const byId = new Map(levers.map((l) => [l.id, l]));
  const combos: Combination[] = [];
  const cp = byId.get('cpu-pm')!;
  const ipi = byId.get('exitless-ipi')!;
  combos.push({ levers: ['cpu-pm', 'host-haltpoll'], delta_pp: cp.effect.delta_pp, basis: cp.effect.basis, note: 'cpu-pm removes host halt-polling: the pair is cpu-pm alone' });
  combos.push({ levers: ['hints-realtime', 'host-haltpoll'], delta_pp: null, basis: 'none', note: 'guest haltpoll turns host polling off: pick one' });
  combos.push({ levers: ['cpu-pm', 'ple'], delta_pp: cp.effect.delta_pp, basis: cp.effect.basis, note: 'cpu-pm stops PAUSE exiting: PLE has nothing left to do' });
  if (cp.effect.basis === 'calibrated' && ipi.effect.basis === 'bound' && tax !== null) {
    // posted interrupts deliver timers and IPIs to a vCPU idling in guest mode without an exit: the
    // interrupt exits cpu-pm adds (kappa) go, and at most the ICR-write time
    const fit = fitCpuPm();
    const f0 = forecastCpuPm(t, { ...fit.box, kappa: [0, 0] }, { ...fit.point, kappa: 0 }, fit.band);
    const icr = ipi.figures.icr_exits_ns ?? 0;
    const lo = f0.tax.low === null || t.wall_ns === 0 ? null : Math.max(0, f0.tax.low - icr / t.wall_ns);
    combos.push({
      levers: ['cpu-pm', 'exitless-timer', 'exitless-ipi'], basis: 'bound',
      delta_pp: range(lo === null ? null : pp(lo - tax), null, cp.effect.delta_pp!.high),
      note: 'at best: cpu-pm\'s range without the interrupt exits it adds (posted timer and IPI interrupts reach the idling vCPU without an exit) and without the ICR-write time; at worst cpu-pm\'s own range: a bound, no pair',
    });
  }
  combos.sort((a, b) => (a.delta_pp?.low ?? 0) - (b.delta_pp?.low ?? 0));
  return { available: true, calibrated_on: CALIBRATED_ON, host, absolute, levers, combinations: combos, notes };
}
