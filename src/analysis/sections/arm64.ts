/**
 * arm64's own exit events: kvm_wfx_arm64 splits the WFx exits into WFI and WFE, kvm_hvc_arm64 keys
 * the HVC exits by r0 (the PSCI/SMCCC function id). The core keys each exit by the first of these events inside
 * it ("wfx 0x0 r" WFI, "wfx 0x1 r" WFE, "wfx 0x2 r" unknown, "hvc 0x84000000 r"), as it keys MSR/port/MMIO exits.
 * Built only for arm64 reports. Pure: the section context in, the section out.
 */
import * as K from '../../../assembly/constants.js';
import { Histogram } from '../../core/histogram.js';
import type { Arm64Section, HvcRow, HvcSection, Unavailable, WfxPart, WfxSection, WfxVcpu } from '../types.js';
import { absent, hist, type SectionContext } from './context.js';

/** PSCI 0.2 function ids (include/uapi/linux/psci.h: PSCI_0_2_FN(n) = 0x84000000 + n, FN64 = 0xc4000000 + n). */
export const PSCI_NAMES: Record<number, string> = {
  0x84000000: 'PSCI_VERSION', 0x84000001: 'PSCI_CPU_SUSPEND', 0x84000002: 'PSCI_CPU_OFF', 0x84000003: 'PSCI_CPU_ON',
  0x84000004: 'PSCI_AFFINITY_INFO', 0x84000005: 'PSCI_MIGRATE', 0x84000006: 'PSCI_MIGRATE_INFO_TYPE',
  0x84000007: 'PSCI_MIGRATE_INFO_UP_CPU', 0x84000008: 'PSCI_SYSTEM_OFF', 0x84000009: 'PSCI_SYSTEM_RESET',
  0xc4000001: 'PSCI_CPU_SUSPEND64', 0xc4000003: 'PSCI_CPU_ON64', 0xc4000004: 'PSCI_AFFINITY_INFO64',
  0xc4000005: 'PSCI_MIGRATE64', 0xc4000007: 'PSCI_MIGRATE_INFO_UP_CPU64',
};

const keyName = (ctx: SectionContext, reason: number): string => ctx.tables.strings[reason & ~K.SUBKEY_FLAG]!;

export function wfxSection(ctx: SectionContext): WfxSection | Unavailable {
  if (!ctx.has('kvm_wfx_arm64')) return absent('kvm_wfx_arm64');
  const vcpus: WfxVcpu[] = [];
  for (const ti of ctx.vcpuThreads) {
    const th = ctx.tables.threads[ti]!;
    const part = (k: number): WfxPart => {
      const b = ctx.keyOf(ti, `wfx 0x${k} r`);
      const h = hist(b, ctx.scale[th.file]!);
      return { events: b?.seen ?? 0, exits_handled: ctx.timed ? h.n : null, total_ns: ctx.timed ? h.sum : null };
    };
    const wfi = part(0), wfe = part(1), unknown = part(2);
    if (wfi.events + wfe.events + unknown.events === 0) continue;
    vcpus.push({ ...ctx.who(ti), wfi, wfe, unknown, halts: th.haltWakes, idle_ns: wfi.total_ns, overhead_ns: wfe.total_ns });
  }
  return { available: true, source: ['kvm_wfx_arm64', 'kvm_exit', 'kvm_entry', 'kvm_vcpu_wakeup'], vcpus };
}

export function hvcSection(ctx: SectionContext): HvcSection | Unavailable {
  if (!ctx.has('kvm_hvc_arm64')) return absent('kvm_hvc_arm64');
  const agg = new Map<string, { events: number; h: Histogram }>();
  for (const [ti, e] of ctx.bins) {
    const th = ctx.tables.threads[ti]!;
    for (const b of e.keys) {
      const s = keyName(ctx, b.reason);
      if (!s.startsWith('hvc ')) continue;
      const id = s.split(' ')[1]!;
      let a = agg.get(id);
      if (!a) agg.set(id, (a = { events: 0, h: new Histogram() }));
      a.events += b.seen;
      a.h.addBin(b, ctx.scale[th.file]!);
    }
  }
  const functions: HvcRow[] = [...agg.entries()].map(([id, a]) => ({
    function_id: id, name: PSCI_NAMES[Number(id)] ?? null, events: a.events,
    exits_handled: ctx.timed ? a.h.n : null, total_ns: ctx.timed ? a.h.sum : null, ...ctx.stats(a.h),
  }));
  functions.sort((a, b) => (b.total_ns ?? 0) - (a.total_ns ?? 0) || b.events - a.events || (a.function_id < b.function_id ? -1 : 1));
  return { available: true, source: ['kvm_hvc_arm64', 'kvm_exit', 'kvm_entry'], functions };
}

export function arm64Section(ctx: SectionContext): Arm64Section {
  return { wfx: wfxSection(ctx), hvc: hvcSection(ctx) };
}
