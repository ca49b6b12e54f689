/**
 * `kvmtax merge REPORT.json...`: per-host JSON reports (made with --histograms) reduced to one report of
 * the same shape, exactly: counts, sums and histograms add (the log-linear buckets are the same
 * everywhere, src/core/histogram.ts), percentiles are recomputed from the merged histogram by the
 * same rule as the report (nearest rank, the bucket's midpoint clamped to the exact min and max), and
 * VMs are kept apart (each report's VMs, vCPUs and per-vCPU sections come along with their file).
 * Associative and commutative up to order: a fleet's reports reduce in any map-reduce engine.
 *
 * What a report does not carry cannot be merged exactly, and the result says so in its notes:
 *   - standard deviations: rebuilt from each input's mean and (0.1 ns-rounded) stddev, so exact to
 *     that rounding;
 *   - msr/port/mmio per-key percentiles of a key found in several inputs (no per-key histograms): null
 *     (counts, sums, min, max, mean and stddev are merged);
 *   - the span of the merged trace is the sum of the inputs' spans (exits_per_s is over it).
 */
import { stats } from '../summary.js';
import { SCHEMA_VERSION, type Report, type ReasonRow, type Stats, type TopRow, type KeyRow as KeyRowLike } from '../types.js';
import { Histogram, bucketOf } from '../../core/histogram.js';
import { cmp, ratio } from '../numbers.js';

export class MergeError extends Error {}


/** sum of squares from n, mean and the sample standard deviation */
function sumsqOf(n: number, sum: number, sd: number | null): number {
  if (n === 0) return 0;
  const m = sum / n;
  return (sd ?? 0) ** 2 * Math.max(0, n - 1) + n * m * m;
}

function histOf(rows: Array<{ histogram?: Array<[number, number, number]>; exits_handled: number; total_ns: number; min_ns: number | null; max_ns: number | null; stddev_ns: number | null }>): Histogram {
  const h = new Histogram();
  for (const r of rows) {
    for (const [lo, , c] of r.histogram ?? []) h.addBucket(bucketOf(lo), c);
    h.n += r.exits_handled;
    h.sum += r.total_ns;
    h.addSumsq(sumsqOf(r.exits_handled, r.total_ns, r.stddev_ns));
    if (r.exits_handled > 0 && r.min_ns !== null && r.max_ns !== null) {
      h.min = Math.min(h.min, r.min_ns);
      h.max = Math.max(h.max, r.max_ns);
    }
  }
  return h;
}

/** Check that every input is a report this merge understands. `names` label the errors. */
export function checkMergeable(reports: unknown[], names: string[]): Report[] {
  if (reports.length === 0) throw new MergeError('no reports to merge');
  return reports.map((r, i) => {
    const rep = r as Partial<Report>;
    const name = names[i] ?? `input ${i + 1}`;
    if (!rep || typeof rep !== 'object' || !rep.kvmtax || !Array.isArray(rep.reasons) || !Array.isArray(rep.vms)) {
      throw new MergeError(`${name}: not a kvmtax JSON report (kvmtax report --format json --histograms)`);
    }
    if (rep.kvmtax.schema !== SCHEMA_VERSION) {
      throw new MergeError(`${name}: report schema ${rep.kvmtax.schema} (kvmtax ${rep.kvmtax.version}), this kvmtax merges schema ${SCHEMA_VERSION} only`);
    }
    const bad = rep.reasons.find((x) => x.exits_handled > 0 && !Array.isArray(x.histogram));
    if (bad) throw new MergeError(`${name}: reason "${bad.reason}" has no histogram: make the report with --histograms to merge it exactly`);
    if (!rep.quality || !rep.totals || !rep.timeline) throw new MergeError(`${name}: the report lacks totals, quality or timeline (made with --sections?): merge needs whole reports`);
    const neg = negativeCount(rep as Report);
    if (neg) throw new MergeError(`${name}: ${neg} is negative: not a report kvmtax made (counts and times are never below 0)`);
    return rep as Report;
  });
}

