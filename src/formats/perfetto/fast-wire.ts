/**
 * The wire primitives of the Perfetto reader's hand decoder (fast.ts, fast-tables.ts): varints read as protobufjs
 * reads them (protobufjs/src/reader.js: a 32-bit kind is the low 32 bits of a varint of up to 10 bytes, a 64-bit
 * one keeps bits 0-63, a bool is true when any bit is set), tags and lengths of at most 4 bytes, skipping a
 * field, ASCII strings. Each returns the position after what it read, or -1 (SLOW for the caller); the last
 * varint's value is left in vLo / vHi / vAny.
 */
/** Declined: the caller decodes this part the protobufjs way. */
export const SLOW = Symbol('slow');

// the last varint read: its bits 0-31 and 32-63, whether any of its bits was set (bits 64-69 too: protobufjs'
// bool), and where it ended (-1: truncated or longer than 10 bytes)
export let vLo = 0, vHi = 0, vAny = 0;

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
export function short(buf: Uint8Array, p: number, end: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) {
    if (p >= end) return -1;
    const b = buf[p++]!;
    v |= (b & 0x7f) << (7 * i);
    if (b < 0x80) { vLo = v; vHi = 0; return p; }
  }
  return -1;
}

/** A tag other than field 0 (protobufjs' error) at buf[p]: the position after it (the tag in vLo), or -1. */
export function tag(buf: Uint8Array, p: number, end: number): number {
  const q = short(buf, p, end);
  return q < 0 || vLo < 8 ? -1 : q;
}

/** A length at buf[p] whose payload fits before end: the payload's start (its length in vLo), or -1. */
export function delimited(buf: Uint8Array, p: number, end: number): number {
  const q = short(buf, p, end);
  return q < 0 || vLo > end - q ? -1 : q;
}

const TWO32 = 4294967296;
/** hi:lo (two unsigned 32-bit halves) as an unsigned 64-bit bigint. */
export function u64Of(lo: number, hi: number): bigint {
  return hi < 0x200000 ? BigInt(hi * TWO32 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
}
/** hi:lo as a signed 64-bit bigint. */
export function i64Of(lo: number, hi: number): bigint {
  return hi < 0x200000 ? BigInt(hi * TWO32 + lo) : BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
}
/** The last varint as an unsigned 64-bit bigint. */
export function u64(): bigint { return u64Of(vLo, vHi); }
/** The last varint as a signed 64-bit bigint. */
export function i64(): bigint { return i64Of(vLo, vHi); }

/** Skip a field of wire type wt at buf[p]: the position after it, or -1 (groups and bad lengths decline). */
export function skipField(buf: Uint8Array, p: number, end: number, wt: number): number {
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
export function cachedAscii(buf: Uint8Array, s: number, e: number): string | undefined {
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
export function ascii(buf: Uint8Array, s: number, e: number): string | undefined {
  let str = '';
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c >= 0x80) return undefined;
    str += String.fromCharCode(c);
  }
  return str;
}
