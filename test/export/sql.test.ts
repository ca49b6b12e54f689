/** `kvmtax sql`: SQL over the rows of real captures gives the report's own figures. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { runSql, renderResult } from '../../src/cli/sql.js';
import { main } from '../../src/cli/main.js';
import { describeSchema, TABLES } from '../../src/export/rows-schema.js';
import { TRACES } from '../support/paths.js';

const CAPTURES = ['svm-D-small/trace.txt.xz', 'svm-A-baseline/trace.txt.xz'];
// a value and its histogram bucket's midpoint differ by at most half a bucket: 1/128 of the bucket's low end
const BUCKET_ERR = 1 / 128;

describe('kvmtax sql', () => {
  it.each(CAPTURES)('%s: per-reason counts and sums equal the report exactly, p50 and p90 within 0.78 percent', async (f) => {
    const file = path.join(TRACES, f);
    const report = await analyze([file]);
    const res = await runSql(`SELECT reason, count(*) AS n, sum(handling_ns) AS total, quantile_disc(handling_ns, 0.5) AS p50,
      quantile_disc(handling_ns, 0.9) AS p90, min(handling_ns) AS lo, max(handling_ns) AS hi FROM exits GROUP BY reason`, [file]);
    expect(res.columns).toEqual(['reason', 'n', 'total', 'p50', 'p90', 'lo', 'hi']);
    const got = new Map(res.rows.map((r) => [r[0] as string, r]));
    expect(got.size).toBe(report.reasons.length);
    for (const x of report.reasons) {
      const r = got.get(x.reason)!;
      expect(r[1], x.reason).toBe(x.exits_handled);
      expect(r[2], x.reason).toBe(x.total_ns);
      expect(r[5], x.reason).toBe(x.min_ns);
      expect(r[6], x.reason).toBe(x.max_ns);
      // quantile_disc(q) is the ceil(q*n)-th value (nearest rank), as the report's; the report gives its bucket's midpoint
      for (const [i, p] of [[3, x.p50_ns], [4, x.p90_ns]] as const) {
        expect(Math.abs((r[i] as number) - p!), `${x.reason} ${res.columns[i]}`).toBeLessThanOrEqual((r[i] as number) * BUCKET_ERR);
      }
    }
    // totals: every handled exit is a row
    const t = await runSql('SELECT count(*), sum(handling_ns), count(DISTINCT tid) FROM exits', [file]);
    expect(t.rows[0]).toEqual([report.totals.exits_handled, report.totals.host_ns, report.vms.reduce((s, v) => s + v.vcpus.length, 0)]);
  });

  it('halts and lapic tables hold every kvm_vcpu_wakeup and kvm_wait_lapic_expire; summary tables are there', async () => {
    const file = path.join(TRACES, 'svm-D-small/trace.txt.xz');
    const report = await analyze([file]);
    const res = await runSql(`SELECT (SELECT count(*) FROM halts), (SELECT count(*) FROM lapic), (SELECT count(*) FROM halts WHERE state = 'wait'),
      (SELECT sum(exits_handled) FROM reasons), (SELECT sum(exits_seen) FROM vcpus), (SELECT count(*) FROM exits WHERE "key" = 'msr 0x6e0 w')`, [file]);
    expect(res.rows[0]).toEqual([report.quality.events_by_name.kvm_vcpu_wakeup, report.quality.events_by_name.kvm_wait_lapic_expire,
      expect.any(Number), report.totals.exits_handled, report.totals.exits_seen, 65]);
    const cols = await runSql('SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_name IN (\'exits\', \'halts\', \'lapic\') ORDER BY table_name, ordinal_position', [file], { host: 'h1' });
    for (const t of TABLES) {
      expect(cols.rows.filter((r) => r[0] === t.name).map((r) => [r[1], r[2]]), t.name).toEqual(t.columns.map((c) => [c.name, c.type]));
    }
    const host = await runSql('SELECT DISTINCT host, file FROM exits', [file], { host: 'h1' });
    expect(host.rows).toEqual([['h1', file]]);
  });

  it('two traces: their rows are kept apart by file', async () => {
    const files = CAPTURES.map((f) => path.join(TRACES, f));
    const res = await runSql('SELECT file, count(*) FROM exits GROUP BY file ORDER BY file', files);
    const each = await Promise.all(files.map((f) => analyze([f])));
    expect(res.rows).toEqual(files.map((f, i) => [f, each[i]!.totals.exits_handled]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  });

  it('renders a table, JSON and CSV; --schema lists the tables; a bad query is an input error', async () => {
    const r = { columns: ['reason', 'n'], types: ['VARCHAR', 'BIGINT'], rows: [['msr', 2], ['a,"b"', null]] };
    expect(renderResult(r, 'csv')).toBe('reason,n\nmsr,2\n"a,""b""",\n');
    expect(JSON.parse(renderResult(r, 'json'))).toEqual([{ reason: 'msr', n: 2 }, { reason: 'a,"b"', n: null }]);
    expect(renderResult(r, 'table')).toContain('(2 rows)');
    expect(describeSchema()).toContain('handling_ns');
    const err: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => { err.push(String(s)); return true; }) as typeof process.stderr.write;
    try {
      expect(await main(['sql', 'SELECT nope FROM exits', path.join(TRACES, 'svm-D-small/trace.txt.xz')])).toBe(1);
      expect(await main(['sql'])).toBe(2);
    } finally {
      process.stderr.write = orig;
    }
    expect(err.join('')).toMatch(/SQL: .*nope/);
  });
});
