// trace.dat ring-buffer pages decoded inside the core (issue 13). TypeScript (src/formats/tracedat/core-path.ts)
// hands over the page layout (from the file's or tracefs' events/header_page), the timestamp conversion and the
// format table once, then feeds each CPU's pages in MiB pieces straight into core memory: trace.dat's flyrecord
// data (plain, or v7's decompressed chunks), or what per_cpu/cpuN/trace_pipe_raw gave (live mode).
//
//   tdRun: for every CPU stream, walk its pages to its next record; k-way merge of the streams by
//          (time, CPU) -> the record's fields at its format's offsets (tdrecord.ts) -> onEvent
//          a file stream with no page left returns TD_NEED: TypeScript feeds it and calls tdRun again
//
// Page (kernel/trace/ring_buffer.c): u64 timestamp | local_t commit (data size in the low 27 bits; bit 31
// MISSED_EVENTS, bit 30 MISSED_STORED: the count follows the data) | data. Event: u32 (type_len:5,
// time_delta:27; type_len in the low bits of a little-endian word, the high bits of a big-endian one):
// 29 padding, 30 time extend, 31 absolute time stamp, 1..28 data of type_len*4 bytes, 0 length in array[0].
// A page shorter than the sub-buffer is accepted at the end of a piece marked whole (the end of a file's
// stream or of a compressed chunk, or at the end of a live session).
//
// --jobs (issue 15): a time window [lo, hi) of raw timestamps (tdWindow). Records before lo or from hi on are
// walked but not delivered, and a stream stops at the first page whose header time is hi or later; a job reading
// its window of every CPU stream (src/pipeline/jobs-tracedat.ts) then delivers exactly the one-job merge's events
// in that window, provided every stream's times never go back (page headers and records alike). That is checked
// on every walk (tdBackwards), and each stream's walk is reported (tdStreamInfo) so that the jobs' walks can be
// checked to cover every stream between them.
import { zalloc } from "./mem";
import { rowCap, rowCount } from "./analysis";
import { intern as dictIntern } from "./dict";
import { recordsBegin, lazyFormatOf, setFormatRow, tdDecode, pushLost, setTsSigned, swap, tdLd32 as ld32, tdLd64 as ld64 } from "./tdrecord";

export const TD_NEED: i32 = 1;
/** the next record's format row is to come: tdNeed() is its index; TypeScript writes it (tdSetFormat) and calls again */
export const TD_FORMAT: i32 = 2;
/** the row buffer (exports) is nearly full: TypeScript drains it and calls again */
export const TD_ROWS: i32 = 3;
// page errors (TypeScript words them with tdErrOff / tdErrVal)
export const TDE_TRUNC_PAGE: i32 = -1, TDE_BAD_COMMIT: i32 = -2, TDE_TRUNC_HDR: i32 = -3, TDE_PAST_COMMIT: i32 = -4;
export const TDE_TRUNC_LEN: i32 = -5, TDE_BAD_LEN: i32 = -6, TDE_BAD_PAD: i32 = -7, TDE_TRUNC_EXTEND: i32 = -8;
export const TDE_TRUNC_STAMP: i32 = -9, TDE_REC_STRING: i32 = -20;

const MISSING_EVENTS: u32 = 0x80000000, MISSING_STORED: u32 = 0x40000000, COMMIT_MASK: u32 = (1 << 27) - 1;
const TS_MSB: u64 = <u64>0xf8 << 56;

class Stream {
  cpu: i32 = 0;
  buf: usize = 0; cap: i32 = 0; rd: i32 = 0; wr: i32 = 0; pageStart: i32 = -1;
  offBase: i64 = 0; offStep: bool = true; tailOk: bool = false; ended: bool = false; live: bool = false; wait: bool = false;
  ts: u64 = 0; pos: i32 = 0; end: i32 = 0; pageLost: i64 = -1; pageOff: i64 = 0;
  recTs: u64 = 0; recBase: i32 = 0; recLen: i32 = 0; recLost: i64 = -1;
  ready: bool = false; last: u64 = 0; hasLast: bool = false;
  // the last page header or record time walked (its times must not go back), and the walk (tdStreamInfo)
  item: u64 = 0; hasItem: bool = false;
  firstPos: i64 = -1; lastPos: i64 = -1; stopPos: i64 = -1; firstHdr: u64 = 0; lastItem: u64 = 0;
}

