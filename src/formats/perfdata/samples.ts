/**
 * perf.data samples and kernel records on the TypeScript path (the core path, core-path.ts, decodes samples
 * inside the core and hands back only the kernel records, which onKernelRecord queues there): the fields of
 * a PERF_RECORD_SAMPLE up to RAW, the sample_id trailer of COMM/FORK/EXIT/LOST/LOST_SAMPLES, the round queue
 * (order.ts) and delivery to the tracepoint decoder (kvm-events.ts) and the sink.
 *
 * Layouts (tools/include/uapi/linux/perf_event.h; integers in the byte order of the file's magic):
 *   SAMPLE (9)   [IDENTIFIER] [IP] [pid,tid] [TIME] [ADDR] [ID] [STREAM_ID] [cpu,res] [PERIOD] [READ]
 *                [CALLCHAIN nr + ips] [RAW u32 size + data] ...     (present when the sample_type bit is set)
 *   other kernel records, when sample_id_all: trailer [pid,tid] [TIME] [ID] [STREAM_ID] [cpu,res] [IDENTIFIER]
 *
 * `where` of an event is the byte offset of its record plus `whereBase` (0 for a file; in a directory
 * recording, the offset of the data file in the concatenation of the directory's files, so that every
 * record has its own place); the errors name the offset in the file being read.
 */
import type { EventSink } from '../../core/sink.js';
import { FormatError, u64n } from '../bytes.js';
import type { KvmEventDecoder } from '../kvm-events.js';
import {
  REC_LOST, REC_COMM, REC_EXIT, REC_FORK, REC_SAMPLE, REC_LOST_SAMPLES, S_IP, S_TID, S_TIME, S_ADDR, S_READ,
  S_CALLCHAIN, S_ID, S_CPU, S_STREAM_ID, S_RAW, S_IDENTIFIER, RF_TOTAL_TIME_ENABLED, RF_TOTAL_TIME_RUNNING, RF_ID,
  RF_GROUP, RF_LOST, MISC_CPUMODE_MASK, MISC_GUEST_KERNEL, MISC_GUEST_USER, PERF_TYPE_TRACEPOINT, utf8, fieldAt,
  overrun, type Attr, type PerfDataInfo,
} from './header.js';
import type { PerfDataCorePath } from './core-path.js';
import { RoundQueue, type Entry } from './order.js';
import { EV_EXIT, EV_LOST, EV_OTHER, SKIP_UNRECOGNIZED } from '../../../assembly/constants.js';

export abstract class SampleStage {
  protected le = true;
  protected readonly attrs: Attr[] = [];
  protected readonly byId = new Map<number, Attr>();
  protected decoder: KvmEventDecoder | null = null;
  protected readonly pidOf = new Map<number, number>();
  protected readonly comms = new Map<number, string>();
  protected readonly info: PerfDataInfo = { pipeMode: false, samples: 0, events: {}, lost: 0, guestSamples: 0 };
  protected readonly lostNameId: number;
  protected attrsResolved = false;
  /** added to the byte offset of each record for its events' `where` (see above) */
  protected whereBase = 0;

  // the reorder queue (ordered-events.c): records with a timestamp wait until a FINISHED_ROUND lets them out
  protected readonly queue: RoundQueue;
  private lastTs = 0n;

  // the sample being delivered (tgidOf prefers its pid)
  private curTid = -2;
  private curPid = -1;
  private readonly tgidOf = (tid: number): number => {
    if (tid === this.curTid) return this.curPid;
    return this.pidOf.get(tid) ?? -1;
  };

  /** set when the core decodes the samples (core-path.ts) */
  protected corePath: PerfDataCorePath | undefined;

  constructor(protected readonly sink: EventSink, protected readonly maxQueued: number, protected readonly skipGuest: boolean) {
    this.queue = new RoundQueue(this.maxQueued, (e) => this.deliver(e));
    this.lostNameId = sink.intern('lost');
  }

  /** Name every attr (before the first sample is delivered). */
  protected abstract resolveAttrs(): void;

