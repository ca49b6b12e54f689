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
import { JobsFallback, startWorker } from './jobs.js';
import type { TraceDatInfo, TraceDatSliceResult } from '../formats/tracedat/reader.js';
import type { Probe } from '../formats/tracedat/slices.js';
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
  await zstdWarmup(file, 'zstd');
  const plan = await planSlices(file, jobs, opts.buffer, opts.jobsCuts);
  if (!plan) return undefined;
  tdJobsStats.files++;
  tdJobsStats.slices += plan.cuts.length + 1;
  const { cuts, hints, tgids, origin } = plan;
  const bounds: Array<bigint | undefined> = [undefined, ...cuts, undefined];
  const jobOf = (k: number, seed?: DState): TraceDatJob => ({
    kind: 'tracedat', file, fileIndex: idx, buffer: opts.buffer, topN, maxMemoryMb: opts.maxMemoryMb,
    slice: {
      lo: bounds[k], hi: bounds[k + 1], hints,
      later: k > 0 ? { seed: seed && { learned: [...seed.learned], comms: [...seed.comms] } } : undefined,
    },
    origin: k > 0 ? origin : undefined,
  });
  // the workers start first; the main thread reads slice 0 into the run's core meanwhile
  const started = cuts.map((_, i) => startWorker(jobOf(i + 1)));
  const results = await Promise.all([readTraceDatSlice(jobOf(0), false, core), ...started]);
  failed(results, display);
  if (core.timelineOrigin() !== origin) throw new JobsFallback(display, 'its first event was not where the slices were cut from');
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

interface Plan { cuts: bigint[]; hints: Map<number, Probe[]>; tgids: Map<number, number>; origin: bigint }

/** Cut times for `jobs` slices of about equal bytes, from a sample of every CPU stream's page times. */
async function planSlices(file: string, jobs: number, buffer: string | undefined, given?: bigint[]): Promise<Plan | undefined> {
  const { readMeta, chooseBuffer, readTraceDat } = await import('../formats/tracedat/reader.js');
  const { FileSrc } = await import('../formats/tracedat/file.js');
  const { StreamProbe } = await import('../formats/tracedat/slices.js');
  const { CorePages } = await import('../formats/tracedat/core-path.js');
  const src = new FileSrc(file, 0);
  let streams: Array<{ cpu: number; size: number; samples: Probe[]; end: bigint | undefined }>;
  let tgids: Map<number, number>;
  try {
    const meta = readMeta(src);
    const buf = chooseBuffer(meta.buffers, buffer);
    if (!CorePages.takes(meta.formats) || buf.cpus.length === 0) return undefined;
    tgids = meta.tgids;
    const probes = buf.cpus.map((cd) => new StreamProbe(src, cd, buf.pageSize, meta.layout, meta.le, buf.compressed ? meta.decompress : undefined, meta.compression === 'zlib'));
    const total = probes.reduce((n, p) => n + Math.max(0, p.end - p.first), 0);
    if (total <= 0) return undefined;
    // about 16 page times per slice in all, at least the first and last of every stream
    const budget = Math.max(16 * jobs, 2 * probes.length);
    streams = probes.map((p) => {
      const size = Math.max(0, p.end - p.first);
      const samples = p.sample(Math.min(64, Math.max(2, Math.round((budget * size) / total))));
      return { cpu: p.cd.cpu, size, samples: samples.map((s) => ({ off: s.off, ts: s.ts })), end: undefined };
    });
  } catch (e) {
    if (e instanceof FormatError) return undefined; // the one-thread read reports it
    throw e;
  } finally {
    src.close();
  }
  const cuts = given ? [...given].sort((a, b) => (a < b ? -1 : 1)).filter((t, i, a) => i === 0 || t > a[i - 1]!) : cutTimes(streams, jobs);
  if (cuts.length === 0) return undefined;
  // the timelines' origin: the first event one thread would read (a core reads the file up to growing times)
  const t0 = streams.reduce<bigint | undefined>((m, s) => (s.samples[0] && (m === undefined || s.samples[0].ts < m) ? s.samples[0].ts : m), undefined)!;
  let origin: bigint | undefined;
  for (let gap = 1n; origin === undefined && gap < 2n ** 64n; gap *= 64n) {
    const c = new Core({ arenaBytes: 1 << 16, topN: 1 });
    try {
      readTraceDat(file, c.sinkFor(0), { buffer, slice: { hi: t0 + gap } });
    } catch (e) {
      if (e instanceof FormatError) return undefined;
      throw e;
    }
    const o = c.timelineOrigin();
    if (o !== MIN) origin = o;
  }
  if (origin === undefined) return undefined;
  return { cuts, hints: new Map(streams.map((s) => [s.cpu, s.samples])), tgids, origin };
}

/**
 * T_1 < ... < T_{jobs-1}: the times before which k/jobs of all streams' bytes lie, each stream's bytes before a
 * time interpolated between its sampled pages (and beyond its last one at its sampled rate).
 */
export function cutTimes(streams: Array<{ size: number; samples: Probe[] }>, jobs: number): bigint[] {
  const live = streams.filter((s) => s.samples.length > 0);
  if (live.length === 0) return [];
  const first = live.map((s) => s.samples[0]!.off);
  const bytesBefore = (si: number, t: bigint): number => {
    const s = live[si]!, p = s.samples, base = first[si]!;
    if (t <= p[0]!.ts) return 0;
    for (let i = 0; i + 1 < p.length; i++) {
      const a = p[i]!, b = p[i + 1]!;
      if (t <= b.ts) return b.ts > a.ts ? a.off - base + ((b.off - a.off) * Number(t - a.ts)) / Number(b.ts - a.ts) : b.off - base;
    }
    const last = p[p.length - 1]!;
    const done = last.off - base;
    if (p.length < 2 || last.ts <= p[0]!.ts || done <= 0) return s.size;
    const perByte = Number(last.ts - p[0]!.ts) / done;
    return Math.min(s.size, done + Number(t - last.ts) / perByte);
  };
  const total = live.reduce((n, s) => n + s.size, 0);
  const tmin = live.reduce((m, s) => (s.samples[0]!.ts < m ? s.samples[0]!.ts : m), live[0]!.samples[0]!.ts);
  let tmax = tmin;
  for (const s of live) {
    const p = s.samples, last = p[p.length - 1]!;
    let end = last.ts;
    const done = last.off - p[0]!.off;
    if (p.length >= 2 && last.ts > p[0]!.ts && done > 0) end += BigInt(Math.ceil((Number(last.ts - p[0]!.ts) / done) * (s.size - done))) + 1n;
    if (end > tmax) tmax = end;
  }
  const sum = (t: bigint): number => live.reduce((n, _s, i) => n + bytesBefore(i, t), 0);
  const cuts: bigint[] = [];
  for (let k = 1; k < jobs; k++) {
    const want = (total * k) / jobs;
    let lo = tmin, hi = tmax + 1n;
    while (hi - lo > 1n) {
      const mid = lo + (hi - lo) / 2n;
      if (sum(mid) < want) lo = mid; else hi = mid;
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
