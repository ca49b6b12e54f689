/**
 * --jobs for trace.dat (issue 15): the file read in time slices, one worker thread and WebAssembly core each.
 *
 *   plan   each CPU stream's page times sampled (formats/tracedat/slices.ts); cut times T_1 < ... < T_{N-1} that
 *          split the streams' bytes evenly; the file's first event (every slice's timeline origin)
 *   read   slice k: the records of every CPU stream whose raw time is in [T_k, T_{k+1}), merged by (time, CPU) as
 *          one job merges the whole file. Since each stream's times only grow, that is exactly the piece of the
 *          one-job event stream between the cuts, as a text slice is a piece of its lines: the main thread reads
 *          slice 0 into the run's core, workers the others (following every thread's scheduling), and the
 *          tables merge as text slices do (src/wasm/merge.ts), a thread's latest name winning
 *   check  no stream's times went back (page headers and records; else the merge's order is not the cuts'
 *          order); the slices' walks of each stream meet (each starts on a page an earlier one walked, before its
 *          window); and what each later slice's decoder assumed of the state before it (processes learned from
 *          task_newtask / sched_process_exec, sched comm names: assembly/tdrecord.ts) against that state,
 *          composed from the slices before it. A slice that assumed wrong is read again from that state.
 *
 * A file whose times go back, or a slice that cannot be read, is read again by one thread, with a note
 * (JobsFallback, caught in analyze.ts): never a different report.
 */
import { Core, type FileCounters } from '../wasm/core.js';
import { mergeCounters, type Part } from '../wasm/merge.js';
import type { CoreTables } from '../wasm/core.js';
import { FormatError } from '../formats/bytes.js';
import { zstdWarmup } from '../formats/decompress.js';
import type { AnalyzeOptions } from './analyze.js';
import { readTraceDatSlice, type SliceResult, type TraceDatJob } from './jobs-worker.js';
import { JobsFallback, cutShare, startWorker, waitingWorker } from './jobs.js';
import type { TraceDatInfo, TraceDatSliceResult } from '../formats/tracedat/reader.js';
import { shareAt, type Probe } from '../formats/tracedat/slices.js';
import { LG_COMM, LG_DEFER, LG_FIRST, LG_OVERRIDDEN, LG_REF, LG_WRITE, type SliceState } from '../formats/tracedat/core-path.js';

const MIN = -(2n ** 63n);

/** trace.dat files read in slices in this process, their slices, and slices read again (tests check the paths taken). */
export const tdJobsStats = { files: 0, slices: 0, redone: 0 };

/** The decoder state a slice starts from: processes learned and sched comm names, by tid. */
interface DState { learned: Map<number, number>; comms: Map<number, string> }

export interface TraceDatSlices { parts: Part[]; counters: FileCounters; info: TraceDatInfo }

/**
 * Read trace.dat `file` (a plain file: its path) as the core's file `idx` in up to `jobs` time slices, or return
 * undefined when it is not split (the core does not decode its formats, it is too small to cut, its metadata
 * does not read: the one-thread read says why). Throws JobsFallback when the slices cannot be exact.
 */
