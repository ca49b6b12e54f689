/**
 * Exit reasons: each file's instruction set (which decides how numeric reasons read), canonical reason
 * names, the bins added up per reason and per thread x reason, the halted part of idle exits, the
 * report's reason rows and the slowest exits.
 */
import * as K from '../../../assembly/constants.js';
import type { BinRec, CoreTables } from '../../wasm/core.js';
import { Histogram } from '../../core/histogram.js';
import { canonicalReason, isaOfName, isIdleReason, ISA_ARM64, ISA_RISCV, ISA_SVM, ISA_UNKNOWN, ISA_VMX } from '../../core/reasons.js';
import { cmp, ratio } from '../numbers.js';
import type { InputInfo, ReasonRow, Stats, TopRow } from '../types.js';

export interface ReasonBins {
  /** the bins of exit reasons (not metrics, not sub-keys) */
  reasonBins: BinRec[];
  /** ISA_* of a file (--isa, or what its reason names say) */
  isaOf(file: number): number;
  /** canonical reason of a reason id in a file */
  reasonOf(file: number, id: number): string;
  byReason: Map<string, { h: Histogram; seen: number; failed: number }>;
  /**
   * per thread and reason: its bins and totals; the histogram is built when needed (threads.ts), one
   * thread at a time (thousands of (thread, reason) histograms held at once cost tens of MB)
   */
  byThread: Map<number, Map<string, ThreadReason>>;
  /** halted (idle) ns per thread */
  haltedOfThread: Map<number, number>;
  notes: string[];
}

export interface ThreadReason { seen: number; n: number; sum: number; bins: BinRec[]; k: number }

/** The histogram of one thread's exits of one reason (its bins, scaled to ns). */
export function threadReasonHist(r: ThreadReason): Histogram {
  const h = new Histogram();
  for (const b of r.bins) h.addBin(b, r.k);
  return h;
}

export function reasonBins(t: CoreTables, inputs: InputInfo[], scale: number[], isa: number | undefined): ReasonBins {
  const notes: string[] = [];
  const reasonBins = t.bins.filter((b) => b.reason >= 0 && (b.reason & K.SUBKEY_FLAG) === 0);
  const fileIsa = inputs.map(() => [0, 0, 0, 0, 0]);
  // by reason string: a few dozen names over thousands of bins (isaOfName is regular expressions)
  const isaOfId = new Map<number, number>();
  for (const b of reasonBins) {
    const th = t.threads[b.thread]!;
    let i = isaOfId.get(b.reason);
    if (i === undefined) isaOfId.set(b.reason, (i = isaOfName(t.strings[b.reason]!)));
    fileIsa[th.file]![i]! += b.seen;
  }
  const isaOf = (file: number): number => {
    if (isa) return isa;
    const c = fileIsa[file]!;
    return c[ISA_VMX]! > c[ISA_SVM]! ? ISA_VMX : c[ISA_SVM]! > 0 ? ISA_SVM
      : c[ISA_ARM64]! > 0 ? ISA_ARM64 : c[ISA_RISCV]! > 0 ? ISA_RISCV : ISA_UNKNOWN;
  };
  const canon = new Map<string, string>();
  const reasonOf = (file: number, id: number): string => {
    const key = `${isaOf(file)}:${id}`;
    let r = canon.get(key);
    if (r === undefined) {
      r = canonicalReason(t.strings[id]!, isaOf(file));
      canon.set(key, r);
    }
    return r;
  };

  const byReason = new Map<string, { h: Histogram; seen: number; failed: number }>();
  const byThread = new Map<number, Map<string, ThreadReason>>();
  // halted time: the halts (kvm_vcpu_wakeup: polling and blocked) inside HLT exits, when the trace has
  // them; otherwise all of the HLT exits' handling time
  const haveWakeups = t.threads.some((th) => th.haltWakes > 0);
  const haltedOfThread = new Map<number, number>();
  for (const b of reasonBins) {
    const th = t.threads[b.thread]!;
    const reason = reasonOf(th.file, b.reason);
    const k = scale[th.file]!;
    let r = byReason.get(reason);
    if (!r) byReason.set(reason, (r = { h: new Histogram(), seen: 0, failed: 0 }));
    r.seen += b.seen;
    r.failed += b.failed;
    r.h.addBin(b, k);
    let tm = byThread.get(b.thread);
    if (!tm) byThread.set(b.thread, (tm = new Map()));
    let tr = tm.get(reason);
    if (!tr) tm.set(reason, (tr = { seen: 0, n: 0, sum: 0, bins: [], k }));
    tr.seen += b.seen;
    tr.n += b.handled;
    tr.sum += Number(b.sum) * k;
    tr.bins.push(b);
    if (isIdleReason(reason)) {
      const idle = haveWakeups ? Math.min(Number(b.sum) * k, Number(b.wakePollNs) + Number(b.wakeWaitNs)) : Number(b.sum) * k;
      haltedOfThread.set(b.thread, (haltedOfThread.get(b.thread) ?? 0) + idle);
    }
  }
  if (!haveWakeups && [...byReason.keys()].some(isIdleReason)) {
    notes.push('no kvm_vcpu_wakeup events: all of the HLT exits\' handling time is counted as halted (idle); with them, only the halts themselves are');
  }
  return { reasonBins, isaOf, reasonOf, byReason, byThread, haltedOfThread, notes };
}

