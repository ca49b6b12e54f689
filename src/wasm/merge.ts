/**
 * Merging the core's tables from several parts: slices of one file read by worker threads (in file
 * order), and whole files read elsewhere. The result is what one core reading everything in order
 * would have produced:
 *
 *   - dictionaries are re-keyed by string; threads by (file, tid); bins by (thread, reason);
 *   - at a slice boundary, a thread's state at the end of one slice meets its first kvm_exit/kvm_entry
 *     in the next: an exit pending at the end is paired with the next slice's leading entry (its handling
 *     time is binned here), guest time runs from the last entry to the next slice's first exit, and the
 *     halts and MSR/port keys a slice saw before its first exit/entry belong to that pending exit;
 *   - halts a later slice saw before a thread's first kvm_halt_poll_ns (kept one by one) are counted with the
 *     window the slices before it ended with, the first with its start window when the cut split a halt whose
 *     window changed (as kvm_main.c counts them: a halt polls when the window it started with is non-zero);
 *     when those slices did not know the window either, all wait for the first change, as in one core;
 *   - the timeline of every slice starts at the file's first event, so its buckets merge exactly.
 *
 *   - a later slice leaves the run delay of each thread's first switch-in to the merge: it runs from the
 *     time the thread became runnable, which may be in an earlier slice; likewise an exit pending at the cut
 *     gets its preempted and userspace parts from what the next slice saw before its first exit/entry;
 *   - a poll-window direction change (grow then shrink) across a boundary is a flip, as in one core.
 */
import * as K from '../../assembly/constants.js';
import { BIN_CORE, BIN_HIST, type BinRec, type Core, type CoreTables, type FileCounters, type SkipRec, type ThreadRec, type TopRec } from './core.js';
import { bucketOf, bucketValue } from '../core/histogram.js';

export interface Part {
  tables: CoreTables;
  /** lines before this part in its file (slices), added to line numbers */
  lineOffset: number;
  /**
   * a thread's name in this part replaces the one before it (a trace.dat slice: its decoder names a thread only
   * when its name changes, as one job does); otherwise the first name is kept (a text slice names every
   * thread it meets)
   */
  renames?: boolean;
  /**
   * A trace.dat slice says what it met first of each thread (tid -> the CPU and record of its first event of those
   * the analysis places on a CPU, and the record of its first exit/entry, -1 none) and where events were lost
   * (CPU, record), so that what one core carries across the cut is carried: a move from the CPU the thread ended
   * on is a migration, and a lost-events marker on that CPU before the thread's first event ends its pairing.
   */
  file?: number;
  firsts?: Map<number, { cpu: number; at: number; x: number }>;
  lost?: Array<{ cpu: number; at: number }>;
}

const MIN = -(2n ** 63n);

/** The slices of file `file` cannot be merged into exactly what one core reading it would have made. */
export class MergeInexact extends Error {
  constructor(readonly file: number, readonly why: string) { super(why); }
}

/** Sum these thread fields. */
const SUMS: Array<keyof ThreadRec> = [
  'guest', 'host', 'exits', 'handled', 'entries', 'entryNoExit', 'exitNoEntry', 'lostResets', 'backwards', 'wakePoll',
  'wakeWait', 'wakePollNs', 'wakeWaitNs', 'wakeInvalid', 'events', 'kvmEvents', 'hpAttempted', 'hpSuccess', 'hpInvalid',
  'hpSuccessNs', 'hpFailNs', 'hpWaitNs', 'hpGrows', 'hpShrinks', 'hpFlips', 'preemptGuest', 'preemptHost', 'sleeps',
  'pleGrows', 'pleShrinks', 'lapic', 'switchIn', 'haltWakes', 'wall', 'jumps', 'jumpDrops', 'migrations',
];

/**
 * A merged bin. Its histogram is one of the main core's: the main slice's own bin's when the bin was
 * there, else a new one; the workers' histograms, transferred as [bucket, count] pairs, are added to it
 * inside the core (a dense copy per merged bin was 10.5 KB: 100 MB at 9,580 bins). The core and the index
 * are kept under symbols, as a CoreBin's (wasm/core.ts): copies by descriptors (analysis/filter.ts) keep them.
 */