export async function readTraceDatSlices(core: Core, file: string, display: string, idx: number, opts: AnalyzeOptions, jobs: number, topN: number): Promise<TraceDatSlices | undefined> {
  // the workers start (and load libzstd) while the main thread plans the slices
  const waiting = Array.from({ length: jobs - 1 }, () => waitingWorker(file));
  let plan: Plan | undefined;
  try {
    await zstdWarmup(file, 'zstd');
    plan = await planSlices(file, jobs, opts.buffer, opts.jobsCuts, opts.jobsShift?.includes(display) ?? false);
  } finally {
    for (const w of waiting.slice(plan ? plan.cuts.length : 0)) w.drop();
  }
  if (!plan) return undefined;
  tdJobsStats.files++;
  tdJobsStats.slices += plan.cuts.length + 1;
  const { cuts, hints, pooled, tgids } = plan;
  let origin = plan.origin;
  const bounds: Array<bigint | undefined> = [undefined, ...cuts, undefined];
  const jobOf = (k: number, seed?: DState): TraceDatJob => ({
    kind: 'tracedat', file, fileIndex: idx, buffer: opts.buffer, topN, maxMemoryMb: opts.maxMemoryMb,
    slice: {
      lo: bounds[k], hi: bounds[k + 1], hints, pooled,
      later: k > 0 ? { seed: seed && { learned: [...seed.learned], comms: [...seed.comms] } } : undefined,
    },
    origin: k > 0 ? origin : undefined,
  });
  // the workers start first; the main thread reads slice 0 into the run's core meanwhile
  const started = cuts.map((_, i) => (i < waiting.length ? waiting[i]!.run(jobOf(i + 1)) : startWorker(jobOf(i + 1))));
  const results = await Promise.all([readTraceDatSlice(jobOf(0), false, core), ...started]);
  failed(results, display);
  // the first slice read the file's first event: when the planner's origin was another (a first record that is
  // skipped), the later slices are read again with it
  if (core.timelineOrigin() !== origin) {
    if (core.timelineOrigin() === MIN) throw new JobsFallback(display, 'no event before the first cut');
    origin = core.timelineOrigin();
    const again = await Promise.all(cuts.map((_, i) => startWorker(jobOf(i + 1))));
    again.forEach((r, i) => { results[i + 1] = r; });
    tdJobsStats.redone += again.length;
    failed(results, display);
  }
  // the state before each slice, composed from the slices before it; the later slices' assumptions checked
  const before: DState[] = [{ learned: new Map(), comms: new Map() }];
  for (const r of results) before.push(after(before[before.length - 1]!, r.td!.result.state, tgids));
  const redo: number[] = [];
  for (let k = 1; k < results.length; k++) {
    const r = results[k]!;
    if (!assumedRight(before[k]!, r.td!.result.state, tgids) || !nameDeferred(before[k]!, r.td!.result.state, r.tables!, idx)) redo.push(k);
  }
  // slices that assumed wrong: read again from the state before them (exact: they assume nothing)
  const again = await Promise.all(redo.map((k) => startWorker(jobOf(k, before[k]))));
  tdJobsStats.redone += redo.length;
  redo.forEach((k, i) => { results[k] = again[i]!; });
  failed(results, display);
  checkWalks(results.map((r) => r.td!.result), cuts, display);
  let lineOffset = 0;
  const parts: Part[] = [];
  for (const [k, r] of results.entries()) {
    if (k > 0) {
      const st = r.td!.result.state;
      parts.push({
        tables: r.tables!, lineOffset, renames: true, file: idx,
        firsts: new Map(st.firsts.map(([tid, cpu, at, x]) => [tid, { cpu, at: at + lineOffset, x: x < 0 ? -1 : x + lineOffset }])),
        lost: st.lost.map(([cpu, at]) => ({ cpu, at: at + lineOffset })),
      });
    }
    lineOffset += r.td!.info.events;
  }
  const final = before[before.length - 1]!;
  const how = new Set(results.flatMap((r) => r.td!.result.learnedHow));
  const i0 = results[0]!.td!.info;
  const info: TraceDatInfo = {
    ...i0, events: results.reduce((n, r) => n + r.td!.info.events, 0), lostEvents: results.reduce((n, r) => n + r.td!.info.lostEvents, 0),
  };
  delete info.processes;
  const processes = processesFrom(tgids.size, final.learned.size, how);
  if (processes) info.processes = processes;
  return { parts, counters: mergeCounters(results.map((r) => r.counters!)), info };
}

/** Where the threads' processes came from (reader.ts words it the same way for one thread). */
export function processesFrom(saved: number, learned: number, how: Iterable<string>): string | undefined {
  const from: string[] = [];
  if (saved > 0) from.push(`saved tgids (${saved} threads)`);
  if (learned > 0) from.push(`sched events (${[...how].sort().join(', ')}: ${learned} threads)`);
  return from.length ? from.join('; ') : undefined;
}

/** Any slice that failed, or whose stream times went back: the file is read again by one thread. */
function failed(results: SliceResult[], display: string): void {
  for (const r of results) {
    if (!r.ok) {
      const e = r.error!;
      throw new JobsFallback(display, `a slice could not be read (${e.internal ? e.message.split('\n')[0] : `${e.offset !== undefined ? `byte ${e.offset}: ` : ''}${e.message}`})`);
    }
    const b = r.td!.result.backwards;
    if (b.count > 0) throw new JobsFallback(display, `a CPU's times go back (in the page at byte ${b.at}), so time slices would not be the one-thread order`);
  }
}

// ------------------------------------------------------------------------------------------------ planning

interface Plan { cuts: bigint[]; hints: Map<number, Probe[]>; pooled: Array<[number, bigint]>; tgids: Map<number, number>; origin: bigint }

/**
 * Cut times for `jobs` slices of about equal bytes. Every stream's first and last page (or chunk) is probed, and about 16
 * more page times per slice at places spread evenly over all streams' bytes: the share of those times before T
 * is the share of the bytes before T, so the cut times are their quantiles (and, pooled, a guess of how far each
 * stream has come at a time, where the slices' starts are searched from).
 * The timelines' origin is the earliest first record of the streams, in the core's time (the first slice's read
 * checks it).
 */
