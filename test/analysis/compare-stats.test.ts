/**
 * The statistics of `kvmtax compare` against scipy 1.17 (scipy.stats.t, scipy.stats.ttest_ind with
 * equal_var=False and its confidence_interval(0.95)); the values were computed there and pasted here.
 */
import { describe, expect, it } from 'vitest';
import { cv, mean, sd, studentTCdf, studentTQuantile, welch } from '../../src/analysis/runs/stats.js';

describe('Student t distribution', () => {
  it.each([
    [0.975, 1, 12.706204736174694], [0.975, 2, 4.302652729749462], [0.975, 5, 2.5705818356363146],
    [0.975, 10, 2.228138851986274], [0.975, 7.3, 2.345066736547703], [0.995, 3.5, 5.085702223091256], [0.9, 30, 1.3104150253913955],
  ])('quantile %f with df %f = %f (scipy t.ppf)', (p, df, q) => {
    expect(studentTQuantile(p, df)).toBeCloseTo(q, 8);
    expect(studentTQuantile(1 - p, df)).toBeCloseTo(-q, 8);
  });
  it.each([[1.0, 3, 0.8044988905221148], [-2.5, 7.7, 0.019018545197185398], [0.3, 1.5, 0.5997639015982075]])(
    'cdf(%f, df %f) = %f (scipy t.cdf)', (t, df, p) => expect(studentTCdf(t, df)).toBeCloseTo(p, 10));
});

describe('mean, sd, cv', () => {
  it('by hand: 2, 4, 4, 4, 5, 5, 7, 9', () => {
    const xs = [2, 4, 4, 4, 5, 5, 7, 9];
    expect(mean(xs)).toBe(5);
    // sum of squares 32, n - 1 = 7
    expect(sd(xs)).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(cv(xs)).toBeCloseTo(Math.sqrt(32 / 7) / 5, 12);
  });
  it('no spread from one value', () => {
    expect(Number.isNaN(sd([3]))).toBe(true);
    expect(cv([3])).toBeNull();
  });
});

describe("Welch's t-test (scipy ttest_ind equal_var=False)", () => {
  it('exit taxes of four baseline and three cpu-pm runs', () => {
    const a = [0.3348, 0.3412, 0.3301, 0.339];
    const b = [0.3854, 0.3799, 0.3921];
    const w = welch(a, b)!;
    expect(w.t).toBeCloseTo(11.532329464005688, 9);
    expect(w.df).toBeCloseTo(3.803853076976351, 9);
    expect(w.p).toBeCloseTo(0.00042507501755941244, 10);
    expect(w.ci[0]).toBeCloseTo(0.03735526340486454, 9);
    expect(w.ci[1]).toBeCloseTo(0.061694736595135434, 9);
    expect(sd(a)).toBeCloseTo(0.004898554208471453, 12);
    expect(sd(b)).toBeCloseTo(0.006109828148156045, 12);
  });
  it('a noisy after side: the interval includes 0', () => {
    const w = welch([10, 12, 11, 13, 9, 10], [20, 35, 5, 50])!;
    expect(w.t).toBeCloseTo(1.7180203318601235, 9);
    expect(w.df).toBeCloseTo(3.0231287093332346, 9);
    expect(w.p).toBeCloseTo(0.18358950827758047, 9);
    expect(w.ci[0]).toBeCloseTo(-14.073332399076786, 7);
    expect(w.ci[1]).toBeCloseTo(47.40666573241012, 7);
  });
  it('needs two values a side; no spread at all gives an exact difference', () => {
    expect(welch([1], [2, 3])).toBeNull();
    expect(welch([1, 1], [2, 2])).toMatchObject({ diff: 1, p: 0, ci: [1, 1] });
    expect(welch([1, 1], [1, 1])).toMatchObject({ diff: 0, p: 1 });
  });
});
