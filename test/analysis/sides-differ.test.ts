/**
 * compare flags sides that were not recorded alike, when the traces say so: the host, the kernel, the
 * CPUs, the trace clock, the recorder, and a side that halted without kvm_vcpu_wakeup events (its tax
 * and halted share are not comparable). Loudly: the CLI prints these notes as warnings.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { sidesDiffer, viewOfReport } from '../../src/analysis/runs/compare.js';
import { ROOT } from '../support/paths.js';

const D = path.join(ROOT, 'traces/svm-D-small/trace.txt.xz');
const DPK = path.join(ROOT, 'traces/svm-D-small/perf-kvm-script.txt.xz');
const B = path.join(ROOT, 'traces/svm-B-disable-exits/trace.txt.xz');
const side = async (label: string, f: string, meta?: Record<string, string | number>) => {
  const pooled = await analyze([f], { histograms: true });
  if (meta) pooled.inputs[0]!.meta = meta;
  return { label, pooled, runs: [viewOfReport(pooled)] };
};

describe('sides recorded differently', () => {
  it('the same run from ftrace and from perf kvm stat: kvm_vcpu_wakeup missing on one side', async () => {
    const d = sidesDiffer(await side('ftrace', D), await side('perfkvm', DPK));
    expect(d).toEqual(['the sides differ: kvm_vcpu_wakeup recorded ftrace: yes, perfkvm: no (without it all HLT time counts as halted: tax and halted are not comparable)']);
  });
  it('a side with no halts (cpu-pm) is not flagged for lacking wake-ups', async () => {
    expect(sidesDiffer(await side('base', D), await side('cpupm', B))).toEqual([]);
  });
  it('host name, kernel, CPUs and recorder from the files\' metadata', async () => {
    const a = await side('a', D, { hostname: 'h1', os_release: '6.1.0', nr_cpus: 2, cmdline: 'perf record -a -e kvm:*' });
    const b = await side('b', D, { hostname: 'h2', os_release: '6.8.0', nr_cpus: 2, cmdline: 'perf kvm stat record -a' });
    expect(sidesDiffer(a, b)).toEqual([
      'the sides differ: host name a: h1, b: h2',
      'the sides differ: kernel a: 6.1.0, b: 6.8.0',
      'the sides differ: recorder a: perf record, b: perf kvm stat record (perf kvm stat record has no kvm_vcpu_wakeup)',
    ]);
  });
  it('the CLI warns on stderr, and still compares (exit 0)', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'kvmtax.js'), 'compare', D, '--vs', DPK, '-f', 'json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('kvmtax: warning: the sides differ: kvm_vcpu_wakeup recorded before: yes, after: no (without it all HLT time counts as halted: tax and halted are not comparable)\n');
    expect(JSON.parse(r.stdout).notes).toContain('the sides differ: kvm_vcpu_wakeup recorded before: yes, after: no (without it all HLT time counts as halted: tax and halted are not comparable)');
  });
});
