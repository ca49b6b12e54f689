/**
 * Each binary capture gives the report of its text twin (issue: binary inputs). The text twins print
 * microseconds (trace-cmd rounds to the nearest us, perf script truncates) where the binary files keep
 * nanoseconds, so counts must be equal and each reason's total handling time may differ by at most
 * 1 us per exit; perf kvm stat's own recording has a nanosecond text twin (perf script --ns) and must
 * give the identical report.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import type { Report } from '../../src/analysis/types.js';
import { HAVE_SHARED, SHARED } from '../support/paths.js';
import { perfVmexitTable } from '../support/perf-kvm-stat.js';

const C = path.join(SHARED, 'captures');
const twin = (dir: string, f: string) => (fs.existsSync(path.join(C, dir, f)) ? path.join(C, dir, f) : path.join(C, dir, `${f}.xz`));
const counts = (r: Report) => r.reasons.map((x) => [x.reason, x.exits_seen, x.exits_handled]).sort();

function closeTimes(bin: Report, txt: Report): void {
  for (const x of bin.reasons) {
    const y = txt.reasons.find((r) => r.reason === x.reason)!;
    expect(Math.abs(x.total_ns - y.total_ns), x.reason).toBeLessThanOrEqual(1000 * x.exits_handled);
  }
  expect(bin.quality.events_by_name).toEqual(Object.fromEntries(Object.entries(txt.quality.events_by_name).map(([k, v]) => [k === 'print' ? 'print' : k, v])));
}

describe.skipIf(!HAVE_SHARED)('binary captures equal their text twins (../shared/captures)', () => {
  it.each(['svm-D-small', 'svm-A-baseline', 'svm-B-disable-exits', 'svm-F-haltpoll-2ms', 'svm-T-tracecmd-record'])('%s trace.dat = trace-cmd report -N', async (dir) => {
    const bin = await analyze([path.join(C, dir, 'trace.dat')]);
    const txt = await analyze([twin(dir, 'trace-cmd-report-N.txt')]);
    expect(bin.inputs[0]!.format).toBe('trace.dat');
    expect(counts(bin)).toEqual(counts(txt));
    closeTimes(bin, txt);
    expect(bin.vms.flatMap((v) => v.vcpus.map((c) => [c.tid, c.vcpu, c.exits_seen]))).toEqual(txt.vms.flatMap((v) => v.vcpus.map((c) => [c.tid, c.vcpu, c.exits_seen])));
    // sched_switch prev_state: raw bits in the binary, letters in the text
    const sched = (r: Report) => (r.sched.available ? r.sched.vcpus.map((c) => [c.tid, c.switched_in, c.slept, c.preempted_in_guest, c.preempted_in_host]) : []);
    expect(sched(bin)).toEqual(sched(txt));
    const halt = (r: Report) => (r.halt.available ? r.halt.vcpus.map((c) => [c.tid, c.halts, c.halt_attempted_poll, c.halt_successful_poll, c.halt_wait_ns_plus_poll_fail_ns]) : []);
    expect(halt(bin)).toEqual(halt(txt));
  });
  it.each(['svm-D-small', 'svm-A-baseline', 'svm-B-disable-exits', 'svm-F-haltpoll-2ms'])('%s perf-kvm.data = perf kvm stat report and its --ns script, exactly', async (dir) => {
    const bin = await analyze([twin(dir, 'perf-kvm.data')]);
    const txt = await analyze([twin(dir, 'perf-kvm-script.txt')]);
    expect(bin.inputs[0]!.format).toBe('perf.data');
    expect(JSON.stringify(bin.reasons)).toBe(JSON.stringify(txt.reasons));
    const perf = perfVmexitTable(fs.readFileSync(path.join(C, dir, 'perf-kvm-stat-report.txt'), 'utf8'));
    expect(bin.reasons.map((x) => [x.reason, x.exits_handled]).sort()).toEqual(perf.rows.map((p) => [p.reason, p.samples]).sort());
  });
  it.each(['svm-D-small', 'svm-A-baseline', 'svm-B-disable-exits', 'svm-F-haltpoll-2ms'])('%s perf.data = perf script', async (dir) => {
    const bin = await analyze([twin(dir, 'perf.data')]);
    const txt = await analyze([twin(dir, 'perf-script.txt')]);
    expect(counts(bin)).toEqual(counts(txt));
    for (const x of bin.reasons) {
      const y = txt.reasons.find((r) => r.reason === x.reason)!;
      expect(Math.abs(x.total_ns - y.total_ns), x.reason).toBeLessThanOrEqual(1000 * x.exits_handled);
    }
  });
  it('pvm-01 trace.dat (no kvm_exit on that backend) = its text', async () => {
    const bin = await analyze([path.join(C, 'pvm-01-baseline-ftrace-tracecmd', 'trace.dat')]);
    const txt = await analyze([path.join(C, 'pvm-01-baseline-ftrace-tracecmd', 'trace.txt.xz')]);
    expect(bin.quality.exit_entry_present).toBe(false);
    expect(bin.quality.events_read).toBe(txt.quality.events_read);
  });
  it('a truncated trace.dat is a clear error with a byte offset', async () => {
    const whole = fs.readFileSync(path.join(C, 'svm-D-small', 'trace.dat'));
    const p = path.join(fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'kvmtax-')), 'cut.dat');
    fs.writeFileSync(p, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const e = await analyze([p]).catch((x: Error & { format?: () => string }) => x);
    expect(e).toBeInstanceOf(Error);
    expect((e as { format: () => string }).format()).toMatch(/cut\.dat: byte \d+: /);
  });
});
