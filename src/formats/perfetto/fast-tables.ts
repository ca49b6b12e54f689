/**
 * The Perfetto reader's hand decoder (see fast.ts) for the two messages that carry tables of values rather than
 * one event's fields: GenericFtraceEvent (field 327: an event name and (name, value) pairs, what older Perfetto
 * writes for events it has no proto for) and compact_sched (delta-coded sched_switch / sched_waking columns and
 * an intern table of comms). Each gives what bundles.ts makes of protobufjs' decoding, or SLOW.
 */
import { SLOW, varint, tag, delimited, skipField, u64, i64Of, u64Of, cachedAscii, vLo, vHi } from './fast-wire.js';

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
    p = tag(buf, p, e);
    if (p < 0) return SLOW;
    const field = vLo >>> 3, wt = vLo & 7;
    if (field === 1 || field === 2) {
      if (wt !== 2) return SLOW;
      const q = delimited(buf, p, e);
      if (q < 0) return SLOW;
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
    fields.set(n, k === 2 ? i64Of(los[i]!, his[i]!) : u64Of(los[i]!, his[i]!));
  }
  return { name: evName, fields };
}

/** One GenericFtraceEvent.Field in buf[s, e), appended to the lists; false to decline. */
function genericField(buf: Uint8Array, s: number, e: number, names: string[], kinds: number[], los: number[], his: number[],
  strs: Array<string | undefined>): boolean {
  let fname = '', str: string | undefined, hasInt = false, iLo = 0, iHi = 0, hasUint = false, uLo = 0, uHi = 0;
  let p = s;
  while (p < e) {
    p = tag(buf, p, e);
    if (p < 0) return false;
    const field = vLo >>> 3, wt = vLo & 7;
    if (field === 1 || field === 3) {
      if (wt !== 2) return false;
      const q = delimited(buf, p, e);
      if (q < 0) return false;
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
    p = tag(buf, p, e);
    if (p < 0) return SLOW;
    const field = vLo >>> 3, wt = vLo & 7;
    if (field === C_TABLE) {
      if (wt !== 2) return SLOW;
      const q = delimited(buf, p, e);
      if (q < 0) return SLOW;
      const str = cachedAscii(buf, q, q + vLo);
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
      const q = delimited(buf, p, e);
      if (q < 0) return SLOW;
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
