/**
 * Names from a trace are data: an OSC/CSI sequence in a comm never reaches the terminal, a comm that
 * starts like a formula never runs in a spreadsheet, raw HTML and links in Markdown stay text. Text
 * traces refuse control bytes outright (a test in cli.test.ts); binary formats carry comms as bytes, so
 * the renderers are tested here with such names put into a real report.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { render } from '../../src/report/render.js';
import { renderResult } from '../../src/cli/sql.js';
import { csvSafe, mdSafe, termSafe } from '../../src/report/escape.js';
import { wrap } from '../../src/report/table.js';
import type { Report } from '../../src/analysis/types.js';
import { ROOT } from '../support/paths.js';

const EVIL_COMM = '\x1b]0;pwned\x07\x1b[31mred\u202e';
const EVIL_VM = '=HYPERLINK("http://x")<img src=x onerror=alert(1)>[click](javascript:alert(1))';
let report: Report;

beforeAll(async () => {
  report = await analyze([path.join(ROOT, 'traces/svm-D-small/trace.txt.xz')]);
  report.vms[0]!.name = EVIL_VM;
  for (const c of report.vms[0]!.vcpus) c.comm = EVIL_COMM;
  report.notes.push(`a note naming ${EVIL_COMM}`);
});

/** No byte a terminal acts on: C0 (but newline), DEL, C1, bidi overrides. */
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

describe('names from the trace never control the terminal', () => {
  it('table: comm and notes escaped, visibly', () => {
    const t = render(report, 'table', { by: ['vcpu'] });
    expect(t).not.toMatch(CONTROL);
    expect(t).toContain('\\x1b]0;pwned\\x07\\x1b[31mred\\u202e');
    expect(t).toContain('a note naming \\x1b]0;pwned');
  });
  it('table at 80 columns too (fitting works on the escaped text)', () => {
    const t = render(report, 'table', { by: [] }, 80);
    expect(t).not.toMatch(CONTROL);
    for (const l of t.split('\n')) expect(l.length).toBeLessThanOrEqual(80);
  });
  it('Markdown: no raw HTML, no link, no control byte', () => {
    const md = render(report, 'md', { by: ['vcpu'] });
    expect(md).not.toMatch(CONTROL);
    expect(md).not.toContain('<img');
    expect(md).not.toMatch(/[^\\]\]\(javascript:/);
    expect(md).toContain('&lt;img src=x onerror=alert(1)>\\[click\\](javascript:alert(1))');
  });
  it('CSV: a cell starting with = + - @ gets an apostrophe; negative numbers stay numbers', () => {
    const csv = render(report, 'csv', { by: ['vcpu'] });
    expect(csv).not.toMatch(/(^|,)"?=HYPERLINK/m);
    expect(csvSafe('=1+2')).toBe("'=1+2");
    expect(csvSafe('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvSafe('+cmd|x')).toBe("'+cmd|x");
    expect(csvSafe('-3.5')).toBe('-3.5');
    expect(csvSafe('-1e-3')).toBe('-1e-3');
    expect(csvSafe('-')).toBe("'-");
    expect(csvSafe('vmm')).toBe('vmm');
  });
  it('sql: table escapes controls, CSV guards formulas', () => {
    const r = { columns: ['comm', 'n'], types: ['VARCHAR', 'INTEGER'], rows: [[EVIL_COMM, -3], ['=cmd', 1]] };
    const table = renderResult(r, 'table');
    expect(table).not.toMatch(CONTROL);
    expect(table).toContain('\\x1b]0;pwned');
    const csv = renderResult(r, 'csv');
    expect(csv).toContain("'=cmd,1");
    expect(csv).toContain(',-3');
  });
  it('the escapes themselves', () => {
    expect(termSafe('a\x1bb\x9bc\td')).toBe('a\\x1bb\\x9bc\\x09d');
    expect(mdSafe('a|b<c>&d[e]`f`\\')).toBe('a\\|b&lt;c>&amp;d\\[e\\]\\`f\\`\\\\');
  });
});

describe('prose wraps at the width', () => {
  it('a note wraps with its continuation indented; words are not split', () => {
    const line = 'note: ' + 'word '.repeat(40).trim();
    const lines = wrap(line, 40);
    expect(lines.length).toBeGreaterThan(4);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(40);
    expect(lines.slice(1).every((l) => l.startsWith('  word'))).toBe(true);
    expect(lines.join(' ').replace(/\s+/g, ' ')).toBe(line);
  });
});
