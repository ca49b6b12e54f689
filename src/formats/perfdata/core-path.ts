/**
 * perf.data samples through the WebAssembly core (assembly/perfdata.ts): the reader's tables (attrs, event
 * ids, tracepoint formats with their field offsets) are handed over once; the data section is read in
 * arena-sized chunks straight into core memory and walked with one call per chunk. The core queues samples,
 * orders them at each FINISHED_ROUND as perf does, decodes their fields and feeds the analysis directly: no
 * BigInt and no object per event. Records it does not walk (COMM, FORK, EXIT, LOST, LOST_SAMPLES, AUXTRACE,
 * malformed samples) come back here one by one; the reader decodes them and queues them in the core.
 *
 * Taken when the sink is the Core and the file is a little-endian file-mode perf.data that recorded no
 * sched_switch / sched_wakeup (their comm fields are named by the TypeScript decoder; a damaged record whose
 * type id names one of those embedded-but-unrecorded formats is skipped as an unknown type); otherwise the
 * TypeScript path of reader.ts reads the file, with the same results (test/formats/perfdata/core-path.test.ts
 * compares the two on every perf.data capture).
 */
import type { EventSink } from '../../core/sink.js';
import type { PerfDataCore } from '../../wasm/core.js';
import type { EventFormat, FormatField } from '../tracefs-format.js';
import { minSize, eventLayout } from '../kvm-events.js';
import { FormatError } from '../bytes.js';
import {
  EV_EXIT, EV_ENTRY, EV_VCPU_WAKEUP, EV_HALT_POLL_NS, EV_WAIT_LAPIC_EXPIRE, EV_MSR, EV_PIO, EV_MMIO,
  EV_USERSPACE_EXIT, EV_PLE_WINDOW, EV_OTHER, EV_WFX, EV_HVC, EV_SCHED_SWITCH, EV_SCHED_WAKEUP,
} from '../../../assembly/constants.js';
import { PERF_TYPE_TRACEPOINT, type Attr } from './header.js';
import { readCoreSkips } from '../core-skips.js';
import { readIntoCore, readIntoCoreNow } from '../read-ahead.js';

const AT_STRIDE = 48;
const FM_STRIDE = 96;
/** assembly/perfdata.ts PD_LEAD: room before each read buffer for a record cut by the previous one */
const LEAD = 65536 + 64;

// deferred skips (assembly/perfdata.ts PDS_*)
const PDS_BAD_SIZE = 1, PDS_UNKNOWN_TYPE = 2, PDS_NO_TYPE = 3, PDS_BAD_TS = 4, PDS_WAKE_NS = 5, PDS_UNKNOWN_ID = 6;

/** Events whose decoding names threads from comm fields: left to the TypeScript decoder. */
const TS_ONLY = new Set([EV_SCHED_SWITCH, EV_SCHED_WAKEUP]);

interface Row { kind: number; need: number; flags: number; fields: (FormatField | undefined)[] }

/** Kinds the core decodes (assembly/perfdata.ts decodeRaw); other formats are counted by name (EV_OTHER). */
const CORE_KINDS = new Set([EV_EXIT, EV_ENTRY, EV_VCPU_WAKEUP, EV_HALT_POLL_NS, EV_WAIT_LAPIC_EXPIRE, EV_MSR, EV_PIO, EV_MMIO,
  EV_USERSPACE_EXIT, EV_PLE_WINDOW, EV_WFX, EV_HVC]);

/** The core's view of one format: the table's kind, fields and flags (event-table.ts), and the size it needs. */
function rowOf(fmt: EventFormat): Row {
  const L = eventLayout(fmt);
  // arm64 / RISC-V kvm_exit never get here (open() leaves those files to TypeScript)
  const core = CORE_KINDS.has(L.kind) && (L.spec.variant ?? 'x86') === 'x86';
  return { kind: core ? L.kind : EV_OTHER, need: minSize(fmt), flags: L.flags, fields: core ? L.fields : [] };
}

