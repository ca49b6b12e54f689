/** The levers in every output: --sections levers (table, md, JSON against the schema, HTML), --what-if repeated. */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import AjvModule from 'ajv';
import { ROOT } from '../support/paths.js';

const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schema', 'report.schema.json'), 'utf8'));
const Ajv = (AjvModule as unknown as { default: typeof AjvModule }).default ?? AjvModule;
const validate = new (Ajv as unknown as new (o: object) => { compile(s: object): { (d: unknown): boolean; errors?: unknown } })({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);
const kvmtax = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'bin/kvmtax.js'), ...args], { cwd: ROOT, encoding: 'utf8' });
const A = 'traces/svm-A-baseline/trace.txt.xz';

describe('levers in every format', () => {
  it('JSON: only when asked for; validates against the schema; what-if repeated gives a list', () => {
    const plain = kvmtax('report', '-q', 'traces/svm-D-small/trace.txt.xz', '-f', 'json');
    expect(JSON.parse(plain.stdout).levers).toBeUndefined();
    const run = kvmtax('report', '-q', A, '--sections', 'summary,levers', '-f', 'json', '--what-if', 'cpu-pm', '--what-if', 'exitless-ipi');
    expect(run.status).toBe(0);
    const j = JSON.parse(run.stdout);
    expect(j.levers.levers.map((l: { id: string }) => l.id)).toHaveLength(8);
    expect(j.what_if.map((w: { scenario: string }) => w.scenario)).toEqual(['cpu-pm', 'exitless-ipi']);
    // the schema checks the members present (a --sections report leaves the others out): add them back
    const full = JSON.parse(kvmtax('report', '-q', A, '-f', 'json').stdout);
    const ok = validate({ ...full, levers: j.levers, what_if: j.what_if });
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    expect(validate({ ...full, levers: { ...j.levers, levers: [{ ...j.levers.levers[0], status: 'maybe' }] } })).toBe(false);
  });

  it('table, Markdown and HTML (ranked visually)', () => {
    const t = kvmtax('report', '-q', A, '--sections', 'levers');
    expect(t.stdout).toMatch(/^Levers \(ranked\)\n=+\n/);
    expect(t.stdout).toMatch(/\nLever combinations\n/);
    const md = kvmtax('report', '-q', A, '--sections', 'levers', '-f', 'md');
    expect(md.stdout).toMatch(/Levers \(ranked\)/);
    const h = kvmtax('report', '-q', A, '--sections', 'summary,levers', '-f', 'html');
    expect(h.status).toBe(0);
    expect(h.stdout).toContain('<svg class="chart levers"');
    expect(h.stdout).toContain('data-lever="cpu-pm"');
    expect(h.stdout).toContain('Which lever to pull (ranked)');
    const csv = kvmtax('report', '-q', A, '--sections', 'levers', '-f', 'csv');
    expect(csv.stdout.split('\n')[0]).toBe('rank,lever,status,basis,delta_pp_low,delta_pp_point,delta_pp_high,tax_after_low,tax_after_high,exits_per_s_after_low,exits_per_s_after_high,verdict,calibration');
    expect(csv.stdout.trim().split('\n')).toHaveLength(9);
    const adv = kvmtax('advise', A, '-f', 'json');
    expect(JSON.parse(adv.stdout).levers.available).toBe(true);
  });
});
