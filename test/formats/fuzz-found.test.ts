/**
 * Regression: every input the fuzzers ever failed on (test/fixtures/fuzz-found/, described in its README.md
 * with the defect and its fix) must now meet the contract: a checked report, or a one-line KvmtaxError with
 * file:line:col or a byte offset inside the file. Binary fixtures also go through their reader alone.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { FOUND, outcome, runBinaryReader } from '../support/fuzz-harness.js';

const FORMAT: Record<string, string> = { tracedat: 'trace.dat', perfdata: 'perf.data', perfetto: 'perfetto' };
const files = fs.existsSync(FOUND) ? fs.readdirSync(FOUND).filter((f) => !/\.(txt|md)$/.test(f)).sort() : [];

describe('fuzz-found fixtures', () => {
  it('the README describes every fixture', () => {
    const readme = fs.existsSync(path.join(FOUND, 'README.md')) ? fs.readFileSync(path.join(FOUND, 'README.md'), 'utf8') : '';
    for (const f of files) expect(readme, f).toContain(f);
  });
  for (const f of files) {
    it(f, async () => {
      const p = path.join(FOUND, f);
      const size = fs.statSync(p).size;
      const fmt = FORMAT[f.split('-')[0]!.replace(/-full$/, '')] ?? FORMAT[f.replace(/-full-.*/, '').split('-')[0]!];
      if (fmt) await runBinaryReader(fmt, p, size);
      await outcome(() => analyze([p]), size);
    });
  }
});
