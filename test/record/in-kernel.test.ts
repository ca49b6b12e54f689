/** live --in-kernel: the hist file parser and bucket arithmetic on hand-written hist output (histogram.rst layout). */
import { describe, expect, it } from 'vitest';
import { parseHist, log2Bucket, bucketQuantile } from '../../src/record/in-kernel.js';
import { inKernelRows } from '../../src/record/live.js';
import { reasonName } from '../../src/core/reasons.js';

const HIST = `# event histogram
#
# trigger info: hist:keys=pid,reason,lat.log2:vals=hitcount:sort=hitcount:size=8192 [active]
#

{ pid:        197, reason:        124, lat: ~ 2^14 } hitcount:          1
{ pid:        197, reason:        123, lat: ~ 2^15 } hitcount:          3
{ pid:        197, reason:        114, lat: ~ 2^14 } hitcount:         40
{ pid:        197, reason:        114, lat: ~ 2^15 } hitcount:         59
{ pid:        198, reason:        120, lat: ~ 2^25 } hitcount:          2

Totals:
    Hits: 105
    Entries: 5
    Dropped: 0
`;

describe('in-kernel histograms', () => {
  it('parses the hist file', () => {
    const h = parseHist(HIST);
    expect(h.hits).toBe(105);
    expect(h.dropped).toBe(0);
    expect(h.rows).toEqual([
      { pid: 197, reason: 124, log2: 14, count: 1 }, { pid: 197, reason: 123, log2: 15, count: 3 },
      { pid: 197, reason: 114, log2: 14, count: 40 }, { pid: 197, reason: 114, log2: 15, count: 59 },
      { pid: 198, reason: 120, log2: 25, count: 2 },
    ]);
  });

  it('groups by pid and reason, quantiles as bucket upper bounds', () => {
    const rows = inKernelRows(parseHist(HIST).rows, (c) => reasonName(2, c));
    expect(rows.map((r) => [r.pid, r.reason, r.count, r.p50_ns, r.p99_ns])).toEqual([
      // SVM exit codes: 0x72 = 114 cpuid, 0x7b = 123 io, 0x7c = 124 msr, 0x78 = 120 hlt
      [197, 'cpuid', 99, 2 ** 15, 2 ** 15], [197, 'io', 3, 2 ** 15, 2 ** 15], [198, 'hlt', 2, 2 ** 25, 2 ** 25], [197, 'msr', 1, 2 ** 14, 2 ** 14],
    ]);
    expect(rows[0]!.buckets).toEqual({ '2^14': 40, '2^15': 59 });
  });

  it('puts values in the kernel\'s buckets: ilog2(roundup_pow_of_two(v))', () => {
    expect([1, 2, 3, 4, 5, 8, 9, 16384, 16385, 32768].map(log2Bucket)).toEqual([0, 1, 2, 2, 3, 3, 4, 14, 15, 15]);
    expect(bucketQuantile(new Map([[3, 1], [5, 1], [7, 2]]), 0.5)).toBe(32);
    expect(bucketQuantile(new Map(), 0.5)).toBe(null);
  });
});
