/** The levers section (src/analysis/levers/) as tables for the terminal and Markdown, and as an SVG ranking for HTML. */
import type { LeversSection, Lever, Range, ForecastCheck, PhaseSection } from '../analysis/levers/index.js';
import { renderTables } from './table.js';
import { renderMarkdown } from './markdown.js';
import type { Table } from './sections.js';

const pp = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${x > 0 ? '+' : ''}${x.toFixed(2)}pp`);
const pc = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${(x * 100).toFixed(2)}%`);
const ms = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x >= 1e9 ? `${(x / 1e9).toFixed(3)} s` : `${(x / 1e6).toFixed(2)} ms`);

/** "-3.2pp .. +1.0pp", "at most -2.1pp", "-" */
export function deltaText(l: Lever): string {
  const d = l.effect.delta_pp;
  if (!d) return '-';
  if (l.effect.basis === 'bound') return `0 to ${pp(d.low)} (bound)`;
  if (d.high === null) return `${pp(d.low)} or more (no upper end)`;
  return `${pp(d.low)} .. ${pp(d.high)}${d.point !== null ? ` (centre ${pp(d.point)})` : ''}`;
}

function rangeText(r: Range | null, f: (x: number | null) => string): string {
  if (!r) return '-';
  if (r.high === null) return `${f(r.low)} or more`;
  return r.low === r.high ? f(r.low) : `${f(r.low)} .. ${f(r.high)}`;
}

export function leverTables(s: LeversSection): Table[] {
  const out: Table[] = [];
  const a = s.absolute;
  const lead = [
    `host: ${s.host.evidence.join('; ')}`,
    `absolute: vCPU wall ${ms(a.wall_ns)} = guest ${ms(a.guest_ns)} + host ${ms(a.host_ns)} (halted ${ms(a.halted_ns)}, overhead ${ms(a.overhead_ns)}); ${a.exits} exits` +
      (a.per_unit ? `; per unit of work (${a.units} phases marked by port 0x502): ${ms(a.per_unit.wall_ns)} vCPU wall, ${a.per_unit.exits} exits` : '; no units of work marked (port 0x502 phase ends)'),
    `calibration: ${s.calibrated_on}`,
    ...s.notes.map((n) => `note: ${n}`),
  ];
  if (!s.available) {
    out.push({ title: 'Levers', lead: [...lead, `not available: ${s.reason}`], header: [], align: '', rows: [] });
    return out;
  }
  out.push({
    title: 'Levers (ranked)',
    lead,
    header: ['#', 'lever', 'status', 'tax change', 'tax after', 'exits/s after', 'verdict'],
    align: 'rllrrrl',
    rows: s.levers.map((l) => [String(l.rank), l.id, l.status, deltaText(l), rangeText(l.effect.tax_after, pc), rangeText(l.effect.exits_per_s_after, (x) => (x === null ? '-' : x.toFixed(0))), l.verdict]),
    foot: ['rank: status first, then the expected cut (a calibrated range\'s centre, half of a bound)', 'status: advised > advised-if (a precondition to meet first) > evidence-only (no pair calibrates it) > no-effect > cannot-judge (events missing) > not-advised'],
  });
  const rows: string[][] = [];
  for (const l of s.levers) {
    for (const e of l.evidence) rows.push([l.id, 'evidence', `${e.what}: ${e.value}`]);
    for (const x of l.effect.assumptions) rows.push([l.id, 'assumes', x]);
    for (const x of l.preconditions) rows.push([l.id, 'needs', x]);
    for (const x of l.risks) rows.push([l.id, 'risk', x]);
    for (const x of l.interactions) rows.push([l.id, 'interacts', x]);
    for (const x of l.enable) rows.push([l.id, 'enable', x]);
    if (l.record.length) rows.push([l.id, 'record', l.record.join(', ')]);
    rows.push([l.id, 'calibration', l.calibration]);
  }
  out.push({ title: 'Levers: evidence, preconditions, how to enable', header: ['lever', 'what', ''], align: 'lll', rows });
  out.push({
    title: 'Lever combinations',
    header: ['levers', 'tax change', 'basis', 'note'],
    align: 'lrll',
    rows: s.combinations.map((c) => [c.levers.join(' + '), c.delta_pp ? (c.delta_pp.high === null ? `${pp(c.delta_pp.low)} or more` : `${pp(c.delta_pp.low)} .. ${pp(c.delta_pp.high)}`) : '-', c.basis, c.note]),
  });
  if (s.phases) out.push(phaseTable(s.phases));
  if (s.per_vm) out.push(perVmTable(s));
  return out;
}

