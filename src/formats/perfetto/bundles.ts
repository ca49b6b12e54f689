/**
 * Perfetto ftrace bundles (FtraceEventBundle, one CPU's events of one drain period) decoded into sink events:
 *   event[] (2): FtraceEvent = timestamp (1, ns), pid (2), one payload field:
 *     typed (sched_switch 4, sched_wakeup 17, sched_waking 20, print 3, kvm_* 376..400) -> protobufjs type
 *     generic (327): GenericFtraceEvent, the event name and (name, value) pairs
 *     dense generic (field id >= 65536): a message laid out by the bundle's GenericEventDescriptor
 *       (11: a serialized DescriptorProto: name = event name, one field per tracepoint field)
 *   compact_sched (4): sched_switch / sched_waking as delta-coded columns and an intern table of comms
 * The wire walk is by hand (wire.ts); events, payloads of plain scalar fields, generic events and compact_sched
 * are decoded by hand too (fast.ts, fast-tables.ts), the rest with protobufjs (schema.ts); events.ts maps fields.
 * Where the format is defined: src/traced/probes/ftrace/cpu_reader.cc and proto_translation_table.cc of
 * google/perfetto (how bundles, compact sched and dense generic events are written).
 */
import protobuf from 'protobufjs';
import type { EventSink } from '../../core/sink.js';
import { Wire } from './wire.js';
import { schema, conv, has, typedFields, decodeIn, stateLetter, DESC_TYPES, type Fields } from './schema.js';
import { mapEvent, fieldsRead, CUR, type Item, type MapContext, type PerfettoInfo } from './events.js';
import { SLOW, eventHead, payloadFields, planOf, type Plan } from './fast.js';
import { genericEvent, compactSched as compactFast } from './fast-tables.js';
import {
  EV_SCHED_SWITCH, EV_SCHED_WAKEUP, EV_LOST, SKIP_BAD_PAYLOAD, SKIP_BAD_TIMESTAMP, SKIP_UNRECOGNIZED,
} from '../../../assembly/constants.js';

/** FtraceEvent field ids from this one up are dense generic events (GenericFtraceTracker::kGenericEvtProtoMinPbFieldId). */
export const GENERIC_EVENT_MIN_FIELD_ID = 65536;

interface GenericDesc {
  name: string;
  nameId: number;
  type: protobuf.Type;
  /** protobufjs field name (f<N>) -> tracepoint field name */
  fields: Array<[string, string]>;
  /** how fast.ts reads it (undefined: protobufjs does) */
  plan?: Plan;
}

/** Decode by hand (fast.ts) where it gives what protobufjs gives; off in the tests that compare the two. */
let fastPath = true;
export function perfettoFastPath(on: boolean): void { fastPath = on; }
/** Events and compact_sched messages decoded by hand, and those declined (for the tests). */
export const fastCounts = { events: 0, compact: 0, declined: 0 };

/** What decode() needs to know of a bundle besides its bytes. */
export interface BundleHead {
  cpu: number;
  /** the file offset of its top-level packet */
  at: number;
  /** the bundle's lost_events flag */
  lost: boolean;
  /** its packet sequence lost packets before it */
  seqLost: boolean;
}

/** Decodes bundles; holds what stays for the whole trace (interned names, reason keys, generic descriptors). */
export class BundleDecoder implements MapContext {
  private readonly s = schema();
  private readonly names = new Map<string, number>();
  private readonly reasonKeys = new Map<number, number>();
  private readonly descs = new Map<number, GenericDesc>();
  /** fast.ts plans of the typed payloads met so far (null: protobufjs decodes that type) */
  private readonly typedPlans = new Map<number, Plan | null>();
  /** the fields mapEvent reads of an event, by its name */
  private readonly read = new Map<string, Set<string>>();
  private readonly wanted = (ev: string): Set<string> => {
    let w = this.read.get(ev);
    if (!w) { w = fieldsRead(ev); this.read.set(ev, w); }
    return w;
  };

  constructor(readonly sink: EventSink, readonly info: PerfettoInfo) {}

  nameId(n: string): number {
    let v = this.names.get(n);
    if (v === undefined) {
      v = this.sink.intern(n);
      this.names.set(n, v);
    }
    return v;
  }

  reasonKey(isa: number, code: number): number {
    const k = isa * 4294967296 + code;
    let v = this.reasonKeys.get(k);
    if (v === undefined) {
      v = this.sink.reasonKey(isa, code);
      this.reasonKeys.set(k, v);
    }
    return v;
  }

