/**
 * Levers per VM: a trace that holds several VMs (vCPU threads of several VMM processes) gets the whole
 * levers section again for each VM, from a report cut down to that VM: its vCPU rows, its exit reasons,
 * and the halt, timer, IPI and scheduling rows of its threads. What the report keeps for the whole
 * trace only (the MSR and port key tables: EOI writes for the APIC verdict, MSR_KVM_POLL_CONTROL, the
 * 0x502 units of work) stays the trace's, except the units, which come from that VM's own timed phases.
 */
import type { Report, VmRow } from '../types.js';
import type { PhaseSection } from './phases.js';

/** `r` cut down to one VM (the report's other fields shared, not copied). */
export function reportOfVm(r: Report, vm: VmRow): Report {
  const tids = new Set(vm.vcpus.map((c) => c.tid));
  const mine = <T extends { tid: number }>(xs: T[]) => xs.filter((x) => tids.has(x.tid));
  const reasons = vm.reasons ? r.reasons.filter((x) => vm.reasons!.some((y) => y.reason === x.reason)) : r.reasons;
  return {
    ...r,
    vms: [vm],
    reasons,
    halt: r.halt.available ? { ...r.halt, vcpus: mine(r.halt.vcpus) } : r.halt,
    timers: r.timers.available ? { ...r.timers, vcpus: mine(r.timers.vcpus) } : r.timers,
    ipi: r.ipi.available ? { ...r.ipi, vcpus: mine(r.ipi.vcpus) } : r.ipi,
    sched: r.sched.available ? { ...r.sched, vcpus: mine(r.sched.vcpus) } : r.sched,
    // the port table is the trace's: one VM's units of work come from its phases (below), not from it
    port: { available: false, reason: 'per VM: the port table is the whole trace\'s' },
  };
}

/** The VMs that ran vCPUs (kvm_exit/kvm_entry), when there are two or more. */
export function vmsWithExits(r: Report): VmRow[] {
  const vms = r.vms.filter((vm) => vm.vcpus.some((c) => c.exits_seen > 0));
  return vms.length > 1 ? vms : [];
}

/** That VM's phases (by pid and input file), or null. */
export function phasesOfVm(s: PhaseSection | null, vm: VmRow): PhaseSection | null {
  if (!s) return null;
  const tids = new Set(vm.vcpus.map((c) => c.tid));
  const phases = s.phases.filter((p) => p.file === vm.fileIndex && (vm.pid !== null ? p.pid === vm.pid : tids.has(p.tid)));
  return phases.length ? { ...s, phases } : null;
}
