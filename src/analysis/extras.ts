/**
 * The parts of the exit tax that cpu-pm, halt-polling, exitless timers and exitless IPIs each change,
 * measured on their own from the same trace: halt polling (kvm_vcpu_wakeup, kvm_halt_poll_ns), timers
 * (kvm_wait_lapic_expire, TSC-deadline MSR writes, PREEMPTION_TIMER exits, wake-up latency), IPIs
 * (x2APIC ICR writes, APIC_WRITE exits), the sub-keys of MSR, port I/O and MMIO exits, and vCPU
 * scheduling (sched_switch, sched_wakeup, kvm_ple_window_update).
 *
 * Every section says which events it came from; when the trace lacks them the section is present with
 * `available: false` and the reason, never as zeros.
 */
import * as K from '../../assembly/constants.js';
import type { BinRec, CoreTables, ThreadRec } from '../wasm/core.js';
import { Histogram } from '../core/histogram.js';
import type { Stats, Who, Unavailable, HaltVcpu, HaltSection, TimerVcpu, TimerSection, IpiVcpu, IpiSection, KeyRow, KeySection, SchedVcpu, SchedSection, Extras } from './types.js';

// the section types, for modules that still import them from here (new code imports ./types.js)
export type { Who, Unavailable, HaltVcpu, HaltSection, TimerVcpu, TimerSection, IpiVcpu, IpiSection, KeyRow, KeySection, SchedVcpu, SchedSection, Extras } from './types.js';

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
const MSR_TSC_DEADLINE = 0x6e0;
const MSR_X2APIC_ICR = 0x830;

export interface ExtraContext {
  tables: CoreTables;
  /** vCPU threads (index into tables.threads) in report order */
  vcpuThreads: number[];
  who(ti: number): Who;
  /** ns per tick of each input file */
  scale: number[];
  /** canonical reason of a bin's reason id in a file */
  reasonOf(file: number, id: number): string;
  /** ns per guest TSC cycle, if known (--tsc-khz) */
  tscNs?: number;
  /** events per name in the whole input */
  events: Record<string, number>;
  /** total handling overhead (host time that is not halted), for shares */
  overheadNs: number;
  stats(h: Histogram): Stats;
  /** each input's last timestamp (for threads without exits/entries, e.g. the window's time-weighted mean) */
  fileLastTs: Array<number | null>;
}

function has(ctx: ExtraContext, ...names: string[]): boolean {
  return names.some((n) => (ctx.events[n] ?? 0) > 0);
}
function absent(...names: string[]): Unavailable {
  return { available: false, reason: `the trace has no ${names.join(' or ')} events` };
}

/** Bins of one thread, split into exit reasons, metrics (M_*) and sub-keys. */
interface ThreadBins { reasons: BinRec[]; metrics: Map<number, BinRec>; keys: BinRec[] }

function splitBins(t: CoreTables): Map<number, ThreadBins> {
  const m = new Map<number, ThreadBins>();
  for (const b of t.bins) {
    let e = m.get(b.thread);
    if (!e) m.set(b.thread, (e = { reasons: [], metrics: new Map(), keys: [] }));
    if (b.reason < 0) e.metrics.set(b.reason, b);
    else if (b.reason & K.SUBKEY_FLAG) e.keys.push(b);
    else e.reasons.push(b);
  }
  return m;
}

function hist(b: BinRec | undefined, k: number): Histogram {
  const h = new Histogram();
  if (b) h.addScaled(b.hist, k, b.handled, Number(b.sum), b.sumsq, Number(b.min), Number(b.max));
  return h;
}

function mergeHist(a: Histogram, b: Histogram): Histogram {
  a.merge(b);
  return a;
}

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 1e6) / 1e6 : null);

