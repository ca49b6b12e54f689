/** Rows streamed out of the core equal the report they make (src/analysis/rows.ts). */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { decodeRows, type Row } from '../../src/analysis/rows.js';
import { HAVE_SHARED, SHARED, TRACES } from '../support/paths.js';

async function rowsOf(file: string, opts: { rowCapacity?: number; chunkBytes?: number } = {}) {
  const rows: Row[] = [];
  const report = await analyze([file], { ...opts, rows: (b, core) => { rows.push(...decodeRows(b, core)); } });
  return { rows, report };
}

describe('rows', () => {
  const file = path.join(TRACES, 'svm-D-small/trace.txt.xz');
  it('exit rows per reason: counts and times equal the report; halts and lapic events all there', async () => {
    const { rows, report } = await rowsOf(file);
    const exits = rows.filter((r) => r.kind === 'exit');
    for (const x of report.reasons) {
      const mine = exits.filter((r) => r.reason === x.reason);
      expect(mine.length, x.reason).toBe(x.exits_handled);
      expect(mine.reduce((s, r) => s + r.duration, 0), x.reason).toBe(x.total_ns);
    }
    expect(exits.length).toBe(report.totals.exits_handled);
    expect(rows.filter((r) => r.kind === 'halt').length).toBe(report.quality.events_by_name.kvm_vcpu_wakeup);
    expect(rows.filter((r) => r.kind === 'lapic').length).toBe(report.quality.events_by_name.kvm_wait_lapic_expire);
    // guest time before each handled exit sums to at most the vCPU's guest time (the last, unhandled exit's is not in a row)
    for (const vm of report.vms) {
      for (const c of vm.vcpus) {
        const g = exits.filter((r) => r.tid === c.tid).reduce((s, r) => s + (r.guest_before ?? 0), 0);
        expect(g).toBeLessThanOrEqual(c.guest_ns);
        expect(g).toBeGreaterThan(c.guest_ns * 0.9);
      }
    }
    const msr = exits.filter((r) => r.key === 'msr 0x6e0 w');
    expect(msr.length).toBe(65);
    expect(exits[0]).toMatchObject({ kind: 'exit', pid: 188, comm: 'vmm', reason: 'npf' });
  });
  it('the timeline counts every exit of each vCPU once, in buckets of the report\'s width', async () => {
    const { rows, report } = await rowsOf(file);
    expect(report.timeline.bucket_ns).toBe(1_000_000);
    for (const vm of report.vms) {
      for (const c of vm.vcpus) {
        const tl = report.timeline.vcpus.find((v) => v.tid === c.tid)!;
        expect(tl.buckets.reduce((s, [, n]) => s + n, 0)).toBe(c.exits_seen);
        // a handled exit's row falls in the bucket the timeline counted it in
        const first = rows.find((r) => r.kind === 'exit' && r.tid === c.tid)!;
        const start = tl.buckets[0]![0];
        expect(first.ts).toBeGreaterThanOrEqual(start);
        expect(first.ts).toBeLessThan(start + report.timeline.bucket_ns * 512);
      }
    }
  });
  it('a tiny row buffer and 100-byte chunks give the same rows in the same order', async () => {
    const a = await rowsOf(file);
    const b = await rowsOf(file, { rowCapacity: 7, chunkBytes: 100 });
    expect(b.rows).toEqual(a.rows);
    expect(JSON.stringify(b.report.reasons)).toBe(JSON.stringify(a.report.reasons));
  });
  it.skipIf(!HAVE_SHARED)('binary input (trace.dat, small batches) streams the same exits as its text twin', async () => {
    const bin = await rowsOf(path.join(SHARED, 'captures/svm-D-small/trace.dat'), { rowCapacity: 5 });
    const txt = await rowsOf(path.join(SHARED, 'captures/svm-D-small/trace-cmd-report-N.txt'));
    const key = (r: Row) => `${r.tid} ${Math.round(r.ts / 1000)} ${r.reason}`;
    expect(bin.rows.filter((r) => r.kind === 'exit').map(key)).toEqual(txt.rows.filter((r) => r.kind === 'exit').map(key));
  });
});
