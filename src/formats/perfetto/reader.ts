/**
 * Reader of Perfetto traces (`.pftrace`, `.perfetto-trace`): the ftrace data of `traced_probes`.
 *
 * Files: wire.ts (the protobuf wire walk, the sniff), schema.ts (perfetto.proto through protobufjs), bundles.ts
 * (an FtraceEventBundle -> events), fast.ts, fast-tables.ts and fast-wire.ts (events, payloads, generic events and
 * compact_sched decoded by hand where protobufjs would give the same), events.ts (kernel fields -> sink events), packets.ts (the top-level walk, read windows),
 * this file (the two passes, the merge of the CPUs).
 *
 * Where the format is defined (facts taken from google/perfetto, code written from scratch): the protos listed
 * in perfetto.proto beside this file, which protobufjs loads at run time; src/traced/probes/ftrace/cpu_reader.cc
 * and proto_translation_table.cc (how bundles, compact sched and dense generic events are written) and
 * src/trace_processor/importers/ftrace/ftrace_tokenizer.cc (how they are read back).
 *
 * Data flow:
 *
 *   file: Trace = repeated TracePacket (field 1), walked here one packet at a time (bounded memory)
 *   TracePacket: ftrace_events (1) | process_tree (2) | ftrace_stats (34) | compressed_packets (50, zlib) |
 *                zstd_compressed_packets (133): a compressed serialized Trace, walked recursively
 *   FtraceEventBundle (one CPU): event[] (2), lost_events (3), compact_sched (4), generic descriptors (11)
 *     -> bundles.ts -> events.ts -> the same EV_* mapping as the tracefs readers (kvm-events.ts) -> EventSink
 *
 * Two passes, memory bounded by a bundle per CPU (plus a cache of decompressed packets): pass 1 reads the
 * packets one at a time, applies process trees, stats and generic descriptors, and lists each CPU's bundles
 * (file offset, or compressed packet + offset inside it); pass 2 decodes each CPU's bundles in turn and merges
 * the CPUs by timestamp. Files are ordered by drain period or grouped by packet sequence (one CPU after the
 * other, as the service returns a buffer read at the end): a CPU's events are in order either way.
 */
import { KWayMerge } from '../kway.js';
import fs from 'node:fs';
import path from 'node:path';
import type protobuf from 'protobufjs';
import { inflateCapped, unzstdCapped, MAX_INFLATED } from '../decompress.js';
import type { EventSink } from '../../core/sink.js';
import { FormatError } from '../bytes.js';
import { Wire } from './wire.js';
import { forEachPacket, guarded, FileWindows } from './packets.js';
import { schema, conv, decodeIn } from './schema.js';
import { BundleDecoder } from './bundles.js';
import { CUR, type Item, type PerfettoInfo } from './events.js';
import { CLOCK_NS, EV_LOST, SKIP_BAD_PAYLOAD } from '../../../assembly/constants.js';

export { perfettoRoot } from './schema.js';
export { REASON_NOT_RECORDED, type PerfettoInfo } from './events.js';
export { GENERIC_EVENT_MIN_FIELD_ID } from './bundles.js';

/** Decompressed compressed_packets kept for the second pass (bytes). */
const INFLATED_CACHE_BYTES = 64 << 20;
const MAX_NESTING = 4;


/** A compressed packet payload in the file. */
interface ZSrc {
  off: number;
  len: number;
  how: 'zlib' | 'zstd';
}

/**
 * Where a bundle is: [off, off+len) of the file, or of the decompressed payload `z`, or in `bytes` (a copy, for
 * compressed packets inside compressed packets). `at`: the file offset of its top-level packet.
 */
interface BundleLoc {
  cpu: number;
  at: number;
  off: number;
  len: number;
  z?: ZSrc;
  bytes?: Uint8Array;
  lost: boolean;
  seqLost: boolean;
}

/** Where a packet being indexed lies: base = file offset of buf[0] (-1 inside decompressed data). */
interface PacketCtx {
  at: number;
  base: number;
  z?: ZSrc;
  depth: number;
}

/** One CPU's bundles (file order) and the decoded events of the current one. */
interface CpuCursor {
  cpu: number;
  locs: BundleLoc[];
  next: number;
  items: Item[];
  head: number;
  last: bigint;
}