class MergedBin implements BinRec {
  seen = 0; handled = 0; sum = 0n; min = 2n ** 63n - 1n; max = MIN; sumsq = 0n; failed = 0;
  wakes = 0; wakePolls = 0; wakePollNs = 0n; wakeWaitNs = 0n; userN = 0; userNs = 0n; preemptN = 0; preemptNs = 0n;
  private [BIN_CORE]: Core;
  private [BIN_HIST]: number;
  constructor(public thread: number, public reason: number, core: Core, h: number) {
    this[BIN_CORE] = core; this[BIN_HIST] = h;
  }
  get core(): Core { return this[BIN_CORE]; }
  get h(): number { return this[BIN_HIST]; }
  get hist(): Uint32Array { return this.core.histDenseOf(this.h); }
  set hist(_v: Uint32Array) { throw new Error('a merged bin\'s histogram is written through its core'); }
  add(bucket: number, n: number): void { this.core.histAdd(this.h, bucket, n); }
  /** every count of o added to this one */
  addAll(o: MergedBin): void { this.core.histAddAll(this.h, o.h); }
  clear(): void { this.core.histClear(this.h); }
  eachHistPage(fn: (page: number, mem: Uint32Array, at: number, len: number) => void): void { this.core.eachHistPage(this.h, fn); }
  /** the core and number of its histogram (core/histogram.ts sums and ranks it there) */
  coreHist(): { core: Core; h: number } { return { core: this.core, h: this.h }; }
}

/** A source bin's non-zero buckets: a worker's pairs, a core's pages, or a dense array. */
const PAGE = 64;
function eachBucket(b: BinRec, fn: (bucket: number, count: number) => void): void {
  const pairs = (b as { histPairs?: Uint32Array }).histPairs;
  if (pairs) { for (let k = 0; k < pairs.length; k += 2) fn(pairs[k]!, pairs[k + 1]!); return; }
  const pages = (b as { eachHistPage?: (f: (pg: number, mem: Uint32Array, at: number, len: number) => void) => void }).eachHistPage;
  if (pages) { pages.call(b, (pg, mem, at, len) => { for (let j = 0; j < len; j++) if (mem[at + j]) fn(pg * PAGE + j, mem[at + j]!); }); return; }
  const h = b.hist;
  for (let i = 0; i < h.length; i++) if (h[i]) fn(i, h[i]!);
}

