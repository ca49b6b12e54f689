/** The --fail-if grammar: every rule form, its evaluation, and usage errors that point at the column. */
import { describe, expect, it } from 'vitest';
import { breachMessage, checkRules, evaluateRules, parseRule, parseRules } from '../../src/analysis/runs/failif.js';
import type { Comparison, ComparedFigure } from '../../src/analysis/runs/compare.js';
import { KvmtaxError } from '../../src/core/errors.js';
import { fmtValue } from '../../src/report/compare-table.js';

function fig(key: string, figure: string, reason: string | null, unit: ComparedFigure['unit'], before: number | null, after: number | null, extra: Partial<ComparedFigure> = {}): ComparedFigure {
  return {
    key, figure, reason, scope: reason ? 'reason' : key.includes('.') ? 'section' : 'overall', title: key, unit, better: 'lower', before, after,
    delta: before !== null && after !== null ? after - before : null, ratio: before && after !== null ? after / before : null,
    change: before && after !== null ? (after - before) / before : null, ...extra,
  };
}

const C = (): Comparison => ({
  kvmtax: { version: 't', schema: 1 }, kind: 'comparison', unit: 'ns', labels: ['base', 'cpupm'], split: 'file',
  statistic: { method: 'welch-t', level: 0.95, description: '' },
  sides: [{ label: 'base', files: [], isa: 'vmx', runs: [] }, { label: 'cpupm', files: [], isa: 'vmx', runs: [] }],
  reasons: [
    { reason: 'EXTERNAL_INTERRUPT', idle: false, presence: 'both', exits_before: 10, exits_after: 20, host_ns_before: 1, host_ns_after: 2 },
    { reason: 'HLT', idle: true, presence: 'vanished', exits_before: 5000, exits_after: 0, host_ns_before: 1, host_ns_after: 0 },
  ],
  figures: [
    fig('tax', 'tax', null, 'ratio', 0.30, 0.33, {
      a: { n: 3, mean: 0.3, sd: 0.01, cv: 0.0333, values: [] }, b: { n: 3, mean: 0.33, sd: 0.001, cv: 0.00303, values: [] },
    }),
    fig('exits_per_s', 'exits_per_s', null, 'per_s', 9000, 9600),
    fig('p99', 'p99', null, 'ns', 200_000, 180_000),
    fig('p99(EXTERNAL_INTERRUPT)', 'p99', 'EXTERNAL_INTERRUPT', 'ns', 10_000, 12_500),
    fig('exits_per_s(HLT)', 'exits_per_s', 'HLT', 'per_s', 1200, 0),
    fig('p99(HLT)', 'p99', 'HLT', 'ns', 500_000, null),
    fig('halt.halt_successful_poll', 'halt.halt_successful_poll', null, 'count', 100, 0),
  ],
  vm_pairs: [], notes: [],
});

const fmt = (v: number | null, u: ComparedFigure['unit']) => fmtValue(v, u);
const run = (rule: string) => evaluateRules(parseRules([rule]), C(), fmt)[0]!;