class PerfettoReader {
  readonly info: PerfettoInfo = {
    packets: 0, bundles: 0, cpus: 0, ftraceEvents: 0, compactSched: 0, genericEvents: 0, denseGenericEvents: 0,
    compressedPackets: 0, lostBundles: 0, overrun: 0, exitsWithoutReason: 0,
  };
  private readonly s = schema();
  private readonly bundles: BundleDecoder;
  private readonly tgids = new Map<number, number>();
  /** threads named by the process tree (authoritative) or once from a comm field */
  private readonly named = new Set<number>();
  /** per CPU: the task it runs (the pid of its latest event, or the next of its latest switch), and the one before */
  private readonly current = new Map<number, number>();
  private readonly before = new Map<number, number>();
  private readonly cursors = new Map<number, CpuCursor>();
  private readonly zcache = new Map<number, Uint8Array>();
  private zcacheBytes = 0;
  private readonly seqSeen = new Set<number>();
  private readonly statsStart = new Map<number, bigint>();
  private readonly statsEnd = new Map<number, bigint>();
  private windows?: FileWindows;

  constructor(private readonly sink: EventSink, private readonly fd: number, private readonly size: number) {
    this.bundles = new BundleDecoder(sink, this.info);
  }

  private tgidOf(tid: number): number {
    return this.tgids.get(tid) ?? -1;
  }

  // ---- pass 1: index the bundles per CPU; process trees, stats and generic descriptors ----

  /** Walk a serialized Trace (the payload of a compressed packet) in buf[start, end). */
  private trace(buf: Uint8Array, start: number, end: number, ctx: PacketCtx): void {
    const w = new Wire(buf, start, end, ctx.at, 'compressed packets');
    while (w.more) {
      const [field, wt] = w.tag();
      if (field !== 1 || wt !== 2) {
        w.skip(wt);
        continue;
      }
      const [s, e] = w.lenDelim();
      this.packet(buf, s, e, ctx);
    }
  }

  /** One TracePacket in buf[s, e). */
  packet(buf: Uint8Array, s: number, e: number, ctx: PacketCtx): void {
    this.info.packets++;
    const pw = new Wire(buf, s, e, ctx.at, 'packet');
    let seq = 0;
    let dropped = 0;
    const bundles: Array<[number, number]> = [];
    while (pw.more) {
      const [field, wt] = pw.tag();
      if (wt !== 2) {
        if (field === 10 && wt === 0) seq = pw.varint();
        else if (field === 42 && wt === 0) dropped = pw.varint();
        else pw.skip(wt);
        continue;
      }
      const [ds, de] = pw.lenDelim();
      switch (field) {
        case 1: bundles.push([ds, de]); break;
        case 2: this.processTree(decodeIn(pw, this.s.processTree, ds, de, 'process_tree')); break;
        case 34: this.ftraceStats(decodeIn(pw, this.s.ftraceStats, ds, de, 'ftrace_stats')); break;
        case 50:
        case 133: {
          if (ctx.depth >= MAX_NESTING) pw.bad('compressed packets nested too deeply');
          this.info.compressedPackets++;
          const how = field === 133 ? 'zstd' : 'zlib';
          const out = this.decompress(pw, buf.subarray(ds, de), how);
          const z = ctx.base >= 0 ? { off: ctx.base + ds, len: de - ds, how } as ZSrc : undefined;
          const before = this.info.bundles;
          this.trace(out, 0, out.length, { at: ctx.at, base: -1, z, depth: ctx.depth + 1 });
          // kept for pass 2 while the cache has room (it starts with the earliest packets, as pass 2 does)
          if (z && this.info.bundles > before && this.zcacheBytes + out.length <= INFLATED_CACHE_BYTES) {
            this.zcache.set(z.off, out);
            this.zcacheBytes += out.length;
          }
          break;
        }
        default: break;
      }
    }
    // a sequence that lost packets (the flag is also set on a sequence's first packet: ignored then)
    const seqLost = dropped !== 0 && seq !== 0 && this.seqSeen.has(seq);
    if (seq !== 0) this.seqSeen.add(seq);
    for (const [bs, be] of bundles) this.indexBundle(pw, bs, be, ctx, seqLost);
  }

  private decompress(w: Wire, data: Uint8Array, how: 'zlib' | 'zstd'): Uint8Array {
    // capped like every reader's inflate (src/formats/decompress.ts): zstd frames without a stated size too
    try {
      return how === 'zstd' ? unzstdCapped(data) : inflateCapped(data, MAX_INFLATED, true);
    } catch (err) {
      return w.bad(`corrupt ${how === 'zstd' ? 'zstd_' : ''}compressed_packets (${(err as Error).message})`);
    }
  }