/** parts[0] holds `core`'s own tables (the main thread's slice and files): the merged histograms live in it. */
export function mergeTables(parts: Part[], topN: number, core: Core): CoreTables {
  const strings: string[] = [];
  const sid = new Map<string, number>();
  const nameCounts: number[] = [];
  const intern = (s: string) => {
    let i = sid.get(s);
    if (i === undefined) { i = strings.length; strings.push(s); nameCounts.push(0); sid.set(s, i); }
    return i;
  };
  const threads: ThreadRec[] = [];
  const tIndex = new Map<string, number>();
  const bins: MergedBin[] = [];
  // bins by (thread, reason) as one number (a string key per lookup was a third of the merge): reasons are i32
  // (metrics negative, sub-keys with SUBKEY_FLAG), threads far below 2^21, so the key is exact below 2^53
  const bIndex = new Map<number, number>();
  const bKey = (thread: number, reason: number): number => thread * 4294967296 + (reason + 2147483648);
  const top: TopRec[] = [];
  const skips = new Map<number, SkipRec>();
  let dictOverflowed = 0;

  /** the merged bin of (thread, reason); a new one takes histogram h of the core (or a new one) */
  const binOf = (thread: number, reason: number, h?: number): MergedBin => {
    const k = bKey(thread, reason);
    let i = bIndex.get(k);
    if (i === undefined) {
      i = bins.length;
      bins.push(new MergedBin(thread, reason, core, h ?? core.histNew()));
      bIndex.set(k, i);
    }
    return bins[i]!;
  };
  const accumulate = (b: MergedBin, d: bigint) => {
    b.handled++;
    b.sum += d;
    if (d < b.min) b.min = d;
    if (d > b.max) b.max = d;
    b.sumsq += d * d;
    b.add(bucketOf(Number(d)), 1);
  };

  for (const part of parts) {
    const t = part.tables;
    const later = t.laterSlice === true;
    dictOverflowed += t.dictOverflowed;
    const map = t.strings.map((s) => intern(s));
    t.nameCounts.forEach((n, i) => { nameCounts[map[i]!]! += n; });
    const remap = (id: number) => (id < 0 ? id : id & K.SUBKEY_FLAG ? map[id & ~K.SUBKEY_FLAG]! | K.SUBKEY_FLAG : map[id]!);
    // threads seen for the first time are taken as they are; bins are merged next; then the threads
    // that continue an earlier part are joined to it (the boundary logic reads the merged bins)
    const tmap: number[] = [];
    const joins: Array<[number, ThreadRec]> = [];
    const known = threads.length;
    t.threads.forEach((x, i) => {
      // a record whose tid a new process reused (the core keeps it, but looks up the newer one) never
      // continues into a later part; nor does a record of another process than the one known for the tid
      let key = `${x.file}:${x.tid}`;
      if (x.replaced) key = `${key}:replaced:${parts.indexOf(part)}:${i}`;
      let at = tIndex.get(key);
      if (at !== undefined && x.tgid >= 0 && threads[at]!.tgid >= 0 && threads[at]!.tgid !== x.tgid) {
        tIndex.set(`${key}:replaced:${at}`, at);
        tIndex.delete(key);
        at = undefined;
      }
      const rec: ThreadRec = {
        ...x, comm: x.comm >= 0 ? map[x.comm]! : -1, pendReason: remap(x.pendReason), pendSub: x.pendSub >= 0 ? map[x.pendSub]! : -1,
        preExitSub: x.preExitSub >= 0 ? map[x.preExitSub]! : -1, pendWhere: x.pendWhere + BigInt(part.lineOffset),
        timeline: x.timeline ? new Uint32Array(x.timeline) : undefined,
      };
      if (at === undefined) {
        tmap[i] = threads.length;
        tIndex.set(key, threads.length);
        threads.push(rec);
      } else {
        tmap[i] = at;
        joins.push([at, rec]);
      }
    });
    // a worker's histograms, added in few calls once its bins are merged (before the joins read them)
    const added: Array<{ h: number; pairs: Uint32Array }> = [];
    for (const b of t.bins) {
      // the main core's own bins (parts[0]) keep their histograms; the others are added to them
      const ref = (b as { coreHist?: () => { core: Core; h: number } | undefined }).coreHist?.();
      const own = ref && ref.core === core ? ref.h : undefined;
      const before = bins.length;
      const m = binOf(tmap[b.thread]!, remap(b.reason), own);
      const fresh = bins.length > before && own !== undefined;
      m.seen += b.seen; m.handled += b.handled; m.sum += b.sum; m.sumsq += b.sumsq; m.failed += b.failed;
      if (b.handled > 0) { if (b.min < m.min) m.min = b.min; if (b.max > m.max) m.max = b.max; }
      m.wakes += b.wakes; m.wakePolls += b.wakePolls; m.wakePollNs += b.wakePollNs; m.wakeWaitNs += b.wakeWaitNs;
      m.userN += b.userN ?? 0; m.userNs += b.userNs ?? 0n; m.preemptN += b.preemptN ?? 0; m.preemptNs += b.preemptNs ?? 0n;
      // a slice's hist is read from its core on access (wasm/core.ts): once per bin
      // (a worker's bins come with their non-zero buckets as [bucket, count] pairs: pipeline/jobs-worker.ts)
      const pairs = (b as { histPairs?: Uint32Array }).histPairs;
      if (fresh) { /* its histogram is the merged one */ } else if (pairs) { if (pairs.length) added.push({ h: m.h, pairs }); }
      else eachBucket(b, (i, n) => m.add(i, n));
    }
    core.histAddPairsMany(added);
    if (part.lost?.length) lostAcross(part, known);
    // (a tid with two records in the part, one replaced: its first event may be the other record's)
    const twice = new Set<number>();
    if (part.firsts) { const seen = new Set<number>(); for (const x of t.threads) { if (seen.has(x.tid)) twice.add(x.tid); seen.add(x.tid); } }
    for (const [at, rec] of joins) joinThread(threads[at]!, rec, at, part.renames === true, twice.has(rec.tid) ? undefined : part.firsts?.get(rec.tid)?.cpu, later);
    // a thread new in a later slice: its halts before its first kvm_halt_poll_ns, as one core counts them (its
    // polls as successful ones; settled with the old window of that first change, if any)
    if (later) {
      t.threads.forEach((_x, i) => {
        const ti = tmap[i]!;
        if (ti < known) return;
        const rec = threads[ti]!;
        movePrePolls(ti);
        if ((rec.hpFlags & K.HPF_KNOWN) !== 0 && rec.preWindowWakes > 0) settle(rec, rec, rec.hpFirstOldWindow, ti, binOf);
      });
    }
    for (const [at] of joins) delete threads[at]!.preWakes;
    for (const ti of tmap) if (ti >= known) delete threads[ti]!.preWakes;
    // a thread new in this part: the run delay of its first switch-in is from its runnable time in the part
    t.threads.forEach((x, i) => {
      if (tmap[i]! >= known && x.firstInTs !== MIN && x.firstInRunnable !== MIN) accumulate(binOf(tmap[i]!, x.firstInPk ? K.M_PK_RUN_DELAY : K.M_RUN_DELAY), x.firstInTs - x.firstInRunnable);
    });
    // pre-kvm scheduling of a thread that first appears in this part is not counted (joinThread used
    // what belonged to a thread already known as a vCPU)
    for (const ti of tmap) {
      const k = bIndex.get(bKey(ti, K.M_PK_RUN_DELAY));
      if (k !== undefined) clearBin(bins[k]!);
    }
    for (const r of t.top) top.push({ ...r, thread: tmap[r.thread]!, reason: remap(r.reason), where: r.where + part.lineOffset });
    for (const s of t.skips) {
      const m = skips.get(s.kind);
      if (!m) skips.set(s.kind, { ...s, line: s.line + part.lineOffset });
      else m.count += s.count;
    }
  }

  /**
   * Events lost on a CPU end the pairing of every thread of the file whose last event was there (lostOn in
   * assembly/analysis.ts): the threads known before this part whose first event in it came after the marker.
   */
  function lostAcross(part: Part, known: number): void {
    const marks = [...part.lost!].sort((x, y) => x.at - y.at);
    for (let ai = 0; ai < known; ai++) {
      const a = threads[ai]!;
      if (a.file !== part.file || (a.state !== K.ST_GUEST && a.state !== K.ST_HOST)) continue;
      // the live record of its tid meets the part's events of that tid; a record a reused tid replaced meets none
      const live = tIndex.get(`${a.file}:${a.tid}`) === ai;
      const f = live ? part.firsts?.get(a.tid) : undefined;
      if (f && live && part.tables.threads.filter((x) => x.tid === a.tid).length > 1) throw new MergeInexact(a.file, `thread ${a.tid} is two threads (a reused tid) in a slice where events were lost`);
      for (const m of marks) {
        if (f && m.at > f.at) {
          // after the thread's first event in the part and before its first exit/entry, the part knew its CPU
          // but not its pairing state
          if (f.x < 0 || m.at <= f.x) throw new MergeInexact(a.file, `events were lost near thread ${a.tid}'s first event after a cut`);
          break;
        }
        if (m.cpu === a.lastCpu) { a.state = K.ST_GAP; a.lostResets++; a.pendingAtEnd = 0; break; }
      }
    }
  }

  /** Empty thread ti's metric bin m, if it has one. */
  function clearMetric(ti: number, m: number): void {
    const k = bIndex.get(bKey(ti, m));
    if (k !== undefined) clearBin(bins[k]!);
  }

  /** A later slice's polls before the thread's window was known, counted as successful polls (as one core counts them). */
  function movePrePolls(ti: number): void {
    const k = bIndex.get(bKey(ti, K.M_PRE_POLL));
    if (k === undefined || bins[k]!.handled === 0) return;
    const from = bins[k]!;
    const to = binOf(ti, K.M_HALT_POLL_OK);
    to.handled += from.handled; to.sum += from.sum; to.sumsq += from.sumsq;
    if (from.min < to.min) to.min = from.min;
    if (from.max > to.max) to.max = from.max;
    to.addAll(from);
    clearBin(from);
  }

  /**
   * A later slice's halts before the thread's first kvm_halt_poll_ns in it, when the slices before it knew the
   * window: each counted as one core counts it (kvm_vcpu_halt's rules, assembly/analysis.ts haltWakeup), the
   * first with `first` (the start window of a halt the cut splits, else the window) and the rest with `rest`.
   */
  function replayPreWakes(a: ThreadRec, ai: number, pw: { ns: BigInt64Array; flags: Uint8Array }, first: bigint, rest: bigint): void {
    for (let k = 0; k < pw.ns.length; k++) {
      const n = pw.ns[k]!;
      const f = pw.flags[k]!;
      const w = k === 0 ? first : rest;
      const poll = (f & K.PW_POLL) !== 0;
      if (w > 0n) {
        a.hpAttempted++;
        if (poll) {
          a.hpSuccess++; a.hpSuccessNs += n;
          if ((f & K.PW_VALID) === 0) a.hpInvalid++;
          accumulate(binOf(ai, K.M_HALT_POLL_OK), n);
        } else {
          const part = w < n ? w : n;
          a.hpFailNs += part; a.hpWaitNs += n - part;
          accumulate(binOf(ai, K.M_HALT_BLOCKED), n - part);
        }
        accumulate(binOf(ai, K.M_HALT_POLL_ATTEMPT_WIN), w);
      } else if (!poll) {
        a.hpWaitNs += n;
        accumulate(binOf(ai, K.M_HALT_BLOCKED), n);
      }
    }
  }

  /** `b` (a later slice of the same thread) continues `a` (everything before it); `later`: b's core left its halts before its first kvm_halt_poll_ns unsettled (CoreTables.laterSlice). */
  function joinThread(a: ThreadRec, b: ThreadRec, ai: number, renames: boolean, firstCpu: number | undefined, later: boolean): void {
    const firstIsEntry = b.leadingEntry === 1;
    // wall time across the cut: from a's last exit/entry to b's first (a jump back is a new capture)
    if (a.prevTs !== MIN && b.exits + b.entries > 0) {
      const d = b.firstTs - a.prevTs;
      if (d >= 0n) a.wall += d;
      else if (-d > BigInt(K.JUMP_BACK)) {
        a.jumps++;
        if (a.state === K.ST_HOST) { a.jumpDrops++; a.pendingAtEnd = 0; }
        if (a.state === K.ST_GUEST || a.state === K.ST_HOST) a.state = K.ST_GAP;
      }
    }
    if (b.prevTs !== MIN) a.prevTs = b.prevTs;
    const firstIsExit = !firstIsEntry && b.exits + b.entries > 0;
    let leading = b.leadingEntry;
    // a sched_wakeup the later slice saw before its first exit/entry, while an exit was pending: the
    // pending exit's wake-up (the core keeps the first one until the entry), even when its entry comes
    // only in a slice after the next (a halt longer than a slice)
    if (a.state === K.ST_HOST && a.schedWakeTs === MIN) a.schedWakeTs = b.preExitSchedWakeTs;
    if (a.state === K.ST_HOST && b.exits + b.entries + b.preExitWakes + (b.preExitSub >= 0 ? 1 : 0) > 0) {
      // what the next slice saw before its first exit/entry happened inside the pending exit
      if (b.preExitWakes > 0) {
        const bin = binOf(ai, a.pendReason);
        bin.wakes += b.preExitWakes; bin.wakePolls += b.preExitWakePolls; bin.wakePollNs += b.preExitPollNs; bin.wakeWaitNs += b.preExitWaitNs;
      }
      if (a.pendSub < 0 && b.preExitSub >= 0) a.pendSub = b.preExitSub;
    }
    if (a.state === K.ST_HOST) {
      // the pending exit's preemption and userspace parts, as the core counts them (assembly/analysis.ts): a
      // switch-out runnable at the cut ends at the thread's first switch-in in b (or at its entry); b's own
      // switch-outs before its first exit/entry count when no kvm_userspace_exit came before them; the first
      // kvm_userspace_exit is the earlier slices' or else b's
      const bFirst = b.exits + b.entries > 0 ? b.firstTs : undefined;
      if (a.preemptOutTs !== MIN && b.firstInTs !== MIN && (bFirst === undefined || b.firstInTs <= bFirst)) {
        if (b.firstInTs >= a.preemptOutTs) a.pendPreemptNs += b.firstInTs - a.preemptOutTs;
        a.preemptOutTs = MIN;
      }
      if (a.pendUserTs === MIN) {
        a.pendPreemptNs += b.preExitPreemptNs;
        if (a.preemptOutTs === MIN) a.preemptOutTs = b.preExitPreemptOutTs;
        a.pendUserTs = b.preExitUserTs;
      }
    }
    if (a.state === K.ST_HOST && firstIsEntry) {
      const d = b.firstTs - a.pendTs;
      if (d >= 0n) {
        accumulate(binOf(ai, a.pendReason), d);
        if (a.pendSub >= 0) accumulate(binOf(ai, a.pendSub | K.SUBKEY_FLAG), d);
        a.host += d;
        a.handled++;
        top.push({ duration: d, ts: a.pendTs, where: Number(a.pendWhere), thread: ai, reason: a.pendReason });
        const bin = binOf(ai, a.pendReason);
        let pre = a.pendPreemptNs;
        if (a.preemptOutTs !== MIN && b.firstTs >= a.preemptOutTs) pre += b.firstTs - a.preemptOutTs;
        if (pre > 0n) { bin.preemptNs += pre; bin.preemptN++; }
        const u0 = a.pendUserTs;
        if (u0 !== MIN && b.firstTs >= u0 && u0 >= a.pendTs) {
          bin.userNs += b.firstTs - u0; bin.userN++;
          if (a.pendSub >= 0) { const sb = binOf(ai, a.pendSub | K.SUBKEY_FLAG); sb.userNs += b.firstTs - u0; sb.userN++; }
        }
      } else a.backwards++;
      if (a.wakeTs !== MIN) accumulate(binOf(ai, K.M_WAKE_TO_ENTRY), b.firstTs - a.wakeTs > 0n ? b.firstTs - a.wakeTs : 0n);
      const sw = a.schedWakeTs;
      if (sw !== MIN) accumulate(binOf(ai, K.M_SCHED_WAKE_TO_ENTRY), b.firstTs - sw > 0n ? b.firstTs - sw : 0n);
      a.pendingAtEnd = 0;
      leading = 0;
    } else if (a.state === K.ST_HOST && firstIsExit) {
      a.exitNoEntry++;
      a.pendingAtEnd = 0;
    } else if (a.state === K.ST_GUEST && firstIsExit) {
      const g = b.firstTs - a.lastEntryTs;
      if (g >= 0n) a.guest += g;
    } else if (a.state === K.ST_GUEST && firstIsEntry) {
      a.entryNoExit++;
      leading = 0;
    }
    if (a.state === K.ST_NONE) a.leadingEntry = leading;
    // preemptions the later slice saw before its first exit/entry: in the state the earlier one ended in
    if (a.state === K.ST_GUEST) a.preemptGuest += b.preExitPreempts;
    else if (a.state === K.ST_HOST || a.state === K.ST_GAP) a.preemptHost += b.preExitPreempts;
    else a.preExitPreempts += b.preExitPreempts;
    if (a.state === K.ST_NONE && a.preExitSchedWakeTs === MIN) a.preExitSchedWakeTs = b.preExitSchedWakeTs;
    // the later slice followed this thread's scheduling before it saw a kvm event of it: that counts
    // only if the thread was already known as a vCPU (one core reading in order does the same)
    const aVcpu = a.exits + a.entries + a.kvmEvents > 0;
    // the later slice's first switch-in of the thread (the core left its run delay to the merge): runnable since
    // the time the slices before ended with, if they followed the thread as a vCPU and it was runnable, else
    // since the slice's own time; and what the thread is runnable since at the end of both
    const carried = aVcpu && a.runnableTs !== MIN;
    if (b.firstInTs !== MIN) {
      const r = carried ? a.runnableTs : b.firstInRunnable;
      if (r !== MIN) accumulate(binOf(ai, b.firstInPk ? K.M_PK_RUN_DELAY : K.M_RUN_DELAY), b.firstInTs - r);
      a.runnableTs = b.runnableTs;
    } else if (!carried) a.runnableTs = b.runnableTs;
    if (aVcpu) {
      a.switchIn += b.preKvmSwitchIns; a.sleeps += b.preKvmSleeps;
      if (a.state === K.ST_GUEST) a.preemptGuest += b.preKvmPreempts;
      else if (a.state === K.ST_NONE) a.preExitPreempts += b.preKvmPreempts;
      else a.preemptHost += b.preKvmPreempts;
      const pk = binOf(ai, K.M_PK_RUN_DELAY);
      if (pk.handled > 0) {
        const rd = binOf(ai, K.M_RUN_DELAY);
        rd.handled += pk.handled; rd.sum += pk.sum; rd.sumsq += pk.sumsq;
        if (pk.min < rd.min) rd.min = pk.min;
        if (pk.max > rd.max) rd.max = pk.max;
        rd.addAll(pk);
      }
    }
    clearBin(binOf(ai, K.M_PK_RUN_DELAY));
    // a poll-window direction change across the boundary
    if (a.hpLastDirection !== 0 && b.hpFirstDirection !== 0 && a.hpLastDirection !== b.hpFirstDirection) a.hpFlips++;
    if (a.hpLastDirection === 0 && b.hpFirstDirection !== 0) a.hpFirstDirection = b.hpFirstDirection;
    // halt polling: halts the later slice saw before it knew the window started with a's last window
    const aKnown = (a.hpFlags & K.HPF_KNOWN) !== 0;
    const bKnown = (b.hpFlags & K.HPF_KNOWN) !== 0;
    const bHalts = b.haltWakes > 0 || b.hpGrows + b.hpShrinks > 0;
    let settled = false;
    if (later) {
      settled = true;
      const bPre = b.preWindowWakes;
      if (bPre > 0 && aKnown) {
        // one core knew the window at these halts: the first ends a halt in progress at the cut if a's window changed
        // in it (that halt started with the old window), the others started with the window a ended with
        if (b.preWindowListed !== b.preWindowWakes || !b.preWakes) throw new MergeInexact(a.file, `thread ${a.tid} had more halts before its first kvm_halt_poll_ns in a slice than a slice keeps one by one (${K.PW_MAX})`);
        replayPreWakes(a, ai, b.preWakes, (a.hpFlags & K.HPF_CHANGED) !== 0 ? a.hpStartWindow : a.hpWindow, a.hpWindow);
        clearMetric(ai, K.M_PRE_WAIT);
        clearMetric(ai, K.M_PRE_POLL);
      } else if (!aKnown) {
        // the window was not known before them either: they wait with a's, and one core settles them all at the
        // first change (with its old window)
        movePrePolls(ai);
        a.preWindowWakes += b.preWindowWakes; a.preWindowPolls += b.preWindowPolls; a.preWindowPollNs += b.preWindowPollNs; a.preWindowInvalid += b.preWindowInvalid;
        a.preWindowWaits += b.preWindowWaits; a.preWindowWaitNs += b.preWindowWaitNs;
        if (bKnown) settle(a, a, b.hpFirstOldWindow, ai, binOf);
      }
      b.preWindowWakes = 0; b.preWindowPolls = 0; b.preWindowPollNs = 0n; b.preWindowInvalid = 0; b.preWindowWaits = 0; b.preWindowWaitNs = 0n;
      // a halt in progress at the cut whose window changed, and b's first halt event another change (two in one halt:
      // kvm_vcpu_halt makes one): b counted its halt with the second change's old window, one core with the first's
      if (aKnown && bKnown && bPre === 0 && (a.hpFlags & K.HPF_CHANGED) !== 0 && a.hpStartWindow !== a.hpWindow) {
        throw new MergeInexact(a.file, `thread ${a.tid}'s halt-poll window changed twice in a halt that the cut splits`);
      }
    } else if (aKnown && bHalts) {
      // ... unless a's window changed in a halt still in progress (that halt started with the old one), or the
      // later slice settled its halts with the old window of its first change and a's last window was another
      // (a kvm_halt_poll_ns not in the trace): the slices cannot say which halts those were
      if ((a.hpFlags & K.HPF_CHANGED) !== 0 && a.hpStartWindow !== a.hpWindow) throw new MergeInexact(a.file, `thread ${a.tid}'s halt-poll window changed in a halt that the cut splits`);
      if (bKnown && b.preWindowWakes > 0 && b.hpFirstOldWindow !== a.hpWindow) throw new MergeInexact(a.file, `thread ${a.tid}'s halt-poll window changed without a kvm_halt_poll_ns event near a cut`);
    }
    if (bHalts) {
      a.hpFlags = (a.hpFlags & ~K.HPF_CHANGED) | (b.hpFlags & K.HPF_CHANGED);
      if ((b.hpFlags & K.HPF_CHANGED) !== 0) a.hpStartWindow = b.hpStartWindow;
    }
    if (bKnown) {
      const area = a.hpWinArea + (aKnown ? Number(a.hpWindow) * Math.max(0, Number(b.hpFirstTs - a.hpWinTs)) : 0) + b.hpWinArea;
      a.hpWinArea = area;
      if (!aKnown) a.hpFirstTs = b.hpFirstTs;
      a.hpWindow = b.hpWindow; a.hpWinTs = b.hpWinTs; a.hpLastDirection = b.hpLastDirection;
      a.hpFlags |= K.HPF_KNOWN;
      if (!aKnown) {
        // a's halts were waiting for the window too: it is the old value of b's first change
        if (!settled) settle(a, a, b.hpFirstOldWindow, ai, binOf);
        a.hpFirstOldWindow = b.hpFirstOldWindow;
      }
    } else if (aKnown && !settled) {
      settle(a, b, a.hpWindow, ai, binOf);
    }
    if (!aKnown && !bKnown) {
      a.preWindowWakes += b.preWindowWakes; a.preWindowPolls += b.preWindowPolls; a.preWindowPollNs += b.preWindowPollNs; a.preWindowInvalid += b.preWindowInvalid;
      a.preWindowWaits += b.preWindowWaits; a.preWindowWaitNs += b.preWindowWaitNs;
    }
    for (const f of SUMS) (a as unknown as Record<string, number | bigint>)[f] = (a[f] as never as number) + (b[f] as never as number);
    if (b.hpMax > a.hpMax) a.hpMax = b.hpMax;
    // a move from the CPU a ended on to the one b started on: seen when the part says where b started (else
    // at most one per cut is missed)
    if (firstCpu !== undefined && a.lastCpu >= 0 && firstCpu !== a.lastCpu) a.migrations++;
    a.cpuMask |= b.cpuMask;
    if (b.firstTs < a.firstTs) a.firstTs = b.firstTs;
    if (b.lastTs > a.lastTs) a.lastTs = b.lastTs;
    if (a.tgid < 0) a.tgid = b.tgid;
    if (a.vcpu < 0) a.vcpu = b.vcpu;
    if (a.comm < 0 || (renames && b.comm >= 0)) a.comm = b.comm;
    if (b.state !== K.ST_NONE) {
      a.state = b.state; a.pendReason = b.pendReason; a.pendTs = b.pendTs; a.pendWhere = b.pendWhere; a.pendFlags = b.pendFlags;
      a.pendSub = b.pendSub; a.pendGuest = b.pendGuest; a.lastEntryTs = b.lastEntryTs; a.pendingAtEnd = b.pendingAtEnd;
      a.pendUserTs = b.pendUserTs; a.pendPreemptNs = b.pendPreemptNs; a.preemptOutTs = b.preemptOutTs;
    }
    if (b.lastCpu >= 0) a.lastCpu = b.lastCpu;
    if (b.entries > 0 || b.wakeTs !== MIN) a.wakeTs = b.wakeTs;
    // (without an entry in b, a wake-up still pending from before b is the one the core would have kept)
    if (b.entries > 0 || (b.schedWakeTs !== MIN && a.schedWakeTs === MIN)) a.schedWakeTs = b.schedWakeTs;
    // timelines share the file's origin: regroup the finer one to the wider buckets, then add
    if (b.timeline) {
      if (!a.timeline) { a.timeline = b.timeline; a.tlWidth = b.tlWidth; a.tlOrigin = b.tlOrigin; } else {
        const w = a.tlWidth > b.tlWidth ? a.tlWidth : b.tlWidth;
        a.timeline = addTimeline(regroup(a.timeline, a.tlWidth, w), regroup(b.timeline, b.tlWidth, w));
        a.tlWidth = w;
      }
    }
  }

  top.sort((x, y) => (y.duration > x.duration ? 1 : y.duration < x.duration ? -1 : x.where - y.where));
  return {
    strings, nameCounts, threads, bins, top: top.slice(0, topN), skips: [...skips.values()].sort((a, b) => a.kind - b.kind), dictOverflowed,
  };
}

