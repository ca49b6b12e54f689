/**
 * Timers per vCPU: kvm_wait_lapic_expire (early/late), TSC-deadline MSR writes, PREEMPTION_TIMER exits and
 * the wake-up to entry latency; what an exitless timer would remove from the exit tax.
 */
import * as K from '../../../assembly/constants.js';
import { ratio } from '../numbers.js';
import type { TimerSection, TimerVcpu, Unavailable } from '../types.js';
import { absent, hist, type SectionContext } from './context.js';

export function timerSection(ctx: SectionContext): TimerSection | Unavailable {
  const timerEvents = ['kvm_wait_lapic_expire', 'kvm_msr', 'kvm_exit', 'kvm_vcpu_wakeup'];
  if (!ctx.has(...timerEvents)) return absent(...timerEvents);
  const notes: string[] = [];
  const lapicUnit: 'ns' | 'cycles' = ctx.tscNs ? 'ns' : 'cycles';
  if (ctx.has('kvm_wait_lapic_expire')) {
    notes.push('kvm_wait_lapic_expire delta is guest TSC cycles (arch/x86/kvm/lapic.c: guest_tsc - tsc_deadline); negative = early (KVM waits in the host), positive = late' +
      (ctx.tscNs ? `; converted to ns with --tsc-khz` : '; give --tsc-khz (the guest TSC rate) to convert to ns'));
  }
  if (!ctx.has('kvm_msr')) notes.push('no kvm_msr events: TSC-deadline writes cannot be told from other MSR exits');
  const vcpus: TimerVcpu[] = [];
  let exitless = 0;
  for (const ti of ctx.vcpuThreads) {
    const th = ctx.tables.threads[ti]!;
    const m = ctx.binsOf(ti).metrics;
    const kc = ctx.tscNs ?? 1;
    const early = hist(m.get(K.M_LAPIC_EARLY), kc);
    const late = hist(m.get(K.M_LAPIC_LATE), kc);
    const dl = ctx.keyOf(ti, 'msr 0x6e0 w');
    const dlNs = dl ? Number(dl.sum) * ctx.scale[th.file]! : 0;
    const pt = ctx.reasonTotal(ti, ['PREEMPTION_TIMER']);
    const w2e = m.get(K.M_WAKE_TO_ENTRY);
    const s2e = m.get(K.M_SCHED_WAKE_TO_ENTRY);
    exitless += dlNs + pt.ns;
    vcpus.push({
      ...ctx.who(ti),
      lapic_expire: th.lapic > 0 ? { events: th.lapic, early: early.n, late: late.n, unit: lapicUnit, early_stats: ctx.stats(early), late_stats: ctx.stats(late) } : null,
      tsc_deadline_writes: ctx.has('kvm_msr') ? dl?.seen ?? 0 : null,
      tsc_deadline_exits_ns: ctx.has('kvm_msr') && ctx.timed ? dlNs : null,
      preemption_timer_exits: ctx.timed ? pt.n : null, preemption_timer_ns: ctx.timed ? pt.ns : null,
      wake_to_entry: w2e ? ctx.stats(hist(w2e, ctx.scale[th.file]!)) : null,
      sched_wake_to_entry: s2e ? ctx.stats(hist(s2e, ctx.scale[th.file]!)) : null,
    });
  }
  if (!ctx.timed) notes.push('no kvm_exit/kvm_entry: the host time of timer exits cannot be measured');
  return { available: true, source: timerEvents.filter((e) => ctx.has(e)), notes, vcpus, exitless_timer_ns: ctx.timed ? exitless : null, exitless_timer_share_of_overhead: ctx.timed ? ratio(exitless, ctx.overheadNs) : null };
}
