/**
 * The hot path of the Perfetto reader, by hand: FtraceEvent headers, the payloads of dense generic and typed
 * events whose fields are all scalars, and compact_sched columns, decoded straight from the wire into the field
 * values events.ts maps (bigint or string), without protobufjs, Long objects or a message per event.
 *
 * It gives exactly what the protobufjs path of bundles.ts gives, or declines: anything it does not reproduce
 * bit for bit (a truncated or over-long varint, an unexpected wire type, a group, a float, a non-ASCII string,
 * a nested message, a payload or column the protobufjs path would skip or reject) returns SLOW, and bundles.ts
 * then decodes that event or that compact_sched message the protobufjs way, which also words any error. So a
 * decline has no side effect: nothing is counted, interned or pushed before it.
 *
 * What protobufjs does, that this copies (protobufjs/src/reader.js): a 32-bit varint (int32, uint32, sint32,
 * enum, bool) is the low 32 bits of a varint of up to 10 bytes; a 64-bit one keeps bits 0-63; the first payload
 * occurrence of a field is overwritten by a later one; absent, repeated, bytes and message fields give no value.
 */
import type protobuf from 'protobufjs';

/** Declined: the caller decodes this part the protobufjs way. */
export const SLOW = Symbol('slow');

// the last varint read: its bits 0-31 and 32-63, whether any of its bits was set (bits 64-69 too: protobufjs'
// bool), and where it ended (-1: truncated or longer than 10 bytes)
let vLo = 0, vHi = 0, vAny = 0;

/** Read a varint at buf[p] (before end): its bits into vLo / vHi / vAny; returns the position after it, or -1. */
export function varint(buf: Uint8Array, p: number, end: number): number {
  let lo = 0, hi = 0, any = 0;
  for (let i = 0; i < 10; i++) {
    if (p >= end) return -1;
    const b = buf[p++]!;
    const v = b & 0x7f;
    any |= v;
    if (i < 4) lo |= v << (7 * i);
    else if (i === 4) { lo |= (v & 15) << 28; hi = v >> 4; }
    else hi |= v << (7 * i - 32);
    if (b < 0x80) { vLo = lo >>> 0; vHi = hi >>> 0; vAny = any; return p; }
  }
  return -1;
}

/**
 * A tag or length: a varint of at most 4 bytes (below 2^28) into vLo, the position after it, or -1. Longer ones
 * (protobufjs takes up to 5 bytes for these, and words some of them as errors) are declined.
 */
function short(buf: Uint8Array, p: number, end: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) {
    if (p >= end) return -1;
    const b = buf[p++]!;
    v |= (b & 0x7f) << (7 * i);
    if (b < 0x80) { vLo = v; vHi = 0; return p; }
  }
  return -1;
}

const TWO32 = 4294967296;
/** vHi:vLo as an unsigned 64-bit bigint. */
function u64(): bigint {
  return vHi < 0x200000 ? BigInt(vHi * TWO32 + vLo) : (BigInt(vHi) << 32n) | BigInt(vLo);
}
/** vHi:vLo as a signed 64-bit bigint. */
function i64(): bigint {
  return vHi < 0x200000 ? BigInt(vHi * TWO32 + vLo) : BigInt.asIntN(64, (BigInt(vHi) << 32n) | BigInt(vLo));
}

/** Skip a field of wire type wt at buf[p]: the position after it, or -1 (groups and bad lengths decline). */
function skipField(buf: Uint8Array, p: number, end: number, wt: number): number {
  switch (wt) {
    case 0: return varint(buf, p, end);
    case 1: return p + 8 <= end ? p + 8 : -1;
    case 2: {
      const q = short(buf, p, end);
      if (q < 0 || vLo > end - q) return -1;
      return q + vLo;
    }
    case 5: return p + 4 <= end ? p + 4 : -1;
    default: return -1;
  }
}

/**
 * Short ASCII strings seen before (field and event names, comms), by a hash of their bytes: a generic event
 * names each of its fields in every event, and a string made per name per event was a third of the walk.
 */
const NAME_CACHE = 4096;
const nameCache = new Map<number, string>();

