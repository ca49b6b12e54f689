/**
 * `kvmtax compare BEFORE --vs AFTER --forecast LEVER`: the lever's forecast made on "before" (the levers
 * section's own ranges) against what "after" measured, figure by figure: in the range or not. Absolute
 * figures come along, because a share can hide a slowdown (a similar tax over a run twice as long).
 */
import type { Report } from '../types.js';
import { buildLevers, type Range } from './levers.js';
import { termsOf } from './terms.js';
import { loadRatio, SAME_LOAD } from './calibration.js';
import type { PhaseSection } from './phases.js';

export const FORECAST_LEVERS = ['cpu-pm', 'host-haltpoll', 'exitless-timer', 'exitless-ipi'];

export interface CheckRow {
  figure: 'tax' | 'exits_per_s' | 'wall_ns';
  before: number | null;
  low: number | null;
  point: number | null;
  high: number | null;
  measured: number | null;
  /** null: no range to check against */
  inside: boolean | null;
}

export interface ForecastCheck {
  lever: string;
  status: string;
  verdict: string;
  basis: string;
  calibration: string;
  rows: CheckRow[];
  absolute: {
    before: { wall_ns: number; guest_ns: number; host_ns: number; exits: number; units: number | null };
    after: { wall_ns: number; guest_ns: number; host_ns: number; exits: number; units: number | null };
  };
  /**
   * how much longer the after run took to handle the exits cpu-pm leaves alone (CPUID, port, MSR): 1 = the
   * same machine load, as the forecast assumes; outside 1/SAME_LOAD .. SAME_LOAD the check tests a load
   * change as much as the lever
   */
  load: { ratio: number | null; same: boolean | null; note: string };
  /** the phases of work on each side, timed (compare --forecast reads the exit rows); absent when neither side marks any */
  phases?: Array<{ index: number; vcpu: number | null; before: PhaseFigures | null; after: PhaseFigures | null }>;
}

export interface PhaseFigures { wall_ns: number; exits: number; tax: number | null; overhead_ns: number; guest_ns: number }

function row(figure: CheckRow['figure'], before: number | null, r: Range | null, measured: number | null): CheckRow {
  const low = r?.low ?? null, high = r?.high ?? null;
  const inside = r === null || low === null || measured === null ? null : measured >= low - 1e-12 && (high === null || measured <= high + 1e-12);
  return { figure, before, low, point: r?.point ?? null, high, measured, inside };
}

export function checkForecast(lever: string, before: Report, after: Report, phases?: { before: PhaseSection | null; after: PhaseSection | null }): ForecastCheck {
  const lv = buildLevers(before, { phases: phases?.before ?? null, perVm: false });
  const l = lv.levers.find((x) => x.id === lever);
  if (!l) throw new Error(`no lever ${lever}`);
  const b = termsOf(before), a = termsOf(after);
  const eps = (t: typeof b) => (t.span_ns > 0 ? t.exits / (t.span_ns / 1e9) : null);
  const abs = (t: typeof b) => ({ wall_ns: t.wall_ns, guest_ns: t.guest_ns, host_ns: t.host_ns, exits: t.exits, units: t.units });
  return {
    lever, status: l.status, verdict: l.verdict, basis: l.effect.basis, calibration: l.calibration,
    rows: [
      row('tax', b.tax, l.effect.tax_after, a.tax),
      row('exits_per_s', eps(b), l.effect.exits_per_s_after, eps(a)),
      row('wall_ns', b.wall_ns, l.effect.wall_after_ns, a.wall_ns),
    ],
    absolute: { before: abs(b), after: abs(a) },
    load: loadOf(b, a),
    ...(phases && (phases.before || phases.after) ? { phases: pairPhases(phases.before, phases.after) } : {}),
  };
}

function loadOf(b: ReturnType<typeof termsOf>, a: ReturnType<typeof termsOf>): ForecastCheck['load'] {
  const s = loadRatio(b, a);
  if (s === null) return { ratio: null, same: null, note: 'no exits that both runs handle alike (CPUID, port, MSR): the load ratio is unknown' };
  const same = s >= 1 / SAME_LOAD && s <= SAME_LOAD;
  return {
    ratio: Math.round(s * 1000) / 1000, same,
    note: same ? `after handled the exits cpu-pm leaves alone at ${s.toFixed(2)}x the before's cost: the same load, as the forecast assumes`
      : `after handled the exits cpu-pm leaves alone at ${s.toFixed(2)}x the before's cost: the machine's load changed between the runs, and the forecast assumes it did not (on our emulated pairs such a change moved the tax by up to 12 pp)`,
  };
}

/** The phases of both sides side by side, matched by marking vCPU and order (the same workload run twice). */
function pairPhases(b: PhaseSection | null, a: PhaseSection | null): NonNullable<ForecastCheck['phases']> {
  const fig = (p: PhaseSection['phases'][number]): PhaseFigures => ({ wall_ns: p.wall_ns, exits: p.exits, tax: p.tax, overhead_ns: p.overhead_ns, guest_ns: p.guest_ns });
  const key = (p: PhaseSection['phases'][number]) => `${p.vcpu ?? `t${p.tid}`}:${p.index}`;
  const out = new Map<string, NonNullable<ForecastCheck['phases']>[number]>();
  for (const p of b?.phases ?? []) out.set(key(p), { index: p.index, vcpu: p.vcpu, before: fig(p), after: null });
  for (const p of a?.phases ?? []) {
    const o = out.get(key(p));
    if (o) o.after = fig(p); else out.set(key(p), { index: p.index, vcpu: p.vcpu, before: null, after: fig(p) });
  }
  return [...out.values()];
}
