/** The --what-if forecast (src/analysis/runs/whatif.ts) in every output format. */
import type { Report } from '../analysis/types.js';
import { whatIf, type WhatIf, type WhatIfScenario } from '../analysis/runs/whatif.js';
import { dur, pct, type Table } from './sections.js';
import { renderTables } from './table.js';
import { renderMarkdown } from './markdown.js';

export function whatIfSections(w: WhatIf): Table[] {
  const u = w.unit;
  const e = w.estimate;
  const range = (a: number | null, b: number | null) => (a === b ? pct(a) : b === null ? `${pct(a)} or more (no upper end)` : `${pct(a)} to ${pct(b)}`);
  const lead = [
    w.description,
    ...(w.not_advised ? [`NOT ADVISED: ${w.not_advised}`] : []),
    w.scenario === 'cpu-pm'
      ? `exit tax now ${pct(w.current.tax)}; estimated with ${w.scenario}: ${range(e.tax_low, e.tax_high)}${w.tax_point !== undefined && w.tax_point !== null && e.tax_high !== null ? ` (centre ${pct(w.tax_point)})` : ''}; overhead ${dur(w.current.overhead_ns, u)} -> ${dur(e.overhead_low_ns, u)} to ${dur(e.overhead_high_ns, u)}`
      : `exit tax now ${pct(w.current.tax)}; estimated with ${w.scenario}: ${range(e.tax_low, e.tax_high)} (overhead ${dur(w.current.overhead_ns, u)} -> ${dur(e.overhead_low_ns, u)} to ${dur(e.overhead_high_ns, u)} over the same wall time ${dur(w.current.wall_ns, u)})`,
    ...(w.scenario === 'cpu-pm'
      ? [`halted ${pct(w.current.halted_share)} -> 0.00% (${dur(e.halted_to_guest_ns, u)} moves into guest mode); guest mode ${pct(w.current.guest_share)} -> ${range(e.guest_share_low, e.guest_share_high)}`,
        `overhead removed: ${dur(e.removed_overhead_ns, u)}; added: about ${e.added_exits} ${e.added_reason} exits at ${dur(e.added_mean_ns, u)} each`]
      : [`overhead removed: ${dur(e.removed_overhead_ns, u)}`]),
    `calibration: ${w.calibration}`,
    ...w.identified.map((x) => `identified: ${x}`),
    ...w.not_identified.map((x) => `not identified: ${x}`),
    ...w.assumptions.map((x) => `assumption: ${x}`),
  ];
  const out: Table[] = [{ title: `What if ${w.scenario}`, lead, header: [], align: '', rows: [] }];
  out.push({
    title: 'Exits that stop trapping',
    header: ['class', 'reason', 'exits', 'exits/s', 'host time', 'overhead removed'],
    align: 'llrrrr',
    rows: w.stopped.length
      ? w.stopped.map((s) => [s.class, s.reason + (s.idle ? ' (idle)' : ''), String(s.exits), s.exits_per_s === null ? '-' : s.exits_per_s.toFixed(1), dur(s.host_ns, u), dur(s.overhead_ns, u)])
      : [['-', 'none in this trace', '0', '-', '-', '-']],
    foot: w.scenario === 'cpu-pm' ? ['an idle reason\'s host time is the halt itself (not in the tax) plus the entry/exit work around it (in the tax, and removed)'] : [],
  });
  if (w.vcpus.length) {
    out.push({
      title: 'Per vCPU',
      header: ['VM', 'vcpu', 'tid', 'tax now', 'overhead removed', 'added exits', 'tax estimate'],
      align: 'lrrrrrr',
      rows: w.vcpus.map((c) => [c.vm, c.vcpu === null ? '?' : String(c.vcpu), String(c.tid), pct(c.tax), dur(c.removed_overhead_ns, u), String(c.added_exits), range(c.tax_low, c.tax_high)]),
    });
  }
  return out;
}

/**
 * The forecast of `scenario` on `report` as text in `format` (table | md | json | csv). This is what
 * `kvmtax report --what-if cpu-pm` prints (after the report, or instead of it: the caller decides).
 */
export function renderWhatIf(report: Report, scenario: WhatIfScenario, format: string, width?: number): string {
  const w = whatIf(report, scenario);
  switch (format) {
    case 'json': return JSON.stringify(w, null, 2) + '\n';
    case 'md': return renderMarkdown(whatIfSections(w));
    case 'csv': {
      const rows = [['class', 'reason', 'exits', 'host_ns', 'overhead_removed_ns'].join(',')];
      for (const s of w.stopped) rows.push([s.class, /[",]/.test(s.reason) ? `"${s.reason}"` : s.reason, s.exits, s.host_ns, s.overhead_ns].join(','));
      rows.push('', ['figure', 'now', 'estimate_low', 'estimate_high'].join(','));
      rows.push(['tax', w.current.tax ?? '', w.estimate.tax_low ?? '', w.estimate.tax_high ?? ''].join(','));
      rows.push(['halted_share', w.current.halted_share ?? '', 0, 0].join(','));
      rows.push(['guest_share', w.current.guest_share ?? '', w.estimate.guest_share_low ?? '', w.estimate.guest_share_high ?? ''].join(','));
      return rows.join('\n') + '\n';
    }
    default: return renderTables(whatIfSections(w), { width });
  }
}
