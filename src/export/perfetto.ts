/**
 * `kvmtax export --perfetto`: the rows of an analysis (src/analysis/rows.ts) as a Perfetto trace that
 * ui.perfetto.dev opens as a timeline. Written with protobufjs and our own perfetto-track.proto (beside this
 * file: the TrackEvent subset of Perfetto's protos, field numbers from google/perfetto).
 *
 * What the trace holds:
 *
 *   track "kvmtax: data quality"              (global) instants for lost events (see below)
 *   process track per VM                      pid, name "vmm" (the report's VM name, written at the end: trace
 *                                             processor keeps the first process_name it sees)
 *     thread track per vCPU thread            pid, tid, name "vcpu 0 (CPU 0/KVM)"
 *       slices  guest                         previous kvm_entry -> kvm_exit  (the exit row's guest_before)
 *               exit: REASON                  kvm_exit -> next kvm_entry     (debug annotations: reason, vcpu,
 *                                             key "msr 0x6e0 w" when there is one, host_cpu, rip, info1, info2
 *                                             (hex, when the trace carried them; the info words when not 0), line)
 *                 halt: poll|wait             nested in the HLT exit it happened in (halt_ns, window_ns, line)
 *       instants kvm_wait_lapic_expire        (delta: guest TSC cycles, negative = early; line)
 *     counter track "vcpu N exits/s"          handled exits per bucket (--bucket-ms, default 10 ms), as a rate
 *     counter track "vcpu N halt-poll window" the window each halt started with (ns), when the trace has it
 *
 * `line` is the line of the event in its (decompressed) text input, `record` instead for binary inputs: the
 * place to look in the capture (with several inputs, the process names say which input a VM is from). The
 * file name is not repeated in each event: it was a third of the trace's size.
 *
 * Streaming and memory: analyze(..., { rows }) hands over batches of rows while the core reads; each row is
 * written as it arrives (an exit row carries its start, its duration and the guest time before it, so both
 * ends of both slices are known at once). Held per vCPU thread: its track ids, the time of the last event
 * written on its track, the open exits/s bucket, and the halts / lapic events that arrived before the exit
 * they belong to (a halt's row comes at its wake-up, the HLT exit's row at the kvm_entry after it) - at most
 * MAX_PENDING of them. Packets go through one protobufjs Writer that is written out (fs.writeSync) every
 * FLUSH_BYTES, to a temporary file renamed to the output at the end (nothing half-written is left behind).
 *
 * Perfetto's rules kept: all packets are on one trusted_packet_sequence_id; the first packet sets
 * SEQ_INCREMENTAL_STATE_CLEARED and every packet that refers to interned names sets
 * SEQ_NEEDS_INCREMENTAL_STATE (event names and debug annotation names are interned: each string once per
 * trace, in the first packet that uses it); a track's descriptor is written before its first event; on every
 * track the events are written in time order and slices are properly nested (each SLICE_END closes the
 * innermost open SLICE_BEGIN of its track). Across tracks the packets are only roughly in time order (an exit
 * is written at its end): trace processor sorts a whole file by timestamp, keeping the file order of equal
 * timestamps (TraceSorter compares (ts, order of arrival)), which the guest END / exit BEGIN at the same
 * instant rely on. Timestamps are ns of the capture's clock (sent as BOOTTIME, the default clock); raw TSC
 * captures are converted with --tsc-khz and refused without it. Whether a file's clock is raw, and whether it
 * is text (line numbers) or binary (record numbers), is read from the core's counters while its rows come
 * (Core.fileCounters()) and checked against the report at the end.
 *
 * Not (yet) in the trace, and why:
 *   - where events were lost: the core counts lost-event markers but does not give their times, so one
 *     instant per input that lost events is put on the data-quality track at the input's first timestamp,
 *     saying how many and that their times are unknown. A row kind 'lost' (ts, cpu, count) from the core
 *     would let placeLost() put each one where it happened.
 *
 * pids and tids: the first input's are kept; those of the second input on are shifted by file * 2^22 (above
 * Linux's PID_MAX_LIMIT) so that VMs of different captures stay apart; threads of an input that does not
 * say which process each thread belongs to go into one process "unknown VM" with pid 2^22 - 1 (+ shift).
 *
 * Over 500 lines because it is one writer with one invariant (every track's events in time order, slices
 * properly nested) kept across the track table, the packet writer and the row handlers; the CLI's
 * --window parsing lives in cli/window.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import * as K from '../../assembly/constants.js';
import { packageRoot } from '../core/package-root.js';
import type { Core } from '../wasm/core.js';
import type { RowBatch } from '../wasm/rows.js';
import { KvmtaxError } from '../core/errors.js';
import { analyze, type AnalyzeOptions } from '../pipeline/analyze.js';
import { decodeRows, type Row } from '../analysis/rows.js';
import type { Report } from '../analysis/types.js';

// TrackEvent.Type, TracePacket.SequenceFlags, CounterDescriptor.Unit (perfetto-track.proto)
export const SLICE_BEGIN = 1;
export const SLICE_END = 2;
export const INSTANT = 3;
export const COUNTER = 4;
const SEQ_INCREMENTAL_STATE_CLEARED = 1;
const SEQ_NEEDS_INCREMENTAL_STATE = 2;
const UNIT_TIME_NS = 1;

/** The one packet sequence of the trace. */
export const SEQUENCE_ID = 1;
/** pids and tids of input file i (i >= 1) are shifted by i * PID_STRIDE. */
export const PID_STRIDE = 1 << 22;
/** The pid of the process that holds the threads of an input that does not name their processes. */
export const UNKNOWN_PID = PID_STRIDE - 1;
/** The track of trace-wide instants (lost events). */
export const QUALITY_TRACK_UUID = 1;
/** Default width of the exits/s buckets. */
export const DEFAULT_BUCKET_NS = 10_000_000;
/** Halts / lapic events a thread holds while waiting for their exit; older ones are written as instants. */
const MAX_PENDING = 64;
const FLUSH_BYTES = 1 << 20;