/** ascii(), through the cache for strings of up to 32 bytes. */
function cachedAscii(buf: Uint8Array, s: number, e: number): string | undefined {
  if (e - s > 32) return ascii(buf, s, e);
  let h = e - s;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c >= 0x80) return undefined;
    h = Math.imul(h ^ c, 0x01000193);
  }
  const hit = nameCache.get(h);
  if (hit !== undefined && hit.length === e - s) {
    let same = true;
    for (let i = 0; i < hit.length && same; i++) same = hit.charCodeAt(i) === buf[s + i];
    if (same) return hit;
  }
  const str = ascii(buf, s, e)!;
  if (nameCache.size >= NAME_CACHE) nameCache.clear();
  nameCache.set(h, str);
  return str;
}

/** ASCII bytes as a string; undefined when any byte is not ASCII (protobufjs' UTF-8 decoding then decides). */
function ascii(buf: Uint8Array, s: number, e: number): string | undefined {
  let str = '';
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c >= 0x80) return undefined;
    str += String.fromCharCode(c);
  }
  return str;
}

// ---- payload plans: field number -> (name, how to read it) ----

const K_BYTES = 0, K_INT32 = 1, K_UINT32 = 2, K_SINT32 = 3, K_BOOL = 4, K_INT64 = 5, K_UINT64 = 6, K_SINT64 = 7,
  K_FIXED32 = 8, K_SFIXED32 = 9, K_FIXED64 = 10, K_SFIXED64 = 11, K_STRING = 12;
/** the wire type each kind is read from */
const WIRE = [2, 0, 0, 0, 0, 0, 0, 0, 5, 5, 1, 1, 2];
const SCALAR: Record<string, number> = {
  int32: K_INT32, uint32: K_UINT32, sint32: K_SINT32, bool: K_BOOL, int64: K_INT64, uint64: K_UINT64, sint64: K_SINT64,
  fixed32: K_FIXED32, sfixed32: K_SFIXED32, fixed64: K_FIXED64, sfixed64: K_SFIXED64, string: K_STRING, bytes: K_BYTES,
};

/** How to read one payload type by hand; undefined when it cannot be (a float, a nested message, a name twice). */
export interface Plan {
  /** by field number: its kind + 1 (0: not in the type, skipped) and the name its value goes under ('': read, not kept) */
  kinds: Uint8Array;
  names: string[];
}

/**
 * The plan of a protobufjs type whose field values go into Fields under `nameOf(field)` (its own name for a
 * typed event, the tracepoint field's for a dense generic one).
 */
export function planOf(t: protobuf.Type, nameOf: (f: protobuf.Field) => string, wanted?: ReadonlySet<string>): Plan | undefined {
  const ids = t.fieldsArray.map((f) => f.id);
  if (ids.some((id) => id > 4096)) return undefined;
  const kinds = new Uint8Array(Math.max(0, ...ids) + 1), names: string[] = [];
  const seen = new Set<string>();
  for (const f of t.fieldsArray) {
    f.resolve();
    // declined: repeated and map fields (never a value, but protobufjs reads them by their declared type), enums
    // (protobufjs keeps a closed enum's known values only), required fields (an error when absent), fields
    // without presence (a zero is no value), nested messages and floats
    if (f.repeated || f.map || f.resolvedType || f.required || !f.hasPresence) return undefined;
    const k = SCALAR[f.type];
    if (k === undefined) return undefined;
    const n = nameOf(f);
    if (seen.has(n)) return undefined; // which value a Map of names keeps would depend on the order
    seen.add(n);
    kinds[f.id] = k + 1;
    names[f.id] = wanted && !wanted.has(n) ? '' : n;
  }
  return { kinds, names };
}

