/**
 * `kvmtax live`: the recording session's pages fed to the core as they come (through the page decoder),
 * a summary each interval (a top-like screen or one NDJSON object), the full report at the end, and
 * kvmtax's own CPU cost.
 */
import { Core } from '../wasm/core.js';
import { summarize, type Report, type InputInfo } from '../analysis/summary.js';
import { CLOCK_RAW } from '../../assembly/constants.js';
import { runSession, type SessionResult } from './session.js';
import { Tracefs } from './tracefs.js';
import { livePageDecoder, type PageDecoder } from './page-decoder.js';
import { InKernelHist, bucketQuantile, type HistRow, type PairSpec } from './in-kernel.js';
import { reasonName } from '../core/reasons.js';
import { KvmtaxError } from '../core/errors.js';
import { keepYoungGenerationSmall } from '../core/young-gen.js';

export interface LiveOptions {
  tracefs?: string;
  events: string[];
  pids?: number[];
  intervalMs: number;
  top: number;
  format: 'table' | 'json';
  durationS?: number;
  command?: string[];
  replayPages?: number;
  bufferKb?: number;
  clock?: string;
  version: string;
  write: (s: string) => void;
  log: (s: string) => void;
}

export interface LiveResult { report: Report; events: number; cpuS: number; wallS: number; session: SessionResult }

export interface VcpuLine { pid: number | null; vm: string; vcpu: number | null; tid: number; exits_per_s: number; exits: number; tax: number | null; host_share: number | null }
export interface IntervalSummary {
  type: 'interval';
  t_s: number;
  interval_s: number;
  events: number;
  exits: number;
  exits_per_s: number;
  tax: number | null;
  vcpus: VcpuLine[];
  reasons: { reason: string; exits: number; exits_per_s: number; p50_ns: number | null; p99_ns: number | null }[];
  halt_poll: { attempted: number; successful: number; success_rate: number | null } | null;
  run_delay_p99_ns: number | null;
}

const SORTS = ['exits', 'tax', 'host'] as const;

/** The figures of one interval: rates from the difference with the previous report. */
export function intervalOf(r: Report, prev: Report | undefined, tS: number, dtS: number, top: number, events: number): IntervalSummary {
  const prevVcpu = new Map<string, { exits: number; host: number }>();
  for (const vm of prev?.vms ?? []) for (const v of vm.vcpus) prevVcpu.set(`${vm.pid}/${v.tid}`, { exits: v.exits_seen, host: v.host_ns });
  const prevReason = new Map((prev?.reasons ?? []).map((x) => [x.reason, x.exits_seen] as const));
  const rate = (n: number): number => (dtS > 0 ? Math.round((n / dtS) * 10) / 10 : 0);
  const vcpus: VcpuLine[] = [];
  for (const vm of r.vms) {
    for (const v of vm.vcpus) {
      const p = prevVcpu.get(`${vm.pid}/${v.tid}`) ?? { exits: 0, host: 0 };
      vcpus.push({
        pid: vm.pid, vm: vm.name, vcpu: v.vcpu, tid: v.tid, exits: v.exits_seen, exits_per_s: rate(v.exits_seen - p.exits),
        tax: v.tax, host_share: dtS > 0 ? Math.round(((v.host_ns - p.host) / (dtS * 1e9)) * 1000) / 1000 : null,
      });
    }
  }
  const reasons = r.reasons.slice().sort((a, b) => b.exits_seen - a.exits_seen).slice(0, top).map((x) => ({
    reason: x.reason, exits: x.exits_seen, exits_per_s: rate(x.exits_seen - (prevReason.get(x.reason) ?? 0)), p50_ns: x.p50_ns, p99_ns: x.p99_ns,
  }));
  const halt = (r as unknown as { halt?: { available: boolean; vcpus?: { halt_attempted_poll: number; halt_successful_poll: number }[] } }).halt;
  let halt_poll: IntervalSummary['halt_poll'] = null;
  if (halt?.available && halt.vcpus) {
    const attempted = halt.vcpus.reduce((s, v) => s + v.halt_attempted_poll, 0);
    const successful = halt.vcpus.reduce((s, v) => s + v.halt_successful_poll, 0);
    halt_poll = { attempted, successful, success_rate: attempted ? Math.round((successful / attempted) * 1000) / 1000 : null };
  }
  const sched = (r as unknown as { sched?: { available: boolean; vcpus?: { run_delay: { p99_ns: number | null } }[] } }).sched;
  const p99s = (sched?.available ? sched.vcpus ?? [] : []).map((v) => v.run_delay.p99_ns).filter((x): x is number => x !== null);
  const exits = r.totals.exits_seen;
  return {
    type: 'interval', t_s: Math.round(tS * 1000) / 1000, interval_s: Math.round(dtS * 1000) / 1000, events, exits,
    exits_per_s: rate(exits - (prev?.totals.exits_seen ?? 0)), tax: r.totals.tax, vcpus, reasons, halt_poll,
    run_delay_p99_ns: p99s.length ? Math.max(...p99s) : null,
  };
}