export const GUEST_SLICE = 'guest';
export const EXIT_PREFIX = 'exit: ';
export const HALT_PREFIX = 'halt: ';
export const LAPIC_EVENT = 'kvm_wait_lapic_expire';

/** A time range of the trace clock in ns: [start, end). */
export interface TimeWindow { start: number; end: number }

export interface PerfettoOptions {
  /**
   * export only this range: an exit (with the guest slice before it and the halts and lapic events inside
   * it) when its kvm_exit time is in [start, end); a halt or lapic event outside any exported exit, and a
   * halt-poll window value, by its own time; exits/s counts the exported exits
   */
  window?: TimeWindow;
  /** TSC rate, for raw-clock captures */
  tscKhz?: number;
  /** width of the exits/s buckets (ns) */
  bucketNs?: number;
  /** exit-reason table for numeric reasons (1 VMX, 2 SVM) */
  isa?: number;
  /** display names of the inputs, by file index (default: the paths given) */
  names?: string[];
}

/** What was written. */
export interface PerfettoStats {
  file: string;
  bytes: number;
  packets: number;
  processes: number;
  threads: number;
  counterTracks: number;
  exitSlices: number;
  guestSlices: number;
  haltSlices: number;
  instants: number;
  counterValues: number;
  /** inputs whose lost events are marked without their times */
  lostUnplaced: number;
}

// ---------------------------------------------------------------------------------------------------------
// the .proto

/** Where perfetto-track.proto is: beside this module (src/export) or, from dist/, in the package's src/export. */
export function perfettoTrackProtoPath(): string {
  const here = path.join(path.dirname(fileURLToPath(import.meta.url)), 'perfetto-track.proto');
  if (fs.existsSync(here)) return here;
  return path.join(packageRoot(), 'src', 'export', 'perfetto-track.proto');
}

let rootCache: protobuf.Root | undefined;
/** The protobufjs root of perfetto-track.proto (package perfetto.protos, field names as in the .proto). */
export function perfettoTrackRoot(): protobuf.Root {
  if (!rootCache) rootCache = protobuf.parse(fs.readFileSync(perfettoTrackProtoPath(), 'utf8'), { keepCase: true }).root;
  return rootCache;
}

// ---------------------------------------------------------------------------------------------------------
// packets

type AnnValue = string | number;
type Ann = [string, AnnValue];