function putField(v: DataView, at: number, f: FormatField | undefined): void {
  v.setInt32(at, f ? f.offset : 0, true);
  v.setInt32(at + 4, f && Number.isInteger(f.size) ? f.size : 0, true);
  v.setInt32(at + 8, f?.signed ? 1 : 0, true);
}

/** --jobs: a slice of the delivered stream (PerfDataOptions.slice). */
export interface SliceSpec {
  /** FINISHED_ROUND offsets (-1: the data's start / end) */
  from: number;
  to: number;
  /** a later slice: its start time is known and nothing is delivered yet (the timeline's origin is set now) */
  atStart?: () => void;
  /** after each walk of a chunk (the first slice: publish the timeline's origin once it has one) */
  afterWalk?: () => void;
  /**
   * The first slice read with no cut yet (to -1): asked before each chunk is read, with the offset of the bytes not
   * read yet, it may give the cut then (a FINISHED_ROUND at or after that offset): perfdata-jobs.ts
   */
  plan?: (unread: number) => number | undefined;
  /** false: each chunk is read in turn with the walk, not ahead (--jobs slices on every CPU: no CPU for a reader) */
  readAhead?: boolean;
}

/** What the reader gives the core path. */
export interface CorePathInput {
  sink: EventSink;
  le: boolean;
  attrs: Attr[];
  byId: Map<number, Attr>;
  /** the embedded formats (null: no tracing data, every sample is EV_OTHER) */
  formats: EventFormat[] | null;
  lostNameId: number;
  maxQueued: number;
  skipGuest: boolean;
}

/** Files read through the core path so far in this process (tests check which path a capture took). */
export const corePathStats = { files: 0 };

export class PerfDataCorePath {
  private resolve: (() => void) | undefined;
  /** added to file offsets for the events' `where` (a directory recording's data files; samples.ts) */
  whereBase = 0;

  private constructor(private readonly pd: PerfDataCore, private readonly sink: EventSink,
    private readonly formats: EventFormat[], private readonly attrs: Attr[]) {}

  /** --jobs: deliver only the slice of the stream between the FINISHED_ROUND records at `from` and `to` (pdSlice). */
  slice(s: SliceSpec): void {
    this.sliced = s;
    this.pd.ex.pdSlice(BigInt(s.from), BigInt(s.to));
  }
  private sliced: SliceSpec | undefined;
  /** A record only this slice reads (read-time counts are kept for these); always true without a slice. */
  own(off: number): boolean {
    const s = this.sliced;
    return !s || ((s.from < 0 || off >= s.from) && (s.to < 0 || off < s.to));
  }

