/**
 * Before vs after: the figures of two sides (each one or more runs: traces, or the VMs of traces)
 * side by side, with their delta and ratio, the reasons that vanished or appeared, the spread of each
 * side over its runs and Welch's test of the difference (stats.ts), and the VMs and vCPUs paired.
 *
 * Pure: it takes Reports (src/analysis/types.ts) and knows nothing of files or the command line.
 *
 * A compared figure is one entry of FIGURES (core figures, overall and per exit reason). Sections that
 * later versions add to the Report (halt-polling, timers, IPIs: report.halt, report.timers, report.ipi,
 * ...) are compared without code here: every numeric field reached through plain objects of a top-level
 * Report key that is not a core one becomes the figure "section.path.to.field" (SECTION_FIGURES can give
 * such a figure its unit, title and direction when the name does not tell).
 *
 * Definitions:
 *   before / after     the side's pooled value: all its traces read as one report (what `kvmtax report`
 *                      prints for them)
 *   delta              after - before;  ratio = after / before;  change = delta / before
 *   runs               a side's traces (--split file, each file one run) or VMs (--split vm)
 *   mean, sd, cv       over the side's runs (sd: n-1; cv = sd / |mean|)
 *   test               Welch's t-test of mean(after runs) - mean(before runs): 95% CI and two-sided p
 *
 * Over 500 lines because the figure table (FIGURES, SECTION_FIGURES), the pairing of runs, VMs and vCPUs
 * and the per-figure statistics are one definition of "a compared figure"; split, each part would need
 * the others' types and helpers.
 */
import type { Report, VmRow, VcpuRow } from '../types.js';
import { Histogram, bucketOf } from '../../core/histogram.js';
import { isIdleReason } from '../../core/reasons.js';
import * as S from './stats.js';
import { round1, round6 } from '../numbers.js';

export const COMPARE_SCHEMA_VERSION = 1;
export const CONFIDENCE = 0.95;

export type FigureUnit = 'ratio' | 'ns' | 'per_s' | 'count' | 'number';
export type Better = 'lower' | 'higher' | 'none';

/** One exit reason of one run, as the compared figures read it. */
export interface ReasonFigures {
  idle: boolean;
  exits_seen: number;
  exits_handled: number;
  exits_per_s: number | null;
  total_ns: number;
  /** host time of the reason / vCPU wall time: its part of the exit tax (of the halted share if idle) */
  tax: number | null;
  mean_ns: number | null;
  p50_ns: number | null;
  p99_ns: number | null;
}

/** One run (a trace, one VM of a trace) or a pooled side. */
export interface RunView {
  id: string;
  file: string;
  /** the VM's name for a VM run */
  vm: string | null;
  vcpus: number;
  unit: 'ns' | 'cycles';
  exits_seen: number;
  /** exits followed by their kvm_entry: what report and perf kvm stat count */
  exits_handled: number;
  exits_per_s: number | null;
  tax: number | null;
  halted_share: number | null;
  guest_share: number | null;
  wall_ns: number;
  /** handling-time statistics of all non-idle exits (idle HLT time is not overhead) */
  mean_ns: number | null;
  p50_ns: number | null;
  p99_ns: number | null;
  reasons: Map<string, ReasonFigures>;
  /** numeric fields of the Report's other sections, by "section.path" */
  sections: Map<string, number>;
}

export interface FigureDef {
  /** the name in --fail-if rules and in JSON */
  name: string;
  title: string;
  unit: FigureUnit;
  better: Better;
  /** 'overall' alone, 'reason' with (REASON) only, 'both' either way */
  takes: 'overall' | 'reason' | 'both';
  /** for a reason absent from a run: 0 (counts, rates, shares) or no value (times) */
  absentIsZero: boolean;
  value(v: RunView, reason?: string): number | null;
  doc: string;
}

const rf = (v: RunView, r: string | undefined) => (r === undefined ? undefined : v.reasons.get(r));