let cfg: usize = 0, cfgCap: usize = 0;
let tsOff: i32 = 0, tsSize: i32 = 8, commitOff: i32 = 8, commitSize: i32 = 8, dataOff: i32 = 16, pageSize: i32 = 4096;
let conv: i32 = 0, mult: u64 = 1, shift: u32 = 0, tscOff: u64 = 0, tsOffset: i64 = 0;
let streams: Stream[] = [];
let order: Stream[] = []; // by cpu (stable)
let heap: Stream[] = [];
let events: i64 = 0, lost: i64 = 0, lostName: i32 = -1;
let phase: i32 = 0; // 0: advance every stream; 1: merging (resume: advance the top first)
let need: i32 = -1;
let holdTop = false; // resumed after TD_FORMAT: the top stream's record is not delivered yet
let errOff: i64 = 0, errVal: i64 = 0;
let limKind: i32 = 0, limit: u64 = 0; // 0 none, 1 hold everything, 2 hold from `limit` on
let winLo: u64 = 0, winHi: u64 = 0, hasLo = false, hasHi = false;
let backs: i64 = 0, backOff: i64 = -1;
const info: usize = zalloc(48);

/** A region of `bytes` for TypeScript to write the format table into. */
export function tdConfig(bytes: i32): usize {
  if (<usize>bytes > cfgCap) { cfgCap = <usize>bytes; cfg = zalloc(cfgCap); }
  return cfg;
}

/**
 * Take the format table (nF rows at tdConfig()), the page layout and the time conversion (cv 0: none,
 * 1: + offset, 2: TSC2NSEC ((t - tOff) * m >> sh) + offset).
 */
export function tdBegin(nF: i32, tyOff: i32, tySize: i32, sw: bool, scratchP: usize,
  tO: i32, tS: i32, cO: i32, cS: i32, dO: i32, ps: i32, cv: i32, m: u64, sh: u32, tOff: u64, off: i64): void {
  recordsBegin(cfg, nF, tyOff, tySize, sw, scratchP);
  tsOff = tO; tsSize = tS; commitOff = cO; commitSize = cS; dataOff = dO; pageSize = ps;
  conv = cv; mult = m; shift = sh; tscOff = tOff; tsOffset = off;
  setTsSigned(cv != 0);
  streams = []; order = []; heap = [];
  events = 0; lost = 0; lostName = -1; phase = 0; need = -1; limKind = 0; holdTop = false;
  hasLo = false; hasHi = false; backs = 0; backOff = -1;
}

/**
 * Deliver only records whose raw time is in [lo, hi) (flags: bit 0 lo applies, bit 1 hi applies); a stream stops
 * at the first page whose header time is hi or later. Call after tdBegin.
 */
export function tdWindow(lo: u64, hi: u64, flags: i32): void {
  winLo = lo; winHi = hi; hasLo = (flags & 1) != 0; hasHi = (flags & 2) != 0;
}
/** Page headers or records whose time went back within their CPU stream so far, and the page offset of the first. */
export function tdBackwards(): i64 { return backs; }
export function tdBackOff(): i64 { return backOff; }
/**
 * Stream si's walk, at tdStreamInfo(): i64 position of the first page read (-1 none), of the last page walked
 * (-1 none), of the page it stopped at (hi; -1 none), u64 header time of the first page, time of the last item
 * walked. A position is the page's file offset, or for a compressed chunk its offset << 16 | the page's index in it.
 */
export function tdStreamInfo(si: i32): usize {
  const s = streams[si];
  store<i64>(info, s.firstPos); store<i64>(info, s.lastPos, 8); store<i64>(info, s.stopPos, 16);
  store<u64>(info, s.firstHdr, 24); store<u64>(info, s.lastItem, 32);
  return info;
}
@inline function item(s: Stream, t: u64): void {
  if (s.hasItem && t < s.item) { if (backs == 0) backOff = s.pageOff; backs++; }
  s.item = t; s.hasItem = true;
}

/** A new CPU stream (live: its pages come as tracefs gives them); returns its index. */
export function tdStream(cpu: i32, live: bool): i32 {
  const s = new Stream();
  s.cpu = cpu; s.live = live;
  streams.push(s);
  let i = order.length;
  order.push(s);
  while (i > 0 && order[i - 1].cpu > cpu) { order[i] = order[i - 1]; i--; }
  order[i] = s;
  return streams.length - 1;
}

