/**
 * From the core's raw tables to the report: canonical reason names, per-reason and per-vCPU figures,
 * the exit tax split into halted (idle) time and handling overhead, the slowest exits and data quality.
 * Format-independent: it knows nothing of the readers, only of the core's tables and each input's facts.
 *
 * Definitions (../shared/DOMAIN.md):
 *   host time  = sum over handled exits of (kvm_entry - kvm_exit)        (per thread, the next entry)
 *   guest time = sum over exits of (kvm_exit - the thread's previous kvm_entry)
 *   wall       = the thread's last - first kvm_exit/kvm_entry timestamp
 *   halted     = host time of HLT-class exits (polling, then blocked: idle, not overhead)
 *   overhead   = host time - halted;  exit tax = overhead / wall
 */
import * as K from '../../assembly/constants.js';
import type { CoreTables, ThreadRec } from '../wasm/core.js';
import { Histogram } from '../core/histogram.js';
import { canonicalReason, isaOfName, isIdleReason, ISA_SVM, ISA_UNKNOWN, ISA_VMX } from '../core/reasons.js';
import { buildExtras } from './extras.js';
import { buildUserspace } from './userspace.js';
import { SCHEMA_VERSION, type InputInfo, type SummaryOptions, type Stats, type ReasonRow, type VcpuRow, type VmRow, type TopRow, type SkipRow, type Quality, type Timeline, type Report, type Who } from './types.js';

export { SCHEMA_VERSION } from './types.js';
// the report's types, for modules that still import them from here (new code imports ./types.js)
export type * from './types.js';

const SKIP_KINDS: Record<number, string> = {
  [K.SKIP_UNRECOGNIZED]: 'unrecognized', [K.SKIP_BAD_TIMESTAMP]: 'bad-timestamp', [K.SKIP_EXIT_NO_REASON]: 'exit-without-reason',
  [K.SKIP_ENTRY_BAD]: 'bad-entry', [K.SKIP_TRUNCATED]: 'truncated', [K.SKIP_BAD_PAYLOAD]: 'bad-fields',
  [K.SKIP_MIXED_CLOCK]: 'mixed-clock', [K.SKIP_KVM_UNREADABLE]: 'kvm-line-not-understood',
};

export function stats(h: Histogram): Stats {
  if (h.n === 0) {
    return { min_ns: null, mean_ns: null, p50_ns: null, p90_ns: null, p99_ns: null, p999_ns: null, max_ns: null, stddev_ns: null, rsd_mean_pct: null };
  }
  const mean = h.mean();
  const sd = h.stddev();
  return {
    min_ns: h.min, mean_ns: round(mean), p50_ns: round(h.quantile(0.5)), p90_ns: round(h.quantile(0.9)),
    p99_ns: round(h.quantile(0.99)), p999_ns: round(h.quantile(0.999)), max_ns: h.max, stddev_ns: round(sd),
    rsd_mean_pct: mean > 0 ? round2((100 * sd) / Math.sqrt(h.n) / mean) : 0,
  };
}

const round = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;
const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 1e6) / 1e6 : null);

/** "sec.nsec" of a ns timestamp (or the raw count). */
export function fmtTs(ns: number, raw: boolean): string {
  if (raw) return String(ns);
  const s = Math.floor(ns / 1e9);
  return `${s}.${String(ns - s * 1e9).padStart(9, '0')}`;
}

