/**
 * The HTML of the exit-detail sections: where handling time goes (--sections handling), userspace round
 * trips (--sections userspace), nested virtualization (--sections nested), guest RIPs (--by rip) and
 * guest-physical pages (--by gpa). Each is one <section> holding an SVG chart drawn from the report's own
 * numbers and the tables of the text report (sections.ts), so that every figure is the one the table,
 * Markdown and CSV outputs give.
 *
 * The nested section is drawn from the view model (analysis/nested.ts) generically: its scalar members
 * become a key/value table, each array of objects a table whose columns are the objects' members (times
 * *_ns as durations), so that members added to the model show up without a change here.
 *
 * Every string from a trace goes through esc() (text or double-quoted attribute); charts are role="img"
 * with an aria-label, each bar segment carries a <title>, and each chart has a text legend.
 */
import type { Report } from '../analysis/types.js';
import { buildNested } from '../analysis/nested.js';
import { dur, type Table } from './sections.js';

type Esc = (s: unknown) => string;
type Unit = Report['unit'];

/** The exit-detail section a table of sections() belongs to, by its title; null for any other table. */
export function detailGroup(title: string): DetailId | null {
  if (title.startsWith('Where handling time goes')) return 'handling';
  if (title.startsWith('Userspace round trips')) return 'userspace';
  if (title.startsWith('Nested virtualization')) return 'nested';
  if (title.startsWith('Guest RIPs')) return 'rip';
  if (title.startsWith('NPF / EPT violation ')) return 'gpa';
  return null;
}
export type DetailId = 'handling' | 'userspace' | 'nested' | 'rip' | 'gpa';

export const DETAIL_TITLES: Record<DetailId, string> = {
  handling: 'Where handling time goes',
  userspace: 'Userspace round trips',
  nested: 'Nested virtualization',
  rip: 'Guest RIPs',
  gpa: 'Guest-physical pages (NPF / EPT violations)',
};

export interface DetailKit {
  esc: Esc;
  /** a sortable table of display strings (html.ts) */
  table: (tb: Table) => string;
  lines: (ls: string[], cls: string) => string;
}

/** The inner HTML of one exit-detail section: its chart(s), then its tables with their leads. */
export function detailSection(id: DetailId, r: Report, tables: Table[], kit: DetailKit): string {
  const { esc } = kit;
  const u = r.unit;
  const parts: string[] = [];
  const tablesHtml = (skipLeadOfFirst = false) => tables.map((tb, i) =>
    `<h3>${esc(tb.title)}</h3>${skipLeadOfFirst && i === 0 ? '' : kit.lines(tb.lead ?? [], 'lead')}${tb.header.length ? kit.table(tb) : ''}`).join('\n');

  if (id === 'handling' && r.handling?.available) {
    const hs = r.handling;
    parts.push(kit.lines(tables[0]?.lead ?? [], 'lead'));
    const segs = HANDLING_PARTS;
    parts.push(legend(segs, esc));
    parts.push(stacked(`handling-reasons`, 'handling time per exit reason, split into on-CPU, preempted, VMM and halted',
      hs.reasons.map((x) => ({ label: x.key, parts: [x.on_cpu_ns, x.preempted_ns, x.vmm_ns, x.halted_ns], note: `${x.exits_handled} exits handled` })), segs, u, esc));
    parts.push(stacked(`handling-vcpus`, 'handling time per vCPU, split into on-CPU, preempted, VMM and halted',
      hs.vcpus.map((x) => ({ label: `vcpu ${x.vcpu ?? '?'} (tid ${x.tid})`, parts: [x.on_cpu_ns, x.preempted_ns, x.vmm_ns, x.halted_ns], note: `${x.exits_handled} exits handled` })), segs, u, esc));
    parts.push(tablesHtml(true));
    return parts.join('\n');
  }
  if (id === 'userspace' && r.userspace?.available) {
    const us = r.userspace;
    parts.push(kit.lines(tables[0]?.lead ?? [], 'lead'));
    parts.push(legend(USER_PARTS, esc));
    const row = (x: typeof us.reasons[number]) => ({ label: x.key, parts: [x.in_kernel_ns, x.userspace_ns], note: `${x.to_userspace} of ${x.exits_handled} exits went to userspace` });
    parts.push(stacked('userspace-reasons', 'handling time per exit reason, split into in-kernel and VMM userspace time', us.reasons.map(row), USER_PARTS, u, esc));
    if (us.keys.length) parts.push(stacked('userspace-keys', 'handling time per port, MMIO or MSR key, split into in-kernel and VMM userspace time', us.keys.map(row), USER_PARTS, u, esc));
    parts.push(tablesHtml(true));
    return parts.join('\n');
  }
  if (id === 'rip' && r.rips) {
    const rows = r.rips.reasons.flatMap((g) => g.top.map((x) => ({ ...x, reason: g.reason, of: g.exits })))
      .sort((a, b) => b.exits - a.exits || b.total_ns - a.total_ns).slice(0, 20);
    parts.push(kit.lines(tables[0]?.lead ?? [], 'lead'));
    parts.push(bars('rip-top', 'the guest RIPs with the most handled exits', rows.map((x) => ({
      label: `${x.reason} ${x.rip}${x.symbol ? ` ${x.symbol}` : ''}`, value: x.exits,
      tip: `${x.reason} at ${x.rip}${x.symbol ? ` (${x.symbol})` : ''}: ${x.exits} exits (${((100 * x.exits) / x.of).toFixed(1)}% of ${x.reason}), ${dur(x.total_ns, u)} handling`,
      text: `${x.exits} exits  ${dur(x.total_ns, u)}`,
    })), esc));
    parts.push(tablesHtml(true));
    return parts.join('\n');
  }
  if (id === 'gpa' && r.gpas) {
    parts.push(kit.lines(tables[0]?.lead ?? [], 'lead'));
    parts.push(bars('gpa-top', 'the guest-physical pages with the most handled faulting exits', r.gpas.pages.map((x) => ({
      label: x.gpa, value: x.exits, tip: `page ${x.gpa}: ${x.exits} exits, ${dur(x.total_ns, u)} handling`, text: `${x.exits} exits  ${dur(x.total_ns, u)}`,
    })), esc));
    parts.push(tablesHtml(true));
    return parts.join('\n');
  }
  if (id === 'nested') return nestedHtml(r, kit);
  // not available (the table's lead says why), or a table this module has no chart for
  return tablesHtml();
}

