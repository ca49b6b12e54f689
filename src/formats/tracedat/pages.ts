/**
 * Ring-buffer pages, as trace.dat's flyrecord sections and tracefs' per_cpu/cpuN/trace_pipe_raw hold them
 * (kernel/trace/ring_buffer.c; the layout of the page header is in events/header_page):
 *
 *   page   u64 timestamp | local_t commit (data size in the low 27 bits; bit 31 MISSED_EVENTS: events were
 *          lost before this page; bit 30 MISSED_STORED: their count follows the data) | data
 *   event  u32 (type_len:5, time_delta:27; type_len in the low bits on little-endian machines) | ...
 *          type_len 29 padding, 30 time extend (array[0] << 27 | delta), 31 absolute time stamp,
 *          1..28 data of type_len*4 bytes, 0 data whose length (+4) is in array[0]
 *
 * The page size (sub-buffer size) is the file's page size or, live, getpagesize() or
 * buffer_subbuf_size_kb * 1024 (Linux 6.8+); 64 KiB pages exist on arm64. A final partial page is
 * accepted when its commit fits the bytes that exist.
 */
import { FormatError } from '../bytes.js';
import type { EventSink } from '../../core/sink.js';
import type { EventFormat } from '../tracefs-format.js';
import { KvmEventDecoder } from '../kvm-events.js';
import { KWayMerge } from '../kway.js';
import { EV_LOST } from '../../../assembly/constants.js';

export const MISSING_EVENTS = 0x80000000;
export const MISSING_STORED = 0x40000000;
export const COMMIT_MASK = (1 << 27) - 1;
export const TS_MSB = 0xf8n << 56n;

export interface PageLayout {
  tsOff: number;
  tsSize: number;
  commitOff: number;
  commitSize: number;
  dataOff: number;
}