const us = (x: number | null) => (x === null ? '-' : x >= 1e6 ? `${(x / 1e6).toFixed(2)} ms` : `${(x / 1e3).toFixed(1)} us`);

/** The timed phases of work (one row per phase: one unit of work). */
export function phaseTable(ps: PhaseSection, title = 'Phases of work (timed)'): Table {
  const vms = new Set(ps.phases.map((p) => `${p.file}:${p.pid}`)).size;
  return {
    title,
    lead: [`source: ${ps.source}; one phase = one unit of work`,
      ...(ps.unfinished ? [`${ps.unfinished} phase(s) begun but not ended in the trace: left out`] : [])],
    header: [...(vms > 1 ? ['pid'] : []), 'phase', 'vcpu', 'wall', 'exits', 'tax', 'overhead', 'guest', 'halted', 'host', 'exits/s', 'vCPU threads', 'most exits'],
    align: (vms > 1 ? 'r' : '') + 'rrrrrrrrrrrl',
    rows: ps.phases.map((p) => [...(vms > 1 ? [p.pid === null ? '?' : String(p.pid)] : []), String(p.index), p.vcpu === null ? '?' : String(p.vcpu), ms(p.wall_ns), String(p.exits), pc(p.tax),
      us(p.overhead_ns), us(p.guest_ns), us(p.halted_ns), us(p.host_ns), p.exits_per_s === null ? '-' : p.exits_per_s.toFixed(0), String(p.vcpu_threads), p.top.map((x) => `${x.reason} ${x.exits}`).join(', ')]),
    foot: ['a phase: from the guest\'s port 0x501 write to its 0x502 write on the marking vCPU; exits of every vCPU thread of that VM inside it; tax = overhead / (guest + host) of those exits'],
  };
}

/** Several VMs: each VM's ranking. */
export function perVmTable(s: LeversSection): Table {
  const rows: string[][] = [];
  for (const v of s.per_vm ?? []) {
    const who = v.vm.pid !== null && !v.vm.name.includes(String(v.vm.pid)) ? `${v.vm.name} (pid ${v.vm.pid})` : v.vm.name;
    if (!v.available) { rows.push([who, '-', '-', '-', '-', '-', v.reason ?? '']); continue; }
    for (const l of v.levers) rows.push([who, String(l.rank), l.id, l.status, deltaText(l), rangeText(l.effect.tax_after, pc), l.verdict]);
  }
  return {
    title: 'Levers per VM (ranked)',
    lead: (s.per_vm ?? []).map((v) => `${v.vm.name}: tax ${pc(v.absolute.wall_ns ? v.absolute.overhead_ns / v.absolute.wall_ns : null)}, vCPU wall ${ms(v.absolute.wall_ns)}, ${v.absolute.exits} exits; host: ${v.host.evidence[0] ?? '-'}`),
    header: ['VM', '#', 'lever', 'status', 'tax change', 'tax after', 'verdict'],
    align: 'lrllrrl',
    rows,
  };
}

/** Short form for `kvmtax advise`: the ranking and, per lever, its verdict and how to enable it. */
export function adviseTables(s: LeversSection): Table[] {
  const t = leverTables(s);
  if (!s.available) return t;
  const rank = t[0]!;
  const how: string[][] = s.levers.filter((l) => l.status !== 'not-advised' && l.status !== 'no-effect').map((l) => [l.id, l.record.length ? `record ${l.record.join(', ')}` : l.enable[0] ?? '-']);
  return [rank, { title: 'How', header: ['lever', 'enable (or: what to record)'], align: 'll', rows: how }, ...(s.per_vm ? [perVmTable(s)] : [])];
}

const STATUS_COLOUR: Record<string, string> = {
  advised: '#2e7d32', 'advised-if': '#8bc34a', 'evidence-only': '#9e9e9e', 'no-effect': '#bdbdbd', 'cannot-judge': '#ffb300', 'not-advised': '#c62828',
};

