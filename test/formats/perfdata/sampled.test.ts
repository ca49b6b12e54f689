/**
 * Sampled perf.data recordings (issue 13, part 5): real files recorded on this machine (traces/sampled-sched,
 * `perf record -c 7` and `-F 1000` of sched:sched_switch) report how they sampled, and Σ PERIOD equals
 * `perf report`'s "Event count (approx.)" for the same file; a crafted kvm recording with -c 4 does too.
 */
import { describe, it, expect, afterAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { analyze } from '../../../src/pipeline/analyze.js';
import { render } from '../../../src/report/render.js';
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

// ---- the report of a sampled kvm recording: estimated exits = Σ PERIOD per reason, times withheld
const ST = S_IP | S_TID | S_TIME | S_CPU | S_PERIOD | S_RAW | S_IDENTIFIER;
const S = 1_000_000_000n;

/** kvm_exit + kvm_entry sampled with -c 4 (or -F 1000 with the periods given): exits HLT (12), HLT, EXTERNAL_INTERRUPT (1), HLT, EXTERNAL_INTERRUPT at 1 s .. 3 s */
function craftSampled(freq: boolean, periods: bigint[]): string {
  const c = new PerfCraft(true)
    .attr({ config: ID_KVM_EXIT, sampleType: ST, ids: [11], name: 'kvm:kvm_exit', period: freq ? 1000 : 4, freq })
    .attr({ config: ID_KVM_ENTRY, sampleType: ST, ids: [13], name: 'kvm:kvm_entry', period: freq ? 1000 : 4, freq });
  const reasons = [12, 12, 1, 12, 1];
  const times = [S, S + S / 4n, S + S / 2n, 2n * S, 3n * S];
  reasons.forEach((reason, i) => {
    c.sample(0, { id: 11, pid: 1, tid: 2, time: times[i]!, cpu: 0, period: periods[i]!, raw: rawKvmExit(true, 2, reason, 0n, 0) });
    c.sample(1, { id: 13, pid: 1, tid: 2, time: times[i]! + 1000n, cpu: 0, period: periods[i]!, raw: rawKvmEntry(true, 2, 0n, 0) });
  });
  c.round();
  return tmpFile(freq ? 'sampled-F.data' : 'sampled-c.data', c.buildFile());
}

// the crafted kvm_exit format gives no ISA: its codes stay bare (0xc = VMX HLT, 0x1 = EXTERNAL_INTERRUPT), as unsampled
describe('sampled perf.data: the report estimates exits as Σ PERIOD and withholds the times', () => {
  it('-c 4: HLT 3 samples = ~12 exits, EXTERNAL_INTERRUPT 2 = ~8, over 2 s: 6/s and 4/s', async () => {
    const r = await analyze([craftSampled(false, [4n, 4n, 4n, 4n, 4n])]);
    expect(r.inputs[0]!.sampled).toMatchObject({ sampling: '-c 4', samples: 10, period_sum: 40 });
    expect(r.sampled).toMatchObject({ estimated: true, samples: 5, estimated_exits: 20 });
    expect(r.reasons.map((x) => [x.reason, x.samples, x.exits_seen, x.exits_handled, x.exits_per_s, x.share_exits, x.total_ns, x.mean_ns, x.estimated]))
      .toEqual([['0xc', 3, 12, 0, 6, 0.6, 0, null, true], ['0x1', 2, 8, 0, 4, 0.4, 0, null, true]]);
    expect(r.totals).toMatchObject({ exits_seen: 20, exits_handled: 0, exits_per_s: 10, guest_ns: 0, host_ns: 0, tax: null, guest_share: null });
    expect(r.vms).toEqual([]);
    expect(r.top).toEqual([]);
    expect(r.halt).toMatchObject({ available: false });
    expect(r.notes.join('\n')).toMatch(/ESTIMATED from 5 kvm_exit samples as the sum of their PERIOD \(20 exits\)/);
    expect(r.notes.join('\n')).toMatch(/every Nth event with N = 4, not a random one: .*alias/);
    for (const fmt of ['table', 'md', 'html']) {
      const out = render(r, fmt, {}, 200);
      expect(out, fmt).toMatch(/ESTIMATED/);
      expect(out, fmt).toMatch(/~12/);
      expect(out, fmt).not.toMatch(/exits handled/);
    }
    expect(render(r, 'csv', {})).toMatch(/^reason,idle,samples,estimated_exits,estimated_exits_per_s,share_exits\n0xc,false,3,12,6,0.6\n/);
    const j = JSON.parse(render(r, 'json', {}));
    expect(j.sampled.estimated).toBe(true);
  });

  it('-F 1000: the periods ramp up (1, 3, 50, 200, 400): HLT 1+3+200 = ~204, EXTERNAL_INTERRUPT 50+400 = ~450', async () => {
    const r = await analyze([craftSampled(true, [1n, 3n, 50n, 200n, 400n])]);
    expect(r.inputs[0]!.sampled).toMatchObject({ sampling: '-F 1000', samples: 10, period_sum: 2 * 654 });
    expect(r.reasons.map((x) => [x.reason, x.samples, x.exits_seen])).toEqual([['0x1', 2, 450], ['0xc', 3, 204]]);
    expect(r.totals.exits_seen).toBe(654);
    expect(r.notes.join('\n')).toMatch(/-F 1000 adapts the period .*ramps up from 1 at the start/);
  });

  it('the real sched recordings: sampled, no kvm exits estimated, Σ PERIOD in the input', async () => {
    const r = await analyze([path.join(DIR, 'sched-c7.perf.data.xz')]);
    expect(r.inputs[0]!.sampled).toMatchObject({ sampling: '-c 7', period_sum: perfReport('sched-c7').eventCount, exits: [] });
    expect(r.sampled).toMatchObject({ estimated: true, samples: 0, estimated_exits: 0 });
    expect(r.sched).toMatchObject({ available: false });
  });

});
