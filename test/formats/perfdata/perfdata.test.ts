/**
 * perf.data reader against the real captures and their `perf script` twins (the same file rendered by perf 6.1),
 * and `perf kvm stat report` (perf's own pairing of kvm_exit with the next kvm_entry).
 * Needs ../shared (the project's captures): every test skips with a message when it is absent.
 */
import { describe, it, expect, afterAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { readPerfData, isPerfData, type PerfDataInfo } from '../../../src/formats/perfdata/reader.js';
import { CollectSink, type PushedEvent } from '../../support/collect-sink.js';
import { SHARED, HAVE_SHARED } from '../../support/paths.js';
import { perfVmexitTable } from '../../support/perf-kvm-stat.js';
import { materialize, readTextFile, findMaybeXz, removePerfTmpDir } from '../../support/perf-files.js';
import { EV_EXIT, EV_ENTRY, EV_LOST, CLOCK_NS } from '../../../assembly/constants.js';


afterAll(removePerfTmpDir);
const CAPTURES = path.join(SHARED, 'captures');
const SVM = ['svm-D-small', 'svm-A-baseline', 'svm-B-disable-exits', 'svm-F-haltpoll-2ms'];

// SVM exit codes (arch/x86/include/uapi/asm/svm.h) of the reasons these captures hold, by the kernel's name
const SVM_CODES: Record<string, number> = {
  interrupt: 0x060, nmi: 0x061, smi: 0x062, init: 0x063, vintr: 0x064, rdtsc: 0x06e, rdpmc: 0x06f, cpuid: 0x072,
  pause: 0x077, hlt: 0x078, invlpg: 0x079, io: 0x07b, msr: 0x07c, shutdown: 0x07f, npf: 0x400,
};

// ---- the text twin ----

/**
 * One `perf script` line (default fields for tracepoints: comm, tid, [cpu], time, event, payload), e.g.
 *             vmm   230 [000]    32.407892:   kvm:kvm_exit: vcpu 0 reason npf rip 0x10000 info1 0x...
 *             vmm   193 [001]     7.300575392: kvm:kvm_entry: vcpu 1, rip 0x10000
 *     kworker/1:1-vir    41 [001]  1561.238593493:     sched:sched_switch: prev_comm=kworker/1:1 ...
 *                 :-1    -1 [001]     8.326827:                 sched:sched_switch: prev_comm=vmm prev_pid=192 ...
 * The last shape is a sample whose pid/tid perf could not resolve (the thread was exiting): the reader takes the
 * thread from the tracepoint's common_pid instead, which for sched_switch is prev_pid.
 */
const LINE_RE = /^\s*(.*?)\s+(-?\d+)\s+\[(\d+)\]\s+(\d+)\.(\d+):\s+(\w+):(\w+):\s?(.*)$/;
const EXIT_RE = /^vcpu (\d+) reason (\S+) rip 0x([0-9a-f]+)/;
const ENTRY_RE = /^vcpu (\d+), rip 0x([0-9a-f]+)/;

interface ScriptLine {
  tid: number;
  cpu: number;
  ts: string; // as printed: "sec.frac"
  name: string; // without the system
  body: string;
}

function parseScript(text: string): ScriptLine[] {
  const out: ScriptLine[] = [];
  for (const l of text.split('\n')) {
    if (l.trim() === '') continue;
    const m = LINE_RE.exec(l);
    if (!m) throw new Error(`unparsed perf script line: ${l.slice(0, 120)}`);
    out.push({ tid: +m[2]!, cpu: +m[3]!, ts: `${m[4]}.${m[5]}`, name: m[7]!, body: m[8]! });
  }
  return out;
}

/** Render a ns timestamp the way perf script prints it with `digits` fraction digits (it truncates). */
function tsText(ts: bigint, digits: number): string {
  const sec = ts / 1000000000n;
  const frac = (ts % 1000000000n).toString().padStart(9, '0').slice(0, digits);
  return `${sec}.${frac}`;
}

function countNames(lines: ScriptLine[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const l of lines) c[l.name] = (c[l.name] ?? 0) + 1;
  return c;
}

async function load(file: string, skipGuestSamples = false): Promise<{ sink: CollectSink; info: PerfDataInfo }> {
  const sink = new CollectSink();
  const info = await readPerfData(await materialize(file), sink, { skipGuestSamples });
  return { sink, info };
}

/**
 * By default the reader keeps the guest-mode samples perf script hides (see PerfDataInfo.guestSamples): the
 * twin's lines must be the reader's events minus exactly that many, all of them sched_wakeup here.
 */
function compareKeepingGuest(sink: CollectSink, info: PerfDataInfo, lines: ScriptLine[]): void {
  const digits = lines[0]!.ts.split('.')[1]!.length;
  const evs = sink.events;
  const extra: PushedEvent[] = [];
  let j = 0;
  for (const e of evs) {
    const l = lines[j];
    if (l && l.ts === tsText(e.ts, digits) && l.cpu === e.cpu && l.name === sink.nameOf(e)) j++;
    else extra.push(e);
  }
  expect(j).toBe(lines.length);
  expect(extra.length).toBe(info.guestSamples);
  expect(new Set(extra.map(e => sink.nameOf(e)))).toEqual(new Set(extra.length ? ['sched_wakeup'] : []));
  expect(info.samples).toBe(lines.length + info.guestSamples);
}

/** Compare the whole event stream with the text twin, line by line; kvm_exit/kvm_entry also field by field. */
function compareWithScript(sink: CollectSink, info: PerfDataInfo, lines: ScriptLine[]): { exits: number; entries: number } {
  const digits = lines[0]!.ts.split('.')[1]!.length;
  expect(info.events).toEqual(countNames(lines));
  expect(info.samples).toBe(lines.length);
  const evs = sink.events.filter(e => e.kind !== EV_LOST);
  expect(evs.length).toBe(lines.length);
  let exits = 0;
  let entries = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const e = evs[i]!;
    let tid = l.tid;
    if (tid === -1 && l.name === 'sched_switch') tid = +/prev_pid=(\d+)/.exec(l.body)![1]!;
    const got = { ts: tsText(e.ts, digits), tid: e.tid, cpu: e.cpu, name: sink.nameOf(e) };
    const want = { ts: l.ts, tid, cpu: l.cpu, name: l.name };
    if (got.ts !== want.ts || got.tid !== want.tid || got.cpu !== want.cpu || got.name !== want.name) {
      expect({ line: i + 1, ...got }).toEqual({ line: i + 1, ...want });
    }
    if (l.name === 'kvm_exit') {
      exits++;
      const m = EXIT_RE.exec(l.body);
      if (!m) throw new Error(`kvm_exit body: ${l.body}`);
      const code = SVM_CODES[m[2]!];
      if (code === undefined) throw new Error(`add SVM code of reason ${m[2]}`);
      expect(e.kind).toBe(EV_EXIT);
      const r = sink.reasonOf(e);
      const gotX = { line: i + 1, vcpu: e.vcpu, isa: r.isa, code: r.code, rip: e.b.toString(16) };
      const wantX = { line: i + 1, vcpu: +m[1]!, isa: 2, code, rip: m[3]! };
      if (JSON.stringify(gotX) !== JSON.stringify(wantX)) expect(gotX).toEqual(wantX);
    } else if (l.name === 'kvm_entry') {
      entries++;
      const m = ENTRY_RE.exec(l.body);
      if (!m) throw new Error(`kvm_entry body: ${l.body}`);
      expect(e.kind).toBe(EV_ENTRY);
      const gotN = { line: i + 1, vcpu: e.vcpu, rip: e.b.toString(16) };
      const wantN = { line: i + 1, vcpu: +m[1]!, rip: m[2]! };
      if (JSON.stringify(gotN) !== JSON.stringify(wantN)) expect(gotN).toEqual(wantN);
    }
  }
  return { exits, entries };
}

