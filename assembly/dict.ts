// The string dictionary: event names, comms and exit-reason names become small integer ids, so no
// string ever crosses the wasm boundary per event. TypeScript reads the entries once, at the end.
//
// Entry i (stride DICT_STRIDE): [0] i32 offset into the byte arena, [4] i32 length, [8] u32 hash,
// [16] i64 count (how many events carried this id as their event name).
import { zalloc, regrow, hashBytes } from "./mem";

export const DICT_STRIDE: i32 = 24;
/** Garbage must not grow the dictionary without bound: past this many strings, new ones share one id. */
export const DICT_MAX: i32 = 1 << 16;

let entries: usize = 0;
let entryCap: i32 = 0;
let count: i32 = 0;
let bytes: usize = 0;
let bytesCap: i32 = 0;
let bytesUsed: i32 = 0;
let table: usize = 0; // i32 ids + 1 (0 = empty)
let tableCap: i32 = 0;
export let overflowId: i32 = -1;
export let overflowed: i64 = 0;

export function dictInit(): void {
  entryCap = 1024;
  entries = zalloc(<usize>entryCap * DICT_STRIDE);
  bytesCap = 1 << 16;
  bytes = zalloc(<usize>bytesCap);
  tableCap = 4096;
  table = zalloc(<usize>tableCap * 4);
  count = 0;
  bytesUsed = 0;
  overflowId = -1;
  overflowed = 0;
  overflowId = intern(changetype<usize>(OVERFLOW_NAME), OVERFLOW_NAME_LEN, true);
  memory.fill(cachePtr, 0, CACHE_SLOTS * 4);
}

// "(too many names)" as raw bytes
const OVERFLOW_NAME: StaticArray<u8> = [40, 116, 111, 111, 32, 109, 97, 110, 121, 32, 110, 97, 109, 101, 115, 41];
const OVERFLOW_NAME_LEN: i32 = 16;

function grow(): void {
  const newCap = tableCap << 1;
  const nt = zalloc(<usize>newCap * 4);
  const mask = newCap - 1;
  for (let i = 0; i < count; i++) {
    const h = load<u32>(entries + <usize>i * DICT_STRIDE + 8);
    let s = <i32>(h & <u32>mask);
    while (load<i32>(nt + (<usize>s << 2)) != 0) s = (s + 1) & mask;
    store<i32>(nt + (<usize>s << 2), i + 1);
  }
  table = nt;
  tableCap = newCap;
}

/** The id of the string at [p, p+len), adding it if new. */
export function intern(p: usize, len: i32, force: bool = false): i32 {
  const h = hashBytes(p, len);
  const mask = tableCap - 1;
  let s = <i32>(h & <u32>mask);
  while (true) {
    const v = load<i32>(table + (<usize>s << 2));
    if (v == 0) break;
    const e = entries + <usize>(v - 1) * DICT_STRIDE;
    if (load<u32>(e + 8) == h && load<i32>(e + 4) == len && memory.compare(bytes + <usize>load<i32>(e), p, len) == 0) return v - 1;
    s = (s + 1) & mask;
  }
  if (count >= DICT_MAX && !force) {
    overflowed++;
    return overflowId;
  }
  if (count == entryCap) {
    entries = regrow(entries, <usize>entryCap * DICT_STRIDE, <usize>entryCap * 2 * DICT_STRIDE);
    entryCap <<= 1;
  }
  if (bytesUsed + len > bytesCap) {
    let nc = bytesCap << 1;
    while (bytesUsed + len > nc) nc <<= 1;
    bytes = regrow(bytes, <usize>bytesUsed, <usize>nc);
    bytesCap = nc;
  }
  memory.copy(bytes + <usize>bytesUsed, p, len);
  const id = count++;
  const e = entries + <usize>id * DICT_STRIDE;
  store<i32>(e, bytesUsed);
  store<i32>(e + 4, len);
  store<u32>(e + 8, h);
  store<i64>(e + 16, 0);
  bytesUsed += len;
  store<i32>(table + (<usize>s << 2), id + 1);
  if (count * 2 > tableCap) grow();
  return id;
}

export function countName(id: i32): void {
  const e = entries + <usize>id * DICT_STRIDE + 16;
  store<i64>(e, load<i64>(e) + 1);
}

export function dictEntries(): usize { return entries; }
export function dictCount(): i32 { return count; }
export function dictBytes(): usize { return bytes; }

// A direct-mapped cache in front of the dictionary for the short strings every line carries (event
// names, exit reasons): keyed by length and the first 8 bytes, verified in full before use.
const CACHE_SLOTS: i32 = 256;
const cacheKey: usize = zalloc(CACHE_SLOTS * 8);
const cacheLen: usize = zalloc(CACHE_SLOTS * 4);
const cacheId: usize = zalloc(CACHE_SLOTS * 4);
const cachePtr: usize = zalloc(CACHE_SLOTS * 4); // dictionary copy is not addressable here: keep our own
const cacheBytes: usize = zalloc(CACHE_SLOTS * 32);

/** Are the n <= 32 bytes at a and b equal? Two 16-byte compares (both are readable 32 bytes on: a cache
 * slot, and a line in the input arena or the join buffer, which have 64 bytes of slack). */
// @ts-ignore: decorator
@inline function same32(a: usize, b: usize, n: i32): bool {
  const m = i8x16.bitmask(i8x16.eq(v128.load(a), v128.load(b))) | (i8x16.bitmask(i8x16.eq(v128.load(a + 16), v128.load(b + 16))) << 16);
  const want: u32 = n >= 32 ? 0xffffffff : (<u32>1 << <u32>n) - 1;
  return (<u32>m & want) == want;
}

/** intern() with a cache for strings of at most 32 bytes. */
export function internCached(p: usize, len: i32): i32 {
  if (len > 32 || len <= 0) return intern(p, len);
  let k: u64;
  if (len >= 8) k = load<u64>(p);
  else k = load<u64>(p) & ((<u64>1 << (<u64>len << 3)) - 1); // (p is readable 8 bytes on: see same32)
  let h = <u32>(k ^ (k >> 29) ^ (k >> 41)) * 0x9e3779b1 ^ <u32>len;
  const slot = <usize>((h >> 24) & <u32>(CACHE_SLOTS - 1));
  if (load<u64>(cacheKey + slot * 8) == k && load<i32>(cacheLen + slot * 4) == len && load<i32>(cachePtr + slot * 4) != 0) {
    if (len <= 8 || same32(cacheBytes + slot * 32, p, len)) return load<i32>(cacheId + slot * 4);
  }
  const id = intern(p, len);
  store<u64>(cacheKey + slot * 8, k);
  store<i32>(cacheLen + slot * 4, len);
  store<i32>(cacheId + slot * 4, id);
  store<i32>(cachePtr + slot * 4, 1);
  memory.copy(cacheBytes + slot * 32, p, len);
  return id;
}


