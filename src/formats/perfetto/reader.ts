/**
 * Reader of Perfetto traces (`.pftrace`, `.perfetto-trace`): the ftrace data of `traced_probes`.
 *
 * Over 500 lines: the packet walk, the bundle decoding (typed, generic, dense generic, compact sched) and
 * the process tree are still together here (wire.ts is split out); packets/bundles files are open work.
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
 *   FtraceEvent: timestamp (1, ns), pid (2), one payload field:
 *     typed (sched_switch 4, sched_wakeup 17, sched_waking 20, print 3, kvm_* 376..400) -> protobufjs type
 *     generic (327): GenericFtraceEvent, the event name and (name, value) pairs
 *     dense generic (field id >= 65536): a message laid out by the bundle's GenericEventDescriptor
 *       (a serialized DescriptorProto: name = event name, one field per tracepoint field)
 *   -> kernel field names and values -> the same EV_* mapping as the tracefs readers (kvm-events.ts) -> EventSink
 *
 * Two passes, memory bounded by a bundle per CPU (plus a cache of decompressed packets): pass 1 reads the
 * packets one at a time, applies process trees, stats and generic descriptors, and lists each CPU's bundles
 * (file offset, or compressed packet + offset inside it); pass 2 decodes each CPU's bundles in turn and merges
 * the CPUs by timestamp. Files are ordered by drain period or grouped by packet sequence (one CPU after the
 * other, as the service returns a buffer read at the end): a CPU's events are in order either way.
 *
 * Perfetto's typed kvm protos were generated from the arm64 kernel: on x86, kvm_exit keeps none of its fields
 * (no exit_reason, isa or vcpu_id) and kvm_entry neither. Such an exit is pushed with the reason
 * REASON_NOT_RECORDED and without a vCPU id: pairing, per-thread counts and times still work; halted time and
 * the per-reason split do not. A capture whose kvm_exit is a generic event (older Perfetto, or the dense encoding
 * of a Perfetto that does not know the event) keeps the exit reason.
 */
import { KWayMerge } from '../kway.js';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { inflateCapped, unzstdCapped, MAX_INFLATED } from '../decompress.js';
import type { EventSink } from '../../core/sink.js';
import { KvmtaxError } from '../../core/errors.js';
import { packageRoot } from '../../core/package-root.js';
import { FormatError } from '../bytes.js';
import { Wire } from './wire.js';
import { arm64ExitReason } from '../arm64.js';
import {
  CLOCK_NS, EV_EXIT, EV_ENTRY, EV_VCPU_WAKEUP, EV_HALT_POLL_NS, EV_WAIT_LAPIC_EXPIRE, EV_MSR, EV_PIO, EV_MMIO,
  EV_USERSPACE_EXIT, EV_SCHED_SWITCH, EV_SCHED_WAKEUP, EV_PLE_WINDOW, EV_LOST, EV_OTHER,
  EXITF_FAILED_VMENTRY, EXITF_NO_VCPU, WAKE_WAITED, WAKE_VALID,
  SKIP_BAD_PAYLOAD, SKIP_BAD_TIMESTAMP, SKIP_UNRECOGNIZED,
} from '../../../assembly/constants.js';

/** The exit reason of a kvm_exit whose reason the capture did not keep (Perfetto's typed kvm_exit on x86). */
export const REASON_NOT_RECORDED = '(reason not recorded)';

/** FtraceEvent field ids from this one up are dense generic events (GenericFtraceTracker::kGenericEvtProtoMinPbFieldId). */
export const GENERIC_EVENT_MIN_FIELD_ID = 65536;

/** Decompressed compressed_packets kept for the second pass (bytes). */
const INFLATED_CACHE_BYTES = 64 << 20;
const MAX_NESTING = 4;


// FieldDescriptorProto.Type -> protobufjs scalar type (google/protobuf/descriptor.proto)
const DESC_TYPES: Record<number, string> = {
  1: 'double', 2: 'float', 3: 'int64', 4: 'uint64', 5: 'int32', 6: 'fixed64', 7: 'fixed32', 8: 'bool', 9: 'string',
  12: 'bytes', 13: 'uint32', 14: 'int32', 15: 'sfixed32', 16: 'sfixed64', 17: 'sint32', 18: 'sint64',
};

