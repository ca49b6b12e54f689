/**
 * The core path of perf.data (assembly/perfdata.ts) against the TypeScript path (KVMTAX_PERFDATA_PATH=ts) on
 * small crafted files: perf's round ordering with late events, equal times, records without a time, LOST and
 * LOST_SAMPLES, COMM naming, unknown ids and records, AUXTRACE payloads, and every one-byte corruption of a
 * data section. Each case: the same report, or the same one-line error.
 */
import { describe, it, expect, afterAll, afterEach } from 'vitest';
import { analyze } from '../../../src/pipeline/analyze.js';
import { KvmtaxError } from '../../../src/core/errors.js';
import { corePathStats } from '../../../src/formats/perfdata/core-path.js';
import { tmpFile, removePerfTmpDir } from '../../support/perf-files.js';
import {
  PerfCraft, W, rawKvmExit, rawKvmEntry, ID_KVM_EXIT, ID_KVM_ENTRY,
  S_IP, S_TID, S_TIME, S_CPU, S_PERIOD, S_RAW, S_IDENTIFIER,
} from '../../support/perf-craft.js';

afterAll(removePerfTmpDir);
afterEach(() => { delete process.env.KVMTAX_PERFDATA_PATH; });

const ST = S_IP | S_TID | S_TIME | S_CPU | S_PERIOD | S_RAW | S_IDENTIFIER;
const kvm = (): PerfCraft => new PerfCraft(true)
  .attr({ config: ID_KVM_EXIT, sampleType: ST, ids: [11, 12], name: 'kvm:kvm_exit' })
  .attr({ config: ID_KVM_ENTRY, sampleType: ST, ids: [13, 14], name: 'kvm:kvm_entry' });

async function outcome(file: string): Promise<string> {
  try {
    const r = await analyze([file], { top: 20, histograms: true });
    return JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  } catch (e) {
    if (e instanceof KvmtaxError) return `error: ${e.format()}`;
    throw e;
  }
}

/** The outcome of both paths; they must be equal, and the core path must have been taken. */
async function both(bytes: Uint8Array, name = 'crafted.data'): Promise<string> {
  const file = tmpFile(name, bytes);
  const before = corePathStats.files;
  const core = await outcome(file);
  expect(corePathStats.files).toBe(before + 1);
  process.env.KVMTAX_PERFDATA_PATH = 'ts';
  const ts = await outcome(file);
  delete process.env.KVMTAX_PERFDATA_PATH;
  expect(core).toBe(ts);
  return core;
}

function vcpuRun(c: PerfCraft, tid: number, t0: bigint, n: number, cpu: number): void {
  for (let i = 0; i < n; i++) {
    const t = t0 + BigInt(i) * 100n;
    c.sample(0, { id: 11, pid: 1, tid, time: t, cpu, raw: rawKvmExit(true, tid, [0x78, 0x7c, 0x400][i % 3]!, 0x1000n + BigInt(i), tid - 10) });
    c.sample(1, { id: 13, pid: 1, tid, time: t + 40n, cpu, raw: rawKvmEntry(true, tid, 0x1000n + BigInt(i), tid - 10) });
  }
}