async function planSlices(file: string, jobs: number, buffer: string | undefined, given: bigint[] | undefined, shifted: boolean): Promise<Plan | undefined> {
  const { readMeta, chooseBuffer } = await import('../formats/tracedat/reader.js');
  const { FileSrc } = await import('../formats/tracedat/file.js');
  const { StreamProbe } = await import('../formats/tracedat/slices.js');
  const { CorePages } = await import('../formats/tracedat/core-path.js');
  const src = new FileSrc(file, 0);
  try {
    const meta = readMeta(src);
    const buf = chooseBuffer(meta.buffers, buffer);
    if (!CorePages.takes(meta.formats) || buf.cpus.length === 0) return undefined;
    const streams = buf.cpus.map((cd) => new StreamProbe(src, cd, buf.pageSize, meta.layout, meta.le, buf.compressed ? meta.decompress : undefined, meta.compression === 'zlib'))
      .filter((p) => p.end > p.first);
    const total = streams.reduce((n, p) => n + (p.end - p.first), 0);
    if (total <= 0) return undefined;
    // every stream's first and last page (or chunk): where a cut falls in it is interpolated between them first
    const hints = new Map<number, Probe[]>(streams.map((p) => [p.cd.cpu, [p.at(p.first)!, p.lastProbe()].filter((x): x is Probe => x !== undefined)]));
    // the first records: the origin, in the core's time (TSC2NSEC, OFFSET), as reader.ts converts
    const clock = buf.clock || meta.topClock || 'local';
    const conv = meta.tsc2nsec && (clock === 'x86-tsc' || clock === 'tsc2nsec') ? meta.tsc2nsec : undefined;
    let first: bigint | undefined;
    for (const p of streams) {
      const t = p.firstRecord() ?? p.at(p.first)!.ts;
      if (first === undefined || t < first) first = t;
    }
    const origin = (conv ? ((first! - conv.offset) * conv.mult) >> conv.shift : first!) + meta.tsOffset;
    // page times spread evenly over all the streams' bytes
    const n = Math.min(1024, Math.max(32, 16 * jobs));
    const sizes = streams.map((p) => p.end - p.first);
    const even: bigint[] = [];
    // (one place in each of n equal spans of the bytes, at a fixed pseudo-random point of it: evenly spaced
    // places met the same page of streams that repeat, as tiled captures do)
    let seed = 0x9e3779b9;
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      let x = Math.min(total - 1, Math.floor((total * (i + seed / 2 ** 32)) / n)), si = 0;
      while (x >= sizes[si]!) { x -= sizes[si]!; si++; }
      const p = streams[si]!;
      const pr = p.at(p.first + x);
      if (pr) { hints.get(p.cd.cpu)!.push(pr); even.push(pr.ts); }
    }
    // the samples are even over the bytes: the share of them before a time is the share of the bytes before it
    const times = [...even].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    // (one point per time: samples on the same page, or chunk, are one place; cuts fall between them)
    const pooled: Array<[number, bigint]> = [];
    times.forEach((t, i) => {
      const share = (i + 1) / (times.length + 1);
      if (pooled.length && pooled[pooled.length - 1]![1] === t) pooled[pooled.length - 1]![0] = share;
      else pooled.push([share, t]);
    });
    for (const h of hints.values()) h.sort((a, b) => a.off - b.off);
    let cuts = given ? [...given].sort((a, b) => (a < b ? -1 : 1)).filter((t, i, a) => i === 0 || t > a[i - 1]!) : cutTimes(pooled, jobs, shifted);
    // (given cuts, shifted: each a seventh of the way to the next, or to the last sampled time)
    if (given && shifted) cuts = cuts.map((c, i) => c + ((cuts[i + 1] ?? pooled[pooled.length - 1]![1]) - c) / 7n);
    if (cuts.length === 0) return undefined;
    return { cuts, hints, pooled, tgids: meta.tgids, origin };
  } catch (e) {
    if (e instanceof FormatError) return undefined; // the one-thread read reports it
    throw e;
  } finally {
    src.close();
  }
}

