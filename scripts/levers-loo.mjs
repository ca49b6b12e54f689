#!/usr/bin/env node
// Prints the calibration tables of README.md (section "Which lever to pull"): every pair's observed
// parameters, and the cpu-pm leave-one-out (each pair forecast by a fit on the others). After `npm run build`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const L = await import(path.join(ROOT, 'dist/src/analysis/levers/index.js'));
const { PAIRS } = await import(path.join(ROOT, 'dist/src/analysis/levers/pairs-data.js'));
const pc = (x) => (x === null ? '-' : (x * 100).toFixed(2) + '%');
const f2 = (x) => x.toFixed(2);
console.log('| pair | lever | what | tax before -> after | vCPU wall before -> after | rho | kappa | kappa_n | omega |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const p of PAIRS) {
  const o = p.lever === 'cpu-pm' ? L.observeCpuPm(p.before, p.after) : null;
  console.log(`| ${p.name} | ${p.lever}${p.shared ? ' (shared CPUs)' : ''} | ${p.what} | ${pc(p.before.tax)} -> ${pc(p.after.tax)} | ${(p.before.wall_ns / 1e6).toFixed(0)} -> ${(p.after.wall_ns / 1e6).toFixed(0)} ms | ${o ? [o.rho, o.kappa, o.kappa_n, o.omega].map(f2).join(' | ') : '- | - | - | -'} |`);
}
console.log('');
console.log('| left out | fitted on | load ratio | tax before | forecast low | centre | high | measured | inside | error (measured - centre) |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of L.looCpuPm()) {
  console.log(`| ${r.pair} | ${r.fitted_on.length} others | ${r.load_ratio === null ? '-' : r.load_ratio.toFixed(2)}${r.same_load ? '' : ' (changed)'} | ${pc(r.before_tax)} | ${pc(r.low)} | ${pc(r.point)} | ${pc(r.high)} | ${pc(r.measured_tax)} | ${r.inside ? 'yes' : '**no**'} | ${r.error_pp === null ? '-' : (r.error_pp > 0 ? '+' : '') + r.error_pp.toFixed(2) + ' pp'} |`);
}
// the models side by side, by the same leave-one-out: session 2's (all halted time becomes guest time, fitted
// on every dedicated pair), with the run-delay term, and with the range fitted on same-load pairs only (now);
// and fitted on the session-2 pairs only, forecasting the session-3 pairs made later
const withoutR = PAIRS.map((p) => ({ ...p, before: { ...p.before, wake_delay_ns: 0 } }));
const summary = (rows) => {
  if (!rows.length) return '-';
  const w = rows.map((r) => 100 * (r.high - r.low)), e = rows.map((r) => r.error_pp);
  return `${rows.filter((r) => r.inside).length} of ${rows.length} in range${rows.some((r) => !r.inside) ? ` (out: ${rows.filter((r) => !r.inside).map((r) => r.pair).join(', ')})` : ''}; width ${Math.min(...w).toFixed(1)}-${Math.max(...w).toFixed(1)} pp; centre error ${Math.min(...e).toFixed(1)} to ${e.some((x) => x > 0) ? '+' : ''}${Math.max(...e).toFixed(1)} pp`;
};
const held = (ps, opts) => {
  const fit = L.fitCpuPm(ps.filter((p) => !p.name.startsWith('s3-')), undefined, opts);
  return ps.filter((p) => p.name.startsWith('s3-') && p.lever === 'cpu-pm' && L.dedicated(p)).map((p) => {
    const f = L.forecastCpuPm(p.before, fit.box, fit.point, fit.band); const m = p.after.tax;
    return { pair: p.name, low: f.tax.low, high: f.tax.high, inside: m >= f.tax.low && m <= f.tax.high, error_pp: 100 * (m - f.tax.point), same_load: L.sameLoad(p) };
  });
};
console.log('');
console.log('| model | leave-one-out: same-load pairs | leave-one-out: pairs whose load changed | fitted on session 2, forecasting session 3: same load | the same: load changed |');
console.log('|---|---|---|---|---|');
for (const [name, ps, opts] of [['session 2: all halted time becomes guest time; fitted on every pair', withoutR, { anyLoad: true }], ['+ the run delay inside the halts', PAIRS, { anyLoad: true }], ['+ fitted on same-load pairs only (now)', PAIRS, {}]]) {
  const rows = L.looCpuPm(ps, opts), h = held(ps, opts);
  console.log(`| ${name} | ${summary(rows.filter((r) => r.same_load))} | ${summary(rows.filter((r) => !r.same_load))} | ${summary(h.filter((r) => r.same_load))} | ${summary(h.filter((r) => !r.same_load))} |`);
}
// the held-out check of the same-load rule: fitted on the pairs made before it was fixed (up to s3-1531),
// forecasting the pairs made after it (s3-1535 on)
const after = (p) => (/^s3-(\d{4})/.exec(p.name)?.[1] ?? '0') >= '1535';
{
  const fit = L.fitCpuPm(PAIRS.filter((p) => !after(p)));
  console.log('');
  console.log(`| made after the rule (fitted on the ${fit.pairs.length} same-load pairs before it) | dedicated | load ratio | forecast low | centre | high | measured | inside |`);
  console.log('|---|---|---|---|---|---|---|---|');
  for (const p of PAIRS.filter((p) => after(p) && p.lever === 'cpu-pm')) {
    const f = L.forecastCpuPm(p.before, fit.box, fit.point, fit.band); const m = p.after.tax;
    const s = L.loadRatio(p.before, p.after);
    console.log(`| ${p.name} | ${L.dedicated(p) ? 'yes' : `no (preempted ${p.before.preempt_per_s_max}/s)`} | ${s === null ? '-' : s.toFixed(2)}${L.sameLoad(p) ? '' : ' (changed)'} | ${pc(f.tax.low)} | ${pc(f.tax.point)} | ${pc(f.tax.high)} | ${pc(m)} | ${m >= f.tax.low && m <= f.tax.high ? 'yes' : '**no**'} |`);
  }
}
const fit = L.fitCpuPm(); // the fit that ships (held-out pairs excluded)
console.log('');
console.log(`Fit on all ${fit.pairs.length}: kappa ${f2(fit.point.kappa)}, kappa_n ${f2(fit.point.kappa_n)}; tax band ${fit.band.tax_pp.map(f2).join(' / ')} pp (low / centre / high); exits/s x ${fit.band.exits_per_s.map(f2).join(' / ')}; wall x ${fit.band.wall.map(f2).join(' / ')}.`);
for (const lever of ['haltpoll-2ms', 'haltpoll-off']) {
  const rows = L.looDelta(lever);
  if (!rows.length) { console.log(`\n${lever}: one pair only, no leave-one-out.`); continue; }
  console.log(`\n| ${lever}: left out | tax change measured | range from the others | inside |`);
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.pair} | ${r.measured_pp.toFixed(2)} pp | ${r.low.toFixed(2)} .. ${r.high.toFixed(2)} pp | ${r.inside ? 'yes' : '**no**'} |`);
}
// the held-out pairs (session 4, an idle host): forecast by the fit that ships, which saw none of them
{
  const rows = L.heldOutCpuPm();
  if (rows.length) {
    console.log('');
    console.log(`| held out (the shipped fit: ${fit.pairs.length} pairs) | dedicated | load ratio | tax before | forecast low | centre | high | measured | inside | error (measured - centre) |`);
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      console.log(`| ${r.pair} | ${r.dedicated ? 'yes' : 'no'} | ${r.load_ratio === null ? '-' : r.load_ratio.toFixed(2)}${r.same_load ? '' : ' (changed)'} | ${pc(r.before_tax)} | ${pc(r.low)} | ${pc(r.point)} | ${pc(r.high)} | ${pc(r.measured_tax)} | ${r.inside ? 'yes' : '**no**'} | ${r.error_pp === null ? '-' : (r.error_pp > 0 ? '+' : '') + r.error_pp.toFixed(2) + ' pp'} |`);
    }
  }
}
for (const lever of ['haltpoll-2ms', 'haltpoll-off']) {
  const rows = L.heldOutDelta(lever);
  if (!rows.length) continue;
  console.log(`\n| ${lever}: held out | tax change measured | the range that ships | inside |`);
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.pair} | ${r.measured_pp.toFixed(2)} pp | ${r.low.toFixed(2)} .. ${r.high.toFixed(2)} pp | ${r.inside ? 'yes' : '**no**'} |`);
}
