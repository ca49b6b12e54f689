/**
 * --fail-if: thresholds on a comparison that make `kvmtax compare` exit with EXIT_BREACH (3).
 *
 * Grammar (spaces are free between tokens):
 *
 *   rule      := figure op threshold
 *   figure    := name                        overall figure           tax, exits_per_s, p99
 *              | name "(" REASON ")"         of one exit reason       p99(EXTERNAL_INTERRUPT), exits_per_s(hlt)
 *              | spread "(" figure ")"       its spread over a side's runs: sd(tax), cv(p99(msr))
 *              | SECTION "." FIELD ...       a field of a report section, when reports have it: halt.halt_successful_poll
 *   name      := tax | halted | guest | exits_per_s | exits | mean | p50 | p99      (FIGURES in compare.ts)
 *   spread    := sd | cv
 *   op        := ">" | ">=" | "<" | "<="
 *   threshold := NUMBER [unit]               the after side's value             tax > 40%, exits_per_s(hlt) > 1000, p99(msr) > 200us
 *              | ("+"|"-") NUMBER "%"        relative change (after-before)/before   p99(EXTERNAL_INTERRUPT) > +20%, tax > +5%
 *              | ("+"|"-") NUMBER "pp"       change in percentage points (share figures: tax, halted, guest, cv)   tax > +2pp
 *              | ("+"|"-") NUMBER [unit]     absolute change after - before     exits_per_s > +500, p50(io) > +5us
 *              | NUMBER "x"                  ratio after / before               p99(msr) >= 1.5x
 *   unit      := "%" (share figures: 5% is 0.05) | "ns" | "us" | "ms" | "s" (time figures)
 *
 * A rule may be wrapped as significant(RULE): then it fires only when the pooled figures breach it AND
 * the runs show the change is not noise: each side has at least MIN_RUNS runs, and the test of the
 * per-run values (a seeded percentile bootstrap for p50/p99, whose per-run values are not normal;
 * Welch's t for the other figures) gives a p below ALPHA after the Holm correction across all significant(...) rules of
 * the command (many rules x many reasons would otherwise raise false alarms). Its detail states p, the
 * adjusted p and the minimum detectable effect for the runs given (a difference of the means of
 * (t(1-ALPHA/2) + t(POWER)) x the standard error). A plain rule (the default) is on the pooled figures
 * alone: with one run a side that is all there is.
 *
 * REASON is an exit reason as kvmtax prints it (hlt, msr, EXTERNAL_INTERRUPT, idle-halt, ...); it matches
 * exactly, else ignoring case. Values are the sides' pooled figures (all of a side's traces read as one
 * report), and sd/cv are over a side's runs. A rule whose figure has no value on a side (p99 of a reason
 * that vanished, p99(EXTERNAL_INTERRUPT) on an SVM capture, sd with one run a side) is not evaluated:
 * that fails the gate with EXIT_NOT_EVALUATED (4) unless --allow-missing (then it is a warning), so a CI
 * gate never passes on a rule it could not check. A breach (3) wins over 4. A reason is 0 exits, 0
 * exits/s and 0 tax on a side where it does not occur. A rule that does not parse, names an unknown
 * figure, or a --fail-if with no rule in it ("", ";;") is a usage error (exit 2).
 */
import { KvmtaxError } from '../../core/errors.js';
import { bootstrapDiff, studentTQuantile } from './stats.js';
import { figureDef, FIGURES, findFigure, sectionUnit, SPREADS, type Comparison, type ComparedFigure, type FigureUnit, type Spread } from './compare.js';
import { canonicalReason, ISA_SVM, ISA_VMX } from '../../core/reasons.js';

/** A --fail-if rule breached. */
export const EXIT_BREACH = 3;
/** A --fail-if rule could not be evaluated (and --allow-missing was not given). */
export const EXIT_NOT_EVALUATED = 4;

export type Op = '>' | '>=' | '<' | '<=';
export type ThresholdKind = 'value' | 'change' | 'pp' | 'delta' | 'ratio';

export interface Rule {
  text: string;
  /** significant(RULE): also needs a significant difference over the runs */
  significant?: boolean;
  spread: Spread | null;
  figure: string;
  reason: string | null;
  section: boolean;
  op: Op;
  kind: ThresholdKind;
  /** in the figure's own unit (ratio for shares, ns for times); a fraction for 'change'; points/100 for 'pp' */
  threshold: number;
  /** the threshold as written */
  thresholdText: string;
}

