/**
 * The lever models against real before/after pairs (traces/, provenance in traces/README.md): the
 * stored calibration data is what the traces give, each cpu-pm pair is predicted by a fit on the
 * others (leave-one-out), and the forecasts hold where the issue says they must.
 */
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { buildLevers, checkForecast, dedicated, sameLoad, SAME_LOAD, fitCpuPm, forecastCpuPm, heldOutCpuPm, heldOutDelta, fitDelta, looCpuPm, looDelta, PAIR_LIST, termsOf } from '../../src/analysis/levers/index.js';
import { PAIRS } from '../../src/analysis/levers/pairs-data.js';
import { whatIf } from '../../src/analysis/runs/whatif.js';
import { ROOT, TRACES } from '../support/paths.js';

const trace = (d: string) => path.join(TRACES, d, 'trace.txt.xz');
/** measured (README "Which lever to pull"): the pairs whose baseline did not have its host CPUs to itself */
/** measured: the pairs made after SAME_LOAD was fixed that met the same load (none: the load swung), and those in range */
const SAME_LOAD_AFTER_RULE: string[] = [];
const INSIDE_AFTER_RULE = ['s3-1542 U->V', 's3-1546 O->P'];
const NOT_DEDICATED = ['M2->N2', 's3-1535 M->N', 'smp1 M->N', 'smp1 A->B'];
/** measured (README "Held out on an idle host"): the held-out pairs outside the shipped fit's range */
const HELD_OUT_MISSES = ['s4-1745 W->Y', 's4-1800 S->L'];


