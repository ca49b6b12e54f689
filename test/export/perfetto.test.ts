/**
 * `kvmtax export --perfetto`: the written .pftrace decoded back with our own perfetto-track.proto, its
 * structure checked as Perfetto documents it, and its slices checked against the report and the rows.
 *
 * trace_processor / ui.perfetto.dev cannot run here (no network): validate() checks what they rely on -
 * one packet sequence whose first packet clears the incremental state, interned names defined before use,
 * a descriptor before each track's first event, per track non-decreasing timestamps, every SLICE_END
 * closing an open SLICE_BEGIN of its track (so slices nest), counters only on counter tracks.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { openSource } from '../../src/formats/source.js';
import { decodeRows, type Row } from '../../src/analysis/rows.js';
import type { Report } from '../../src/analysis/types.js';
import {
  exportPerfetto, perfettoTrackRoot, COUNTER, INSTANT, SLICE_BEGIN, SLICE_END, SEQUENCE_ID,
  PID_STRIDE, QUALITY_TRACK_UUID, UNKNOWN_PID, type PerfettoStats,
} from '../../src/export/perfetto.js';
import { parseWindow } from '../../src/cli/window.js';
import { HAVE_SHARED, ROOT, SHARED, TRACES, tmpTrace } from '../support/paths.js';

// ---------------------------------------------------------------------------------------------------------
// decoding and validation

interface Desc {
  uuid: number; parent_uuid?: number; name?: string;
  process?: { pid?: number; process_name?: string };
  thread?: { pid?: number; tid?: number; thread_name?: string };
  counter?: { unit?: number };
}
interface Slice { track: number; name: string; ts: number; dur: number; depth: number; parent?: Slice; anns: Record<string, string | number> }
interface Instant { track: number; name: string; ts: number; depth: number; parent?: Slice; anns: Record<string, string | number> }
interface Decoded {
  packets: number;
  tracks: Map<number, Desc>;
  slices: Slice[];
  instants: Instant[];
  counters: Map<number, Array<[number, number]>>;
}

function decode(file: string): Decoded {
  const root = perfettoTrackRoot();
  const Trace = root.lookupType('perfetto.protos.Trace');
  const trace = Trace.toObject(Trace.decode(fs.readFileSync(file)), { longs: Number, enums: Number, defaults: false }) as {
    packet?: Array<Record<string, any>>;
  };
  return validate(trace.packet ?? []);
}

function must(ok: boolean, what: string): void {
  if (!ok) throw new Error(`invalid Perfetto trace: ${what}`);
}

/** Walk the packets as trace processor would, failing on anything Perfetto documents as invalid. */
function validate(packets: Array<Record<string, any>>): Decoded {
  const names = new Map<number, string>();
  const annNames = new Map<number, string>();
  const tracks = new Map<number, Desc>();
  const open = new Map<number, Slice[]>();
  const lastTs = new Map<number, number>();
  const slices: Slice[] = [];
  const instants: Instant[] = [];
  const counters = new Map<number, Array<[number, number]>>();
  must(packets.length > 0, 'no packets');
  must((packets[0]!.sequence_flags & 1) === 1, 'the first packet clears the incremental state');
  packets.forEach((p, n) => {
    const at = (what: string) => `packet ${n}: ${what}`;
    must(p.trusted_packet_sequence_id === SEQUENCE_ID, at('not on the sequence'));
    for (const e of p.interned_data?.event_names ?? []) {
      must(!names.has(e.iid) && e.iid > 0, at(`event name iid ${e.iid} interned twice`));
      names.set(e.iid, e.name);
    }
    for (const e of p.interned_data?.debug_annotation_names ?? []) {
      must(!annNames.has(e.iid) && e.iid > 0, at(`annotation name iid ${e.iid} interned twice`));
      annNames.set(e.iid, e.name);
    }
    if (p.track_descriptor) {
      const d = p.track_descriptor as Desc;
      must(d.uuid > 0, at('track uuid 0'));
      const old = tracks.get(d.uuid);
      if (old) {
        // a descriptor written again (a name that became known) describes the same track
        must(d.parent_uuid === old.parent_uuid && d.thread?.tid === old.thread?.tid && d.process?.pid === old.process?.pid,
          at(`track ${d.uuid} described again as another track`));
      }
      if (d.parent_uuid !== undefined) must(tracks.has(d.parent_uuid), at('child track before its parent'));
      // trace processor keeps the first process_name of a process: it must be given once, the right one
      if (d.process?.process_name) must(!old?.process?.process_name, at(`process ${d.process.pid} named twice`));
      tracks.set(d.uuid, d);
      return;
    }
    const ev = p.track_event;
    must(ev !== undefined, at('neither descriptor nor event'));
    const ts = p.timestamp as number;
    must(Number.isSafeInteger(ts) && ts >= 0, at(`timestamp ${ts}`));
    const track = tracks.get(ev.track_uuid);
    must(track !== undefined, at(`event on track ${ev.track_uuid} before its descriptor`));
    must(ts >= (lastTs.get(ev.track_uuid) ?? 0), at(`time goes back on track ${ev.track_uuid}`));
    lastTs.set(ev.track_uuid, ts);
    if (ev.type === COUNTER) {
      must(track!.counter !== undefined, at('counter value on a track that is no counter'));
      let c = counters.get(ev.track_uuid);
      if (!c) counters.set(ev.track_uuid, (c = []));
      c.push([ts, ev.double_counter_value ?? ev.counter_value ?? 0]);
      return;
    }
    must(track!.counter === undefined, at('slice on a counter track'));
    if (ev.name_iid !== undefined || ev.debug_annotations) {
      must((p.sequence_flags & 2) === 2, at('uses interned data without SEQ_NEEDS_INCREMENTAL_STATE'));
    }
    if (ev.name_iid !== undefined) must(names.has(ev.name_iid), at(`name iid ${ev.name_iid} not interned before`));
    const anns: Record<string, string | number> = {};
    for (const a of ev.debug_annotations ?? []) {
      must(annNames.has(a.name_iid), at(`annotation name iid ${a.name_iid} not interned before`));
      anns[annNames.get(a.name_iid)!] = a.string_value ?? a.int_value ?? a.double_value;
    }
    let stack = open.get(ev.track_uuid);
    if (!stack) open.set(ev.track_uuid, (stack = []));
    const name = names.get(ev.name_iid) ?? '';
    if (ev.type === SLICE_BEGIN) {
      must(name !== '', at('slice without a name'));
      stack.push({ track: ev.track_uuid, name, ts, dur: -1, depth: stack.length, parent: stack[stack.length - 1], anns });
    } else if (ev.type === SLICE_END) {
      const s = stack.pop();
      must(s !== undefined, at(`SLICE_END without an open slice on track ${ev.track_uuid}`));
      s!.dur = ts - s!.ts;
      slices.push(s!);
    } else {
      must(ev.type === INSTANT, at(`event type ${ev.type}`));
      must(name !== '', at('instant without a name'));
      instants.push({ track: ev.track_uuid, name, ts, depth: stack.length, parent: stack[stack.length - 1], anns });
    }
  });
  for (const [uuid, st] of open) must(st.length === 0, `${st.length} slices left open on track ${uuid}`);
  return { packets: packets.length, tracks, slices, instants, counters };
}