/** Where to write the next n bytes of stream si (the bytes it still needs move to the start of its buffer). */
export function tdFeedPtr(si: i32, n: i32): usize {
  const s = streams[si];
  // a live stream keeps the page its cursor stands in (its record may not be delivered yet); a file stream is
  // fed only when it has used up its pages
  let keep = s.rd;
  if (s.live && s.pageStart >= 0 && s.pageStart < keep && (s.ready || s.pos < s.end)) keep = s.pageStart;
  if (keep > 0) {
    memory.copy(s.buf, s.buf + <usize>keep, <usize>(s.wr - keep));
    s.wr -= keep; s.rd -= keep; s.pos -= keep; s.end -= keep; s.recBase -= keep;
    s.pageStart = s.pageStart >= keep ? s.pageStart - keep : -1;
    if (s.offStep) s.offBase += keep;
  }
  if (s.wr + n > s.cap) {
    let c = s.cap < 65536 ? 65536 : s.cap;
    while (c < s.wr + n) c <<= 1;
    const nb = zalloc(<usize>c);
    if (s.wr > 0) memory.copy(nb, s.buf, <usize>s.wr);
    s.buf = nb; s.cap = c;
  }
  return s.buf + <usize>s.wr;
}

/**
 * n bytes were written at tdFeedPtr(si, n). fileOff: the file offset of the first (when the buffer held none);
 * step: page offsets count on from it (else every page is at fileOff: a compressed chunk). whole: a short last
 * page is a page. ended: no more bytes will come.
 */
export function tdFed(si: i32, n: i32, fileOff: i64, step: bool, whole: bool, ended: bool): void {
  const s = streams[si];
  if (s.wr == 0 && !s.live) { s.offBase = fileOff; s.offStep = step; }
  s.wr += n;
  s.tailOk = whole;
  if (ended) s.ended = true;
}
/** Stream si ends (a short last page is taken). */
export function tdEnd(si: i32): void { const s = streams[si]; s.ended = true; s.tailOk = true; }
/** Whether stream si holds back the others' events in a live flush. */
export function tdWait(si: i32, on: bool): void { streams[si].wait = on; }
export function tdNeed(): i32 { return need; }
/** Format row fi, written at tdConfig(), replaces its placeholder. */
export function tdSetFormat(fi: i32): void { setFormatRow(fi, cfg); }
export function tdErrOff(): i64 { return errOff; }
export function tdErrVal(): i64 { return errVal; }
export function tdEvents(): i64 { return events; }
export function tdLost(): i64 { return lost; }

function fail(code: i32, s: Stream, v: i64): i32 { errOff = s.pageOff; errVal = v; return code; }

/** 1: a page is loaded; 0: none (for now); TD_NEED... as a negative 100; <0: error */
function loadPage(s: Stream): i32 {
  const have = s.wr - s.rd;
  if (have <= 0 || (have < pageSize && !s.tailOk)) return s.ended || s.live ? 0 : -100;
  const n = have < pageSize ? have : pageSize;
  const p = s.buf + <usize>s.rd;
  const fo: i64 = s.offStep ? s.offBase + <i64>s.rd : s.offBase;
  s.pageOff = fo;
  if (n < dataOff) { errOff = fo; return TDE_TRUNC_PAGE; }
  s.ts = tsSize == 8 ? ld64(p + <usize>tsOff) : <u64>ld32(p + <usize>tsOff);
  const flags = commitSize == 8 && swap ? ld32(p + <usize>commitOff + 4) : ld32(p + <usize>commitOff);
  const size = <i32>(flags & COMMIT_MASK);
  if (size > pageSize - dataOff) { errOff = fo; errVal = size; return TDE_BAD_COMMIT; }
  if (dataOff + size > n) { errOff = fo; return TDE_TRUNC_PAGE; }
  const pos: i64 = s.offStep ? fo : (fo << 16) | <i64>(s.rd / pageSize);
  if (s.firstPos < 0) { s.firstPos = pos; s.firstHdr = s.ts; }
  item(s, s.ts);
  if (hasHi && s.ts >= winHi) { s.stopPos = pos; s.ended = true; s.rd = s.wr; s.pos = s.end = 0; return 0; }
  s.lastPos = pos; s.lastItem = s.ts;
  s.pageLost = -1;
  if (flags & MISSING_EVENTS) {
    s.pageLost = 0;
    if ((flags & MISSING_STORED) != 0 && dataOff + size + commitSize <= n) {
      const q = p + <usize>(dataOff + size);
      const c: u64 = commitSize == 8 ? ld64(q) : <u64>ld32(q);
      s.pageLost = c > 0xffffffff ? 0xffffffff : <i64>c;
    }
  }
  s.pageStart = s.rd;
  s.pos = s.rd + dataOff;
  s.end = s.rd + dataOff + size;
  s.rd += n;
  return 1;
}