/** The compared figures. A new figure is one more entry here. */
export const FIGURES: FigureDef[] = [
  {
    name: 'tax', title: 'exit tax', unit: 'ratio', better: 'lower', takes: 'both', absentIsZero: true,
    value: (v, r) => (r === undefined ? v.tax : rf(v, r)?.tax ?? 0),
    doc: 'non-idle host handling time / vCPU wall time; of a reason: its host time / vCPU wall time',
  },
  {
    name: 'halted', title: 'halted (idle)', unit: 'ratio', better: 'none', takes: 'overall', absentIsZero: true,
    value: (v) => v.halted_share, doc: 'host time of HLT exits (polling, then blocked) / vCPU wall time',
  },
  {
    name: 'guest', title: 'guest mode', unit: 'ratio', better: 'none', takes: 'overall', absentIsZero: true,
    value: (v) => v.guest_share, doc: 'time in guest mode / vCPU wall time',
  },
  {
    name: 'exits_per_s', title: 'exits/s', unit: 'per_s', better: 'lower', takes: 'both', absentIsZero: true,
    value: (v, r) => (r === undefined ? v.exits_per_s : rf(v, r) ? rf(v, r)!.exits_per_s : v.exits_per_s === null ? null : 0),
    doc: 'kvm_exit events per second of trace time',
  },
  {
    name: 'exits', title: 'exits', unit: 'count', better: 'none', takes: 'both', absentIsZero: true,
    value: (v, r) => (r === undefined ? v.exits_handled : rf(v, r)?.exits_handled ?? 0),
    doc: 'exits handled (followed by their kvm_entry), as report and perf kvm stat count them',
  },
  {
    name: 'mean', title: 'mean handling', unit: 'ns', better: 'lower', takes: 'both', absentIsZero: false,
    value: (v, r) => (r === undefined ? v.mean_ns : rf(v, r)?.mean_ns ?? null),
    doc: 'mean handling time (exit to entry); overall: of the non-idle exits',
  },
  {
    name: 'p50', title: 'p50 handling', unit: 'ns', better: 'lower', takes: 'both', absentIsZero: false,
    value: (v, r) => (r === undefined ? v.p50_ns : rf(v, r)?.p50_ns ?? null),
    doc: 'median handling time; overall: of the non-idle exits',
  },
  {
    name: 'p99', title: 'p99 handling', unit: 'ns', better: 'lower', takes: 'both', absentIsZero: false,
    value: (v, r) => (r === undefined ? v.p99_ns : rf(v, r)?.p99_ns ?? null),
    doc: '99th percentile of the handling time; overall: of the non-idle exits',
  },
];

/** Spread figures of a figure over a side's runs: sd(FIG), cv(FIG). */
export const SPREADS = ['sd', 'cv'] as const;
export type Spread = (typeof SPREADS)[number];

/**
 * Figures of the report's other sections (halt-polling, timers, IPIs, scheduling). Each reads
 * a whole report, or the vCPU rows of one VM (pid) for --split vm; a section the report lacks (or marks
 * `available: false`) gives no value. A new figure is one more entry here; numeric fields of a section
 * not named here are still compared, under their path (see sectionFigures).
 */
export interface SectionFigureDef {
  key: string;
  title: string;
  unit: FigureUnit;
  better: Better;
  value(r: Report, pid?: number | null): number | null;
}