const us = (ns: number | null): string => (ns === null ? '-' : ns >= 1e6 ? `${(ns / 1e6).toFixed(1)}ms` : `${(ns / 1e3).toFixed(1)}us`);
const pct = (x: number | null): string => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);
/** names from a trace are data: no terminal control */
const clean = (s: string): string => s.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');

/** The top-like screen of one interval, each line cut to the terminal's width. */
export function screenOf(s: IntervalSummary, sort: typeof SORTS[number], top: number, width: number): string {
  const lines: string[] = [];
  lines.push(`kvmtax live  t=${s.t_s.toFixed(1)}s  events ${s.events}  exits ${s.exits} (${s.exits_per_s}/s)  tax ${pct(s.tax)}  halt-poll ${s.halt_poll ? `${s.halt_poll.successful}/${s.halt_poll.attempted} ${pct(s.halt_poll.success_rate)}` : '-'}  run delay p99 ${us(s.run_delay_p99_ns)}`);
  lines.push(`sort: ${sort} (s: next sort, q: quit)`);
  lines.push('');
  lines.push(`${'VM'.padEnd(24)} ${'vCPU'.padStart(4)} ${'tid'.padStart(8)} ${'exits/s'.padStart(10)} ${'exits'.padStart(10)} ${'tax'.padStart(7)} ${'host'.padStart(7)}`);
  const key = (v: VcpuLine): number => (sort === 'tax' ? v.tax ?? -1 : sort === 'host' ? v.host_share ?? -1 : v.exits_per_s);
  for (const v of s.vcpus.slice().sort((a, b) => key(b) - key(a)).slice(0, top)) {
    const vm = clean(v.pid === null ? '(unknown)' : `${v.pid}`).slice(0, 24);
    lines.push(`${vm.padEnd(24)} ${String(v.vcpu).padStart(4)} ${String(v.tid).padStart(8)} ${String(v.exits_per_s).padStart(10)} ${String(v.exits).padStart(10)} ${pct(v.tax).padStart(7)} ${pct(v.host_share).padStart(7)}`);
  }
  lines.push('');
  lines.push(`${'reason'.padEnd(24)} ${'exits/s'.padStart(10)} ${'exits'.padStart(10)} ${'p50'.padStart(9)} ${'p99'.padStart(9)}`);
  for (const x of s.reasons) lines.push(`${clean(x.reason).slice(0, 24).padEnd(24)} ${String(x.exits_per_s).padStart(10)} ${String(x.exits).padStart(10)} ${us(x.p50_ns).padStart(9)} ${us(x.p99_ns).padStart(9)}`);
  return lines.map((l) => l.slice(0, Math.max(20, width))).join('\n') + '\n';
}

