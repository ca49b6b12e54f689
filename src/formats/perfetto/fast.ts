/**
 * The hot path of the Perfetto reader, by hand: FtraceEvent headers and the payloads of dense generic and typed
 * events whose fields are all plain scalars, decoded straight from the wire into the field values events.ts
 * maps (bigint or string), without protobufjs, Long objects or a message per event. fast-tables.ts does the
 * same for GenericFtraceEvent (field 327) and compact_sched; fast-wire.ts has the varints.
 *
 * It gives exactly what the protobufjs path of bundles.ts gives, or declines: anything it does not reproduce
 * bit for bit (a truncated or over-long varint, a tag or length over 4 bytes, an unexpected wire type, a group,
 * field 0, a float, an enum, a required or presence-less field, a non-ASCII string, a nested message, a payload
 * or column the protobufjs path would skip or reject) returns SLOW, and bundles.ts then decodes that event or
 * that compact_sched message the protobufjs way, which also words any error. So a decline has no side effect:
 * nothing is counted, interned or pushed before it. A later occurrence of a field overwrites an earlier one, as
 * in protobufjs; absent and bytes fields give no value.
 */
import type protobuf from 'protobufjs';
import { SLOW, varint, tag, delimited, skipField, u64, i64, u64Of, i64Of, ascii, vLo, vHi, vAny } from './fast-wire.js';

export { SLOW } from './fast-wire.js';

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
    p = tag(buf, p, e);
    if (p < 0) return SLOW; // truncated, over 4 bytes, or field 0 (which protobufjs throws on)
    const field = vLo >>> 3, wt = vLo & 7;
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
        else { // sint64: zigzag
          const mask = -(vLo & 1);
          v = i64Of((((vLo >>> 1) | (vHi << 31)) ^ mask) >>> 0, ((vHi >>> 1) ^ mask) >>> 0);
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
        const lo = (buf[p]! | buf[p + 1]! << 8 | buf[p + 2]! << 16 | buf[p + 3]! << 24) >>> 0;
        const hi = (buf[p + 4]! | buf[p + 5]! << 8 | buf[p + 6]! << 16 | buf[p + 7]! << 24) >>> 0;
        p += 8;
        f.set(name, k === K_FIXED64 ? u64Of(lo, hi) : i64Of(lo, hi));
        break;
      }
      default: { // K_STRING
        const q = delimited(buf, p, e);
        if (q < 0) return SLOW;
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
    p = tag(buf, p, e);
    if (p < 0) return undefined;
    const field = vLo >>> 3, wt = vLo & 7;
    if ((field === 1 || field === 2) && wt === 0) {
      p = varint(buf, p, e);
      if (p < 0) return undefined;
      if (field === 1) { head.ts = u64(); hasTs = true; } else head.pid = vLo | 0;
    } else if (wt === 2 && field !== 1 && field !== 2 && field !== 5 && field0 === 0) {
      const q = delimited(buf, p, e);
      if (q < 0) return undefined;
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