export interface ReasonTotals { hostAll: number; seenAll: number; handledAll: number }

export function reasonTotals(byReason: ReasonBins['byReason']): ReasonTotals {
  let hostAll = 0;
  for (const r of byReason.values()) hostAll += r.h.sum;
  let seenAll = 0;
  let handledAll = 0;
  for (const r of byReason.values()) { seenAll += r.seen; handledAll += r.h.n; }
  return { hostAll, seenAll, handledAll };
}

/** One row per reason, the costliest first. */
export function reasonRows(
  byReason: ReasonBins['byReason'], totals: ReasonTotals, spanNs: number, perSecond: (n: number, ns: number) => number | null,
  stats: (h: Histogram) => Stats, histograms: boolean | undefined,
): ReasonRow[] {
  const { hostAll, handledAll } = totals;
  const reasons: ReasonRow[] = [...byReason.entries()].map(([reason, r]) => {
    const row: ReasonRow = {
      reason, idle: isIdleReason(reason), exits_seen: r.seen, exits_handled: r.h.n, exits_per_s: perSecond(r.seen, spanNs),
      share_exits: ratio(r.h.n, handledAll) ?? 0, total_ns: r.h.sum, share_host: ratio(r.h.sum, hostAll) ?? 0, ...stats(r.h),
    };
    if (r.failed) row.failed_vmentry = r.failed;
    if (histograms) row.histogram = r.h.buckets();
    return row;
  });
  reasons.sort((a, b) => b.total_ns - a.total_ns || b.exits_handled - a.exits_handled || cmp(a.reason, b.reason));
  return reasons;
}

/** "sec.nsec" of a ns timestamp (or the raw count). */
export function fmtTs(ns: number, raw: boolean): string {
  if (raw) return String(ns);
  const s = Math.floor(ns / 1e9);
  return `${s}.${String(ns - s * 1e9).padStart(9, '0')}`;
}

/** The slowest exits, the slowest first. */
export function slowest(t: CoreTables, inputs: InputInfo[], scale: number[], reasonOf: ReasonBins['reasonOf'], n: number): TopRow[] {
  const top: TopRow[] = t.top
    .map((r) => {
      const th = t.threads[r.thread]!;
      const k = scale[th.file]!;
      const f = inputs[th.file]!;
      const ts = Number(r.ts);
      return {
        ts_ns: ts, at: fmtTs(ts, f.clock === 'raw'), file: f.file, where: f.lines !== undefined ? `${f.file}:${r.where}` : `${f.file}#${r.where}`,
        vm: th.tgid >= 0 ? th.tgid : null, vcpu: th.vcpu >= 0 ? th.vcpu : null, tid: th.tid,
        reason: reasonOf(th.file, r.reason), duration_ns: Number(r.duration) * k,
      };
    })
    .sort((a, b) => b.duration_ns - a.duration_ns || a.ts_ns - b.ts_ns || a.tid - b.tid)
    .slice(0, n);
  return top;
}