export async function runLive(o: LiveOptions): Promise<LiveResult> {
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  // a live session may run for hours: the memory budget's young generation (core/young-gen.ts)
  keepYoungGenerationSmall();
  const core = new Core({ topN: Math.max(o.top, 10) });
  const sink = core.sinkFor(core.nextFileIndex());
  let decoder: PageDecoder | undefined;
  let clockRaw = false;
  let prev: Report | undefined;
  let lastT = 0;
  let sort: typeof SORTS[number] = 'exits';
  let meta: { tfs: Tracefs } | undefined;
  const inputsNow = (): InputInfo[] => [{ file: 'live', format: 'trace.dat', clock: clockRaw ? 'raw' : 'ns', bytes: 0, events: decoder?.records ?? 0, first_ts: null, last_ts: null, lost_markers: 0, lost_events: 0 }];
  const summary = (): Report => summarize(core.tables(), inputsNow(), { top: o.top, version: o.version });
  const tick = (elapsedMs: number): void => {
    if (!decoder) return;
    const r = summary();
    const s = intervalOf(r, prev, elapsedMs / 1000, (elapsedMs - lastT) / 1000, o.top, decoder.records);
    prev = r;
    lastT = elapsedMs;
    if (o.format === 'json') o.write(JSON.stringify(s) + '\n');
    else {
      const tty = process.stdout.isTTY;
      o.write((tty ? '\x1b[H\x1b[2J' : '') + screenOf(s, sort, o.top, process.stdout.columns || 100) + (tty ? '' : '\n'));
    }
  };
  const session = await runSession({
    tracefs: o.tracefs, events: o.events, pids: o.pids, durationS: o.durationS, command: o.command, bufferKb: o.bufferKb, clock: o.clock,
    // each poll decodes a batch, with a fixed cost (the formats): a few polls per interval
    pollMs: Math.max(20, Math.min(250, o.intervalMs / 4)), replayPagesPerPoll: o.replayPages ?? 4, tickMs: o.intervalMs, onTick: tick, log: o.log,
    onKey: (k) => {
      if (k === 'q' || k === 'Q') return true;
      if (k === 's') sort = SORTS[(SORTS.indexOf(sort) + 1) % SORTS.length]!;
      return false;
    },
    onStart: (inst) => {
      meta = { tfs: inst.tfs };
      const f = inst.formats();
      decoder = livePageDecoder(sink, {
        pageSize: inst.tfs.pageSize(), ...f, clock: inst.clock(),
        cmdlines: () => inst.tfs.readOpt('saved_cmdlines') ?? '', tgids: () => inst.tfs.readOpt('saved_tgids') ?? '',
      });
    },
    onPages: (pages, exhausted) => decoder!.decode(pages, exhausted),
  });
  decoder!.finish();
  void meta;
  const c = core.endFile();
  clockRaw = c.clock === CLOCK_RAW;
  const inputs: InputInfo[] = [{
    file: 'live', format: 'trace.dat', clock: clockRaw ? 'raw' : 'ns', bytes: 0, events: c.events,
    first_ts: c.events ? Number(c.firstTs) : null, last_ts: c.events ? Number(c.lastTs) : null, lost_markers: c.lostMarkers, lost_events: c.lostEvents,
  }];
  const report = summarize(core.tables(), inputs, { top: o.top, version: o.version });
  const u = process.cpuUsage(cpu0);
  return { report, events: c.events, cpuS: (u.user + u.system) / 1e6, wallS: (Date.now() - t0) / 1000, session };
}

/** "1s", "500ms", "2" (seconds) -> ms */
export function parseInterval(s: string | number): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(String(s).trim());
  if (!m) return undefined;
  const v = Number(m[1]) * (m[2] === 'ms' ? 1 : 1000);
  return v > 0 ? v : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// --in-kernel: hist triggers and a synthetic event instead of pages

export interface InKernelRow { pid: number; reason: string | null; count: number; p50_ns: number | null; p99_ns: number | null; buckets: Record<string, number> }

/** Rows per (pid, reason) from the hist rows: counts, p50/p99 as bucket upper bounds, the buckets. */
export function inKernelRows(rows: HistRow[], reasonOf: (code: number) => string, unitNs = 1): InKernelRow[] {
  const by = new Map<string, { pid: number; reason: number | null; b: Map<number, number> }>();
  for (const r of rows) {
    const k = `${r.pid}/${r.reason}`;
    let e = by.get(k);
    if (!e) by.set(k, (e = { pid: r.pid, reason: r.reason, b: new Map() }));
    e.b.set(r.log2, (e.b.get(r.log2) ?? 0) + r.count);
  }
  return [...by.values()].map((e) => ({
    pid: e.pid, reason: e.reason === null ? null : reasonOf(e.reason), count: [...e.b.values()].reduce((s, n) => s + n, 0),
    p50_ns: scale(bucketQuantile(e.b, 0.5), unitNs), p99_ns: scale(bucketQuantile(e.b, 0.99), unitNs),
    buckets: Object.fromEntries([...e.b].sort((a, b) => a[0] - b[0]).map(([k, n]) => [`2^${k}`, n])),
  })).sort((a, b) => b.count - a.count || a.pid - b.pid);
}