// ---------------------------------------------------------------- nested, from its view model

const isScalar = (v: unknown) => typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || v === null;
/** A member's name as a header: "reflected_to_l1_ns" -> "reflected to l1 time" (a count and its time stay apart). */
const words = (k: string) => k.replace(/_ns$/, '_time').replace(/_/g, ' ');

/** A value of the nested model as text: times (members ending in _ns) as durations. */
function cellText(k: string, v: unknown, u: Unit): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number' && /_ns$/.test(k)) return dur(v, u);
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(3);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function nestedHtml(r: Report, kit: DetailKit): string {
  const { esc } = kit;
  const ns = buildNested(r) as unknown as Record<string, unknown>;
  if (ns.available === false) return kit.lines([`not available: ${String(ns.reason)}`], 'lead');
  const u = r.unit;
  const out: string[] = [];
  const notes = Object.entries(ns).filter(([k, v]) => typeof v === 'string' && /note/.test(k)).map(([, v]) => v as string);
  out.push(kit.lines(notes, 'lead'));
  const handled = typeof ns.handled_by_l0 === 'number' ? ns.handled_by_l0 : null;
  const reflected = typeof ns.reflected_to_l1 === 'number' ? ns.reflected_to_l1 : null;
  if (handled !== null && reflected !== null && handled + reflected > 0) {
    out.push(legend(NESTED_PARTS, esc));
    out.push(stacked('nested-split', 'L2 exits handled by L0 and reflected to L1', [{ label: 'L2 exits', parts: [handled, reflected], note: `${handled + reflected} L2 exits` }],
      NESTED_PARTS, u, esc, (v) => `${v} exits`));
  }
  const scalars = Object.entries(ns).filter(([k, v]) => k !== 'available' && isScalar(v) && !(typeof v === 'string' && /note/.test(k)));
  out.push(kit.table({ title: '', header: ['measure', 'value'], align: 'lr', rows: scalars.map(([k, v]) => [words(k), cellText(k, v, u)]) }));
  for (const [k, v] of Object.entries(ns)) {
    if (!Array.isArray(v) || !v.length || !v.every((x) => x && typeof x === 'object' && !Array.isArray(x))) continue;
    const rows = v as Array<Record<string, unknown>>;
    const cols: string[] = [];
    for (const x of rows) for (const c of Object.keys(x)) if (!cols.includes(c)) cols.push(c);
    const align = cols.map((c) => (rows.every((x) => typeof x[c] === 'number' || x[c] === null || x[c] === undefined) ? 'r' : 'l')).join('');
    out.push(`<h3>${esc(`Nested: by ${words(k)}`)}</h3>`);
    out.push(kit.table({ title: '', header: cols.map(words), align, rows: rows.map((x) => cols.map((c) => cellText(c, x[c], u))) }));
  }
  return out.join('\n');
}

// ---------------------------------------------------------------- charts