export function parseHeaderPage(text: string, longSize: number): PageLayout {
  const re = /field:\s*([^;]*?)\s*;\s*offset:\s*(\d+)\s*;\s*size:\s*(\d+)\s*;/g;
  const f = new Map<string, { off: number; size: number }>();
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const name = /([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?$/.exec(m[1]!)?.[1];
    if (name && !f.has(name)) f.set(name, { off: Number(m[2]), size: Number(m[3]) });
  }
  const ts = f.get('timestamp');
  const commit = f.get('commit');
  const data = f.get('data');
  return {
    tsOff: ts?.off ?? 0,
    tsSize: ts?.size ?? 8,
    commitOff: commit?.off ?? 8,
    commitSize: commit?.size ?? longSize,
    dataOff: data?.off ?? 8 + (commit?.size ?? longSize),
  };
}

export interface Page {
  bytes: Uint8Array;
  view: DataView;
  /** start of the page within bytes */
  base: number;
  /** file offset of the page (of its compressed chunk for compressed data) */
  fileOff: number;
  /** bytes of the page that exist (less than the page size only for a final partial page) */
  avail: number;
}

export interface PageStream {
  next(): Page | null;
}

/**
 * Walks the events of one CPU, page by page, and stops at each data record: recTs/recBase/recLen describe it.
 */
export class CpuCursor {
  recTs = 0n;
  recBase = 0;
  recLen = 0;
  /** file offset of the page holding the current record */
  recPageOff = 0;
  /** lost events announced by the page of the current record (only on its first record): -1 none, 0 unknown */
  recLost = -1;
  bytes: Uint8Array = new Uint8Array(0);
  view: DataView = new DataView(this.bytes.buffer);

  private ts = 0n;
  private pos = 0;
  private end = 0;
  private pageLost = -1;
  private pageOff = 0;

  constructor(readonly cpu: number, private readonly pages: PageStream, private readonly layout: PageLayout,
    private readonly le: boolean, private readonly pageSize: number) {}

  private loadPage(): boolean {
    for (;;) {
      const p = this.pages.next();
      if (!p) return false;
      const L = this.layout;
      const need = L.dataOff;
      if (p.avail < need) throw new FormatError(`truncated page at offset ${p.fileOff}`, p.fileOff);
      const v = p.view;
      const b = p.base;
      this.ts = L.tsSize === 8 ? v.getBigUint64(b + L.tsOff, this.le) : BigInt(v.getUint32(b + L.tsOff, this.le));
      // the flags are in the low 32 bits of the (long) commit word
      let flags: number;
      if (L.commitSize === 8) flags = this.le ? v.getUint32(b + L.commitOff, true) : v.getUint32(b + L.commitOff + 4, false);
      else flags = v.getUint32(b + L.commitOff, this.le);
      const size = flags & COMMIT_MASK;
      if (size > this.pageSize - L.dataOff) {
        throw new FormatError(`bad page commit ${size} at offset ${p.fileOff}`, p.fileOff);
      }
      if (L.dataOff + size > p.avail) throw new FormatError(`truncated page at offset ${p.fileOff}`, p.fileOff);
      this.pageLost = -1;
      if (flags & MISSING_EVENTS) {
        this.pageLost = 0;
        if (flags & MISSING_STORED) {
          const lo = b + L.dataOff + size;
          if (L.dataOff + size + L.commitSize <= p.avail) {
            const n = L.commitSize === 8 ? v.getBigUint64(lo, this.le) : BigInt(v.getUint32(lo, this.le));
            this.pageLost = n > 0xffffffffn ? 0xffffffff : Number(n);
          }
        }
      }
      this.bytes = p.bytes;
      this.view = v;
      this.pos = b + L.dataOff;
      this.end = b + L.dataOff + size;
      this.pageOff = p.fileOff;
      return true;
    }
  }

  private bad(what: string): never {
    throw new FormatError(`${what} in page at offset ${this.pageOff}`, this.pageOff);
  }

  /** Move to the next data record; false at the end of this CPU's data. */
  advance(): boolean {
    const le = this.le;
    for (;;) {
      if (this.pos >= this.end) {
        if (!this.loadPage()) return false;
        continue;
      }
      const v = this.view;
      const p = this.pos;
      if (p + 4 > this.end) this.bad('truncated event header');
      const w = v.getUint32(p, le);
      const typeLen = le ? w & 0x1f : w >>> 27;
      const delta = le ? w >>> 5 : w & 0x7ffffff;
      if (typeLen >= 1 && typeLen <= 28) {
        const len = typeLen * 4;
        if (p + 4 + len > this.end) this.bad('event past the page commit');
        this.ts += BigInt(delta);
        this.setRec(p + 4, len);
        this.pos = p + 4 + len;
        return true;
      }
      switch (typeLen) {
        case 0: {
          if (p + 8 > this.end) this.bad('truncated event length');
          const n = v.getUint32(p + 4, le);
          if (n < 4 || p + 4 + n > this.end) this.bad(`bad event length ${n}`);
          this.ts += BigInt(delta);
          this.setRec(p + 8, n - 4);
          this.pos = p + 4 + n;
          return true;
        }
        case 29: {
          // padding: time_delta 0 = the rest of the page is empty; else array[0] = bytes after the header
          if (delta === 0) {
            this.pos = this.end;
            break;
          }
          if (p + 8 > this.end) {
            this.pos = this.end;
            break;
          }
          const n = v.getUint32(p + 4, le);
          if (n < 4) this.bad(`bad padding length ${n}`);
          this.ts += BigInt(delta); // as libtraceevent's kbuffer does
          this.pos = p + 4 + n;
          break;
        }
        case 30: {
          if (p + 8 > this.end) this.bad('truncated time extend');
          const hi = v.getUint32(p + 4, le);
          this.ts += (BigInt(hi) << 27n) | BigInt(delta);
          this.pos = p + 8;
          break;
        }
        case 31: {
          if (p + 8 > this.end) this.bad('truncated time stamp');
          const hi = v.getUint32(p + 4, le);
          let abs = (BigInt(hi) << 27n) | BigInt(delta);
          const cur = this.ts;
          if (cur & TS_MSB) {
            abs |= cur & TS_MSB;
            if (abs < cur) abs += 1n << 59n;
          }
          this.ts = abs;
          this.pos = p + 8;
          break;
        }
        default:
          this.bad(`bad event type ${typeLen}`);
      }
    }
  }

  private setRec(base: number, len: number): void {
    this.recTs = this.ts;
    this.recBase = base;
    this.recLen = len;
    this.recPageOff = this.pageOff;
    this.recLost = this.pageLost;
    this.pageLost = -1;
  }
}


/** Pages handed over in pieces (tracefs reads): cut at the page size; a partial page only at the end. */
class QueuedPages implements PageStream {
  private parts: Uint8Array[] = [];
  private have = 0;
  private streamOff = 0;
  ended = false;
  constructor(private readonly pageSize: number) {}

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.parts.push(bytes);
    this.have += bytes.length;
  }

  next(): Page | null {
    const ps = this.pageSize;
    if (this.have === 0 || (this.have < ps && !this.ended)) return null;
    const n = Math.min(ps, this.have);
    let page: Uint8Array;
    const first = this.parts[0]!;
    if (first.length >= n) {
      page = first.subarray(0, n);
      if (first.length === n) this.parts.shift();
      else this.parts[0] = first.subarray(n);
    } else {
      page = new Uint8Array(n);
      let o = 0;
      while (o < n) {
        const p = this.parts[0]!;
        const k = Math.min(p.length, n - o);
        page.set(p.subarray(0, k), o);
        o += k;
        if (k === p.length) this.parts.shift();
        else this.parts[0] = p.subarray(k);
      }
    }
    this.have -= n;
    const at = this.streamOff;
    this.streamOff += n;
    return { bytes: page, view: new DataView(page.buffer, page.byteOffset, page.byteLength), base: 0, fileOff: at, avail: n };
  }
}

