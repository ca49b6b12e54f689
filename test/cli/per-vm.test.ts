/**
 * Per VM, as perf kvm stat users expect: a reason table per VM (table, JSON, Markdown, CSV, HTML) and
 * --pid PID / --vcpu N with perf kvm stat report's meaning (-p: that VM process's events; --vcpu: that
 * vCPU id's). Checked against the same trace's own per-file and per-vCPU figures.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { render } from '../../src/report/render.js';
import { ROOT } from '../support/paths.js';

const BIN = path.join(ROOT, 'bin', 'kvmtax.js');
const D = path.join(ROOT, 'traces/svm-D-small/trace.txt.xz');
const A = path.join(ROOT, 'traces/svm-A-baseline/trace.txt.xz');
const B = path.join(ROOT, 'traces/svm-B-disable-exits/trace.txt.xz');
const PVM = path.join(ROOT, 'traces/pvm-08-small/trace.txt.xz');
const kvmtax = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT });
const strip = <T extends { reason: string; exits_seen: number; exits_handled: number; total_ns: number; p50_ns: number | null; p99_ns: number | null; max_ns: number | null }>(xs: T[]) =>
  xs.map((x) => ({ reason: x.reason, seen: x.exits_seen, handled: x.exits_handled, total: x.total_ns, p50: x.p50_ns, p99: x.p99_ns, max: x.max_ns }));

describe('the per-VM reason table', () => {
  it('two captures read together: each VM\'s reasons are its capture\'s own report', async () => {
    const both = await analyze([A, B]);
    const [ra, rb] = [await analyze([A]), await analyze([B])];
    expect(both.vms).toHaveLength(2);
    expect(strip(both.vms[0]!.reasons!)).toEqual(strip(ra.reasons));
    expect(strip(both.vms[1]!.reasons!)).toEqual(strip(rb.reasons));
    const shares = both.vms[0]!.reasons!.reduce((s, x) => s + x.total_ns, 0);
    expect(shares).toBe(both.vms[0]!.host_ns);
    // shown in the text table with several VMs, without being asked
    const text = render(both, 'table', {});
    expect(text).toContain('Exit reasons per VM');
    expect(render(both, 'md', {})).toContain('## Exit reasons per VM');
    expect(render(both, 'html', {})).toContain('Exit reasons per VM');
    // one VM: only with --by vm
    const one = await analyze([D]);
    expect(render(one, 'table', {})).not.toContain('Exit reasons per VM');
    expect(render(one, 'table', { by: ['vm'] })).toContain('Exit reasons per VM');
    const csv = render(one, 'csv', { by: ['vm'] }).split('\n');
    expect(csv[0]).toBe('file,pid,vm,reason,exits_seen,exits_handled,total_ns,share_host,min_ns,mean_ns,p50_ns,p90_ns,p99_ns,p999_ns,max_ns,stddev_ns');
    expect(csv[1]).toMatch(/,188,vmm \(pid 188\),hlt,66,66,/);
  });
});

describe('--pid and --vcpu', () => {
  it('--pid 188 --vcpu 1: the figures of that one vCPU thread', async () => {
    const all = await analyze([D]);
    const v1 = all.vms[0]!.vcpus.find((c) => c.vcpu === 1)!;
    const only = await analyze([D], { filter: { pid: 188, vcpu: 1 } });
    expect(only.totals.exits_seen).toBe(v1.exits_seen);
    expect(only.totals.exits_handled).toBe(v1.exits_handled);
    expect(only.totals.host_ns).toBe(v1.host_ns);
    expect(only.totals.tax).toBe(v1.tax);
    expect(strip(only.reasons)).toEqual(strip(v1.reasons!));
    expect(only.top.every((x) => x.vcpu === 1 && x.vm === 188)).toBe(true);
    expect(only.top.length).toBe(10);
    expect(only.notes[0]).toMatch(/^--pid 188 --vcpu 1: the figures are of 1 of the trace's 2 vCPU threads/);
    // --pid alone is the whole VM (one VM in this capture)
    expect((await analyze([D], { filter: { pid: 188 } })).totals.exits_seen).toBe(all.totals.exits_seen);
    // --vcpu 0 alone
    expect((await analyze([D], { filter: { vcpu: 0 } })).totals.exits_seen).toBe(all.vms[0]!.vcpus.find((c) => c.vcpu === 0)!.exits_seen);
  });
  it('two VMs: --pid picks one', async () => {
    const both = await analyze([A, B]);
    const pid = both.vms[1]!.pid!;
    const r = await analyze([A, B], { filter: { pid } });
    expect(r.totals.exits_seen).toBe((await analyze([B])).totals.exits_seen);
  });
  it('nothing matches: one line naming what the trace has, exit 1; a bad value is a usage error', () => {
    let r = kvmtax(['report', D, '--pid', '7']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('kvmtax: --pid 7: no vCPU thread matches (VM processes in the trace: 188)\n');
    r = kvmtax(['report', D, '--vcpu', '5']);
    expect(r.stderr).toBe('kvmtax: --vcpu 5: no vCPU thread matches (vCPU ids in the trace: 0, 1)\n');
    r = kvmtax(['report', PVM, '--pid', '3']);
    expect(r.stderr).toMatch(/the trace has no tgids/);
    r = kvmtax(['report', D, '--vcpu', '-1']);
    expect(r.status).toBe(2);
  });
});