interface Part { key: string; name: string; colour: string }
const HANDLING_PARTS: Part[] = [
  { key: 'on_cpu', name: 'on-CPU handling', colour: '#d9480f' },
  { key: 'preempted', name: 'preempted (switched out during the handling)', colour: '#9c36b5' },
  { key: 'vmm', name: 'VMM userspace (kvm_userspace_exit to entry)', colour: '#1c7ed6' },
  { key: 'halted', name: 'halted (polling, blocked)', colour: '#8da2b5' },
];
const USER_PARTS: Part[] = [
  { key: 'in_kernel', name: 'in the kernel', colour: '#d9480f' },
  { key: 'vmm', name: 'in the VMM (userspace)', colour: '#1c7ed6' },
];
const NESTED_PARTS: Part[] = [
  { key: 'handled', name: 'handled by L0', colour: '#2f9e44' },
  { key: 'reflected', name: 'reflected to L1', colour: '#f08c00' },
];

const n1 = (x: number) => String(Math.round(x * 10) / 10);
const CH = 7.3;
const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, Math.max(1, max - 1))}\u2026` : s);

/** The swatches' colours are in assets/report.css (.sw-KEY: the page's policy allows no inline style). */
function legend(parts: Part[], esc: Esc): string {
  return `<ul class="legend">${parts.map((p) => `<li data-part="${esc(p.key)}"><span class="sw sw-${esc(p.key)}"></span>${esc(p.name)}</li>`).join('')}</ul>`;
}

function svgOf(id: string, w: number, h: number, label: string, inner: string[], esc: Esc): string {
  return `<svg id="${esc(id)}" class="chart detail" xmlns="http://www.w3.org/2000/svg" width="${n1(w)}" height="${n1(h)}" viewBox="0 0 ${n1(w)} ${n1(h)}" role="img" aria-label="${esc(label)}">${inner.join('')}</svg>`;
}

/** One horizontal stacked bar per row, scaled to the largest row total; a <title> per segment. */
function stacked(id: string, label: string, rows: Array<{ label: string; parts: number[]; note: string }>, parts: Part[], u: Unit, esc: Esc,
  fmt: (v: number) => string = (v) => dur(v, u)): string {
  if (!rows.length) return '';
  const labelChars = Math.min(32, Math.max(6, ...rows.map((x) => x.label.length)));
  const labelW = labelChars * CH + 10, valW = 120, W = 760, barW = W - labelW - valW, rowH = 22, top = 4;
  const total = (x: (typeof rows)[number]) => x.parts.reduce((s, v) => s + Math.max(0, v), 0);
  const max = Math.max(...rows.map(total), 1e-12);
  const inner: string[] = [];
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    const tot = total(row);
    inner.push(`<text x="${n1(labelW - 8)}" y="${y + 15}" text-anchor="end" class="mono">${esc(clip(row.label, labelChars))}<title>${esc(row.label)}</title></text>`);
    let x = labelW;
    row.parts.forEach((v, j) => {
      if (!(v > 0)) return;
      const w = Math.max(0.5, (v / max) * barW);
      const p = parts[j]!;
      inner.push(`<rect class="seg" data-key="${esc(row.label)}" data-part="${esc(p.key)}" data-v="${v}" x="${n1(x)}" y="${y + 3}" width="${n1(w)}" height="${rowH - 6}" fill="${p.colour}">` +
        `<title>${esc(`${row.label}: ${p.name} ${fmt(v)} (${tot > 0 ? ((100 * v) / tot).toFixed(1) : '0.0'}% of ${fmt(tot)}); ${row.note}`)}</title></rect>`);
      x += w;
    });
    inner.push(`<text x="${n1(x + 6)}" y="${y + 15}" class="small">${esc(fmt(tot))}</text>`);
  });
  return svgOf(id, W, top + rows.length * rowH + 6, label, inner, esc);
}

/** One horizontal bar per row, scaled to the largest value. */
function bars(id: string, label: string, rows: Array<{ label: string; value: number; tip: string; text: string }>, esc: Esc): string {
  if (!rows.length) return '';
  const labelChars = Math.min(48, Math.max(6, ...rows.map((x) => x.label.length)));
  const labelW = labelChars * CH + 10, valW = 170, W = Math.max(760, labelW + 420), barW = W - labelW - valW, rowH = 22, top = 4;
  const max = Math.max(...rows.map((x) => x.value), 1e-12);
  const inner: string[] = [];
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    const w = Math.max(row.value > 0 ? 1 : 0, (row.value / max) * barW);
    inner.push(`<text x="${n1(labelW - 8)}" y="${y + 15}" text-anchor="end" class="mono">${esc(clip(row.label, labelChars))}<title>${esc(row.label)}</title></text>`);
    inner.push(`<rect class="bar" data-key="${esc(row.label)}" data-v="${row.value}" x="${n1(labelW)}" y="${y + 3}" width="${n1(w)}" height="${rowH - 6}" fill="#4c6ef5"><title>${esc(row.tip)}</title></rect>`);
    inner.push(`<text x="${n1(labelW + w + 6)}" y="${y + 15}" class="small">${esc(row.text)}</text>`);
  });
  return svgOf(id, W, top + rows.length * rowH + 6, label, inner, esc);
}