interface DebugAnnotationMsg { name_iid: number; string_value?: string; int_value?: number; double_value?: number }
interface PacketMsg {
  timestamp?: number;
  trusted_packet_sequence_id: number;
  sequence_flags?: number;
  interned_data?: { event_names?: Array<{ iid: number; name: string }>; debug_annotation_names?: Array<{ iid: number; name: string }> };
  track_descriptor?: Record<string, unknown>;
  track_event?: {
    type: number; track_uuid: number; name_iid?: number; debug_annotations?: DebugAnnotationMsg[];
    counter_value?: number; double_counter_value?: number;
  };
}

/** Encodes packets into a Trace (field 1 each), interning names; written out in chunks. */
class PacketWriter {
  private w = protobuf.Writer.create();
  private readonly fd: number;
  private readonly T: protobuf.Type;
  private started = false;
  private readonly names = new Map<string, number>();
  private readonly annNames = new Map<string, number>();
  packets = 0;
  bytes = 0;

  /** `file` is written; `shown` is the name errors give (the output it will be renamed to). */
  constructor(readonly file: string, shown: string) {
    this.T = perfettoTrackRoot().lookupType('perfetto.protos.TracePacket');
    try {
      this.fd = fs.openSync(file, 'w');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'ENOENT' ? 'no such directory' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.message;
      throw new KvmtaxError(`cannot write: ${why}`, { file: shown });
    }
  }

  private put(p: PacketMsg): void {
    if (!this.started) {
      p.sequence_flags = (p.sequence_flags ?? 0) | SEQ_INCREMENTAL_STATE_CLEARED;
      this.started = true;
    }
    this.w.uint32(10).fork();
    this.T.encode(p, this.w);
    this.w.ldelim();
    this.packets++;
    if (this.w.len >= FLUSH_BYTES) this.flush();
  }

  descriptor(d: Record<string, unknown>): void {
    this.put({ trusted_packet_sequence_id: SEQUENCE_ID, track_descriptor: d });
  }

  event(ts: number, track: number, type: number, name?: string, anns?: Ann[]): void {
    const p: PacketMsg = { timestamp: ts, trusted_packet_sequence_id: SEQUENCE_ID, track_event: { type, track_uuid: track } };
    // a SLICE_END names nothing: it needs no interned data
    if (name !== undefined || anns?.length) p.sequence_flags = SEQ_NEEDS_INCREMENTAL_STATE;
    if (name !== undefined) p.track_event!.name_iid = this.iid(this.names, name, p, 'event_names');
    if (anns && anns.length) {
      p.track_event!.debug_annotations = anns.map(([n, v]) => {
        const a: DebugAnnotationMsg = { name_iid: this.iid(this.annNames, n, p, 'debug_annotation_names') };
        if (typeof v === 'string') a.string_value = v;
        else if (Number.isInteger(v)) a.int_value = v;
        else a.double_value = v;
        return a;
      });
    }
    this.put(p);
  }

  counter(ts: number, track: number, value: number): void {
    this.put({
      timestamp: ts, trusted_packet_sequence_id: SEQUENCE_ID,
      track_event: Number.isInteger(value) ? { type: COUNTER, track_uuid: track, counter_value: value } : { type: COUNTER, track_uuid: track, double_counter_value: value },
    });
  }

  private iid(index: Map<string, number>, s: string, p: PacketMsg, field: 'event_names' | 'debug_annotation_names'): number {
    let id = index.get(s);
    if (id === undefined) {
      id = index.size + 1; // 0 is "not set"
      index.set(s, id);
      const d = (p.interned_data ??= {});
      (d[field] ??= []).push({ iid: id, name: s });
    }
    return id;
  }

  flush(): void {
    if (this.w.len === 0) return;
    const buf = this.w.finish();
    this.w = protobuf.Writer.create();
    for (let off = 0; off < buf.length;) off += fs.writeSync(this.fd, buf, off, buf.length - off);
    this.bytes += buf.length;
  }

  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }

  discard(): void {
    try { fs.closeSync(this.fd); } catch { /* already closed */ }
  }
}

// ---------------------------------------------------------------------------------------------------------
// the exporter

interface Proc { uuid: number; pid: number; realPid: number | null; file: number; name: string }

