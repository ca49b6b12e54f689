/**
 * The cpu-pm model (KVM_CAP_X86_DISABLE_EXITS: HLT, MWAIT, PAUSE and C-state reads stop exiting), as
 * mechanisms with four calibrated parameters. From the baseline's terms (terms.ts):
 *
 *   stays     B  = overhead − HLT rest − MWAIT/PAUSE time      the exits that keep trapping
 *   delivery  O' = ρ·B + κ·wakes·c                              ρ: the kept exits' cost after the change
 *                                                               (timer and IPI delivery to a vCPU that idles
 *                                                               in guest mode: kicks instead of wake-ups);
 *                                                               κ·c: the interrupt exits added per wake-up
 *                                                               (the wake-up, and the host interrupts that
 *                                                               landed while the vCPU was blocked, now
 *                                                               interrupt a vCPU in guest mode), in units of
 *                                                               the baseline's mean exit cost c
 *   idle      W' = W − R + ω·H                                  the halted time H becomes guest time, but for
 *                                                               R, the run delay inside the halts (terms.ts
 *                                                               wake_delay_ns: a woken vCPU thread that waits
 *                                                               for its CPU is still "halted"; a vCPU that never
 *                                                               sleeps has no such wait); the run gets shorter
 *                                                               (ω < 0) or longer (ω > 0) beyond that
 *   exits     N' = N − HLT − MWAIT − PAUSE + κn·wakes           κn: interrupt exits added per wake-up
 *   tax' = O'/W'; guest' = W' − O'; exits/s' = N' / (span·W'/W)
 *
 * A parameter box (the smallest and largest value each parameter took over the calibration pairs) gives
 * the range: tax' grows with ρ and κ and falls with ω, so its ends are two corners of the box.
 */
import type { Terms } from './terms.js';

export interface CpuPmParams { rho: number; kappa: number; kappa_n: number; omega: number }
export type Box = { [K in keyof CpuPmParams]: [number, number] };

export interface CpuPmForecast {
  params: CpuPmParams;
  box: Box;
  tax: { low: number | null; point: number | null; high: number | null };
  overhead_ns: { low: number; point: number; high: number };
  wall_ns: { low: number; point: number; high: number };
  guest_ns: { low: number; point: number; high: number };
  exits: { low: number; point: number; high: number };
  exits_per_s: { low: number | null; point: number | null; high: number | null };
  added_exits: { low: number; point: number; high: number };
  /** overhead that leaves: HLT rest + MWAIT/PAUSE */
  removed_ns: number;
  removed_exits: number;
}

/** The parameters a real before/after pair implies (the inverse of the model). */
export function observeCpuPm(b: Terms, a: Terms): CpuPmParams | null {
  const kept = b.overhead_ns - b.hlt_rest_ns - b.stop_ns;
  if (b.wakes <= 0 || kept <= 0 || !b.exit_mean_ns || b.halted_ns <= 0) return null;
  const dI = Math.max(0, a.interrupt_ns - b.interrupt_ns);
  const dN = Math.max(0, a.interrupt_exits - b.interrupt_exits);
  return {
    rho: (a.overhead_ns - dI) / kept,
    kappa: dI / (b.wakes * b.exit_mean_ns),
    kappa_n: dN / b.wakes,
    omega: (a.wall_ns - (b.wall_ns - b.wake_delay_ns)) / b.halted_ns,
  };
}

const KEYS: Array<keyof CpuPmParams> = ['rho', 'kappa', 'kappa_n', 'omega'];

/** The box of a set of observed parameters, each side widened by `margin` of its value (at least). */
export function boxOf(obs: CpuPmParams[], margin: number): { box: Box; point: CpuPmParams } {
  const box = {} as Box;
  const point = {} as CpuPmParams;
  for (const k of KEYS) {
    const v = obs.map((o) => o[k]).sort((x, y) => x - y);
    const lo = v[0]!, hi = v[v.length - 1]!;
    const m = margin * Math.max(Math.abs(lo), Math.abs(hi), 0.05);
    box[k] = [lo - m, hi + m];
    point[k] = v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  }
  return { box, point };
}

