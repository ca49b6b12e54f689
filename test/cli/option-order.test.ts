/**
 * Options go before or after the files, as in perf and every npm CLI: each verb gives the same output
 * in both orders, with `--` before the files, and with `--opt=value`. A repeated single-valued option
 * takes its last value.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tmpTrace } from '../support/paths.js';
import { optionsAfterCommand } from '../../src/cli/main.js';

const BIN = path.join(ROOT, 'bin', 'kvmtax.js');
const T = 'traces/svm-D-small/trace.txt.xz';
function kvmtax(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function same(a: string[], b: string[]) {
  const ra = kvmtax(a);
  const rb = kvmtax(b);
  expect(ra.err).toBe('');
  expect(ra.code).toBe(0);
  expect(rb.err).toBe('');
  expect(rb.code).toBe(0);
  expect(rb.out).toBe(ra.out);
  return ra.out;
}

describe('options before or after the files', () => {
  it('report -f json TRACE', () => {
    const out = same(['report', T, '-f', 'json'], ['report', '-f', 'json', T]);
    expect(JSON.parse(out).totals.exits_seen).toBe(770);
  });
  it('report --format=md TRACE, and -- before the files', () => {
    const out = same(['report', T, '--format=md'], ['report', '--format=md', T]);
    expect(kvmtax(['report', '-f', 'md', '--', T]).out).toBe(out);
  });
  it('report --by vcpu --by msr TRACE (a list option, repeated)', () => {
    const out = same(['report', T, '--by', 'vcpu', '--by', 'msr'], ['report', '--by', 'vcpu', '--by', 'msr', T]);
    expect(out).toMatch(/msr/);
  });
  it('report -f perf-script... an input format name and an output format, both before the file', () => {
    same(['report', T, '-f', 'ftrace', '-f', 'csv'], ['report', '-f', 'ftrace', '-f', 'csv', T]);
  });
  it('a repeated single-valued option takes its last value (--top 10 --top 5)', () => {
    const a = JSON.parse(kvmtax(['report', '--top', '10', '--top', '5', '-f', 'json', T]).out);
    expect(a.top).toHaveLength(5);
  });
  it('compare -f json A --vs B', () => {
    same(['compare', T, '--vs', T, '-f', 'json'], ['compare', '-f', 'json', T, '--vs', T]);
  });
  it('compare --fail-if RULE A --vs B', () => {
    same(['compare', T, '--vs', T, '--fail-if', 'tax > +5%'], ['compare', '--fail-if', 'tax > +5%', T, '--vs', T]);
  });
  it('export --perfetto FILE TRACE', () => {
    const a = tmpTrace('', 'a.pftrace');
    const b = tmpTrace('', 'b.pftrace');
    same(['export', T, '-q', '--perfetto', a], ['export', '-q', '--perfetto', b, T]);
    expect(fs.readFileSync(b).equals(fs.readFileSync(a))).toBe(true);
  });
  it('sql -f csv QUERY TRACE', () => {
    const q = 'SELECT count(*) AS n FROM exits';
    const out = same(['sql', q, T, '-f', 'csv'], ['sql', '-f', 'csv', q, T]);
    expect(out).toMatch(/^n\n\d+\n$/);
  });
  it('merge -f json REPORT', () => {
    const r = tmpTrace(kvmtax(['report', '-f', 'json', '--histograms', T]).out, 'r.json');
    same(['merge', r, '-f', 'json'], ['merge', '-f', 'json', r]);
  });
});

describe('options before the command (kvmtax -f json report TRACE, as npm --silent run x)', () => {
  it('report and compare give the same output with their options before the command', () => {
    const out = same(['report', T, '-f', 'json', '--top', '3'], ['-f', 'json', '--top', '3', 'report', T]);
    expect(JSON.parse(out).top).toHaveLength(3);
    same(['report', T, '-q'], ['-q', 'report', T]);
    same(['compare', T, '--vs', T, '-f', 'json'], ['-f', 'json', 'compare', T, '--vs', T]);
  });
  it('moves only options and the word right after an option; anything else is left for the usual errors', () => {
    expect(optionsAfterCommand(['-f', 'json', 'report', 't'])).toEqual(['report', '-f', 'json', 't']);
    expect(optionsAfterCommand(['--format=json', '-q', 'report', 't'])).toEqual(['report', '--format=json', '-q', 't']);
    expect(optionsAfterCommand(['-q', 'record', '--', 'sleep', '1'])).toEqual(['record', '-q', '--', 'sleep', '1']);
    expect(optionsAfterCommand(['report', '-f', 'json', 't'])).toEqual(['report', '-f', 'json', 't']);
    expect(optionsAfterCommand(['foo', 'report', 't'])).toEqual(['foo', 'report', 't']);
    expect(optionsAfterCommand(['--format=json', 'foo', 'report', 't'])).toEqual(['--format=json', 'foo', 'report', 't']);
    expect(optionsAfterCommand(['--', 'report', 't'])).toEqual(['--', 'report', 't']);
    expect(optionsAfterCommand(['--help'])).toEqual(['--help']);
    const r = kvmtax(['foo', 'report', T]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^kvmtax: unknown command "foo"/);
  });
});
