/**
 * The hardware VM-exit cost estimate (src/analysis/exit-cost.ts): shown apart, never added to a figure; no CPU
 * model or no published figure: no estimate; a host that is itself a guest: no estimate. The figure below is
 * TEST DATA (kvmtax's own table carries only figures with a checked source): it checks the arithmetic and the
 * wiring, not a claim about any CPU. The shipped row (Nehalem-EP, SplitX's 2,000 cycles) is checked on its own.
 */
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { render } from '../../src/report/render.js';
import { buildExitCost, EXIT_COST_FIGURES } from '../../src/analysis/exit-cost.js';
import { readManifest } from '../../src/record/manifest.js';
import { ROOT } from '../support/paths.js';

const BIN = path.join(ROOT, 'bin', 'kvmtax.js');

const NESTED = path.join(ROOT, 'traces', 'svm-L-nested', 'trace.txt.xz');
const RECORDED = path.join(ROOT, 'traces', 'svm-R-kvmtax-record', 'trace.dat.xz');
const TEST_FIGURE = [{ match: /Test CPU 9000/, microarch: 'test-arch', cycles: 1000, source: 'test data, not a published figure' }];

describe('hardware exit cost estimate', () => {
  it('unknown CPU model: no estimate', async () => {
    const r = await analyze([NESTED]);
    const ec = buildExitCost(r, []);
    expect(ec.hosts).toEqual([expect.objectContaining({ cpu_model: null, exits: 944, estimate_cycles: null, note: expect.stringMatching(/^unknown CPU model: no estimate/) })]);
  });

  it('a model with a figure: exits x cycles, beside the report and not in it', async () => {
    const r = await analyze([NESTED]);
    const before = JSON.stringify(r.totals);
    r.exitcost = buildExitCost(r, [{ file: NESTED, cpu_model: 'Test CPU 9000 @ 3.0GHz', from: 'test' }], TEST_FIGURE);
    // 944 kvm_exit lines (counts.txt) x 1000 cycles
    expect(r.exitcost.hosts[0]).toMatchObject({ exits: 944, cycles_per_exit: 1000, estimate_cycles: 944000, microarch: 'test-arch', source: 'test data, not a published figure' });
    expect(JSON.stringify(r.totals)).toBe(before);
    const table = render(r, 'table', { sections: new Set(['exitcost']) }, 200);
    expect(table).toMatch(/trace\.txt\.xz\s+Test CPU 9000 @ 3\.0GHz\s+944\s+1000\s+944000/);
    expect(JSON.parse(render(r, 'json', { sections: new Set(['exitcost']) })).exitcost.hosts[0].estimate_cycles).toBe(944000);
  });

  it('a model with no row in the table: says so; the shipped table has no unsourced figure', async () => {
    const r = await analyze([NESTED]);
    const ec = buildExitCost(r, [{ file: NESTED, cpu_model: 'Some CPU', from: 'test' }], TEST_FIGURE);
    expect(ec.hosts[0]!.note).toMatch(/no published VM-exit round-trip figure for "Some CPU"/);
    for (const f of EXIT_COST_FIGURES) expect(f.source.length).toBeGreaterThan(10);
  });

  it('the shipped table: a Xeon X5570 (/proc/cpuinfo wording) gets SplitX\'s 2,000 cycles with its source; a later Xeon gets none', async () => {
    const r = await analyze([NESTED]);
    const ec = buildExitCost(r, [{ file: NESTED, cpu_model: 'Intel(R) Xeon(R) CPU           X5570  @ 2.93GHz', from: 'test' }]);
    expect(ec.hosts[0]).toMatchObject({ microarch: 'Nehalem-EP', cycles_per_exit: 2000, estimate_cycles: 944 * 2000, source: expect.stringMatching(/^SplitX .*X5570/) });
    const later = buildExitCost(r, [{ file: NESTED, cpu_model: 'Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz', from: 'test' }]);
    expect(later.hosts[0]).toMatchObject({ cycles_per_exit: null, estimate_cycles: null });
  });

  it('the real recorded capture: its manifest names the CPU, the host is a guest (cpuinfo "hypervisor"): no estimate; transition mitigations listed', async () => {
    const r = await analyze([RECORDED]);
    const m = readManifest(RECORDED)!;
    expect(m.host.cpu_model).toBe('AMD EPYC Processor');
    const ec = buildExitCost(r, [{ file: RECORDED, cpu_model: m.host.cpu_model, from: 'manifest', under_hypervisor: m.virtualization.flags.includes('hypervisor'), vulnerabilities: m.vulnerabilities }], TEST_FIGURE.map((f) => ({ ...f, match: /EPYC/ })));
    expect(ec.hosts[0]).toMatchObject({ cpu_model: 'AMD EPYC Processor', estimate_cycles: null, note: expect.stringMatching(/virtual CPU/) });
    // spectre_v2 of that host: "Mitigation: Retpolines; STIBP: disabled; RSB filling; ..."
    expect(ec.hosts[0]!.mitigations).toEqual(['spectre_v2: RSB filling on VM exit']);
  });

  it('mitigations at the transitions from the kernel\'s vulnerabilities wording', async () => {
    const r = await analyze([NESTED]);
    const ec = buildExitCost(r, [{ file: NESTED, cpu_model: 'Some CPU', from: 'test', vulnerabilities: {
      mds: 'Mitigation: Clear CPU buffers; SMT vulnerable',
      l1tf: 'Mitigation: PTE Inversion; VMX: conditional cache flushes, SMT vulnerable',
      spec_rstack_overflow: 'Mitigation: IBPB on VMEXIT only',
      meltdown: 'Not affected',
      spectre_v1: 'Mitigation: usercopy/swapgs barriers and __user pointer sanitization',
    } }]);
    expect(ec.hosts[0]!.mitigations).toEqual(['mds: VERW buffer clearing', 'l1tf: L1D flush on VM entry', 'spec_rstack_overflow: IBPB']);
  });

  it('kvmtax report --sections exitcost reads the CPU model from the manifest beside each trace', async () => {
    const r = spawnSync(process.execPath, [BIN, 'report', '--sections', 'exitcost', '-f', 'json', RECORDED, NESTED], { encoding: 'utf8', cwd: ROOT });
    expect(r.status).toBe(0);
    const hosts = JSON.parse(r.stdout).exitcost.hosts;
    expect(hosts.map((h: { cpu_model: string | null; from: string; exits: number }) => [h.cpu_model, h.from, h.exits])).toEqual([
      // each input's exits: its own kvm_exit count (the two files' vCPU threads kept apart)
      ['AMD EPYC Processor', 'kvmtax record manifest (trace.dat.manifest.json)', (await analyze([RECORDED])).totals.exits_seen],
      [null, 'none (no kvmtax record manifest beside the trace)', 944],
    ]);
    expect(hosts.every((h: { estimate_cycles: number | null }) => h.estimate_cycles === null)).toBe(true);
  });
});