/** How far real pairs landed from the mechanism's forecast: [low, centre, high]; tax in pp, exits/s and wall as ratios (measured / mechanism). */
export interface Band { tax_pp: [number, number, number]; exits_per_s: [number, number, number]; wall: [number, number, number] }

/** The point forecast (the parameters' medians) and how far each calibration pair landed from it. */
export function pointOf(b: Terms, p: CpuPmParams) {
  const kept = b.overhead_ns - b.hlt_rest_ns - b.stop_ns;
  const c = b.exit_mean_ns ?? 0;
  const o = Math.max(0, p.rho * kept + p.kappa * b.wakes * c);
  const w = Math.max(b.wall_ns - b.halted_ns, b.wall_ns - b.wake_delay_ns + p.omega * b.halted_ns);
  const removedExits = b.hlt_exits + b.pause_exits + b.mwait_exits;
  const n = Math.max(0, b.exits - removedExits + p.kappa_n * b.wakes);
  const eps = b.span_ns > 0 && b.wall_ns > 0 ? n / ((b.span_ns * w) / b.wall_ns / 1e9) : null;
  return { overhead: o, wall: w, exits: n, exits_per_s: eps, tax: w > 0 ? o / w : null, removedExits, kept };
}

export function residualOf(b: Terms, a: Terms, p: CpuPmParams): { tax_pp: number; exits_per_s: number; wall: number } | null {
  const f = pointOf(b, p);
  const aEps = a.span_ns > 0 ? a.exits / (a.span_ns / 1e9) : null;
  if (f.tax === null || a.tax === null || f.exits_per_s === null || aEps === null) return null;
  return { tax_pp: 100 * (a.tax - f.tax), exits_per_s: aEps / f.exits_per_s, wall: a.wall_ns / f.wall };
}

export function forecastCpuPm(b: Terms, box: Box, point: CpuPmParams, band: Band): CpuPmForecast {
  const f = pointOf(b, point);
  const clamp = (x: number) => Math.min(1, Math.max(0, x));
  const tLo = f.tax === null ? null : clamp(f.tax + band.tax_pp[0] / 100);
  const tMid = f.tax === null ? null : clamp(f.tax + band.tax_pp[1] / 100);
  const tHi = f.tax === null ? null : clamp(f.tax + band.tax_pp[2] / 100);
  const wLo = Math.max(b.wall_ns - b.halted_ns, f.wall * band.wall[0]), wMid = f.wall * band.wall[1], wHi = f.wall * band.wall[2];
  const eps = (k: number) => (f.exits_per_s === null ? null : f.exits_per_s * band.exits_per_s[k]!);
  return {
    params: point, box,
    tax: { low: tLo, point: tMid, high: tHi },
    overhead_ns: { low: Math.round(tLo === null ? 0 : tLo * f.wall), point: Math.round(tMid === null ? 0 : tMid * f.wall), high: Math.round(tHi === null ? 0 : tHi * f.wall) },
    wall_ns: { low: Math.round(wLo), point: Math.round(wMid), high: Math.round(wHi) },
    guest_ns: { low: Math.round(tHi === null ? 0 : f.wall * (1 - tHi)), point: Math.round(tMid === null ? 0 : f.wall * (1 - tMid)), high: Math.round(tLo === null ? 0 : f.wall * (1 - tLo)) },
    exits: { low: Math.round(b.exits - f.removedExits + box.kappa_n[0] * b.wakes), point: Math.round(f.exits), high: Math.round(b.exits - f.removedExits + box.kappa_n[1] * b.wakes) },
    exits_per_s: { low: eps(0), point: eps(1), high: eps(2) },
    added_exits: { low: Math.round(box.kappa_n[0] * b.wakes), point: Math.round(point.kappa_n * b.wakes), high: Math.round(box.kappa_n[1] * b.wakes) },
    removed_ns: b.hlt_rest_ns + b.stop_ns,
    removed_exits: f.removedExits,
  };
}