// ---------------------------------------------------------------------------------------------------------

async function readText(file: string): Promise<string> {
  const src = await openSource(file);
  const parts: Buffer[] = [];
  const buf = Buffer.alloc(1 << 20);
  for (let n; (n = await src.read(buf, 0, buf.length)) > 0;) parts.push(Buffer.from(buf.subarray(0, n)));
  src.close();
  return Buffer.concat(parts).toString('latin1');
}

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-pftrace-'));
const BUCKET_NS = 10_000_000;

interface Run { report: Report; stats: PerfettoStats; dec: Decoded; rows: Row[]; out: string }
async function run(file: string, name: string, opts: Parameters<typeof exportPerfetto>[2] = {}): Promise<Run> {
  const out = path.join(tmpDir, name);
  const { report, stats } = await exportPerfetto([file], out, { bucketNs: BUCKET_NS, ...opts });
  const rows: Row[] = [];
  await analyze([file], { rows: (b, core) => { rows.push(...decodeRows(b, core)); } });
  return { report, stats, dec: decode(out), rows, out };
}

const threadTrack = (d: Decoded, tid: number) => [...d.tracks.values()].find((t) => t.thread?.tid === tid);
const onTrack = <T extends { track: number }>(xs: T[], uuid: number) => xs.filter((x) => x.track === uuid);
const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);