/** Move stream s to its next data record: 1 there is one, 0 none (for now), -100 file stream needs pages, <0 error. */
function advance(s: Stream): i32 {
  const le = !swap;
  for (;;) {
    if (s.pos >= s.end) {
      const r = loadPage(s);
      if (r != 1) return r;
      continue;
    }
    const p = s.pos;
    if (p + 4 > s.end) return fail(TDE_TRUNC_HDR, s, 0);
    const w = ld32(s.buf + <usize>p);
    const typeLen = le ? w & 0x1f : w >>> 27;
    const delta: u64 = <u64>(le ? w >>> 5 : w & 0x7ffffff);
    if (typeLen >= 1 && typeLen <= 28) {
      const len = <i32>typeLen * 4;
      if (p + 4 + len > s.end) return fail(TDE_PAST_COMMIT, s, 0);
      s.ts += delta;
      setRec(s, p + 4, len);
      s.pos = p + 4 + len;
      if (inWindow(s)) return 1;
      continue;
    }
    if (typeLen == 0) {
      if (p + 8 > s.end) return fail(TDE_TRUNC_LEN, s, 0);
      const n = <i32>ld32(s.buf + <usize>p + 4);
      if (n < 4 || p + 4 + n > s.end || n > 0x7fffffff - p) return fail(TDE_BAD_LEN, s, <i64><u32>n);
      s.ts += delta;
      setRec(s, p + 8, n - 4);
      s.pos = p + 4 + n;
      if (inWindow(s)) return 1;
      continue;
    }
    if (typeLen == 29) { // padding: delta 0 = the rest of the page is empty; else array[0] = bytes after the header
      if (delta == 0 || p + 8 > s.end) { s.pos = s.end; continue; }
      const n = ld32(s.buf + <usize>p + 4);
      if (n < 4) return fail(TDE_BAD_PAD, s, <i64>n);
      s.ts += delta;
      s.pos = n > <u32>(s.end - p) ? s.end + 1 : p + 4 + <i32>n;
      continue;
    }
    if (p + 8 > s.end) return fail(typeLen == 30 ? TDE_TRUNC_EXTEND : TDE_TRUNC_STAMP, s, 0);
    const hi = <u64>ld32(s.buf + <usize>p + 4);
    if (typeLen == 30) s.ts += (hi << 27) | delta;
    else {
      let abs = (hi << 27) | delta;
      const cur = s.ts;
      if (cur & TS_MSB) {
        abs |= cur & TS_MSB;
        if (abs < cur) abs += <u64>1 << 59;
      }
      s.ts = abs;
    }
    s.pos = p + 8;
  }
  return 0;
}

/** The record just set is walked (its time checked); whether it is delivered here (outside the window: another job's). */
@inline function inWindow(s: Stream): bool {
  const t = s.ts;
  item(s, t);
  s.lastItem = t;
  return !((hasLo && t < winLo) || (hasHi && t >= winHi));
}
@inline function setRec(s: Stream, base: i32, len: i32): void {
  s.recTs = s.ts; s.recBase = base; s.recLen = len; s.recLost = s.pageLost; s.pageLost = -1;
}

// ---- the merge ----
@inline function less(a: Stream, b: Stream): bool {
  return a.recTs < b.recTs || (a.recTs == b.recTs && a.cpu < b.cpu);
}
function down(i: i32): void {
  const n = heap.length;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) return;
    let m = l;
    if (l + 1 < n && less(unchecked(heap[l + 1]), unchecked(heap[l]))) m = l + 1;
    const hm = unchecked(heap[m]), hi = unchecked(heap[i]);
    if (!less(hm, hi)) return;
    unchecked(heap[i] = hm); unchecked(heap[m] = hi);
    i = m;
  }
}
@inline function holds(s: Stream, all: bool, fin: bool): bool { return s.live && !all && !fin && s.wait; }
function lower(s: Stream): void {
  if (!s.hasLast) { limKind = 1; return; }
  if (limKind == 0 || (limKind == 2 && s.last < limit)) { limKind = 2; limit = s.last; }
}