/**
 * sched_switch prev_state as the core takes it: the code of the first letter the kernel prints
 * (include/trace/events/sched.h: no state bit below TASK_REPORT_MAX = "R", else the letter of the lowest bit).
 */
const STATE_LETTERS = 'SDTtXZPI';
function stateLetter(raw: bigint): bigint {
  const s = Number(raw & 0xffn);
  if (s === 0) return 82n; // 'R'
  for (let i = 0; i < 8; i++) if (s & (1 << i)) return BigInt(STATE_LETTERS.charCodeAt(i));
  return 82n;
}

// ---------------------------------------------------------------------------------------------------------
// schema

interface Schema {
  root: protobuf.Root;
  processTree: protobuf.Type;
  ftraceStats: protobuf.Type;
  compactSched: protobuf.Type;
  genericDescriptor: protobuf.Type;
  descriptorProto: protobuf.Type;
  generic: protobuf.Type;
  /** FtraceEvent payload field id -> event name and (for the ones decoded) its type */
  events: Map<number, { name: string; type?: protobuf.Type }>;
}

let schemaCache: Schema | undefined;

/** Where perfetto.proto is: beside this module (src/formats/perfetto) or, from dist/, in the package's src/formats/perfetto. */
function protoPath(): string {
  const here = path.join(path.dirname(fileURLToPath(import.meta.url)), 'perfetto.proto');
  if (fs.existsSync(here)) return here;
  return path.join(packageRoot(), 'src', 'formats', 'perfetto', 'perfetto.proto');
}

/** The protobufjs root of perfetto.proto (package perfetto.protos, field names as in the .proto). */
export function perfettoRoot(): protobuf.Root {
  return schema().root;
}

function schema(): Schema {
  if (schemaCache) return schemaCache;
  const root = protobuf.parse(fs.readFileSync(protoPath(), 'utf8'), { keepCase: true }).root;
  root.resolveAll();
  const T = (n: string): protobuf.Type => root.lookupType(`perfetto.protos.${n}`);
  const events = new Map<number, { name: string; type?: protobuf.Type }>();
  for (const f of T('OtherFtraceEvents').fieldsArray) events.set(f.id, { name: f.name });
  for (const f of T('FtraceEvent').fieldsArray) {
    if (f.partOf?.name === 'event') events.set(f.id, { name: f.name, type: f.resolvedType as protobuf.Type });
  }
  schemaCache = {
    root, processTree: T('ProcessTree'), ftraceStats: T('FtraceStats'), compactSched: T('FtraceEventBundle.CompactSched'),
    genericDescriptor: T('FtraceEventBundle.GenericEventDescriptor'), descriptorProto: T('DescriptorProto'),
    generic: T('GenericFtraceEvent'), events,
  };
  return schemaCache;
}

// ---------------------------------------------------------------------------------------------------------
// values

type Value = bigint | string;
type Fields = Map<string, Value>;

interface LongLike { low: number; high: number; unsigned: boolean }

