/**
 * Real-world variants of text traces (issue 17), on fixtures crafted from the shapes quoted in the issue
 * and seen in public mailing-list posts (test/fixtures/variants/README.md). Expectations computed by hand
 * from the fixture lines.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../../src/pipeline/analyze.js';
import { render } from '../../../src/report/render.js';
import { buildNested } from '../../../src/analysis/nested.js';
import { ROOT } from '../../support/paths.js';

const F = (n: string) => path.join(ROOT, 'test', 'fixtures', 'variants', n);
type R = Awaited<ReturnType<typeof analyze>>;
const reasons = (r: R) => r.reasons.map((x) => [x.reason, x.exits_seen, x.exits_handled, x.total_ns]);
const skips = (r: R) => r.quality.skipped.map((s) => [s.kind, s.count, path.basename(s.first)]);

describe('padding: U+00A0 and tabs', () => {
  // entry .349023, exit EPT_VIOLATION .349036, entry .349041 (5 us); exit EXTERNAL_INTERRUPT .349050, entry .349052 (2 us)
  const want = [['EPT_VIOLATION', 1, 1, 5000], ['EXTERNAL_INTERRUPT', 1, 1, 2000]];
  it('non-breaking spaces between the event name and its fields are padding', async () => {
    const r = await analyze([F('nbsp-padding.txt')]);
    expect(reasons(r)).toEqual(want);
    expect(r.quality.events_by_name).toEqual({ kvm_entry: 3, kvm_exit: 2, kvm_page_fault: 1 });
    expect(r.quality.skipped).toEqual([]);
    expect(r.notes.join('\n')).not.toMatch(/no kvm_exit/);
  });
  it('the same when a chunk boundary falls between the two bytes of U+00A0', async () => {
    for (const chunk of [7, 50, 101]) {
      const r = await analyze([F('nbsp-padding.txt')], { chunkBytes: chunk });
      expect(reasons(r)).toEqual(want);
    }
  });
  it('tabs', async () => {
    const r = await analyze([F('tab-padding.txt')]);
    expect(reasons(r)).toEqual(want);
    expect(r.quality.skipped).toEqual([]);
  });
});

describe('lines that name kvm_exit/kvm_entry but cannot be read', () => {
  it('are counted skips of their own kind with file:line, and the report says so loudly', async () => {
    const r = await analyze([F('unreadable-kvm-lines.txt')]);
    expect(r.reasons).toEqual([]);
    expect(skips(r)).toEqual([['kvm-line-not-understood', 2, 'unreadable-kvm-lines.txt:2:3']]);
    expect(r.quality.skipped[0]!.what).toBe('kvm_exit line not understood');
    const notes = r.notes.join('\n');
    expect(notes).toMatch(/WARNING: the trace has 2 kvm_exit\/kvm_entry lines that could not be read \(first at .*unreadable-kvm-lines\.txt:2:3\)/);
    expect(notes).not.toMatch(/has no kvm_exit\/kvm_entry events/);
    const text = render(r, 'table', { sections: new Set(['quality']) } as never);
    expect(text).toMatch(/kvm_exit\/kvm_entry: present but not understood/);
    expect(text).not.toMatch(/absent from this trace/);
  });
  it('a file of nothing but such lines is an error that counts them, never "no events"', async () => {
    const e = await analyze([F('headerless-kvm-lines.txt')]).then(() => null, (x: unknown) => x as { message: string; file: string; line: number; col: number });
    expect(e?.message).toMatch(/^no trace event could be read, though 3 lines name kvm_exit\/kvm_entry \(kvm_exit line not understood/);
    expect([path.basename(e!.file), e!.line, e!.col]).toEqual(['headerless-kvm-lines.txt', 1, 3]);
  });
});

describe('mail-wrapped events', () => {
  it('are joined when the continuation is unambiguous, else skipped', async () => {
    const r = await analyze([F('mail-wrapped.txt')]);
    // lines 2+3 (wrap before the name): EXTERNAL_INTERRUPT .971121 -> .971122 = 1 us
    // lines 5+6 (wrap after "reason"): IO_INSTRUCTION .971126 -> .971180 = 54 us; 7+8 the userspace exit
    // lines 10+11 (wrap after "rip"): EXTERNAL_INTERRUPT .971191 -> .971193 = 2 us
    // line 13 "reason" then " kvm_fpu: unload" (an event line without header): not joined, both skipped
    expect(reasons(r)).toEqual([['IO_INSTRUCTION', 1, 1, 54000], ['EXTERNAL_INTERRUPT', 2, 2, 3000]]);
    expect(r.quality.events_by_name).toEqual({ kvm_entry: 5, kvm_exit: 3, kvm_userspace_exit: 1 });
    expect(r.quality.lines_read).toBe(15);
    expect(skips(r)).toEqual([['unrecognized', 1, 'mail-wrapped.txt:14:3'], ['exit-without-reason', 1, 'mail-wrapped.txt:13:58']]);
    expect(r.quality.unpaired.entries_without_exit).toBe(1);
  });
  it('the same at every chunk boundary', async () => {
    const base = await analyze([F('mail-wrapped.txt')]);
    for (const chunk of [13, 64, 80, 97, 160, 333]) {
      const r = await analyze([F('mail-wrapped.txt')], { chunkBytes: chunk });
      expect(reasons(r)).toEqual(reasons(base));
      expect(skips(r)).toEqual(skips(base));
      expect(r.quality.lines_read).toBe(15);
    }
  });
});

describe('pasted captures', () => {
  it('time going back across threads is said in the quality section, with each segment\'s span', async () => {
    const r = await analyze([F('pasted-captures.txt')]);
    expect(r.inputs[0]!.segments).toEqual([
      { first_ts: 2758596349023000, last_ts: 2758596349041000, line: 1 },
      { first_ts: 280971122000, last_ts: 280971180000, line: 4 },
    ]);
    // each thread within its segment: 62567 EPT_VIOLATION 5 us, 5665 1 us + 54 us
    expect(reasons(r)).toEqual([['IO_INSTRUCTION', 1, 1, 54000], ['EPT_VIOLATION', 1, 1, 5000], ['EXTERNAL_INTERRUPT', 1, 1, 1000]]);
    expect(r.quality.span_ns).toBeLessThan(1e6);
    const text = render(r, 'table', { sections: new Set(['quality']) } as never);
    expect(text).toMatch(/pasted captures: .*pasted-captures\.txt holds 2 time segments \(time goes back at line 4\); their spans 18\.00 us, 58\.00 us/);
  });
  it('a single capture has no segments member (goldens unchanged)', async () => {
    const r = await analyze([F('mail-wrapped.txt')]);
    expect(r.inputs[0]!.segments).toBeUndefined();
  });
});

describe('old trace-cmd comm rendering "CPU" (cut at the space of "CPU 0/KVM")', () => {
  it('threads differ by pid and vCPU ids come from kvm_entry', async () => {
    const r = await analyze([F('old-comm-cpu.txt')]);
    expect(r.vms.flatMap((m) => m.vcpus).map((v) => [v.vcpu, v.tid, v.comm, v.exits_seen])).toEqual([[0, 453725, 'CPU', 1], [1, 453726, 'CPU', 1]]);
    // EXIT_MSR .950360 -> .950364 = 4 us; EXIT_HLT .950362 -> .950372 = 10 us
    expect(reasons(r)).toEqual([['hlt', 1, 1, 10000], ['msr', 1, 1, 4000]]);
  });
});

describe("perf's kvm plugin kvm_nested_vmexit rendering", () => {
  it('CAN\'T FIND FIELD lines are not exits', async () => {
    const r = await analyze([F('perf-plugin-nested-vmexit.txt')]);
    // kvm_exit .092645 -> entry .092650 (5 us), .092654 -> .092661 (7 us)
    expect(reasons(r)).toEqual([['npf', 2, 2, 12000]]);
    expect(r.quality.events_by_name).toEqual({ kvm_entry: 3, kvm_exit: 2, kvm_nested_vmexit: 2 });
    expect(r.quality.skipped).toEqual([]);
  });
});

describe('nested virtualization (SVM shapes of the kvm@vger nSVM/SMM post, with header columns)', () => {
  it('an L2 exit is counted once; reflected vs handled by L0 from kvm_nested_vmexit(_inject); kvm_nested_vmrun is an L2 entry', async () => {
    const r = await analyze([F('nested-svm.txt')]);
    // 3 kvm_exit (npf, vmrun, intr): npf .100010->.100020 10 us, vmrun .100030->.100040 10 us, intr .100050->.100055 5 us
    expect(reasons(r)).toEqual([['npf', 1, 1, 10000], ['vmrun', 1, 1, 10000], ['interrupt', 1, 1, 5000]]);
    expect(r.totals.exits_seen).toBe(3);
    expect(buildNested(r)).toMatchObject({ available: true, l2_exits: 2, reflected_to_l1: 1, handled_by_l0: 1, l2_entries: 1 });
    const json = JSON.parse(render(r, 'json', { sections: new Set(['nested']) }));
    expect(json.nested.l2_exits).toBe(2);
  });
  it('says plainly when there are no nested events', async () => {
    expect(buildNested(await analyze([F('mail-wrapped.txt')]))).toMatchObject({ available: false, reason: expect.stringMatching(/no kvm_nested_vmexit/) });
  });
});