type Obj = Record<string, unknown>;
function section(r: Report, name: string): Obj | undefined {
  const s = (r as unknown as Obj)[name];
  return s && typeof s === 'object' && !Array.isArray(s) && (s as Obj).available !== false ? (s as Obj) : undefined;
}
/** Sum of a numeric field (a path of keys) over a section's vCPU rows (of one VM when pid is given). */
function sumVcpus(r: Report, name: string, ...path: string[]): (pid?: number | null) => number | null {
  return (pid) => {
    const rows = section(r, name)?.vcpus;
    if (!Array.isArray(rows)) return null;
    let sum: number | null = null;
    for (const row of rows as Obj[]) {
      if (pid !== undefined && row.pid !== pid) continue;
      let v: unknown = row;
      for (const k of path) v = v && typeof v === 'object' ? (v as Obj)[k] : undefined;
      if (typeof v === 'number' && Number.isFinite(v)) sum = (sum ?? 0) + v;
    }
    return sum;
  };
}
function field(r: Report, name: string, key: string, pid?: number | null): number | null {
  if (pid !== undefined) return null;
  const v = section(r, name)?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
const per = (x: number | null, y: number | null) => (x === null || y === null || y === 0 ? null : x / y);

export const SECTION_FIGURES: SectionFigureDef[] = [
  ...(['halts', 'halt_successful_poll', 'halt_attempted_poll', 'halt_poll_invalid', 'poll_wakeups', 'wait_wakeups'] as const).map((k) => ({
    key: `halt.${k}`, title: `halt-polling: ${k}`, unit: 'count' as FigureUnit, better: 'none' as Better, value: (r: Report, pid?: number | null) => sumVcpus(r, 'halt', k)(pid),
  })),
  { key: 'halt.poll_success_rate', title: 'halt-polling: successful / attempted polls', unit: 'ratio', better: 'higher',
    value: (r, pid) => per(sumVcpus(r, 'halt', 'halt_successful_poll')(pid), sumVcpus(r, 'halt', 'halt_attempted_poll')(pid)) },
  { key: 'halt.halt_poll_success_ns', title: 'halt-polling: time of successful polls', unit: 'ns', better: 'none', value: (r, pid) => sumVcpus(r, 'halt', 'halt_poll_success_ns')(pid) },
  { key: 'halt.halt_wait_ns_plus_poll_fail_ns', title: 'halt-polling: time of halts that blocked', unit: 'ns', better: 'none', value: (r, pid) => sumVcpus(r, 'halt', 'halt_wait_ns_plus_poll_fail_ns')(pid) },
  { key: 'timers.exitless_timer_ns', title: 'timers: host time an exitless timer would remove', unit: 'ns', better: 'lower', value: (r, pid) => (pid === undefined ? field(r, 'timers', 'exitless_timer_ns') : sumVcpus(r, 'timers', 'tsc_deadline_exits_ns')(pid)) },
  { key: 'timers.exitless_timer_share_of_overhead', title: 'timers: exitless-timer share of the overhead', unit: 'ratio', better: 'lower', value: (r, pid) => field(r, 'timers', 'exitless_timer_share_of_overhead', pid) },
  { key: 'timers.tsc_deadline_writes', title: 'timers: TSC-deadline MSR writes', unit: 'count', better: 'none', value: (r, pid) => sumVcpus(r, 'timers', 'tsc_deadline_writes')(pid) },
  { key: 'timers.preemption_timer_exits', title: 'timers: PREEMPTION_TIMER exits', unit: 'count', better: 'none', value: (r, pid) => sumVcpus(r, 'timers', 'preemption_timer_exits')(pid) },
  { key: 'timers.lapic_expire_early', title: 'timers: kvm_wait_lapic_expire early', unit: 'count', better: 'none', value: (r, pid) => sumVcpus(r, 'timers', 'lapic_expire', 'early')(pid) },
  { key: 'timers.lapic_expire_late', title: 'timers: kvm_wait_lapic_expire late', unit: 'count', better: 'lower', value: (r, pid) => sumVcpus(r, 'timers', 'lapic_expire', 'late')(pid) },
  { key: 'ipi.exitless_ipi_ns', title: 'IPIs: host time an exitless IPI would remove', unit: 'ns', better: 'lower', value: (r, pid) => (pid === undefined ? field(r, 'ipi', 'exitless_ipi_ns') : null) },
  { key: 'ipi.exitless_ipi_share_of_overhead', title: 'IPIs: exitless-IPI share of the overhead', unit: 'ratio', better: 'lower', value: (r, pid) => field(r, 'ipi', 'exitless_ipi_share_of_overhead', pid) },
  { key: 'ipi.icr_writes', title: 'IPIs: x2APIC ICR writes', unit: 'count', better: 'none', value: (r, pid) => sumVcpus(r, 'ipi', 'icr_writes')(pid) },
  { key: 'ipi.apic_write_exits', title: 'IPIs: APIC_WRITE exits', unit: 'count', better: 'none', value: (r, pid) => sumVcpus(r, 'ipi', 'apic_write_exits')(pid) },
  { key: 'sched.preempted_in_guest', title: 'scheduling: preempted in guest mode', unit: 'count', better: 'lower', value: (r, pid) => sumVcpus(r, 'sched', 'preempted_in_guest')(pid) },
  { key: 'sched.preempted_in_host', title: 'scheduling: preempted while handling an exit', unit: 'count', better: 'lower', value: (r, pid) => sumVcpus(r, 'sched', 'preempted_in_host')(pid) },
  { key: 'sched.pause_exits', title: 'scheduling: PAUSE exits', unit: 'count', better: 'none', value: (r, pid) => sumVcpus(r, 'sched', 'pause_exits')(pid) },
];

/** Report keys that are not sections to compare field by field. */
const CORE_KEYS = new Set(['kvmtax', 'unit', 'inputs', 'isa', 'totals', 'reasons', 'vms', 'top', 'quality', 'notes']);

export function figureDef(name: string): FigureDef | undefined {
  return FIGURES.find((f) => f.name === name);
}

/** The unit of a section figure: SECTION_FIGURES, else from its name. */
export function sectionUnit(key: string): FigureUnit {
  const o = SECTION_FIGURES.find((f) => f.key === key)?.unit;
  if (o) return o;
  const last = key.slice(key.lastIndexOf('.') + 1);
  if (/(_ns|_time)$/.test(last)) return 'ns';
  if (/per_s$/.test(last)) return 'per_s';
  if (/_pct$/.test(last)) return 'number';
  if (/(share|rate|ratio|tax)(_of_[a-z_]+)?$/.test(last)) return 'ratio';
  return 'number';
}

// ---------------------------------------------------------------------------------------------------
// Views of runs

/** Numeric fields of the Report's non-core sections, flattened through plain objects (arrays skipped). */
const INTERNAL_FIGURE = /^timeline(\.|$)|(^|\.)(bucket_ns|origin_ns|schema|version)$/;

export function sectionFigures(r: Report, pid?: number | null): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of SECTION_FIGURES) {
    const v = f.value(r, pid);
    if (v !== null) out.set(f.key, v);
  }
  if (pid !== undefined) return out;
  const walk = (o: unknown, path: string, depth: number) => {
    // internal figures (the timeline's bucket width and origin) are settings, not results to compare
    if (INTERNAL_FIGURE.test(path)) return;
    if (typeof o === 'number' && Number.isFinite(o)) { if (!out.has(path)) out.set(path, o); }
    else if (o && typeof o === 'object' && !Array.isArray(o) && depth < 5) {
      for (const [k, v] of Object.entries(o as Record<string, unknown>)) walk(v, `${path}.${k}`, depth + 1);
    }
  };
  for (const [k, v] of Object.entries(r as unknown as Record<string, unknown>)) {
    if (!CORE_KEYS.has(k) && v && typeof v === 'object' && !Array.isArray(v)) walk(v, k, 0);
  }
  return out;
}

