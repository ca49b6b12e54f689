/**
 * kvmtax record meets real KVM exits: traces/svm-R-kvmtax-record, recorded inside the emulated AMD SVM guest
 * (scripts/capture-svm, variant R) with `kvmtax record` beside `perf kvm stat record -a`. kvmtax's report of
 * its own file must give perf kvm stat's handled counts per reason, the VMM's KVM halt statistics, the lost
 * counts of per_cpu/cpuN/stats for the tiny-buffer run, and the in-kernel histograms' counts.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HAVE_TRACE_CMD } from '../support/trace-cmd.js';
import AjvModule from 'ajv';
import { log2Bucket } from '../../src/record/in-kernel.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'kvmtax.js');
const DIR = path.join(ROOT, 'traces/svm-R-kvmtax-record');

function kvmtax(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 26 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

interface Rep {
  reasons: { reason: string; exits_handled: number }[];
  totals: { exits_handled: number };
  halt: { vcpus: { vcpu: number; halt_attempted_poll: number; halt_successful_poll: number; halt_poll_success_ns: number; halt_wait_ns_plus_poll_fail_ns: number }[] };
  vms: { pid: number; vcpus: { tid: number; vcpu: number; reasons: { reason: string; exits_handled: number }[] }[] }[];
  inputs: { lost_markers: number }[];
  manifests: Record<string, { recording: { lost: { overrun: number; dropped: number } } }>;
}

describe('kvmtax record inside the emulated SVM guest', () => {
  const rep = JSON.parse(kvmtax(['report', '-q', '-f', 'json', path.join(DIR, 'trace.dat.xz')])) as Rep;

  it('handled exits per reason equal perf kvm stat report\'s samples of the same run', () => {
    const perf = fs.readFileSync(path.join(DIR, 'perf-kvm-stat-report.txt'), 'utf8').split('### ')[1]!;
    const want = new Map<string, number>();
    for (const m of perf.matchAll(/^\s+([a-z_]+)\s+(\d+)\s+[\d.]+%/gm)) want.set(m[1]!, Number(m[2]));
    expect(Number(/Total Samples:(\d+)/.exec(perf)![1])).toBe(3748);
    expect(new Map(rep.reasons.map((r) => [r.reason, r.exits_handled]))).toEqual(want);
    expect(rep.totals.exits_handled).toBe(3748);
    // the VMM is named: record-tgid's saved tgids are in the file
    expect(rep.vms.map((v) => v.pid)).toEqual([204]);
  });

  it('the report with its manifest validates against schema/report.schema.json', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schema', 'report.schema.json'), 'utf8')) as object;
    const Ajv = (AjvModule as unknown as { default: typeof AjvModule }).default ?? AjvModule;
    const validate = new (Ajv as unknown as new (o: object) => { compile(s: object): { (d: unknown): boolean; errors?: unknown } })({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);
    expect(Object.keys(rep.manifests)).toEqual([path.join(DIR, 'trace.dat.xz')]);
    const ok = validate(rep);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('compare shows the host manifest of each side', () => {
    const out = kvmtax(['compare', path.join(DIR, 'trace.dat.xz'), '--vs', path.join(DIR, 'in-kernel-trace.dat.xz')]);
    expect(out.match(/^Host manifest \(beside (trace|in-kernel-trace)\.dat\.xz, taken /gm)?.length).toBe(2);
    expect(out).toMatch(/\n {2}VMM 204 vmm: /);
    expect(out).toMatch(/\n {2}VMM 294 vmm: /);
  });

  it('halt-poll figures equal the VMM\'s KVM statistics', () => {
    const out = fs.readFileSync(path.join(DIR, 'vmm-output.txt'), 'utf8');
    for (const v of rep.halt.vcpus) {
      const line = new RegExp(`^KVM stats vcpu${v.vcpu}: (.*)$`, 'm').exec(out)![1]!;
      const s = Object.fromEntries(line.split(' ').map((kv) => kv.split('=')).map(([k, x]) => [k, Number(x)]));
      expect(v.halt_attempted_poll).toBe(s.halt_attempted_poll);
      expect(v.halt_successful_poll).toBe(s.halt_successful_poll);
      expect(v.halt_poll_success_ns).toBe(s.halt_poll_success_ns);
      expect(v.halt_wait_ns_plus_poll_fail_ns).toBe(s.halt_wait_ns! + s.halt_poll_fail_ns!);
    }
  });

  it('a 4 KiB buffer overruns: the lost count kvmtax printed and stored is per_cpu/cpuN/stats\'', () => {
    const tiny = JSON.parse(kvmtax(['report', '-q', '-f', 'json', path.join(DIR, 'tiny.dat.xz')])) as Rep;
    const lost = Object.values(tiny.manifests)[0]!.recording.lost;
    expect(lost.overrun).toBe(12247);
    expect(fs.readFileSync(path.join(DIR, 'kvmtax-record-tiny.log'), 'utf8')).toContain(`lost events: ${lost.overrun + lost.dropped} (overrun ${lost.overrun}, dropped ${lost.dropped}`);
    // the pages say where events were lost
    expect(tiny.inputs[0]!.lost_markers).toBeGreaterThan(0);
    const plain = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-svmr-')), 'tiny.dat');
    const xz = spawnSync('xz', ['-dc', path.join(DIR, 'tiny.dat.xz')]);
    if (xz.status === 0) fs.writeFileSync(plain, xz.stdout);
    if (!HAVE_TRACE_CMD || xz.status !== 0) { console.warn('skipped: trace-cmd (or xz) is not installed: the stored CPU stats are not read back'); return; }
    const tc = spawnSync('trace-cmd', ['report', '--stat', plain], { encoding: 'utf8' });
    expect(tc.status, tc.stderr).toBe(0);
    const overruns = [...tc.stdout.matchAll(/^overrun: (\d+)$/gm)].reduce((s, m) => s + Number(m[1]), 0);
    expect(overruns).toBe(lost.overrun);
  });

  it('live --in-kernel counts equal the trace\'s handled exits per thread and reason, buckets within one', () => {
    const last = JSON.parse(fs.readFileSync(path.join(DIR, 'in-kernel.ndjson'), 'utf8').trim().split('\n').pop()!) as {
      type: string; bucket_unit: string; hits: number; dropped: number; rows: { pid: number; reason: string; count: number; buckets: Record<string, number> }[];
    };
    expect([last.type, last.bucket_unit, last.dropped]).toEqual(['in-kernel', 'ns', 0]);
    const r = JSON.parse(kvmtax(['report', '-q', '-f', 'json', path.join(DIR, 'in-kernel-trace.dat.xz')])) as Rep;
    const handled = new Map<string, number>();
    for (const vm of r.vms) for (const v of vm.vcpus) for (const x of v.reasons) if (x.exits_handled > 0) handled.set(`${v.tid}/${x.reason}`, x.exits_handled);
    expect(new Map(last.rows.map((x) => [`${x.pid}/${x.reason}`, x.count]))).toEqual(handled);
    expect(last.hits).toBe(3769);
    // each exit's handling time from the trace, in the kernel's log2 buckets
    const csv = kvmtax(['sql', '-f', 'csv', 'SELECT tid, reason, handling_ns FROM exits WHERE handling_ns IS NOT NULL', path.join(DIR, 'in-kernel-trace.dat.xz')]);
    const trace = new Map<string, Map<number, number>>();
    for (const line of csv.trim().split('\n').slice(1)) {
      const [tid, reason, ns] = line.split(',');
      const k = `${tid}/${reason}`;
      const m = trace.get(k) ?? new Map<number, number>();
      m.set(log2Bucket(Number(ns)), (m.get(log2Bucket(Number(ns))) ?? 0) + 1);
      trace.set(k, m);
    }
    // cumulative counts: the kernel's up to bucket i lie between the trace's up to i-1 and i+1, but for a
    // few exits (the two instances take their timestamps at slightly different moments)
    let beyond = 0;
    for (const row of last.rows) {
      const ik = new Map(Object.entries(row.buckets).map(([b, n]) => [Number(b.slice(2)), n] as const));
      const tr = trace.get(`${row.pid}/${row.reason}`)!;
      const cum = (m: Map<number, number>, i: number): number => [...m].reduce((s, [b, n]) => s + (b <= i ? n : 0), 0);
      let worst = 0;
      for (let i = 0; i <= 40; i++) worst = Math.max(worst, cum(tr, i - 1) - cum(ik, i), cum(ik, i) - cum(tr, i + 1));
      beyond += worst;
    }
    expect(beyond / last.hits).toBeLessThan(0.01);
  });
});
