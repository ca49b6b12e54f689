/**
 * Plain-text tables for a terminal. Names from the trace are escaped (src/report/escape.ts). With a
 * width (the CLI passes $COLUMNS, the tty's width, or 80), a table wider than it loses its less
 * important columns first (DROP_FIRST, then from the right, never the first), a free-text last column
 * is cut short before anything is dropped, a footnote names what was left out, and prose lines are
 * wrapped. Without a width (--wide, the library) every column is shown as it is.
 */
import type { Table } from './sections.js';
import { termSafe } from './escape.js';

export interface TableOptions {
  /** fit this many columns; undefined: no limit */
  width?: number;
}

/**
 * Columns by header, least important first: spread and extreme percentiles before the median and p99,
 * thread ids and CPU placement before counts, counts before times.
 */
const DROP_FIRST = [
  '+-', 'min', 'p99.9', 'p90', 'comm', 'tid', 'host CPUs', 'exits/s', 'handled', 'mean', 'max', 'exits%', 'seen',
  'poll_invalid', 'attempted_poll', 'successful_poll', 'waits', 'poll_success', 'wait+poll_fail',
  'early n', 'late n', 'PLE grow/shrink/last', 'PAUSE exits', 'run delay max', 'preempted in guest', 'preempted in host',
  'cv', 'sd', 'df', 't', 'p', 'ratio',
];

/** A narrowest useful width for a cut-short free-text column. */
const MIN_TEXT = 16;

export function renderTables(tables: Table[], o: TableOptions = {}): string {
  const out: string[] = [];
  const prose = (l: string) => (o.width ? wrap(l, o.width) : [l]);
  for (const t0 of tables) {
    const t = escaped(t0);
    out.push(t.title, '='.repeat(t.title.length));
    for (const l of t.lead ?? []) out.push(...prose(l));
    const foot = [...(t.foot ?? [])];
    if (t.header.length) {
      const fit = o.width ? fitTable(t, o.width) : { cols: t.header.map((_, i) => i), cuts: new Map<number, number>(), dropped: [] as string[] };
      const header = fit.cols.map((i) => t.header[i]!);
      const rows = t.rows.map((r) => fit.cols.map((i) => r[i] ?? ''));
      const align = fit.cols.map((i) => t.align[i]);
      fit.cols.forEach((c, k) => {
        const cut = fit.cuts.get(c);
        if (cut !== undefined) for (const r of rows) if (r[k]!.length > cut) r[k] = r[k]!.slice(0, cut - 3) + '...';
      });
      const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const line = (cells: string[]) =>
        cells.map((c, i) => (align[i] === 'r' ? c.padStart(w[i]!) : i === cells.length - 1 ? c : c.padEnd(w[i]!))).join('  ').trimEnd();
      out.push(line(header));
      for (const r of rows) out.push(line(r));
      if (fit.dropped.length) foot.unshift(`(left out to fit ${o.width} columns: ${fit.dropped.join(', ')}; --wide shows every column)`);
    }
    for (const l of foot) out.push(...prose(l));
    out.push('');
  }
  return out.join('\n');
}

function escaped(t: Table): Table {
  return {
    ...t, title: termSafe(t.title), lead: t.lead?.map(termSafe), header: t.header.map(termSafe),
    rows: t.rows.map((r) => r.map((c) => termSafe(c ?? ''))), foot: t.foot?.map(termSafe),
  };
}

/**
 * The columns kept (in order), how long each left-aligned text column may be (cut short with "..."),
 * and the headers left out. First a free-text last column is cut (down to MIN_TEXT), then the less
 * important columns are dropped; whatever is still too wide (a long VM name) is cut, widest first.
 */
function fitTable(t: Table, width: number): { cols: number[]; cuts: Map<number, number>; dropped: string[] } {
  const colW = t.header.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const total = (cols: number[], cuts = new Map<number, number>()) =>
    cols.reduce((s, c) => s + Math.min(colW[c]!, cuts.get(c) ?? Infinity), 0) + 2 * (cols.length - 1);
  let cols = t.header.map((_, i) => i);
  const dropped: string[] = [];
  const lastCut = (cs: number[]) => {
    const last = cs[cs.length - 1]!;
    if (cs.length < 2 || t.align[last] === 'r') return new Map<number, number>();
    const room = width - total(cs.slice(0, -1)) - 2;
    return room >= Math.min(MIN_TEXT, colW[last]!) && room < colW[last]! ? new Map([[last, room]]) : new Map<number, number>();
  };
  const fits = (cs: number[]) => total(cs, lastCut(cs)) <= width;
  const order = [
    ...DROP_FIRST.flatMap((h) => t.header.flatMap((x, i) => (x === h && i > 0 ? [i] : []))),
    ...t.header.map((_, i) => i).reverse().filter((i) => i > 0),
  ];
  for (const i of order) {
    if (fits(cols)) break;
    if (!cols.includes(i) || cols.length <= 2) continue;
    cols = cols.filter((c) => c !== i);
    dropped.push(t.header[i]!);
  }
  const cuts = total(cols) > width ? lastCut(cols) : new Map<number, number>();
  // still too wide: cut the widest text columns (never below 8 characters, nor below their header)
  for (let over = total(cols, cuts) - width; over > 0;) {
    const text = cols.filter((c) => t.align[c] !== 'r').map((c) => ({ c, w: Math.min(colW[c]!, cuts.get(c) ?? Infinity) }))
      .filter((x) => x.w > Math.max(8, t.header[x.c]!.length)).sort((a, b) => b.w - a.w)[0];
    if (!text) break;
    const to = Math.max(8, t.header[text.c]!.length, text.w - over);
    cuts.set(text.c, to);
    over -= text.w - to;
  }
  return { cols, cuts, dropped };
}

/**
 * Wrap a prose line at `width`: continuation lines indented two spaces past a leading "note: " or
 * "input: " label (so they read as one item), words never split unless longer than a line.
 */
export function wrap(line: string, width: number): string[] {
  if (line.length <= width) return [line];
  const label = /^(note: |input: |warning: )/.exec(line)?.[0] ?? '';
  const indent = ' '.repeat(label ? 2 : 0);
  const out: string[] = [];
  let cur = '';
  for (const word of line.split(' ')) {
    const room = width - (out.length ? indent.length : 0);
    if (cur && (cur + ' ' + word).length > room) {
      out.push(cur);
      cur = word;
    } else {
      cur = cur ? cur + ' ' + word : word;
    }
    while (cur.length > width - indent.length && out.length) {
      out.push(cur.slice(0, width - indent.length));
      cur = cur.slice(width - indent.length);
    }
  }
  if (cur) out.push(cur);
  return out.map((l, i) => (i ? indent + l : l));
}