export interface PageDecoderOptions {
  /** from the file's or tracefs' events/header_page (parseHeaderPage) */
  layout: PageLayout;
  /** the sub-buffer size: the file's page size, getpagesize(), or buffer_subbuf_size_kb * 1024 */
  pageSize: number;
  /** byte order of the pages (the host's for tracefs) */
  littleEndian: boolean;
  /** the formats of the events to decode (events/<system>/<event>/format, parseEventFormat) */
  formats: EventFormat[];
  /** thread id -> process id (saved_tgids), for events that do not carry it */
  tgidOf?: (tid: number) => number;
  /** raw page time -> sink time (TSC2NSEC, OFFSET); identity when absent */
  convert?: (ts: bigint) => bigint;
}

interface CpuState {
  cpu: number;
  cursor: CpuCursor;
  queued?: QueuedPages;
  /** the cursor stands on a record not yet delivered */
  ready: boolean;
  /** raw time of the last record delivered (-1n: none yet) */
  last: bigint;
}

/**
 * Ring-buffer pages of any number of CPUs -> sink events in time order (k-way merge by timestamp; equal
 * timestamps: the lower CPU first, as trace-cmd does). The trace.dat reader hands it each CPU's page stream;
 * live mode hands it what per_cpu/cpuN/trace_pipe_raw yields with addPages(). The caller calls
 * sink.beginFile() first. `where` of each event is its 1-based number in the merged order. A page whose commit
 * word says events were missed pushes one EV_LOST (a = the stored count, 0 = unknown) before its first record.
 * The TypeScript twin of the core's decoder (core-path.ts, assembly/tracedat.ts): used for sinks that are not the
 * Core (recorded sink calls in tests) and for arm64 / RISC-V kvm_exit formats.
 */
export class PageDecoder {
  private readonly states: CpuState[] = [];
  private sorted = true;
  private readonly live = new Map<number, CpuState>();
  private readonly decoder: KvmEventDecoder;
  private readonly tgidOf: (tid: number) => number;
  private lostName = -1;
  /** events delivered so far */
  events = 0;
  /** events the pages said were lost (counts stored in the pages; unknown counts add 0) */
  lost = 0;

