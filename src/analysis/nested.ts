/**
 * Nested virtualization: the L2 exits that L0 (the traced KVM) saw, per exit reason, split into those L0
 * handled itself and those it reflected to L1, with the time each kept L2 off the CPU.
 *
 * Events (arch/x86/kvm/trace.h): an L2 exit emits kvm_exit and kvm_nested_vmexit (the same exit: counted once,
 * in the exit tables through kvm_exit only); when L0 reflects it to L1, kvm_nested_vmexit_inject follows; L1's
 * VMRUN / VMLAUNCH emits kvm_nested_vmenter (kvm_nested_vmrun in older kernels). The core follows them per
 * host thread (assembly/nested.ts):
 * - handled by L0: kvm_exit -> the next kvm_entry, which enters L2 again (no inject): the same interval the exit
 *   tables show for that exit;
 * - reflected to L1: kvm_exit -> the kvm_entry after the next kvm_nested_vmenter, so L0's reflection, L1's
 *   handling (with L1's own exits, which the exit tables count as L1 exits) and L1's VMRUN are included. These
 *   windows overlap the exit tables' intervals: they are a separate figure, never added to the tax.
 *
 * View model (report.nested, JSON and the table/Markdown/HTML renderers; keep stable):
 *   { available: true, per_reason: boolean, source: string[], note: string,
 *     l2_exits, handled_by_l0, reflected_to_l1, l2_entries,                       (totals, counts)
 *     handled_by_l0_ns, reflected_ns, reflected_timed, reflected_cut, l1_exits_inside, reflected_without_l2_exit,
 *     to_l1_ns, in_l1_ns, back_to_l2_ns, split_timed,            (the reflected windows in three parts)
 *     reasons: [{ reason, l2_exits, handled_by_l0, handled_by_l0_ns, reflected_to_l1, reflected_ns,
 *                 reflected_timed, l1_exits_inside, to_l1_ns, in_l1_ns, back_to_l2_ns, split_timed }]
 *                 (by L2 exits, descending) }
 *   A reflected window = to_l1 (L0 reflecting: L2 exit -> kvm_entry into L1) + in_l1 (L1 running, its own exits
 *   included, until its last exit: the VMRUN/VMRESUME) + back_to_l2 (L0 emulating it -> kvm_entry into L2).
 *   or { available: false, reason }. per_reason false: a report made without the core's nested table (from the
 *   event counts only: reasons is [] and the *_ns / timed fields are 0).
 * Times are in the report's unit (ns, or cycles for raw TSC input).
 */
import type { CoreTables, NestedRec } from '../wasm/core.js';
import type { Report } from './types.js';

export interface NestedReasonRow {
  /** the L2 exit's reason (its kvm_exit's, canonical); "(no kvm_exit)" when kvm_nested_vmexit came alone */
  reason: string;
  /** kvm_nested_vmexit after this kvm_exit */
  l2_exits: number;
  /** L2 entered again with no kvm_nested_vmexit_inject */
  handled_by_l0: number;
  /** their kvm_exit -> kvm_entry */
  handled_by_l0_ns: number;
  /** kvm_nested_vmexit_inject */
  reflected_to_l1: number;
  /** kvm_exit -> the kvm_entry after the next kvm_nested_vmenter, over reflected_timed exits */
  reflected_ns: number;
  /** reflected exits whose L2 re-entry was seen (the others: the trace ended or another L2 exit came first) */
  reflected_timed: number;
  /** L1's own kvm_exits inside those windows */
  l1_exits_inside: number;
  /** the timed windows in three parts, over split_timed of them: L0 reflecting (L2 exit -> kvm_entry into L1) */
  to_l1_ns: number;
  /** L1 handling, its own exits included (-> L1's last exit, its VMRUN / VMRESUME) */
  in_l1_ns: number;
  /** L0 emulating that VMRUN (-> kvm_entry into L2) */
  back_to_l2_ns: number;
  /** windows with all three parts seen (a well-formed trace: = reflected_timed) */
  split_timed: number;
}

export interface NestedSection {
  available: true;
  per_reason: boolean;
  source: string[];
  l2_exits: number;
  reflected_to_l1: number;
  handled_by_l0: number;
  l2_entries: number;
  handled_by_l0_ns: number;
  reflected_ns: number;
  reflected_timed: number;
  /** reflected windows cut by another L2 exit before an L2 entry was seen (events lost or not recorded) */
  reflected_cut: number;
  l1_exits_inside: number;
  /** kvm_nested_vmexit_inject with no L2 exit in flight (L0 synthesized the exit, e.g. an interrupt for L1) */
  reflected_without_l2_exit: number;
  to_l1_ns: number;
  in_l1_ns: number;
  back_to_l2_ns: number;
  split_timed: number;
  reasons: NestedReasonRow[];
  note: string;
}

export type NestedResult = NestedSection | { available: false; reason: string };

const NONE = 'the trace has no kvm_nested_vmexit, kvm_nested_vmexit_inject or kvm_nested_vmenter/kvm_nested_vmrun events (record kvm:kvm_nested_* on the L0 host while an L1 guest runs its own guest)';

export interface NestedContext {
  tables: CoreTables;
  rows: NestedRec[];
  /** ticks -> report unit, per file */
  scale: number[];
  reasonOf: (file: number, id: number) => string;
}

