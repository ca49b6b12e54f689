/** `kvmtax report --help` lists every input format and gives the README's examples, word for word. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPORT_EXAMPLES } from '../../src/cli/examples.js';
import { ROOT } from '../support/paths.js';

const help = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'kvmtax.js'), 'report', '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '200' } }).stdout;
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

describe('report --help', () => {
  it('names every input format, text and binary', () => {
    for (const f of ['ftrace text', 'trace-cmd report text', 'perf script text', 'perf.data', 'trace.dat', 'Perfetto']) expect(help).toContain(f);
  });
  it('gives the README\'s examples, and the README gives them', () => {
    expect(help).toMatch(/Examples:/);
    for (const [cmd, what] of REPORT_EXAMPLES) {
      expect(help).toContain(cmd);
      expect(help).toContain(what);
      expect(readme).toMatch(new RegExp(`\\n${cmd.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +# ${what.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`));
    }
  });
});
