/**
 * Directory recordings of perf (`perf record --threads`, issue 13): DIR/data is the header file (feature
 * HEADER_DIR_FORMAT), each writer thread's records are in DIR/data.N. A real recording of this machine
 * (traces/perf-threads: sched tracepoints, no /dev/kvm here) must give perf script's counts; a crafted kvm
 * directory gives hand-computed figures, on both paths (the core's and TypeScript's).
 */
import { describe, it, expect, afterAll, afterEach } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { analyze } from '../../../src/pipeline/analyze.js';
import { KvmtaxError } from '../../../src/core/errors.js';
import { corePathStats } from '../../../src/formats/perfdata/core-path.js';
import { TRACES } from '../../support/paths.js';
import { perfTmpDir, removePerfTmpDir } from '../../support/perf-files.js';
import {
  PerfCraft, rawKvmExit, rawKvmEntry, ID_KVM_EXIT, ID_KVM_ENTRY, S_IP, S_TID, S_TIME, S_CPU, S_PERIOD, S_RAW, S_IDENTIFIER,
} from '../../support/perf-craft.js';

afterAll(removePerfTmpDir);
afterEach(() => { delete process.env.KVMTAX_PERFDATA_PATH; });

const REAL = path.join(TRACES, 'perf-threads');

function hasTar(): boolean {
  try { execFileSync('tar', ['--version'], { stdio: 'ignore' }); execFileSync('xz', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

describe('perf.data directory: a real perf record --threads recording', () => {
  const ok = hasTar();
  it.skipIf(!ok)('gives perf script\'s event counts and times (tar/xz present)', async () => {
    const out = path.join(perfTmpDir(), 'real');
    fs.mkdirSync(out, { recursive: true });
    execFileSync('tar', ['xJf', path.join(REAL, 'sched-threads.perf.data.tar.xz'), '-C', out]);
    const dir = path.join(out, 'sched-threads.perf.data');
    // perf script -i DIR | sched:* word | sort | uniq -c
    const want: Record<string, number> = {};
    for (const m of fs.readFileSync(path.join(REAL, 'sched-threads.perf-script-counts.txt'), 'utf8').matchAll(/(\d+) sched:(\w+):/g)) want[m[2]!] = Number(m[1]);
    expect(want).toEqual({ sched_switch: 1251, sched_wakeup: 697 });
    const r = await analyze([dir]);
    expect(r.quality.events_by_name).toEqual(want);
    expect(r.inputs[0]!.meta).toMatchObject({ samples: 1948, data_files: 2 });
    // perf script's first and last times: 14431.278144, 14431.451591
    expect(Math.floor(Number(r.quality.first_ts) / 1000)).toBe(14431278144);
    expect(Math.floor(Number(r.quality.last_ts) / 1000)).toBe(14431451591);
    // the header file alone names the same recording: its data files are read beside it
    const alone = await analyze([path.join(dir, 'data')]);
    expect(alone.quality.events_by_name).toEqual(want);
  });
  if (!ok) it('skipped: tar or xz is not installed', () => { console.log('perf.data directory test skipped: tar/xz missing'); });
});

// ---- crafted kvm directory
const ST = S_IP | S_TID | S_TIME | S_CPU | S_PERIOD | S_RAW | S_IDENTIFIER;
const kvm = (le = true): PerfCraft => new PerfCraft(le)
  .attr({ config: ID_KVM_EXIT, sampleType: ST, ids: [11, 12], name: 'kvm:kvm_exit' })
  .attr({ config: ID_KVM_ENTRY, sampleType: ST, ids: [13, 14], name: 'kvm:kvm_entry' });
const HLT = 0x78, MSR = 0x7c, NPF = 0x400; // SVM exit codes

/** exits of thread `tid` (vCPU tid - 10) at the given times and reasons, each handled in `d` ns */
function exits(c: PerfCraft, tid: number, cpu: number, id: [number, number], at: [bigint, number, bigint][]): void {
  for (const [t, reason, d] of at) {
    c.sample(0, { id: id[0], pid: 1, tid, time: t, cpu, raw: rawKvmExit(c.le, tid, reason, 0x1000n, tid - 10) });
    c.sample(1, { id: id[1], pid: 1, tid, time: t + d, cpu, raw: rawKvmEntry(c.le, tid, 0x1000n, tid - 10) });
  }
}

/** data: COMMs; data.0: thread 11 on CPU 0; data.1: thread 12 on CPU 1, its times between thread 11's */
function craftDir(name: string, le = true): string {
  const dir = path.join(perfTmpDir(), name);
  fs.mkdirSync(dir, { recursive: true });
  const head = kvm(le);
  head.dirVersion = 1;
  head.comm(1, 11, 'vcpu0', { time: 1n, cpu: 0, pid: 1, tid: 11 });
  head.comm(1, 12, 'vcpu1', { time: 2n, cpu: 1, pid: 1, tid: 12 });
  fs.writeFileSync(path.join(dir, 'data'), head.buildFile());
  const d0 = kvm(le);
  exits(d0, 11, 0, [11, 13], [[1000n, HLT, 40n], [1100n, MSR, 30n], [1200n, NPF, 20n], [1300n, HLT, 50n]]);
  fs.writeFileSync(path.join(dir, 'data.0'), d0.buildRecords());
  const d1 = kvm(le);
  exits(d1, 12, 1, [12, 14], [[1050n, HLT, 60n], [1150n, MSR, 10n], [1250n, NPF, 5n]]);
  fs.writeFileSync(path.join(dir, 'data.1'), d1.buildRecords());
  return dir;
}

async function outcome(p: string): Promise<string> {
  try {
    const r = await analyze([p], { top: 20, histograms: true });
    return JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  } catch (e) {
    if (e instanceof KvmtaxError) return `error: ${e.format()}`;
    throw e;
  }
}

describe('perf.data directory: crafted kvm recording (hand-computed)', () => {
  it('reads data, data.0 and data.1 as one recording ordered by time; core path = TypeScript path', async () => {
    const dir = craftDir('kvm-dir');
    const before = corePathStats.files;
    const core = await outcome(dir);
    expect(corePathStats.files).toBe(before + 1);
    process.env.KVMTAX_PERFDATA_PATH = 'ts';
    expect(await outcome(dir)).toBe(core);
    const r = JSON.parse(core);
    // hlt: 40 + 50 (thread 11) + 60 (thread 12) = 150 ns in 3 exits; msr: 30 + 10 = 40 in 2; npf: 20 + 5 = 25 in 2
    const by = Object.fromEntries(r.reasons.map((x: { reason: string; exits_handled: number; total_ns: number }) => [x.reason, [x.exits_handled, x.total_ns]]));
    expect(by).toEqual({ hlt: [3, 150], msr: [2, 40], npf: [2, 25] });
    expect(r.totals.exits_handled).toBe(7);
    expect(r.totals.host_ns).toBe(215);
    expect(r.inputs[0].meta).toMatchObject({ samples: 14, data_files: 2 });
    const vcpus = r.vms[0].vcpus.map((v: { tid: number; comm: string; exits_handled: number }) => [v.tid, v.comm, v.exits_handled]);
    expect(vcpus).toEqual([[11, 'vcpu0', 4], [12, 'vcpu1', 3]]);
    // where: offsets in the concatenation data | data.0 | data.1 (the first exit of data.1 is its record 0)
    const dataSize = fs.statSync(path.join(dir, 'data')).size;
    const d0Size = fs.statSync(path.join(dir, 'data.0')).size;
    const first12 = r.top.find((t: { tid: number; ts_ns: number }) => t.tid === 12 && t.ts_ns === 1050);
    expect(first12.where).toBe(`${dir}#${dataSize + d0Size}`);
  });

  it('byte-swapped (big-endian) directory: the same figures (TypeScript path)', async () => {
    const le = JSON.parse(await outcome(craftDir('kvm-dir-le2')));
    const be = JSON.parse(await outcome(craftDir('kvm-dir-be', false)));
    const fig = (r: { reasons: { reason: string; exits_handled: number; total_ns: number }[]; totals: unknown }) =>
      [r.reasons.map((x) => [x.reason, x.exits_handled, x.total_ns]), r.totals];
    expect(fig(be)).toEqual(fig(le));
    expect(be.reasons.map((x: { reason: string; exits_handled: number }) => [x.reason, x.exits_handled])).toEqual([['hlt', 3], ['msr', 2], ['npf', 2]]);
  });

  it('the header file without its data files: read, and the missing samples said (skipped, truncated)', async () => {
    const dir = craftDir('kvm-dir-alone');
    fs.rmSync(path.join(dir, 'data.0'));
    fs.rmSync(path.join(dir, 'data.1'));
    const r = await analyze([dir]);
    expect(r.inputs[0]!.meta).toMatchObject({ samples: 0 }); // data_files 0 is not shown
    expect(r.quality.skipped.map((k) => [k.kind, k.count])).toEqual([['truncated', 1]]);
    expect(r.quality.skipped[0]!.excerpt).toMatch(/without its data\.N files/);
  });

  it('a truncated data file: one error naming it and the offset inside it', async () => {
    const dir = craftDir('kvm-dir-cut');
    const f = path.join(dir, 'data.1');
    const b = fs.readFileSync(f);
    fs.writeFileSync(f, b.subarray(0, b.length - 3));
    const core = await outcome(dir);
    process.env.KVMTAX_PERFDATA_PATH = 'ts';
    expect(await outcome(dir)).toBe(core);
    expect(core).toMatch(/^error: .*data\.1: truncated record at offset \d+/);
    const off = Number(/at offset (\d+)/.exec(core)![1]);
    expect(off).toBeLessThan(b.length);
  });
});
