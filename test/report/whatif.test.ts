/** `kvmtax report --what-if`: exitless timer and IPI forecasts, hand-checked against the report's own sections. */
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { whatIf } from '../../src/analysis/runs/whatif.js';
import { ROOT, TRACES } from '../support/paths.js';

describe('--what-if exitless-timer / exitless-ipi', () => {
  it('removes exactly the PREEMPTION_TIMER exits\' time; TSC-deadline writes still exit (svm-D-small)', async () => {
    const r = await analyze([path.join(TRACES, 'svm-D-small/trace.txt.xz')]);
    const msr = r.msr.available ? r.msr.keys : [];
    const deadline = msr.find((k) => k.key === '0x6e0' && k.dir === 'w')!;
    const w = whatIf(r, 'exitless-timer');
    // SVM has no preemption timer: nothing is removed, and the deadline writes are named as staying
    expect(w.stopped.map((s) => [s.reason, s.exits, s.overhead_ns])).toEqual([['PREEMPTION_TIMER', 0, 0]]);
    expect(w.estimate.removed_overhead_ns).toBe(0);
    expect(w.estimate.tax_low).toBeCloseTo(r.totals.overhead_ns / r.totals.wall_ns, 6);
    expect(w.identified.some((x) => x.startsWith(`IA32_TSC_DEADLINE writes (MSR 0x6e0, from kvm_msr): ${deadline.events} exits, ${deadline.total_ns} ns: they still exit`))).toBe(true);
    const icr = msr.find((k) => k.key === '0x830' && k.dir === 'w')!;
    const i = whatIf(r, 'exitless-ipi');
    expect(i.estimate.removed_overhead_ns).toBe(icr.total_ns);
    expect(i.vcpus.reduce((s, c) => s + c.removed_overhead_ns, 0)).toBe(icr.total_ns);
  });
  it('is wired into the CLI, in JSON as a what_if member', () => {
    const run = spawnSync(process.execPath, [path.join(ROOT, 'bin/kvmtax.js'), 'report', 'traces/svm-A-baseline/trace.txt.xz', '--what-if', 'cpu-pm', '-f', 'json'], { cwd: ROOT, encoding: 'utf8' });
    expect(run.status).toBe(0);
    const j = JSON.parse(run.stdout);
    expect(j.what_if.scenario).toBe('cpu-pm');
    expect(j.what_if.stopped.map((s: { reason: string }) => s.reason)).toContain('hlt');
  });
});
