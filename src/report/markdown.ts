/** Markdown: the same tables, shaped for a commit message, a PR comment or a wiki page. */
import type { Table } from './sections.js';
import { mdSafe } from './escape.js';

/** Trace names are text, never markup (raw HTML, links): src/report/escape.ts. */
const esc = mdSafe;

export function renderMarkdown(tables: Table[]): string {
  const out: string[] = [];
  tables.forEach((t, k) => {
    out.push(`${k === 0 ? '#' : '##'} ${esc(t.title)}`, '');
    for (const l of t.lead ?? []) out.push(`- ${esc(l)}`);
    if (t.lead?.length) out.push('');
    if (t.header.length) {
      out.push(`| ${t.header.map(esc).join(' | ')} |`);
      out.push(`|${[...t.align].map((a) => (a === 'r' ? '---:' : ':---')).join('|')}|`);
      for (const r of t.rows) out.push(`| ${r.map(esc).join(' | ')} |`);
      out.push('');
    }
    for (const l of t.foot ?? []) out.push(`_${esc(l)}_`, '');
  });
  return out.join('\n');
}