/** Handling-time statistics of the non-idle exits, from the reasons' histograms (analyze with histograms). */
function nonIdleStats(r: Report): { mean: number | null; p50: number | null; p99: number | null } {
  const h = new Histogram();
  let n = 0;
  let sum = 0;
  let bucketsAll = true;
  for (const x of r.reasons) {
    if (x.idle || x.exits_handled === 0) continue;
    n += x.exits_handled;
    sum += x.total_ns;
    if (!x.histogram) { bucketsAll = false; continue; }
    for (const [lo, , c] of x.histogram) { h.addBucket(bucketOf(lo), c); h.n += c; }
    if (x.min_ns !== null) h.min = Math.min(h.min, x.min_ns);
    if (x.max_ns !== null) h.max = Math.max(h.max, x.max_ns);
  }
  if (n === 0) return { mean: null, p50: null, p99: null };
  const q = (p: number) => (bucketsAll && h.n > 0 ? Math.round(h.quantile(p) * 10) / 10 : null);
  return { mean: Math.round((sum / n) * 10) / 10, p50: q(0.5), p99: q(0.99) };
}

/** A whole report (one trace, or a side's traces read together) as a run. */
export function viewOfReport(r: Report, id?: string): RunView {
  const reasons = new Map<string, ReasonFigures>();
  const wall = r.totals.wall_ns;
  for (const x of r.reasons) {
    reasons.set(x.reason, {
      idle: x.idle, exits_seen: x.exits_seen, exits_handled: x.exits_handled, exits_per_s: x.exits_per_s, total_ns: x.total_ns,
      tax: wall > 0 ? round6(x.total_ns / wall) : null, mean_ns: x.mean_ns, p50_ns: x.p50_ns, p99_ns: x.p99_ns,
    });
  }
  const s = nonIdleStats(r);
  const vcpus = r.vms.reduce((n, vm) => n + vm.vcpus.filter((c) => c.exits_seen > 0).length, 0);
  return {
    id: id ?? r.inputs.map((f) => f.file).join(' + '), file: r.inputs.map((f) => f.file).join(' + '), vm: null, vcpus,
    unit: r.unit, exits_seen: r.totals.exits_seen, exits_handled: r.totals.exits_handled, exits_per_s: r.totals.exits_per_s, tax: r.totals.tax,
    halted_share: r.totals.halted_share, guest_share: r.totals.guest_share, wall_ns: wall,
    mean_ns: s.mean, p50_ns: s.p50, p99_ns: s.p99, reasons, sections: sectionFigures(r),
  };
}

/**
 * One VM of a report as a run. Rates add up over its vCPUs (each vCPU's exits over its own wall time);
 * shares are over the sum of the vCPUs' wall times. Percentiles of a VM are not in the report (only per
 * vCPU and reason): a VM's p50/p99 of a reason are known only when one vCPU alone had that reason.
 */