  private processTree(m: protobuf.Message): void {
    const pt = m as unknown as {
      processes: Array<{ pid?: number; cmdline?: string[] }>;
      threads: Array<{ tid?: number; tgid?: number; name?: string }>;
    };
    for (const p of pt.processes ?? []) {
      if (p.pid === undefined || p.pid <= 0) continue;
      this.tgids.set(p.pid, p.pid);
      const argv0 = p.cmdline?.[0];
      if (argv0) this.name(p.pid, path.posix.basename(argv0.split('\0')[0]!) || argv0, true);
    }
    for (const t of pt.threads ?? []) {
      if (t.tid === undefined || t.tid <= 0) continue;
      if (t.tgid !== undefined && t.tgid > 0) this.tgids.set(t.tid, t.tgid);
      if (t.name) this.name(t.tid, t.name, true);
    }
  }

  private name(tid: number, comm: string, authoritative: boolean): void {
    if (tid <= 0 || comm === '') return;
    if (!authoritative && this.named.has(tid)) return;
    this.named.add(tid);
    this.sink.nameThread(tid, this.tgidOf(tid), comm);
  }

  private ftraceStats(m: protobuf.Message): void {
    const st = m as unknown as { phase?: number; cpu_stats: Array<Record<string, unknown>> };
    const into = st.phase === 1 ? this.statsStart : st.phase === 2 ? this.statsEnd : undefined;
    if (!into) return;
    for (const c of st.cpu_stats ?? []) {
      const cpu = conv(c.cpu);
      const n = ((conv(c.overrun) as bigint | undefined) ?? 0n) + ((conv(c.dropped_events) as bigint | undefined) ?? 0n);
      if (typeof cpu === 'bigint') into.set(Number(cpu), n);
    }
  }

  private indexBundle(pw: Wire, s: number, e: number, ctx: PacketCtx, seqLost: boolean): void {
    this.info.bundles++;
    const w = new Wire(pw.buf, s, e, ctx.at, 'ftrace bundle');
    let cpu = -1;
    let lost = false;
    let data = false;
    while (w.more) {
      const t = w.tagN();
      const field = Math.floor(t / 8), wt = t & 7;
      if (field === 1 && wt === 0) cpu = w.varint();
      else if (field === 3 && wt === 0) lost = w.varint() !== 0;
      else if (field === 11 && wt === 2) {
        const ds = w.lenStart();
        this.bundles.descriptor(w, ds, w.lenEnd);
      } else {
        if ((field === 2 || field === 4) && wt === 2) data = true;
        w.skip(wt);
      }
    }
    if (cpu < 0) {
      if (data) this.sink.skip(SKIP_BAD_PAYLOAD, ctx.base >= 0 ? ctx.base + s : ctx.at, 'ftrace bundle without a cpu');
      return;
    }
    if (cpu > 65535) w.bad(`bad cpu ${cpu}`);
    if (!data && !lost && !seqLost) return;
    const loc: BundleLoc = { cpu, at: ctx.at, off: ctx.base >= 0 ? ctx.base + s : s, len: e - s, lost, seqLost };
    if (ctx.base < 0) {
      if (ctx.depth === 1 && ctx.z) loc.z = ctx.z;
      else {
        loc.bytes = pw.buf.slice(s, e);
        loc.off = 0;
      }
    }
    let c = this.cursors.get(cpu);
    if (!c) {
      c = { cpu, locs: [], next: 0, items: [], head: 0, last: -1n };
      this.cursors.set(cpu, c);
      this.info.cpus = this.cursors.size;
    }
    c.locs.push(loc);
    if (lost) this.info.lostBundles++;
  }

  // ---- pass 2: decode the bundles of each CPU in turn, merged in time order ----

  /** The bytes of a bundle: buf[s, e), base = file offset of buf[0] (-1: not in the file as such). */
  private bundleBytes(loc: BundleLoc): [Uint8Array, number, number, number] {
    if (loc.bytes) return [loc.bytes, 0, loc.len, -1];
    if (loc.z) {
      const out = this.inflated(loc.z, loc.at);
      if (loc.off + loc.len > out.length) throw new FormatError(`compressed packets changed between reads at offset ${loc.at}`, loc.at);
      return [out, loc.off, loc.off + loc.len, -1];
    }
    // windows of 1 MiB down to 64 KiB, a slot per CPU and two more, 32 MiB at most
    const slots = Math.min(this.cursors.size + 2, 512);
    this.windows ??= new FileWindows(this.fd, this.size, Math.max(64 << 10, Math.min(1 << 20, Math.floor((32 << 20) / slots))), slots);
    const [b, i] = this.windows.get(loc.off, loc.len, loc.at);
    return [b, i, i + loc.len, loc.off - i];
  }