describe('--fail-if parsing', () => {
  it.each([
    ['tax > +5%', { figure: 'tax', reason: null, op: '>', kind: 'change', threshold: 0.05 }],
    ['tax>+2pp', { figure: 'tax', op: '>', kind: 'pp', threshold: 0.02 }],
    ['tax >= 40%', { kind: 'value', op: '>=', threshold: 0.4 }],
    ['p99(EXTERNAL_INTERRUPT) > +20%', { figure: 'p99', reason: 'EXTERNAL_INTERRUPT', kind: 'change', threshold: 0.2 }],
    ['exits_per_s(hlt) > 1000', { figure: 'exits_per_s', reason: 'hlt', kind: 'value', threshold: 1000 }],
    ['exits_per_s < -500', { kind: 'delta', op: '<', threshold: -500 }],
    ['p99(msr) > 200us', { kind: 'value', threshold: 200_000 }],
    ['p50( io ) > +5 us', { reason: 'io', kind: 'delta', threshold: 5000 }],
    ['mean <= 1.5ms', { kind: 'value', op: '<=', threshold: 1_500_000 }],
    ['p99 >= 1.5x', { kind: 'ratio', threshold: 1.5 }],
    ['p99(INVALID_STATE FAILED_VMENTRY) > 1s', { reason: 'INVALID_STATE FAILED_VMENTRY', threshold: 1e9 }],
    ['cv(tax) > 10%', { spread: 'cv', figure: 'tax', kind: 'value', threshold: 0.1 }],
    ['sd(p99(msr)) > +50%', { spread: 'sd', figure: 'p99', reason: 'msr', kind: 'change', threshold: 0.5 }],
    ['halt.halt_successful_poll < -10%', { figure: 'halt.halt_successful_poll', section: true, kind: 'change', threshold: -0.1 }],
    ['exits < 1e3', { kind: 'value', threshold: 1000 }],
  ])('%s', (text, want) => {
    expect(parseRule(text)).toMatchObject({ spread: null, section: false, ...want, text });
  });
  it('several rules in one option, separated by ";"', () => {
    expect(parseRules(['tax > +5%; p99 > +20%', 'exits > 10']).map((r) => r.figure)).toEqual(['tax', 'p99', 'exits']);
  });
  it.each([
    ['', 1, /empty rule/],
    ['taxes > 5%', 1, /unknown figure "taxes"/],
    ['tax >> 5%', 6, /expected a threshold/],
    ['tax = 5%', 5, /expected a comparison >, >=, < or <=/],
    ['tax > 5', 7, /tax is a share: write N%/],
    ['exits_per_s > 5%', 16, /a plain N% is a share; exits_per_s is a rate/],
    ['exits_per_s > +2pp', 17, /"pp" applies to share figures/],
    ['tax > 2pp', 7, /percentage points are a change/],
    ['exits > 5ms', 10, /a time unit applies to time figures/],
    ['p99 > +1.5x', 7, /a ratio has no sign/],
    ['p99(msr > 1ms', 14, /expected "\)" after the exit reason/],
    ['halted(hlt) > 5%', 7, /"halted" takes no exit reason/],
    ['cv(tax > 5%', 8, /expected "\)" to close cv/],
    ['tax > 5% extra', 10, /unexpected text after the threshold/],
  ])('malformed %j: usage error (exit 2) at column %i', (text, col, msg) => {
    let err: unknown;
    try { parseRule(text); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(KvmtaxError);
    const e = err as KvmtaxError;
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(msg);
    expect(e.message).toContain(`column ${col}:`);
    // the caret sits under the column
    const lines = e.message.split('\n');
    expect(lines[2]!.indexOf('^')).toBe(2 + col - 1);
  });
});

describe('--fail-if evaluation', () => {
  it.each([
    ['tax > +5%', 'breached', 0.1],
    ['tax > +15%', 'ok', 0.1],
    ['tax > +2pp', 'breached', 0.03],
    ['tax > 32%', 'breached', 0.33],
    ['tax < 32%', 'ok', 0.33],
    ['exits_per_s > +500', 'breached', 600],
    ['exits_per_s >= 9600', 'breached', 9600],
    ['exits_per_s > 9600', 'ok', 9600],
    ['p99 < -5%', 'breached', -0.1],
    ['p99 <= 0.9x', 'breached', 0.9],
    ['p99 > 190us', 'ok', 180_000],
    ['p99(EXTERNAL_INTERRUPT) > +20%', 'breached', 0.25],
    ['p99(external_interrupt) > +30%', 'ok', 0.25],
    ['p99(EXTERNAL_INTERRUPT) > +2us', 'breached', 2500],
    ['exits_per_s(HLT) > 1000', 'ok', 0],
    ['exits_per_s(hlt) < -99%', 'breached', -1],
    ['cv(tax) < -50%', 'breached', 0.00303 / 0.0333 - 1],
    ['sd(tax) < 0.2%', 'breached', 0.001],
    ['halt.halt_successful_poll < -10%', 'breached', -1],
  ])('%s: %s', (rule, status, value) => {
    const r = run(rule);
    expect(r.status).toBe(status);
    expect(r.value).toBeCloseTo(value, 6);
  });
  it('a figure without a value on a side is not evaluated (and does not fail the gate)', () => {
    expect(run('p99(HLT) > +20%')).toMatchObject({ status: 'not evaluated', detail: 'p99(HLT) has no value on the cpupm side' });
    expect(run('sd(p99) > 1ms')).toMatchObject({ status: 'not evaluated', detail: 'sd(p99) needs two runs a side or more' });
  });
  it('a known reason neither side has is 0 exits/s; an unknown one is a usage error', () => {
    const c = C();
    const rules = parseRules(['exits_per_s(PAUSE_INSTRUCTION) > 10']);
    checkRules(rules, c);
    expect(evaluateRules(rules, c, fmt)[0]).toMatchObject({ status: 'ok', value: 0 });
    expect(() => checkRules(parseRules(['p99(EXTERNAL_INTERUPT) > +20%']), c)).toThrow(/unknown exit reason "EXTERNAL_INTERUPT"/);
    expect(() => checkRules(parseRules(['halt.nope > 1']), c)).toThrow(/neither report has the figure "halt.nope"/);
    // trace-cmd plugin names map to the kernel's
    expect(() => checkRules(parseRules(['exits(EXIT_HLT) > 1']), c)).not.toThrow();
  });
  it('names every breached rule', () => {
    const c = C();
    const res = evaluateRules(parseRules(['tax > +5%', 'p99 > +1%', 'p99(EXTERNAL_INTERRUPT) > +20%']), c, fmt);
    expect(c.fail_if).toBe(res);
    expect(breachMessage(res)).toBe('--fail-if: 2 rules breached:\n' +
      '  breached: tax > +5%: tax 30.00% -> 33.00% (+10.0%)\n' +
      '  breached: p99(EXTERNAL_INTERRUPT) > +20%: p99(EXTERNAL_INTERRUPT) 10.00 us -> 12.50 us (+25.0%)');
    expect(breachMessage(res.slice(1, 2))).toBeNull();
  });
});