/** (t - tscOff) * mult >> shift, in 128 bits, saturated (as trace-cmd's mul_u64_u32_shr, exact) */
function tsc2ns(t: u64): i64 {
  const d = t - tscOff;
  const lo = (d & 0xffffffff) * mult, hi = (d >> 32) * mult;
  const low = lo + (hi << 32);
  const high = (hi >> 32) + (low < lo ? 1 : 0);
  if (shift == 0) return high != 0 ? -1 : <i64>low;
  if ((high >> shift) != 0) return -1;
  return <i64>((low >> shift) | (high << (64 - shift)));
}

function deliver(s: Stream): bool {
  const raw = s.recTs;
  const ts: i64 = conv == 0 ? <i64>raw : conv == 1 ? <i64>raw + tsOffset : tsc2ns(raw) + tsOffset;
  const where = ++events;
  if (s.recLost >= 0) {
    if (lostName < 0) lostName = dictIntern(LOST_NAME, 11);
    lost += s.recLost;
    pushLost(ts, s.cpu, s.recLost, lostName, where);
  }
  if (!tdDecode(s.buf + <usize>s.recBase, s.recLen, ts, s.cpu, where)) { errOff = s.pageOff; return false; }
  s.last = raw; s.hasLast = true;
  return true;
}
const LOST_NAME = memory.data<u8>([0x6c, 0x6f, 0x73, 0x74, 0x5f, 0x65, 0x76, 0x65, 0x6e, 0x74, 0x73]);

/**
 * Deliver the events that can no longer be preceded by one still to come (see PageDecoder.flush in
 * src/formats/tracedat/pages.ts): all = every whole page's events, fin = the end (short last pages too).
 * Returns 0 done, TD_NEED (file stream tdNeed() needs pages: feed it and call again with the same
 * arguments), or an error code.
 */
export function tdRun(all: bool, fin: bool): i32 {
  if (phase == 0) {
    limKind = 0;
    heap = [];
    for (let i = 0; i < order.length; i++) {
      const s = order[i];
      if (!s.ready) {
        const r = advance(s);
        if (r == -100) { need = streams.indexOf(s); return TD_NEED; }
        if (r < 0) return r;
        s.ready = r == 1;
      }
      if (s.ready) heap.push(s);
      else if (holds(s, all, fin)) lower(s);
    }
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
    phase = 1;
  } else if (holdTop) {
    holdTop = false;
  } else if (heap.length > 0) {
    // resumed: the top stream delivered its record and needed pages for its next one
    const r = advance(heap[0]);
    if (r == -100) return TD_NEED;
    if (r < 0) return r;
    afterAdvance(r == 1, all, fin);
  }
  while (heap.length > 0) {
    const s = unchecked(heap[0]);
    if (limKind == 1 || (limKind == 2 && s.recTs >= limit)) break;
    // a record gives at most two events (lost, the record), each at most one row
    if (rowCap != 0 && rowCount > 0 && rowCount + 2 > rowCap) { holdTop = true; return TD_ROWS; }
    const lz = lazyFormatOf(s.buf + <usize>s.recBase, s.recLen);
    if (lz >= 0) { need = lz; holdTop = true; return TD_FORMAT; }
    if (!deliver(s)) { phase = 0; return TDE_REC_STRING; }
    const r = advance(s);
    if (r == -100) { need = streams.indexOf(s); return TD_NEED; }
    if (r < 0) { phase = 0; return r; }
    afterAdvance(r == 1, all, fin);
  }
  phase = 0;
  return 0;
}

function afterAdvance(ready: bool, all: bool, fin: bool): bool {
  const s = unchecked(heap[0]);
  s.ready = ready;
  if (ready) { if (heap.length > 1) down(0); return true; }
  const last = heap.pop();
  if (heap.length > 0) { heap[0] = last; down(0); }
  if (holds(s, all, fin)) lower(s);
  return false;
}