  /**
   * The sink events of one bundle in buf[s, e), in time order, a lost-events marker first when it says so.
   * base: the file offset of buf[0] (-1: not in the file as such, events are placed at the packet's offset).
   */
  decode(buf: Uint8Array, s: number, e: number, base: number, loc: BundleHead, lastTs: bigint): Item[] {
    const w = new Wire(buf, s, e, loc.at, 'ftrace bundle');
    const whereOf = (off: number): number => (base >= 0 ? base + off : loc.at);
    const cpu = loc.cpu;
    const items: Item[] = [];
    while (w.more) {
      const t = w.tagN();
      if (t === 2 * 8 + 2) {
        const es = w.lenStart();
        const it = this.event(w, es, w.lenEnd, cpu, whereOf(es));
        if (it) items.push(it);
      } else if (t === 4 * 8 + 2) {
        const cs = w.lenStart();
        this.compactSched(w, cs, w.lenEnd, cpu, whereOf(cs), items);
      } else w.skip(t & 7);
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


  /** A generic event descriptor (bundle field 11), found in the first pass. */
  descriptor(w: Wire, s: number, e: number): void {
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
    const names = new Map(fields);
    this.descs.set(id, { name, nameId: this.nameId(name), type, fields, plan: planOf(type, (f) => names.get(f.name)!, fieldsRead(name)) });
  }

  private compactSched(w: Wire, s: number, e: number, cpu: number, where: number, out: Item[]): void {
    if (fastPath) {
      if (this.compactFast(w.buf, s, e, cpu, where, out)) { fastCounts.compact++; return; }
      fastCounts.declined++;
    }
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

  /** compact_sched by hand (fast.ts): the same items as the protobufjs path below, or false when declined. */
  private compactFast(buf: Uint8Array, s: number, e: number, cpu: number, where: number, out: Item[]): boolean {
    const c = compactFast(buf, s, e);
    if (c === SLOW) return false;
    const sw = this.nameId('sched_switch');
    for (let i = 0; i < c.switchTs.length; i++) {
      const next = c.switchPid[i]!;
      out.push({ ts: c.switchTs[i]!, kind: EV_SCHED_SWITCH, tid: CUR, vcpu: -1, a: BigInt(next), b: stateLetter(BigInt(c.switchState[i]!)), c: CUR,
        name: sw, where, cpu, next, comms: [next, c.table[c.switchComm[i]!]!] });
    }
    const wk = this.nameId('sched_waking');
    for (let i = 0; i < c.wakingTs.length; i++) {
      const woken = c.wakingPid[i]!;
      out.push({ ts: c.wakingTs[i]!, kind: EV_SCHED_WAKEUP, tid: CUR, vcpu: -1, a: BigInt(woken), b: 0n, c: c.wakingCpu[i]!, name: wk,
        where, cpu, comms: [woken, c.table[c.wakingComm[i]!]!] });
    }
    this.info.compactSched += c.switchTs.length + c.wakingTs.length;
    return true;
  }

  /** One FtraceEvent by hand (fast.ts): its sink event, undefined when skipped, SLOW when declined. */
  private eventFast(buf: Uint8Array, s: number, e: number, cpu: number, where: number): Item | undefined | typeof SLOW {
    const h = eventHead(buf, s, e);
    if (!h) return SLOW;
    const { ts, pid, field, ps, pe } = h;
    if (field >= GENERIC_EVENT_MIN_FIELD_ID) {
      const d = this.descs.get(field);
      if (!d?.plan) return SLOW;
      const f = payloadFields(buf, ps, pe, d.plan);
      if (f === SLOW) return SLOW;
      this.info.ftraceEvents++;
      this.info.denseGenericEvents++;
      return mapEvent(this, d.name, d.nameId, f, ts, pid, cpu, where);
    }
    if (field === 327) {
      const g = genericEvent(buf, ps, pe, this.wanted);
      if (g === SLOW) return SLOW;
      this.info.ftraceEvents++;
      this.info.genericEvents++;
      const evName = g.name || 'generic';
      return mapEvent(this, evName, this.nameId(evName), g.fields, ts, pid, cpu, where);
    }
    const ev = this.s.events.get(field);
    if (!ev?.type) return SLOW;
    let plan = this.typedPlans.get(field);
    if (plan === undefined) {
      plan = planOf(ev.type, (f) => f.name, fieldsRead(ev.name)) ?? null;
      this.typedPlans.set(field, plan);
    }
    if (!plan) return SLOW;
    const f = payloadFields(buf, ps, pe, plan);
    if (f === SLOW) return SLOW;
    this.info.ftraceEvents++;
    return mapEvent(this, ev.name, this.nameId(ev.name), f, ts, pid, cpu, where);
  }

  /** One FtraceEvent: its sink event, or undefined (skipped and counted). */
  private event(bw: Wire, s: number, e: number, cpu: number, where: number): Item | undefined {
    if (fastPath) {
      const it = this.eventFast(bw.buf, s, e, cpu, where);
      if (it !== SLOW) { fastCounts.events++; return it; }
      fastCounts.declined++;
    }
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
    return mapEvent(this, evName, nameId, f, ts, pid, cpu, where);
  }

}