/** The first count or summed time below 0 in a report (an edited or corrupted one), as its JSON path. */
function negativeCount(r: Report): string | null {
  const bad = (v: unknown) => typeof v === 'number' && v < 0;
  const COUNTS = ['exits_seen', 'exits_handled', 'total_ns', 'host_ns', 'overhead_ns', 'halted_ns', 'wall_ns', 'guest_ns'] as const;
  const row = (o: Record<string, unknown> | undefined, at: string): string | null => {
    if (!o) return null;
    for (const k of COUNTS) if (bad(o[k])) return `${at}.${k}`;
    const h = o.histogram;
    if (Array.isArray(h)) for (let i = 0; i < h.length; i++) if (Array.isArray(h[i]) && bad(h[i][2])) return `${at}.histogram[${i}] count`;
    return null;
  };
  const t = row(r.totals as unknown as Record<string, unknown>, 'totals');
  if (t) return t;
  for (let i = 0; i < r.reasons.length; i++) { const x = row(r.reasons[i] as unknown as Record<string, unknown>, `reasons[${i}] (${r.reasons[i]!.reason})`); if (x) return x; }
  for (let i = 0; i < (r.inputs ?? []).length; i++) {
    const f = r.inputs[i]!;
    for (const k of ['events', 'bytes', 'lost_events', 'lost_markers'] as const) if (bad(f[k])) return `inputs[${i}].${k}`;
  }
  for (let v = 0; v < r.vms.length; v++) {
    const vm = r.vms[v]!;
    for (let c = 0; c < vm.vcpus.length; c++) {
      const cpu = vm.vcpus[c]!;
      const x = row(cpu as unknown as Record<string, unknown>, `vms[${v}].vcpus[${c}]`);
      if (x) return x;
      for (const [k, rr] of (cpu.reasons ?? []).entries()) { const y = row(rr as unknown as Record<string, unknown>, `vms[${v}].vcpus[${c}].reasons[${k}]`); if (y) return y; }
    }
  }
  return null;
}

/**
 * Refuse a trace that two inputs both hold (the same report given twice, or two reports of one trace):
 * its counts would add up twice. A trace is known by its name, format, size, events and time span.
 */
function checkNoTraceTwice(reps: Report[], names: string[]): void {
  const seen = new Map<string, number>();
  reps.forEach((r, k) => {
    for (const f of r.inputs) {
      const id = JSON.stringify([f.file, f.format, f.bytes, f.events, f.first_ts, f.last_ts]);
      const j = seen.get(id);
      if (j !== undefined && j !== k) {
        throw new MergeError(`${names[j] ?? `input ${j + 1}`} and ${names[k] ?? `input ${k + 1}`} both hold the trace ${f.file} (${f.events} events, the same size and time span): merging would count it twice`);
      }
      if (j === undefined) seen.set(id, k);
    }
  });
}