  /** The core path for this file, or undefined when the TypeScript path must read it. */
  static open(x: CorePathInput): PerfDataCorePath | undefined {
    const core = x.sink as EventSink & { perfDataCore?: () => PerfDataCore | undefined };
    // KVMTAX_PERFDATA_PATH=ts: the TypeScript path (tests and the bench compare the two)
    if (process.env.KVMTAX_PERFDATA_PATH === 'ts') return undefined;
    if (typeof core.perfDataCore !== 'function' || !x.le || x.skipGuest || x.attrs.length === 0) return undefined;
    // a sampled recording (perf record -c N / -F N): the TypeScript path sums each exit reason's PERIOD
    if (x.attrs.some((a) => a.freq || a.period > 1)) return undefined;
    const all = x.formats ?? [];
    if (all.some((f) => f.id < 0 || f.id >= 65536)) return undefined;
    // arm64 / RISC-V kvm_exit (no exit_reason: named from the format's own tables, kvm-events.ts): TypeScript path
    if (all.some((f) => f.name === 'kvm_exit' && eventLayout(f).spec.variant !== 'x86')) return undefined;
    // a recorded sched event keeps the file on the TypeScript path; formats embedded but not recorded do not
    const tsOnly = new Set(all.filter((f) => TS_ONLY.has(eventLayout(f).kind)).map((f) => f.id));
    if (x.attrs.some((a) => a.type === PERF_TYPE_TRACEPOINT && a.config <= 0xffffffffn && tsOnly.has(Number(a.config)))) return undefined;
    const formats = all.filter((f) => !tsOnly.has(f.id));
    const pd = core.perfDataCore.call(x.sink);
    if (!pd) return undefined;
    let typeOff = 0, typeSize = 2;
    for (const f of formats) {
      const ct = f.field('common_type');
      if (ct) { typeOff = ct.offset; typeSize = ct.size; }
    }
    const ids = [...x.byId.entries()];
    const bytes = x.attrs.length * AT_STRIDE + ids.length * 16 + formats.length * FM_STRIDE;
    const base = pd.ex.pdConfig(bytes);
    // interning may grow memory: names first, then one view for the writes
    const nameIds = formats.map((f) => x.sink.intern(f.name));
    const rows = formats.map(rowOf);
    const v = pd.view();
    x.attrs.forEach((a, i) => {
      const o = base + i * AT_STRIDE;
      v.setInt32(o, a.sampleType % 4294967296 | 0, true);
      v.setInt32(o + 4, a.readFormat % 4294967296 | 0, true);
      v.setInt32(o + 8, a.layout.tid, true);
      v.setInt32(o + 12, a.layout.time, true);
      v.setInt32(o + 16, a.layout.cpu, true);
      v.setInt32(o + 20, a.layout.fixedEnd, true);
      v.setInt32(o + 24, a.type === PERF_TYPE_TRACEPOINT && x.formats ? 1 : 0, true);
      v.setInt32(o + 28, -1, true);
      v.setInt32(o + 32, a.layout.period, true);
    });
    let o = base + x.attrs.length * AT_STRIDE;
    for (const [id, a] of ids) {
      v.setBigUint64(o, BigInt(id), true);
      v.setInt32(o + 8, x.attrs.indexOf(a), true);
      o += 16;
    }
    formats.forEach((f, i) => {
      const r = rows[i]!;
      const p = o + i * FM_STRIDE;
      v.setInt32(p, r.kind, true);
      v.setInt32(p + 4, nameIds[i]!, true);
      v.setInt32(p + 8, r.need, true);
      v.setInt32(p + 12, r.flags, true);
      putField(v, p + 16, f.field('common_pid'));
      putField(v, p + 28, f.field('vcpu_id'));
      for (let k = 0; k < 4; k++) putField(v, p + 40 + 12 * k, r.fields[k]);
      v.setInt32(p + 88, f.id, true);
    });
    pd.ex.pdBegin(x.attrs.length, ids.length, formats.length, typeOff, typeSize, x.lostNameId, x.maxQueued);
    corePathStats.files++;
    return new PerfDataCorePath(pd, x.sink, formats, x.attrs);
  }

  /** Hand the attrs' name ids over (the reader named them at the first sample). */
  namedAttrs(): void {
    this.attrs.forEach((a, i) => this.pd.ex.pdSetAttrName(i, a.nameId));
  }

