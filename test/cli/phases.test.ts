/**
 * KVMTAX_PHASES=1 (src/core/phases.ts): one stderr line per pipeline phase, with the time since the process
 * started and the thread, and the report itself unchanged; off, nothing.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, TRACES } from '../support/paths.js';

const BIN = path.join(ROOT, 'bin', 'kvmtax.js');
const run = (env: Record<string, string>) => spawnSync(process.execPath, [BIN, 'report', path.join(TRACES, 'svm-D-small/trace.txt.xz'), '-f', 'json'], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, ...env } });

describe('KVMTAX_PHASES', () => {
  it('prints the phases of a run in order on stderr, the report unchanged', () => {
    const on = run({ KVMTAX_PHASES: '1' });
    const off = run({ KVMTAX_PHASES: '' });
    expect(on.status).toBe(0);
    expect(off.stderr).toBe('');
    expect(on.stdout).toBe(off.stdout);
    const lines = on.stderr.trim().split('\n');
    for (const l of lines) expect(l).toMatch(/^phase \d+\.\d main \S/);
    for (const l of lines) expect(l).toMatch(/ \(faults \d+, rss \d+ MB\)$/);
    expect(lines.map((l) => l.replace(/^phase \S+ main /, '').replace(/ \(faults \d+, rss \d+ MB\)$/, ''))).toEqual(['core: Liftoff only', 'inputs read', 'tables merged', 'summarized', 'written']);
    const t = lines.map((l) => Number(l.split(' ')[1]));
    expect([...t].sort((a, b) => a - b)).toEqual(t);
  });
});