/** The fields of a payload in buf[s, e) by plan, or SLOW. */
export function payloadFields(buf: Uint8Array, s: number, e: number, plan: Plan): Map<string, bigint | string> | typeof SLOW {
  const f = new Map<string, bigint | string>();
  let p = s;
  while (p < e) {
    p = short(buf, p, e);
    if (p < 0) return SLOW;
    const field = vLo >>> 3, wt = vLo & 7;
    if (field === 0) return SLOW; // protobufjs: "illegal tag: field number 0"
    const k = field < plan.kinds.length ? plan.kinds[field]! - 1 : -1;
    if (k < 0) {
      p = skipField(buf, p, e, wt);
      if (p < 0) return SLOW;
      continue;
    }
    if (WIRE[k] !== wt) return SLOW;
    if (k === K_BYTES) { // read, never a value
      p = skipField(buf, p, e, wt);
      if (p < 0) return SLOW;
      continue;
    }
    const name = plan.names[field]!;
    switch (k) {
      case K_INT32: case K_UINT32: case K_SINT32: case K_BOOL: case K_INT64: case K_UINT64: case K_SINT64: {
        p = varint(buf, p, e);
        if (p < 0) return SLOW;
        if (name === '') break;
        let v: bigint;
        if (k === K_INT32) v = BigInt(vLo | 0);
        else if (k === K_UINT32) v = BigInt(vLo);
        else if (k === K_SINT32) v = BigInt((vLo >>> 1) ^ -(vLo & 1) | 0);
        else if (k === K_BOOL) v = vAny !== 0 ? 1n : 0n;
        else if (k === K_INT64) v = i64();
        else if (k === K_UINT64) v = u64();
        else {
          const mask = -(vLo & 1);
          const lo = ((vLo >>> 1) | (vHi << 31)) ^ mask, hi = (vHi >>> 1) ^ mask;
          vLo = lo >>> 0; vHi = hi >>> 0;
          v = i64();
        }
        f.set(name, v);
        break;
      }
      case K_FIXED32: case K_SFIXED32: {
        if (p + 4 > e) return SLOW;
        const x = (buf[p]! | buf[p + 1]! << 8 | buf[p + 2]! << 16 | buf[p + 3]! << 24);
        p += 4;
        if (name !== '') f.set(name, BigInt(k === K_FIXED32 ? x >>> 0 : x | 0));
        break;
      }
      case K_FIXED64: case K_SFIXED64: {
        if (p + 8 > e) return SLOW;
        if (name === '') { p += 8; break; }
        vLo = (buf[p]! | buf[p + 1]! << 8 | buf[p + 2]! << 16 | buf[p + 3]! << 24) >>> 0;
        vHi = (buf[p + 4]! | buf[p + 5]! << 8 | buf[p + 6]! << 16 | buf[p + 7]! << 24) >>> 0;
        p += 8;
        f.set(name, k === K_FIXED64 ? u64() : i64());
        break;
      }
      default: { // K_STRING
        const q = short(buf, p, e);
        if (q < 0 || vLo > e - q) return SLOW;
        const str = ascii(buf, q, q + vLo);
        if (str === undefined) return SLOW;
        if (name !== '') f.set(name, str);
        p = q + vLo;
        break;
      }
    }
  }
  return f;
}

// ---- GenericFtraceEvent (field 327): the event name and (name, value) pairs ----

/** A generic event's name and the values of its fields (those `wanted(name)` lists). */
export interface Generic { name: string | undefined; fields: Map<string, bigint | string> }

/**
 * GenericFtraceEvent { optional string event_name = 1; repeated Field field = 2; } with Field { optional string
 * name = 1; oneof value { string str_value = 3; int64 int_value = 4; uint64 uint_value = 5; } } in buf[s, e),
 * as bundles.ts reads protobufjs' decoding of it: a field's value is its str_value when it has one, else its
 * int_value, else its uint_value (protobufjs keeps every oneof member it meets); a field without a name, or
 * without a value, gives none; a later field of the same name wins. SLOW as elsewhere.
 */
export function genericEvent(buf: Uint8Array, s: number, e: number, wanted: (name: string) => ReadonlySet<string>): Generic | typeof SLOW {
  let evName: string | undefined;
  // the fields, in order, until the event's name is known: name, which value (0 none, 1 str, 2 int, 3 uint), value
  const names: string[] = [], kinds: number[] = [], los: number[] = [], his: number[] = [], strs: Array<string | undefined> = [];
  let p = s;
  while (p < e) {
    p = short(buf, p, e);
    if (p < 0) return SLOW;
    const field = vLo >>> 3, wt = vLo & 7;
    if (field === 0) return SLOW;
    if (field === 1 || field === 2) {
      if (wt !== 2) return SLOW;
      const q = short(buf, p, e);
      if (q < 0 || vLo > e - q) return SLOW;
      const end = q + vLo;
      if (field === 1) {
        evName = cachedAscii(buf, q, end);
        if (evName === undefined) return SLOW;
      } else if (!genericField(buf, q, end, names, kinds, los, his, strs)) return SLOW;
      p = end;
      continue;
    }
    p = skipField(buf, p, e, wt);
    if (p < 0) return SLOW;
  }
  const want = wanted(evName || 'generic');
  const fields = new Map<string, bigint | string>();
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!, k = kinds[i]!;
    if (n === '' || k === 0 || !want.has(n)) continue;
    if (k === 1) { fields.set(n, strs[i]!); continue; }
    vLo = los[i]!; vHi = his[i]!;
    fields.set(n, k === 2 ? i64() : u64());
  }
  return { name: evName, fields };
}