export function viewOfVm(vm: VmRow, r: Report): RunView {
  const reasons = new Map<string, ReasonFigures>();
  const rate = (n: number, wall: number) => (r.unit === 'ns' && wall > 0 ? n / (wall / 1e9) : null);
  let wall = 0, guest = 0, halted = 0, exits = 0, handled = 0;
  let eps: number | null = 0;
  let nonIdleN = 0, nonIdleSum = 0;
  const holders = new Map<string, VcpuRow[]>();
  for (const c of vm.vcpus) {
    wall += c.wall_ns; guest += c.guest_ns; halted += c.halted_ns; exits += c.exits_seen; handled += c.exits_handled;
    const e = rate(c.exits_seen, c.wall_ns);
    eps = eps === null || e === null ? (c.exits_seen === 0 ? eps : null) : eps + e;
    for (const x of c.reasons ?? []) {
      let f = reasons.get(x.reason);
      if (!f) {
        reasons.set(x.reason, (f = { idle: isIdleReason(x.reason), exits_seen: 0, exits_handled: 0, exits_per_s: 0, total_ns: 0, tax: null, mean_ns: null, p50_ns: null, p99_ns: null }));
        holders.set(x.reason, []);
      }
      f.exits_seen += x.exits_seen; f.exits_handled += x.exits_handled; f.total_ns += x.total_ns;
      const xr = rate(x.exits_seen, c.wall_ns);
      f.exits_per_s = f.exits_per_s === null || xr === null ? null : f.exits_per_s + xr;
      holders.get(x.reason)!.push(c);
      if (!f.idle) { nonIdleN += x.exits_handled; nonIdleSum += x.total_ns; }
    }
  }
  for (const [reason, f] of reasons) {
    f.tax = wall > 0 ? round6(f.total_ns / wall) : null;
    f.exits_per_s = f.exits_per_s === null ? null : round1(f.exits_per_s);
    f.mean_ns = f.exits_handled > 0 ? round1(f.total_ns / f.exits_handled) : null;
    const h = holders.get(reason)!;
    if (h.length === 1) {
      const x = h[0]!.reasons!.find((y) => y.reason === reason)!;
      f.p50_ns = x.p50_ns; f.p99_ns = x.p99_ns;
    }
  }
  return {
    id: `${vm.file}: ${vm.name}`, file: vm.file, vm: vm.name, vcpus: vm.vcpus.filter((c) => c.exits_seen > 0).length, unit: r.unit,
    exits_seen: exits, exits_handled: handled, exits_per_s: eps === null ? null : round1(eps), tax: vm.tax, halted_share: wall > 0 ? round6(halted / wall) : null,
    guest_share: wall > 0 ? round6(guest / wall) : null, wall_ns: wall,
    mean_ns: nonIdleN > 0 ? round1(nonIdleSum / nonIdleN) : null, p50_ns: null, p99_ns: null, reasons,
    sections: vm.pid !== null && r.vms.filter((x) => x.pid === vm.pid).length === 1 ? sectionFigures(r, vm.pid) : new Map(),
  };
}

// ---------------------------------------------------------------------------------------------------
// The comparison

export interface SideInput {
  label: string;
  /** all the side's traces read together */
  pooled: Report;
  /** the side's runs: one per trace (--split file) or per VM (--split vm) */
  runs: RunView[];
}

export interface SideStats {
  n: number;
  mean: number | null;
  sd: number | null;
  cv: number | null;
  values: Array<number | null>;
}

export interface ComparedFigure {
  /** how --fail-if names it: tax, p99(msr), halt.halt_successful_poll */
  key: string;
  figure: string;
  reason: string | null;
  scope: 'overall' | 'reason' | 'section';
  title: string;
  unit: FigureUnit;
  better: Better;
  before: number | null;
  after: number | null;
  delta: number | null;
  ratio: number | null;
  /** (after - before) / before */
  change: number | null;
  /** per side over its runs, when a side has two runs or more */
  a?: SideStats;
  b?: SideStats;
  /** Welch's t-test of the runs' means (after - before); null below two runs a side */
  test?: (S.WelchResult & { verdict: 'changed' | 'within noise' }) | null;
}

export interface ReasonPresence {
  reason: string;
  idle: boolean;
  presence: 'both' | 'vanished' | 'appeared';
  exits_before: number;
  exits_after: number;
  host_ns_before: number;
  host_ns_after: number;
}

export interface VcpuSide {
  tid: number;
  tax: number | null;
  halted_share: number | null;
  guest_share: number | null;
  exits_per_s: number | null;
  top_reason: string | null;
}

export interface VcpuPair {
  vcpu: number | null;
  before: VcpuSide | null;
  after: VcpuSide | null;
  delta_tax: number | null;
}

export interface VmPair {
  before: { file: string; name: string; pid: number | null; vcpus: Array<number | null> } | null;
  after: { file: string; name: string; pid: number | null; vcpus: Array<number | null> } | null;
  tax_before: number | null;
  tax_after: number | null;
  flags: string[];
  vcpus: VcpuPair[];
}

export interface SideInfo {
  label: string;
  files: string[];
  isa: string;
  runs: Array<{ id: string; vcpus: number }>;
}

export interface Comparison {
  kvmtax: { version: string; schema: number };
  kind: 'comparison';
  unit: 'ns' | 'cycles';
  labels: [string, string];
  split: 'file' | 'vm';
  statistic: { method: 'welch-t'; level: number; description: string };
  sides: [SideInfo, SideInfo];
  reasons: ReasonPresence[];
  figures: ComparedFigure[];
  vm_pairs: VmPair[];
  notes: string[];
  /** filled in by the gate (failif.ts) */
  fail_if?: Array<{ rule: string; status: 'ok' | 'breached' | 'not evaluated'; value: number | null; detail: string }>;
}

export interface CompareOptions {
  split: 'file' | 'vm';
  version: string;
  level?: number;
}