/** T_1 < ... < T_{jobs-1}: the times before which k/jobs of the evenly spread samples lie (pooled page times). */
export function cutTimes(pooled: Array<[number, bigint]>, jobs: number, shifted = false): bigint[] {
  if (pooled.length < 2) return [];
  const tmin = pooled[0]![1], tmax = pooled[pooled.length - 1]![1];
  const cuts: bigint[] = [];
  for (let k = 1; k < jobs; k++) {
    let lo = tmin, hi = tmax + 1n;
    while (hi - lo > 1n) {
      const mid = lo + (hi - lo) / 2n;
      if (shareAt(pooled, mid) < cutShare(k, jobs, shifted)) lo = mid; else hi = mid;
    }
    if (hi > tmin && hi <= tmax && (cuts.length === 0 || hi > cuts[cuts.length - 1]!)) cuts.push(hi);
  }
  return cuts;
}

// ------------------------------------------------------------------------------------------------ checking

/**
 * Each stream's walks meet: every later slice starts at the stream's first page or on one before its window
 * (header time before lo) that an earlier slice walked, so that together they walked every page, each pair of
 * neighbours within one walk (where the times were checked).
 */
function checkWalks(rs: TraceDatSliceResult[], cuts: bigint[], display: string): void {
  const cpus = new Set(rs.flatMap((r) => r.walks.map((w) => w.cpu)));
  for (const cpu of cpus) {
    let covered = -1n;
    rs.forEach((r, k) => {
      const w = r.walks.find((x) => x.cpu === cpu);
      if (!w) throw new JobsFallback(display, `slice ${k} did not read CPU ${cpu}`);
      if (w.firstPos < 0n) return; // it read no page of this stream (none left)
      const lo = k > 0 ? cuts[k - 1]! : undefined;
      if (!w.atStart && lo !== undefined && w.firstHdr >= lo) throw new JobsFallback(display, `CPU ${cpu}'s slice ${k} started after its window`);
      if (!w.atStart && w.firstPos > covered) throw new JobsFallback(display, `CPU ${cpu}'s slices ${k - 1} and ${k} do not meet`);
      if (w.lastPos > covered) covered = w.lastPos;
    });
  }
}

/** The state after a slice: its learned processes replayed on the state before it, its sched comm names over it. */
function after(s: DState, st: SliceState, tgids: Map<number, number>): DState {
  const learned = new Map(s.learned), comms = new Map(s.comms);
  for (const [kind, tid, v1] of st.log) {
    const k = kind & 0xff;
    if (k === LG_WRITE) learned.set(tid, v1 as number);
    else if (k === LG_REF) {
      // a thread (CLONE_THREAD) is in its parent's process, as known at that point
      const g = learned.get(v1 as number) ?? tgids.get(v1 as number) ?? -1;
      if (g >= 0) learned.set(tid, g);
    }
  }
  for (const [tid, c] of st.comms) comms.set(tid, c);
  return { learned, comms };
}

/** Whether a later slice's decoder decided as one job would have from the real state before it. */
function assumedRight(s: DState, st: SliceState, tgids: Map<number, number>): boolean {
  for (const tid of st.initReads) {
    const g = s.learned.get(tid);
    if (g !== undefined && g !== (tgids.get(tid) ?? -1)) return false;
  }
  for (const [kind, tid, v1] of st.log) {
    const k = kind & 0xff;
    if (k === LG_FIRST && s.learned.get(tid) === v1) return false;
    if (k === LG_COMM && s.comms.has(tid)) return false;
  }
  return true;
}

/**
 * Name the threads a later slice met first in a sched comm field and did not name (LG_DEFER): one job names
 * them there unless the state before held that name. False when that cannot be done on its tables exactly.
 */
function nameDeferred(s: DState, st: SliceState, t: CoreTables, idx: number): boolean {
  let recs: Map<number, number[]> | undefined;
  let sid: Map<string, number> | undefined;
  for (const [kind, tid, comm, g] of st.log) {
    if ((kind & 0xff) !== LG_DEFER || s.comms.get(tid) === comm) continue;
    if (!recs) {
      recs = new Map();
      t.threads.forEach((th, i) => { if (th.file === idx) recs!.set(th.tid, [...(recs!.get(th.tid) ?? []), i]); });
    }
    const at = recs.get(tid) ?? [];
    if (at.length !== 1) return false;
    const th = t.threads[at[0]!]!;
    if (th.tgid >= 0 && g >= 0 && th.tgid !== g) return false;
    if (!(kind & LG_OVERRIDDEN)) {
      sid ??= new Map(t.strings.map((x, i) => [x, i]));
      let id = sid.get(comm as string);
      if (id === undefined) { id = t.strings.length; t.strings.push(comm as string); t.nameCounts.push(0); sid.set(comm as string, id); }
      th.comm = id;
    }
    if (th.tgid < 0 && g >= 0) th.tgid = g;
  }
  return true;
}