  /**
   * Walk the data section [start, end) of the file. `record` decodes a record the core left (returns the
   * bytes of payload that follow it, AUXTRACE's); `resolve` names the attrs.
   *
   * Two read buffers in core memory: while the core walks one chunk, the next is read into the other
   * (read-ahead.ts).
   * A record cut by a chunk's end is copied into the lead before the next chunk and walked from there.
   */
  async run(fd: number, start: number, end: number, resolve: () => void,
    record: (type: number, buf: Uint8Array, view: DataView, p: number, size: number, off: number) => number,
    truncated: (what: string, off: number) => FormatError): Promise<void> {
    const pd = this.pd;
    this.resolve = resolve;
    const CH = pd.arena().length;
    const base = pd.ex.pdReadBuffers(CH);
    const dataAt = (slot: number): number => base + slot * (LEAD + CH) + LEAD;
    /** Read [at, at + len) into slot's buffer: the number of bytes read. */
    const memory = (): ArrayBuffer => pd.view().buffer as ArrayBuffer;
    const ahead = this.sliced?.readAhead !== false;
    const readInto = (slot: number, at: number, len: number): Promise<number> =>
      ahead ? readIntoCore(fd, memory, dataAt(slot), len, at) : Promise.resolve(readIntoCoreNow(fd, memory, dataAt(slot), len, at));
    let off = start; // file offset of the current slot's data
    let tail = 0; // bytes of a cut record copied into the lead before it
    let slot = 0;
    /** the first slice's cut, when it is made before the bytes from `unread` are read (SliceSpec.plan) */
    const planCut = (unread: number): void => {
      const cut = unread < end ? this.sliced?.plan?.(unread) : undefined;
      if (cut !== undefined) { pd.ex.pdSliceTo(BigInt(cut)); this.sliced!.to = cut; }
    };
    planCut(off);
    let pending: Promise<number> | null = off < end ? readInto(0, off, Math.min(CH, end - off)) : null;
    try {
      while (pending) {
        const n = Math.min(CH, end - off);
        const got = await pending;
        pending = null;
        if (got < n) throw truncated('record', off + got);
        const next = off + n;
        planCut(next);
        if (next < end) pending = readInto(slot ^ 1, next, Math.min(CH, end - next));
        const from = dataAt(slot) - tail;
        const len = tail + n;
        const fileOff = off - tail;
        let pos = 0;
        let skipTo = -1;
        for (;;) {
          pos = pd.ex.pdWalk(from, pos, len, BigInt(this.whereBase + fileOff));
          pd.view(); // memory may have grown: the Core's views are rebuilt
          this.drainSkips();
          this.sliced?.afterWalk?.();
          const stop = pd.ex.pdStopped();
          if (stop === 0) break;
          if (stop === 2) { resolve(); this.namedAttrs(); continue; }
          if (stop === 4) { this.sliced?.atStart?.(); continue; }
          if (stop === 3) {
            // a slice read to its end (or found it cannot be read exactly): nothing more to read
            if (pending) await pending;
            return;
          }
          const mem = new Uint8Array(pd.view().buffer, from, len);
          const view = new DataView(mem.buffer, mem.byteOffset, mem.byteLength);
          const type = view.getUint32(pos, true);
          const size = view.getUint16(pos + 6, true);
          const at = fileOff + pos;
          if (size < 8) throw new FormatError(`perf.data: bad record size ${size} (type ${type}) at offset ${at}`, at);
          const extra = record(type, mem, view, pos, size, at);
          this.drainSkips();
          if (extra > 0) {
            if (!Number.isSafeInteger(extra) || at + size + extra > end) throw truncated('record payload', at);
            skipTo = at + size + extra;
            break;
          }
          pos += size;
        }
        if (skipTo >= 0) {
          // a payload that follows its record (AUXTRACE): the chunk read ahead is not the one wanted
          if (pending) await pending;
          off = skipTo; tail = 0; slot = 0;
          pending = off < end ? readInto(0, off, Math.min(CH, end - off)) : null;
          continue;
        }
        const left = len - pos;
        if (!pending) {
          if (left > 0) throw truncated('record', fileOff + pos);
          break;
        }
        if (left > LEAD) throw truncated('record', fileOff + pos); // cannot be: sizes are u16
        if (left > 0) {
          const u8 = new Uint8Array(pd.view().buffer);
          u8.copyWithin(dataAt(slot ^ 1) - left, from + pos, from + len);
        }
        tail = left; off = next; slot ^= 1;
      }
    } finally {
      // stopped early (a bad record, the memory budget): the read in flight ends before the file is closed
      if (pending) await pending.catch(() => 0);
    }
  }

