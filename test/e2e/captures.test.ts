/**
 * Real captures against their independent counts:
 *  - perf kvm stat's own report of its recording (perf-kvm-stat-report.txt) against kvmtax on the same
 *    recording as text (perf-kvm-script.txt): handled exits per reason equal, times within 0.1%;
 *  - the capture tools' counts.txt (kvm_exit lines per reason) against kvmtax's exits seen;
 *  - the same run in three text renderings gives the same report (format parity);
 *  - a 100-byte chunk size gives the same report (chunk boundaries).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import type { Report } from '../../src/analysis/types.js';
import { HAVE_SHARED, SHARED, TRACES } from '../support/paths.js';
import { countsReasons, perfVmexitTable } from '../support/perf-kvm-stat.js';

const bundled = ['svm-D-small', 'svm-A-baseline', 'svm-B-disable-exits'];
const sharedOnly = ['svm-F-haltpoll-2ms'];

function xzOrPlain(dir: string, name: string): string {
  const p = path.join(dir, name);
  return fs.existsSync(p) ? p : `${p}.xz`;
}

function checkAgainstPerf(r: Report, perfText: string): void {
  const perf = perfVmexitTable(perfText);
  expect(perf.rows.length).toBeGreaterThan(0);
  const ours = Object.fromEntries(r.reasons.map((x) => [x.reason, x]));
  expect(Object.keys(ours).sort()).toEqual(perf.rows.map((p) => p.reason).sort());
  for (const p of perf.rows) {
    const o = ours[p.reason]!;
    expect(o.exits_handled, p.reason).toBe(p.samples);
    // perf prints us with 2 decimals
    expect(Math.abs(o.min_ns! / 1000 - p.minUs), `${p.reason} min`).toBeLessThanOrEqual(0.005 + 1e-9);
    expect(Math.abs(o.max_ns! / 1000 - p.maxUs), `${p.reason} max`).toBeLessThanOrEqual(0.005 + 1e-9);
    const perfTotal = p.avgUs * p.samples;
    expect(Math.abs(o.total_ns / 1000 - perfTotal) / perfTotal, `${p.reason} total`).toBeLessThan(0.001);
  }
  expect(r.totals.exits_handled).toBe(perf.totalSamples);
  expect(Math.abs(r.totals.host_ns / 1000 - perf.totalUs) / perf.totalUs).toBeLessThan(0.001);
}

describe.each(bundled)('bundled capture %s', (name) => {
  const dir = path.join(TRACES, name);
  it('perf-kvm-script.txt reproduces perf kvm stat report (counts exact, times within 0.1%)', async () => {
    const r = await analyze([xzOrPlain(dir, 'perf-kvm-script.txt')]);
    checkAgainstPerf(r, fs.readFileSync(path.join(dir, 'perf-kvm-stat-report.txt'), 'utf8'));
  });
  it('trace.txt: exits seen per reason equal the kvm_exit lines in counts.txt', async () => {
    const r = await analyze([xzOrPlain(dir, 'trace.txt')]);
    const counts = countsReasons(fs.readFileSync(path.join(dir, 'counts.txt'), 'utf8'));
    expect(Object.fromEntries(r.reasons.map((x) => [x.reason, x.exits_seen]))).toEqual(counts);
    expect(r.quality.skipped).toEqual([]);
    expect(r.inputs[0]!.format).toBe('ftrace');
  });
});

describe.skipIf(!HAVE_SHARED).each(sharedOnly)('capture %s from ../shared', (name) => {
  const dir = path.join(SHARED, 'captures', name);
  it('perf-kvm-script.txt reproduces perf kvm stat report', async () => {
    const r = await analyze([xzOrPlain(dir, 'perf-kvm-script.txt')]);
    checkAgainstPerf(r, fs.readFileSync(path.join(dir, 'perf-kvm-stat-report.txt'), 'utf8'));
  });
  it('trace.txt exits seen equal counts.txt', async () => {
    const r = await analyze([xzOrPlain(dir, 'trace.txt')]);
    const counts = countsReasons(fs.readFileSync(path.join(dir, 'counts.txt'), 'utf8'));
    expect(Object.fromEntries(r.reasons.map((x) => [x.reason, x.exits_seen]))).toEqual(counts);
  });
});

describe('format parity on svm-D-small (one run, several renderings)', () => {
  const dir = path.join(TRACES, 'svm-D-small');
  const comparable = (r: Report) => JSON.stringify({ reasons: r.reasons, vms: r.vms.map((v) => v.vcpus.map((c) => ({ ...c, comm: undefined }))), top: r.top.map((t) => ({ ...t, where: undefined, file: undefined, vm: undefined })) });
  it('raw ftrace, trace-cmd report (kvm plugin) and trace-cmd report -N give the same numbers', async () => {
    const [a, b, c] = await Promise.all(['trace.txt.xz', 'trace-cmd-report.txt.xz', 'trace-cmd-report-N.txt.xz'].map((f) => analyze([path.join(dir, f)])));
    expect(a!.inputs[0]!.format).toBe('ftrace');
    expect(b!.inputs[0]!.format).toBe('trace-cmd');
    expect(comparable(b!)).toBe(comparable(a!));
    expect(comparable(c!)).toBe(comparable(a!));
  });
  it('perf script of perf record (the same run, recorded separately) counts the same exits', async () => {
    const a = await analyze([path.join(dir, 'trace.txt.xz')]);
    const p = await analyze([path.join(dir, 'perf-script.txt.xz')]);
    expect(p.inputs[0]!.format).toBe('perf');
    expect(p.reasons.map((x) => [x.reason, x.exits_seen, x.exits_handled]).sort()).toEqual(a.reasons.map((x) => [x.reason, x.exits_seen, x.exits_handled]).sort());
  });
  it('every text rendering gives the identical report with a 100-byte chunk size', async () => {
    for (const f of ['trace.txt.xz', 'trace-cmd-report.txt.xz', 'perf-script.txt.xz', 'perf-kvm-script.txt.xz']) {
      const a = await analyze([path.join(dir, f)]);
      const b = await analyze([path.join(dir, f)], { chunkBytes: 100 });
      expect(JSON.stringify(b), f).toBe(JSON.stringify(a));
    }
  });
  it('two files give one report with their VMs kept apart', async () => {
    const r = await analyze([path.join(dir, 'trace.txt.xz'), path.join(TRACES, 'svm-B-disable-exits', 'trace.txt.xz')]);
    expect(r.vms.length).toBe(2);
    expect(r.vms.map((v) => v.file)).toEqual([path.join(dir, 'trace.txt.xz'), path.join(TRACES, 'svm-B-disable-exits', 'trace.txt.xz')]);
    expect(r.totals.exits_seen).toBe(770 + 17869);
  });
});

describe('pvm-08-small: a backend without kvm_exit/kvm_entry', () => {
  it('says so plainly and still counts what the trace has', async () => {
    const r = await analyze([path.join(TRACES, 'pvm-08-small', 'trace.txt.xz')]);
    expect(r.quality.exit_entry_present).toBe(false);
    expect(r.reasons).toEqual([]);
    expect(r.notes[0]).toMatch(/no kvm_exit\/kvm_entry events/);
    expect(r.quality.events_by_name.kvm_vcpu_wakeup).toBeGreaterThan(0);
    expect(r.quality.skipped).toEqual([]);
  });
});
