/**
 * Halt polling against KVM's own binary statistics (KVM_GET_STATS_FD, in each capture's
 * vmm-output.txt), per vCPU, and hand-computed rules on crafted traces.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import type { HaltSection } from '../../src/analysis/types.js';
import { HAVE_SHARED, SHARED, TRACES, tmpTrace } from '../support/paths.js';

interface KvmStats { tid: number; s: Record<string, number> }
function kvmStats(vmmOutput: string): KvmStats[] {
  const tids = /vcpu tids: ([\d ]+)/.exec(vmmOutput)![1]!.trim().split(/\s+/).map(Number);
  return [...vmmOutput.matchAll(/KVM stats vcpu(\d+): (.*)/g)].map((m) => ({
    tid: tids[Number(m[1])]!,
    s: Object.fromEntries(m[2]!.trim().split(/\s+/).map((kv) => kv.split('=')).map(([k, v]) => [k!, Number(v)])),
  }));
}

const bundled = ['svm-D-small', 'svm-A-baseline', 'svm-B-disable-exits', 'pvm-08-small'].map((d) => [d, path.join(TRACES, d)]);
const shared = ['svm-F-haltpoll-2ms', 'pvm-01-baseline-ftrace-tracecmd', 'pvm-04-cpupm-ftrace-tracecmd', 'pvm-05-haltpoll-off-ftrace-tracecmd']
  .map((d) => [d, path.join(SHARED, 'captures', d)]);

async function check(dir: string): Promise<void> {
  const trace = fs.existsSync(path.join(dir, 'trace.txt.xz')) ? path.join(dir, 'trace.txt.xz') : path.join(dir, 'trace.txt');
  const r = await analyze([trace]);
  const truth = kvmStats(fs.readFileSync(path.join(dir, 'vmm-output.txt'), 'utf8'));
  if (truth.every((t) => t.s.halt_exits === 0 || t.s.halt_wakeup === undefined) && !r.halt.available) return;
  for (const { tid, s } of truth) {
    const h = r.halt.available ? (r.halt as HaltSection).vcpus.find((v) => v.tid === tid) : undefined;
    if (!h) {
      // no halt in the trace for this vCPU (cpu-pm: HLT does not exit)
      expect(s.halt_successful_poll! + s.halt_attempted_poll! + s.halt_wait_ns!, `vCPU tid ${tid}`).toBe(0);
      continue;
    }
    expect(h.halt_successful_poll, `${tid} halt_successful_poll`).toBe(s.halt_successful_poll);
    expect(h.halt_attempted_poll, `${tid} halt_attempted_poll`).toBe(s.halt_attempted_poll);
    expect(h.halt_poll_invalid, `${tid} halt_poll_invalid`).toBe(s.halt_poll_invalid);
    const waitFail = s.halt_wait_ns! + s.halt_poll_fail_ns!;
    expect(Math.abs(h.halt_wait_ns_plus_poll_fail_ns - waitFail), `${tid} wait+fail`).toBeLessThanOrEqual(waitFail * 0.001);
    // the run's last halt may not end inside the trace: KVM counted its wake-up, the trace did not
    expect(s.halt_wakeup! - h.wait_wakeups, `${tid} halt_wakeup - waits`).toBeGreaterThanOrEqual(0);
    expect(s.halt_wakeup! - h.wait_wakeups, `${tid} halt_wakeup - waits`).toBeLessThanOrEqual(1);
    // whole halt time of successful polls >= KVM's polling part (see the report's note), and close
    expect(h.halt_poll_success_ns).toBeGreaterThanOrEqual(s.halt_poll_success_ns!);
    expect(h.halt_poll_success_ns - s.halt_poll_success_ns!).toBeLessThanOrEqual(s.halt_poll_success_ns! * 0.005);
  }
}

describe('halt polling equals KVM\'s own statistics', () => {
  it.each(bundled)('%s (bundled)', async (_n, dir) => check(dir!));
  it.skipIf(!HAVE_SHARED).each(shared)('%s (../shared)', async (_n, dir) => check(dir!));
});

const HDR = '# tracer: nop\n';
const L = (ts: string, ev: string) => `             vmm-42      (   40) [000] d..1.  ${ts}: ${ev}\n`;

describe('halt-poll rules (crafted)', () => {
  it('rebuilds the window from grow/shrink events and counts polls the way kvm_vcpu_halt does', async () => {
    const r = await analyze([tmpTrace(HDR +
      // halt 1: window 0 -> no poll; blocked 100 us; KVM grows the window to 10000 at its end
      L('1.000000', 'kvm_entry: vcpu 0, rip 0x1') +
      L('1.000010', 'kvm_exit: vcpu 0 reason hlt rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0') +
      L('1.000120', 'kvm_halt_poll_ns: vcpu 0: halt_poll_ns 10000 (grow 0)') +
      L('1.000120', 'kvm_vcpu_wakeup: wait time 100000 ns, polling valid') +
      L('1.000130', 'kvm_entry: vcpu 0, rip 0x1') +
      // halt 2: window 10000 -> polls; wakes after 4000 ns in the poll: successful
      L('1.000200', 'kvm_exit: vcpu 0 reason hlt rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0') +
      L('1.000204', 'kvm_vcpu_wakeup: poll time 4000 ns, polling valid') +
      L('1.000210', 'kvm_entry: vcpu 0, rip 0x1') +
      // halt 3: window 10000 -> polls, fails, blocks: 50000 ns in all; KVM shrinks to 0 (long block)
      L('1.000300', 'kvm_exit: vcpu 0 reason hlt rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0') +
      L('1.000350', 'kvm_halt_poll_ns: vcpu 0: halt_poll_ns 0 (shrink 10000)') +
      L('1.000350', 'kvm_vcpu_wakeup: wait time 50000 ns, polling valid') +
      L('1.000360', 'kvm_entry: vcpu 0, rip 0x1') +
      // halt 4: window 0 again: an immediate "poll" wake-up that did not poll (invalid)
      L('1.000400', 'kvm_exit: vcpu 0 reason hlt rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0') +
      L('1.000401', 'kvm_vcpu_wakeup: poll time 500 ns, polling invalid') +
      L('1.000402', 'kvm_entry: vcpu 0, rip 0x1'))]);
    const h = (r.halt as HaltSection).vcpus[0]!;
    expect(h).toMatchObject({
      vcpu: 0, halts: 4, poll_wakeups: 2, wait_wakeups: 2, halt_attempted_poll: 2, halt_successful_poll: 1, halt_poll_invalid: 0,
      halt_poll_success_ns: 4000, halt_wait_ns_plus_poll_fail_ns: 150000, halt_poll_fail_ns_max: 10000, halt_wait_ns_min: 140000,
      success_rate: 0.5,
    });
    expect(h.window).toMatchObject({ known: true, grows: 1, shrinks: 1, flips: 1, settled_ns: 0, max_ns: 10000 });
    // the window was 10000 from 1.000120 to 1.000350 (230 us) and 0 from then to 1.000402 (52 us)
    expect(h.window.mean_ns).toBe(Math.round((10000 * 230000) / 282000));
    // the HLT exits: 120 + 10 + 60 + 2 us of handling; the halts (4 + 0.5 polling, 100 + 50 blocked) explain 154.5 us of it
    expect(h.hlt_split).toEqual({ exits_handled: 4, total_ns: 192000, poll_ns: 4500, wait_ns: 150000, other_ns: 37500 });
    // halted (idle) = the halts themselves; the rest of the HLT handling is overhead
    const v = r.vms[0]!.vcpus[0]!;
    expect(v.halted_ns).toBe(154500);
    expect(v.overhead_ns).toBe(192000 - 154500);
  });

  it('settles halts seen before the first kvm_halt_poll_ns with that event\'s old window', async () => {
    const r = await analyze([tmpTrace(HDR +
      L('2.000000', 'kvm_vcpu_wakeup: poll time 3000 ns, polling valid') +
      L('2.000100', 'kvm_vcpu_wakeup: wait time 70000 ns, polling valid') +
      L('2.000200', 'kvm_halt_poll_ns: vcpu 3: halt_poll_ns 40000 (grow 20000)') +
      L('2.000200', 'kvm_vcpu_wakeup: poll time 1000 ns, polling valid'))]);
    const h = (r.halt as HaltSection).vcpus[0]!;
    // the first two halts started with window 20000: both polled; the third too (its grow came at its end)
    expect(h).toMatchObject({ vcpu: 3, halt_attempted_poll: 3, halt_successful_poll: 2, halt_poll_success_ns: 4000, halt_poll_fail_ns_max: 20000, halt_wait_ns_min: 50000 });
    expect(r.quality.exit_entry_present).toBe(false);
  });

  it('says when halt events are absent instead of showing zeros', async () => {
    const r = await analyze([tmpTrace(HDR + L('3.000000', 'kvm_entry: vcpu 0, rip 0x1') + L('3.000001', 'kvm_exit: vcpu 0 reason hlt rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0') + L('3.000009', 'kvm_entry: vcpu 0, rip 0x1'))]);
    expect(r.halt).toEqual({ available: false, reason: 'the trace has no kvm_vcpu_wakeup events' });
    expect(r.notes.join('\n')).toMatch(/no kvm_vcpu_wakeup events: all of the HLT exits' handling time is counted as halted/);
    expect(r.vms[0]!.vcpus[0]!.halted_ns).toBe(8000);
  });
});
