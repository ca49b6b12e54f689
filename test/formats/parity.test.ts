/**
 * Each binary capture gives the report of its text twin. svm-D-small's binary twins are bundled in
 * traces/ (xz), so these run on a bare clone; the other captures are read from ../shared. The text twins print
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
import { HAVE_SHARED, SHARED, TRACES } from '../support/paths.js';
import { openSource } from '../../src/formats/source.js';
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

/** trace.dat against `trace-cmd report -N` of the same file. */
async function traceDatParity(dat: string, text: string): Promise<void> {
  const bin = await analyze([dat]);
  const txt = await analyze([text]);
  expect(bin.inputs[0]!.format).toBe('trace.dat');
  expect(counts(bin)).toEqual(counts(txt));
  closeTimes(bin, txt);
  expect(bin.vms.flatMap((v) => v.vcpus.map((c) => [c.tid, c.vcpu, c.exits_seen]))).toEqual(txt.vms.flatMap((v) => v.vcpus.map((c) => [c.tid, c.vcpu, c.exits_seen])));
  // sched_switch prev_state: raw bits in the binary, letters in the text
  const sched = (r: Report) => (r.sched.available ? r.sched.vcpus.map((c) => [c.tid, c.switched_in, c.slept, c.preempted_in_guest, c.preempted_in_host]) : []);
  expect(sched(bin)).toEqual(sched(txt));
  const halt = (r: Report) => (r.halt.available ? r.halt.vcpus.map((c) => [c.tid, c.halts, c.halt_attempted_poll, c.halt_successful_poll, c.halt_wait_ns_plus_poll_fail_ns]) : []);
  expect(halt(bin)).toEqual(halt(txt));
}

/** perf kvm stat's own recording against its `perf script --ns` text and perf's own report, exactly. */
async function perfKvmParity(data: string, text: string, statReport: string): Promise<void> {
  const bin = await analyze([data]);
  const txt = await analyze([text]);
  expect(bin.inputs[0]!.format).toBe('perf.data');
  expect(JSON.stringify(bin.reasons)).toBe(JSON.stringify(txt.reasons));
  const perf = perfVmexitTable(fs.readFileSync(statReport, 'utf8'));
  expect(bin.reasons.map((x) => [x.reason, x.exits_handled]).sort()).toEqual(perf.rows.map((p) => [p.reason, p.samples]).sort());
}

/** perf.data (perf record -e kvm:* -e sched:*) against its `perf script` text (us). */
async function perfDataParity(data: string, text: string): Promise<void> {
  const bin = await analyze([data]);
  const txt = await analyze([text]);
  expect(bin.inputs[0]!.format).toBe('perf.data');
  expect(counts(bin)).toEqual(counts(txt));
  for (const x of bin.reasons) {
    const y = txt.reasons.find((r) => r.reason === x.reason)!;
    expect(Math.abs(x.total_ns - y.total_ns), x.reason).toBeLessThanOrEqual(1000 * x.exits_handled);
  }
}

/** A whole (decompressed) file. */
async function bytesOf(file: string): Promise<Buffer> {
  const src = await openSource(file);
  const parts: Buffer[] = [];
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let n; (n = await src.read(buf, 0, buf.length)) > 0;) parts.push(Buffer.from(buf.subarray(0, n)));
  } finally {
    src.close();
  }
  return Buffer.concat(parts);
}

const D = path.join(TRACES, 'svm-D-small');

describe('svm-D-small: the binary twins bundled in traces/ equal their text twins', () => {
  it('trace.dat = trace-cmd report -N', () => traceDatParity(path.join(D, 'trace.dat.xz'), path.join(D, 'trace-cmd-report-N.txt.xz')));
  it('perf-kvm.data = perf kvm stat report and its --ns script, exactly', () =>
    perfKvmParity(path.join(D, 'perf-kvm.data.xz'), path.join(D, 'perf-kvm-script.txt.xz'), path.join(D, 'perf-kvm-stat-report.txt')));
  it('perf.data = perf script', () => perfDataParity(path.join(D, 'perf.data.xz'), path.join(D, 'perf-script.txt.xz')));
  it('a truncated trace.dat is a clear error with a byte offset', async () => {
    const whole = await bytesOf(path.join(D, 'trace.dat.xz'));
    const p = path.join(fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'kvmtax-')), 'cut.dat');
    fs.writeFileSync(p, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const e = await analyze([p]).catch((x: Error & { format?: () => string }) => x);
    expect(e).toBeInstanceOf(Error);
    expect((e as { format: () => string }).format()).toMatch(/cut\.dat: byte \d+: /);
  });
});

describe.skipIf(!HAVE_SHARED)('binary captures equal their text twins (../shared/captures)', () => {
  it.each(['svm-A-baseline', 'svm-B-disable-exits', 'svm-F-haltpoll-2ms', 'svm-T-tracecmd-record'])('%s trace.dat = trace-cmd report -N', (dir) =>
    traceDatParity(path.join(C, dir, 'trace.dat'), twin(dir, 'trace-cmd-report-N.txt')));
  it.each(['svm-A-baseline', 'svm-B-disable-exits', 'svm-F-haltpoll-2ms'])('%s perf-kvm.data = perf kvm stat report and its --ns script, exactly', (dir) =>
    perfKvmParity(twin(dir, 'perf-kvm.data'), twin(dir, 'perf-kvm-script.txt'), path.join(C, dir, 'perf-kvm-stat-report.txt')));
  it.each(['svm-A-baseline', 'svm-B-disable-exits', 'svm-F-haltpoll-2ms'])('%s perf.data = perf script', (dir) => perfDataParity(twin(dir, 'perf.data'), twin(dir, 'perf-script.txt')));
  it('pvm-01 trace.dat (no kvm_exit on that backend) = its text', async () => {
    const bin = await analyze([path.join(C, 'pvm-01-baseline-ftrace-tracecmd', 'trace.dat')]);
    const txt = await analyze([path.join(C, 'pvm-01-baseline-ftrace-tracecmd', 'trace.txt.xz')]);
    expect(bin.quality.exit_entry_present).toBe(false);
    expect(bin.quality.events_read).toBe(txt.quality.events_read);
  });
});
