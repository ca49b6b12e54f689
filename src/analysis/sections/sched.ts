/**
 * vCPU scheduling (sched_switch, sched_wakeup/sched_waking, kvm_ple_window_update): switches, sleeps,
 * preemptions in guest and host mode, run delay and the PLE window.
 */
import * as K from '../../../assembly/constants.js';
import type { SchedSection, SchedVcpu, Unavailable } from '../types.js';
import { absent, hist, type SectionContext } from './context.js';

export function schedSection(ctx: SectionContext): SchedSection | Unavailable {
  if (!ctx.has('sched_switch')) return absent('sched_switch');
  const notes: string[] = [];
  if (!ctx.has('sched_wakeup', 'sched_waking')) notes.push('no sched_wakeup/sched_waking events: run delay counts only preemptions (switched out while runnable), not wake-ups');
  const vcpus: SchedVcpu[] = [];
  for (const ti of ctx.vcpuThreads) {
    const th = ctx.tables.threads[ti]!;
    const m = ctx.binsOf(ti).metrics;
    const pause = ctx.reasonTotal(ti, ['PAUSE_INSTRUCTION', 'pause']);
    vcpus.push({
      ...ctx.who(ti), switched_in: th.switchIn, slept: th.sleeps, preempted_in_guest: th.preemptGuest, preempted_in_host: th.preemptHost + th.preExitPreempts,
      run_delay: ctx.stats(hist(m.get(K.M_RUN_DELAY), ctx.scale[th.file]!)), pause_exits: ctx.timed ? pause.n : null,
      ple_window: ctx.has('kvm_ple_window_update') ? { grows: th.pleGrows, shrinks: th.pleShrinks, last: th.pleLast } : null,
    });
  }
  return { available: true, source: ['sched_switch', 'sched_wakeup', 'sched_waking', 'kvm_ple_window_update'].filter((e) => ctx.has(e)), notes, vcpus };
}
