/**
 * A comparison as titled tables of display strings (shared by the terminal and Markdown renderers),
 * and the terminal rendering itself.
 */
import type { Comparison, ComparedFigure, FigureUnit, VcpuSide } from '../analysis/runs/compare.js';
import { dur, pct, type Table } from './sections.js';
import { renderTables } from './table.js';

/** A figure's value for people, in its unit. */
export function fmtValue(v: number | null | undefined, unit: FigureUnit, time: 'ns' | 'cycles' = 'ns'): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '-';
  switch (unit) {
    case 'ratio': return pct(v);
    case 'ns': return dur(v, time);
    case 'per_s': return v.toFixed(1);
    case 'count': return String(Math.round(v));
    default: return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  }
}

const signed = (s: string, v: number) => (v > 0 ? `+${s}` : v === 0 ? s : s.startsWith('-') ? s : `-${s}`);

/** after - before, in points for shares. */
export function fmtDelta(v: number | null | undefined, unit: FigureUnit, time: 'ns' | 'cycles' = 'ns'): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '-';
  if (unit === 'ratio') return signed(`${Math.abs(v * 100).toFixed(2)} pp`, v);
  return signed(fmtValue(Math.abs(v), unit, time), v);
}

export function fmtRatio(r: number | null | undefined): string {
  return r === null || r === undefined ? '-' : `x${r.toFixed(3)}`;
}

function fmtP(p: number): string {
  return p < 0.0001 ? '<0.0001' : p.toFixed(4);
}

function presenceTag(c: Comparison, reason: string): string {
  const r = c.reasons.find((x) => x.reason === reason);
  return r?.presence === 'vanished' ? 'VANISHED' : r?.presence === 'appeared' ? 'NEW' : '';
}