  /** PERF_RECORD_SAMPLE: decode every field sample_type says is present, in order, up to RAW. */
  protected onSample(buf: Uint8Array, view: DataView, p: number, size: number, where: number): void {
    if (!this.attrsResolved) this.resolveAttrs();
    const le = this.le;
    const end = p + size;
    const attr = this.attrOfSample(view, p, size, where);
    if (!attr) return;
    const cpumode = view.getUint16(p + 4, le) & MISC_CPUMODE_MASK;
    if (cpumode === MISC_GUEST_KERNEL || cpumode === MISC_GUEST_USER) {
      this.info.guestSamples++;
      if (this.skipGuest) return;
    }
    // the fields up to PERIOD have fixed places (Attr.layout); READ (group) and CALLCHAIN vary in length
    const L = attr.layout;
    if (L.fixedEnd > size) overrun(where, size, fieldAt(attr.sampleType, size));
    const pid = L.tid >= 0 ? view.getInt32(p + L.tid, le) : -1;
    const tid = L.tid >= 0 ? view.getInt32(p + L.tid + 4, le) : -1;
    const hasTime = L.time >= 0;
    const ts = hasTime ? view.getBigUint64(p + L.time, le) : 0n;
    const cpu = L.cpu >= 0 ? view.getUint32(p + L.cpu, le) : -1;
    let q = p + L.fixedEnd;
    const st = attr.sampleType;
    if (st & S_READ) {
      const rf = attr.readFormat;
      const per = 8 + (rf & RF_ID ? 8 : 0) + (rf & RF_LOST ? 8 : 0);
      const times = (rf & RF_TOTAL_TIME_ENABLED ? 8 : 0) + (rf & RF_TOTAL_TIME_RUNNING ? 8 : 0);
      if (rf & RF_GROUP) {
        if (q + 8 + times > end) overrun(where, size, 'READ');
        const nr = u64n(view, q, le);
        q += 8 + times;
        if (nr > (end - q) / per) overrun(where, size, 'READ');
        q += nr * per;
      } else {
        if (q + per + times > end) overrun(where, size, 'READ');
        q += per + times;
      }
    }
    if (st & S_CALLCHAIN) {
      if (q + 8 > end) overrun(where, size, 'CALLCHAIN');
      const nr = u64n(view, q, le);
      q += 8;
      if (nr > (end - q) / 8) overrun(where, size, 'CALLCHAIN');
      q += nr * 8;
    }
    let rawOff = -1;
    let rawSize = 0;
    if (st & S_RAW) {
      if (q + 4 > end) overrun(where, size, 'RAW size');
      rawSize = view.getUint32(q, le);
      q += 4;
      if (rawSize > end - q) overrun(where, size, 'RAW data');
      rawOff = q;
    }
    if (tid >= 0 && pid >= 0) this.pidOf.set(tid, pid);
    const period = L.period >= 0 ? u64n(view, p + L.period, le) : -1;
    if (period >= 0) attr.periodSum += period;
    if (hasTime && ts !== 0n && ts !== 0xffffffffffffffffn) {
      let aoff = -1;
      if (rawOff >= 0) {
        aoff = this.queue.alloc(rawSize);
        const a = this.queue.arena;
        if (rawSize <= 256) for (let i = 0; i < rawSize; i++) a[aoff + i] = buf[rawOff + i]!;
        else a.set(buf.subarray(rawOff, rawOff + rawSize), aoff);
      }
      this.queue.push({ ts, tsn: 0, seq: this.queue.nextSeq(), rec: REC_SAMPLE, attr, pid, tid, cpu, off: aoff, len: rawSize, where: where + this.whereBase, str: '', period });
    } else {
      // perf delivers records without a usable timestamp at once (ordered_events__queue -> -ETIME)
      this.deliverSample(attr, hasTime ? ts : this.lastTs, pid, tid, cpu, buf, view, rawOff, rawSize, where + this.whereBase, period);
    }
  }