/**
 * Settle `from`'s halts seen before the window was known, with window `w`, into `into` (kvm_vcpu_halt's
 * rules); their halt times (the merged M_PRE_WAIT bin of thread `ti`: only the unsettled part's, since a
 * part that learned its window settled its own) become blocked times less the window.
 */
function settle(into: ThreadRec, from: ThreadRec, w: bigint, ti: number, binOf: (t: number, r: number) => MergedBin): void {
  const pre = binOf(ti, K.M_PRE_WAIT);
  if (pre.handled > 0) {
    const blocked = binOf(ti, K.M_HALT_BLOCKED);
    if (w === 0n) {
      blocked.handled += pre.handled; blocked.sum += pre.sum; blocked.sumsq += pre.sumsq;
      if (pre.min < blocked.min) blocked.min = pre.min;
      if (pre.max > blocked.max) blocked.max = pre.max;
      blocked.addAll(pre);
    } else {
      const ph = Uint32Array.from(pre.hist); // (adding to another bin reuses the dense scratch array)
      for (let i = 0; i < ph.length; i++) {
        const n = ph[i]!;
        if (!n) continue;
        let v = BigInt(Math.floor(bucketValue(i))) - w;
        if (v < 0n) v = 0n;
        for (let k = 0; k < n; k++) {
          blocked.handled++; blocked.sum += v; blocked.sumsq += v * v;
          if (v < blocked.min) blocked.min = v;
          if (v > blocked.max) blocked.max = v;
          blocked.add(bucketOf(Number(v)), 1);
        }
      }
    }
    clearBin(pre);
  }
  if (w > 0n) {
    into.hpAttempted += from.preWindowWakes; into.hpSuccess += from.preWindowPolls; into.hpSuccessNs += from.preWindowPollNs; into.hpInvalid += from.preWindowInvalid;
    let f = BigInt(from.preWindowWaits) * w;
    if (f > from.preWindowWaitNs) f = from.preWindowWaitNs;
    into.hpFailNs += f; into.hpWaitNs += from.preWindowWaitNs - f;
  } else into.hpWaitNs += from.preWindowWaitNs;
  from.preWindowWakes = 0; from.preWindowPolls = 0; from.preWindowPollNs = 0n; from.preWindowInvalid = 0; from.preWindowWaits = 0; from.preWindowWaitNs = 0n;
}