/** Round to 9 significant digits: the JSON stays stable across floating-point noise. */
function sig(x: number | null): number | null {
  if (x === null || !Number.isFinite(x)) return x;
  return x === 0 ? 0 : Number(x.toPrecision(9));
}

function diffs(before: number | null, after: number | null) {
  if (before === null || after === null) return { delta: null, ratio: null, change: null };
  return {
    delta: sig(after - before),
    ratio: before !== 0 ? sig(after / before) : after === 0 ? 1 : null,
    change: before !== 0 ? sig((after - before) / before) : after === 0 ? 0 : null,
  };
}

function sideStats(values: Array<number | null>): SideStats {
  const xs = values.filter((x): x is number => x !== null);
  const full = xs.length === values.length;
  return {
    n: values.length,
    mean: full && xs.length ? sig(S.mean(xs)) : null,
    sd: full && xs.length >= 2 ? sig(S.sd(xs)) : null,
    cv: full && xs.length >= 2 ? sig(S.cv(xs)) : null,
    values: values.map(sig),
  };
}

/** A figure's value for a run; `undefined` reason = overall; section figures by key. */
function valueOf(v: RunView, f: { def?: FigureDef; reason?: string; section?: string }): number | null {
  if (f.section !== undefined) return v.sections.get(f.section) ?? null;
  return f.def!.value(v, f.reason);
}

export function compare(a: SideInput, b: SideInput, opt: CompareOptions): Comparison {
  const level = opt.level ?? CONFIDENCE;
  const notes: string[] = [];
  const pa = viewOfReport(a.pooled);
  const pb = viewOfReport(b.pooled);
  if (a.pooled.unit !== b.pooled.unit) {
    notes.push(`the sides are in different units (${a.label}: ${a.pooled.unit}, ${b.label}: ${b.pooled.unit}): give --tsc-khz so both are in ns`);
  }
  const multi = a.runs.length >= 2 || b.runs.length >= 2;

  // ---- reasons: present on both sides, vanished, appeared ----
  const names = new Set<string>([...pa.reasons.keys(), ...pb.reasons.keys()]);
  const reasons: ReasonPresence[] = [...names].map((reason) => {
    const x = pa.reasons.get(reason);
    const y = pb.reasons.get(reason);
    const before = x?.exits_seen ?? 0;
    const after = y?.exits_seen ?? 0;
    return {
      reason, idle: isIdleReason(reason), presence: before > 0 && after > 0 ? 'both' : before > 0 ? 'vanished' : 'appeared',
      exits_before: before, exits_after: after, host_ns_before: x?.total_ns ?? 0, host_ns_after: y?.total_ns ?? 0,
    } as ReasonPresence;
  });
  const hostOf = (r: ReasonPresence) => Math.max(r.host_ns_before, r.host_ns_after);
  reasons.sort((p, q) => hostOf(q) - hostOf(p) || Math.max(q.exits_before, q.exits_after) - Math.max(p.exits_before, p.exits_after) || (p.reason < q.reason ? -1 : 1));

  // ---- the figures ----
  const figures: ComparedFigure[] = [];
  const add = (key: string, figure: string, scope: ComparedFigure['scope'], title: string, unit: FigureUnit, better: Better,
    reason: string | null, get: (v: RunView) => number | null) => {
    const before = sig(get(pa));
    const after = sig(get(pb));
    const c: ComparedFigure = { key, figure, reason, scope, title, unit, better, before, after, ...diffs(before, after) };
    if (multi) {
      c.a = sideStats(a.runs.map(get));
      c.b = sideStats(b.runs.map(get));
      const xs = c.a.values.filter((x): x is number => x !== null);
      const ys = c.b.values.filter((x): x is number => x !== null);
      const t = c.a.mean !== null && c.b.mean !== null ? S.welch(xs, ys, level) : null;
      c.test = t && {
        diff: sig(t.diff)!, se: sig(t.se)!, df: sig(t.df)!, t: sig(t.t)!, p: sig(t.p)!, level, ci: [sig(t.ci[0])!, sig(t.ci[1])!],
        verdict: t.ci[0] > 0 || t.ci[1] < 0 ? 'changed' : 'within noise',
      };
    }
    figures.push(c);
  };
  for (const d of FIGURES) {
    if (d.takes !== 'reason') add(d.name, d.name, 'overall', d.title, d.unit, d.better, null, (v) => d.value(v));
  }
  for (const r of reasons) {
    for (const d of FIGURES) {
      if (d.takes === 'overall') continue;
      add(`${d.name}(${r.reason})`, d.name, 'reason', `${d.title} (${r.reason})`, d.unit, d.better, r.reason, (v) => d.value(v, r.reason));
    }
  }
  const sectionKeys = [...new Set([...pa.sections.keys(), ...pb.sections.keys()])];
  const order = (k: string) => { const i = SECTION_FIGURES.findIndex((f) => f.key === k); return i < 0 ? SECTION_FIGURES.length : i; };
  sectionKeys.sort((x, y) => order(x) - order(y) || (x < y ? -1 : x > y ? 1 : 0));
  for (const k of sectionKeys) {
    const o = SECTION_FIGURES.find((f) => f.key === k);
    add(k, k, 'section', o?.title ?? k, sectionUnit(k), o?.better ?? 'none', null, (v) => valueOf(v, { section: k }));
  }

  // ---- notes ----
  if (!multi) {
    notes.push('one run a side: no spread and no test; give several traces a side (each is a run), or --split vm to take each VM as a run, to tell a change from noise');
  } else if (a.runs.length < 2 || b.runs.length < 2) {
    notes.push(`a test needs two runs a side or more (${a.label}: ${a.runs.length}, ${b.label}: ${b.runs.length}): only the spread of the side with several runs is shown`);
  }
  for (const d of sidesDiffer(a, b)) notes.push(d);
  if (opt.split === 'vm' && multi) notes.push('with --split vm, a VM\'s p50/p99 is known only where one vCPU alone had the exits (percentiles are kept per vCPU and per reason, not per VM); the pooled percentiles are compared');

  const sideInfo = (s: SideInput): SideInfo => ({
    label: s.label, files: s.pooled.inputs.map((f) => f.file), isa: s.pooled.isa, runs: s.runs.map((r) => ({ id: r.id, vcpus: r.vcpus })),
  });
  const vmPairs = pairVms(a.pooled, b.pooled, notes);
  return {
    kvmtax: { version: opt.version, schema: COMPARE_SCHEMA_VERSION },
    kind: 'comparison',
    unit: a.pooled.unit,
    labels: [a.label, b.label],
    split: opt.split,
    statistic: {
      method: 'welch-t', level,
      description: `mean and sample sd over each side's runs; the difference of the means (${b.label} - ${a.label}) with its ${Math.round(level * 100)}% confidence interval and two-sided p from Welch's t-test (unequal variances, Welch-Satterthwaite degrees of freedom); "changed" when the interval excludes 0`,
    },
    sides: [sideInfo(a), sideInfo(b)],
    reasons,
    figures,
    vm_pairs: vmPairs,
    notes,
  };
}