/** One GenericFtraceEvent.Field in buf[s, e), appended to the lists; false to decline. */
function genericField(buf: Uint8Array, s: number, e: number, names: string[], kinds: number[], los: number[], his: number[],
  strs: Array<string | undefined>): boolean {
  let fname = '', str: string | undefined, hasInt = false, iLo = 0, iHi = 0, hasUint = false, uLo = 0, uHi = 0;
  let p = s;
  while (p < e) {
    p = short(buf, p, e);
    if (p < 0) return false;
    const field = vLo >>> 3, wt = vLo & 7;
    if (field === 0) return false;
    if (field === 1 || field === 3) {
      if (wt !== 2) return false;
      const q = short(buf, p, e);
      if (q < 0 || vLo > e - q) return false;
      const v = cachedAscii(buf, q, q + vLo);
      if (v === undefined) return false;
      if (field === 1) fname = v; else str = v;
      p = q + vLo;
    } else if (field === 4 || field === 5) {
      if (wt !== 0) return false;
      p = varint(buf, p, e);
      if (p < 0) return false;
      if (field === 4) { hasInt = true; iLo = vLo; iHi = vHi; } else { hasUint = true; uLo = vLo; uHi = vHi; }
    } else {
      p = skipField(buf, p, e, wt);
      if (p < 0) return false;
    }
  }
  names.push(fname);
  if (str !== undefined) { kinds.push(1); los.push(0); his.push(0); } else if (hasInt) { kinds.push(2); los.push(iLo); his.push(iHi); }
  else if (hasUint) { kinds.push(3); los.push(uLo); his.push(uHi); } else { kinds.push(0); los.push(0); his.push(0); }
  strs.push(str);
  return true;
}

// ---- FtraceEvent: timestamp, pid, payload ----

/** What head() found in an FtraceEvent. */
export interface Head { ts: bigint; pid: number; field: number; ps: number; pe: number }
const head: Head = { ts: 0n, pid: -1, field: 0, ps: 0, pe: 0 };

/**
 * The timestamp (1), pid (2) and first length-delimited payload field (not 1, 2 or 5) of the FtraceEvent in
 * buf[s, e), as bundles.ts finds them; undefined when the event has no timestamp or payload, or its wire
 * data is anything the protobufjs path would word as an error. The result is reused by the next call.
 */
export function eventHead(buf: Uint8Array, s: number, e: number): Head | undefined {
  let p = s, hasTs = false, field0 = 0;
  head.pid = -1;
  while (p < e) {
    p = short(buf, p, e);
    if (p < 0) return undefined;
    const field = vLo >>> 3, wt = vLo & 7;
    if (field === 0) return undefined;
    if ((field === 1 || field === 2) && wt === 0) {
      p = varint(buf, p, e);
      if (p < 0) return undefined;
      if (field === 1) { head.ts = u64(); hasTs = true; } else head.pid = vLo | 0;
    } else if (wt === 2 && field !== 1 && field !== 2 && field !== 5 && field0 === 0) {
      const q = short(buf, p, e);
      if (q < 0 || vLo > e - q) return undefined;
      field0 = field; head.ps = q; head.pe = q + vLo;
      p = head.pe;
    } else {
      p = skipField(buf, p, e, wt);
      if (p < 0) return undefined;
    }
  }
  if (!hasTs || field0 === 0) return undefined;
  head.field = field0;
  return head;
}

// ---- compact_sched ----

/** compact_sched's columns as the reader uses them. */
export interface Compact {
  table: string[];
  switchTs: bigint[]; switchState: number[]; switchPid: number[]; switchComm: number[];
  wakingTs: bigint[]; wakingPid: number[]; wakingCpu: number[]; wakingComm: number[];
}