function clearBin(b: MergedBin): void {
  b.handled = 0; b.sum = 0n; b.sumsq = 0n; b.min = 2n ** 63n - 1n; b.max = -(2n ** 63n); b.clear();
}

function regroup(t: Uint32Array, from: bigint, to: bigint): Uint32Array {
  if (from === to) return t;
  const f = Number(to / from);
  const out = new Uint32Array(t.length);
  for (let i = 0; i < t.length; i++) if (t[i]) out[Math.floor(i / f)]! += t[i]!;
  return out;
}
function addTimeline(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

/** Counters of the slices of one file, combined. */
export function mergeCounters(cs: FileCounters[]): FileCounters {
  const out = { ...cs[0]! };
  for (const c of cs.slice(1)) {
    out.lines += c.lines; out.events += c.events; out.comments += c.comments; out.blank += c.blank;
    out.lostMarkers += c.lostMarkers; out.lostEvents += c.lostEvents; out.bytes += c.bytes;
    if (c.events > 0) {
      if (out.events - c.events === 0 || c.firstTs < out.firstTs) out.firstTs = c.firstTs;
      if (out.events - c.events === 0 || c.lastTs > out.lastTs) out.lastTs = c.lastTs;
    }
    if (!out.clock) out.clock = c.clock;
  }
  // time segments (pasted captures): a slice's first segment continues the previous slice's last one
  // unless time went back by more than a second between them
  const segs: FileCounters['segments'] = [];
  let joined = 0;
  for (const c of cs) {
    for (const g of c.segments ?? []) {
      const prev = segs[segs.length - 1];
      if (prev && g === c.segments[0] && g.first_ts >= prev.last_ts - 1e9) { prev.last_ts = Math.max(prev.last_ts, g.last_ts); joined++; }
      else segs.push({ ...g });
    }
  }
  out.segments = segs.slice(0, K.SEG_MAX);
  out.segmentCount = cs.reduce((n, c) => n + (c.segmentCount ?? 0), 0) - joined;
  return out;
}
