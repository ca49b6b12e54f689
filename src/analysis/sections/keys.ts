/**
 * The sub-keys of MSR, port I/O and MMIO exits (kvm_msr, kvm_pio, kvm_mmio): exits and handling time per
 * MSR / port / address and direction, like perf kvm stat's msr, ioport and mmio analyses.
 */
import * as K from '../../../assembly/constants.js';
import { Histogram } from '../../core/histogram.js';
import type { KeyRow, KeySection, Unavailable } from '../types.js';
import { absent, type SectionContext } from './context.js';

/** Names of the MSRs that matter for the exit tax (Intel SDM vol. 4; KVM's paravirtual MSRs). */
export const MSR_NAMES: Record<number, string> = {
  0x10: 'IA32_TSC', 0x1b: 'IA32_APIC_BASE', 0x3a: 'IA32_FEATURE_CONTROL', 0x48: 'IA32_SPEC_CTRL', 0x49: 'IA32_PRED_CMD',
  0xe2: 'MSR_PKG_CST_CONFIG_CONTROL', 0xe7: 'IA32_MPERF', 0xe8: 'IA32_APERF', 0x174: 'IA32_SYSENTER_CS', 0x175: 'IA32_SYSENTER_ESP',
  0x176: 'IA32_SYSENTER_EIP', 0x277: 'IA32_PAT', 0x3f8: 'MSR_PKG_C3_RESIDENCY', 0x3f9: 'MSR_PKG_C6_RESIDENCY',
  0x3fa: 'MSR_PKG_C7_RESIDENCY', 0x3fc: 'MSR_CORE_C3_RESIDENCY', 0x3fd: 'MSR_CORE_C6_RESIDENCY', 0x3fe: 'MSR_CORE_C7_RESIDENCY',
  0x6e0: 'IA32_TSC_DEADLINE', 0x802: 'X2APIC_APICID', 0x803: 'X2APIC_VERSION', 0x808: 'X2APIC_TPR', 0x80b: 'X2APIC_EOI',
  0x80d: 'X2APIC_LDR', 0x80f: 'X2APIC_SVR', 0x828: 'X2APIC_ESR', 0x830: 'X2APIC_ICR', 0x832: 'X2APIC_LVT_TIMER',
  0x835: 'X2APIC_LVT_LINT0', 0x836: 'X2APIC_LVT_LINT1', 0x837: 'X2APIC_LVT_ERROR', 0x838: 'X2APIC_TMICT',
  0x839: 'X2APIC_TMCCT', 0x83e: 'X2APIC_TDCR', 0x83f: 'X2APIC_SELF_IPI', 0xc0000080: 'IA32_EFER', 0xc0000081: 'STAR',
  0xc0000082: 'LSTAR', 0xc0000084: 'SFMASK', 0xc0000100: 'FS_BASE', 0xc0000101: 'GS_BASE', 0xc0000102: 'KERNEL_GS_BASE',
  0xc0000103: 'TSC_AUX', 0x4b564d00: 'KVM_WALL_CLOCK_NEW', 0x4b564d01: 'KVM_SYSTEM_TIME_NEW', 0x4b564d02: 'KVM_ASYNC_PF_EN',
  0x4b564d03: 'KVM_STEAL_TIME', 0x4b564d04: 'KVM_PV_EOI_EN', 0x4b564d05: 'KVM_POLL_CONTROL',
};

/** The section of one key kind: `prefix` is the core's sub-key prefix (msr, pio, mmio), `event` the trace event. */
export function keySection(ctx: SectionContext, prefix: string, event: string): KeySection | Unavailable {
  if (!ctx.has(event)) return absent(event);
  const agg = new Map<string, { events: number; h: Histogram }>();
  for (const [ti, e] of ctx.bins) {
    const th = ctx.tables.threads[ti]!;
    for (const b of e.keys) {
      const s = ctx.tables.strings[b.reason & ~K.SUBKEY_FLAG]!;
      if (!s.startsWith(prefix + ' ')) continue;
      let a = agg.get(s);
      if (!a) agg.set(s, (a = { events: 0, h: new Histogram() }));
      a.events += b.seen;
      a.h.addBin(b, ctx.scale[th.file]!);
    }
  }
  const keys: KeyRow[] = [...agg.entries()].map(([s, a]) => {
    const [, key, dir] = s.split(' ') as [string, string, 'r' | 'w'];
    const name = prefix === 'msr' ? MSR_NAMES[Number(key)] ?? null : null;
    return { key, dir, name, events: a.events, exits_handled: ctx.timed ? a.h.n : null, total_ns: ctx.timed ? a.h.sum : null, ...ctx.stats(a.h) };
  });
  keys.sort((a, b) => (b.total_ns ?? 0) - (a.total_ns ?? 0) || b.events - a.events || (a.key < b.key ? -1 : a.key > b.key ? 1 : a.dir < b.dir ? -1 : 1));
  return { available: true, source: [event, 'kvm_exit', 'kvm_entry'], keys };
}
