/**
 * significant(RULE): a gate rule that fires only when the pooled figures breach it and the runs show a
 * real difference (MIN_RUNS runs a side, Welch's p after Holm's correction across the significant
 * rules below ALPHA), with the minimum detectable effect stated. Real captures as runs.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCompare } from '../../src/cli/compare.js';
import { holm, MIN_RUNS, parseRules } from '../../src/analysis/runs/failif.js';
import { bootstrapDiff } from '../../src/analysis/runs/stats.js';
import { ROOT } from '../support/paths.js';

const T = (n: string) => path.join(ROOT, 'traces', n, 'trace.txt.xz');
const A = T('svm-A-baseline'), B = T('svm-B-disable-exits'), D = T('svm-D-small');

describe('Holm', () => {
  it('adjusts step-down, monotone, capped at 1', () => {
    expect(holm([0.01, 0.04, 0.03]).map((p) => Number(p.toFixed(6)))).toEqual([0.03, 0.06, 0.06]);
    expect(holm([0.5, 0.9])).toEqual([1, 1]);
    expect(holm([])).toEqual([]);
  });
});

describe('significant(...)', () => {
  it('parses, and points at the column inside', () => {
    const [r] = parseRules(['significant(tax > +5%)']);
    expect(r).toMatchObject({ significant: true, figure: 'tax', kind: 'change', text: 'significant(tax > +5%)' });
    expect(() => parseRules(['significant(tax >> 5%)'])).toThrow(/column 18/);
  });
  it(`needs ${MIN_RUNS} runs a side: else not evaluated (exit 4 in the CLI)`, async () => {
    const { notEvaluated } = await runCompare({ before: [A, D], after: [B, D], failIf: ['significant(tax > +1%)'] });
    expect(notEvaluated).toEqual([`--fail-if "significant(tax > +1%)" not evaluated: significant(...) needs ${MIN_RUNS} runs a side or more (before: 2, after: 2); give more traces a side, or --split vm`]);
  });
  it('the same runs on both sides: the pooled rule fires, the significant one does not', async () => {
    const runs = [A, B, D];
    const { comparison, breach } = await runCompare({ before: runs, after: [...runs].reverse(), failIf: ['tax >= +0%', 'significant(tax >= +0%)'] });
    const [plain, sig] = comparison.fail_if!;
    expect(plain!.status).toBe('breached');
    expect(sig!.status).toBe('ok');
    expect(sig!.detail).toMatch(/runs 3 vs 3: Welch p 1\.0, Holm-adjusted 1\.0 over 1 significant\(\) rule \(not significant at 0\.05\); smallest difference these runs detect \(power 0\.8\): \d/);
    expect(breach).toMatch(/breached: tax >= \+0%/);
    expect(breach).not.toMatch(/significant\(/);
  });
  it('a real change with consistent runs is significant, and fires', async () => {
    const { comparison } = await runCompare({ before: [A, A, A], after: [B, B, B], failIf: ['significant(halted < -10pp)', 'significant(exits_per_s(interrupt) > +100%)'] });
    for (const r of comparison.fail_if!) {
      expect(r.status).toBe('breached');
      expect(r.detail).toMatch(/Holm-adjusted [0-9.e-]+ over 2 significant\(\) rules \(significant at 0\.05\)/);
    }
  });
  it('percentiles are tested by a seeded bootstrap over the runs, with its interval', async () => {
    const { comparison } = await runCompare({ before: [A, D, A], after: [B, D, B], failIf: ['significant(p99 > +1%)', 'significant(p99 < -1%)'] });
    for (const r of comparison.fail_if!) expect(r.detail).toMatch(/runs 3 vs 3: bootstrap over runs \(4000 resamples\), 95% interval of the difference -?[\d.]+ \w+ \.\. -?[\d.]+ \w+, p [\d.e-]+, Holm-adjusted/);
    // the same answer every run (seeded)
    const again = await runCompare({ before: [A, D, A], after: [B, D, B], failIf: ['significant(p99 > +1%)', 'significant(p99 < -1%)'] });
    expect(again.comparison.fail_if).toEqual(comparison.fail_if);
  });
});

describe('bootstrapDiff', () => {
  it('identical samples: p 1, interval around 0; shifted: p at its floor, interval excludes 0', () => {
    const same = bootstrapDiff([1, 2, 3], [1, 2, 3])!;
    expect(same.p).toBe(1);
    expect(same.ci[0]).toBeLessThanOrEqual(0);
    expect(same.ci[1]).toBeGreaterThanOrEqual(0);
    const shifted = bootstrapDiff([1, 2, 3], [11, 12, 13])!;
    expect(shifted.diff).toBe(10);
    expect(shifted.p).toBe(1 / 4000);
    expect(shifted.ci[0]).toBeGreaterThan(0);
    expect(bootstrapDiff([1], [2, 3])).toBeNull();
  });
});