describe('calibration pairs', () => {
  it('pairs-data.ts holds every listed pair, as the traces give it', async () => {
    expect(PAIRS.map((p) => p.name)).toEqual(PAIR_LIST.map((p) => p.name));
    for (const p of PAIRS) {
      expect(termsOf(await analyze([trace(p.from)]))).toEqual(p.before);
      expect(termsOf(await analyze([trace(p.to)]))).toEqual(p.after);
    }
  }, 240_000);

  it('cpu-pm leave-one-out: each pair predicted by a fit on the others', () => {
    const rows = looCpuPm();
    const mine = PAIRS.filter((p) => p.lever === 'cpu-pm' && !p.heldOut && dedicated(p)).map((p) => p.name);
    expect(rows.map((r) => r.pair)).toEqual(mine);
    expect(rows.length).toBeGreaterThanOrEqual(14);
    for (const r of rows) expect(r.fitted_on).not.toContain(r.pair);
    // svm-A -> svm-B, not fitted on: in the range
    expect(rows.find((r) => r.pair === 'A->B')!.inside).toBe(true);
    // measured: every same-load pair inside the range fitted on the other same-load pairs; the pairs whose
    // machine load changed between their two runs are outside the forecast's assumption (listed in README)
    const same = rows.filter((r) => r.same_load);
    expect(same.length).toBeGreaterThanOrEqual(9);
    expect(same.filter((r) => !r.inside).map((r) => r.pair)).toEqual([]);
    for (const r of same) expect(r.high! - r.low!).toBeLessThan(0.13);
    expect(rows.filter((r) => !r.same_load).every((r) => r.load_ratio! < 1 / SAME_LOAD || r.load_ratio! > SAME_LOAD)).toBe(true);
  });

  it('the run-delay term: O2->P2, whose baseline waited 4.8 ms for its CPU per wake-up, lands in range; on the 9 earlier pairs the band narrows', () => {
    const o2 = PAIRS.find((p) => p.name === 'O2->P2')!;
    // 164 halts that blocked x 4.76 ms mean run delay: 70% of the halted time
    expect(o2.before.wake_delay_ns / o2.before.halted_ns).toBeGreaterThan(0.6);
    const nine = PAIRS.filter((p) => !p.name.startsWith('s3-') && !p.heldOut);
    const without = nine.map((p) => ({ ...p, before: { ...p.before, wake_delay_ns: 0 } }));
    const a = looCpuPm(without, { anyLoad: true }), b = looCpuPm(nine, { anyLoad: true });
    expect(a.filter((r) => !r.inside).map((r) => r.pair)).toEqual(['O2->P2']);
    expect(b.filter((r) => !r.inside).map((r) => r.pair)).toEqual([]);
    const widest = (rows: typeof a) => Math.max(...rows.map((r) => r.high! - r.low!));
    expect(widest(b)).toBeLessThan(widest(a));
  });

  it('held out for real: fitted on the session-2 pairs, the session-3 same-load pairs (made later) land in range', () => {
    const fit = fitCpuPm(PAIRS.filter((p) => !p.name.startsWith('s3-')));
    const later = PAIRS.filter((p) => p.name.startsWith('s3-') && p.lever === 'cpu-pm' && dedicated(p) && sameLoad(p));
    expect(later.length).toBeGreaterThanOrEqual(3);
    const missed = later.filter((p) => {
      const f = forecastCpuPm(p.before, fit.box, fit.point, fit.band);
      return !(p.after.tax! >= f.tax.low! && p.after.tax! <= f.tax.high!);
    }).map((p) => p.name);
    expect(missed).toEqual([]);
  });

  it('the pairs made after the load rule was fixed (s3-1535 on): every one met a load change (ratio 0.35-5.1), none a same-load test; 2 of 7 in range', () => {
    const fit = fitCpuPm(PAIRS.filter((p) => (/^s3-(\d{4})/.exec(p.name)?.[1] ?? '0') < '1535'));
    const later = PAIRS.filter((p) => (/^s3-(\d{4})/.exec(p.name)?.[1] ?? '0') >= '1535' && p.lever === 'cpu-pm');
    expect(later.length).toBeGreaterThanOrEqual(7);
    expect(later.filter(sameLoad).map((p) => p.name)).toEqual(SAME_LOAD_AFTER_RULE);
    const inside = later.filter((p) => {
      const f = forecastCpuPm(p.before, fit.box, fit.point, fit.band);
      return p.after.tax! >= f.tax.low! && p.after.tax! <= f.tax.high!;
    }).map((p) => p.name);
    expect(inside).toEqual(INSIDE_AFTER_RULE);
  });

  it('held out on an idle host (session 4): the fit that ships, which saw none of them, holds 9 of the 10 same-load pairs and 5 of the 6 others', () => {
    const fit = fitCpuPm();
    const held = PAIRS.filter((p) => p.heldOut && p.lever === 'cpu-pm');
    expect(held.length).toBe(16);
    for (const p of held) expect(fit.pairs).not.toContain(p.name);
    const rows = heldOutCpuPm();
    expect(rows.map((r) => r.pair)).toEqual(held.map((p) => p.name));
    expect(rows.every((r) => r.dedicated)).toBe(true);
    expect(rows.filter((r) => !r.inside).map((r) => r.pair)).toEqual(HELD_OUT_MISSES);
    const same = rows.filter((r) => r.same_load);
    expect(same.length).toBe(10);
    expect(same.filter((r) => !r.inside).map((r) => r.pair)).toEqual(['s4-1800 S->L']);
    for (const r of same.filter((r) => r.inside)) expect(Math.abs(r.error_pp!)).toBeLessThan(6);
    // the same-load miss: its baseline's halts ran 3.8x as long as the other idle-host S run's (934 vs 244 ms,
    // the same 1,246-1,247 HLT exits; its VMM timed hlt_short at 1211 vs 585 ms); the model turns a baseline's
    // halted time into guest time, so a baseline slow to wake forecasts too low a tax
    const s1 = PAIRS.find((p) => p.name === 's4-1747 S->L')!, s2 = PAIRS.find((p) => p.name === 's4-1800 S->L')!;
    expect(s2.before.halted_ns / s1.before.halted_ns).toBeGreaterThan(3.5);
    expect(Math.abs(s2.before.hlt_exits - s1.before.hlt_exits)).toBeLessThanOrEqual(2);
  });

  it('host halt-polling held out on an idle host: the ranges that ship (2 ms: from A->F and A2->F2; off: from A->C) hold the 4 new pairs', () => {
    const raise = heldOutDelta('haltpoll-2ms'), off = heldOutDelta('haltpoll-off');
    expect(raise.map((r) => [r.pair, r.inside])).toEqual([['s4-1803 A->F', true], ['s4-1805 A->F', true]]);
    expect(off.map((r) => [r.pair, r.inside])).toEqual([['s4-1804 A->C', true], ['s4-1806 A->C', true]]);
    // the ranges they are checked against are the ones fitted without them
    const without = PAIRS.filter((p) => !p.heldOut);
    expect([raise[0]!.low, raise[0]!.high]).toEqual(fitDelta('haltpoll-2ms', without)!.tax_pp);
    expect([off[0]!.low, off[0]!.high]).toEqual(fitDelta('haltpoll-off', without)!.tax_pp);
    expect(looDelta('haltpoll-2ms').map((r) => r.pair)).toEqual(['A->F', 'A2->F2']);
  });

  it('host halt-polling leave-one-out: the two 2 ms pairs disagree (+1.7 and -2.3 pp): neither holds the other', () => {
    const rows = looDelta('haltpoll-2ms');
    expect(rows.map((r) => [r.pair, r.inside])).toEqual([['A->F', false], ['A2->F2', false]]);
    expect(looDelta('haltpoll-off')).toEqual([]);
  });

  it('cpu-pm on svm-A holds svm-B\'s measured 38.54% (the issue\'s miss: 33.5-35.5%)', async () => {
    const a = await analyze([trace('svm-A-baseline')]);
    const b = await analyze([trace('svm-B-disable-exits')]);
    const w = whatIf(a, 'cpu-pm');
    expect(b.totals.tax).toBeCloseTo(0.385362, 6);
    expect(w.estimate.tax_low!).toBeLessThan(b.totals.tax!);
    expect(w.estimate.tax_high!).toBeGreaterThan(b.totals.tax!);
    // what-if and levers are one model
    const lv = buildLevers(a);
    // 1626 x2APIC EOI writes exit: no APIC virtualization, as the model assumes
    expect(lv.host.apic).toBe('not-virtualized');
    const cp = lv.levers.find((l) => l.id === 'cpu-pm')!;
    expect(cp.effect.tax_after!.low).toBeCloseTo(w.estimate.tax_low!, 6);
    expect(cp.effect.tax_after!.high).toBeCloseTo(w.estimate.tax_high!, 6);
    // per unit of work: svm-A marks 8 phases (port 0x502)
    expect(cp.figures.exits_per_unit).toBeCloseTo(18169 / 8, 6);
    // exitless IPI: the levers' bound and --what-if remove the same ICR-write time
    const ipi = lv.levers.find((l) => l.id === 'exitless-ipi')!;
    const wi = whatIf(a, 'exitless-ipi');
    expect(ipi.effect.tax_after!.low).toBeCloseTo(wi.estimate.tax_low!, 6);
    expect(ipi.figures.icr_exits_ns).toBe(wi.estimate.removed_overhead_ns);
    // cpu-pm + posted interrupts + exitless IPI: at best cpu-pm without its added interrupt exits (kappa 0)
    // and without the ICR-write time; at worst cpu-pm's own range
    const fit = fitCpuPm();
    const f0 = forecastCpuPm(termsOf(a), { ...fit.box, kappa: [0, 0] }, { ...fit.point, kappa: 0 }, fit.band);
    const combo = lv.combinations.find((x) => x.levers.join('+') === 'cpu-pm+exitless-timer+exitless-ipi')!;
    expect(combo.delta_pp!.low).toBeCloseTo(100 * (f0.tax.low! - wi.estimate.removed_overhead_ns / a.totals.wall_ns - a.totals.tax!), 1);
    expect(combo.delta_pp!.high).toBe(cp.effect.delta_pp!.high);
    expect(lv.combinations.map((x) => x.levers.join('+'))).toContain('hints-realtime+host-haltpoll');
    const c = checkForecast('cpu-pm', a, b);
    expect(c.rows.map((r) => [r.figure, r.inside])).toEqual([['tax', true], ['exits_per_s', true], ['wall_ns', true]]);
    expect(c.absolute.after.units).toBe(8);
    // svm-B handled CPUID, port and MSR exits at 1.02x svm-A's cost: the same load, as the forecast assumes
    expect(c.load.same).toBe(true);
    expect(c.load.ratio).toBeCloseTo(1.02, 2);
  }, 60_000);

  it('SMP=1 (vCPUs on one host CPU): cpu-pm not advised, and the run really got 4-7x longer', async () => {
    for (const [before, after] of [['svm1-A-baseline', 'svm1-B-disable-exits'], ['svm1-M-small', 'svm1-N-small-cpupm']] as const) {
      const r = await analyze([trace(before)]);
      const cp = buildLevers(r).levers.find((l) => l.id === 'cpu-pm')!;
      expect(cp.status).toBe('not-advised');
      expect(cp.verdict).toMatch(/share host CPUs/);
      expect(cp.effect.tax_after!.high).toBeNull();
      expect(whatIf(r, 'cpu-pm').not_advised).toMatch(/share host CPUs/);
      const p = PAIRS.find((x) => x.from === before)!;
      expect(p.after.wall_ns / p.before.wall_ns).toBeGreaterThan(4);
    }
  }, 60_000);

  it('the fit uses only the pairs whose baseline had its host CPUs to itself', async () => {
    const fit = fitCpuPm();
    expect(fit.pairs).toEqual(PAIRS.filter((p) => p.lever === 'cpu-pm' && !p.heldOut && !p.shared && !(p.before.preempt_per_s_max! > 50) && sameLoad(p)).map((p) => p.name));
    expect(PAIRS.filter((p) => p.lever === 'cpu-pm' && !p.heldOut && !dedicated(p)).map((p) => p.name)).toEqual(NOT_DEDICATED);
    // svm-rep2-M-small: vCPU 0 preempted 120 times in 0.30 s; cpu-pm is not advised, and the run took 4.3x as long
    const m2 = buildLevers(await analyze([trace('svm-rep2-M-small')]));
    expect(m2.host).toMatchObject({ shared: false, contended: true });
    expect(m2.levers.find((l) => l.id === 'cpu-pm')!.verdict).toMatch(/^other tasks preempt the vCPU threads/);
    const p = PAIRS.find((x) => x.name === 'M2->N2')!;
    expect(p.after.wall_ns / p.before.wall_ns).toBeGreaterThan(4);
    expect(fit.point.rho).toBe(1);
    expect(fit.point.omega).toBe(0);
  });

  it('host halt-polling: svm-A\'s few polls point at a larger window; the A->F pair gives the range', async () => {
    const a = await analyze([trace('svm-A-baseline')]);
    const f = await analyze([trace('svm-F-haltpoll-2ms')]);
    const hp = buildLevers(a).levers.find((l) => l.id === 'host-haltpoll')!;
    expect(hp.status).toBe('advised-if');
    expect(hp.verdict).toMatch(/^only 1 of 1111 halts polled/);
    expect(hp.effect.tax_after!.low!).toBeLessThan(f.totals.tax!);
    expect(hp.effect.tax_after!.high!).toBeGreaterThan(f.totals.tax!);
  }, 60_000);

  it('kvmtax compare --forecast cpu-pm and kvmtax advise on real captures', () => {
    const bin = path.join(ROOT, 'bin/kvmtax.js');
    const run = spawnSync(process.execPath, [bin, 'compare', 'traces/svm-A-baseline/trace.txt.xz', '--vs', 'traces/svm-B-disable-exits/trace.txt.xz', '--forecast', 'cpu-pm', '-f', 'json'], { cwd: ROOT, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const j = JSON.parse(run.stdout);
    expect(j.forecast_check.lever).toBe('cpu-pm');
    expect(j.forecast_check.rows[0]).toMatchObject({ figure: 'tax', inside: true });
    // the eight phases of both runs side by side (svm-B's msr phase: 83.96 ms against svm-A's 77.18 ms)
    expect(j.forecast_check.phases).toHaveLength(8);
    expect(j.forecast_check.phases[3]).toMatchObject({ vcpu: 0, index: 4, before: { wall_ns: 77_176_000 }, after: { wall_ns: 83_962_000 } });
    const adv = spawnSync(process.execPath, [bin, 'advise', 'traces/svm1-A-baseline/trace.txt.xz'], { cwd: ROOT, encoding: 'utf8' });
    expect(adv.status).toBe(0);
    expect(adv.stdout).toMatch(/^Levers \(ranked\)\n/);
    expect(adv.stdout).toMatch(/cpu-pm +not-advised/);
  });
});