/** A decoded protobufjs scalar as bigint (numbers, Long, booleans); strings stay strings; bytes are dropped. */
function conv(v: unknown): Value | undefined {
  switch (typeof v) {
    case 'number': return Number.isInteger(v) ? BigInt(v) : BigInt(Math.trunc(v));
    case 'bigint': return v;
    case 'boolean': return v ? 1n : 0n;
    case 'string': return v;
    case 'object': {
      if (v === null || v instanceof Uint8Array) return undefined;
      const l = v as LongLike;
      if (typeof l.low !== 'number' || typeof l.high !== 'number') return undefined;
      const u = (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
      return l.unsigned ? u : BigInt.asIntN(64, u);
    }
    default: return undefined;
  }
}

const has = (m: object, k: string): boolean => Object.prototype.hasOwnProperty.call(m, k);

/** The fields present in a typed message, by name. */
function typedFields(m: protobuf.Message, t: protobuf.Type): Fields {
  const f: Fields = new Map();
  const o = m as unknown as Record<string, unknown>;
  for (const fd of t.fieldsArray) {
    if (!has(o, fd.name)) continue;
    const v = conv(o[fd.name]);
    if (v !== undefined) f.set(fd.name, v);
  }
  return f;
}

// ---------------------------------------------------------------------------------------------------------
// wire walking

/** protobufjs decode of buf[s, e), any decoding error reported as malformed `what` in the packet. */
function decodeIn(w: Wire, t: protobuf.Type, s: number, e: number, what: string): protobuf.Message {
  try {
    return t.decode(w.buf.subarray(s, e));
  } catch (err) {
    return w.bad(`malformed ${what} (${(err as Error).message})`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// the reader

/** What the reader saw, for the report's input metadata. */
export interface PerfettoInfo {
  packets: number;
  bundles: number;
  cpus: number;
  ftraceEvents: number;
  compactSched: number;
  genericEvents: number;
  denseGenericEvents: number;
  compressedPackets: number;
  lostBundles: number;
  /** kernel ring-buffer overruns per FtraceStats (end - start of trace) */
  overrun: number;
  /** kvm_exit events whose exit reason the capture did not keep */
  exitsWithoutReason: number;
}

/** A sink event waiting in its CPU's queue. tid / c may be CUR: the CPU's current task, known only in time order. */
interface Item {
  ts: bigint;
  kind: number;
  tid: number;
  vcpu: number;
  a: bigint;
  b: bigint;
  c: number;
  name: number;
  where: number;
  cpu: number;
  /** sched_switch: the task the CPU runs next */
  next?: number;
  /** (tid, comm) pairs the event reveals */
  comms?: Array<number | string>;
}

const CUR = -2;

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

interface GenericDesc {
  name: string;
  nameId: number;
  type: protobuf.Type;
  /** protobufjs field name (f<N>) -> tracepoint field name */
  fields: Array<[string, string]>;
}

class PerfettoReader {
  readonly info: PerfettoInfo = {
    packets: 0, bundles: 0, cpus: 0, ftraceEvents: 0, compactSched: 0, genericEvents: 0, denseGenericEvents: 0,
    compressedPackets: 0, lostBundles: 0, overrun: 0, exitsWithoutReason: 0,
  };
  private readonly s = schema();
  private readonly names = new Map<string, number>();
  private readonly reasonKeys = new Map<number, number>();
  private readonly tgids = new Map<number, number>();
  /** threads named by the process tree (authoritative) or once from a comm field */
  private readonly named = new Set<number>();
  /** per CPU: the task it runs (the pid of its latest event, or the next of its latest switch), and the one before */
  private readonly current = new Map<number, number>();
  private readonly before = new Map<number, number>();
  private readonly cursors = new Map<number, CpuCursor>();
  private readonly zcache = new Map<number, Uint8Array>();
  private zcacheBytes = 0;
  private readonly descs = new Map<number, GenericDesc>();
  private readonly seqSeen = new Set<number>();
  private readonly statsStart = new Map<number, bigint>();
  private readonly statsEnd = new Map<number, bigint>();

  constructor(private readonly sink: EventSink, private readonly fd: number) {}

  private nameId(n: string): number {
    let v = this.names.get(n);
    if (v === undefined) {
      v = this.sink.intern(n);
      this.names.set(n, v);
    }
    return v;
  }

  private reasonKey(isa: number, code: number): number {
    const k = isa * 4294967296 + code;
    let v = this.reasonKeys.get(k);
    if (v === undefined) {
      v = this.sink.reasonKey(isa, code);
      this.reasonKeys.set(k, v);
    }
    return v;
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
          this.trace(out, 0, out.length, { at: ctx.at, base: -1, z, depth: ctx.depth + 1 });
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
      const [field, wt] = w.tag();
      if (field === 1 && wt === 0) cpu = w.varint();
      else if (field === 3 && wt === 0) lost = w.varint() !== 0;
      else if (field === 11 && wt === 2) {
        const [ds, de] = w.lenDelim();
        this.descriptor(w, ds, de);
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
    const b = Buffer.alloc(loc.len);
    let got = 0;
    while (got < loc.len) {
      const n = fs.readSync(this.fd, b, got, loc.len - got, loc.off + got);
      if (n <= 0) throw new FormatError(`truncated packet at offset ${loc.at}`, loc.at);
      got += n;
    }
    return [b, 0, loc.len, loc.off];
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

  /** The sink events of one bundle, in time order, a lost-events marker first when it says so. */
  private decodeBundle(loc: BundleLoc, lastTs: bigint): Item[] {
    const [buf, s, e, base] = this.bundleBytes(loc);
    const w = new Wire(buf, s, e, loc.at, 'ftrace bundle');
    const whereOf = (off: number): number => (base >= 0 ? base + off : loc.at);
    const cpu = loc.cpu;
    const items: Item[] = [];
    while (w.more) {
      const [field, wt] = w.tag();
      if (field === 2 && wt === 2) {
        const [es, ee] = w.lenDelim();
        const it = this.event(w, es, ee, cpu, whereOf(es));
        if (it) items.push(it);
      } else if (field === 4 && wt === 2) {
        const [cs, ce] = w.lenDelim();
        this.compactSched(w, cs, ce, cpu, whereOf(cs), items);
      } else w.skip(wt);
    }
    // the event list and the two compact columns are each in time order: a stable sort merges them
    items.sort((x, y) => (x.ts < y.ts ? -1 : x.ts > y.ts ? 1 : 0));
    if (loc.lost || loc.seqLost) {
      const ts = items.length > 0 ? items[0]!.ts : lastTs >= 0n ? lastTs : 0n;
      // a bundle's lost_events is about its CPU; packets lost on a sequence may have held any CPU's
      items.unshift({ ts, kind: EV_LOST, tid: -1, vcpu: -1, a: 0n, b: 0n, c: 0, name: this.nameId('lost_events'),
        where: whereOf(s), cpu: loc.lost ? cpu : -1 });
    }
    return items;
  }

  /** Decode the cursor's next bundles until it has an event; false when it has none left. */
  private fill(c: CpuCursor): boolean {
    while (c.head >= c.items.length) {
      if (c.next >= c.locs.length) return false;
      const loc = c.locs[c.next]!;
      c.locs[c.next++] = undefined as unknown as BundleLoc; // done with it
      c.items = guarded(loc.at, () => this.decodeBundle(loc, c.last));
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

  private descriptor(w: Wire, s: number, e: number): void {
    const g = decodeIn(w, this.s.genericDescriptor, s, e, 'generic event descriptor') as unknown as
      { field_id?: number; event_descriptor?: Uint8Array };
    const id = g.field_id ?? 0;
    if (id < GENERIC_EVENT_MIN_FIELD_ID || !g.event_descriptor) w.bad(`bad generic event descriptor (field id ${id})`);
    if (this.descs.has(id)) return; // stays the same for the whole trace
    let d: { name?: string; field?: Array<{ name?: string; number?: number; type?: number }> };
    try {
      d = this.s.descriptorProto.decode(g.event_descriptor) as unknown as typeof d;
    } catch (err) {
      return w.bad(`malformed generic event descriptor (${(err as Error).message})`);
    }
    const name = d.name || `generic_${id}`;
    const type = new protobuf.Type(`E${id}`);
    const fields: Array<[string, string]> = [];
    for (const f of d.field ?? []) {
      const n = f.number ?? 0;
      if (n <= 0 || n > 0x1fffffff) w.bad(`bad field number ${n} in the generic descriptor of ${name}`);
      const key = `f${n}`;
      if (type.fields[key]) w.bad(`field number ${n} twice in the generic descriptor of ${name}`);
      type.add(new protobuf.Field(key, n, DESC_TYPES[f.type ?? 0] ?? 'bytes'));
      fields.push([key, f.name || key]);
    }
    new protobuf.Root().define('generic').add(type);
    this.descs.set(id, { name, nameId: this.nameId(name), type, fields });
  }

  private compactSched(w: Wire, s: number, e: number, cpu: number, where: number, out: Item[]): void {
    const cs = decodeIn(w, this.s.compactSched, s, e, 'compact_sched') as unknown as Record<string, unknown[]>;
    const table = (cs.intern_table ?? []) as string[];
    const col = (k: string): unknown[] => cs[k] ?? [];
    // sched_switch: timestamps are deltas; prev is the CPU's current task
    {
      const ts = col('switch_timestamp'), st = col('switch_prev_state'), np = col('switch_next_pid'), ci = col('switch_next_comm_index');
      const n = Math.min(ts.length, st.length, np.length, ci.length);
      if (n !== Math.max(ts.length, st.length, np.length, ci.length)) {
        this.sink.skip(SKIP_BAD_PAYLOAD, where, `compact_sched: sched_switch columns of different lengths (${ts.length}, ${st.length}, ${np.length}, ${ci.length})`);
      }
      const name = this.nameId('sched_switch');
      let t = 0n;
      for (let i = 0; i < n; i++) {
        t += conv(ts[i]) as bigint;
        const next = Number(conv(np[i]));
        const comm = table[Number(conv(ci[i]))];
        if (comm === undefined) {
          this.sink.skip(SKIP_BAD_PAYLOAD, where, `compact_sched: comm index ${String(ci[i])} past the intern table (${table.length})`);
          continue;
        }
        out.push({ ts: t, kind: EV_SCHED_SWITCH, tid: CUR, vcpu: -1, a: BigInt(next), b: stateLetter(conv(st[i]) as bigint), c: CUR, name,
          where, cpu, next, comms: [next, comm] });
        this.info.compactSched++;
      }
    }
    // sched_waking: the waker is the CPU's current task
    {
      const ts = col('waking_timestamp'), pid = col('waking_pid'), tc = col('waking_target_cpu'), ci = col('waking_comm_index');
      const n = Math.min(ts.length, pid.length, tc.length, ci.length);
      if (n !== Math.max(ts.length, pid.length, tc.length, ci.length)) {
        this.sink.skip(SKIP_BAD_PAYLOAD, where, `compact_sched: sched_waking columns of different lengths (${ts.length}, ${pid.length}, ${tc.length}, ${ci.length})`);
      }
      const name = this.nameId('sched_waking');
      let t = 0n;
      for (let i = 0; i < n; i++) {
        t += conv(ts[i]) as bigint;
        const woken = Number(conv(pid[i]));
        const comm = table[Number(conv(ci[i]))];
        if (comm === undefined) {
          this.sink.skip(SKIP_BAD_PAYLOAD, where, `compact_sched: comm index ${String(ci[i])} past the intern table (${table.length})`);
          continue;
        }
        out.push({ ts: t, kind: EV_SCHED_WAKEUP, tid: CUR, vcpu: -1, a: BigInt(woken), b: 0n, c: Number(conv(tc[i])), name,
          where, cpu, comms: [woken, comm] });
        this.info.compactSched++;
      }
    }
  }

  /** One FtraceEvent: its sink event, or undefined (skipped and counted). */
  private event(bw: Wire, s: number, e: number, cpu: number, where: number): Item | undefined {
    this.info.ftraceEvents++;
    const w = new Wire(bw.buf, s, e, bw.at, 'ftrace event');
    let ts: bigint | undefined;
    let pid = -1;
    let payload: [number, number, number] | undefined; // field, start, end
    while (w.more) {
      const [field, wt] = w.tag();
      if (field === 1 && wt === 0) ts = w.varintBig();
      else if (field === 2 && wt === 0) pid = Number(BigInt.asIntN(32, w.varintBig()));
      else if (wt === 2 && field !== 1 && field !== 2 && field !== 5 && !payload) {
        const [ps, pe] = w.lenDelim();
        payload = [field, ps, pe];
      } else w.skip(wt);
    }
    if (ts === undefined) {
      this.sink.skip(SKIP_BAD_TIMESTAMP, where, 'ftrace event without a timestamp');
      return undefined;
    }
    if (!payload) {
      this.sink.skip(SKIP_UNRECOGNIZED, where, 'ftrace event without a payload');
      return undefined;
    }
    const [field, ps, pe] = payload;
    let evName: string;
    let nameId: number;
    let f: Fields;
    if (field >= GENERIC_EVENT_MIN_FIELD_ID) {
      const d = this.descs.get(field);
      if (!d) {
        this.sink.skip(SKIP_UNRECOGNIZED, where, `generic ftrace event ${field} without a descriptor`);
        return undefined;
      }
      this.info.denseGenericEvents++;
      const m = decodeIn(w, d.type, ps, pe, `${d.name} event`) as unknown as Record<string, unknown>;
      f = new Map();
      for (const [key, fname] of d.fields) {
        if (!has(m, key)) continue;
        const v = conv(m[key]);
        if (v !== undefined) f.set(fname, v);
      }
      evName = d.name;
      nameId = d.nameId;
    } else if (field === 327) {
      this.info.genericEvents++;
      const g = decodeIn(w, this.s.generic, ps, pe, 'generic ftrace event') as unknown as
        { event_name?: string; field?: Array<Record<string, unknown>> };
      evName = g.event_name || 'generic';
      nameId = this.nameId(evName);
      f = new Map();
      for (const x of g.field ?? []) {
        const n = x.name as string | undefined;
        if (!n) continue;
        const v = has(x, 'str_value') ? conv(x.str_value) : has(x, 'int_value') ? conv(x.int_value) : has(x, 'uint_value') ? conv(x.uint_value) : undefined;
        if (v !== undefined) f.set(n, v);
      }
    } else {
      const ev = this.s.events.get(field);
      evName = ev?.name ?? `ftrace_event_${field}`;
      nameId = this.nameId(evName);
      f = ev?.type ? typedFields(decodeIn(w, ev.type, ps, pe, `${evName} event`), ev.type) : new Map();
    }
    return this.map(evName, nameId, f, ts, pid, cpu, where);
  }

  /** Kernel field names and values -> sink event (the mapping of kvm-events.ts). */
  private map(ev: string, name: number, f: Fields, ts: bigint, tid: number, cpu: number, where: number): Item | undefined {
    const big = (k: string): bigint | undefined => {
      const v = f.get(k);
      return typeof v === 'bigint' ? v : undefined;
    };
    const str = (k: string): string => {
      const v = f.get(k);
      return typeof v === 'string' ? v.replace(/\0[^]*$/, '') : '';
    };
    const vcpuV = big('vcpu_id');
    const vcpu = vcpuV === undefined ? -1 : Number(BigInt.asIntN(32, vcpuV));
    const item = (kind: number, a: bigint, b: bigint, c: number, v = vcpu): Item =>
      ({ ts, kind, tid, vcpu: v, a, b, c, name, where, cpu });
    switch (ev) {
      case 'kvm_exit': {
        const reason = big('exit_reason');
        if (reason !== undefined) {
          const isaV = big('isa');
          const isa = isaV === 2n ? 2 : 1; // without an isa field: VMX (see the module comment of kvm-events.ts)
          const raw = Number(reason & 0xffffffffn);
          let c = vcpuV === undefined ? EXITF_NO_VCPU : 0;
          let code = raw;
          if (isa === 1) {
            code = raw & 0xffff;
            if (raw >= 0x80000000) c |= EXITF_FAILED_VMENTRY;
          }
          return item(EV_EXIT, BigInt(this.reasonKey(isa, code)), big('guest_rip') ?? 0n, c);
        }
        const ret = big('ret');
        if (ret !== undefined || big('esr_ec') !== undefined) {
          // arm64 (KvmExitFtraceEvent: ret, esr_ec, vcpu_pc): a TRAP is named by its exception class (arm64.ts)
          const r = Number(BigInt.asUintN(32, ret ?? 0n));
          const ec = Number(BigInt.asUintN(32, big('esr_ec') ?? 0n));
          return item(EV_EXIT, BigInt(this.nameId(arm64ExitReason(r, ec))), big('vcpu_pc') ?? 0n, EXITF_NO_VCPU);
        }
        this.info.exitsWithoutReason++;
        return item(EV_EXIT, BigInt(this.nameId(REASON_NOT_RECORDED)), big('vcpu_pc') ?? 0n, EXITF_NO_VCPU);
      }
      case 'kvm_entry':
        return item(EV_ENTRY, 0n, big('rip') ?? big('vcpu_pc') ?? 0n, 0);
      case 'kvm_vcpu_wakeup': {
        const c = (big('waited') ? WAKE_WAITED : 0) | (big('valid') ? WAKE_VALID : 0);
        const ns = big('ns') ?? 0n;
        // as in kvm-events.ts: a negative or centuries-long halt time is a damaged record
        if (ns < 0n || ns >= 1n << 62n) {
          this.sink.skip(SKIP_BAD_PAYLOAD, where, `kvm_vcpu_wakeup: time ${ns} ns`);
          return undefined;
        }
        return item(EV_VCPU_WAKEUP, ns, 0n, c);
      }
      case 'kvm_halt_poll_ns':
        return item(EV_HALT_POLL_NS, big('new') ?? 0n, big('old') ?? 0n, big('grow') ? 1 : 0);
      case 'kvm_wait_lapic_expire': {
        const d = BigInt.asIntN(64, big('delta') ?? 0n);
        return item(EV_WAIT_LAPIC_EXPIRE, d, 0n, d < 0n ? 1 : 0);
      }
      case 'kvm_msr':
        return item(EV_MSR, big('ecx') ?? 0n, big('data') ?? 0n, (big('write') ? 1 : 0) | (big('exception') ? 2 : 0));
      case 'kvm_pio':
        return item(EV_PIO, big('port') ?? 0n, big('val') ?? big('data') ?? 0n, big('rw') ? 1 : 0);
      case 'kvm_mmio':
        // type: 0 unsatisfied read, 1 read, 2 write (KVM_TRACE_MMIO_*); the core wants 1 = write
        return item(EV_MMIO, big('gpa') ?? 0n, big('val') ?? 0n, big('type') === 2n ? 1 : 0);
      case 'kvm_userspace_exit':
        return item(EV_USERSPACE_EXIT, big('reason') ?? 0n, 0n, 0);
      case 'kvm_ple_window_update':
        return item(EV_PLE_WINDOW, big('new') ?? 0n, big('old') ?? 0n, 0);
      case 'sched_switch': {
        const prev = Number(big('prev_pid') ?? BigInt(tid));
        const next = Number(big('next_pid') ?? -1n);
        const it = item(EV_SCHED_SWITCH, BigInt(next), stateLetter(big('prev_state') ?? 0n), prev, -1);
        it.next = next;
        it.comms = [prev, str('prev_comm'), next, str('next_comm')];
        return it;
      }
      case 'sched_wakeup':
      case 'sched_waking': {
        const woken = Number(big('pid') ?? -1n);
        const it = item(EV_SCHED_WAKEUP, BigInt(woken), 0n, Number(big('target_cpu') ?? -1n), -1);
        it.comms = [woken, str('comm')];
        return it;
      }
      default:
        // other kvm events may tell the thread's vCPU id (as the text readers take it)
        return item(EV_OTHER, 0n, 0n, 0, ev.startsWith('kvm_') ? vcpu : -1);
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
    const r = new PerfettoReader(sink, fd);
    // pass 1: every top-level packet, read one at a time
    const head = Buffer.alloc(16);
    let buf = Buffer.alloc(1 << 16);
    let pos = 0;
    while (pos < size) {
      const at = pos;
      const hn = fs.readSync(fd, head, 0, Math.min(head.length, size - pos), pos);
      const w = new Wire(head, 0, hn, at, 'trace packet header');
      const [field, wt] = w.tag();
      if (wt !== 2) {
        if (wt !== 0 && wt !== 1 && wt !== 5) w.bad(`expected a TracePacket (field 1), found field ${field} of wire type ${wt}`);
        w.skip(wt);
        pos += w.pos;
        continue;
      }
      const len = w.varint();
      const dataOff = at + w.pos;
      if (len > size - dataOff) {
        throw new FormatError(`truncated packet at offset ${at}: ${len} bytes announced, ${size - dataOff} left in the file`, at);
      }
      if (field === 1) {
        if (buf.length < len) buf = Buffer.alloc(Math.max(len, buf.length * 2));
        let got = 0;
        while (got < len) {
          const n = fs.readSync(fd, buf, got, len - got, dataOff + got);
          if (n <= 0) throw new FormatError(`truncated packet at offset ${at}`, at);
          got += n;
        }
        guarded(at, () => r.packet(buf, 0, len, { at, base: dataOff, depth: 0 }));
      }
      pos = dataOff + len;
    }
    // pass 2: the events, CPUs merged in time order
    r.finish();
    return r.info;
  } finally {
    fs.closeSync(fd);
  }
}

/** Run `f`, reporting any exception that is not already a kvmtax error as malformed data at `at`. */
function guarded<T>(at: number, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof FormatError || e instanceof KvmtaxError) throw e;
    throw new FormatError(`malformed packet at offset ${at}: ${(e as Error).message}`, at);
  }
}