// CompactSched field numbers (perfetto.proto): the columns read, and their element kinds
const C_SWITCH_TS = 1, C_SWITCH_STATE = 2, C_SWITCH_PID = 3, C_TABLE = 5, C_SWITCH_COMM = 6;
const C_WAKING_TS = 7, C_WAKING_PID = 8, C_WAKING_CPU = 9, C_WAKING_COMM = 11;
const C_LAST = 12;

/**
 * The compact_sched message in buf[s, e): its columns, timestamps summed from their deltas; SLOW when the
 * columns of one kind differ in length, a comm index is past the intern table, or anything else the
 * protobufjs path would word itself.
 */
export function compactSched(buf: Uint8Array, s: number, e: number): Compact | typeof SLOW {
  const c: Compact = { table: [], switchTs: [], switchState: [], switchPid: [], switchComm: [], wakingTs: [], wakingPid: [], wakingCpu: [], wakingComm: [] };
  const cols: Array<number[] | undefined> = [];
  cols[C_SWITCH_STATE] = c.switchState; cols[C_SWITCH_PID] = c.switchPid; cols[C_SWITCH_COMM] = c.switchComm;
  cols[C_WAKING_PID] = c.wakingPid; cols[C_WAKING_CPU] = c.wakingCpu; cols[C_WAKING_COMM] = c.wakingComm;
  // timestamps: deltas summed as numbers while exact, as bigints past 2^53
  const deltas: Array<number | bigint>[] = [];
  deltas[C_SWITCH_TS] = []; deltas[C_WAKING_TS] = [];
  let p = s;
  while (p < e) {
    p = short(buf, p, e);
    if (p < 0) return SLOW;
    const field = vLo >>> 3, wt = vLo & 7;
    if (field === 0) return SLOW;
    if (field === C_TABLE) {
      if (wt !== 2) return SLOW;
      const q = short(buf, p, e);
      if (q < 0 || vLo > e - q) return SLOW;
      const str = ascii(buf, q, q + vLo);
      if (str === undefined) return SLOW;
      c.table.push(str);
      p = q + vLo;
      continue;
    }
    if (field > C_LAST) {
      p = skipField(buf, p, e, wt);
      if (p < 0) return SLOW;
      continue;
    }
    // a column (those not read, prio and flags, are still walked: protobufjs reads them), one element
    // (unpacked) or a packed run of them
    const col = cols[field], dts = deltas[field];
    let end = e, n = 1;
    if (wt === 2) {
      const q = short(buf, p, e);
      if (q < 0 || vLo > e - q) return SLOW;
      p = q; end = q + vLo; n = Infinity;
    } else if (wt !== 0) return SLOW;
    for (; n > 0 && p < end; n--) {
      p = varint(buf, p, end);
      if (p < 0) return SLOW;
      if (dts) dts.push(vHi === 0 ? vLo : u64());
      else if (col) {
        // int64 prev_state: only its low byte is used (the state letter); int32 pid / cpu; uint32 comm index
        col.push(field === C_SWITCH_COMM || field === C_WAKING_COMM ? vLo : field === C_SWITCH_STATE ? vLo & 0xff : vLo | 0);
      }
    }
    if (n === 1) return SLOW; // an unpacked element past the end
  }
  const sum = (d: Array<number | bigint>, out: bigint[]): void => {
    let t = 0, big = -1n;
    for (const x of d) {
      if (big < 0n && typeof x === 'number' && t + x <= Number.MAX_SAFE_INTEGER) { t += x; out.push(BigInt(t)); continue; }
      if (big < 0n) big = BigInt(t);
      big += BigInt(x);
      out.push(big);
    }
  };
  sum(deltas[C_SWITCH_TS]!, c.switchTs);
  sum(deltas[C_WAKING_TS]!, c.wakingTs);
  const same = (...a: unknown[][]): boolean => a.every((x) => x.length === a[0]!.length);
  if (!same(c.switchTs, c.switchState, c.switchPid, c.switchComm) || !same(c.wakingTs, c.wakingPid, c.wakingCpu, c.wakingComm)) return SLOW;
  const n = c.table.length;
  if (c.switchComm.some((i) => i >= n) || c.wakingComm.some((i) => i >= n)) return SLOW;
  return c;
}