// ---------------------------------------------------------------------------------------------------
// VMs and vCPUs paired

function vcpuSide(c: VcpuRow): VcpuSide {
  return {
    tid: c.tid, tax: c.tax, halted_share: c.halted_share, guest_share: c.guest_share, exits_per_s: c.exits_per_s,
    top_reason: c.top_reasons[0]?.reason ?? null,
  };
}

/** Host CPUs a vCPU thread ran on, if a later report carries them (e.g. `cpus: number[]`). */
function hostCpus(c: VcpuRow): number[] | undefined {
  const x = (c as unknown as { cpus?: unknown; host_cpus?: unknown });
  const v = x.cpus ?? x.host_cpus;
  return Array.isArray(v) && v.every((n) => typeof n === 'number') ? (v as number[]) : undefined;
}

/**
 * VMs pair in order (file, then pid) when each side has the same number of them; vCPUs pair by id.
 * Flags: a VM without a counterpart, different vCPU counts or ids, an unknown VM (no tgid in the trace),
 * and vCPU threads seen on several host CPUs (unpinned) when the report says where threads ran.
 */
/** Notes that start so are printed as warnings by the CLI: the two sides were not recorded alike. */
export const SIDES_DIFFER = 'the sides differ:';

/**
 * What the traces say about where and how they were recorded (host name, kernel, CPUs, trace clock, the
 * recorder, whether kvm_vcpu_wakeup was recorded), compared between the sides: each difference is a
 * note starting SIDES_DIFFER. A side's value is the set over its traces; only values the traces carry
 * are compared (text traces say little).
 */