export async function runInKernelLive(o: LiveOptions & { pair: PairSpec; isa: number }): Promise<{ rows: InKernelRow[]; unit: string; hits: number; dropped: number; cpuS: number; wallS: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  let hist: InKernelHist | undefined;
  let last: ReturnType<InKernelHist['read']> = { rows: [], hits: 0, dropped: 0 };
  const reasonOf = (c: number): string => reasonName(o.isa, c);
  const unit = (): number => hist?.unitNs ?? 1;
  const show = (tS: number, final: boolean): void => {
    const rows = inKernelRows(last.rows, reasonOf, unit());
    if (o.format === 'json') {
      if (!final) o.write(JSON.stringify({ type: 'interval', t_s: Math.round(tS * 1000) / 1000, bucket_unit: unit() === 1 ? 'ns' : 'us', hits: last.hits, dropped: last.dropped, rows: rows.slice(0, o.top) }) + '\n');
      return;
    }
    const tty = process.stdout.isTTY && !final;
    const lines = [`kvmtax live --in-kernel  t=${tS.toFixed(1)}s  ${o.pair.start.join(':')} -> ${o.pair.end.join(':')}  pairs ${last.hits}${last.dropped ? `  dropped ${last.dropped}` : ''}`, '',
      `${'pid'.padStart(8)} ${'reason'.padEnd(24)} ${'count'.padStart(10)} ${'p50<='.padStart(10)} ${'p99<='.padStart(10)}`];
    for (const r of rows.slice(0, o.top)) lines.push(`${String(r.pid).padStart(8)} ${(r.reason ?? '-').slice(0, 24).padEnd(24)} ${String(r.count).padStart(10)} ${fmtNs(r.p50_ns).padStart(10)} ${fmtNs(r.p99_ns).padStart(10)}`);
    o.write((tty ? '\x1b[H\x1b[2J' : '') + lines.map((l) => l.slice(0, Math.max(20, process.stdout.columns || 100))).join('\n') + '\n\n');
  };
  const events = [`${o.pair.start[0]}:${o.pair.start[1]}`, `${o.pair.end[0]}:${o.pair.end[1]}`];
  await runSession({
    tracefs: o.tracefs, events, pids: o.pids, durationS: o.durationS, command: o.command, clock: o.clock, noPages: true,
    pollMs: 50, tickMs: o.intervalMs, log: o.log,
    onKey: (k) => k === 'q' || k === 'Q',
    onStart: (inst) => {
      if (inst.missing.length) throw new KvmtaxError(`event missing: ${inst.missing.join(', ')}: --in-kernel needs both`);
      hist = new InKernelHist(inst.tfs, inst, o.pair);
      hist.setup();
      if (hist.firstError) o.log(`kvmtax: common_timestamp in ns was refused (${hist.firstError}); histograms are in us`);
    },
    onTick: (ms) => { if (hist) { last = hist.read(); show(ms / 1000, false); } },
    onStop: () => { if (hist) { last = hist.read(); hist.teardown(); } },
    onPages: () => {},
  });
  const u = process.cpuUsage(cpu0);
  return { rows: inKernelRows(last.rows, reasonOf, unit()), unit: unit() === 1 ? 'ns' : 'us', hits: last.hits, dropped: last.dropped, cpuS: (u.user + u.system) / 1e6, wallS: (Date.now() - t0) / 1000 };
}

function scale(v: number | null, k: number): number | null { return v === null ? null : v * k; }

function fmtNs(ns: number | null): string { return ns === null ? '-' : ns >= 1e6 ? `${(ns / 1e6).toFixed(1)}ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(1)}us` : `${ns}ns`; }