  constructor(private readonly sink: EventSink, private readonly opts: PageDecoderOptions) {
    this.decoder = new KvmEventDecoder(sink, opts.littleEndian);
    for (const f of opts.formats) this.decoder.addFormat(f);
    this.tgidOf = opts.tgidOf ?? ((): number => -1);
  }

  private add(cpu: number, stream: PageStream, queued?: QueuedPages): CpuState {
    const s: CpuState = { cpu, cursor: new CpuCursor(cpu, stream, this.opts.layout, this.opts.littleEndian, this.opts.pageSize), queued, ready: false, last: -1n };
    this.states.push(s);
    this.sorted = false;
    return s;
  }

  /** A CPU's whole page stream (trace.dat): read as the merge needs it. */
  addStream(cpu: number, stream: PageStream): void {
    this.add(cpu, stream);
  }

  /**
   * Raw pages of one CPU (trace_pipe_raw reads): whole pages; a partial page is taken at finish(). The
   * decoder keeps `bytes` until its events are delivered: do not reuse the buffer.
   */
  addPages(cpu: number, bytes: Uint8Array): void {
    let s = this.live.get(cpu);
    if (!s) {
      const q = new QueuedPages(this.opts.pageSize);
      s = this.add(cpu, q, q);
      this.live.set(cpu, s);
    }
    s.queued!.push(bytes);
  }

  /**
   * Deliver the queued events that can no longer be preceded by one still to come: those earlier than the
   * last delivered time of every CPU that was fed and has run out of whole pages (its next page may hold
   * events from then on). `all`: deliver every whole page's events now (a live session's idle CPUs would
   * otherwise hold the others back). `waitFor`: only these CPUs hold events back (live: the CPUs that gave
   * pages in this read and may give more; the others are idle or done). Returns the number of events delivered.
   */
  flush(all = false, waitFor?: ReadonlySet<number>): number {
    return this.run(all, false, waitFor);
  }

  /** End of input: deliver everything, partial last pages included. */
  finish(): { events: number; lost: number } {
    for (const s of this.states) if (s.queued) s.queued.ended = true;
    this.run(true, true);
    return { events: this.events, lost: this.lost };
  }

  private run(all: boolean, final: boolean, waitFor?: ReadonlySet<number>): number {
    const before = this.events;
    if (!this.sorted) {
      this.states.sort((a, b) => a.cpu - b.cpu); // stable: a CPU listed twice keeps its order
      this.sorted = true;
    }
    const ready: CpuState[] = [];
    // events at or after `limit` wait: a fed CPU without a record may still bring earlier ones
    let limit: bigint | undefined;
    for (const s of this.states) {
      if (!s.ready) s.ready = s.cursor.advance();
      if (s.ready) ready.push(s);
      else if (s.queued && !all && !final && (!waitFor || waitFor.has(s.cpu))) limit = limit === undefined || s.last < limit ? s.last : limit;
    }
    const merge = new KWayMerge(ready, (a, b) => a.cursor.recTs < b.cursor.recTs || (a.cursor.recTs === b.cursor.recTs && a.cpu < b.cpu));
    const conv = this.opts.convert;
    const sink = this.sink;
    while (merge.size > 0) {
      const s = merge.top();
      const c = s.cursor;
      if (limit !== undefined && c.recTs >= limit) break;
      const ts = conv ? conv(c.recTs) : c.recTs;
      const where = ++this.events;
      if (c.recLost >= 0) {
        if (this.lostName < 0) this.lostName = sink.intern('lost_events');
        this.lost += c.recLost;
        sink.push(EV_LOST, ts, -1, -1, s.cpu, -1, BigInt(c.recLost), 0n, 0, this.lostName, where);
      }
      this.decoder.decode(c.bytes, c.view, c.recBase, c.recLen, ts, s.cpu, this.tgidOf, where);
      s.last = c.recTs;
      s.ready = c.advance();
      if (s.ready) merge.advanced();
      else {
        merge.drop();
        if (s.queued && !all && !final && (!waitFor || waitFor.has(s.cpu))) limit = limit === undefined || s.last < limit ? s.last : limit;
      }
    }
    return this.events - before;
  }
}