  /** The attr of a sample: the only one, or the one its IDENTIFIER / ID names. */
  private attrOfSample(view: DataView, p: number, size: number, where: number): Attr | null {
    const attrs = this.attrs;
    if (attrs.length === 0) throw new FormatError(`perf.data: sample at offset ${where} before any event attribute`, where);
    if (attrs.length === 1) return attrs[0]!;
    const first = attrs[0]!.sampleType;
    let pos = -1;
    if (first & S_IDENTIFIER) pos = 8;
    else if (first & S_ID) {
      pos = 8;
      if (first & S_IP) pos += 8;
      if (first & S_TID) pos += 8;
      if (first & S_TIME) pos += 8;
      if (first & S_ADDR) pos += 8;
    }
    if (pos < 0) return attrs[0]!;
    if (pos + 8 > size) throw new FormatError(`perf.data: sample at offset ${where} too short for its event id`, where);
    const id = u64n(view, p + pos, this.le);
    const a = this.byId.get(id);
    if (!a) {
      this.sink.skip(SKIP_UNRECOGNIZED, where + this.whereBase, `perf.data: sample with unknown event id ${id}`);
      return null;
    }
    return a;
  }

  /** Non-sample kernel records: COMM, FORK, EXIT, LOST, LOST_SAMPLES (+ the sample_id trailer for the time). */
  protected onKernelRecord(type: number, buf: Uint8Array, view: DataView, p: number, size: number, where: number): void {
    const le = this.le;
    const end = p + size;
    const bad = (): FormatError => new FormatError(`perf.data: record of type ${type} at offset ${where} is too short (${size} bytes)`, where);
    let pid = -1;
    let tid = -1;
    let count = 0;
    let str = '';
    let body = 8;
    switch (type) {
      case REC_COMM: {
        // u32 pid, tid; char comm[] (NUL-terminated, padded to 8)
        if (size < 16) throw bad();
        pid = view.getInt32(p + 8, le);
        tid = view.getInt32(p + 12, le);
        let e = p + 16;
        while (e < end && buf[e] !== 0) e++;
        str = utf8.decode(buf.subarray(p + 16, e));
        body = ((e + 1 - p) + 7) & ~7;
        break;
      }
      case REC_FORK:
      case REC_EXIT:
        // u32 pid, ppid, tid, ptid; u64 time
        if (size < 32) throw bad();
        pid = view.getInt32(p + 8, le);
        tid = view.getInt32(p + 16, le);
        body = 32;
        break;
      case REC_LOST:
        // u64 id; u64 lost
        if (size < 24) throw bad();
        count = u64n(view, p + 16, le);
        body = 24;
        break;
      case REC_LOST_SAMPLES:
        // u64 lost
        if (size < 16) throw bad();
        count = u64n(view, p + 8, le);
        body = 16;
        break;
    }
    // sample_id trailer, read backwards from the end: IDENTIFIER, CPU, STREAM_ID, ID, TIME, TID
    let ts = 0n;
    let hasTime = false;
    let cpu = -1;
    let idTid = -1;
    if (this.attrs.length > 0) {
      let attr = this.attrs[0]!;
      if (attr.sampleIdAll) {
        let q = end;
        if (attr.sampleType & S_IDENTIFIER && this.attrs.length > 1 && q - 8 >= p + body) {
          const a = this.byId.get(u64n(view, q - 8, le));
          if (a) attr = a;
        }
        const st = attr.sampleType;
        const ok = (n: number): boolean => q - n >= p + body;
        if (st & S_IDENTIFIER) { if (!ok(8)) throw bad(); q -= 8; }
        if (st & S_CPU) { if (!ok(8)) throw bad(); q -= 8; cpu = view.getUint32(q, le); }
        if (st & S_STREAM_ID) { if (!ok(8)) throw bad(); q -= 8; }
        if (st & S_ID) { if (!ok(8)) throw bad(); q -= 8; }
        if (st & S_TIME) { if (!ok(8)) throw bad(); q -= 8; ts = view.getBigUint64(q, le); hasTime = true; }
        if (st & S_TID) { if (!ok(8)) throw bad(); q -= 8; idTid = view.getInt32(q + 4, le); }
      }
    }
    if (type === REC_LOST || type === REC_LOST_SAMPLES) tid = idTid;
    if (this.corePath) {
      if (type === REC_COMM && tid >= 0) this.comms.set(tid, str); // finish() names the others from saved cmdlines
      this.corePath.queue(type, ts, hasTime, pid, tid, cpu, count, where + this.whereBase, str);
      return;
    }
    const e: Entry = { ts, tsn: 0, seq: this.queue.nextSeq(), rec: type, attr: null, pid, tid, cpu, off: -1, len: count, where: where + this.whereBase, str };
    if (hasTime && ts !== 0n && ts !== 0xffffffffffffffffn) this.queue.push(e);
    else {
      e.ts = this.lastTs;
      this.deliver(e);
    }
  }