export function mergeReports(input: unknown[], names: string[] = []): Report {
  const reps = checkMergeable(input, names);
  checkNoTraceTwice(reps, names);
  const units = new Set(reps.map((r) => r.unit));
  if (units.size > 1) throw new MergeError('the reports are in different units (ns and cycles): make them with --tsc-khz');
  const unit = reps[0]!.unit;
  const notes = new Set<string>();
  for (const r of reps) for (const n of r.notes) notes.add(n);

  // ---- inputs, renumbered: report k's file i becomes offset[k] + i ----
  const offset: number[] = [];
  const inputs: Report['inputs'] = [];
  for (const r of reps) {
    offset.push(inputs.length);
    inputs.push(...r.inputs);
  }

  // ---- quality ----
  const q0 = reps.map((r) => r.quality);
  const byName: Record<string, number> = {};
  for (const q of q0) for (const [k, n] of Object.entries(q.events_by_name)) byName[k] = (byName[k] ?? 0) + n;
  const events_by_name: Record<string, number> = {};
  for (const k of Object.keys(byName).sort((a, b) => byName[b]! - byName[a]! || cmp(a, b))) events_by_name[k] = byName[k]!;
  const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((s, x) => s + f(x), 0);
  const firsts = q0.map((q) => q.first_ts).filter((x): x is number => x !== null);
  const lasts = q0.map((q) => q.last_ts).filter((x): x is number => x !== null);
  const spanNs = sum(q0, (q) => q.span_ns);
  const unpaired = { ...q0[0]!.unpaired };
  for (const k of Object.keys(unpaired) as Array<keyof typeof unpaired>) unpaired[k] = sum(q0, (q) => q.unpaired[k]);
  const quality: Report['quality'] = {
    events_read: sum(q0, (q) => q.events_read),
    lines_read: q0.every((q) => q.lines_read !== null) ? sum(q0, (q) => q.lines_read!) : null,
    events_by_name,
    exit_entry_present: q0.some((q) => q.exit_entry_present),
    first_ts: firsts.length ? Math.min(...firsts) : null,
    last_ts: lasts.length ? Math.max(...lasts) : null,
    span_ns: spanNs,
    unpaired,
    lost: { markers: sum(q0, (q) => q.lost.markers), events: sum(q0, (q) => q.lost.events) },
    skipped: q0.flatMap((q) => q.skipped),
    dictionary_overflow: sum(q0, (q) => q.dictionary_overflow),
  };
  const perSecond = (n: number, ns: number) => (unit === 'ns' && ns > 0 ? Math.round((n / (ns / 1e9)) * 10) / 10 : null);

  // ---- reasons: histograms add bucket-wise, percentiles from the merged histogram ----
  const byReason = new Map<string, ReasonRow[]>();
  for (const r of reps) for (const x of r.reasons) byReason.set(x.reason, [...(byReason.get(x.reason) ?? []), x]);
  let hostAll = 0, handledAll = 0;
  for (const rows of byReason.values()) { hostAll += sum(rows, (x) => x.total_ns); handledAll += sum(rows, (x) => x.exits_handled); }
  const reasons: ReasonRow[] = [...byReason.entries()].map(([reason, rows]) => {
    const h = histOf(rows);
    const seen = sum(rows, (x) => x.exits_seen);
    const row: ReasonRow = {
      reason, idle: rows[0]!.idle, exits_seen: seen, exits_handled: h.n, exits_per_s: perSecond(seen, spanNs),
      share_exits: ratio(h.n, handledAll) ?? 0, total_ns: h.sum, share_host: ratio(h.sum, hostAll) ?? 0, ...stats(h),
    };
    const failed = sum(rows, (x) => x.failed_vmentry ?? 0);
    if (failed) row.failed_vmentry = failed;
    row.histogram = h.buckets();
    return row;
  });
  reasons.sort((a, b) => b.total_ns - a.total_ns || b.exits_handled - a.exits_handled || cmp(a.reason, b.reason));

  // ---- VMs kept apart ----
  const vms = reps.flatMap((r, k) => r.vms.map((vm) => ({ ...vm, fileIndex: vm.fileIndex + offset[k]! })));
  const allV = vms.flatMap((vm) => vm.vcpus);
  const t = {
    seen: sum(reasons, (x) => x.exits_seen), handled: handledAll, wall: sum(reps, (r) => r.totals.wall_ns), guest: sum(reps, (r) => r.totals.guest_ns),
    host: sum(reps, (r) => r.totals.host_ns), halted: sum(reps, (r) => r.totals.halted_ns),
  };
  void allV;
  const totals: Report['totals'] = {
    exits_seen: t.seen, exits_handled: t.handled, exits_per_s: perSecond(t.seen, spanNs), wall_ns: t.wall, guest_ns: t.guest,
    host_ns: t.host, halted_ns: t.halted, overhead_ns: t.host - t.halted, tax: ratio(t.host - t.halted, t.wall),
    halted_share: ratio(t.halted, t.wall), guest_share: ratio(t.guest, t.wall),
  };

  // ---- the slowest exits of all ----
  const topN = Math.max(...reps.map((r) => r.top.length));
  const top: TopRow[] = reps.flatMap((r) => r.top).sort((a, b) => b.duration_ns - a.duration_ns || a.ts_ns - b.ts_ns || a.tid - b.tid).slice(0, topN);

  // ---- timeline: per-vCPU series side by side, regrouped to the widest bucket ----
  const bucketNs = Math.max(0, ...reps.map((r) => r.timeline.bucket_ns));
  const timeline: Report['timeline'] = {
    bucket_ns: bucketNs,
    vcpus: reps.flatMap((r, k) => r.timeline.vcpus.map((v) => {
      if (r.timeline.bucket_ns === bucketNs || v.buckets.length === 0) return { ...v, file_index: v.file_index + offset[k]! };
      const t0 = v.buckets[0]![0];
      const per = new Map<number, number>();
      for (const [ts, n] of v.buckets) { const b = Math.floor((ts - t0) / bucketNs); per.set(b, (per.get(b) ?? 0) + n); }
      return { ...v, file_index: v.file_index + offset[k]!, buckets: [...per.entries()].sort((a, b) => a[0] - b[0]).map(([b, n]) => [t0 + b * bucketNs, n] as [number, number]) };
    })),
  };

  const isas = new Set(reps.map((r) => r.isa));
  const overheadAll = totals.overhead_ns;
  const merged: Report = {
    kvmtax: { version: reps[0]!.kvmtax.version, schema: SCHEMA_VERSION },
    timeline,
    unit,
    inputs,
    isa: isas.size === 1 ? reps[0]!.isa : 'unknown',
    totals,
    reasons,
    vms,
    top,
    quality,
    notes: [],
    halt: perVcpuSection(reps.map((r) => r.halt)) as Report['halt'],
    timers: perVcpuSection(reps.map((r) => r.timers), (s) => {
      const ns = sumNullable(reps.map((r) => (r.timers.available ? r.timers.exitless_timer_ns : null)));
      s.exitless_timer_ns = ns;
      s.exitless_timer_share_of_overhead = ns === null ? null : ratio(ns, overheadAll);
    }) as Report['timers'],
    ipi: perVcpuSection(reps.map((r) => r.ipi), (s) => {
      const ns = sumNullable(reps.map((r) => (r.ipi.available ? r.ipi.exitless_ipi_ns : null)));
      s.exitless_ipi_ns = ns;
      s.exitless_ipi_share_of_overhead = ns === null ? null : ratio(ns, overheadAll);
    }) as Report['ipi'],
    msr: keySection(reps.map((r) => r.msr), notes, 'msr') as Report['msr'],
    port: keySection(reps.map((r) => r.port), notes, 'port') as Report['port'],
    mmio: keySection(reps.map((r) => r.mmio), notes, 'mmio') as Report['mmio'],
    sched: perVcpuSection(reps.map((r) => r.sched)) as Report['sched'],
  };
  if (reps.length > 1) notes.add(`merged from ${reps.length} reports (kvmtax merge): VMs are kept apart, per-reason figures are over all of them; the span is the sum of the inputs' spans`);
  merged.notes = [...notes];
  return merged;
}