const SVM_NAMES = new Map(Object.entries(SVM_CODES).map(([n, c]) => [c, n]));

/**
 * perf kvm stat's pairing, computed from the decoded stream: an exit counts when the same thread's next
 * kvm_entry follows it (a second exit replaces a pending one); a thread's vCPU is the one of its first kvm_entry.
 */
function pairLikePerfKvmStat(sink: CollectSink): { all: Map<string, number[]>; byVcpu: Map<number, Map<string, number>> } {
  const pending = new Map<number, PushedEvent>();
  const vcpuOf = new Map<number, number>();
  const all = new Map<string, number[]>();
  const byVcpu = new Map<number, Map<string, number>>();
  for (const e of sink.events) {
    if (e.kind === EV_EXIT) pending.set(e.tid, e);
    else if (e.kind === EV_ENTRY) {
      if (!vcpuOf.has(e.tid)) vcpuOf.set(e.tid, e.vcpu);
      const x = pending.get(e.tid);
      if (!x) continue;
      pending.delete(e.tid);
      const name = SVM_NAMES.get(sink.reasonOf(x).code) ?? `code ${sink.reasonOf(x).code}`;
      const durs = all.get(name) ?? [];
      durs.push(Number(e.ts - x.ts));
      all.set(name, durs);
      const v = vcpuOf.get(e.tid)!;
      const m = byVcpu.get(v) ?? new Map<string, number>();
      m.set(name, (m.get(name) ?? 0) + 1);
      byVcpu.set(v, m);
    }
  }
  return { all, byVcpu };
}