export function buildExtras(ctx: ExtraContext): Extras {
  const t = ctx.tables;
  const bins = splitBins(t);
  const empty: ThreadBins = { reasons: [], metrics: new Map(), keys: [] };
  const binsOf = (ti: number) => bins.get(ti) ?? empty;
  const reasonTotal = (ti: number, names: string[]) => {
    let n = 0, ns = 0;
    const th = t.threads[ti]!;
    for (const b of binsOf(ti).reasons) {
      if (names.includes(ctx.reasonOf(th.file, b.reason))) { n += b.handled; ns += Number(b.sum) * ctx.scale[th.file]!; }
    }
    return { n, ns };
  };
  // handling times need both kvm_exit and kvm_entry; without them time figures are null, not 0
  const timed = has(ctx, 'kvm_exit') && has(ctx, 'kvm_entry');
  const keyOf = (ti: number, key: string) => binsOf(ti).keys.find((b) => t.strings[b.reason & ~K.SUBKEY_FLAG] === key);

  // ---- halt polling ----
  let halt: HaltSection | Unavailable;
  if (!has(ctx, 'kvm_vcpu_wakeup')) halt = absent('kvm_vcpu_wakeup');
  else {
    const notes: string[] = [];
    const source = ['kvm_vcpu_wakeup', ...(has(ctx, 'kvm_halt_poll_ns') ? ['kvm_halt_poll_ns'] : [])];
    if (!has(ctx, 'kvm_halt_poll_ns')) {
      notes.push('no kvm_halt_poll_ns events: each vCPU\'s poll window is taken to have stayed at its starting value 0 (KVM sets it to 0 when a vCPU is created and changes it only with a traced grow or shrink), so no halt counts as a polling attempt');
    } else if (ctx.vcpuThreads.some((ti) => t.threads[ti]!.haltWakes > 0 && (t.threads[ti]!.hpFlags & K.HPF_KNOWN) === 0)) {
      notes.push('some vCPUs had no kvm_halt_poll_ns event: their window is taken to have stayed 0 (no polling attempts)');
    }
    notes.push('virt/kvm/kvm_main.c kvm_vcpu_halt(): a halt polls when the vCPU\'s window (halt_poll_ns) is non-zero at its start (halt_attempted_poll, rebuilt from the kvm_halt_poll_ns grow/shrink events) and succeeds when the vCPU never blocked (halt_successful_poll); kvm_vcpu_wakeup reports the whole halt time');
    notes.push('halt_poll_success_ns here sums the whole halt time of successful polls: KVM adds only the polling part, so a wake-up that came after the poll loop ended but before the vCPU blocked makes this slightly larger (0.003-0.3% on our captures)');
    notes.push('the halts that blocked give halt_wait_ns + halt_poll_fail_ns exactly; their split is bounded only: each failed poll polled at most its window (polling stops early on need_resched)');
    const vcpus: HaltVcpu[] = [];
    for (const ti of ctx.vcpuThreads) {
      const th = t.threads[ti]!;
      if (th.haltWakes === 0) continue;
      const k = ctx.scale[th.file]!;
      const known = (th.hpFlags & K.HPF_KNOWN) !== 0;
      const m = binsOf(ti).metrics;
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
      for (const b of binsOf(ti).reasons) {
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
        blocked: ctx.stats(known ? hist(m.get(K.M_HALT_BLOCKED), 1) : mergeHist(hist(m.get(K.M_HALT_BLOCKED), 1), hist(m.get(K.M_PRE_WAIT), 1))),
        window: {
          known, grows: th.hpGrows, shrinks: th.hpShrinks, flips: th.hpFlips,
          settled_ns: known ? Number(th.hpWindow) : null, max_ns: known ? Number(th.hpMax) : null,
          mean_ns: known && winSpan > 0 ? Math.round(area / winSpan) : null,
        },
        hlt_split: split, hints,
      });
    }
    halt = { available: true, source, notes, vcpus };
  }

  // ---- sub-keys: MSR, port, MMIO ----
  const keySection = (prefix: string, event: string): KeySection | Unavailable => {
    if (!has(ctx, event)) return absent(event);
    const agg = new Map<string, { events: number; h: Histogram }>();
    for (const [ti, e] of bins) {
      const th = t.threads[ti]!;
      for (const b of e.keys) {
        const s = t.strings[b.reason & ~K.SUBKEY_FLAG]!;
        if (!s.startsWith(prefix + ' ')) continue;
        let a = agg.get(s);
        if (!a) agg.set(s, (a = { events: 0, h: new Histogram() }));
        a.events += b.seen;
        a.h.addScaled(b.hist, ctx.scale[th.file]!, b.handled, Number(b.sum), b.sumsq, Number(b.min), Number(b.max));
      }
    }
    const keys: KeyRow[] = [...agg.entries()].map(([s, a]) => {
      const [, key, dir] = s.split(' ') as [string, string, 'r' | 'w'];
      const name = prefix === 'msr' ? MSR_NAMES[Number(key)] ?? null : null;
      return { key, dir, name, events: a.events, exits_handled: timed ? a.h.n : null, total_ns: timed ? a.h.sum : null, ...ctx.stats(a.h) };
    });
    keys.sort((a, b) => (b.total_ns ?? 0) - (a.total_ns ?? 0) || b.events - a.events || (a.key < b.key ? -1 : a.key > b.key ? 1 : a.dir < b.dir ? -1 : 1));
    return { available: true, source: [event, 'kvm_exit', 'kvm_entry'], keys };
  };
  const msr = keySection('msr', 'kvm_msr');
  const port = keySection('pio', 'kvm_pio');
  const mmio = keySection('mmio', 'kvm_mmio');

  // ---- timers ----
  let timers: TimerSection | Unavailable;
  const timerEvents = ['kvm_wait_lapic_expire', 'kvm_msr', 'kvm_exit', 'kvm_vcpu_wakeup'];
  if (!has(ctx, ...timerEvents)) timers = absent(...timerEvents);
  else {
    const notes: string[] = [];
    const lapicUnit: 'ns' | 'cycles' = ctx.tscNs ? 'ns' : 'cycles';
    if (has(ctx, 'kvm_wait_lapic_expire')) {
      notes.push('kvm_wait_lapic_expire delta is guest TSC cycles (arch/x86/kvm/lapic.c: guest_tsc - tsc_deadline); negative = early (KVM waits in the host), positive = late' +
        (ctx.tscNs ? `; converted to ns with --tsc-khz` : '; give --tsc-khz (the guest TSC rate) to convert to ns'));
    }
    if (!has(ctx, 'kvm_msr')) notes.push('no kvm_msr events: TSC-deadline writes cannot be told from other MSR exits');
    const vcpus: TimerVcpu[] = [];
    let exitless = 0;
    for (const ti of ctx.vcpuThreads) {
      const th = t.threads[ti]!;
      const m = binsOf(ti).metrics;
      const kc = ctx.tscNs ?? 1;
      const early = hist(m.get(K.M_LAPIC_EARLY), kc);
      const late = hist(m.get(K.M_LAPIC_LATE), kc);
      const dl = keyOf(ti, 'msr 0x6e0 w');
      const dlNs = dl ? Number(dl.sum) * ctx.scale[th.file]! : 0;
      const pt = reasonTotal(ti, ['PREEMPTION_TIMER']);
      const w2e = m.get(K.M_WAKE_TO_ENTRY);
      const s2e = m.get(K.M_SCHED_WAKE_TO_ENTRY);
      exitless += dlNs + pt.ns;
      vcpus.push({
        ...ctx.who(ti),
        lapic_expire: th.lapic > 0 ? { events: th.lapic, early: early.n, late: late.n, unit: lapicUnit, early_stats: ctx.stats(early), late_stats: ctx.stats(late) } : null,
        tsc_deadline_writes: has(ctx, 'kvm_msr') ? dl?.seen ?? 0 : null,
        tsc_deadline_exits_ns: has(ctx, 'kvm_msr') && timed ? dlNs : null,
        preemption_timer_exits: timed ? pt.n : null, preemption_timer_ns: timed ? pt.ns : null,
        wake_to_entry: w2e ? ctx.stats(hist(w2e, ctx.scale[th.file]!)) : null,
        sched_wake_to_entry: s2e ? ctx.stats(hist(s2e, ctx.scale[th.file]!)) : null,
      });
    }
    if (!timed) notes.push('no kvm_exit/kvm_entry: the host time of timer exits cannot be measured');
    timers = { available: true, source: timerEvents.filter((e) => has(ctx, e)), notes, vcpus, exitless_timer_ns: timed ? exitless : null, exitless_timer_share_of_overhead: timed ? ratio(exitless, ctx.overheadNs) : null };
  }

  // ---- IPIs ----
  let ipi: IpiSection | Unavailable;
  if (!has(ctx, 'kvm_msr', 'kvm_exit')) ipi = absent('kvm_msr', 'kvm_exit');
  else {
    const notes: string[] = [];
    if (!has(ctx, 'kvm_msr')) notes.push('no kvm_msr events: x2APIC ICR writes (MSR 0x830) cannot be told from other MSR exits');
    const vcpus: IpiVcpu[] = [];
    let exitless = 0;
    for (const ti of ctx.vcpuThreads) {
      const th = t.threads[ti]!;
      const icr = keyOf(ti, 'msr 0x830 w');
      const icrNs = icr ? Number(icr.sum) * ctx.scale[th.file]! : 0;
      const aw = reasonTotal(ti, ['APIC_WRITE']);
      exitless += icrNs + aw.ns;
      vcpus.push({
        ...ctx.who(ti), icr_writes: has(ctx, 'kvm_msr') ? icr?.seen ?? 0 : null, icr_exits_ns: has(ctx, 'kvm_msr') && timed ? icrNs : null,
        apic_write_exits: timed ? aw.n : null, apic_write_ns: timed ? aw.ns : null,
      });
    }
    if (!timed) notes.push('no kvm_exit/kvm_entry: the host time of IPI exits cannot be measured');
    notes.push('APIC_WRITE exits (xAPIC mode) include writes to other APIC registers than the ICR (EOI, TPR, timer): an upper bound of what an exitless IPI removes');
    ipi = { available: true, source: ['kvm_msr', 'kvm_exit', 'kvm_entry'].filter((e) => has(ctx, e)), notes, vcpus, exitless_ipi_ns: timed ? exitless : null, exitless_ipi_share_of_overhead: timed ? ratio(exitless, ctx.overheadNs) : null };
  }

  // ---- scheduling ----
  let sched: SchedSection | Unavailable;
  if (!has(ctx, 'sched_switch')) sched = absent('sched_switch');
  else {
    const notes: string[] = [];
    if (!has(ctx, 'sched_wakeup', 'sched_waking')) notes.push('no sched_wakeup/sched_waking events: run delay counts only preemptions (switched out while runnable), not wake-ups');
    const vcpus: SchedVcpu[] = [];
    for (const ti of ctx.vcpuThreads) {
      const th = t.threads[ti]!;
      const m = binsOf(ti).metrics;
      const pause = reasonTotal(ti, ['PAUSE_INSTRUCTION', 'pause']);
      vcpus.push({
        ...ctx.who(ti), switched_in: th.switchIn, slept: th.sleeps, preempted_in_guest: th.preemptGuest, preempted_in_host: th.preemptHost + th.prefPreempt,
        run_delay: ctx.stats(hist(m.get(K.M_RUN_DELAY), ctx.scale[th.file]!)), pause_exits: timed ? pause.n : null,
        ple_window: has(ctx, 'kvm_ple_window_update') ? { grows: th.pleGrows, shrinks: th.pleShrinks, last: th.pleLast } : null,
      });
    }
    sched = { available: true, source: ['sched_switch', 'sched_wakeup', 'sched_waking', 'kvm_ple_window_update'].filter((e) => has(ctx, e)), notes, vcpus };
  }

  return { halt, timers, ipi, msr, port, mmio, sched };
}

export type { ThreadRec };