export function sidesDiffer(a: SideInput, b: SideInput): string[] {
  const facts = (r: Report): Map<string, Set<string>> => {
    const m = new Map<string, Set<string>>();
    const add = (k: string, v: unknown) => {
      if (v === undefined || v === null || v === '' || v === '(none)') return;
      if (!m.has(k)) m.set(k, new Set());
      m.get(k)!.add(String(v));
    };
    for (const f of r.inputs) {
      const meta = (f.meta ?? {}) as Record<string, unknown>;
      add('host name', meta.hostname);
      add('kernel', meta.os_release);
      add('CPUs', meta.nr_cpus ?? meta.cpus);
      add('trace clock', meta.clock ?? (f.clock === 'raw' ? 'x86-tsc (raw)' : undefined));
      if (typeof meta.cmdline === 'string') add('recorder', /\bkvm\b.*\bstat\b.*\brecord\b/.test(meta.cmdline) ? 'perf kvm stat record' : 'perf record');
    }
    // only a side that halted can say whether wake-ups were recorded (with cpu-pm there are no halts)
    if (r.reasons.some((x) => x.idle && x.exits_seen > 0)) add('kvm_vcpu_wakeup recorded', (r.quality.events_by_name['kvm_vcpu_wakeup'] ?? 0) > 0 ? 'yes' : 'no');
    return m;
  };
  const fa = facts(a.pooled), fb = facts(b.pooled);
  const out: string[] = [];
  for (const [k, va] of fa) {
    const vb = fb.get(k);
    if (!vb) continue;
    const sa = [...va].sort().join(', '), sb = [...vb].sort().join(', ');
    if (sa !== sb) {
      const why = k === 'kvm_vcpu_wakeup recorded' ? ' (without it all HLT time counts as halted: tax and halted are not comparable)'
        : k === 'recorder' ? ' (perf kvm stat record has no kvm_vcpu_wakeup)' : '';
      out.push(`${SIDES_DIFFER} ${k} ${a.label}: ${sa}, ${b.label}: ${sb}${why}`);
    }
  }
  return out;
}

export function pairVms(a: Report, b: Report, notes: string[]): VmPair[] {
  const live = (r: Report) => r.vms.filter((vm) => vm.vcpus.some((c) => c.exits_seen > 0));
  const va = live(a);
  const vb = live(b);
  const out: VmPair[] = [];
  if (va.length !== vb.length) notes.push(`the sides have different numbers of VMs (${va.length} and ${vb.length}): VMs are paired in order as far as they go`);
  let pinKnown = false;
  const n = Math.max(va.length, vb.length);
  for (let i = 0; i < n; i++) {
    const x = va[i];
    const y = vb[i];
    const flags: string[] = [];
    const desc = (vm: VmRow) => ({ file: vm.file, name: vm.name, pid: vm.pid, vcpus: vm.vcpus.filter((c) => c.exits_seen > 0).map((c) => c.vcpu) });
    if (!x || !y) flags.push(`no counterpart on the ${x ? 'after' : 'before'} side`);
    if (x && y) {
      const ca = x.vcpus.filter((c) => c.exits_seen > 0);
      const cb = y.vcpus.filter((c) => c.exits_seen > 0);
      if (ca.length !== cb.length) flags.push(`differently sized: ${ca.length} vs ${cb.length} vCPUs`);
      else if (ca.map((c) => c.vcpu).join() !== cb.map((c) => c.vcpu).join()) flags.push('different vCPU ids');
      if (x.pid === null || y.pid === null) flags.push('VM unknown (the trace does not say which process each thread belongs to)');
    }
    const unpinned: string[] = [];
    for (const [side, vm] of [['before', x], ['after', y]] as const) {
      for (const c of vm?.vcpus ?? []) {
        const cpus = hostCpus(c);
        if (cpus === undefined) continue;
        pinKnown = true;
        if (cpus.length > 1) unpinned.push(`${side} vCPU ${c.vcpu ?? '?'} on CPUs ${cpus.join(',')}`);
      }
    }
    if (unpinned.length) flags.push(`unpinned: ${unpinned.join('; ')}`);
    const ids = new Set<number | null>([...(x?.vcpus ?? []), ...(y?.vcpus ?? [])].filter((c) => c.exits_seen > 0).map((c) => c.vcpu));
    const vcpus: VcpuPair[] = [...ids].sort((p, q) => (p ?? 1e9) - (q ?? 1e9)).map((id) => {
      const ca = x?.vcpus.find((c) => c.vcpu === id && c.exits_seen > 0);
      const cb = y?.vcpus.find((c) => c.vcpu === id && c.exits_seen > 0);
      return {
        vcpu: id, before: ca ? vcpuSide(ca) : null, after: cb ? vcpuSide(cb) : null,
        delta_tax: ca?.tax != null && cb?.tax != null ? sig(cb.tax - ca.tax) : null,
      };
    });
    out.push({ before: x ? desc(x) : null, after: y ? desc(y) : null, tax_before: x?.tax ?? null, tax_after: y?.tax ?? null, flags, vcpus });
  }
  if (out.length && !pinKnown) notes.push('pinning is not checked: the report does not say which host CPUs each vCPU thread ran on');
  return out;
}

/** Look a figure up by its --fail-if key parts; reason names match exactly, then ignoring case. */
export function findFigure(c: Comparison, figure: string, reason: string | null): ComparedFigure | undefined {
  const exact = c.figures.find((f) => f.figure === figure && f.reason === reason);
  if (exact || reason === null) return exact;
  const lc = reason.toLowerCase();
  return c.figures.find((f) => f.figure === figure && f.reason !== null && f.reason.toLowerCase() === lc);
}