  protected deliver(e: Entry): void {
    if (e.ts > this.lastTs) this.lastTs = e.ts;
    switch (e.rec) {
      case REC_SAMPLE:
        this.deliverSample(e.attr!, e.ts, e.pid, e.tid, e.cpu, this.queue.arena, this.queue.arenaView, e.off, e.len, e.where, e.period ?? -1);
        break;
      case REC_COMM:
        if (e.tid >= 0) {
          this.pidOf.set(e.tid, e.pid);
          if (this.comms.get(e.tid) !== e.str) {
            this.comms.set(e.tid, e.str);
            this.sink.nameThread(e.tid, e.pid, e.str);
          }
        }
        break;
      case REC_FORK:
        if (e.tid >= 0) this.pidOf.set(e.tid, e.pid);
        break;
      case REC_LOST:
      case REC_LOST_SAMPLES:
        this.info.lost += e.len;
        this.sink.push(EV_LOST, e.ts, e.tid, e.tid >= 0 ? this.tgidOf(e.tid) : -1, e.cpu, -1, BigInt(e.len), 0n, 0,
          this.lostNameId, e.where);
        break;
      default:
        break;
    }
  }

  /** PERIOD of the sample being delivered (-1: none); kvm_exit samples add it to their reason's Σ PERIOD */
  private curPeriod = -1;
  /** per exit-reason key (dictionary id): [samples, Σ PERIOD] of the kvm_exit samples that carried PERIOD */
  protected readonly exitPeriods = new Map<number, [number, number]>();

  /**
   * The sink the tracepoint decoder writes to: this reader's sink, with each kvm_exit's PERIOD added to its
   * reason's sum on the way (a sampled recording's estimate of the exits per reason is Σ PERIOD, not the samples).
   */
  protected sampledSink(): EventSink {
    const s = this.sink;
    const per = this.exitPeriods;
    const self = this;
    return {
      beginFile: (n, c) => s.beginFile(n, c),
      intern: (x) => s.intern(x),
      reasonKey: (isa, code) => s.reasonKey(isa, code),
      nameThread: (tid, tgid, comm) => s.nameThread(tid, tgid, comm),
      skip: (k, w, e) => s.skip(k, w, e),
      exitDetail: s.exitDetail,
      push(kind, ts, tid, tgid, cpu, vcpu, a, b, c, name, where) {
        if (kind === EV_EXIT && self.curPeriod >= 0) {
          const key = Number(a);
          const v = per.get(key);
          if (v) { v[0]++; v[1] += self.curPeriod; } else per.set(key, [1, self.curPeriod]);
        }
        s.push(kind, ts, tid, tgid, cpu, vcpu, a, b, c, name, where);
      },
    };
  }

  private deliverSample(attr: Attr, ts: bigint, pid: number, tid: number, cpu: number, bytes: Uint8Array, view: DataView,
                        rawOff: number, rawSize: number, where: number, period: number): void {
    if (ts > this.lastTs) this.lastTs = ts;
    this.curPeriod = period;
    if (!this.attrsResolved) this.resolveAttrs();
    this.info.samples++;
    this.info.events[attr.key] = (this.info.events[attr.key] ?? 0) + 1;
    this.curTid = tid;
    this.curPid = pid;
    if (rawOff >= 0 && attr.type === PERF_TYPE_TRACEPOINT && this.decoder) {
      this.decoder.decode(bytes, view, rawOff, rawSize, ts, cpu, this.tgidOf, where);
    } else {
      this.sink.push(EV_OTHER, ts, tid, tid >= 0 ? pid : -1, cpu, -1, 0n, 0n, 0, attr.nameId, where);
    }
    this.curTid = -2;
    this.curPeriod = -1;
  }
}