/** One row per lever in rank order: its status, and its tax change on a common pp axis (range bar, or bound bar). */
export function leversSvg(s: LeversSection, esc: (x: unknown) => string): string {
  const rows = s.levers;
  const vals = rows.flatMap((l) => (l.effect.delta_pp ? [l.effect.delta_pp.low, l.effect.delta_pp.high].filter((x): x is number => x !== null) : [])).concat([0]);
  const lo = Math.min(...vals), hi = Math.max(...vals);
  const W = 760, labelW = 230, axisW = W - labelW - 20, rowH = 24, top = 18;
  const x = (v: number) => labelW + ((v - lo) / (hi - lo || 1)) * axisW;
  const inner: string[] = [];
  inner.push(`<line x1="${x(0).toFixed(1)}" y1="4" x2="${x(0).toFixed(1)}" y2="${top + rows.length * rowH}" stroke="#555" stroke-dasharray="3,3"/>`);
  inner.push(`<text x="${x(0).toFixed(1)}" y="12" text-anchor="middle" class="small">0 pp</text>`);
  if (x(0) - labelW > 60) inner.push(`<text x="${labelW}" y="12" class="small">${esc(pp(lo))}</text>`);
  if (labelW + axisW - x(0) > 60) inner.push(`<text x="${labelW + axisW}" y="12" text-anchor="end" class="small">${esc(pp(hi))}</text>`);
  rows.forEach((l, i) => {
    const y = top + i * rowH;
    const colour = STATUS_COLOUR[l.status] ?? '#9e9e9e';
    inner.push(`<rect x="2" y="${y + 4}" width="12" height="${rowH - 8}" fill="${colour}"><title>${esc(l.status)}</title></rect>`);
    inner.push(`<text x="20" y="${y + 16}" class="mono">${esc(`${l.rank}. ${l.id}`)}</text>`);
    const d = l.effect.delta_pp;
    if (d && d.low !== null) {
      const a = d.low, b = l.effect.basis === 'bound' ? 0 : d.high ?? hi;
      const x0 = Math.min(x(a), x(b)), w = Math.max(2, Math.abs(x(b) - x(a)));
      inner.push(`<rect class="lever ${esc(l.status)}" data-lever="${esc(l.id)}" x="${x0.toFixed(1)}" y="${y + 5}" width="${w.toFixed(1)}" height="${rowH - 10}" fill="${colour}" fill-opacity="${l.effect.basis === 'bound' ? 0.45 : 0.9}"><title>${esc(`${l.id}: ${deltaText(l)}; ${l.verdict}`)}</title></rect>`);
      if (d.point !== null) inner.push(`<line x1="${x(d.point).toFixed(1)}" y1="${y + 3}" x2="${x(d.point).toFixed(1)}" y2="${y + rowH - 3}" stroke="#000"/>`);
    } else {
      inner.push(`<text x="${labelW}" y="${y + 16}" class="small">${esc(`${l.status}: ${l.verdict}`.slice(0, 80))}</text>`);
    }
  });
  return `<svg class="chart levers" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${top + rows.length * rowH + 6}" viewBox="0 0 ${W} ${top + rows.length * rowH + 6}" role="img" aria-label="levers ranked">${inner.join('')}</svg>` +
    `<p class="hint">${esc('Bars: the change in exit tax (pp; left is less tax). Solid: a range calibrated on real before/after pairs (black tick: its centre). Pale: at most this much (a bound on this trace, no pair). Colour: ' + Object.keys(STATUS_COLOUR).join(', ') + ' (green to red).')}</p>`;
}

