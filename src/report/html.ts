/**
 * `--format html`: the report as one self-contained HTML file that opens offline and is small enough
 * to attach to a bug report.
 *
 * - Static charts are SVG drawn here, on the Node side: exit tax per reason (one bar per reason), the
 *   vCPU x reason heat map, each reason's handling-time histogram with p50/p99 marked, and any
 *   histogram found under report.halt / report.timers. Tooltips are SVG <title>s: no script needed.
 * - Exits/s over time per vCPU (report.timeline, when the analysis provides it) is drawn in the browser
 *   by uPlot, embedded inline (html-assets.ts) only when there is a timeline to draw.
 * - The tables are those of the text report (sections.ts), sortable by clicking a header.
 *
 * Just over 500 lines because each chart's SVG is drawn beside the section it belongs to; the page's
 * CSS and script are assets (assets/report.css, assets/report.js), embedded at build time.
 *
 * Safety: every string that comes from a trace (comm, reason, file name, skipped excerpt) goes
 * through esc() into text or a double-quoted attribute. No script is built from data: the report is a
 * JSON data block (`<` escaped as \u003c, so nothing in it can close the element) that the one static
 * script reads with JSON.parse. A Content-Security-Policy meta tag allows only the page's own inline
 * script(s) and stylesheet, by hash, and no network at all.
 */
import type { Report, ReasonRow } from '../analysis/types.js';
import { dur, pct, sections, type Table, type ViewOptions } from './sections.js';
import { buildLevers } from '../analysis/levers/index.js';
import { leversSvg } from './levers.js';
import { detailGroup, detailSection, DETAIL_TITLES, type DetailId } from './html-detail.js';
import { REPORT_CSS, REPORT_JS, UPLOT_CSS, UPLOT_JS, UPLOT_LICENSE, UPLOT_VERSION } from './html-assets.js';

/**
 * Exits over time per vCPU, drawn when present (report.timeline). Bucket i of a vCPU covers
 * [t_ns, t_ns + bucket_ns); t_ns is on the trace's clock, like top[].ts_ns; empty buckets may be omitted.
 */
export interface Timeline {
  bucket_ns: number;
  vcpus: Array<{ file_index?: number; pid: number | null; vcpu: number | null; tid: number; buckets: Array<[number, number]> }>;
}

export interface HtmlOptions {
  /** the vCPU x reason table (the heat map is always drawn); default true */
  byVcpu?: boolean;
  /** the text report's view (sections shown, breakdowns): passed to sections() for the tables */
  view?: ViewOptions;
}

type Hist = Array<[number, number, number]>;
type Unit = Report['unit'];

// ---------------------------------------------------------------- escaping

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Text or attribute value (attributes are always double-quoted here). */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ESC[c]!);
}