/** Everything the report says per vCPU, found again in the trace. */
function checkAgainstReport(r: Run, place: 'line' | 'record' = 'line'): void {
  const { report, dec, rows } = r;
  let exits = 0;
  for (const vm of report.vms) {
    // a capture that does not say which process a thread is of: one process "unknown VM"
    const pid = vm.pid ?? UNKNOWN_PID;
    const proc = [...dec.tracks.values()].find((t) => t.process?.pid === pid);
    expect(proc, `process track of ${vm.name}`).toBeDefined();
    expect(proc!.process!.process_name).toBe(vm.pid === null ? 'unknown VM' : vm.name.replace(/ \(pid \d+\)$/, ''));
    if (vm.pid !== null) expect(proc!.process!.process_name).toBe('vmm');
    for (const c of vm.vcpus) {
      const th = threadTrack(dec, c.tid)!;
      expect(th, `thread track of tid ${c.tid}`).toBeDefined();
      expect(th.parent_uuid).toBe(proc!.uuid);
      expect(th.thread!.pid).toBe(pid);
      expect(th.thread!.thread_name).toBe(c.comm ? `vcpu ${c.vcpu} (${c.comm})` : `vcpu ${c.vcpu}`);
      const mine = onTrack(dec.slices, th.uuid);
      // per reason: the number of exit slices and the sum of their durations are the report's
      for (const x of c.reasons!) {
        const s = mine.filter((m) => m.name === `exit: ${x.reason}`);
        expect(s.length, `tid ${c.tid} ${x.reason}`).toBe(x.exits_handled);
        expect(sum(s.map((m) => m.dur)), `tid ${c.tid} ${x.reason}`).toBe(x.total_ns);
        for (const m of s) {
          expect(m.depth).toBe(0);
          expect(m.anns.reason).toBe(x.reason);
          expect(m.anns.vcpu).toBe(c.vcpu);
          expect(m.anns[place]).toBeGreaterThan(0);
        }
      }
      const ex = mine.filter((m) => m.name.startsWith('exit: '));
      expect(ex.length).toBe(c.exits_handled);
      expect(sum(ex.map((m) => m.dur))).toBe(c.host_ns);
      exits += ex.length;
      // guest slices: exactly the guest time before each handled exit, i.e. the vCPU's guest time but the
      // last stretch (which ends in an exit without its entry)
      const guest = sum(mine.filter((m) => m.name === 'guest').map((m) => m.dur));
      const rowsGuest = sum(rows.filter((x) => x.kind === 'exit' && x.tid === c.tid).map((x) => x.guest_before ?? 0));
      expect(guest).toBe(rowsGuest);
      expect(guest).toBeLessThanOrEqual(c.guest_ns);
      expect(guest).toBeGreaterThan(c.guest_ns * 0.9);
      // guest and exit slices alternate without overlap: the top level of the track is a clean timeline
      const top = mine.filter((m) => m.depth === 0).sort((a, b) => a.ts - b.ts);
      for (let i = 1; i < top.length; i++) expect(top[i]!.ts).toBeGreaterThanOrEqual(top[i - 1]!.ts + top[i - 1]!.dur);
      // exits/s counter: rate x bucket = the handled exits
      const rate = [...dec.tracks.values()].find((t) => t.parent_uuid === th.uuid && t.name === `vcpu ${c.vcpu} exits/s`)!;
      expect(rate).toBeDefined();
      const vals = dec.counters.get(rate.uuid)!;
      expect(Math.round(sum(vals.map(([, v]) => (v * BUCKET_NS) / 1e9)))).toBe(c.exits_handled);
      for (const [ts] of vals) expect(ts % BUCKET_NS).toBe(0);
    }
  }
  expect(exits).toBe(report.totals.exits_handled);
  // halts: every kvm_vcpu_wakeup, nested in the HLT exit it happened in
  const halts = dec.slices.filter((s) => s.name.startsWith('halt: '));
  expect(halts.length).toBe(report.quality.events_by_name.kvm_vcpu_wakeup ?? 0);
  for (const h of halts) {
    expect(h.depth).toBe(1);
    expect(h.parent!.name).toBe('exit: hlt');
    expect(h.ts).toBeGreaterThanOrEqual(h.parent!.ts);
    expect(h.ts + h.dur).toBeLessThanOrEqual(h.parent!.ts + h.parent!.dur);
    expect(h.anns.halt_ns).toBe(h.dur);
  }
  // lapic: every kvm_wait_lapic_expire an instant with its delta
  const lapic = dec.instants.filter((i) => i.name === 'kvm_wait_lapic_expire');
  expect(lapic.length).toBe(report.quality.events_by_name.kvm_wait_lapic_expire ?? 0);
  const lapicRows = rows.filter((x) => x.kind === 'lapic');
  expect(lapic.map((i) => i.anns.delta).sort()).toEqual(lapicRows.map((x) => x.duration).sort());
  expect(r.stats.exitSlices).toBe(report.totals.exits_handled);
  expect(r.stats.bytes).toBe(fs.statSync(r.out).size);
}