describe.skipIf(!HAVE_SHARED)('perf.data of the real captures vs perf script', () => {
  for (const cap of SVM) {
    const dir = path.join(CAPTURES, cap);
    it(`${cap}/perf.data: every event as perf script shows it`, async () => {
      const { sink, info } = await load(findMaybeXz(dir, 'perf.data')!, true);
      const lines = parseScript(await readTextFile(findMaybeXz(dir, 'perf-script.txt')!));
      expect(sink.files).toEqual([{ name: expect.stringContaining('perf.data'), clock: CLOCK_NS }]);
      const { exits, entries } = compareWithScript(sink, info, lines);
      expect(exits).toBeGreaterThan(700);
      expect(entries).toBe(exits);
      expect(info.pipeMode).toBe(false);
      expect(info.lost).toBe(0);
      expect(info.hostname).toBe('(none)');
      expect(info.osRelease).toBe('6.1.0-56-amd64');
      expect(info.nrCpus).toBe(2);
      expect(info.cmdline).toMatch(/^\/usr\/bin\/perf record -a -m 4096 -e kvm:\* -e sched:sched_switch -e sched:sched_wakeup -o \/out\/.*perf\.data$/);
      expect(sink.skips).toEqual([]);
      // the VM is the vCPU threads' process: vmm-output.txt "vmm pid N" / "vcpu tids: A B"
      const out = fs.readFileSync(path.join(dir, 'vmm-output.txt'), 'utf8');
      const vmPid = +/vmm pid (\d+)/.exec(out)![1]!;
      const tids = /vcpu tids: (\d+) (\d+)/.exec(out)!.slice(1).map(Number);
      const kvm = sink.events.filter(e => e.kind === EV_EXIT || e.kind === EV_ENTRY);
      expect(new Set(kvm.map(e => e.tid))).toEqual(new Set(tids));
      expect(new Set(kvm.map(e => e.tgid))).toEqual(new Set([vmPid]));
      for (const t of tids) expect(sink.threads).toContainEqual({ tid: t, tgid: vmPid, comm: 'vmm' });
      // by default the guest-mode samples perf script hides are kept
      const dflt = await load(findMaybeXz(dir, 'perf.data')!);
      expect(dflt.info.guestSamples).toBe(info.guestSamples);
      compareKeepingGuest(dflt.sink, dflt.info, lines);
      if (cap === 'svm-B-disable-exits') expect(info.guestSamples).toBe(12);
    });

    it(`${cap}/perf-kvm.data: perf script --ns twin, and perf kvm stat report's counts`, async () => {
      const { sink, info } = await load(findMaybeXz(dir, 'perf-kvm.data')!);
      const lines = parseScript(await readTextFile(findMaybeXz(dir, 'perf-kvm-script.txt')!));
      expect(lines[0]!.ts.split('.')[1]!.length).toBe(9);
      compareWithScript(sink, info, lines);
      expect(info.cmdline).toMatch(/^\/usr\/bin\/perf kvm stat record -a -o /);
      expect(Object.keys(info.events).sort()).toEqual(['kvm_entry', 'kvm_exit', 'kvm_msr', 'kvm_pio']);

      const report = fs.readFileSync(path.join(dir, 'perf-kvm-stat-report.txt'), 'utf8');
      const { all, byVcpu } = pairLikePerfKvmStat(sink);
      const t = perfVmexitTable(report, 0);
      const got: Record<string, number> = {};
      for (const [n, d] of all) got[n] = d.length;
      const want: Record<string, number> = {};
      for (const r of t.rows) want[r.reason] = r.samples;
      expect(got).toEqual(want);
      expect(Object.values(got).reduce((a, b) => a + b, 0)).toBe(t.totalSamples);
      // min / max / mean handling time per reason, as perf prints them (µs with 2 decimals)
      for (const r of t.rows) {
        const d = all.get(r.reason)!;
        // (perf's printf rounds the double; allow the last digit)
        expect(Math.abs(Math.min(...d) / 1000 - r.minUs), `${r.reason} min`).toBeLessThanOrEqual(0.0051);
        expect(Math.abs(Math.max(...d) / 1000 - r.maxUs), `${r.reason} max`).toBeLessThanOrEqual(0.0051);
        expect(Math.abs(d.reduce((a, b) => a + b, 0) / d.length / 1000 - r.avgUs), `${r.reason} mean`).toBeLessThanOrEqual(0.0051);
      }
      // the --vcpu=0 and --vcpu=1 tables
      for (const v of [0, 1]) {
        const tv = perfVmexitTable(report, 1 + v);
        const wantV: Record<string, number> = {};
        for (const r of tv.rows) wantV[r.reason] = r.samples;
        expect(Object.fromEntries(byVcpu.get(v) ?? [])).toEqual(wantV);
      }
    });
  }

  it('pvm-02-baseline-perf/perf.data (a kernel without kvm_exit): every event as perf script shows it', async () => {
    const dir = path.join(CAPTURES, 'pvm-02-baseline-perf');
    const { sink, info } = await load(path.join(dir, 'perf.data.xz'));
    const lines = parseScript(await readTextFile(path.join(dir, 'perf-script.txt.xz')));
    compareWithScript(sink, info, lines);
    expect(info.events['kvm_exit']).toBeUndefined();
    expect(info.events['kvm_emulate_insn']).toBe(78513);
    expect(info.osRelease).toBe('6.18.44-fc-v669');
  });

  it('pvm-03-baseline-perf-kvm-stat/perf-kvm.data: only kvm_msr and kvm_pio, so perf kvm stat pairs nothing', async () => {
    const dir = path.join(CAPTURES, 'pvm-03-baseline-perf-kvm-stat');
    const { sink, info } = await load(path.join(dir, 'perf-kvm.data'));
    // "### perf script -i perf-kvm.data (event counts)" at the end of perf-kvm-stat-report.txt
    const report = fs.readFileSync(path.join(dir, 'perf-kvm-stat-report.txt'), 'utf8');
    const want: Record<string, number> = {};
    for (const m of report.matchAll(/^\s+(\d+) kvm:(\w+):$/gm)) want[m[2]!] = +m[1]!;
    expect(want).toEqual({ kvm_msr: 5888, kvm_pio: 5018 });
    expect(info.events).toEqual(want);
    expect(info.samples).toBe(5888 + 5018);
    expect(pairLikePerfKvmStat(sink).all.size).toBe(0);
    expect(perfVmexitTable(report, 0).totalSamples).toBe(0);
    // kvm_pio fields: the phase markers (port 0x501 begin / 0x502 end, ids 1..8) are there
    const markers = sink.events.filter(e => sink.nameOf(e) === 'kvm_pio' && (e.a === 0x501n || e.a === 0x502n));
    expect(markers.length).toBeGreaterThanOrEqual(8);
  });

  it('isPerfData recognises the captures and nothing else', async () => {
    const head = (p: string): Uint8Array => {
      const fd = fs.openSync(p, 'r');
      const b = new Uint8Array(16);
      fs.readSync(fd, b, 0, 16, 0);
      fs.closeSync(fd);
      return b;
    };
    expect(isPerfData(head(path.join(CAPTURES, 'svm-D-small', 'perf.data')))).toBe(true);
    expect(isPerfData(head(path.join(CAPTURES, 'svm-D-small', 'trace.dat')))).toBe(false);
    expect(isPerfData(head(path.join(CAPTURES, 'svm-D-small', 'perf-script.txt')))).toBe(false);
    expect(isPerfData(new TextEncoder().encode('PERFILE'))).toBe(false);
    expect(isPerfData(new TextEncoder().encode('2ELIFREP'))).toBe(true); // big-endian file
  });
});