/** JSON for a <script type="application/json"> block: nothing in it can end the element or open a comment. */
export function jsonForScript(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

// node:crypto is loaded here, when an HTML report is written, not at every start-up (2-3 ms)
const sha256 = (s: string) => `'sha256-${process.getBuiltinModule('node:crypto').createHash('sha256').update(s, 'utf8').digest('base64')}'`;
/** one decimal at most: SVG coordinates */
const n1 = (x: number) => String(Math.round(x * 10) / 10);

// ---------------------------------------------------------------- the page

export function renderHtml(report: Report, opts: HtmlOptions = {}): string {
  const r = report;
  const u = r.unit;
  const extra = report as Report & { timeline?: unknown; halt?: unknown; timers?: unknown };
  const timeline = validTimeline(extra.timeline);
  const tables = sections(r, { ...opts.view, byVcpu: opts.byVcpu ?? opts.view?.byVcpu ?? true });
  const body: string[] = [];
  const nav: Array<[string, string]> = [];
  const section = (id: string, title: string, html: string, lead = '') => {
    nav.push([id, title]);
    body.push(`<section id="${esc(id)}"><h2>${esc(title)}</h2>${lead}${html}</section>`);
  };

  // ---- headline ---- (the summary table, when the view shows it)
  const head = tables[0] && tables[0].title.startsWith('kvmtax ') && !tables[0].header.length ? tables[0] : undefined;
  const t = r.totals;
  const title = `kvmtax report: ${r.inputs.map((f) => f.file).join(', ')}`;
  const cards: string[] = [];
  if (r.quality.exit_entry_present && !r.sampled) {
    const card = (key: string, label: string, value: string, raw: number | null, cls = '') =>
      cards.push(`<div class="card ${cls}" data-key="${key}" data-v="${raw ?? ''}"><div class="v">${esc(value)}</div><div class="l">${esc(label)}</div></div>`);
    card('tax', 'exit tax (overhead / wall)', pct(t.tax), t.tax, 'tax');
    card('halted_share', 'halted (HLT, idle)', pct(t.halted_share), t.halted_share, 'idle');
    card('guest_share', 'in guest mode', pct(t.guest_share), t.guest_share, 'guest');
    card('exits_handled', `exits handled of ${t.exits_seen} seen`, String(t.exits_handled), t.exits_handled);
    card('exits_per_s', 'exits/s', t.exits_per_s === null ? '-' : t.exits_per_s.toFixed(1), t.exits_per_s);
    card('host_ns', 'host time', dur(t.host_ns, u), t.host_ns);
  }
  body.push(`<header><h1>kvmtax report</h1>${lines(head?.lead ?? [], 'lead')}<div class="cards">${cards.join('')}</div></header>`);

  // ---- charts ----
  if (r.quality.exit_entry_present && r.reasons.length && !r.sampled) {
    section('tax', 'Where vCPU wall time goes', wallSplit(r) + taxBars(r),
      '<p class="hint">Top: the vCPUs\' wall time split as in the headline. Bars: the host time of each exit reason as a share of that wall time; grey: idle (HLT) exits, where the vCPU had nothing to run. Click a reason for its histogram.</p>');
  }
  const vcpuCount = r.vms.reduce((s, vm) => s + vm.vcpus.length, 0);
  if (r.reasons.length && vcpuCount) {
    section('heatmap', 'vCPU x reason', heatMap(r),
      '<p class="hint">Cell: the host time of that reason on that vCPU; colour: its share of the vCPU\'s wall time. Hover a cell for counts and percentiles.</p>');
  }
  if (timeline) {
    section('timeline', 'Exits/s over time per vCPU', '<div id="timeline-chart" class="chart"></div>',
      `<p class="hint">${esc(`buckets of ${dur(timeline.bucket_ns, u)}; drag to zoom, double-click to zoom out; red lines: the slowest exits`)}</p>`);
  }
  if (r.reasons.length && !r.sampled) section('histograms', 'Handling time per reason', histograms(r));
  if (opts.view?.sections?.has('levers')) {
    const lv = buildLevers(r);
    if (lv.available) section('levers-ranked', 'Which lever to pull (ranked)', leversSvg(lv, esc));
    for (const [i, v] of (lv.per_vm ?? []).entries()) if (v.available) section(`levers-ranked-vm${i}`, `Which lever to pull: ${v.vm.pid !== null && !v.vm.name.includes(String(v.vm.pid)) ? `${v.vm.name} (pid ${v.vm.pid})` : v.vm.name}`, leversSvg(v, esc));
  }
  for (const [key, name] of [['halt', 'Halt polling: distributions'], ['timers', 'Timer latency: distributions'], ['sched', 'vCPU scheduling: distributions']] as const) {
    const v = extra[key];
    if (!v || typeof v !== 'object' || (v as { available?: unknown }).available === false) continue;
    const found: Found[] = [];
    collect(key === 'halt' ? withoutDuplicateBlocked(v) : v, [], null, found, 0);
    if (!found.length) continue;
    const hs = found.filter((f) => f.hist);
    const ss = found.filter((f) => !f.hist);
    section(key, name,
      (['ns', 'cycles'] as const).map((un) => quantileStrips(`${key}-q-${un}`, ss.filter((f) => unitOf(f.owner, u) === un), un)).join('') +
      (hs.length ? `<div class="grid">${hs.map((h, i) => histPanel(`${key}-${i}`, `${h.who ? `${h.who} ` : ''}${h.metric}`, h.hist!, num(h.owner.p50_ns), num(h.owner.p99_ns), unitOf(h.owner, u), [])).join('')}</div>` : ''),
      '<p class="hint">Per vCPU and measure: thin line min to max, box p50 to p99, green tick p50, red tick p99, dot mean (log time axis).</p>');
  }

  // ---- the tables of the text report ----
  // the exit-detail sections (handling, userspace, nested, rip, gpa): one section each, its chart and its tables
  const detail = new Map<DetailId, Table[]>();
  for (const tb of tables) {
    const g = detailGroup(tb.title);
    if (g) detail.set(g, [...(detail.get(g) ?? []), tb]);
  }
  for (let i = head ? 1 : 0; i < tables.length; i++) {
    const tb = tables[i]!;
    const id = tableId(tb.title, i);
    const g = detailGroup(tb.title);
    if (g) {
      if (detail.get(g)![0] === tb) section(g, DETAIL_TITLES[g], detailSection(g, r, detail.get(g)!, { esc, table: (x) => table(x), lines }));
    } else if (tb.title === 'Data quality') {
      section('quality', 'Data quality', quality(r, tb));
    } else if (tb.title.startsWith('Slowest exits')) {
      section(id, tb.title, table(tb, (row, c, cell) => slowCell(r, row, c, cell, timeline !== null)), lines(tb.lead ?? [], 'lead'));
    } else if (tb.title === 'vCPU x reason') {
      section(id, tb.title, `<details><summary>${esc(`${tb.rows.length} rows`)}</summary>${table(tb)}</details>`);
    } else {
      section(id, tb.title, table(tb), lines(tb.lead ?? [], 'lead'));
    }
  }

  // ---- assemble: the data, the static script, the policy ----
  const css = STYLE + (timeline ? UPLOT_CSS : '');
  const scripts = [APP_JS];
  if (timeline) scripts.unshift(`/*! uPlot ${UPLOT_VERSION}\n${UPLOT_LICENSE}\n*/\n${UPLOT_JS}`);
  const csp = [
    "default-src 'none'", `script-src ${scripts.map(sha256).join(' ')}`, `style-src ${sha256(css)}`,
    "img-src data:", "base-uri 'none'", "form-action 'none'",
  ].join('; ');
  const navHtml = `<nav>${nav.map(([id, label]) => `<a href="#${esc(id)}">${esc(label)}</a>`).join('')}</nav>`;
  const foot = `<footer>kvmtax ${esc(r.kvmtax.version)}, report schema ${esc(r.kvmtax.schema)}.` +
    (timeline ? ` Charts over time: uPlot ${esc(UPLOT_VERSION)} (MIT, Leon Sorokin).` : '') +
    ' The report as JSON is embedded in this file (script#kvmtax-data).</footer>';
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${esc(csp)}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta name="generator" content="kvmtax ${esc(r.kvmtax.version)}">`,
    `<title>${esc(title)}</title>`,
    `<style>${css}</style>`,
    '</head><body>',
    navHtml,
    `<main>${body.join('\n')}</main>`,
    foot,
    `<script type="application/json" id="kvmtax-data">${jsonForScript(r)}</script>`,
    ...scripts.map((s) => `<script>${s}</script>`),
    '</body></html>',
    '',
  ].join('\n');
}

function lines(ls: string[], cls: string): string {
  return ls.length ? `<ul class="${cls}">${ls.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>` : '';
}

function tableId(title: string, i: number): string {
  const s = title.toLowerCase().replace(/\(.*?\)/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  return s ? `t-${s}` : `t-${i}`;
}

/** A sortable table; cell() may return the inner HTML of a cell (the text is escaped otherwise). */
/**
 * The halt section's `blocked` equals `halt_blocked` for every vCPU whose poll window was traced (it
 * differs only where untraced waits are taken to have blocked): the same distribution is drawn once.
 */
function withoutDuplicateBlocked(sec: unknown): unknown {
  const s = sec as { vcpus?: Array<Record<string, unknown>> };
  if (!Array.isArray(s.vcpus)) return sec;
  return {
    ...s,
    vcpus: s.vcpus.map((c) => (JSON.stringify(c.blocked) === JSON.stringify(c.halt_blocked) ? { ...c, blocked: undefined } : c)),
  };
}

function table(tb: Table, cell?: (row: number, col: number, text: string) => string | undefined): string {
  const al = (i: number) => (tb.align[i] === 'r' ? ' class="r"' : '');
  const th = tb.header.map((h, i) => `<th${al(i)} scope="col" title="click to sort">${esc(h)}</th>`).join('');
  const rows = tb.rows.map((row, ri) =>
    `<tr>${row.map((c, ci) => `<td${al(ci)}>${cell?.(ri, ci, c) ?? esc(c)}</td>`).join('')}</tr>`).join('\n');
  return `<div class="scroll"><table class="sortable"><thead><tr>${th}</tr></thead><tbody>\n${rows}\n</tbody></table></div>` +
    lines(tb.foot ?? [], 'foot');
}

/** Slowest exits: the time jumps to the timeline, the reason to its histogram; the row is #slow-N. */
function slowCell(r: Report, row: number, col: number, text: string, haveTimeline: boolean): string | undefined {
  const x = r.top[row];
  if (!x) return undefined;
  const anchor = col === 0 ? `<span id="slow-${row}"></span>` : '';
  if (col === 0 && haveTimeline) return `${anchor}<a href="#timeline" class="tl-link" data-t="${x.ts_ns}">${esc(text)}</a>`;
  if (col === 0) return `${anchor}${esc(text)}`;
  const ri = r.reasons.findIndex((y) => y.reason === x.reason);
  if (col === 4 && ri >= 0 && r.reasons[ri]!.histogram) return `<a href="#hist-${ri}">${esc(text)}</a>`;
  if (col === 6) return `<code>${esc(text)}</code>`;
  return undefined;
}

function quality(r: Report, tb: Table): string {
  const q = r.quality;
  const kv = (rows: Array<[string, string | number]>) =>
    `<table class="kv"><tbody>${rows.map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td class="r">${esc(v)}</td></tr>`).join('')}</tbody></table>`;
  const parts: string[] = [lines(tb.lead ?? [], 'lead')];
  const byName: Array<[string, number]> = Object.entries(q.events_by_name);
  const un = q.unpaired;
  parts.push('<div class="grid">');
  parts.push(`<div><h3>Read</h3>${kv([
    ['events read', q.events_read], ['lines read', q.lines_read ?? '-'], ['time span', q.first_ts !== null ? dur(q.span_ns, r.unit) : '-'],
    ['lost-event markers', q.lost.markers], ['events lost', q.lost.events], ['names beyond the dictionary', q.dictionary_overflow],
  ])}</div>`);
  parts.push(`<div><h3>Unpaired</h3>${kv([
    ['exits pending at the end', un.exits_pending_at_end], ['exits followed by another exit', un.exits_without_entry],
    ['entries without their exit', un.entries_without_exit], ['threads starting with an entry', un.leading_entries],
    ['pairings dropped at lost-event gaps', un.lost_resets], ['entries earlier than their exit', un.backwards],
  ])}</div>`);
  parts.push(`<div><h3>Events by name</h3>${byName.length ? table({ title: '', header: ['event', 'count'], align: 'lr', rows: byName.map(([k, v]) => [k, String(v)]) }) : '<p>none</p>'}</div>`);
  parts.push('</div>');
  parts.push('<h3>Skipped lines</h3>');
  parts.push(q.skipped.length
    ? table({ title: '', header: ['kind', 'what', 'count', 'first at', 'text'], align: 'llrll', rows: q.skipped.map((s) => [s.kind, s.what, String(s.count), s.first, s.excerpt]) },
      (_r, c, text) => (c >= 3 ? `<code>${esc(text)}</code>` : undefined))
    : '<p>none: every line was read</p>');
  return parts.join('\n');
}

// ---------------------------------------------------------------- charts (SVG)

const FONT = 12;
const CH = 7.3; // width of a monospace character at 12px
const OVERHEAD = '#d9480f';
const IDLE = '#8da2b5';
const GUEST = '#2f9e44';

function svg(w: number, h: number, cls: string, label: string, inner: string[], id?: string): string {
  return `<svg${id ? ` id="${esc(id)}"` : ''} class="${cls}" xmlns="http://www.w3.org/2000/svg" width="${n1(w)}" height="${n1(h)}" viewBox="0 0 ${n1(w)} ${n1(h)}" role="img" aria-label="${esc(label)}">${inner.join('')}</svg>`;
}
const text = (x: number, y: number, s: string, anchor = 'start', cls = '') =>
  `<text x="${n1(x)}" y="${n1(y)}" text-anchor="${anchor}"${cls ? ` class="${cls}"` : ''}>${esc(s)}</text>`;
const tickLabel = (v: number, u: Unit) => (u === 'cycles'
  ? (v >= 1e9 ? `${v / 1e9}G` : v >= 1e6 ? `${v / 1e6}M` : v >= 1e3 ? `${v / 1e3}k` : String(v)) + ' cyc'
  : dur(v, u).replace(/\.0+ /, ' '));
const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, Math.max(1, max - 1))}\u2026` : s);

/** One stacked bar: guest / halted / overhead / the rest of the vCPU wall time. */
function wallSplit(r: Report): string {
  const t = r.totals;
  const parts: Array<[string, number, string, string]> = [
    ['guest', t.guest_share ?? 0, GUEST, 'in guest mode'],
    ['halted', t.halted_share ?? 0, IDLE, 'halted (HLT: polling and blocked, idle)'],
    ['overhead', t.tax ?? 0, OVERHEAD, 'exit-handling overhead (the exit tax)'],
  ];
  const rest = Math.max(0, 1 - parts.reduce((s, p) => s + p[1], 0));
  if (rest > 0.0005) parts.push(['other', rest, '#dee2e6', 'not covered by an exit/entry pair (before the first event, unpaired, lost)']);
  const W = 760, H = 58, bw = W - 2;
  const inner: string[] = [];
  let x = 1;
  for (const [key, share, colour, what] of parts) {
    const w = share * bw;
    inner.push(`<rect class="seg" data-key="${key}" x="${n1(x)}" y="4" width="${n1(w)}" height="26" fill="${colour}"><title>${esc(`${what}: ${pct(share)} of vCPU wall time`)}</title></rect>`);
    if (w > 60) inner.push(text(x + 4, 22, `${key} ${pct(share)}`, 'start', 'on-dark'));
    x += w;
  }
  inner.push(text(1, 48, `vCPU wall time ${dur(t.wall_ns, r.unit)} = guest ${dur(t.guest_ns, r.unit)} + host ${dur(t.host_ns, r.unit)} (halted ${dur(t.halted_ns, r.unit)} + overhead ${dur(t.overhead_ns, r.unit)})` + (rest > 0.0005 ? ' + other' : ''), 'start', 'small'));
  return svg(W, H, 'chart wall', 'vCPU wall time split', inner);
}

/** Exit-tax breakdown: one bar per reason, its host time as a share of the vCPU wall time. */
function taxBars(r: Report): string {
  const u = r.unit;
  const wall = r.totals.wall_ns;
  const share = (x: ReasonRow) => (wall > 0 ? x.total_ns / wall : 0);
  const labelW = Math.min(28, Math.max(8, ...r.reasons.map((x) => x.reason.length + (x.idle ? 7 : 0)))) * CH + 10;
  const valW = 190;
  const W = 760, barW = W - labelW - valW, rowH = 22, top = 6;
  const max = Math.max(...r.reasons.map(share), 1e-12);
  const inner: string[] = [];
  r.reasons.forEach((x, i) => {
    const y = top + i * rowH;
    const w = Math.max(share(x) > 0 ? 1 : 0, (share(x) / max) * barW);
    const label = x.reason + (x.idle ? ' (idle)' : '');
    inner.push(`<a href="#hist-${i}">${text(labelW - 8, y + 15, clip(label, 28), 'end', 'mono')}</a>`);
    inner.push(`<rect class="bar${x.idle ? ' idle' : ''}" data-reason="${esc(x.reason)}" data-total-ns="${x.total_ns}" x="${n1(labelW)}" y="${y + 3}" width="${n1(w)}" height="${rowH - 6}" fill="${x.idle ? IDLE : OVERHEAD}">` +
      `<title>${esc(`${label}: ${x.exits_handled} exits handled, ${dur(x.total_ns, u)} host time (${pct(x.share_host)} of host time), ${pct(share(x))} of vCPU wall time; mean ${dur(x.mean_ns, u)}, p99 ${dur(x.p99_ns, u)}`)}</title></rect>`);
    inner.push(text(labelW + w + 6, y + 15, `${pct(share(x))}  ${dur(x.total_ns, u)}  ${x.exits_handled} exits`, 'start', 'small'));
  });
  return svg(W, top + r.reasons.length * rowH + 6, 'chart bars', 'exit tax per reason', inner);
}

function heatMap(r: Report): string {
  const u = r.unit;
  const reasons = r.reasons.map((x) => x.reason);
  const rows = r.vms.flatMap((vm) => vm.vcpus.map((c) => ({ vm, c })));
  const multi = r.vms.length > 1;
  const rowLabel = (x: (typeof rows)[number]) =>
    `${multi ? `${x.vm.name} ` : ''}vcpu ${x.c.vcpu ?? '?'} (tid ${x.c.tid})`;
  const labelChars = Math.min(40, Math.max(...rows.map((x) => rowLabel(x).length)));
  const labelW = labelChars * CH + 10;
  const cellW = Math.max(64, Math.min(96, Math.floor((900 - labelW) / Math.max(1, reasons.length))));
  const cellH = 26, headH = 70;
  const W = labelW + reasons.length * cellW + 4, H = headH + rows.length * cellH + 4;
  let max = 0;
  for (const { c } of rows) for (const x of c.reasons ?? []) if (c.wall_ns > 0) max = Math.max(max, x.total_ns / c.wall_ns);
  const inner: string[] = [];
  reasons.forEach((name, j) => {
    const x = labelW + j * cellW + cellW / 2;
    inner.push(`<text class="mono" transform="translate(${n1(x)},${headH - 6}) rotate(-35)" text-anchor="start">${esc(clip(name, 14))}<title>${esc(name)}</title></text>`);
  });
  rows.forEach((row, i) => {
    const y = headH + i * cellH;
    const label = rowLabel(row);
    inner.push(`<text x="${n1(labelW - 8)}" y="${y + 17}" text-anchor="end" class="mono">${esc(clip(label, labelChars))}<title>${esc(`${row.vm.name}, vcpu ${row.c.vcpu ?? '?'}, tid ${row.c.tid}, comm ${row.c.comm ?? '?'}`)}</title></text>`);
    const byReason = new Map((row.c.reasons ?? []).map((x) => [x.reason, x]));
    reasons.forEach((name, j) => {
      const x = labelW + j * cellW;
      const v = byReason.get(name);
      const idle = r.reasons[j]!.idle;
      if (!v || v.exits_seen === 0) {
        inner.push(`<rect class="cell empty" x="${n1(x + 1)}" y="${y + 1}" width="${cellW - 2}" height="${cellH - 2}" fill="#f8f9fa"><title>${esc(`${label} x ${name}: no exits`)}</title></rect>`);
        return;
      }
      const s = row.c.wall_ns > 0 ? v.total_ns / row.c.wall_ns : 0;
      const k = max > 0 ? Math.sqrt(s / max) : 0;
      const fill = shade(idle ? [141, 162, 181] : [217, 72, 15], k);
      inner.push(`<rect class="cell" data-vcpu="${row.c.vcpu ?? ''}" data-tid="${row.c.tid}" data-reason="${esc(name)}" data-total-ns="${v.total_ns}" x="${n1(x + 1)}" y="${y + 1}" width="${cellW - 2}" height="${cellH - 2}" fill="${fill}">` +
        `<title>${esc(`${label} x ${name}: ${v.exits_handled} of ${v.exits_seen} exits handled, ${dur(v.total_ns, u)} (${pct(row.c.wall_ns > 0 ? s : null)} of the vCPU's wall time); mean ${dur(v.mean_ns, u)}, p50 ${dur(v.p50_ns, u)}, p99 ${dur(v.p99_ns, u)}, max ${dur(v.max_ns, u)}`)}</title></rect>`);
      inner.push(text(x + cellW / 2, y + 17, dur(v.total_ns, u), 'middle', k > 0.55 ? 'cellv on-dark' : 'cellv'));
    });
  });
  return svg(W, H, 'chart heat', 'vCPU x reason heat map', inner);
}

function shade(rgb: [number, number, number], k: number): string {
  const f = 0.1 + 0.9 * Math.min(1, Math.max(0, k));
  const c = rgb.map((v) => Math.round(255 - (255 - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function histograms(r: Report): string {
  const have = r.reasons.some((x) => x.histogram);
  if (!have) return '<p class="hint">The report was made without histograms (analyze with histograms: true, or --histograms).</p>';
  const panels = r.reasons.map((x, i) => {
    const marks = r.top.map((t, j) => ({ t, j })).filter((m) => m.t.reason === x.reason);
    return x.histogram && x.histogram.length
      ? histPanel(`hist-${i}`, x.reason + (x.idle ? ' (idle)' : ''), x.histogram, x.p50_ns, x.p99_ns, r.unit,
        marks.map((m) => ({ v: m.t.duration_ns, href: `#slow-${m.j}`, label: `slow exit ${m.t.at} ${dur(m.t.duration_ns, r.unit)}` })))
      : `<figure id="hist-${i}" class="hist empty"><figcaption>${esc(x.reason)}: no handled exits</figcaption></figure>`;
  });
  return `<p class="hint">Log time axis; dashed: p50 and p99; triangles: the slowest exits (click for the row).</p><div class="grid">${panels.join('')}</div>`;
}