  private inflated(z: ZSrc, at: number): Uint8Array {
    const hit = this.zcache.get(z.off);
    if (hit) return hit;
    const data = Buffer.alloc(z.len);
    fs.readSync(this.fd, data, 0, z.len, z.off);
    const out = this.decompress(new Wire(data, 0, z.len, at, 'packet'), data, z.how);
    this.zcache.set(z.off, out);
    this.zcacheBytes += out.length;
    for (const [k, v] of this.zcache) {
      if (this.zcacheBytes <= INFLATED_CACHE_BYTES || this.zcache.size <= this.cursors.size) break;
      this.zcache.delete(k);
      this.zcacheBytes -= v.length;
    }
    return out;
  }

  /** Decode the cursor's next bundles until it has an event; false when it has none left. */
  private fill(c: CpuCursor): boolean {
    while (c.head >= c.items.length) {
      if (c.next >= c.locs.length) return false;
      const loc = c.locs[c.next]!;
      c.locs[c.next++] = undefined as unknown as BundleLoc; // done with it
      c.items = guarded(loc.at, () => {
        const [buf, s, e, base] = this.bundleBytes(loc);
        return this.bundles.decode(buf, s, e, base, loc, c.last);
      });
      c.head = 0;
    }
    return true;
  }

  /** Push every event, CPUs merged by timestamp (equal timestamps: lower CPU first). */
  emitAll(): void {
    const key = (c: CpuCursor): bigint => c.items[c.head]!.ts;
    const merge = new KWayMerge([...this.cursors.values()].sort((a, b) => a.cpu - b.cpu).filter((c) => this.fill(c)),
      (a, b) => key(a) < key(b) || (key(a) === key(b) && a.cpu < b.cpu));
    while (merge.size > 0) {
      const c = merge.top();
      const it = c.items[c.head++]!;
      if (it.ts > c.last) c.last = it.ts;
      this.emit(it);
      if (this.fill(c)) merge.advanced();
      else merge.drop();
    }
  }

  private emit(it: Item): void {
    const cpu = it.cpu;
    let tid = it.tid;
    if (tid === CUR) {
      tid = this.current.get(cpu) ?? -1;
      // a task does not switch to itself: an event of `next` with the same timestamp came first (the bundle's
      // event list and compact columns only keep the order within each), so the previous task was the one before
      if (it.next !== undefined && tid === it.next) tid = this.before.get(cpu) ?? -1;
    }
    const c = it.c === CUR ? tid : it.c;
    if (it.comms) {
      for (let i = 0; i + 1 < it.comms.length; i += 2) this.name(it.comms[i] as number, it.comms[i + 1] as string, false);
    }
    this.sink.push(it.kind, it.ts, tid, it.kind === EV_LOST ? -1 : this.tgidOf(tid), cpu, it.vcpu, it.a, it.b, c, it.name, it.where);
    if (it.next !== undefined) {
      this.before.set(cpu, tid);
      this.current.set(cpu, it.next);
    } else if (it.kind !== EV_LOST && tid >= 0 && it.tid !== CUR) {
      const cur = this.current.get(cpu);
      if (cur !== tid) {
        if (cur !== undefined) this.before.set(cpu, cur);
        this.current.set(cpu, tid);
      }
    }
  }

  finish(): void {
    this.emitAll();
    let overrun = 0n;
    for (const [cpu, end] of this.statsEnd) {
      const d = end - (this.statsStart.get(cpu) ?? 0n);
      if (d > 0n) overrun += d;
    }
    this.info.overrun = Number(overrun);
  }
}

// ---------------------------------------------------------------------------------------------------------
// entry point

/**
 * Decode a Perfetto trace into `sink`: beginFile (CLOCK_NS: FtraceEvent timestamps are ns of the trace clock,
 * boot time by default), nameThread for the process tree (and once per thread from sched comm fields), then one
 * push per ftrace event in time order, preceded by an EV_LOST push on a CPU whose bundle says the kernel lost
 * events (count unknown: a = 0). `where` is the event's byte offset in the file (inside compressed packets: the
 * compressed packet's offset).
 * Throws FormatError (message and byte offset of the packet) on truncated or malformed data; events decoded
 * before the damage may have been pushed.
 */
export function readPerfetto(file: string, sink: EventSink): PerfettoInfo {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) throw new FormatError('empty file: no Perfetto trace packets at offset 0', 0);
    sink.beginFile(file, CLOCK_NS);
    const r = new PerfettoReader(sink, fd, size);
    // pass 1: every top-level packet, read one at a time
    forEachPacket(fd, size, (buf, len, at, dataOff) => guarded(at, () => r.packet(buf, 0, len, { at, base: dataOff, depth: 0 })));
    // pass 2: the events, CPUs merged in time order
    r.finish();
    return r.info;
  } finally {
    fs.closeSync(fd);
  }
}