export function compareSections(c: Comparison): Table[] {
  const [la, lb] = c.labels;
  const u = c.unit;
  const out: Table[] = [];
  const fig = (key: string) => c.figures.find((f) => f.key === key);
  const v = (f: ComparedFigure | undefined, side: 'before' | 'after') => fmtValue(f?.[side], f?.unit ?? 'number', u);

  // ---- headline ----
  const lead: string[] = [];
  c.sides.forEach((s, i) => {
    const what = c.split === 'vm' ? `${s.runs.length} run${s.runs.length === 1 ? '' : 's'} (one per VM)` : `${s.runs.length} run${s.runs.length === 1 ? '' : 's'} (one per trace)`;
    lead.push(`${i === 0 ? 'before' : 'after'} = ${s.label}: ${s.files.join(', ')} (${what}, ${s.isa})`);
  });
  const tax = fig('tax');
  const halted = fig('halted');
  const guest = fig('guest');
  if (tax) {
    lead.push(`exit tax ${v(tax, 'before')} -> ${v(tax, 'after')} (${fmtDelta(tax.delta, 'ratio')}, ${fmtRatio(tax.ratio)}); halted ${v(halted, 'before')} -> ${v(halted, 'after')}; guest mode ${v(guest, 'before')} -> ${v(guest, 'after')}`);
  }
  const list = (p: 'vanished' | 'appeared') => c.reasons.filter((r) => r.presence === p)
    .map((r) => `${r.reason}${r.idle ? ' (idle)' : ''}: ${p === 'vanished' ? r.exits_before : r.exits_after} exits, ${dur(p === 'vanished' ? r.host_ns_before : r.host_ns_after, u)} host time`);
  const gone = list('vanished');
  const came = list('appeared');
  lead.push(`vanished under ${lb}: ${gone.length ? gone.join('; ') : 'none'}`);
  lead.push(`appeared under ${lb}: ${came.length ? came.join('; ') : 'none'}`);
  for (const n of c.notes) lead.push(`note: ${n}`);
  out.push({ title: `kvmtax ${c.kvmtax.version} compare: ${la} -> ${lb}`, lead, header: [], align: '', rows: [] });

  // ---- overall ----
  const overall = c.figures.filter((f) => f.scope === 'overall');
  out.push({
    title: 'Overall',
    header: ['figure', la, lb, 'delta', 'ratio'],
    align: 'lrrrr',
    rows: overall.map((f) => [f.title + (f.figure === 'mean' || f.figure === 'p50' || f.figure === 'p99' ? ' (non-idle exits)' : ''), v(f, 'before'), v(f, 'after'), fmtDelta(f.delta, f.unit, u), fmtRatio(f.ratio)]),
    foot: ['exit tax = non-idle exit-handling time / vCPU wall time; halted = time the vCPUs were halted (HLT: polling, then blocked; idle) / wall; delta in percentage points (pp) for shares'],
  });

  // ---- per reason ----
  if (c.reasons.length) {
    const rows = c.reasons.map((r) => {
      const g = (name: string) => c.figures.find((f) => f.figure === name && f.reason === r.reason);
      const e = g('exits_per_s');
      const t = g('tax');
      const p50 = g('p50');
      const p99 = g('p99');
      return [
        r.reason + (r.idle ? ' (idle)' : ''), presenceTag(c, r.reason),
        v(e, 'before'), v(e, 'after'), fmtRatio(e?.ratio),
        v(t, 'before'), v(t, 'after'), fmtDelta(t?.delta, 'ratio'),
        v(p50, 'before'), v(p50, 'after'), fmtRatio(p50?.ratio),
        v(p99, 'before'), v(p99, 'after'), fmtRatio(p99?.ratio),
      ];
    });
    out.push({
      title: `Exit reasons (${la} -> ${lb})`,
      header: ['reason', '', `exits/s ${la}`, lb, 'ratio', `tax ${la}`, lb, 'delta', `p50 ${la}`, lb, 'ratio', `p99 ${la}`, lb, 'ratio'],
      align: 'llrrrrrrrrrrrr',
      rows,
      foot: ['tax of a reason = its host time / vCPU wall time (of an idle reason such as hlt: its host time, mostly halted); VANISHED: no exits after, NEW: none before'],
    });
  }

  // ---- sections of later reports (halt-polling, timers, IPIs) ----
  const sec = c.figures.filter((f) => f.scope === 'section');
  if (sec.length) {
    out.push({
      title: 'Other figures (report sections)',
      header: ['figure', la, lb, 'delta', 'ratio'],
      align: 'lrrrr',
      rows: sectionRows(sec, la, lb, (f, s) => v(f, s), (f) => [fmtDelta(f.delta, f.unit, u), fmtRatio(f.ratio)]),
    });
  }

  // ---- statistics over runs ----
  const withStats = c.figures.filter((f) => f.a && f.b && (f.scope !== 'reason' || f.figure === 'tax' || f.figure === 'exits_per_s' || f.figure === 'p99'));
  if (withStats.length) {
    const ms = (f: ComparedFigure, s: 'a' | 'b') => {
      const x = f[s]!;
      if (x.mean === null) return '-';
      return `${fmtValue(x.mean, f.unit, u)}${x.sd !== null ? ` ± ${fmtValue(x.sd, f.unit === 'ratio' ? 'ratio' : f.unit, u)}` : ''} (n=${x.n})`;
    };
    const cvs = (f: ComparedFigure, s: 'a' | 'b') => (f[s]!.cv === null ? '-' : pct(f[s]!.cv));
    out.push({
      title: `Runs: mean ± sd per side, spread, and the difference (${Math.round(c.statistic.level * 100)}% CI, Welch's t-test)`,
      lead: [`statistic: ${c.statistic.description}`],
      header: ['figure', la, lb, `cv ${la}`, `cv ${lb}`, 'sd ratio', 'diff', `${Math.round(c.statistic.level * 100)}% CI`, 'p', 'verdict'],
      align: 'lrrrrrrrrl',
      rows: withStats.map((f) => {
        const t = f.test;
        const sdr = f.a!.sd !== null && f.b!.sd !== null && f.a!.sd !== 0 ? fmtRatio(f.b!.sd / f.a!.sd) : '-';
        return [
          f.key, ms(f, 'a'), ms(f, 'b'), cvs(f, 'a'), cvs(f, 'b'), sdr,
          t ? fmtDelta(t.diff, f.unit, u) : '-', t ? `[${fmtDelta(t.ci[0], f.unit, u)}, ${fmtDelta(t.ci[1], f.unit, u)}]` : '-',
          t ? fmtP(t.p) : '-', t ? t.verdict : '-',
        ];
      }),
      foot: ['cv = sd / mean over a side\'s runs (the spread: performance stability); sd ratio = sd after / sd before'],
    });
  }

  // ---- VMs and vCPUs ----
  if (c.vm_pairs.length) {
    const rows: string[][] = [];
    const side = (s: VcpuSide | null, k: 'tax' | 'halted_share' | 'guest_share') => (s ? pct(s[k]) : '-');
    for (const p of c.vm_pairs) {
      const name = `${p.before ? p.before.name : '-'} -> ${p.after ? p.after.name : '-'}`;
      const flags = p.flags.join('; ');
      if (!p.vcpus.length) rows.push([name, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', flags]);
      p.vcpus.forEach((x) => {
        rows.push([
          name, x.vcpu === null ? '?' : String(x.vcpu), side(x.before, 'tax'), side(x.after, 'tax'), fmtDelta(x.delta_tax, 'ratio'),
          side(x.before, 'halted_share'), side(x.after, 'halted_share'), side(x.before, 'guest_share'), side(x.after, 'guest_share'),
          fmtValue(x.before?.exits_per_s ?? null, 'per_s'), fmtValue(x.after?.exits_per_s ?? null, 'per_s'), flags,
        ]);
      });
    }
    out.push({
      title: 'VMs and vCPUs paired',
      header: ['VM', 'vcpu', `tax ${la}`, lb, 'delta', `halted ${la}`, lb, `guest ${la}`, lb, `exits/s ${la}`, lb, 'flags'],
      align: 'lrrrrrrrrrrl',
      rows,
      foot: ['VMs pair in order (file, then pid) and vCPUs by id; flags: differently sized VMs, different vCPU ids, unknown VMs, unpinned vCPU threads'],
    });
  }

  // ---- the gate ----
  if (c.fail_if?.length) {
    out.push({
      title: 'Gate (--fail-if)',
      header: ['rule', 'result', 'value'],
      align: 'lll',
      rows: c.fail_if.map((r) => [r.rule, r.status === 'breached' ? 'BREACHED' : r.status, r.detail]),
    });
  }
  return out;
}

/**
 * The section figures as rows: a figure neither side has is left out, and a group ("halt-polling: ...")
 * that one side lacks altogether is one row saying so, instead of a row of "-" per figure.
 */
function sectionRows(sec: ComparedFigure[], la: string, lb: string, v: (f: ComparedFigure, s: 'before' | 'after') => string,
  rest: (f: ComparedFigure) => string[]): string[][] {
  const groupOf = (f: ComparedFigure) => (/^([^:]+): /.exec(f.title)?.[1] ?? f.title.split('.')[0]!);
  const groups = new Map<string, ComparedFigure[]>();
  for (const f of sec) {
    if (f.before === null && f.after === null) continue;
    const g = groupOf(f);
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(f);
  }
  const rows: string[][] = [];
  for (const [g, fs] of groups) {
    const noneAfter = fs.every((f) => f.after === null);
    const noneBefore = fs.every((f) => f.before === null);
    if ((noneAfter || noneBefore) && fs.length > 1) {
      const has = noneAfter ? la : lb;
      rows.push([`${g}: ${fs.length} figures, only in ${has}`, noneBefore ? '(none)' : `(${fs.length})`, noneAfter ? '(none)' : `(${fs.length})`, '', '']);
      continue;
    }
    for (const f of fs) rows.push([f.title, v(f, 'before'), v(f, 'after'), ...rest(f)]);
  }
  return rows;
}

export function renderCompareTable(c: Comparison, width?: number): string {
  return renderTables(compareSections(c), { width });
}