/** One histogram of [lo, hi, count] buckets on a log time axis, p50/p99 marked. */
function histPanel(id: string, title: string, h: Hist, p50: number | null, p99: number | null, u: Unit,
  marks: Array<{ v: number; href: string; label: string }>): string {
  const W = 400, H = 190, L = 44, R = 22, T = 22, B = 30;
  const pw = W - L - R, ph = H - T - B;
  const n = h.reduce((s, b) => s + b[2], 0);
  const lo = Math.max(1, Math.min(...h.map((b) => b[0])));
  const hi = Math.max(lo * 10, ...h.map((b) => b[1]));
  const l0 = Math.floor(Math.log10(lo)), l1 = Math.ceil(Math.log10(hi));
  const x = (v: number) => L + ((Math.log10(Math.max(v, 1)) - l0) / Math.max(1e-9, l1 - l0)) * pw;
  const cmax = Math.max(...h.map((b) => b[2]), 1);
  const y = (c: number) => T + ph - (c / cmax) * ph;
  const inner: string[] = [];
  inner.push(text(L, 14, `${title}: ${n} exits`, 'start', 'mono'));
  inner.push(`<line class="axis" x1="${L}" y1="${T + ph}" x2="${L + pw}" y2="${T + ph}"/>`);
  inner.push(`<line class="axis" x1="${L}" y1="${T}" x2="${L}" y2="${T + ph}"/>`);
  for (let d = l0; d <= l1; d++) {
    const xv = x(10 ** d);
    inner.push(`<line class="tick" x1="${n1(xv)}" y1="${T + ph}" x2="${n1(xv)}" y2="${T + ph + 4}"/>`);
    inner.push(text(xv, T + ph + 16, tickLabel(10 ** d, u), 'middle', 'small'));
  }
  inner.push(text(L - 4, T + 8, String(cmax), 'end', 'small'));
  inner.push(text(L - 4, T + ph, '0', 'end', 'small'));
  for (const [a, b, c] of h) {
    if (c <= 0) continue;
    const x0 = x(a), x1 = Math.max(x(b), x0 + 1.2);
    inner.push(`<rect class="hbar" x="${n1(x0)}" y="${n1(y(c))}" width="${n1(x1 - x0)}" height="${n1(T + ph - y(c))}"><title>${esc(`${dur(a, u)} - ${dur(b, u)}: ${c}`)}</title></rect>`);
  }
  const q = (v: number | null, name: string, cls: string, dy: number) => {
    if (v === null) return;
    const xv = x(v);
    inner.push(`<line class="${cls}" data-q="${name}" data-v="${v}" x1="${n1(xv)}" y1="${T}" x2="${n1(xv)}" y2="${T + ph}"><title>${esc(`${name} ${dur(v, u)}`)}</title></line>`);
    inner.push(text(xv > L + pw - 90 ? xv - 3 : xv + 3, T + dy, `${name} ${dur(v, u)}`, xv > L + pw - 90 ? 'end' : 'start', `small ${cls}`));
  };
  q(p50, 'p50', 'q50', 10);
  q(p99, 'p99', 'q99', 22);
  for (const m of marks) {
    const xv = x(m.v);
    inner.push(`<a href="${esc(m.href)}"><path class="mark" d="M${n1(xv)} ${T + ph - 1}l-5 -9h10z"><title>${esc(m.label)}</title></path></a>`);
  }
  return `<figure id="${esc(id)}" class="hist">${svg(W, H, 'chart histogram', `${title} handling-time histogram`, inner)}</figure>`;
}