  /**
   * Records decompressed from PERF_RECORD_COMPRESSED (bytes [0, len)), walked by the core like the data
   * section; every event's `where` is `where`, the compressed record's file offset.
   */
  walkBytes(bytes: Uint8Array, len: number, where: number,
    record: (type: number, buf: Uint8Array, view: DataView, p: number, size: number, off: number) => number): void {
    const pd = this.pd;
    if (len === 0) return;
    const base = pd.ex.pdConfig(len);
    pd.arena(); // fresh views
    new Uint8Array(pd.view().buffer, base, len).set(bytes.subarray(0, len));
    let pos = 0;
    for (;;) {
      pos = pd.ex.pdWalkAt(base, pos, len, BigInt(this.whereBase + where));
      pd.view();
      this.drainSkips();
      const stop = pd.ex.pdStopped();
      if (stop === 0 || stop === 3) break;
      if (stop === 2) { this.resolve?.(); this.namedAttrs(); continue; }
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const size = view.getUint16(pos + 6, true);
      record(view.getUint32(pos, true), bytes, view, pos, size, where);
      this.drainSkips();
      pos += size;
    }
  }

  /** A COMM, FORK, EXIT, LOST or LOST_SAMPLES record, queued in the core in its place in time. */
  queue(rec: number, ts: bigint, hasTime: boolean, pid: number, tid: number, cpu: number, count: number, where: number, str: string): void {
    const len = str ? this.pd.scratch(str) : 0;
    this.pd.ex.pdQueue(rec, BigInt.asUintN(64, ts), hasTime ? 1 : 0, pid, tid, cpu, BigInt(count), BigInt(where), len);
    this.pd.view();
    this.drainSkips();
  }

  /** Deliver what is still queued; the counts for PerfDataInfo. */
  finish(): { samples: number; guestSamples: number; lost: number; perAttr: number[]; periodSums: number[]; sliceFailed: number } {
    this.pd.ex.pdFinish();
    this.pd.view();
    this.drainSkips();
    const ex = this.pd.ex;
    return {
      samples: Number(ex.pdSamples()), guestSamples: Number(ex.pdGuestSamples()), lost: Number(ex.pdLost()),
      perAttr: this.attrs.map((_, i) => Number(ex.pdAttrCount(i))),
      periodSums: this.attrs.map((_, i) => Number(ex.pdAttrPeriod(i))),
      sliceFailed: ex.pdSliceFailed(),
    };
  }

  pidOf(tid: number): number | undefined {
    const p = this.pd.ex.pdPidOf(tid);
    return p === -1 ? undefined : p;
  }

  /** The skips the core kept, worded as the TypeScript path words them. */
  private drainSkips(): void {
    const ex = this.pd.ex;
    const n = ex.pdSkipCount();
    if (n === 0) return;
    const items = readCoreSkips(this.pd.view(), ex.pdSkipsPtr(), n);
    ex.pdSkipsClear();
    for (const s of items) {
      let msg: string;
      switch (s.code) {
        case PDS_BAD_SIZE: {
          const f = this.formats[Number(s.v1)]!;
          msg = `${f.name}: record of ${s.v2} bytes, format needs ${minSize(f)}`;
          break;
        }
        case PDS_UNKNOWN_TYPE: msg = `unknown event type id ${s.v1}`; break;
        case PDS_NO_TYPE: msg = `record of ${s.v2} bytes without an event type`; break;
        case PDS_BAD_TS: msg = `${s.v1 >= 0n ? this.pd.stringOf(Number(s.v1)) : 'event'}: timestamp ${BigInt.asUintN(64, s.v2)} out of range`; break;
        case PDS_WAKE_NS: msg = `kvm_vcpu_wakeup: time ${s.v1 ? s.v2 : BigInt.asUintN(64, s.v2)} ns`; break;
        case PDS_UNKNOWN_ID: msg = `perf.data: sample with unknown event id ${Number(BigInt.asUintN(64, s.v2))}`; break;
        default: msg = `skipped (code ${s.code})`;
      }
      this.sink.skip(s.kind, s.where, msg);
    }
  }
}
