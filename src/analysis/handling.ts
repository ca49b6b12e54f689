/**
 * Where handling time goes: each handled exit's interval (kvm_exit -> kvm_entry) split into
 *   halted     the halt inside HLT-class exits (kvm_vcpu_wakeup's poll + blocked time; all of it without them),
 *   VMM        from the exit's first kvm_userspace_exit to the entry (the VMM's device model, KVM_RUN round trip),
 *   preempted  the vCPU thread switched out runnable (sched_switch prev_state R) during the kernel part:
 *              double scheduling, which belongs to the host scheduler, not to KVM,
 *   on-CPU     the rest: KVM handling the exit on the CPU.
 * Per exit reason and per vCPU thread. Shown only when asked (--sections handling).
 * The hardware's own VM-exit/VM-entry transition (and mitigations around it) lies outside exit -> entry and
 * is in none of these figures.
 */
import type { CoreTables } from '../wasm/core.js';
import { isIdleReason } from '../core/reasons.js';
import type { HandlingRow, HandlingSection, Unavailable, Who } from './types.js';

export interface HandlingContext {
  tables: CoreTables;
  scale: number[];
  reasonOf: (file: number, id: number) => string;
  reasonBins: CoreTables['bins'];
  /** vCPU threads in report order */
  vcpuThreads: number[];
  who: (ti: number) => Who;
}

export function buildHandling(ctx: HandlingContext): HandlingSection | Unavailable {
  const t = ctx.tables;
  const has = (n: string) => t.strings.some((s, i) => s === n && (t.nameCounts[i] ?? 0) > 0);
  if (!has('kvm_exit') || !has('kvm_entry')) return { available: false, reason: 'the trace has no kvm_exit/kvm_entry pairs: there is no handling time to split' };
  const haveWakeups = t.threads.some((th) => th.haltWakes > 0);
  const missing: string[] = [];
  if (!has('sched_switch')) missing.push('no sched_switch events: preempted time cannot be separated and is counted as on-CPU (record sched:sched_switch)');
  if (!has('kvm_userspace_exit')) missing.push('no kvm_userspace_exit events: time in the VMM cannot be separated and is counted as on-CPU (record kvm:kvm_userspace_exit)');
  if (!haveWakeups) missing.push('no kvm_vcpu_wakeup events: all of the HLT exits\' handling time is counted as halted');
  const empty = (key: string): HandlingRow => ({ key, exits_handled: 0, total_ns: 0, on_cpu_ns: 0, preempted_ns: 0, vmm_ns: 0, halted_ns: 0, preempted_exits: 0 });
  const byReason = new Map<string, HandlingRow>();
  const byThread = new Map<number, HandlingRow>();
  const add = (r: HandlingRow, total: number, halted: number, vmm: number, pre: number, handled: number, preN: number) => {
    r.exits_handled += handled; r.total_ns += total; r.halted_ns += halted; r.vmm_ns += vmm; r.preempted_ns += pre; r.preempted_exits += preN;
    r.on_cpu_ns = r.total_ns - r.halted_ns - r.vmm_ns - r.preempted_ns;
  };
  for (const b of ctx.reasonBins) {
    if (b.handled === 0) continue;
    const th = t.threads[b.thread]!;
    const k = ctx.scale[th.file]!;
    const reason = ctx.reasonOf(th.file, b.reason);
    const total = Number(b.sum) * k;
    const halted = isIdleReason(reason) ? (haveWakeups ? Math.min(total, (Number(b.wakePollNs) + Number(b.wakeWaitNs)) * k) : total) : 0;
    const vmm = Math.min(total - halted, Number(b.userNs) * k);
    // a preemption while polling a halt is part of the halt's time: never counted twice
    const pre = Math.min(total - halted - vmm, Number(b.preemptNs) * k);
    let r = byReason.get(reason);
    if (!r) byReason.set(reason, (r = empty(reason)));
    add(r, total, halted, vmm, pre, b.handled, b.preemptN);
    let v = byThread.get(b.thread);
    if (!v) byThread.set(b.thread, (v = empty('')));
    add(v, total, halted, vmm, pre, b.handled, b.preemptN);
  }
  const totals = empty('all');
  for (const r of byReason.values()) add(totals, r.total_ns, r.halted_ns, r.vmm_ns, r.preempted_ns, r.exits_handled, r.preempted_exits);
  const vcpus = ctx.vcpuThreads.filter((ti) => byThread.has(ti)).map((ti) => {
    const w = ctx.who(ti);
    const row = byThread.get(ti)!;
    return { ...w, ...row, key: `${w.vcpu ?? '?'} (${w.tid})` };
  });
  return {
    available: true,
    source: ['kvm_exit', 'kvm_entry', 'kvm_userspace_exit', 'sched_switch', 'kvm_vcpu_wakeup'],
    included: 'the exit tax counts on-CPU + preempted + VMM (all of the handling time but the halts); the hardware\'s own VM-exit/VM-entry transition and the mitigations around it (VERW, L1D flush, IBPB) lie outside exit -> entry and are in none of these figures',
    missing,
    totals,
    reasons: [...byReason.values()].sort((a, b) => b.total_ns - a.total_ns || (a.key < b.key ? -1 : 1)),
    vcpus,
  };
}
