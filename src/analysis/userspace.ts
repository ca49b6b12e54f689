/**
 * Userspace round trips: an exit whose handling leaves the kernel (kvm_userspace_exit between the
 * kvm_exit and the next kvm_entry: port I/O, MMIO, hypercalls handled by the VMM) splits into in-kernel
 * time (exit -> kvm_userspace_exit, and KVM's completion after KVM_RUN returns) and userspace time
 * (kvm_userspace_exit -> kvm_entry: the VMM's device model, the ioctl return and re-entry), per exit
 * reason and per port / MMIO / MSR key. Shown only when asked (--sections userspace).
 */
import * as K from '../../assembly/constants.js';
import type { CoreTables } from '../wasm/core.js';
import type { UserspaceRow, UserspaceSection, Unavailable } from './types.js';

export interface UserspaceContext {
  tables: CoreTables;
  scale: number[];
  reasonOf: (file: number, id: number) => string;
  /** bins of exit reasons (not metrics, not sub-keys) */
  reasonBins: CoreTables['bins'];
}

export function buildUserspace(ctx: UserspaceContext): UserspaceSection | Unavailable {
  const t = ctx.tables;
  const has = (n: string) => t.strings.some((s, i) => s === n && (t.nameCounts[i] ?? 0) > 0);
  if (!has('kvm_userspace_exit')) return { available: false, reason: 'the trace has no kvm_userspace_exit events: the VMM\'s part of the handling cannot be told from the kernel\'s (record kvm:kvm_userspace_exit)' };
  if (!has('kvm_entry')) return { available: false, reason: 'the trace has no kvm_entry events: handling times need kvm_exit and kvm_entry' };
  const add = (m: Map<string, UserspaceRow>, key: string, b: CoreTables['bins'][number], k: number) => {
    let r = m.get(key);
    if (!r) m.set(key, (r = { key, exits_handled: 0, total_ns: 0, to_userspace: 0, userspace_ns: 0, in_kernel_ns: 0 }));
    r.exits_handled += b.handled;
    r.total_ns += Number(b.sum) * k;
    r.to_userspace += b.userN;
    r.userspace_ns += Number(b.userNs) * k;
    r.in_kernel_ns = r.total_ns - r.userspace_ns;
  };
  const reasons = new Map<string, UserspaceRow>();
  for (const b of ctx.reasonBins) {
    const th = t.threads[b.thread]!;
    add(reasons, ctx.reasonOf(th.file, b.reason), b, ctx.scale[th.file]!);
  }
  const keys = new Map<string, UserspaceRow>();
  for (const b of t.bins) {
    if (b.reason < 0 || !(b.reason & K.SUBKEY_FLAG)) continue;
    const th = t.threads[b.thread]!;
    add(keys, t.strings[b.reason & ~K.SUBKEY_FLAG]!, b, ctx.scale[th.file]!);
  }
  const order = (a: UserspaceRow, b: UserspaceRow) => b.userspace_ns - a.userspace_ns || b.total_ns - a.total_ns || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  return {
    available: true,
    source: ['kvm_exit', 'kvm_entry', 'kvm_userspace_exit', 'kvm_pio', 'kvm_mmio', 'kvm_msr'],
    note: 'userspace time runs from an exit\'s first kvm_userspace_exit to its kvm_entry (the VMM, the return from and re-entry into KVM_RUN); in-kernel time is the rest of exit -> entry',
    reasons: [...reasons.values()].filter((r) => r.exits_handled > 0).sort(order),
    keys: [...keys.values()].filter((r) => r.exits_handled > 0).sort(order),
  };
}