export function summarize(t: CoreTables, inputs: InputInfo[], opt: SummaryOptions): Report {
  const notes: string[] = [];
  // ---- units: ns, or raw counter ticks converted with --tsc-khz ----
  const rawFiles = inputs.map((f) => f.clock === 'raw');
  const anyRaw = rawFiles.some(Boolean);
  let unit: 'ns' | 'cycles' = 'ns';
  const scale = inputs.map((f) => (f.clock === 'raw' ? (opt.tscKhz ? 1e6 / opt.tscKhz : 1) : 1));
  if (anyRaw && !opt.tscKhz) {
    if (rawFiles.every(Boolean)) {
      unit = 'cycles';
      notes.push('timestamps are raw counter ticks (trace_clock=x86-tsc); times are in cycles: give --tsc-khz to convert to ns');
    } else {
      notes.push('some inputs have raw counter timestamps and no --tsc-khz was given: their times are counted as if they were ns');
    }
  } else if (anyRaw) {
    notes.push(`raw counter timestamps converted with --tsc-khz ${opt.tscKhz}`);
  }

  // ---- the instruction set of each file decides how numeric reasons read ----
  const reasonBins = t.bins.filter((b) => b.reason >= 0 && (b.reason & K.SUBKEY_FLAG) === 0);
  const fileIsa = inputs.map(() => [0, 0, 0]);
  for (const b of reasonBins) {
    const th = t.threads[b.thread]!;
    fileIsa[th.file]![isaOfName(t.strings[b.reason]!)]! += b.seen;
  }
  const isaOf = (file: number): number => {
    if (opt.isa) return opt.isa;
    const c = fileIsa[file]!;
    return c[ISA_VMX]! > c[ISA_SVM]! ? ISA_VMX : c[ISA_SVM]! > 0 ? ISA_SVM : ISA_UNKNOWN;
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

  // ---- per reason (all threads) and per thread x reason ----
  const byReason = new Map<string, { h: Histogram; seen: number; failed: number }>();
  const byThread = new Map<number, Map<string, { h: Histogram; seen: number }>>();
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
    r.h.addScaled(b.hist, k, b.handled, Number(b.sum), b.sumsq, Number(b.min), Number(b.max));
    let tm = byThread.get(b.thread);
    if (!tm) byThread.set(b.thread, (tm = new Map()));
    let tr = tm.get(reason);
    if (!tr) tm.set(reason, (tr = { h: new Histogram(), seen: 0 }));
    tr.seen += b.seen;
    tr.h.addScaled(b.hist, k, b.handled, Number(b.sum), b.sumsq, Number(b.min), Number(b.max));
    if (isIdleReason(reason)) {
      const idle = haveWakeups ? Math.min(Number(b.sum) * k, Number(b.wakePollNs) + Number(b.wakeWaitNs)) : Number(b.sum) * k;
      haltedOfThread.set(b.thread, (haltedOfThread.get(b.thread) ?? 0) + idle);
    }
  }
  if (!haveWakeups && [...byReason.keys()].some(isIdleReason)) {
    notes.push('no kvm_vcpu_wakeup events: all of the HLT exits\' handling time is counted as halted (idle); with them, only the halts themselves are');
  }

  // ---- the time spans: a file's span is its longest vCPU wall time (the kvm events' own time, not
  // stretched by lines of another clock mixed in); without vCPU threads, its first to last event ----
  let spanNs = 0;
  let firstTs: number | null = null;
  let lastTs: number | null = null;
  const vcpuWall = inputs.map(() => 0);
  for (const th of t.threads) if (th.exits + th.entries > 0) vcpuWall[th.file] = Math.max(vcpuWall[th.file]!, Number(th.wall));
  inputs.forEach((f, i) => {
    if (f.first_ts !== null && f.last_ts !== null && f.last_ts >= f.first_ts) {
      spanNs += (vcpuWall[i]! > 0 ? vcpuWall[i]! : f.last_ts - f.first_ts) * scale[i]!;
      firstTs = firstTs === null ? f.first_ts : Math.min(firstTs, f.first_ts);
      lastTs = lastTs === null ? f.last_ts : Math.max(lastTs, f.last_ts);
    }
  });
  const jumps = t.threads.reduce((n, th) => n + th.jumps, 0);
  if (jumps > 0) notes.push(`timestamps jumped back ${jumps} time(s) on vCPU threads (two captures concatenated?): pairing started over at each jump, and wall times leave the jumps out`);
  const perSecond = (n: number, ns: number) => (unit === 'ns' && ns > 0 ? Math.round((n / (ns / 1e9)) * 10) / 10 : null);

  let hostAll = 0;
  for (const r of byReason.values()) hostAll += r.h.sum;
  let seenAll = 0;
  let handledAll = 0;
  for (const r of byReason.values()) { seenAll += r.seen; handledAll += r.h.n; }

  const reasons: ReasonRow[] = [...byReason.entries()].map(([reason, r]) => {
    const row: ReasonRow = {
      reason, idle: isIdleReason(reason), exits_seen: r.seen, exits_handled: r.h.n, exits_per_s: perSecond(r.seen, spanNs),
      share_exits: ratio(r.h.n, handledAll) ?? 0, total_ns: r.h.sum, share_host: ratio(r.h.sum, hostAll) ?? 0, ...stats(r.h),
    };
    if (r.failed) row.failed_vmentry = r.failed;
    if (opt.histograms) row.histogram = r.h.buckets();
    return row;
  });
  reasons.sort((a, b) => b.total_ns - a.total_ns || b.exits_handled - a.exits_handled || cmp(a.reason, b.reason));

  // ---- per VM and vCPU ----
  const vmMap = new Map<string, VmRow>();
  const str = (id: number) => (id >= 0 ? t.strings[id]! : null);
  const tgidComm = new Map<string, string>();
  for (const th of t.threads) if (th.tid === th.tgid && th.comm >= 0) tgidComm.set(`${th.file}:${th.tgid}`, t.strings[th.comm]!);
  let guestAll = 0, haltedAll = 0, wallAll = 0;
  const vcpuRowOf = new Map<number, VcpuRow>();
  for (let i = 0; i < t.threads.length; i++) {
    const th = t.threads[i]!;
    if (th.exits === 0 && th.entries === 0 && th.kvmEvents === 0) continue;
    const k = scale[th.file]!;
    const tm = byThread.get(i) ?? new Map<string, { h: Histogram; seen: number }>();
    const halted = haltedOfThread.get(i) ?? 0;
    const rs: VcpuRow['top_reasons'] = [];
    for (const [reason, r] of tm) rs.push({ reason, exits_handled: r.h.n, total_ns: r.h.sum });
    rs.sort((a, b) => b.total_ns - a.total_ns || cmp(a.reason, b.reason));
    const host = Number(th.host) * k;
    const guest = Number(th.guest) * k;
    // the sum of forward steps between its exits and entries (a second capture's jump back is not time)
    const wall = th.exits + th.entries > 0 ? Number(th.wall) * k : 0;
    const overhead = host - halted;
    const row: VcpuRow = {
      vcpu: th.vcpu >= 0 ? th.vcpu : null, tid: th.tid, comm: str(th.comm), exits_seen: th.exits, exits_handled: th.handled,
      exits_per_s: perSecond(th.exits, wall), wall_ns: wall, guest_ns: guest, host_ns: host, halted_ns: halted,
      overhead_ns: overhead, tax: ratio(overhead, wall), guest_share: ratio(guest, wall), halted_share: ratio(halted, wall),
      top_reasons: rs.slice(0, 3), kvm_events: th.kvmEvents,
      cpus: [...Array(64).keys()].filter((c) => (th.cpuMask >> BigInt(c)) & 1n), migrations: th.migrations,
    };
    row.reasons = [...tm.entries()]
      .map(([reason, r]) => ({ reason, exits_seen: r.seen, exits_handled: r.h.n, total_ns: r.h.sum, ...stats(r.h) }))
      .sort((a, b) => b.total_ns - a.total_ns || cmp(a.reason, b.reason));
    const file = inputs[th.file]!.file;
    const vmKey = `${th.file}:${th.tgid}`;
    let vm = vmMap.get(vmKey);
    if (!vm) {
      const name = th.tgid >= 0 ? `${tgidComm.get(vmKey) ?? row.comm ?? '?'} (pid ${th.tgid})` : 'unknown VM (the trace does not say which process each thread belongs to)';
      vm = { file, fileIndex: th.file, pid: th.tgid >= 0 ? th.tgid : null, name, vcpus: [], exits_handled: 0, host_ns: 0, overhead_ns: 0, wall_ns: 0, tax: null };
      vmMap.set(vmKey, vm);
    }
    vm.vcpus.push(row);
    vcpuRowOf.set(i, row);
    vm.exits_handled += th.handled;
    vm.host_ns += host;
    vm.overhead_ns += overhead;
    vm.wall_ns += wall;
    guestAll += guest;
    haltedAll += halted;
    wallAll += wall;
  }
  const vms = [...vmMap.values()];
  for (const vm of vms) {
    vm.tax = ratio(vm.overhead_ns, vm.wall_ns);
    vm.vcpus.sort((a, b) => (a.vcpu ?? 1e9) - (b.vcpu ?? 1e9) || a.tid - b.tid);
  }
  vms.sort((a, b) => a.fileIndex - b.fileIndex || (a.pid ?? -1) - (b.pid ?? -1));

  // ---- the slowest exits ----
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
    .slice(0, opt.top);

  // ---- data quality ----
  const byName: Record<string, number> = {};
  t.nameCounts.forEach((n, i) => { if (n > 0) byName[t.strings[i]!] = n; });
  const sorted: Record<string, number> = {};
  for (const k of Object.keys(byName).sort((a, b) => byName[b]! - byName[a]! || cmp(a, b))) sorted[k] = byName[k]!;
  const un = { exits_pending_at_end: 0, exits_without_entry: 0, entries_without_exit: 0, leading_entries: 0, lost_resets: 0, backwards: 0, jump_resets: 0 };
  for (const th of t.threads as ThreadRec[]) {
    un.exits_pending_at_end += th.pendingAtEnd;
    un.exits_without_entry += th.exitNoEntry;
    un.entries_without_exit += th.entryNoExit;
    un.leading_entries += th.leadingEntry;
    un.lost_resets += th.lostResets;
    un.backwards += th.backwards;
    un.jump_resets += th.jumpDrops;
  }
  const lines = inputs.every((f) => f.lines !== undefined) ? inputs.reduce((s, f) => s + (f.lines ?? 0), 0) : null;
  const skipped: SkipRow[] = t.skips.map((s) => {
    const f = inputs[s.file];
    const where = f ? (f.lines !== undefined ? `${f.file}:${s.line}:${s.col}` : `${f.file}: byte ${s.line}`) : '?';
    return { kind: SKIP_KINDS[s.kind] ?? String(s.kind), what: skipWhat(s.kind), count: s.count, first: where, excerpt: s.excerpt };
  });
  const exitEntry = seenAll > 0 || t.threads.some((th) => th.entries > 0);
  const unreadKvm = t.skips.filter((s) => s.kind === K.SKIP_KVM_UNREADABLE || s.kind === K.SKIP_EXIT_NO_REASON || s.kind === K.SKIP_ENTRY_BAD);
  if (!exitEntry && unreadKvm.length > 0) {
    const n = unreadKvm.reduce((a, s) => a + s.count, 0);
    const first = skipped.find((s) => s.kind === (SKIP_KINDS[unreadKvm[0]!.kind] ?? ''))?.first ?? '?';
    notes.push(`WARNING: the trace has ${n} kvm_exit/kvm_entry line${n === 1 ? '' : 's'} that could not be read (first at ${first}), and no exit was read: ` +
      'the exits are there but this report cannot count or time them (see the skipped lines below)');
  } else if (!exitEntry) {
    notes.push('the trace has no kvm_exit/kvm_entry events: exit reasons, handling times and the exit tax cannot be measured from it' +
      (Object.keys(sorted).some((n) => n.startsWith('kvm_')) ? ' (its other kvm events are counted below)' : ''));
  }
  if (byReason.has('(reason not recorded)')) {
    notes.push('some exits were recorded without their reason (Perfetto\'s typed kvm_exit carries only arm64 fields): per-vCPU exit counts, handling and guest times are exact, but the split by reason is not, and their halt time counts as overhead (the exit tax is an upper bound); record kvm:kvm_exit as a generic event to keep the reasons');
  }
  const entries = t.threads.reduce((n, th) => n + th.entries, 0);
  if (seenAll > 0 && entries === 0) {
    notes.push('the trace has kvm_exit events but no kvm_entry: exits are counted, but handling times (and the exit tax) need kvm_entry too');
  }
  if (t.dictOverflowed) notes.push(`${t.dictOverflowed} events carried names beyond the ${1 << 16}-name dictionary limit and were counted as "(too many names)"`);
  const isaAll = inputs.map((_, i) => isaOf(i));
  const isa = isaAll.every((x) => x === ISA_VMX) ? 'vmx' : isaAll.every((x) => x === ISA_SVM) ? 'svm' : 'unknown';

  const lostMarkers = inputs.reduce((s, f) => s + f.lost_markers, 0);
  const lostEvents = inputs.reduce((s, f) => s + f.lost_events, 0);
  if (lostMarkers > 0) notes.push(`events were lost (${lostMarkers} markers${lostEvents ? `, ${lostEvents} events` : ''}): exits and entries across each gap are not paired`);

  // vCPU threads in report order, and who each is
  const order: number[] = [];
  for (const vm of vms) for (const c of vm.vcpus) for (const [ti, row] of vcpuRowOf) if (row === c) order.push(ti);
  const who = (ti: number): Who => {
    const th = t.threads[ti]!;
    return { pid: th.tgid >= 0 ? th.tgid : null, vcpu: th.vcpu >= 0 ? th.vcpu : null, tid: th.tid, comm: str(th.comm) };
  };
  const extras = buildExtras({
    tables: t, vcpuThreads: order, who, scale, reasonOf, tscNs: opt.tscKhz ? 1e6 / opt.tscKhz : undefined,
    events: sorted, overheadNs: hostAll - haltedAll, stats, fileLastTs: inputs.map((f) => f.last_ts),
  });

  // ---- timeline: each file's buckets, regrouped to the widest bucket of all files ----
  let bucketNs = 0;
  for (const ti of order) {
    const th = t.threads[ti]!;
    if (th.timeline) bucketNs = Math.max(bucketNs, Number(th.tlWidth) * scale[th.file]!);
  }
  const timeline: Timeline = { bucket_ns: bucketNs, vcpus: [] };
  for (const ti of order) {
    const th = t.threads[ti]!;
    if (!th.timeline || bucketNs === 0) continue;
    const k = scale[th.file]!;
    const origin = Number(th.tlOrigin);
    const width = Number(th.tlWidth);
    const per = new Map<number, number>();
    th.timeline.forEach((n, i) => {
      if (!n) return;
      const t0 = (origin + i * width) * k;
      const b = Math.floor((t0 - origin * k) / bucketNs);
      per.set(b, (per.get(b) ?? 0) + n);
    });
    const w = who(ti);
    timeline.vcpus.push({
      file_index: th.file, pid: w.pid, vcpu: w.vcpu, tid: w.tid,
      buckets: [...per.entries()].sort((a, b) => a[0] - b[0]).map(([b, n]) => [Math.round(origin * k + b * bucketNs), n]),
    });
  }

  return {
    kvmtax: { version: opt.version, schema: SCHEMA_VERSION },
    timeline,
    unit,
    inputs,
    isa,
    totals: {
      exits_seen: seenAll, exits_handled: handledAll, exits_per_s: perSecond(seenAll, spanNs), wall_ns: wallAll,
      guest_ns: guestAll, host_ns: hostAll, halted_ns: haltedAll, overhead_ns: hostAll - haltedAll,
      tax: ratio(hostAll - haltedAll, wallAll), halted_share: ratio(haltedAll, wallAll), guest_share: ratio(guestAll, wallAll),
    },
    reasons,
    vms,
    top,
    ...(opt.userspace ? { userspace: buildUserspace({ tables: t, scale, reasonOf, reasonBins }) } : {}),
    quality: {
      events_read: inputs.reduce((s, f) => s + f.events, 0), lines_read: lines, events_by_name: sorted,
      exit_entry_present: exitEntry, first_ts: firstTs, last_ts: lastTs, span_ns: spanNs, unpaired: un,
      lost: { markers: lostMarkers, events: lostEvents }, skipped, dictionary_overflow: t.dictOverflowed,
    },
    notes,
    ...extras,
  };
}

function skipWhat(kind: number): string {
  switch (kind) {
    case K.SKIP_UNRECOGNIZED: return 'not a trace event line';
    case K.SKIP_BAD_TIMESTAMP: return 'no timestamp after the CPU field';
    case K.SKIP_EXIT_NO_REASON: return 'kvm_exit without "reason <name>"';
    case K.SKIP_ENTRY_BAD: return 'kvm_entry without "vcpu <n>"';
    case K.SKIP_TRUNCATED: return 'the input ends inside this line';
    case K.SKIP_BAD_PAYLOAD: return 'an event whose fields did not parse';
    case K.SKIP_MIXED_CLOCK: return 'a timestamp of another clock than the rest of the file';
    case K.SKIP_KVM_UNREADABLE: return 'kvm_exit line not understood';
    default: return 'skipped';
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