const TIME: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9 };

class ParseError extends Error {
  constructor(message: string, readonly col: number) { super(message); }
}

/** Parse one rule; throws a usage KvmtaxError that quotes the rule and points at the column. */
export function parseRule(text: string): Rule {
  const sig = /^(\s*significant\s*\()(.*)\)\s*$/.exec(text);
  try {
    if (sig) {
      try {
        return { ...parse(sig[2]!), text, significant: true };
      } catch (e) {
        if (e instanceof ParseError) throw new ParseError(e.message, e.col + sig[1]!.length);
        throw e;
      }
    }
    return parse(text);
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
    const col = Math.min(e.col, text.length) + 1;
    throw KvmtaxError.usage(`--fail-if "${text}": column ${col}: ${e.message}\n  ${text}\n  ${' '.repeat(col - 1)}^\n` +
        '  (a rule is FIGURE OP THRESHOLD, e.g. "tax > +5%", "p99(EXTERNAL_INTERRUPT) > +20%", "exits_per_s(hlt) > 1000"; see kvmtax compare --help)');
  }
}

/** Parse every rule (each --fail-if may hold several separated by ";"). */
export function parseRules(texts: readonly string[]): Rule[] {
  const out: Rule[] = [];
  for (const t of texts) {
    const parts = t.split(';').filter((part) => part.trim() !== '');
    if (!parts.length) throw KvmtaxError.usage(`--fail-if ${JSON.stringify(t)}: no rule in it (a rule is FIGURE OP THRESHOLD, e.g. "tax > +5%"; leave --fail-if out for no gate)`);
    for (const part of parts) out.push(parseRule(part.trim()));
  }
  return out;
}