function sumNullable(xs: Array<number | null>): number | null {
  const ys = xs.filter((x): x is number => x !== null);
  return ys.length ? ys.reduce((s, x) => s + x, 0) : null;
}

type Section = { available: boolean; reason?: string; source?: string[]; notes?: string[]; vcpus?: unknown[]; [k: string]: unknown };

/** halt/timers/ipi/sched: per-vCPU rows, concatenated; sources and notes united. */
function perVcpuSection(xs: unknown[], finish?: (s: Record<string, unknown>) => void): unknown {
  const secs = xs as Section[];
  const avail = secs.filter((s) => s.available);
  if (avail.length === 0) return secs[0];
  const out: Record<string, unknown> = { ...avail[0] };
  out.source = [...new Set(avail.flatMap((s) => s.source ?? []))];
  out.notes = [...new Set(avail.flatMap((s) => s.notes ?? []))];
  out.vcpus = avail.flatMap((s) => s.vcpus ?? []);
  finish?.(out);
  return out;
}

/** msr/port/mmio: keys add up; percentiles only where a key comes from a single input. */
function keySection(xs: unknown[], notes: Set<string>, what: string): unknown {
  const secs = xs as Array<Section & { keys?: KeyRowLike[] }>;
  const avail = secs.filter((s) => s.available);
  if (avail.length === 0) return secs[0];
  const by = new Map<string, KeyRowLike[]>();
  for (const s of avail) for (const k of s.keys ?? []) by.set(`${k.key} ${k.dir}`, [...(by.get(`${k.key} ${k.dir}`) ?? []), k]);
  let approximated = 0;
  const keys = [...by.values()].map((rows) => {
    if (rows.length === 1) return rows[0]!;
    const timed = rows.filter((r) => r.exits_handled !== null && r.total_ns !== null);
    const n = timed.reduce((s, r) => s + r.exits_handled!, 0);
    const total = timed.length ? timed.reduce((s, r) => s + r.total_ns!, 0) : null;
    const h = histOf(timed.map((r) => ({ exits_handled: r.exits_handled!, total_ns: r.total_ns!, min_ns: r.min_ns, max_ns: r.max_ns, stddev_ns: r.stddev_ns })));
    const st: Stats = stats(h);
    if (n > 0) approximated++;
    return {
      ...rows[0]!, events: rows.reduce((s, r) => s + r.events, 0), exits_handled: timed.length ? n : null, total_ns: total,
      ...st, p50_ns: null, p90_ns: null, p99_ns: null, p999_ns: null,
    };
  });
  keys.sort((a, b) => (b.total_ns ?? 0) - (a.total_ns ?? 0) || b.events - a.events || cmp(a.key, b.key));
  if (approximated) notes.add(`${what}: ${approximated} keys were seen in several reports; their percentiles are left out (null): the reports carry no per-key histograms`);
  return { ...avail[0], source: [...new Set(avail.flatMap((s) => s.source ?? []))], keys };
}
