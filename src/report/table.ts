/** Plain-text tables for a terminal. */
import type { Table } from './sections.js';

export function renderTables(tables: Table[]): string {
  const out: string[] = [];
  for (const t of tables) {
    out.push(t.title, '='.repeat(t.title.length));
    for (const l of t.lead ?? []) out.push(l);
    if (t.header.length) {
      const w = t.header.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)));
      const line = (cells: string[]) =>
        cells.map((c, i) => (t.align[i] === 'r' ? c.padStart(w[i]!) : i === cells.length - 1 ? c : c.padEnd(w[i]!))).join('  ').trimEnd();
      out.push(line(t.header));
      for (const r of t.rows) out.push(line(r));
    }
    for (const l of t.foot ?? []) out.push(l);
    out.push('');
  }
  return out.join('\n');
}
