/** --what-if cpu-pm: the forecast from one baseline report, on a crafted trace and on the real svm-A capture. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { whatIf } from '../../src/analysis/runs/whatif.js';
import { renderWhatIf } from '../../src/report/compare-whatif.js';
import { TRACES, tmpTrace } from '../support/paths.js';
import { fitCpuPm } from '../../src/analysis/levers/index.js';

const L = (ts: string, ev: string) => `             vmm-101     (    100) [001] d..1.  ${ts}: ${ev}\n`;
const X = (r: string) => `kvm_exit: vcpu 0 reason ${r} rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0`;
const E = 'kvm_entry: vcpu 0, rip 0x1';

describe('what if cpu-pm', () => {
  it('crafted VMX trace: HLT, PAUSE and MWAIT stop trapping; the interrupt replaces the wake-up', async () => {
    // entry 0; MSR_READ 10->20; HLT 30->130; PAUSE_INSTRUCTION 140->145; MWAIT 150->154; EXTERNAL_INTERRUPT 160->166; end at 166 (us)
    const p = tmpTrace('# tracer: nop\n' + L('1.000000', E) + L('1.000010', X('MSR_READ')) + L('1.000020', E) + L('1.000030', X('HLT')) +
      L('1.000130', E) + L('1.000140', X('PAUSE_INSTRUCTION')) + L('1.000145', E) + L('1.000150', X('MWAIT_INSTRUCTION')) + L('1.000154', E) +
      L('1.000160', X('EXTERNAL_INTERRUPT')) + L('1.000166', E));
    const r = await analyze([p]);
    const w = whatIf(r, 'cpu-pm');
    expect(w.stopped.map((s) => [s.class, s.reason, s.exits, s.host_ns, s.overhead_ns])).toEqual([
      ['HLT', 'HLT', 1, 100000, 0], ['PAUSE', 'PAUSE_INSTRUCTION', 1, 5000, 5000], ['MWAIT', 'MWAIT_INSTRUCTION', 1, 4000, 4000],
    ]);
    // wall 166 us; overhead now 10 + 5 + 4 + 6 = 25 us; without PAUSE/MWAIT 16 us kept; no kvm_vcpu_wakeup: the
    // one HLT exit is the one wake-up; it adds kappa x the mean non-idle exit (25 / 4 = 6.25 us); the range is
    // that plus the calibration pairs' residual band (pp)
    const fit = fitCpuPm();
    const mech = (16 + fit.point.kappa * 6.25) / 166;
    expect(w.current.tax).toBeCloseTo(25 / 166, 6);
    expect(w.estimate.tax_low).toBeCloseTo(mech + fit.band.tax_pp[0] / 100, 6);
    expect(w.estimate.tax_high).toBeCloseTo(mech + fit.band.tax_pp[2] / 100, 6);
    expect(w.tax_point).toBeCloseTo(mech + fit.band.tax_pp[1] / 100, 6);
    expect(w.estimate).toMatchObject({ added_exits: Math.round(fit.point.kappa_n), added_reason: 'EXTERNAL_INTERRUPT', halted_share: 0, removed_overhead_ns: 9000 });
    expect(w.estimate.added_mean_ns).toBeCloseTo((6250 * fit.point.kappa) / fit.point.kappa_n, 0);
    expect(w.calibration).toMatch(/^calibrated on emulated SVM only/);
    expect(w.not_advised).toBeUndefined();
    expect(w.not_identified[0]).toMatch(/^C-state MSR reads \(0x660, 0x3fc, 0x3fd, 0x3fe\): they are MSR_READ exits, and which MSR an exit read needs kvm_msr events/);
    expect(w.vcpus).toHaveLength(1);
    expect(w.vcpus[0]!.tax_low).toBeCloseTo(w.estimate.tax_low!, 6);
    const text = renderWhatIf(r, 'cpu-pm', 'table');
    expect(text).toMatch(/^What if cpu-pm\n/);
    expect(text).toMatch(/assumption: the halted time \(polling and blocked in the host\) becomes guest time/);
    expect(JSON.parse(renderWhatIf(r, 'cpu-pm', 'json')).scenario).toBe('cpu-pm');
    expect(renderWhatIf(r, 'cpu-pm', 'csv')).toMatch(/^class,reason,exits,host_ns,overhead_removed_ns\nHLT,HLT,1,100000,0\n/);
    expect(renderWhatIf(r, 'cpu-pm', 'md')).toMatch(/^# What if cpu-pm\n/);
  });

  it('real svm-A baseline: hlt stops trapping; halted time moves into guest mode', async () => {
    const r = await analyze([path.join(TRACES, 'svm-A-baseline/trace.txt.xz')]);
    const w = whatIf(r);
    expect(w.stopped.map((s) => [s.reason, s.exits])).toEqual([['hlt', 1626]]);
    expect(w.estimate.added_reason).toBe('interrupt');
    // one interrupt exit per wake-up (kvm_vcpu_wakeup: 1111 halts), at the calibration pairs' median rate
    expect(w.estimate.added_exits).toBe(Math.round(fitCpuPm().point.kappa_n * 1111));
    expect(w.estimate.halted_to_guest_ns).toBe(r.totals.halted_ns);
    expect(w.estimate.tax_low!).toBeLessThan(w.estimate.tax_high!);
    expect(w.estimate.guest_share_high!).toBeGreaterThan(0.6);
    // the capture has kvm_msr events: C-state reads are looked for there (none: the guest reads no residency MSR)
    expect(w.identified.some((x) => /C-state MSR reads .*from kvm_msr events \(none in this trace\)/.test(x))).toBe(true);
  });
});