describe('export --perfetto', () => {
  let D: Run;
  let A: Run;
  beforeAll(async () => {
    D = await run(path.join(TRACES, 'svm-D-small/trace.txt.xz'), 'D.pftrace');
    A = await run(path.join(TRACES, 'svm-A-baseline/trace.txt.xz'), 'A.pftrace');
  });

  it('svm-D-small: exit slices per vCPU and reason equal the report; halts nested; lapic instants; counters', async () => {
    checkAgainstReport(D);
    // `line` points at the event in the capture
    const lines = (await readText(path.join(TRACES, 'svm-D-small/trace.txt.xz'))).split('\n');
    for (const s of D.dec.slices.filter((x) => x.name.startsWith('exit: '))) {
      const line = lines[(s.anns.line as number) - 1]!;
      expect(line).toMatch(new RegExp(`kvm_exit: vcpu ${s.anns.vcpu} reason ${s.anns.reason} `));
      // host CPU, rip and the info words (hex; left out when 0) are the line's
      const m = /\[(\d+)\].* rip (0x[0-9a-f]+) info1 (0x[0-9a-f]+) info2 (0x[0-9a-f]+) /.exec(line)!;
      const hex = (x: string) => (BigInt(x) ? `0x${BigInt(x).toString(16)}` : undefined);
      expect([s.anns.host_cpu, s.anns.rip, s.anns.info1, s.anns.info2]).toEqual([Number(m[1]), m[2], hex(m[3]!), hex(m[4]!)]);
    }
    for (const i of D.dec.instants.filter((x) => x.name === 'kvm_wait_lapic_expire')) {
      expect(lines[(i.anns.line as number) - 1]).toMatch(new RegExp(`kvm_wait_lapic_expire: vcpu \\d+: delta ${Math.abs(i.anns.delta as number)} `));
    }
    for (const h of D.dec.slices.filter((x) => x.name.startsWith('halt: '))) {
      expect(lines[(h.anns.line as number) - 1]).toMatch(/kvm_vcpu_wakeup: /);
    }
    expect(D.report.totals.exits_handled).toBe(768);
    const msr = D.dec.slices.filter((s) => s.anns.key === 'msr 0x6e0 w');
    expect(msr.length).toBe(65);
    expect(msr.every((s) => s.name === 'exit: msr')).toBe(true);
    expect(D.stats.processes).toBe(1);
    expect(D.stats.threads).toBe(2);
  });

  it('svm-A-baseline: the same, with halt-poll window counters', () => {
    checkAgainstReport(A);
    const win = [...A.dec.tracks.values()].filter((t) => t.name?.endsWith('halt-poll window'));
    expect(win.length).toBeGreaterThan(0);
    for (const w of win) {
      expect(w.counter!.unit).toBe(1); // UNIT_TIME_NS
      const vals = A.dec.counters.get(w.uuid)!;
      expect(vals.length).toBeGreaterThan(0);
      // the values are the windows the halts started with, written when they change
      for (let i = 1; i < vals.length; i++) expect(vals[i]![1]).not.toBe(vals[i - 1]![1]);
    }
    const haltRows = A.rows.filter((x) => x.kind === 'halt' && x.guest_before !== null);
    const windows = new Set(haltRows.map((x) => x.guest_before));
    for (const w of win) for (const [, v] of A.dec.counters.get(w.uuid)!) expect(windows.has(v)).toBe(true);
  });

  it('output size is reasonable (bytes per exported exit)', () => {
    for (const r of [D, A]) {
      const perExit = r.stats.bytes / r.stats.exitSlices;
      // each exit slice carries reason, vcpu, host_cpu, rip, the non-zero info words and its line (~140 bytes)
      expect(perExit).toBeLessThan(160);
    }
    expect(A.stats.bytes).toBeLessThan(2_700_000);
  });

  it('--window exports only the exits (and their halts) whose kvm_exit is in the range', async () => {
    const first = A.report.quality.first_ts!;
    const last = A.report.quality.last_ts!;
    const start = first + Math.round((last - first) * 0.4);
    const end = first + Math.round((last - first) * 0.6);
    const W = await run(path.join(TRACES, 'svm-A-baseline/trace.txt.xz'), 'A-window.pftrace', { window: { start, end } });
    const exits = W.dec.slices.filter((s) => s.name.startsWith('exit: '));
    const want = A.rows.filter((x) => x.kind === 'exit' && x.ts >= start && x.ts < end);
    expect(exits.length).toBe(want.length);
    expect(exits.length).toBeGreaterThan(0);
    expect(exits.length).toBeLessThan(A.stats.exitSlices);
    for (const s of exits) expect(s.ts >= start && s.ts < end).toBe(true);
    expect(sum(exits.map((s) => s.dur))).toBe(sum(want.map((x) => x.duration)));
    for (const i of W.dec.instants) expect(i.ts).toBeGreaterThanOrEqual(start);
    for (const h of W.dec.slices.filter((s) => s.name.startsWith('halt: '))) expect(h.parent!.ts).toBeGreaterThanOrEqual(start);
    for (const vals of W.dec.counters.values()) for (const [ts] of vals) expect(ts).toBeGreaterThanOrEqual(Math.floor(start / BUCKET_NS) * BUCKET_NS);
    expect(W.stats.bytes).toBeLessThan(A.stats.bytes * 0.4);
  });

  it('keeps the VMs of two inputs apart (pids of the second input shifted)', async () => {
    const out = path.join(tmpDir, 'two.pftrace');
    const files = [path.join(TRACES, 'svm-D-small/trace.txt.xz'), path.join(TRACES, 'svm-A-baseline/trace.txt.xz')];
    const { report, stats } = await exportPerfetto(files, out, { bucketNs: BUCKET_NS });
    const dec = decode(out);
    const procs = [...dec.tracks.values()].filter((t) => t.process);
    expect(procs.map((p) => p.process!.pid).sort((a, b) => a! - b!)).toEqual([188, 187 + PID_STRIDE].sort((a, b) => a - b));
    expect(procs.every((p) => /\[.*trace\.txt\.xz\]$/.test(p.process!.process_name!))).toBe(true);
    expect(stats.exitSlices).toBe(report.totals.exits_handled);
    expect(dec.slices.filter((s) => s.name.startsWith('exit: ')).length).toBe(report.totals.exits_handled);
  });

  it('raw TSC captures: refused without --tsc-khz, converted with it', async () => {
    const X = (ts: string, ev: string) => ` qemu-system-x86-533825 [005]${ts}: ${ev}\n`;
    const text = 'cpus=20\n' +
      X('303280081900000', 'kvm_entry:            vcpu 0 rip 0x1') +
      X('303280081903000', 'kvm_exit:             reason HLT rip 0x1 info 0 0') +
      X('303280081909000', 'kvm_entry:            vcpu 0 rip 0x1');
    const f = tmpTrace(text);
    const out = path.join(tmpDir, 'raw.pftrace');
    await expect(exportPerfetto([f], out)).rejects.toThrow(/raw TSC cycles.*--tsc-khz/);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(tmpDir).filter((n) => n.includes('partial'))).toEqual([]);
    await exportPerfetto([f], out, { tscKhz: 3_000_000 });
    const dec = decode(out);
    const ex = dec.slices.filter((s) => s.name.startsWith('exit: '));
    expect(ex.map((s) => [s.ts, s.dur])).toEqual([[Math.round(303280081903000 / 3), 2000]]);
    const guest = dec.slices.filter((s) => s.name === 'guest');
    expect(guest.map((s) => s.dur)).toEqual([1000]);
  });

  it('the same bytes whatever the row batches and input chunks', async () => {
    const file = path.join(TRACES, 'svm-D-small/trace.txt.xz');
    const out = path.join(tmpDir, 'D-small-batches.pftrace');
    await exportPerfetto([file], out, { bucketNs: BUCKET_NS, rowCapacity: 7, chunkBytes: 100 });
    expect(Buffer.compare(fs.readFileSync(out), fs.readFileSync(D.out))).toBe(0);
  });

  it('halts without a handled exit become instants; a thread holds at most 64 of them', async () => {
    const L = (ts: string, ev: string, fl = '.....') => `             vmm-192     (    188) [000] ${fl}     ${ts}: ${ev}\n`;
    let text = '# tracer: nop\n#\n' + L('7.000000', 'kvm_entry: vcpu 0, rip 0x1', 'd..1.') +
      L('7.000100', 'kvm_exit: vcpu 0 reason hlt rip 0x10212 info1 0x0 info2 0x0 intr_info 0x00000000 error_code 0x00000000');
    for (let i = 0; i < 70; i++) text += L(`7.${String(1000 + i * 10).padStart(6, '0')}`, 'kvm_vcpu_wakeup: wait time 5000 ns, polling valid');
    const out = path.join(tmpDir, 'halts.pftrace');
    const { stats } = await exportPerfetto([tmpTrace(text)], out);
    const dec = decode(out);
    const inst = dec.instants.filter((i) => i.name === 'halt: wait');
    expect(inst.length).toBe(70);
    expect(inst.map((i) => i.ts)).toEqual([...Array(70).keys()].map((i) => 7_001_000_000 + i * 10_000));
    expect(inst.every((i) => i.anns.halt_ns === 5000 && i.depth === 0)).toBe(true);
    expect(stats.exitSlices).toBe(0);
    const th = threadTrack(dec, 192)!;
    expect(th.thread!.thread_name).toBe('vcpu 0 (vmm)');
  });

  it.skipIf(!HAVE_SHARED)('binary input (trace.dat): the same exit slices as its text twin, placed by record number', async () => {
    const B = await run(path.join(SHARED, 'captures/svm-D-small/trace.dat'), 'D.dat.pftrace');
    checkAgainstReport(B, 'record');
    const key = (d: Decoded) => d.slices.filter((x) => x.name.startsWith('exit: ')).map((x) => `${x.name} ${Math.round(x.ts / 1000)}`).sort();
    expect(key(B.dec)).toEqual(key(D.dec));
  });

  it('lost events: one instant per input on the data-quality track, at its start (their times are not known)', async () => {
    const L = (ts: string, ev: string) => `             vmm-7     (    100) [001] d..1.  ${ts}: ${ev}\n`;
    const text = '# tracer: nop\n#\n' +
      L('3.000000', 'kvm_entry: vcpu 0, rip 0x1') +
      L('3.000010', 'kvm_exit: vcpu 0 reason msr rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0') +
      'CPU:1 [LOST 42 EVENTS]\n' +
      L('3.000900', 'kvm_entry: vcpu 0, rip 0x1') +
      L('3.001000', 'kvm_exit: vcpu 0 reason msr rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0') +
      L('3.001004', 'kvm_entry: vcpu 0, rip 0x1');
    const out = path.join(tmpDir, 'lost.pftrace');
    const { stats } = await exportPerfetto([tmpTrace(text)], out);
    expect(stats.lostUnplaced).toBe(1);
    const dec = decode(out);
    const lost = dec.instants.filter((i) => i.track === QUALITY_TRACK_UUID);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ name: 'lost events: 1 marker (times unknown)', ts: 3_000_000_000, anns: { markers: 1, events: 42 } });
    expect(dec.tracks.get(QUALITY_TRACK_UUID)!.name).toBe('kvmtax: data quality');
    // the exit across the gap is not paired: one exit slice, after it
    expect(dec.slices.filter((x) => x.name === 'exit: msr').map((x) => [x.ts, x.dur])).toEqual([[3_001_000_000, 4000]]);
  });

  it('the validator rejects what Perfetto would not take', () => {
    const seq = { trusted_packet_sequence_id: SEQUENCE_ID };
    const head = [{ ...seq, sequence_flags: 1, track_descriptor: { uuid: 5, name: 't' } }];
    const ev = (ts: number, type: number, extra: object = {}) => ({ ...seq, timestamp: ts, track_event: { type, track_uuid: 5, ...extra } });
    const named = { sequence_flags: 2, interned_data: { event_names: [{ iid: 1, name: 'x' }] } };
    expect(() => validate([...head, ev(10, SLICE_END)])).toThrow(/SLICE_END without an open slice/);
    expect(() => validate([...head, { ...ev(10, SLICE_BEGIN, { name_iid: 1 }), ...named }])).toThrow(/left open/);
    expect(() => validate([...head, { ...ev(10, SLICE_BEGIN, { name_iid: 1 }), ...named }, ev(5, SLICE_END)])).toThrow(/time goes back/);
    expect(() => validate([...head, ev(10, SLICE_BEGIN, { name_iid: 1 })])).toThrow(/SEQ_NEEDS_INCREMENTAL_STATE/);
    expect(() => validate([{ ...head[0]!, sequence_flags: 0 }])).toThrow(/clears the incremental state/);
    expect(() => validate([...head, { ...ev(10, INSTANT, { track_uuid: 6, name_iid: 1 }), ...named }])).toThrow(/before its descriptor/);
    expect(() => validate([...head, { ...ev(10, SLICE_BEGIN, { name_iid: 1 }), ...named }, ev(20, SLICE_END)])).not.toThrow();
  });

  it('our own reader takes the exported trace (a Perfetto trace without ftrace data: no events)', async () => {
    const r = await analyze([D.out]);
    expect(r.inputs[0]!.format).toBe('perfetto');
    expect(r.quality.events_read).toBe(0);
  });

  it('parses --window: seconds as the trace prints them, or with a unit; open ends', () => {
    expect(parseWindow('7.3,7.5')).toEqual({ start: 7_300_000_000, end: 7_500_000_000 });
    expect(parseWindow('7.345521,')).toEqual({ start: 7_345_521_000, end: Infinity });
    expect(parseWindow(',7500ms')).toEqual({ start: -Infinity, end: 7_500_000_000 });
    expect(parseWindow('7345521000ns,7345522000ns')).toEqual({ start: 7_345_521_000, end: 7_345_522_000 });
    expect(parseWindow('10us,2s')).toEqual({ start: 10_000, end: 2_000_000_000 });
    expect(() => parseWindow('7.5')).toThrow(/START,END/);
    expect(() => parseWindow('8,7')).toThrow(/before END/);
    expect(() => parseWindow('a,b')).toThrow(/seconds/);
  });
});

