/**
 * The figures of one report (or of one VM in it) that the lever models start from. Everything here is
 * read from the report's own sections; nothing is estimated.
 *
 *   wall_ns     Σ vCPU thread wall time                    guest_ns / host_ns / halted_ns / overhead_ns alike
 *   hlt_rest_ns HLT exits' handling time beyond the halts themselves (entry/exit work around the halt):
 *               overhead that cpu-pm removes
 *   stop_ns     host time of the other exits cpu-pm stops: MWAIT/MONITOR, PAUSE (all overhead)
 *   wakes       halts that ended with a wake-up (kvm_vcpu_wakeup); without those events, the HLT exits
 *   exit_mean_ns the mean handling time of a non-idle exit: the cost scale the models carry between hosts
 *   interrupt_* the host-interrupt exits (EXTERNAL_INTERRUPT / interrupt)
 *   units       units of work the trace marks: port 0x502 writes (the capture VMM's "phase end"), or null
 *   wake_delay_ns the run delay inside the halts: halts that blocked (kvm_vcpu_wakeup "wait") x the vCPU
 *               thread's mean run delay (sched_wakeup -> sched_switch in), at most halted_ns. KVM counts a
 *               halt until the woken thread runs again, so a thread that waited for its CPU has that wait
 *               in its halted time; under cpu-pm the vCPU never sleeps and the wait is not there. 0 without
 *               sched events.
 */
import type { Report, VcpuRow } from '../types.js';
import { isIdleReason } from '../../core/reasons.js';

export const CLASSES: Record<string, 'HLT' | 'MWAIT' | 'PAUSE'> = {
  HLT: 'HLT', hlt: 'HLT', 'idle-halt': 'HLT',
  MWAIT_INSTRUCTION: 'MWAIT', MONITOR_INSTRUCTION: 'MWAIT', mwait: 'MWAIT', monitor: 'MWAIT', mwait_cond: 'MWAIT',
  PAUSE_INSTRUCTION: 'PAUSE', pause: 'PAUSE',
};
export const INTERRUPT_REASONS = new Set(['EXTERNAL_INTERRUPT', 'interrupt']);

export interface Terms {
  vcpus: number;
  wall_ns: number;
  guest_ns: number;
  host_ns: number;
  halted_ns: number;
  overhead_ns: number;
  tax: number | null;
  exits: number;
  /** the trace's time span (for exits/s) */
  span_ns: number;
  hlt_exits: number;
  hlt_rest_ns: number;
  pause_exits: number;
  mwait_exits: number;
  stop_ns: number;
  wakes: number;
  /** wakes came from kvm_vcpu_wakeup (else: HLT exits) */
  wakes_traced: boolean;
  exit_mean_ns: number | null;
  interrupt_exits: number;
  interrupt_ns: number;
  units: number | null;
  wake_delay_ns: number;
  /**
   * the mean handling time of the exits cpu-pm leaves alone (not idle, not HLT/MWAIT/PAUSE, not host
   * interrupts): the same work before and after, so the ratio of two runs' values is how much slower the
   * host handled exits in one than in the other (machine load; under emulation also the guest)
   */
  ref_exit_ns: number | null;
  /** the most any vCPU thread was preempted, per second of its wall time (sched_switch); null without sched events */
  preempt_per_s_max: number | null;
}

/** The terms of a report, or of the vCPU threads `only` (tids) in it. */
export function termsOf(r: Report, only?: Set<number>): Terms {
  const rows: VcpuRow[] = r.vms.flatMap((vm) => vm.vcpus).filter((c) => c.exits_seen > 0 && (!only || only.has(c.tid)));
  const wakesByTid = new Map<number, number>();
  if (r.halt.available) for (const h of r.halt.vcpus) wakesByTid.set(h.tid, h.halts);
  const t: Terms = {
    vcpus: rows.length, wall_ns: 0, guest_ns: 0, host_ns: 0, halted_ns: 0, overhead_ns: 0, tax: null, exits: 0,
    span_ns: r.quality.span_ns, hlt_exits: 0, hlt_rest_ns: 0, pause_exits: 0, mwait_exits: 0, stop_ns: 0, wakes: 0,
    wakes_traced: r.halt.available, exit_mean_ns: null, interrupt_exits: 0, interrupt_ns: 0, units: null, preempt_per_s_max: null, wake_delay_ns: 0, ref_exit_ns: null,
  };
  let busyNs = 0, busyN = 0, refNs = 0, refN = 0;
  for (const c of rows) {
    t.wall_ns += c.wall_ns; t.guest_ns += c.guest_ns; t.host_ns += c.host_ns; t.halted_ns += c.halted_ns; t.overhead_ns += c.overhead_ns;
    t.exits += c.exits_seen;
    let hltHost = 0, hltN = 0;
    for (const x of c.reasons ?? []) {
      const cls = CLASSES[x.reason];
      if (cls === 'HLT') { hltHost += x.total_ns; hltN += x.exits_seen; }
      else if (cls === 'PAUSE') { t.pause_exits += x.exits_seen; t.stop_ns += x.total_ns; }
      else if (cls === 'MWAIT') { t.mwait_exits += x.exits_seen; t.stop_ns += x.total_ns; }
      if (INTERRUPT_REASONS.has(x.reason)) { t.interrupt_exits += x.exits_seen; t.interrupt_ns += x.total_ns; }
      if (!isIdleReason(x.reason)) { busyNs += x.total_ns; busyN += x.exits_handled; }
      if (!isIdleReason(x.reason) && !cls && !INTERRUPT_REASONS.has(x.reason)) { refNs += x.total_ns; refN += x.exits_handled; }
    }
    t.hlt_exits += hltN;
    t.hlt_rest_ns += Math.max(0, hltHost - c.halted_ns);
    t.wakes += r.halt.available ? wakesByTid.get(c.tid) ?? 0 : hltN;
  }
  if (r.sched.available && r.halt.available) {
    const waits = new Map(r.halt.vcpus.map((h) => [h.tid, h.wait_wakeups]));
    const mine = new Set(rows.map((c) => c.tid));
    let d = 0;
    for (const c of r.sched.vcpus) if (mine.has(c.tid)) d += (waits.get(c.tid) ?? 0) * (c.run_delay.mean_ns ?? 0);
    t.wake_delay_ns = Math.round(Math.min(d, t.halted_ns));
  }
  if (r.sched.available) {
    const wall = new Map(rows.map((c) => [c.tid, c.wall_ns]));
    let m = 0;
    for (const c of r.sched.vcpus) {
      const w = wall.get(c.tid);
      if (w) m = Math.max(m, (c.preempted_in_guest + c.preempted_in_host) / (w / 1e9));
    }
    t.preempt_per_s_max = Math.round(m * 10) / 10;
  }
  t.tax = t.wall_ns > 0 ? t.overhead_ns / t.wall_ns : null;
  t.exit_mean_ns = busyN > 0 ? busyNs / busyN : null;
  t.ref_exit_ns = refN > 0 ? refNs / refN : null;
  if (!only && r.port.available) {
    const end = r.port.keys.find((k) => k.key === '0x502' && k.dir === 'w');
    t.units = end ? end.events : null;
  }
  return t;
}
