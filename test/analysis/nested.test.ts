/**
 * The nested section (src/analysis/nested.ts, assembly/nested.ts): per exit reason, L2 exits handled by L0 vs
 * reflected to L1, and the reflected exits' time until L2 runs again. Hand-computed expectations on a fixture
 * crafted from the real capture's lines (test/fixtures/variants/nested-svm-split.txt), then the real capture
 * traces/svm-L-nested checked against the L1 hypervisor's own exit counts (its vmm-output.txt).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { render } from '../../src/report/render.js';
import { buildNested, type NestedSection } from '../../src/analysis/nested.js';
import AjvModule from 'ajv';
import { buildExitCost } from '../../src/analysis/exit-cost.js';
import { ROOT } from '../support/paths.js';

const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schema', 'report.schema.json'), 'utf8'));
const Ajv = (AjvModule as unknown as { default: typeof AjvModule }).default ?? AjvModule;
const validate = new (Ajv as unknown as new (o: object) => { compile(s: object): { (d: unknown): boolean; errors?: unknown } })({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);

const FIX = path.join(ROOT, 'test', 'fixtures', 'variants', 'nested-svm-split.txt');
const CAP = path.join(ROOT, 'traces', 'svm-L-nested');
const row = (n: NestedSection, reason: string) => n.reasons.find((x) => x.reason === reason);

describe('nested split on the crafted fixture (shapes of kvm_amd 6.1, traces/svm-L-nested)', () => {
  it('per reason: handled by L0 (exit -> entry) vs reflected (exit -> entry after the next kvm_nested_vmenter)', async () => {
    const r = await analyze([FIX], { nested: true });
    const n = r.nested as NestedSection;
    expect(n.available).toBe(true);
    expect(n.per_reason).toBe(true);
    // thread 191: cpuid .000100 -> L2 entry .000150 (50 us; L1 exits npf .000120 and vmrun .000130 inside)
    //             cpuid .000400 -> L2 entry .000440 (40 us; L1 exit vmrun .000420 inside): 90 us over 2, 3 L1 exits
    // in three parts: to L1 (.000100 -> L1 entry .000110: 10 us; .000400 -> .000410: 10 us), in L1 (.000110 -> L1's
    // vmrun exit .000130: 20 us; .000410 -> .000420: 10 us), back to L2 (.000130 -> .000150: 20 us; .000420 -> .000440: 20 us)
    expect(row(n, 'cpuid')).toEqual({ reason: 'cpuid', l2_exits: 2, handled_by_l0: 0, handled_by_l0_ns: 0, reflected_to_l1: 2, reflected_ns: 90000, reflected_timed: 2, l1_exits_inside: 3,
      to_l1_ns: 20000, in_l1_ns: 30000, back_to_l2_ns: 40000, split_timed: 2 });
    // io .000200 -> entry .000230 (30 us), msr .000300 -> .000307 (7 us), npf .000600 -> .000605 (5 us): no inject
    expect(row(n, 'io')).toMatchObject({ l2_exits: 1, handled_by_l0: 1, handled_by_l0_ns: 30000, reflected_to_l1: 0 });
    expect(row(n, 'msr')).toMatchObject({ l2_exits: 1, handled_by_l0: 1, handled_by_l0_ns: 7000 });
    expect(row(n, 'npf')).toMatchObject({ l2_exits: 1, handled_by_l0: 1, handled_by_l0_ns: 5000 });
    // hlt .000500 reflected, L1 entered .000510, then L2 exits again (npf .000600) with no kvm_nested_vmenter seen:
    // the window is cut (not timed) and the npf exit is not counted as L1's
    expect(row(n, 'hlt')).toEqual({ reason: 'hlt', l2_exits: 1, handled_by_l0: 0, handled_by_l0_ns: 0, reflected_to_l1: 1, reflected_ns: 0, reflected_timed: 0, l1_exits_inside: 0,
      to_l1_ns: 0, in_l1_ns: 0, back_to_l2_ns: 0, split_timed: 0 });
    // thread 192: kvm_nested_vmexit .000710 with no kvm_exit before it: timed from itself to entry .000720 (10 us)
    expect(row(n, '(no kvm_exit)')).toMatchObject({ l2_exits: 1, handled_by_l0: 1, handled_by_l0_ns: 10000 });
    expect(n).toMatchObject({
      l2_exits: 7, handled_by_l0: 4, handled_by_l0_ns: 52000, reflected_to_l1: 3, reflected_ns: 90000, reflected_timed: 2,
      reflected_cut: 1, l1_exits_inside: 3, reflected_without_l2_exit: 1, to_l1_ns: 20000, in_l1_ns: 30000, back_to_l2_ns: 40000, split_timed: 2,
      // L2 entries: .000020 (L1's first VMRUN), .000150, .000440
      l2_entries: 3,
    });
    // counted once: 11 kvm_exit lines, the 7 kvm_nested_vmexit lines are not exits
    expect(r.totals.exits_seen).toBe(11);
    expect(r.quality.events_by_name.kvm_nested_vmexit).toBe(7);
  });

  it('the same report without the analysis falls back to the counts, and says so', async () => {
    const n = buildNested(await analyze([FIX])) as NestedSection;
    expect(n).toMatchObject({ available: true, per_reason: false, l2_exits: 7, reflected_to_l1: 4, l2_entries: 3, reasons: [] });
    expect(n.note).toMatch(/event counts only/);
  });

  it('table, JSON and Markdown show the per-reason rows', async () => {
    const r = await analyze([FIX], { nested: true });
    const sections = new Set(['nested']);
    const json = JSON.parse(render(r, 'json', { sections }));
    expect(json.nested.reasons.map((x: { reason: string }) => x.reason)).toEqual(['cpuid', '(no kvm_exit)', 'hlt', 'io', 'msr', 'npf']);
    const table = render(r, 'table', { sections }, 200);
    expect(table).toMatch(/^cpuid\s+2\s+0\s+0 ns\s+-\s+2\s+90\.00 us\s+45\.00 us\s+3$/m);
    expect(table).toMatch(/1 reflected exits were followed by another L2 exit/);
    const md = render(r, 'md', { sections });
    expect(md).toMatch(/\| io \| 1 \| 1 \| 30\.00 us \| 30\.00 us \| 0 \| 0 ns \| - \| 0 \|/);
    // averages per reflected cpuid: 10 us to L1, 15 us in L1, 20 us back to L2; in L1 = 30 / 90 us
    expect(table).toMatch(/^cpuid\s+2\s+10\.00 us\s+15\.00 us\s+20\.00 us\s+33\.3%$/m);
  });

  it('the per-reason section, its count-only fallback and the exit-cost section validate against the JSON schema', async () => {
    const r = await analyze([FIX], { nested: true });
    r.exitcost = buildExitCost(r, []);
    const json = JSON.parse(render(r, 'json', {}));
    expect(json.nested.per_reason).toBe(true);
    expect(validate(json)).toBe(true);
    expect(validate.errors ?? []).toEqual([]);
    json.nested = buildNested(await analyze([FIX]));
    expect(validate(json)).toBe(true);
    delete json.nested.reasons;
    expect(validate(json)).toBe(false);
  });

  it('a trace with no nested events says so', async () => {
    const r = await analyze([path.join(ROOT, 'test', 'fixtures', 'variants', 'mail-wrapped.txt')], { nested: true });
    expect(r.nested).toMatchObject({ available: false, reason: expect.stringMatching(/no kvm_nested_vmexit/) });
  });
});

describe('real nested capture: traces/svm-L-nested (kvm_amd 6.1 in QEMU TCG, the VMM vCPU runs its own L2)', () => {
  // ground truth: L1 (the guest hypervisor) counted the L2 exits it was given, by SVM exit code
  const out = fs.readFileSync(path.join(CAP, 'vmm-output.txt'), 'utf8');
  const l1 = Object.fromEntries([...out.matchAll(/ 0x([0-9a-f]+)=(\d+)/g)].map((m) => [parseInt(m[1]!, 16), Number(m[2])]));
  const vmruns = Number(/vmruns=(\d+)/.exec(out)![1]);

  for (const file of ['trace.txt.xz', 'perf.data.xz']) {
    it(`${file}: reflected per reason = what L1 saw; L0 handled L2's port I/O and MSR reads itself`, async () => {
      const r = await analyze([path.join(CAP, file)], { nested: true });
      const n = r.nested as NestedSection;
      expect(row(n, 'cpuid')).toMatchObject({ l2_exits: 200, reflected_to_l1: l1[0x72], handled_by_l0: 0 });
      expect(row(n, 'hlt')).toMatchObject({ l2_exits: 100, reflected_to_l1: l1[0x78], handled_by_l0: 0 });
      expect(row(n, 'hypercall')).toMatchObject({ l2_exits: 2, reflected_to_l1: l1[0x81], handled_by_l0: 0 });
      // L2 ran 200 x out 0x80 and 100 x rdmsr 0x1b; L1 intercepts neither
      expect(row(n, 'io')).toMatchObject({ l2_exits: 200, handled_by_l0: 200, reflected_to_l1: 0 });
      expect(row(n, 'msr')).toMatchObject({ l2_exits: 100, handled_by_l0: 100, reflected_to_l1: 0 });
      expect(n.reflected_to_l1).toBe(l1[0x72]! + l1[0x78]! + l1[0x81]!);
      expect(n.l2_entries).toBe(vmruns);
      // every L2 exit handled or reflected; the last vmmcall (RAX=0) ends L1's loop: L2 never runs again
      expect(n.handled_by_l0 + n.reflected_to_l1).toBe(n.l2_exits);
      expect(n.l2_exits).toBe(r.quality.events_by_name.kvm_nested_vmexit);
      expect(n.reflected_timed).toBe(n.reflected_to_l1 - 1);
      expect(n.reflected_cut).toBe(0);
      expect(n.reflected_without_l2_exit).toBe(0);
      // every timed window split in three parts that add up to it
      for (const x of n.reasons) {
        expect(x.split_timed).toBe(x.reflected_timed);
        expect(x.to_l1_ns + x.in_l1_ns + x.back_to_l2_ns).toBe(x.reflected_ns);
      }
      // a reflected cpuid keeps L2 off the CPU longer than L0's own handling of a cpuid-free exit
      expect(row(n, 'cpuid')!.reflected_ns / 200).toBeGreaterThan(row(n, 'msr')!.handled_by_l0_ns / 100);
      // counted once: kvm_exit lines only
      expect(r.totals.exits_seen).toBe(r.quality.events_by_name.kvm_exit);
    });
  }
});