describe('kvmtax export (command line)', () => {
  const BIN = path.join(ROOT, 'bin', 'kvmtax.js');
  const kvmtax = (args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  it('writes the trace (exit 0) and says what it wrote', () => {
    const out = path.join(tmpDir, 'cli.pftrace');
    const r = kvmtax(['export', 'traces/svm-D-small/trace.txt.xz', '--perfetto', out, '--window', '7.3,7.4']);
    expect(r.err).toMatch(/^kvmtax: wrote .*cli\.pftrace \(.*\): 1 VM, 2 vCPU threads, \d+ exits/);
    expect(r.code).toBe(0);
    const dec = decode(out);
    for (const s of dec.slices.filter((x) => x.name.startsWith('exit: '))) expect(s.ts >= 7.3e9 && s.ts < 7.4e9).toBe(true);
  });
  it('usage errors exit 2, bad input 1, each one line', () => {
    const none = kvmtax(['export', 'traces/svm-D-small/trace.txt.xz']);
    expect(none.code).toBe(2);
    expect(none.err.split('\n')[0]).toBe('kvmtax: name what to export: --perfetto FILE, --parquet DIR|FILE or --arrow DIR|FILE');
    const win = kvmtax(['export', 'traces/svm-D-small/trace.txt.xz', '--perfetto', path.join(tmpDir, 'x.pftrace'), '--window', 'soon']);
    expect(win.code).toBe(2);
    expect(win.err).toMatch(/^kvmtax: --window: expected START,END/);
    const missing = kvmtax(['export', 'no-such-trace.txt', '--perfetto', path.join(tmpDir, 'y.pftrace')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toBe('kvmtax: no-such-trace.txt: no such file\n');
    expect(fs.existsSync(path.join(tmpDir, 'y.pftrace'))).toBe(false);
  });
});
