/**
 * A comparison in Markdown, shaped for a commit message or a PR comment: a heading, the headline
 * figures as a short list, then the tables (the per-vCPU and statistics tables folded in <details>).
 */
import type { Comparison } from '../analysis/runs/compare.js';
import { compareSections } from './compare-table.js';
import { mdSafe } from './escape.js';

/** Labels and trace names are text, never markup: src/report/escape.ts. */
const esc = mdSafe;

export function renderCompareMarkdown(c: Comparison): string {
  const tables = compareSections(c);
  const out: string[] = [];
  tables.forEach((t, k) => {
    const fold = k > 0 && (t.title.startsWith('VMs and vCPUs') || t.title.startsWith('Runs:') || t.title.startsWith('Other figures'));
    if (k === 0) out.push(`### ${esc(t.title)}`, '');
    else if (fold) out.push(`<details><summary>${esc(t.title)}</summary>`, '');
    else out.push(`#### ${esc(t.title)}`, '');
    for (const l of t.lead ?? []) out.push(`- ${esc(l)}`);
    if (t.lead?.length) out.push('');
    if (t.header.length) {
      out.push(`| ${t.header.map((h) => esc(h) || ' ').join(' | ')} |`);
      out.push(`|${[...t.align].map((a) => (a === 'r' ? '---:' : ':---')).join('|')}|`);
      for (const r of t.rows) out.push(`| ${r.map(esc).join(' | ')} |`);
      out.push('');
    }
    for (const l of t.foot ?? []) out.push(`_${esc(l)}_`, '');
    if (fold) out.push('</details>', '');
  });
  return out.join('\n');
}