describe('perf.data: core path = TypeScript path on crafted files', () => {
  it('rounds with per-CPU runs, late events older than the last round, equal times, records without a time', async () => {
    const c = kvm();
    c.comm(1, 11, 'vcpu0', { time: 0n });
    c.comm(1, 12, 'vcpu1', { time: 5n, cpu: 1, pid: 1, tid: 12 });
    vcpuRun(c, 11, 1000n, 20, 0);
    vcpuRun(c, 12, 1010n, 20, 1);
    c.round();
    vcpuRun(c, 11, 3000n, 10, 0);
    vcpuRun(c, 12, 2500n, 10, 1); // older than the last round's tail
    c.sample(0, { id: 11, pid: 1, tid: 11, time: 0n, cpu: 0, raw: rawKvmExit(true, 11, 0x78, 0n, 1) });
    c.round();
    for (let i = 0; i < 6; i++) c.sample(1, { id: 13, pid: 1, tid: 11 + (i % 2), time: 9000n, cpu: i % 2, raw: rawKvmEntry(true, 11 + (i % 2), 0n, 1 + (i % 2)) });
    const out = JSON.parse(await both(c.buildFile()));
    // 20 + 20 + 10 + 10 exits and as many entries, one exit without a time, six entries at 9000
    expect(out.quality.events_by_name).toEqual({ kvm_exit: 61, kvm_entry: 66 });
  });

  it('LOST, LOST_SAMPLES, THROTTLE, unknown ids, unknown records and AUXTRACE payloads', async () => {
    const c = kvm();
    vcpuRun(c, 11, 1000n, 5, 0);
    c.lost(11, 42, { time: 1500n, cpu: 0, pid: 1, tid: 11 });
    c.lostSamples(7, { time: 1200n, cpu: 1 });
    c.sample(0, { id: 999, pid: 1, tid: 11, time: 1600n, raw: rawKvmExit(true, 11, 0x78, 0n, 0) });
    c.record(200, new Uint8Array(20).fill(0xff));
    c.record(5, new W(true).u64(1700n).u64(11).u64(0).out()); // THROTTLE: time, id, stream_id
    const aux = new W(true).u64(24).u64(0).u64(0).u32(0).u32(0).u32(0).u32(0).out();
    c.record(71, aux);
    c.records.push(new Uint8Array(24).fill(0x09));
    c.round();
    vcpuRun(c, 11, 2000n, 5, 0);
    const r = JSON.parse(await both(c.buildFile()));
    expect(r.inputs[0].meta).toMatchObject({ lost: 49, throttled: 1 });
  });

  it('every one-byte corruption of the data section (every 3rd byte): same report or same error', async () => {
    const c = kvm();
    c.comm(1, 11, 'vcpu0', { time: 0n });
    vcpuRun(c, 11, 1000n, 4, 0);
    c.round();
    c.lost(11, 3, { time: 1250n, cpu: 0 });
    vcpuRun(c, 12, 1100n, 3, 1);
    c.round();
    const good = c.buildFile();
    const v = new DataView(good.buffer, good.byteOffset, good.byteLength);
    const dataOff = Number(v.getBigUint64(40, true));
    const dataSize = Number(v.getBigUint64(48, true));
    let errors = 0;
    for (let o = dataOff; o < dataOff + dataSize; o += 3) {
      const b = good.slice();
      b[o] = b[o]! ^ 0xa5;
      if ((await both(b, `flip-${o}.data`)).startsWith('error')) errors++;
    }
    expect(errors).toBeGreaterThan(0);
  }, 120_000);
});

describe('perf.data: compressed records (perf record -z)', () => {
  it('one zstd stream cut into COMPRESSED records of 50 bytes: core = TypeScript = the uncompressed file', async () => {
    const { execFileSync } = await import('node:child_process');
    let z: Buffer;
    try {
      z = execFileSync('zstd', ['-c', '-q', '-3'], { input: Buffer.alloc(0) });
    } catch {
      console.warn('zstd (the command) is absent: crafted compressed-record test skipped');
      return;
    }
    const build = (compress: boolean): Uint8Array => {
      const c = kvm();
      c.comm(1, 11, 'vcpu0', { time: 0n });
      vcpuRun(c, 11, 1000n, 15, 0);
      vcpuRun(c, 12, 1030n, 15, 1);
      c.round();
      vcpuRun(c, 11, 5000n, 5, 0);
      c.round();
      if (compress) {
        z = execFileSync('zstd', ['-c', '-q', '-3'], { input: Buffer.concat(c.records) });
        c.records = [];
        for (let o = 0; o < z.length; o += 50) c.record(81, z.subarray(o, o + 50));
      }
      return c.buildFile();
    };
    const plain = JSON.parse(await both(build(false), 'plain.data'));
    const comp = JSON.parse(await both(build(true), 'z.data'));
    expect(comp.quality.events_by_name).toEqual({ kvm_exit: 35, kvm_entry: 35 });
    expect(comp.totals).toEqual(plain.totals);
    expect(comp.reasons).toEqual(plain.reasons);
  });
});

describe('perf.data: a real perf record -z file (traces/perf-z)', () => {
  it('reads its 181 samples, as perf report counts them', async () => {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const { TRACES } = await import('../../support/paths.js');
    const dir = path.join(TRACES, 'perf-z');
    const want = Number(/# Samples: (\d+)/.exec(fs.readFileSync(path.join(dir, 'sched-z.perf-report.txt'), 'utf8'))![1]);
    const r = await analyze([path.join(dir, 'sched-z.perf.data.xz')]);
    expect(want).toBe(181);
    expect(r.inputs[0]!.meta).toMatchObject({ samples: want });
    expect(r.quality.events_by_name).toEqual({ sched_switch: want });
  });
});
