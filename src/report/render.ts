/**
 * One report in the output format asked for: the text table, JSON, CSV, Markdown or HTML, showing the
 * sections a view names (the CLI's --by and --sections). `kvmtax report` and `kvmtax merge` render here.
 */
import type { Report } from '../analysis/types.js';
import { sections, defaultSections, type ViewOptions } from './sections.js';
import { renderTables } from './table.js';
import { renderMarkdown } from './markdown.js';
import { renderCsv } from './csv.js';
import { renderHtml } from './html.js';
import { buildNested } from '../analysis/nested.js';
import { buildLevers } from '../analysis/levers/index.js';
import { leversCsv } from './levers.js';

export const OUTPUT_FORMATS = ['table', 'json', 'csv', 'md', 'html'];

/** What to show: breakdowns (--by) and sections (--sections). */
export interface RenderView { by?: string[]; sections?: Set<string> }

/** The sections a view shows: the default ones, or those named, plus what --by asks for. */
export function viewOf(view: RenderView): ViewOptions {
  const shown = view.sections ? new Set(view.sections) : defaultSections();
  for (const b of view.by ?? []) if (b !== 'reason' && b !== 'vcpu' && b !== 'vm') shown.add(b);
  return { byVcpu: (view.by ?? []).includes('vcpu'), byVm: (view.by ?? []).includes('vm'), sections: shown };
}

/** JSON keeps every section unless --sections names some. */
export function jsonOf(report: Report, sectionsNamed?: Set<string>): string {
  return jsonBodyOf(report, sectionsNamed) + '\n';
}

/** jsonOf without its final newline (written as a piece of its own: see src/cli/report.ts). */
export function jsonBodyOf(report: Report, sectionsNamed?: Set<string>): string {
  if (!sectionsNamed) return JSON.stringify(report, null, 2);
  const keep: Record<string, unknown> = {};
  const alwaysKept = ['kvmtax', 'unit', 'inputs', 'isa', 'notes', 'sampled'];
  const sectionKeys: Record<string, string[]> = { summary: ['totals'], exits: ['reasons'], vcpus: ['vms'], top: ['top'], quality: ['quality'] };
  for (const [k, val] of Object.entries(report)) {
    const named = [...sectionsNamed].some((sec) => (sectionKeys[sec] ?? [sec]).includes(k));
    if (alwaysKept.includes(k) || named) keep[k] = val;
  }
  // levers are not part of the report itself: computed when asked for
  if (sectionsNamed.has('levers')) keep.levers = buildLevers(report);
  if (sectionsNamed.has('nested')) keep.nested = buildNested(report);
  return JSON.stringify(keep, null, 2);
}

/** The report in one output format (OUTPUT_FORMATS; anything else is the text table). */
/** `width`: fit text tables to it (src/report/table.ts); undefined: every column. */
export function render(report: Report, format: string, v: RenderView, width?: number): string {
  const view = viewOf(v);
  const named = v.sections;
  // CSV writes one table: --sections NAME picks a section's (halt, timers, ipi, sched, msr, port, mmio,
  // vcpus, exits), else the last --by, else the reasons
  const named1 = named && named.size === 1 ? [...named][0]! : undefined;
  const sectionTable = named1 === 'vcpus' ? 'vcpu' : named1 === 'exits' ? 'reason' : named1 && ['halt', 'timers', 'ipi', 'sched', 'msr', 'port', 'mmio', 'userspace', 'handling', 'rip', 'gpa'].includes(named1) ? named1 : undefined;
  const csvTable = sectionTable ?? (v.by ?? []).filter((b) => b !== 'reason').pop() ?? 'reason';
  switch (format) {
    case 'json': return jsonOf(report, named);
    case 'csv': return named1 === 'levers' ? leversCsv(buildLevers(report)) : renderCsv(report, csvTable);
    case 'md': return renderMarkdown(sections(report, view));
    case 'html': return renderHtml(report, { view });
    default: return renderTables(sections(report, view), { width });
  }
}
