/**
 * Sampled perf.data recordings (issue 13, part 5): real files recorded on this machine (traces/sampled-sched,
 * `perf record -c 7` and `-F 1000` of sched:sched_switch) report how they sampled, and Σ PERIOD equals
 * `perf report`'s "Event count (approx.)" for the same file; a crafted kvm recording with -c 4 does too.
 */
import { describe, it, expect, afterAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { analyze } from '../../../src/pipeline/analyze.js';
import { TRACES } from '../../support/paths.js';
import { tmpFile, removePerfTmpDir } from '../../support/perf-files.js';
import { PerfCraft, W, rawKvmExit, rawKvmEntry, ID_KVM_EXIT, ID_KVM_ENTRY, S_IP, S_TID, S_TIME, S_CPU, S_PERIOD, S_RAW, S_IDENTIFIER } from '../../support/perf-craft.js';

afterAll(removePerfTmpDir);
const DIR = path.join(TRACES, 'sampled-sched');

function perfReport(name: string): { samples: number; eventCount: number } {
  const t = fs.readFileSync(path.join(DIR, `${name}.perf-report.txt`), 'utf8');
  const samples = /# Samples: (\d+)/.exec(t)![1]!;
  const count = /# Event count \(approx\.\): (\d+)/.exec(t)![1]!;
  return { samples: Number(samples), eventCount: Number(count) };
}

describe('sampled perf.data: Σ PERIOD = perf report\'s Event count (real recordings)', () => {
  it.each([['sched-c7', '-c 7'], ['sched-F1000', '-F 1000']])('%s', async (name, sampling) => {
    const r = await analyze([path.join(DIR, `${name}.perf.data.xz`)]);
    const meta = r.inputs[0]!.meta!;
    const want = perfReport(name);
    expect(meta.sampling).toBe(sampling);
    expect(meta.period_sum).toBe(want.eventCount);
    expect(r.quality.events_by_name.sched_switch).toBe(want.samples);
  });
});

describe('sampled perf.data: crafted kvm recording', () => {
  it('-c 4: sampling and Σ PERIOD in the input metadata (hand-computed: 3 samples x 4)', async () => {
    const ST = S_IP | S_TID | S_TIME | S_CPU | S_PERIOD | S_RAW | S_IDENTIFIER;
    const c = new PerfCraft(true)
      .attr({ config: ID_KVM_EXIT, sampleType: ST, ids: [11, 12], name: 'kvm:kvm_exit' })
      .attr({ config: ID_KVM_ENTRY, sampleType: ST, ids: [13, 14], name: 'kvm:kvm_entry' });
    c.sample(0, { id: 11, pid: 1, tid: 2, time: 100n, cpu: 0, period: 4n, raw: rawKvmExit(true, 2, 0x78, 0n, 0) });
    c.sample(1, { id: 13, pid: 1, tid: 2, time: 150n, cpu: 0, period: 4n, raw: rawKvmEntry(true, 2, 0n, 0) });
    c.sample(0, { id: 11, pid: 1, tid: 2, time: 300n, cpu: 0, period: 4n, raw: rawKvmExit(true, 2, 0x78, 0n, 0) });
    c.round();
    const bytes = c.buildFile();
    // sample_period (attr offset 16) of both attrs: 4
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const attrsOff = Number(v.getBigUint64(24, true));
    const attrSize = Number(v.getBigUint64(16, true));
    for (let i = 0; i < 2; i++) v.setBigUint64(attrsOff + i * attrSize + 16, 4n, true);
    void W;
    const r = await analyze([tmpFile('sampled-c4.data', bytes)]);
    expect(r.inputs[0]!.meta).toMatchObject({ sampling: '-c 4', period_sum: 12 });
  });
});
