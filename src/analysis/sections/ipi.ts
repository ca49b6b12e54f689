/**
 * IPIs per vCPU: x2APIC ICR writes (MSR 0x830) and APIC_WRITE exits; what exitless IPIs would remove from
 * the exit tax.
 */
import { ratio } from '../numbers.js';
import type { IpiSection, IpiVcpu, Unavailable } from '../types.js';
import { absent, type SectionContext } from './context.js';

export function ipiSection(ctx: SectionContext): IpiSection | Unavailable {
  if (!ctx.has('kvm_msr', 'kvm_exit')) return absent('kvm_msr', 'kvm_exit');
  const notes: string[] = [];
  if (!ctx.has('kvm_msr')) notes.push('no kvm_msr events: x2APIC ICR writes (MSR 0x830) cannot be told from other MSR exits');
  const vcpus: IpiVcpu[] = [];
  let exitless = 0;
  for (const ti of ctx.vcpuThreads) {
    const th = ctx.tables.threads[ti]!;
    const icr = ctx.keyOf(ti, 'msr 0x830 w');
    const icrNs = icr ? Number(icr.sum) * ctx.scale[th.file]! : 0;
    const aw = ctx.reasonTotal(ti, ['APIC_WRITE']);
    exitless += icrNs + aw.ns;
    vcpus.push({
      ...ctx.who(ti), icr_writes: ctx.has('kvm_msr') ? icr?.seen ?? 0 : null, icr_exits_ns: ctx.has('kvm_msr') && ctx.timed ? icrNs : null,
      apic_write_exits: ctx.timed ? aw.n : null, apic_write_ns: ctx.timed ? aw.ns : null,
    });
  }
  if (!ctx.timed) notes.push('no kvm_exit/kvm_entry: the host time of IPI exits cannot be measured');
  notes.push('APIC_WRITE exits (xAPIC mode) include writes to other APIC registers than the ICR (EOI, TPR, timer): an upper bound of what an exitless IPI removes');
  return { available: true, source: ['kvm_msr', 'kvm_exit', 'kvm_entry'].filter((e) => ctx.has(e)), notes, vcpus, exitless_ipi_ns: ctx.timed ? exitless : null, exitless_ipi_share_of_overhead: ctx.timed ? ratio(exitless, ctx.overheadNs) : null };
}
