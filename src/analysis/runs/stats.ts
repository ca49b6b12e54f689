/**
 * Small-sample statistics for comparing two sets of runs (or VMs): mean, sample standard deviation,
 * coefficient of variation, and Welch's two-sample t-test with the confidence interval of the
 * difference of the means.
 *
 * Why Welch's t (and not a bootstrap, nor Student's pooled t):
 *  - a side is a handful of runs or VMs (2..20): a bootstrap CI needs far more samples to be honest,
 *    and with n = 3 it can only resample 10 distinct sets;
 *  - the spread is itself what changes (cpu-pm made it ten times smaller across 12 pinned VMs), so the
 *    equal-variance assumption of Student's pooled t is exactly the one that fails; Welch's test does
 *    not make it (Welch-Satterthwaite degrees of freedom);
 *  - it is the default of R's t.test and of scipy.stats.ttest_ind(equal_var=False), so a user can check
 *    every number (test/analysis/compare-stats.test.ts does, against scipy's values).
 * Student's t distribution is computed here (regularized incomplete beta by Lentz's continued
 * fraction), so no dependency is needed.
 */

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample variance (n - 1 in the denominator); NaN below two values. */
export function variance(xs: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return s / (n - 1);
}

/** Sample standard deviation; NaN below two values. */
export function sd(xs: readonly number[]): number {
  return Math.sqrt(variance(xs));
}

/** Coefficient of variation sd / |mean|; null when the mean is 0 or there are fewer than two values. */
export function cv(xs: readonly number[]): number | null {
  const m = mean(xs);
  const s = sd(xs);
  if (!Number.isFinite(s) || m === 0 || !Number.isFinite(m)) return null;
  return s / Math.abs(m);
}

// ---- Student's t distribution ----

const LANCZOS = [676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];

/** ln Gamma(x) for x > 0 (Lanczos, g = 7: about 15 significant digits). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  x -= 1;
  let a = 0.99999999999980993;
  const t = x + 7.5;
  for (let i = 0; i < 8; i++) a += LANCZOS[i]! / (x + i + 1);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betacf(a: number, b: number, x: number): number {
  const TINY = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d; if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c; if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d; if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c; if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b). */
export function betaInc(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lbt = lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  const bt = Math.exp(lbt);
  return x < (a + 1) / (a + b + 2) ? (bt * betacf(a, b, x)) / a : 1 - (bt * betacf(b, a, 1 - x)) / b;
}

/** P(T <= t) for Student's t with df degrees of freedom (df may be fractional, as Welch's is). */
export function studentTCdf(t: number, df: number): number {
  if (Number.isNaN(t)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = 0.5 * betaInc(df / (df + t * t), df / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t with df degrees of freedom (bisection on the CDF, to 1e-12). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) return p === 0 ? -Infinity : p === 1 ? Infinity : NaN;
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) { lo = hi; hi *= 2; if (hi > 1e12) return Infinity; }
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid; else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface WelchResult {
  /** mean(b) - mean(a) */
  diff: number;
  /** standard error of the difference */
  se: number;
  /** Welch-Satterthwaite degrees of freedom */
  df: number;
  t: number;
  /** two-sided p-value */
  p: number;
  /** confidence level of ci, e.g. 0.95 */
  level: number;
  ci: [number, number];
}

/**
 * Welch's two-sample t-test of mean(b) - mean(a) with its `level` confidence interval. Null when a side
 * has fewer than two values. With no spread at all on either side the difference is exact: p is 1 when
 * the means are equal, 0 otherwise, and the interval is the difference itself.
 */
export function welch(a: readonly number[], b: readonly number[], level = 0.95): WelchResult | null {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 < 2 || n2 < 2) return null;
  const v1 = variance(a) / n1;
  const v2 = variance(b) / n2;
  const diff = mean(b) - mean(a);
  const se = Math.sqrt(v1 + v2);
  if (se === 0) {
    return { diff, se: 0, df: n1 + n2 - 2, t: diff === 0 ? 0 : diff > 0 ? Infinity : -Infinity, p: diff === 0 ? 1 : 0, level, ci: [diff, diff] };
  }
  const df = ((v1 + v2) * (v1 + v2)) / ((v1 * v1) / (n1 - 1) + (v2 * v2) / (n2 - 1));
  const t = diff / se;
  const p = Math.min(1, 2 * studentTCdf(-Math.abs(t), df));
  const q = studentTQuantile(1 - (1 - level) / 2, df);
  return { diff, se, df, t, p, level, ci: [diff - q * se, diff + q * se] };
}

/** mulberry32: a small seeded PRNG, so that a bootstrap gives the same answer on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface BootstrapResult {
  diff: number;
  /** percentile interval of mean(b*) - mean(a*) over the resamples */
  ci: [number, number];
  /** two-sided: twice the smaller share of resampled differences on either side of 0 (at least 1/B) */
  p: number;
  resamples: number;
}

/**
 * Percentile bootstrap of the difference of the means of two samples of runs (each side resampled with
 * replacement, `resamples` times, seeded): for percentiles (p50, p99), whose per-run values are not
 * normally distributed, instead of Welch's t.
 */
export function bootstrapDiff(a: readonly number[], b: readonly number[], level = 0.95, resamples = 4000, seed = 0x6b766d74): BootstrapResult | null {
  if (a.length < 2 || b.length < 2) return null;
  const rnd = prng(seed);
  const draw = (xs: readonly number[]) => {
    let s = 0;
    for (let i = 0; i < xs.length; i++) s += xs[Math.floor(rnd() * xs.length)]!;
    return s / xs.length;
  };
  const d = new Float64Array(resamples);
  for (let i = 0; i < resamples; i++) d[i] = draw(b) - draw(a);
  d.sort();
  const q = (p: number) => d[Math.min(resamples - 1, Math.max(0, Math.floor(p * resamples)))]!;
  let le = 0, ge = 0;
  for (const x of d) { if (x <= 0) le++; if (x >= 0) ge++; }
  const p = Math.min(1, Math.max(1 / resamples, (2 * Math.min(le, ge)) / resamples));
  return { diff: mean(b) - mean(a), ci: [q((1 - level) / 2), q(1 - (1 - level) / 2)], p, resamples };
}