function parse(text: string): Rule {
  let i = 0;
  const ws = () => { while (i < text.length && /\s/.test(text[i]!)) i++; };
  const got = () => (i < text.length ? `got "${text.slice(i, i + 12)}${text.length > i + 12 ? '...' : ''}"` : 'got the end of the rule');
  const ident = (): string => {
    const m = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(text.slice(i));
    if (!m) throw new ParseError(`expected a figure (${FIGURES.map((f) => f.name).join(', ')}, sd(...), cv(...) or section.field) (${got()})`, i);
    i += m[0].length;
    return m[0];
  };
  ws();
  if (i >= text.length) throw new ParseError('empty rule: expected FIGURE OP THRESHOLD', 0);
  // ---- figure ----
  let spread: Spread | null = null;
  let start = i;
  let name = ident();
  ws();
  let closeSpread = false;
  if ((SPREADS as readonly string[]).includes(name) && text[i] === '(') {
    spread = name as Spread;
    i++;
    ws();
    start = i;
    name = ident();
    ws();
    closeSpread = true;
  }
  let reason: string | null = null;
  const section = name.includes('.');
  const def = figureDef(name);
  if (!section && !def) throw new ParseError(`unknown figure "${name}" (known: ${FIGURES.map((f) => f.name).join(', ')}, sd(FIGURE), cv(FIGURE), or section.field)`, start);
  if (text[i] === '(') {
    if (section || def!.takes === 'overall') throw new ParseError(`"${name}" takes no exit reason`, i);
    const close = text.indexOf(')', i + 1);
    if (close < 0) throw new ParseError('expected ")" after the exit reason', text.length);
    reason = text.slice(i + 1, close).trim();
    if (reason === '' || reason.includes('(')) throw new ParseError('expected an exit reason between the parentheses', i + 1);
    i = close + 1;
    ws();
  } else if (def && def.takes === 'reason') {
    throw new ParseError(`"${name}" needs an exit reason: ${name}(REASON)`, i);
  }
  if (closeSpread) {
    if (text[i] !== ')') throw new ParseError(`expected ")" to close ${spread}(...) (${got()})`, i);
    i++;
    ws();
  }
  // ---- operator ----
  const m = /^(>=|<=|>|<)/.exec(text.slice(i));
  if (!m) throw new ParseError(`expected a comparison >, >=, < or <= (${got()})`, i);
  const op = m[1] as Op;
  i += op.length;
  ws();
  // ---- threshold ----
  const tstart = i;
  const tm = /^([+-])?(\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*(%|pp|x|ns|us|\u00b5s|ms|s)?/.exec(text.slice(i));
  if (!tm) throw new ParseError(`expected a threshold: a number, +N% or -N% (relative change), +Npp, +N (change), Nx (ratio), with a unit % or ns/us/ms/s where it fits (${got()})`, i);
  i += tm[0].length;
  ws();
  if (i < text.length) throw new ParseError(`unexpected text after the threshold (${got()})`, i);
  const sign = tm[1];
  const num = Number(text.slice(tstart, tstart + tm[0].length).replace(/^[+-]/, '').replace(/\s*(%|pp|x|ns|us|\u00b5s|ms|s)$/, ''));
  const suffix = tm[3] ?? '';
  const unit: FigureUnit = spread === 'cv' ? 'ratio' : section ? sectionUnit(name) : def!.unit;
  const unitCol = tstart + tm[0].length - suffix.length;
  let kind: ThresholdKind;
  let value: number;
  if (suffix === 'x') {
    if (sign) throw new ParseError('a ratio has no sign: write e.g. 1.5x', tstart);
    kind = 'ratio';
    value = num;
  } else if (suffix === 'pp') {
    if (!sign) throw new ParseError('percentage points are a change: write +Npp or -Npp', tstart);
    if (unit !== 'ratio') throw new ParseError(`"pp" applies to share figures (tax, halted, guest, cv); ${name} is ${unitName(unit)}`, unitCol);
    kind = 'pp';
    value = num / 100;
  } else if (suffix === '%') {
    if (sign) { kind = 'change'; value = num / 100; } else {
      if (unit !== 'ratio') throw new ParseError(`a plain N% is a share; ${name} is ${unitName(unit)}: write +N% or -N% for a relative change`, unitCol);
      kind = 'value';
      value = num / 100;
    }
  } else if (suffix in TIME) {
    if (unit !== 'ns') throw new ParseError(`a time unit applies to time figures (mean, p50, p99); ${name} is ${unitName(unit)}`, unitCol);
    kind = sign ? 'delta' : 'value';
    value = num * TIME[suffix]!;
  } else {
    if (unit === 'ratio') throw new ParseError(`${name} is a share: write N% (e.g. 40%), +N% (relative change) or +Npp (points)`, tstart);
    kind = sign ? 'delta' : 'value';
    value = num;
  }
  if (sign === '-' && kind !== 'ratio') value = -value;
  return { text, spread, figure: name, reason, section, op, kind, threshold: value, thresholdText: text.slice(tstart, tstart + tm[0].length) };
}

function unitName(u: FigureUnit): string {
  return { ratio: 'a share', ns: 'a time', per_s: 'a rate', count: 'a count', number: 'a number' }[u];
}

export interface RuleResult {
  rule: string;
  status: 'ok' | 'breached' | 'not evaluated';
  value: number | null;
  detail: string;
}

let tableNames: Set<string> | undefined;
/** A name of the VMX or SVM exit-reason table (in any case), or a rendering kvmtax maps to one (EXIT_HLT). */
function knownReason(name: string): boolean {
  if (!tableNames) {
    tableNames = new Set<string>();
    for (let c = 0; c < 0x100; c++) { tableNames.add(canonicalReason(String(c), ISA_VMX).toLowerCase()); tableNames.add(canonicalReason(String(c), ISA_SVM).toLowerCase()); }
    for (const c of [0x400, 0x401, 0x402, 0x403]) tableNames.add(canonicalReason(String(c), ISA_SVM).toLowerCase());
  }
  return tableNames.has(name.toLowerCase()) || canonicalReason(name, ISA_SVM) !== name || canonicalReason(name, ISA_VMX) !== name;
}

/** The compared figure of a rule: the reason as written, else as kvmtax names it (EXIT_HLT is hlt). */
function lookup(c: Comparison, r: Rule): ComparedFigure | undefined {
  if (r.section || r.reason === null) return findFigure(c, r.figure, null);
  const f = findFigure(c, r.figure, r.reason);
  if (f) return f;
  for (const isa of [ISA_SVM, ISA_VMX]) {
    const canon = canonicalReason(r.reason, isa);
    if (canon !== r.reason) { const g = findFigure(c, r.figure, canon); if (g) return g; }
  }
  return undefined;
}

/**
 * Check that every rule names a figure the comparison has (a usage error otherwise): an exit reason
 * neither side has must at least be a name of the VMX or SVM table (a typo would make the gate pass).
 */
export function checkRules(rules: Rule[], c: Comparison): void {
  for (const r of rules) {
    if (r.section) {
      if (!findFigure(c, r.figure, null)) {
        throw KvmtaxError.usage(`--fail-if "${r.text}": neither report has the figure "${r.figure}" (section figures here: ${c.figures.filter((f) => f.scope === 'section').map((f) => f.key).slice(0, 12).join(', ') || 'none'})`);
      }
    } else if (r.reason !== null && !lookup(c, r) && !knownReason(r.reason)) {
      throw KvmtaxError.usage(`--fail-if "${r.text}": unknown exit reason "${r.reason}" (in these traces: ${c.reasons.map((x) => x.reason).join(', ') || 'none'})`);
    }
  }
}

function sideValues(f: ComparedFigure | undefined, r: Rule): [number | null, number | null] {
  if (!f) {
    // a known reason that neither side has: 0 of it, or no value
    const def = figureDef(r.figure);
    return def?.absentIsZero && !r.spread ? [0, 0] : [null, null];
  }
  if (r.spread) return [f.a?.[r.spread] ?? null, f.b?.[r.spread] ?? null];
  return [f.before, f.after];
}

function cmpOp(x: number, op: Op, t: number): boolean {
  switch (op) {
    case '>': return x > t;
    case '>=': return x >= t;
    case '<': return x < t;
    default: return x <= t;
  }
}

/** significant(...): runs a side needed before a difference can be called significant. */
export const MIN_RUNS = 3;
/** significant(...): the family-wise error rate (Holm) and the power the minimum detectable effect is for. */
export const ALPHA = 0.05;
export const POWER = 0.8;

/** Holm's step-down adjustment of p-values (same order as given). */
export function holm(ps: number[]): number[] {
  const order = ps.map((p, i) => [p, i] as const).sort((x, y) => x[0] - y[0]);
  const adj = new Array<number>(ps.length);
  let run = 0;
  order.forEach(([p, i], k) => {
    run = Math.max(run, Math.min(1, (ps.length - k) * p));
    adj[i] = run;
  });
  return adj;
}

/** Evaluate the rules on a comparison (records them in c.fail_if) and return the results. */
export function evaluateRules(rules: Rule[], c: Comparison, fmt: (v: number | null, unit: FigureUnit) => string): RuleResult[] {
  const out: RuleResult[] = [];
  // significant(...) rules: their tests' p, adjusted together (Holm) over those that can be tested
  const tested = rules.map((r) => {
    if (!r.significant) return null;
    const f = lookup(c, r);
    const na = f?.a?.n ?? 0, nb = f?.b?.n ?? 0;
    return f?.test && na >= MIN_RUNS && nb >= MIN_RUNS ? f : null;
  });
  // percentiles (p50, p99) are tested by a bootstrap over the runs, the other figures by Welch's t
  const pOf = (r: Rule, f: ComparedFigure): { p: number; how: string } => {
    if (r.figure === 'p50' || r.figure === 'p99') {
      const xs = (f.a?.values ?? []).filter((x): x is number => x !== null);
      const ys = (f.b?.values ?? []).filter((x): x is number => x !== null);
      const bs = bootstrapDiff(xs, ys);
      if (bs) return { p: bs.p, how: `bootstrap over runs (${bs.resamples} resamples), 95% interval of the difference ${fmt(bs.ci[0], f.unit)} .. ${fmt(bs.ci[1], f.unit)},` };
    }
    return { p: f.test!.p, how: 'Welch' };
  };
  const how = new Map<number, string>();
  const ps: number[] = [];
  tested.forEach((f, i) => {
    if (!f) return;
    const r = pOf(rules[i]!, f);
    how.set(i, r.how);
    ps.push(r.p);
  });
  const adjusted = holm(ps);
  const adjOf = new Map<number, number>();
  const pRaw = new Map<number, number>();
  tested.forEach((f, i) => { if (f) { pRaw.set(i, ps[adjOf.size]!); adjOf.set(i, adjusted[adjOf.size]!); } });
  for (const [ri, r] of rules.entries()) {
    if (r.significant) {
      const f = lookup(c, r);
      const na = f?.a?.n ?? 0, nb = f?.b?.n ?? 0;
      if (na < MIN_RUNS || nb < MIN_RUNS || !f?.test) {
        out.push({ rule: r.text, status: 'not evaluated', value: null,
          detail: `significant(...) needs ${MIN_RUNS} runs a side or more (${c.labels[0]}: ${na}, ${c.labels[1]}: ${nb}); give more traces a side, or --split vm` });
        continue;
      }
    }
    const f = lookup(c, r);
    const [before, after] = sideValues(f, r);
    const unit: FigureUnit = r.spread === 'cv' ? 'ratio' : f?.unit ?? figureDef(r.figure)?.unit ?? 'number';
    const name = r.spread ? `${r.spread}(${r.figure}${r.reason !== null ? `(${r.reason})` : ''})` : `${r.figure}${r.reason !== null ? `(${f?.reason ?? r.reason})` : ''}`;
    const needBefore = r.kind !== 'value';
    if (after === null || (needBefore && before === null)) {
      const why = r.spread ? 'needs two runs a side or more' : after === null ? `has no value on the ${c.labels[1]} side` : `has no value on the ${c.labels[0]} side`;
      out.push({ rule: r.text, status: 'not evaluated', value: null, detail: `${name} ${why}` });
      continue;
    }
    if (c.unit === 'cycles' && unit === 'ns' && (r.kind === 'value' || r.kind === 'delta') && /[num]?s\s*$/.test(r.thresholdText)) {
      throw KvmtaxError.usage(`--fail-if "${r.text}": the reports are in TSC cycles: give --tsc-khz to compare times in ns`);
    }
    let x: number;
    let shown: string;
    const pair = `${fmt(before, unit)} -> ${fmt(after, unit)}`;
    switch (r.kind) {
      case 'value': x = after; shown = `${name} ${c.labels[1]} ${fmt(after, unit)} (${c.labels[0]} ${fmt(before, unit)})`; break;
      case 'delta': case 'pp': x = after - before!; shown = `${name} ${pair} (${r.kind === 'pp' ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)} pp` : `${x >= 0 ? '+' : ''}${fmt(x, unit)}`})`; break;
      case 'change': x = before === 0 ? (after === 0 ? 0 : after > 0 ? Infinity : -Infinity) : (after - before!) / Math.abs(before!);
        shown = `${name} ${pair} (${Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%` : 'from 0'})`; break;
      default: x = before === 0 ? (after === 0 ? 1 : Infinity) : after / before!; shown = `${name} ${pair} (x${Number.isFinite(x) ? x.toFixed(3) : 'inf'})`;
    }
    let breached = cmpOp(x, r.op, r.threshold);
    if (r.significant) {
      const t = f!.test!;
      const padj = adjOf.get(ri)!;
      const mde = (studentTQuantile(1 - ALPHA / 2, t.df) + studentTQuantile(POWER, t.df)) * t.se;
      const significant = padj < ALPHA;
      shown += `; runs ${f!.a!.n} vs ${f!.b!.n}: ${how.get(ri)} p ${pRaw.get(ri)!.toPrecision(2)}, Holm-adjusted ${padj.toPrecision(2)} over ${ps.length} significant() rule${ps.length === 1 ? '' : 's'}` +
        ` (${significant ? 'significant' : 'not significant'} at ${ALPHA}); smallest difference these runs detect (power ${POWER}): ${fmt(mde, unit === 'ratio' ? 'ratio' : unit)}`;
      breached = breached && significant;
    }
    out.push({ rule: r.text, status: breached ? 'breached' : 'ok', value: Number.isFinite(x) ? Number(x.toPrecision(9)) : null, detail: shown });
  }
  c.fail_if = out;
  return out;
}

/** The stderr text of the breached rules (null when none is). */
export function breachMessage(results: RuleResult[]): string | null {
  const b = results.filter((r) => r.status === 'breached');
  if (!b.length) return null;
  return `--fail-if: ${b.length} rule${b.length > 1 ? 's' : ''} breached:\n` + b.map((r) => `  breached: ${r.rule}: ${r.detail}`).join('\n');
}