// ---------------------------------------------------------------- optional inputs

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function isHist(v: unknown): v is Hist {
  return Array.isArray(v) && v.length > 0 &&
    v.every((b) => Array.isArray(b) && b.length === 3 && b.every((z) => typeof z === 'number' && Number.isFinite(z)));
}

interface Found { who: string | null; metric: string; hist?: Hist; stats?: Record<string, unknown>; owner: Record<string, unknown> }

const isStats = (o: Record<string, unknown>) =>
  'p50_ns' in o && 'p99_ns' in o && 'max_ns' in o && typeof o.p50_ns === 'number' && typeof o.max_ns === 'number';
const unitOf = (o: Record<string, unknown>, u: Unit): Unit => (o.unit === 'cycles' || o.unit === 'ns' ? o.unit : u);

/**
 * Every distribution under v (halt / timers / sched, whatever their shape): histograms ([lo, hi, count][])
 * and Stats objects (p50_ns, p99_ns, ...), with the vCPU they belong to (an object with a tid).
 */
function collect(v: unknown, path: string[], who: string | null, out: Found[], depth: number): void {
  if (depth > 6 || out.length >= 400 || !v || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    v.forEach((x, i) => collect(x, [...path, String(i)], who, out, depth + 1));
    return;
  }
  const o = v as Record<string, unknown>;
  if (typeof o.tid === 'number') {
    who = `${typeof o.pid === 'number' ? `pid ${o.pid} ` : ''}vcpu ${typeof o.vcpu === 'number' ? o.vcpu : '?'} (tid ${o.tid})`;
    path = [];
  }
  const label = (k: string) => [...path.filter((p) => !/^\d+$/.test(p) && p !== 'vcpus'), k].join(' ');
  for (const [k, x] of Object.entries(o)) {
    if (isHist(x)) out.push({ who, metric: k === 'histogram' ? label('').trim() || 'histogram' : label(k), hist: x, owner: o });
    else if (x && typeof x === 'object' && !Array.isArray(x) && isStats(x as Record<string, unknown>)) {
      out.push({ who, metric: label(k), stats: x as Record<string, unknown>, owner: o });
    } else collect(x, [...path, k], who, out, depth + 1);
  }
}