/** The forecast check of `compare --forecast LEVER`, after the comparison in its format. */
export function checkTable(c: ForecastCheck): Table {
  const f = (fig: string, v: number | null) => (v === null ? '-' : fig === 'tax' ? pc(v) : fig === 'wall_ns' ? ms(v) : v.toFixed(1));
  const ab = c.absolute;
  return {
    title: `Forecast check: ${c.lever} (made on before, measured on after)`,
    lead: [`${c.status}: ${c.verdict}`, `basis: ${c.basis}; ${c.calibration}`, `load: ${c.load.note}`,
      `absolute before: vCPU wall ${ms(ab.before.wall_ns)}, guest ${ms(ab.before.guest_ns)}, host ${ms(ab.before.host_ns)}, ${ab.before.exits} exits${ab.before.units ? ` (${(ab.before.exits / ab.before.units).toFixed(1)} per unit of work)` : ''}`,
      `absolute after:  vCPU wall ${ms(ab.after.wall_ns)}, guest ${ms(ab.after.guest_ns)}, host ${ms(ab.after.host_ns)}, ${ab.after.exits} exits${ab.after.units ? ` (${(ab.after.exits / ab.after.units).toFixed(1)} per unit of work)` : ''}`],
    header: ['figure', 'before', 'forecast low', 'centre', 'high', 'measured after', 'in range'],
    align: 'lrrrrrl',
    rows: c.rows.map((r) => [r.figure, f(r.figure, r.before), f(r.figure, r.low), f(r.figure, r.point), r.high === null && r.low !== null ? '(none)' : f(r.figure, r.high), f(r.figure, r.measured), r.inside === null ? 'no range' : r.inside ? 'yes' : 'NO']),
  };
}

/** compare --forecast: the phases of work before and after, side by side (absolute: a share can hide a slowdown). */
export function checkPhaseTable(c: ForecastCheck): Table | null {
  if (!c.phases?.length) return null;
  const arrow = <T,>(b: T | null | undefined, a: T | null | undefined, f: (x: T) => string) => `${b === null || b === undefined ? '-' : f(b)} -> ${a === null || a === undefined ? '-' : f(a)}`;
  return {
    title: 'Phases of work, before -> after (one phase = one unit of work)',
    header: ['vcpu', 'phase', 'wall', 'wall after/before', 'exits', 'tax', 'guest'],
    align: 'rrrrrrr',
    rows: c.phases.map((p) => [p.vcpu === null ? '?' : String(p.vcpu), String(p.index), arrow(p.before?.wall_ns, p.after?.wall_ns, ms),
      p.before && p.after && p.before.wall_ns > 0 ? `${(p.after.wall_ns / p.before.wall_ns).toFixed(2)}x` : '-',
      arrow(p.before?.exits, p.after?.exits, String), arrow(p.before?.tax, p.after?.tax, (x) => pc(x)), arrow(p.before?.guest_ns, p.after?.guest_ns, us)]),
    foot: ['phases matched by the marking vCPU and their order (port 0x501/0x502 writes of the capture VMM)'],
  };
}

export function appendCheck(text: string, c: ForecastCheck, format: string): string {
  const ph = checkPhaseTable(c);
  const tables = ph ? [checkTable(c), ph] : [checkTable(c)];
  switch (format) {
    case 'json': return JSON.stringify({ ...JSON.parse(text), forecast_check: c }, null, 2) + '\n';
    case 'md': return text + '\n' + renderMarkdown(tables);
    case 'csv': return text + '\n' + ['figure,before,low,centre,high,measured,inside', ...c.rows.map((r) => [r.figure, r.before ?? '', r.low ?? '', r.point ?? '', r.high ?? '', r.measured ?? '', r.inside ?? ''].join(','))].join('\n') + '\n';
    default: return text + '\n' + renderTables(tables);
  }
}

/** --sections levers -f csv: the ranking, one row per lever, the ranges as numbers. */
export function leversCsv(s: LeversSection): string {
  const q = (x: unknown) => (x === null || x === undefined ? '' : /[",\n]/.test(String(x)) ? `"${String(x).replace(/"/g, '""')}"` : String(x));
  const rows = [['rank', 'lever', 'status', 'basis', 'delta_pp_low', 'delta_pp_point', 'delta_pp_high', 'tax_after_low', 'tax_after_high', 'exits_per_s_after_low', 'exits_per_s_after_high', 'verdict', 'calibration'].join(',')];
  for (const l of s.levers) {
    const d = l.effect.delta_pp, t = l.effect.tax_after, e = l.effect.exits_per_s_after;
    rows.push([l.rank, l.id, l.status, l.effect.basis, d?.low, d?.point, d?.high, t?.low, t?.high, e?.low, e?.high, l.verdict, l.calibration].map(q).join(','));
  }
  return rows.join('\n') + '\n';
}
