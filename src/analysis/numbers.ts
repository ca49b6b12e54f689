/**
 * The rounding and ordering every report figure goes through, once: reports print fixed precision and
 * sort deterministically, so that goldens are stable and a merged or compared report rounds the same way.
 */

/** to 0.1 (ns figures: means, percentiles, standard deviations) */
export const round1 = (x: number): number => Math.round(x * 10) / 10;
/** to 0.01 (percentages) */
export const round2 = (x: number): number => Math.round(x * 100) / 100;
/** to 1e-6 (shares and ratios) */
export const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;
/** a / b to 1e-6, or null when b is not positive */
export const ratio = (a: number, b: number): number | null => (b > 0 ? round6(a / b) : null);
/** plain code-unit string order (not locale order: the same on every machine) */
export const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
