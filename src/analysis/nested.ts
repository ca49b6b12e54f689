/**
 * Nested virtualization, from the event counts: an L2 exit emits kvm_exit and kvm_nested_vmexit
 * (the same exit, counted once: kvm_nested_vmexit never enters the exit tables); when L0 reflects it to L1,
 * kvm_nested_vmexit_inject follows; L1 entering L2 emits kvm_nested_vmenter (kvm_nested_vmrun before
 * Linux 6.x on SVM). Shown when asked (--sections nested). Per reason and the reflected exits' time until
 * L2 runs again are not computed yet.
 */
import type { Report } from './types.js';

export interface NestedSection {
  available: true;
  l2_exits: number;
  reflected_to_l1: number;
  handled_by_l0: number;
  l2_entries: number;
  note: string;
}

export function buildNested(r: Report): NestedSection | { available: false; reason: string } {
  const n = (k: string) => r.quality.events_by_name[k] ?? 0;
  const l2 = n('kvm_nested_vmexit');
  const inj = n('kvm_nested_vmexit_inject');
  const enter = n('kvm_nested_vmenter') + n('kvm_nested_vmrun');
  if (l2 === 0 && inj === 0 && enter === 0) {
    return { available: false, reason: 'the trace has no kvm_nested_vmexit, kvm_nested_vmexit_inject or kvm_nested_vmenter/kvm_nested_vmrun events (record kvm:kvm_nested_* on the L0 host while an L1 guest runs its own guest)' };
  }
  return {
    available: true, l2_exits: l2, reflected_to_l1: inj, handled_by_l0: Math.max(0, l2 - inj), l2_entries: enter,
    note: 'from the event counts: an L2 exit is one kvm_exit (in the exit tables) plus one kvm_nested_vmexit (not counted again); reflected = kvm_nested_vmexit_inject; per-reason split and the reflected exits\' time until L2 runs again are not computed',
  };
}