/** From the core's nested table (analysis time). */
export function nestedFromCore(ctx: NestedContext): NestedResult {
  const t = ctx.tables;
  const count = (n: string) => t.strings.reduce((a, s, i) => a + (s === n ? t.nameCounts[i] ?? 0 : 0), 0);
  if (count('kvm_nested_vmexit') + count('kvm_nested_vmexit_inject') + count('kvm_nested_vmenter') + count('kvm_nested_vmrun') === 0) return { available: false, reason: NONE };
  const by = new Map<string, NestedReasonRow>();
  let entries = 0, cut = 0, orphanInject = 0;
  for (const r of ctx.rows) {
    const th = t.threads[r.thread];
    if (!th) continue;
    if (r.reason === -2) { entries += r.l2; continue; }
    if (r.reason === -3) { orphanInject += r.reflected; continue; }
    const k = ctx.scale[th.file] ?? 1;
    const name = r.reason < 0 ? '(no kvm_exit)' : ctx.reasonOf(th.file, r.reason);
    let row = by.get(name);
    if (!row) by.set(name, (row = { reason: name, l2_exits: 0, handled_by_l0: 0, handled_by_l0_ns: 0, reflected_to_l1: 0, reflected_ns: 0, reflected_timed: 0, l1_exits_inside: 0, to_l1_ns: 0, in_l1_ns: 0, back_to_l2_ns: 0, split_timed: 0 }));
    row.l2_exits += r.l2;
    row.handled_by_l0 += r.handled;
    row.handled_by_l0_ns += Number(r.handledSum) * k;
    row.reflected_to_l1 += r.reflected;
    row.reflected_ns += Number(r.reflectedSum) * k;
    row.reflected_timed += r.closed;
    row.l1_exits_inside += r.l1Exits;
    row.to_l1_ns += Number(r.toL1Sum) * k;
    row.in_l1_ns += Number(r.inL1Sum) * k;
    row.back_to_l2_ns += Number(r.backSum) * k;
    row.split_timed += r.parts;
    cut += r.cut;
  }
  const reasons = [...by.values()].filter((r) => r.l2_exits > 0 || r.reflected_to_l1 > 0)
    .sort((a, b) => b.l2_exits - a.l2_exits || b.reflected_ns - a.reflected_ns || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0));
  const sum = (f: (r: NestedReasonRow) => number) => reasons.reduce((a, r) => a + f(r), 0);
  return {
    available: true, per_reason: true,
    source: ['kvm_exit', 'kvm_entry', 'kvm_nested_vmexit', 'kvm_nested_vmexit_inject', count('kvm_nested_vmrun') > 0 && count('kvm_nested_vmenter') === 0 ? 'kvm_nested_vmrun' : 'kvm_nested_vmenter'],
    l2_exits: sum((r) => r.l2_exits), reflected_to_l1: sum((r) => r.reflected_to_l1), handled_by_l0: sum((r) => r.handled_by_l0), l2_entries: entries,
    handled_by_l0_ns: sum((r) => r.handled_by_l0_ns), reflected_ns: sum((r) => r.reflected_ns), reflected_timed: sum((r) => r.reflected_timed),
    reflected_cut: cut, l1_exits_inside: sum((r) => r.l1_exits_inside), reflected_without_l2_exit: orphanInject,
    to_l1_ns: sum((r) => r.to_l1_ns), in_l1_ns: sum((r) => r.in_l1_ns), back_to_l2_ns: sum((r) => r.back_to_l2_ns), split_timed: sum((r) => r.split_timed),
    reasons,
    note: 'an L2 exit is one kvm_exit (in the exit tables) plus one kvm_nested_vmexit (not counted again); handled by L0: exit -> entry back into L2; reflected: kvm_nested_vmexit_inject, timed from the L2 exit to the kvm_entry after L1\'s next kvm_nested_vmenter (L1\'s handling and its own exits included: a separate figure, overlapping the exit tables, never added to the tax)',
  };
}

/** The nested section of a report: the analysis' per-reason table when it was asked for, else the event counts. */
export function buildNested(r: Report): NestedResult {
  if (r.nested) return r.nested;
  const n = (k: string) => r.quality.events_by_name[k] ?? 0;
  const l2 = n('kvm_nested_vmexit');
  const inj = n('kvm_nested_vmexit_inject');
  const enter = n('kvm_nested_vmenter') + n('kvm_nested_vmrun');
  if (l2 === 0 && inj === 0 && enter === 0) return { available: false, reason: NONE };
  return {
    available: true, per_reason: false, source: ['events by name'], l2_exits: l2, reflected_to_l1: inj, handled_by_l0: Math.max(0, l2 - inj), l2_entries: enter,
    handled_by_l0_ns: 0, reflected_ns: 0, reflected_timed: 0, reflected_cut: 0, l1_exits_inside: 0, reflected_without_l2_exit: 0,
    to_l1_ns: 0, in_l1_ns: 0, back_to_l2_ns: 0, split_timed: 0, reasons: [],
    note: 'from the event counts only (this report was made without the nested analysis: kvmtax report --sections nested makes it): an L2 exit is one kvm_exit (in the exit tables) plus one kvm_nested_vmexit (not counted again); reflected = kvm_nested_vmexit_inject',
  };
}