interface ThreadState {
  file: number;
  tid: number;
  pid: number | null;
  vcpu: number | null;
  comm: string | null;
  /** uuid of the thread track, 0 until its descriptor is written */
  uuid: number;
  proc?: Proc;
  /** the name last written in its descriptor */
  named: string;
  /** time of the last event written on the thread track */
  cursor: number;
  /** halts and lapic events that came before the exit they belong to, in time order */
  pending: Row[];
  rate?: { uuid: number; bucket: number; count: number };
  win?: { uuid: number; value: number; ts: number };
}

/** An inner event of an exit or guest slice: a halt slice or an instant. */
interface Inner { start: number; at: number; row: Row }

/** Per input file: how its timestamps read, and what to call it. */
interface FileInfo { scale: number; decided: boolean; binary: boolean; name: string }

/** The temporary name a trace is written under, beside `file`, until it is complete. */
export function partialName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.partial`);
}

/**
 * Writes a Perfetto trace from rows while an analysis runs: `onRows` is the analysis' RowSink, `finish`
 * completes the trace with the report. Used through exportPerfetto(), or beside other row consumers.
 */
export class PerfettoExporter {
  private readonly out: PacketWriter;
  private readonly tmp: string;
  private readonly threads = new Map<string, ThreadState>();
  private readonly procs = new Map<string, Proc>();
  private readonly files: FileInfo[] = [];
  private nextUuid = QUALITY_TRACK_UUID + 1;
  private readonly win: TimeWindow;
  private readonly bucketNs: number;
  private done = false;
  private readonly st = {
    processes: 0, threads: 0, counterTracks: 0, exitSlices: 0, guestSlices: 0, haltSlices: 0, instants: 0, counterValues: 0, lostUnplaced: 0,
  };

  constructor(readonly file: string, readonly inputs: string[], readonly opts: PerfettoOptions = {}) {
    this.win = opts.window ?? { start: -Infinity, end: Infinity };
    this.bucketNs = opts.bucketNs ?? DEFAULT_BUCKET_NS;
    if (!(this.bucketNs > 0)) throw new KvmtaxError('the exits/s bucket must be longer than 0 ns');
    this.tmp = partialName(file);
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new KvmtaxError('cannot write: is a directory', { file });
    this.out = new PacketWriter(this.tmp, file);
    this.out.descriptor({ uuid: QUALITY_TRACK_UUID, name: 'kvmtax: data quality' });
  }

  /** The RowSink of analyze(). */
  readonly onRows = (b: RowBatch, core: Core): void => {
    const rows = decodeRows(b, core, this.opts.isa);
    for (const r of rows) this.row(r, core);
  };

  // ---- per file: clock and kind ----

  private fileOf(r: Row, core: Core): FileInfo {
    let f = this.files[r.file];
    if (!f || !f.decided) {
      const given = this.opts.names?.[r.file] ?? this.inputs[r.file] ?? `input ${r.file}`;
      const name = given === '-' || given.startsWith('\u0000') ? '<stdin>' : given;
      const peek = core.fileCounters();
      const raw = peek.clock === K.CLOCK_RAW;
      if (raw && !this.opts.tscKhz) {
        throw new KvmtaxError('the timestamps are raw TSC cycles (trace_clock=x86-tsc): give --tsc-khz to convert them to ns for Perfetto', { file: name });
      }
      f = { scale: raw ? 1e6 / this.opts.tscKhz! : 1, decided: peek.clock !== 0, binary: peek.lines === 0, name };
      this.files[r.file] = f;
    }
    return f;
  }

  // ---- tracks ----

  private threadOf(r: Row): ThreadState {
    const key = `${r.file}:${r.tid}`;
    let t = this.threads.get(key);
    if (!t) {
      t = { file: r.file, tid: r.tid, pid: r.pid, vcpu: r.vcpu, comm: r.comm, uuid: 0, named: '', cursor: -Infinity, pending: [] };
      this.threads.set(key, t);
    } else {
      // who the thread is may become known as the trace goes on
      if (r.vcpu !== null) t.vcpu = r.vcpu;
      if (r.comm !== null) t.comm = r.comm;
      if (t.pid === null && r.pid !== null && t.uuid === 0) t.pid = r.pid;
    }
    return t;
  }

  private shift(file: number): number { return file * PID_STRIDE; }

  private procOf(t: ThreadState): Proc {
    const key = `${t.file}:${t.pid ?? 'unknown'}`;
    let p = this.procs.get(key);
    if (!p) {
      const pid = (t.pid ?? UNKNOWN_PID) + this.shift(t.file);
      // named at the end, from the report: trace processor keeps the first process_name it is given
      p = { uuid: this.nextUuid++, pid, realPid: t.pid, file: t.file, name: '' };
      this.procs.set(key, p);
      this.out.descriptor({ uuid: p.uuid, process: { pid } });
      this.st.processes++;
    }
    return p;
  }

  private procName(file: number, name: string): string {
    return this.inputs.length > 1 ? `${name} [${this.files[file]?.name ?? this.inputs[file]}]` : name;
  }

  private threadName(t: ThreadState): string {
    const who = t.vcpu !== null ? `vcpu ${t.vcpu}` : `tid ${t.tid}`;
    return t.comm ? `${who} (${t.comm})` : who;
  }

  /** The thread track, its descriptor written (again, when the thread's name became known). */
  private track(t: ThreadState): number {
    const name = this.threadName(t);
    if (t.uuid === 0 || name !== t.named) {
      if (t.uuid === 0) {
        t.proc = this.procOf(t);
        t.uuid = this.nextUuid++;
        this.st.threads++;
      }
      const p = t.proc!;
      this.out.descriptor({
        uuid: t.uuid, parent_uuid: p.uuid, name,
        thread: { pid: p.pid, tid: t.tid + this.shift(t.file), thread_name: name },
      });
      t.named = name;
    }
    return t.uuid;
  }

  private counterTrack(t: ThreadState, what: string, unit?: number): number {
    const parent = this.track(t);
    const uuid = this.nextUuid++;
    const who = t.vcpu !== null ? `vcpu ${t.vcpu}` : `tid ${t.tid}`;
    this.out.descriptor({ uuid, parent_uuid: parent, name: `${who} ${what}`, counter: unit ? { unit } : {} });
    this.st.counterTracks++;
    return uuid;
  }

  // ---- rows ----

  private inWindow(ts: number): boolean { return ts >= this.win.start && ts < this.win.end; }

  private row(r: Row, core: Core): void {
    const f = this.fileOf(r, core);
    const t = this.threadOf(r);
    if (r.kind === 'exit') {
      this.exit(t, r, f);
      return;
    }
    if (r.kind === 'halt' && r.guest_before !== null) this.window(t, r, f);
    t.pending.push(r);
    if (t.pending.length > MAX_PENDING) this.standalone(t, t.pending.shift()!, f);
  }

  private conv(ts: number, f: FileInfo): number { return f.scale === 1 ? ts : Math.round(ts * f.scale); }

  /** Where an inner row sits: a halt from its start to its wake-up (halt ns are ns), an instant at its time. */
  private inner(r: Row, f: FileInfo): Inner {
    const at = this.conv(r.ts, f);
    return { at, start: r.kind === 'halt' ? at - r.duration : at, row: r };
  }

  private exit(t: ThreadState, r: Row, f: FileInfo): void {
    const x = this.conv(r.ts, f);
    const end = this.conv(r.ts + r.duration, f);
    const g = r.guest_before !== null ? this.conv(r.ts - r.guest_before, f) : null;
    const lo = g ?? x;
    // the pending rows up to this exit's end: before its guest slice, inside the guest slice, inside the exit
    const before: Inner[] = [];
    const inGuest: Inner[] = [];
    const inExit: Inner[] = [];
    const keep: Row[] = [];
    for (const p of t.pending) {
      const i = this.inner(p, f);
      if (i.at > end) keep.push(p);
      else if (i.at < lo) before.push(i);
      else if (i.at < x) inGuest.push(i);
      else inExit.push(i);
    }
    t.pending = keep;
    for (const i of before) this.standalone(t, i.row, f);
    if (!this.inWindow(x)) return; // and what happened inside it goes with it

    const track = this.track(t);
    if (g !== null) {
      this.begin(t, track, g, GUEST_SLICE);
      for (const i of inGuest) this.instant(t, track, i, f);
      this.end(t, track, x);
      this.st.guestSlices++;
    } else {
      for (const i of inGuest) this.instant(t, track, i, f);
    }
    const anns: Ann[] = [['reason', r.reason ?? '?']];
    if (r.vcpu !== null) anns.push(['vcpu', r.vcpu]);
    if (r.key !== null) anns.push(['key', r.key]);
    if (r.host_cpu !== null) anns.push(['host_cpu', r.host_cpu]);
    if (r.rip !== null) anns.push(['rip', `0x${r.rip.toString(16)}`]);
    // info words only when set (most exits' are 0): they cost the trace ~20 bytes each
    if (r.info1) anns.push(['info1', `0x${r.info1.toString(16)}`]);
    if (r.info2) anns.push(['info2', `0x${r.info2.toString(16)}`]);
    anns.push(this.at(r, f));
    this.begin(t, track, x, EXIT_PREFIX + (r.reason ?? '?'), anns);
    inExit.sort((a, b) => a.start - b.start);
    for (const i of inExit) {
      if (i.row.kind === 'halt' && i.start >= t.cursor) {
        this.begin(t, track, i.start, HALT_PREFIX + (i.row.reason ?? '?'), this.haltAnns(i.row, f));
        this.end(t, track, i.at);
        this.st.haltSlices++;
      } else {
        this.instant(t, track, i, f);
      }
    }
    this.end(t, track, end);
    this.st.exitSlices++;
    this.rate(t, x);
  }

  /** Where the event is in its input: the line of a text input, the record number of a binary one. */
  private at(r: Row, f: FileInfo): Ann {
    return f.binary ? ['record', r.where] : ['line', r.where];
  }

  private haltAnns(r: Row, f: FileInfo): Ann[] {
    const a: Ann[] = [['halt_ns', r.duration]];
    if (r.guest_before !== null) a.push(['window_ns', r.guest_before]);
    a.push(this.at(r, f));
    return a;
  }

  private begin(t: ThreadState, track: number, ts: number, name: string, anns?: Ann[]): void {
    const at = Math.max(ts, t.cursor);
    this.out.event(at, track, SLICE_BEGIN, name, anns);
    t.cursor = at;
  }

  private end(t: ThreadState, track: number, ts: number): void {
    const at = Math.max(ts, t.cursor);
    this.out.event(at, track, SLICE_END);
    t.cursor = at;
  }

  /** A halt or lapic event as an instant on the thread track (at the track's last time if it lies before). */
  private instant(t: ThreadState, track: number, i: Inner, f: FileInfo): void {
    const r = i.row;
    const at = Math.max(i.at, t.cursor);
    if (r.kind === 'lapic') {
      this.out.event(at, track, INSTANT, LAPIC_EVENT, [['delta', r.duration], this.at(r, f)]);
    } else {
      this.out.event(at, track, INSTANT, HALT_PREFIX + (r.reason ?? '?'), this.haltAnns(r, f));
    }
    t.cursor = at;
    this.st.instants++;
  }

  /** A halt or lapic event outside any exported exit: an instant, when it is in the window. */
  private standalone(t: ThreadState, r: Row, f: FileInfo): void {
    const i = this.inner(r, f);
    if (!this.inWindow(i.at)) return;
    this.instant(t, this.track(t), i, f);
  }

  // ---- counters ----

  private rate(t: ThreadState, x: number): void {
    const b = Math.floor(x / this.bucketNs);
    if (!t.rate) t.rate = { uuid: this.counterTrack(t, 'exits/s'), bucket: b, count: 0 };
    else if (b !== t.rate.bucket) this.closeBucket(t, b);
    t.rate.count++;
  }

  /** Write the open bucket's rate (and a 0 after it when the next bucket is not the one after it). */
  private closeBucket(t: ThreadState, next: number | null): void {
    const r = t.rate!;
    this.out.counter(r.bucket * this.bucketNs, r.uuid, (r.count * 1e9) / this.bucketNs);
    this.st.counterValues++;
    if (next === null || next > r.bucket + 1) {
      this.out.counter((r.bucket + 1) * this.bucketNs, r.uuid, 0);
      this.st.counterValues++;
    }
    if (next !== null) { r.bucket = next; r.count = 0; }
  }

  private window(t: ThreadState, r: Row, f: FileInfo): void {
    const start = this.conv(r.ts, f) - r.duration;
    if (!this.inWindow(start)) return;
    const value = r.guest_before!;
    if (!t.win) t.win = { uuid: this.counterTrack(t, 'halt-poll window', UNIT_TIME_NS), value: NaN, ts: -Infinity };
    if (value === t.win.value) return;
    const ts = Math.max(start, t.win.ts);
    this.out.counter(ts, t.win.uuid, value);
    this.st.counterValues++;
    t.win.value = value;
    t.win.ts = ts;
  }

  // ---- the end ----

  /** Instants for lost events (without their times: see the header). */
  private placeLost(report: Report): void {
    report.inputs.forEach((inp, i) => {
      if (inp.lost_markers === 0 || inp.first_ts === null) return;
      const f = this.files[i] ?? { scale: inp.clock === 'raw' && this.opts.tscKhz ? 1e6 / this.opts.tscKhz : 1, decided: true, binary: inp.lines === undefined, name: inp.file };
      let ts = this.conv(inp.first_ts, f);
      if (this.opts.window) {
        const last = inp.last_ts !== null ? this.conv(inp.last_ts, f) : ts;
        if (last < this.win.start || ts >= this.win.end) return;
        ts = Math.max(ts, this.win.start);
      }
      this.out.event(ts, QUALITY_TRACK_UUID, INSTANT, `lost events: ${inp.lost_markers} marker${inp.lost_markers === 1 ? '' : 's'} (times unknown)`, [
        ['file', inp.file], ['markers', inp.lost_markers], ['events', inp.lost_events],
        ['note', 'the capture lost events (ring buffer overrun); kvmtax does not know where yet, so they are marked at the start of the input; exits and entries across each gap are not paired'],
      ]);
      this.st.instants++;
      this.st.lostUnplaced++;
    });
  }

  /** Complete the trace: pending halts, open buckets, process names from the report, lost events. */
  finish(report: Report): PerfettoStats {
    if (this.done) throw new Error('PerfettoExporter: finish() called twice');
    this.done = true;
    try {
      report.inputs.forEach((inp, i) => {
        const f = this.files[i];
        if (inp.clock === 'raw' && !this.opts.tscKhz) {
          throw new KvmtaxError('the timestamps are raw TSC cycles (trace_clock=x86-tsc): give --tsc-khz to convert them to ns for Perfetto', { file: inp.file });
        }
        if (f && !f.decided && (inp.clock === 'raw') !== (f.scale !== 1)) {
          throw new Error(`perfetto export: the clock of ${inp.file} was not known while its rows were written`);
        }
      });
      for (const t of this.threads.values()) {
        const f = this.files[t.file]!;
        for (const p of t.pending) this.standalone(t, p, f);
        t.pending = [];
        if (t.rate) this.closeBucket(t, null);
      }
      // the VM names the report settled on ("vmm (pid 188)": the UI shows the pid beside the name)
      for (const vm of report.vms) {
        const p = this.procs.get(`${vm.fileIndex}:${vm.pid ?? 'unknown'}`);
        if (p) p.name = this.procName(vm.fileIndex, vm.pid === null ? 'unknown VM' : vm.name.replace(/ \(pid -?\d+\)$/, ''));
      }
      for (const p of this.procs.values()) {
        if (!p.name) p.name = this.procName(p.file, p.realPid === null ? 'unknown VM' : 'VM');
        this.out.descriptor({ uuid: p.uuid, name: p.name, process: { pid: p.pid, process_name: p.name } });
      }
      this.placeLost(report);
      this.out.close();
      fs.renameSync(this.tmp, this.file);
    } catch (e) {
      this.abort();
      throw e;
    }
    return { file: this.file, bytes: this.out.bytes, packets: this.out.packets, ...this.st };
  }

  /** Drop the partial output (after an error). */
  abort(): void {
    this.done = true;
    this.out.discard();
    fs.rmSync(this.tmp, { force: true });
  }
}

/** Analyze `files` and write the Perfetto trace to `out`; returns the report and what was written. */
export async function exportPerfetto(
  files: string[], out: string, opts: PerfettoOptions & Omit<AnalyzeOptions, 'rows'> = {},
): Promise<{ report: Report; stats: PerfettoStats }> {
  const ex = new PerfettoExporter(out, files, opts);
  let report: Report;
  try {
    report = await analyze(files, { ...opts, rows: ex.onRows });
  } catch (e) {
    ex.abort();
    throw e;
  }
  return { report, stats: ex.finish(report) };
}