/** Stats objects as rows of quantile strips on one log time axis, grouped by measure. */
function quantileStrips(id: string, rows: Found[], u: Unit): string {
  const sorted = [...rows].sort((a, b) => (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0));
  const st = (f: Found, k: string) => num(f.stats![k]);
  const vals = sorted.flatMap((f) => ['min_ns', 'max_ns', 'p50_ns'].map((k) => st(f, k)).filter((x): x is number => x !== null && x > 0));
  if (!vals.length) return '';
  const l0 = Math.floor(Math.log10(Math.min(...vals))), l1 = Math.max(l0 + 1, Math.ceil(Math.log10(Math.max(...vals))));
  const label = (f: Found) => `${f.metric}${f.who ? `  ${f.who}` : ''}`;
  const chars = Math.min(56, Math.max(...sorted.map((f) => label(f).length)));
  const L = chars * CH + 12, W = Math.max(760, L + 420), R = 30, rowH = 18, T = 8, pw = W - L - R;
  const H = T + sorted.length * rowH + 28;
  const x = (v: number) => L + ((Math.log10(Math.max(v, 10 ** l0)) - l0) / (l1 - l0)) * pw;
  const inner: string[] = [];
  for (let d = l0; d <= l1; d++) {
    const xv = x(10 ** d);
    inner.push(`<line class="grid-line" x1="${n1(xv)}" y1="${T}" x2="${n1(xv)}" y2="${T + sorted.length * rowH}"/>`);
    inner.push(text(xv, T + sorted.length * rowH + 16, tickLabel(10 ** d, u), 'middle', 'small'));
  }
  sorted.forEach((f, i) => {
    const y = T + i * rowH + rowH / 2;
    const un = unitOf(f.owner, u);
    inner.push(text(L - 8, y + 4, clip(label(f), chars), 'end', 'mono'));
    const mn = st(f, 'min_ns'), p50 = st(f, 'p50_ns'), p99 = st(f, 'p99_ns'), mx = st(f, 'max_ns'), mean = st(f, 'mean_ns');
    const tip = `${label(f)}: min ${dur(mn, un)}, mean ${dur(mean, un)}, p50 ${dur(p50, un)}, p90 ${dur(st(f, 'p90_ns'), un)}, p99 ${dur(p99, un)}, max ${dur(mx, un)}`;
    const parts: string[] = [];
    if (mn !== null && mx !== null) parts.push(`<line class="range" x1="${n1(x(mn))}" y1="${n1(y)}" x2="${n1(x(mx))}" y2="${n1(y)}"/>`);
    if (p50 !== null && p99 !== null) parts.push(`<rect class="iqr" x="${n1(x(p50))}" y="${n1(y - 5)}" width="${n1(Math.max(1, x(p99) - x(p50)))}" height="10"/>`);
    if (p50 !== null) parts.push(`<line class="q50" x1="${n1(x(p50))}" y1="${n1(y - 6)}" x2="${n1(x(p50))}" y2="${n1(y + 6)}"/>`);
    if (p99 !== null) parts.push(`<line class="q99" x1="${n1(x(p99))}" y1="${n1(y - 6)}" x2="${n1(x(p99))}" y2="${n1(y + 6)}"/>`);
    if (mean !== null) parts.push(`<circle class="mean" cx="${n1(x(mean))}" cy="${n1(y)}" r="2.5"/>`);
    inner.push(`<g class="strip" data-p50="${p50 ?? ''}" data-p99="${p99 ?? ''}"><title>${esc(tip)}</title>${parts.join('')}</g>`);
  });
  return svg(W, H, 'chart strips', 'distributions', inner, id);
}

function validTimeline(v: unknown): Timeline | null {
  if (!v || typeof v !== 'object') return null;
  const t = v as Partial<Timeline>;
  if (!(typeof t.bucket_ns === 'number' && t.bucket_ns > 0) || !Array.isArray(t.vcpus) || t.vcpus.length === 0) return null;
  const ok = t.vcpus.every((s) => s && typeof s.tid === 'number' && Array.isArray(s.buckets) &&
    s.buckets.every((b) => Array.isArray(b) && typeof b[0] === 'number' && typeof b[1] === 'number'));
  return ok ? (t as Timeline) : null;
}

// ---------------------------------------------------------------- the static stylesheet and script

// their text is src/report/assets/report.css and report.js, embedded at build time (html-assets.ts);
// the leading newline puts each on its own line after <style> / <script>
const STYLE = '\n' + REPORT_CSS;
/** The one script of the page: static text, no data in it (the CSP allows it by its hash). */
const APP_JS = '\n' + REPORT_JS;
