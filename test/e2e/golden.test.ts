/**
 * Golden reports of real captures, in every output format. Regenerate with `npm run golden` and review
 * the diff like code. Inputs are named relative to the repository so the goldens do not depend on
 * where it is checked out.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { render } from '../../src/report/render.js';
import { ROOT } from '../support/paths.js';

const cases: Array<[string, string, string, boolean]> = [
  ['svm-D-small/trace.txt.xz', 'table', 'svm-D-small.trace.table.txt', false],
  ['svm-D-small/trace.txt.xz', 'json', 'svm-D-small.trace.json', false],
  ['svm-D-small/trace.txt.xz', 'md', 'svm-D-small.trace.by-vcpu.md', true],
  ['svm-D-small/trace.txt.xz', 'csv', 'svm-D-small.trace.by-vcpu.csv', true],
  ['svm-D-small/perf-kvm-script.txt.xz', 'table', 'svm-D-small.perf-kvm-script.table.txt', false],
  ['svm-A-baseline/trace.txt.xz', 'table', 'svm-A-baseline.trace.table.txt', false],
  ['svm-B-disable-exits/trace.txt.xz', 'table', 'svm-B-disable-exits.trace.table.txt', false],
  ['svm-B-disable-exits/trace.txt.xz', 'csv', 'svm-B-disable-exits.trace.csv', false],
  ['pvm-08-small/trace.txt.xz', 'table', 'pvm-08-small.trace.table.txt', false],
  ['arm64-D-small/trace.txt.xz', 'table', 'arm64-D-small.trace.table.txt', false],
  ['arm64-D-small/trace.txt.xz', 'json', 'arm64-D-small.trace.json', false],
];

/** Tables fitted to a terminal: 80 columns (the default off a tty) and 100. */
const fitted: Array<[string, number, string]> = [
  ['svm-D-small/trace.txt.xz', 80, 'svm-D-small.trace.table.80.txt'],
  ['svm-D-small/trace.txt.xz', 100, 'svm-D-small.trace.table.100.txt'],
  ['svm-A-baseline/trace.txt.xz', 80, 'svm-A-baseline.trace.table.80.txt'],
];

describe('golden reports fitted to a width', () => {
  it.each(fitted)('%s at %i columns', async (input, width, golden) => {
    const prev = process.cwd();
    process.chdir(ROOT);
    try {
      const r = await analyze([path.join('traces', input)], { top: 10 });
      const text = render(r, 'table', { by: ['vcpu'] }, width);
      for (const l of text.split('\n')) expect(l.length).toBeLessThanOrEqual(width);
      await expect(text).toMatchFileSnapshot(path.join(ROOT, 'test', 'golden', golden));
    } finally {
      process.chdir(prev);
    }
  });
});

describe('golden reports', () => {
  it.each(cases)('%s as %s', async (input, format, golden, byVcpu) => {
    const rel = path.join('traces', input);
    const prev = process.cwd();
    process.chdir(ROOT);
    try {
      const r = await analyze([rel], { top: 10 });
      await expect(render(r, format, { by: byVcpu ? ['vcpu'] : [] })).toMatchFileSnapshot(path.join(ROOT, 'test', 'golden', golden));
    } finally {
      process.chdir(prev);
    }
  });
});
