/**
 * Halt polling per vCPU (kvm_vcpu_wakeup, kvm_halt_poll_ns): attempts and successes as KVM counts them,
 * the poll window's history, and the HLT exits' time split into polling, blocked and the rest.
 */
import * as K from '../../../assembly/constants.js';
import { ratio } from '../numbers.js';
import type { HaltSection, HaltVcpu, Unavailable } from '../types.js';
import { absent, hist, mergeHist, type SectionContext } from './context.js';

export function haltSection(ctx: SectionContext): HaltSection | Unavailable {
  if (!ctx.has('kvm_vcpu_wakeup')) return absent('kvm_vcpu_wakeup');
  const notes: string[] = [];
  const source = ['kvm_vcpu_wakeup', ...(ctx.has('kvm_halt_poll_ns') ? ['kvm_halt_poll_ns'] : [])];
  if (!ctx.has('kvm_halt_poll_ns')) {
    notes.push('no kvm_halt_poll_ns events: each vCPU\'s poll window is taken to have stayed at its starting value 0 (KVM sets it to 0 when a vCPU is created and changes it only with a traced grow or shrink), so no halt counts as a polling attempt');
  } else if (ctx.vcpuThreads.some((ti) => ctx.tables.threads[ti]!.haltWakes > 0 && (ctx.tables.threads[ti]!.hpFlags & K.HPF_KNOWN) === 0)) {
    notes.push('some vCPUs had no kvm_halt_poll_ns event: their window is taken to have stayed 0 (no polling attempts)');
  }
  notes.push('virt/kvm/kvm_main.c kvm_vcpu_halt(): a halt polls when the vCPU\'s window (halt_poll_ns) is non-zero at its start (halt_attempted_poll, rebuilt from the kvm_halt_poll_ns grow/shrink events) and succeeds when the vCPU never blocked (halt_successful_poll); kvm_vcpu_wakeup reports the whole halt time');
  notes.push('halt_poll_success_ns here sums the whole halt time of successful polls: KVM adds only the polling part, so a wake-up that came after the poll loop ended but before the vCPU blocked makes this slightly larger (0.003-0.3% on our captures)');
  notes.push('the halts that blocked give halt_wait_ns + halt_poll_fail_ns exactly; their split is bounded only: each failed poll polled at most its window (polling stops early on need_resched)');
  const vcpus: HaltVcpu[] = [];
  for (const ti of ctx.vcpuThreads) {
    const th = ctx.tables.threads[ti]!;
    if (th.haltWakes === 0) continue;
    const k = ctx.scale[th.file]!;
    const known = (th.hpFlags & K.HPF_KNOWN) !== 0;
    const m = ctx.binsOf(ti).metrics;
    const attempted = th.hpAttempted;
    // the window holds until the thread's last exit/entry, or the end of its file when it has none
    const lastTs = th.exits + th.entries > 0 ? Number(th.lastTs) : (ctx.fileLastTs[th.file] ?? Number(th.hpWinTs));
    const winSpan = known ? lastTs - Number(th.hpFirstTs) : 0;
    const area = th.hpWinArea + (known ? Number(th.hpWindow) * Math.max(0, lastTs - Number(th.hpWinTs)) : 0);
    const hints: string[] = [];
    const changes = th.hpGrows + th.hpShrinks;
    if (th.hpFlips >= 4 && th.hpFlips * 4 >= changes) hints.push(`the poll window thrashes: it changed direction ${th.hpFlips} times in ${changes} changes`);
    if (attempted >= 20 && th.hpSuccess / attempted < 0.5) hints.push(`polls mostly fail (${th.hpSuccess} of ${attempted} succeed): the window is shorter than this vCPU's idle periods; polling burns host CPU for nothing`);
    // the HLT exits' handling time, split into the halt's poll and blocked parts and the rest
    let split: HaltVcpu['hlt_split'] = null;
    for (const b of ctx.binsOf(ti).reasons) {
      const r = ctx.reasonOf(th.file, b.reason);
      if (r === 'HLT' || r === 'hlt') {
        const total = Number(b.sum) * k;
        const poll = Number(b.wakePollNs);
        const wait = Number(b.wakeWaitNs);
        split = { exits_handled: b.handled, total_ns: total, poll_ns: poll, wait_ns: wait, other_ns: total - poll - wait };
      }
    }
    vcpus.push({
      ...ctx.who(ti), halts: th.haltWakes, poll_wakeups: th.wakePoll, wait_wakeups: th.wakeWait,
      halt_successful_poll: th.hpSuccess, halt_attempted_poll: attempted, halt_poll_invalid: th.hpInvalid,
      halt_poll_success_ns: Number(th.hpSuccessNs), halt_wait_ns_plus_poll_fail_ns: Number(th.wakeWaitNs),
      halt_poll_fail_ns_max: known ? Number(th.hpFailNs) : 0, halt_wait_ns_min: known ? Number(th.hpWaitNs) : Number(th.wakeWaitNs),
      success_rate: ratio(th.hpSuccess, attempted),
      poll_success: ctx.stats(hist(m.get(K.M_HALT_POLL_OK), 1)),
      halt_blocked: ctx.stats(hist(m.get(K.M_HALT_WAIT), 1)),
      // a vCPU whose window was never traced: its waits are taken to have blocked for their whole halt
      blocked: ctx.stats(known ? hist(m.get(K.M_HALT_BLOCKED), 1) : mergeHist(m.get(K.M_HALT_BLOCKED), m.get(K.M_PRE_WAIT), 1)),
      window: {
        known, grows: th.hpGrows, shrinks: th.hpShrinks, flips: th.hpFlips,
        settled_ns: known ? Number(th.hpWindow) : null, max_ns: known ? Number(th.hpMax) : null,
        mean_ns: known && winSpan > 0 ? Math.round(area / winSpan) : null,
      },
      hlt_split: split, hints,
    });
  }
  return { available: true, source, notes, vcpus };
}
