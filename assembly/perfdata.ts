// perf.data samples decoded inside the core (issue 13). TypeScript (src/formats/perfdata/core-path.ts)
// parses the header, attrs and embedded formats, hands them over once as small tables, then reads the
// data section in MiB chunks into the input arena and calls pdWalk() once per chunk:
//
//   chunk -> pdWalk: record walk -> SAMPLE: fixed fields, RAW copied to the queue arena, queued by time
//                                -> FINISHED_ROUND: deliver what is not later than the newest time seen
//                                   before the previous round (perf's ordered-events rule), sorted by
//                                   (time, file order) -> tracepoint fields at the format's offsets -> onEvent
//                                -> any other record: stop, TypeScript handles it (COMM/FORK/EXIT/LOST come
//                                   back through pdQueue so that they keep their place in time)
//
// Layouts (little-endian files only; TypeScript keeps the others):
//   record  u32 type | u16 misc | u16 size | payload
//   SAMPLE  [IDENTIFIER] [IP] [pid,tid] [TIME] [ADDR] [ID] [STREAM_ID] [cpu,res] [PERIOD] [READ] [CALLCHAIN]
//           [RAW u32 size + data]
// Skips that need a message are kept as (code, where, v1, v2) for TypeScript to word (pdSkips*).
import { zalloc, regrow } from "./mem";
import { exitCode, exitFlags, reasonKey } from "./exitreason";
import { intern as dictIntern } from "./dict";
import { onEvent, nameThread as nameTh } from "./analysis";
import {
  EV_EXIT, EV_ENTRY, EV_VCPU_WAKEUP, EV_HALT_POLL_NS, EV_WAIT_LAPIC_EXPIRE, EV_MSR, EV_PIO, EV_MMIO,
  EV_USERSPACE_EXIT, EV_PLE_WINDOW, EV_LOST, EV_OTHER, EV_WFX, EV_HVC,
  SKIP_UNRECOGNIZED, SKIP_BAD_PAYLOAD, SKIP_BAD_TIMESTAMP,
} from "./constants";


// ---- tables from TypeScript ----
// attr (AT_STRIDE): sampleType, readFormat, tidOff, timeOff, cpuOff, fixedEnd, tracepoint(0/1), nameId, periodOff
const AT_STRIDE: i32 = 48;
// format (FM_STRIDE): kind, nameId, need, flags, pid(off,size,signed), vcpu(off,size,signed), f0..f3(off,size,signed)
// size 0 = absent. flags: bit0 vcpu field present; bits 8..15 fixed isa; bit 16 isa from f2; bit 17 EXITF_NO_VCPU
const FM_STRIDE: i32 = 96;
const FAST: i32 = 1 << 18; // flags: set by pdBegin for kvm_exit / kvm_entry whose fields have the usual sizes
export const PD_K_SCHED: i32 = 100; // kinds the core leaves to TypeScript (never handed over)

// sample_type / read_format bits
const S_IP: i32 = 1, S_TID: i32 = 2, S_TIME: i32 = 4, S_ADDR: i32 = 8, S_READ: i32 = 16, S_CALLCHAIN: i32 = 32;
const S_ID: i32 = 64, S_RAW: i32 = 1024, S_IDENTIFIER: i32 = 1 << 16;
const RF_TE: i32 = 1, RF_TR: i32 = 2, RF_ID: i32 = 4, RF_GROUP: i32 = 8, RF_LOST: i32 = 16;

// record types
const R_SAMPLE: i32 = 9, R_FINISHED_ROUND: i32 = 68, R_COMM: i32 = 3, R_FORK: i32 = 7, R_LOST: i32 = 2, R_LOST_SAMPLES: i32 = 13;

// deferred skip codes (worded by TypeScript)
export const PDS_BAD_SIZE: i32 = 1; // v1 format index, v2 record size
export const PDS_UNKNOWN_TYPE: i32 = 2; // v1 type id
export const PDS_NO_TYPE: i32 = 3; // v2 record size
export const PDS_BAD_TS: i32 = 4; // v1 name id, v2 ts
export const PDS_WAKE_NS: i32 = 5; // v1 signed, v2 ns
export const PDS_UNKNOWN_ID: i32 = 6; // v2 event id

let cfg: usize = 0;
let cfgCap: usize = 0;
let attrs: usize = 0;
let nAttrs: i32 = 0;
let ids: usize = 0; // (id u64, attr i32, pad) x nIds, 16 bytes each
let nIds: i32 = 0;
let fmts: usize = 0;
let fmtOfType: usize = 0; // i32 per common_type < 65536: format index + 1
let typeOff: i32 = 0;
let typeSize: i32 = 2;
let lostName: i32 = -1;
let maxQueued: i32 = 4 << 20;
let attrCounts: usize = 0; // i64 per attr: samples delivered
let attrPeriods: usize = 0; // i64 per attr: Σ PERIOD of the samples read

// ---- state ----
let samples: i64 = 0;
let guestSamples: i64 = 0;
let lost: i64 = 0;
let lastTs: u64 = 0;
let maxTs: u64 = 0;
let nextFlush: u64 = 0;
export let pdStop: i32 = 0; // 0: needs more bytes; 1: a record TypeScript handles; 2: name the attrs first (pdSetAttrName);
// 3: a slice is read (or cannot be: pdSliceFail); 4: a slice's start time is known, nothing delivered yet
let resolved = false;

// queue entries (Q_STRIDE): decoded when the sample is read, delivered in time order
//   0 ts u64 | 8 where i64 | 16 a i64 | 24 b i64 | 32 tid | 36 cpu | 40 tgid (TGID_LATER: tid's pid at delivery)
//   | 44 vcpu | 48 c | 52 name | 56 kind (EV_*, or K_* for records and skips) | 60 attr (-1: not a sample)
const Q_STRIDE: usize = 64;
const TGID_LATER: i32 = -3;
const K_COMM: i32 = -10; // a: offset of the name in the raw arena, b: its length; tgid: pid
const K_FORK: i32 = -11; // tgid: pid
const K_LOST: i32 = -12; // a: count
const K_SKIP: i32 = -13; // c: skip kind, vcpu: PDS_* code (0: nothing to deliver), a: v1, b: v2
let q: usize = 0;
let q2: usize = 0;
let qCap: i32 = 0;
let qn: i32 = 0;
let qNew: i32 = 0;
let kLive: i32 = 0;
let raw: usize = 0;
let raw2: usize = 0;
let rawCap: usize = 0;
let rawUsed: usize = 0;
// sort keys (16 bytes: ts u64, entry index i32): [0, kLive) sorted, then one per new entry in file order
let perm: usize = 0;
let perm2: usize = 0;
let tmpEntry: usize = 0;
// starts of the sorted runs in perm (the new entries' runs are found as they are queued)
let runs: usize = 0;
let nRuns: i32 = 0;
let lastKeyTs: u64 = 0;

// skips
let sk: usize = 0;
let skCap: i32 = 0;
export let skN: i32 = 0;

// tid -> pid (open addressing, key tid + 1; 0 = empty), tid -> comm id from COMM records
let pmap: usize = 0;
let pcap: i32 = 0;
let pn: i32 = 0;
let cmap: usize = 0;
let ccap: i32 = 0;
let cn: i32 = 0;
// (isa, code) -> reason key cache

/**
 * Two read buffers of `bytes` each, each after a lead of PD_LEAD bytes where the tail of a record cut by the
 * previous buffer's end is copied: TypeScript reads the next chunk into one while the core walks the other.
 */
export const PD_LEAD: i32 = 65536 + 64;
let rdBufs: usize = 0;
let rdBytes: i32 = 0;
export function pdReadBuffers(bytes: i32): usize {
  if (bytes > rdBytes) { rdBytes = bytes; rdBufs = zalloc(<usize>(PD_LEAD + bytes) * 2 + 64); }
  return rdBufs;
}

/** A region of `bytes` for TypeScript to write the tables into. */
export function pdConfig(bytes: i32): usize {
  if (<usize>bytes > cfgCap) { cfgCap = <usize>bytes; cfg = zalloc(cfgCap); }
  return cfg;
}

/** Take the tables written at pdConfig(): nA attrs, then nI ids, then nF formats (see strides above). */
export function pdBegin(nA: i32, nI: i32, nF: i32, tOff: i32, tSize: i32, lostId: i32, maxQ: i32): void {
  slOn = false; pdSliceFail = 0;
  nAttrs = nA; nIds = nI; typeOff = tOff; typeSize = tSize; lostName = lostId; maxQueued = maxQ;
  attrs = zalloc(<usize>nA * AT_STRIDE + 16);
  memory.copy(attrs, cfg, <usize>nA * AT_STRIDE);
  ids = zalloc(<usize>nI * 16 + 16);
  memory.copy(ids, cfg + <usize>nA * AT_STRIDE, <usize>nI * 16);
  fmts = zalloc(<usize>nF * FM_STRIDE + 16);
  memory.copy(fmts, cfg + <usize>nA * AT_STRIDE + <usize>nI * 16, <usize>nF * FM_STRIDE);
  fmtOfType = zalloc(65536 * 4);
  for (let i = 0; i < nF; i++) {
    const F = fmts + <usize>i * FM_STRIDE;
    // FAST: kvm_exit / kvm_entry with 4-byte pid, vcpu, reason, isa and an 8-byte rip: read without the size switch
    const fl = load<i32>(F + 12);
    const std = load<i32>(F + 16 + 4) == 4 && ((fl & 1) == 0 || load<i32>(F + 28 + 4) == 4);
    const k = load<i32>(F);
    if (std && k == EV_EXIT && load<i32>(F + 40 + 4) == 4 && load<i32>(F + 52 + 4) == 8
      && ((fl & (1 << 16)) == 0 || load<i32>(F + 64 + 4) == 4)) store<i32>(F + 12, fl | FAST);
    if (std && k == EV_ENTRY && load<i32>(F + 40 + 4) == 8) store<i32>(F + 12, fl | FAST);
    const id = load<i32>(F + 88);
    if (id >= 0 && id < 65536) store<i32>(fmtOfType + (<usize>id << 2), i + 1);
  }
  attrCounts = zalloc(<usize>nA * 8 + 16);
  attrPeriods = zalloc(<usize>nA * 8 + 16);
  resolved = false;
  samples = 0; guestSamples = 0; lost = 0; lastTs = 0; maxTs = 0; nextFlush = 0;
  qCap = 1 << 16; q = zalloc(<usize>qCap * Q_STRIDE); q2 = zalloc(<usize>qCap * Q_STRIDE);
  perm = zalloc(<usize>qCap * 16); perm2 = zalloc(<usize>qCap * 16); runs = zalloc(<usize>qCap * 4 + 16);
  qn = 0; qNew = 0; kLive = 0; nRuns = 0; lastKeyTs = 0;
  rawCap = 1 << 20; raw = zalloc(rawCap); raw2 = zalloc(rawCap); rawUsed = 0;
  skCap = 64; sk = zalloc(<usize>skCap * 32); skN = 0;
  pcap = 1024; pmap = zalloc(<usize>pcap * 8); pn = 0; pidSeen = zalloc(256 * 8);
  ccap = 1024; cmap = zalloc(<usize>ccap * 8); cn = 0;
  tmpEntry = zalloc(Q_STRIDE);
  findIdPos();
  // event id -> attr + 1, when the ids span less than 64 Ki (perf numbers them from 1 up)
  idMin = 0; idSpan = 0;
  if (nI > 0) {
    let lo = load<u64>(ids), hi = lo;
    for (let i = 1; i < nI; i++) { const v = load<u64>(ids + (<usize>i << 4)); if (v < lo) lo = v; if (v > hi) hi = v; }
    if (hi - lo < 65536) {
      idMin = lo; idSpan = <i32>(hi - lo) + 1;
      idTable = zalloc(<usize>idSpan * 4 + 16);
      // the first id listed wins, as the linear search did
      for (let i = nI - 1; i >= 0; i--) {
        const e = ids + (<usize>i << 4);
        store<i32>(idTable + (<usize>(load<u64>(e) - lo) << 2), load<i32>(e + 8) + 1);
      }
    }
  }
}
let idMin: u64 = 0;
let idSpan: i32 = 0;
let idTable: usize = 0;

// ---- one slice of the delivered stream (--jobs) ----
// Job k reads from the FINISHED_ROUND record at slFrom (job 0: the data's start) and delivers the events later
// than slLo, the newest time of the first round after slFrom that has events (learned at that round's end,
// before anything is delivered), up to and including slHi, the same figure of the first such round after slTo
// (the next job's slFrom; perf writes empty rounds too). So
// the jobs deliver consecutive pieces of the one-job stream, when perf's ordering holds around each cut:
//   - every event before slTo is not later than slHi (else the next job would miss it);
//   - no event read after the FINISHED_ROUND that follows that round is as old as slHi (a late event);
//   - no record without a time is read where two jobs read (its place in the stream is the reader's).
// A job that finds otherwise sets pdSliceFail and TypeScript reads the file with one job.
const U64_MAX: u64 = 0xffffffffffffffff;
let slOn = false;
let slFrom: i64 = -1;
let slTo: i64 = -1;
let slLo: u64 = 0;
let slLoKnown = true;
let slRounds: i32 = 0; // FINISHED_ROUNDs since slFrom
let slLoRound: i32 = 0; // the one at which slLo was learned
let slState: i32 = 0; // next job's side: 0 before slTo, 1 in the round after it, 2 waiting to flush up to slHi, 3 done
let slHi: u64 = U64_MAX;
let slBefore: u64 = 0; // newest time read before slTo
let roundMax: u64 = 0; // newest time read since the last FINISHED_ROUND
let slLateFrom: i32 = 0; // rounds after which an event as old as slLo is late (job k >= 1)
export let pdSliceFail: i32 = 0;
export const SLF_CUT_NOT_RECORD: i32 = 1; // slTo is not the start of a FINISHED_ROUND record
export const SLF_OLD_BEFORE_CUT: i32 = 2; // an event before slTo is later than slHi (or the round after slTo is empty)
export const SLF_LATE: i32 = 3; // an event read after the cut's rounds is as old as the cut
export const SLF_UNTIMED: i32 = 4; // a record without a time where two jobs read
export const SLF_QUEUE: i32 = 5; // the queue's half-flush ran before the slice's start time was known
export const SLF_COMPRESSED: i32 = 6; // PERF_RECORD_COMPRESSED: no offsets inside it to cut at
export const SLF_PID: i32 = 7; // an event needed a pid learned before the slice

/** Read the slice [from, to) of the file's records (offsets, -1: the data's start / end) as one job of several. */
export function pdSlice(from: i64, to: i64): void {
  slOn = true; slFrom = from; slTo = to;
  slLoKnown = from < 0; slLo = 0; slRounds = 0;
  slState = to < 0 ? 3 : 0; slHi = U64_MAX; slBefore = 0; roundMax = 0; pdSliceFail = 0;
}
export function pdSliceFailed(): i32 { return pdSliceFail; }
/**
 * The first job's cut, set while it reads (the next jobs' workers became ready): `to` is past every record read so
 * far, so what was read is all before it, as if it had been set at the start (slBefore is taken at the cut).
 */
export function pdSliceTo(to: i64): void {
  if (!slOn || slFrom >= 0 || slTo >= 0) { sliceFail(SLF_CUT_NOT_RECORD); return; }
  slTo = to; slState = 0;
}
/** This job's own records: where only it reads (read-time counts and skips are kept for these). */
@inline function own(where: i64): bool {
  return !slOn || ((slFrom < 0 || where >= slFrom) && (slTo < 0 || where < slTo));
}
function sliceFail(code: i32): void { if (pdSliceFail == 0) pdSliceFail = code; }
/** A record without a time is delivered at once, at the latest time delivered: only job 0 before its cut can. */
function untimedOk(where: i64): bool {
  if (!slOn || (slFrom < 0 && (slTo < 0 || where < slTo))) return true;
  sliceFail(SLF_UNTIMED);
  return false;
}

// ---- small maps ----
function mapFind(m: usize, cap: i32, key: i32): usize {
  let i = <i32>((<u32>key * 0x9e3779b1) >> 8) & (cap - 1);
  let e = m + (<usize>i << 3);
  let k = load<i32>(e);
  while (k != 0 && k != key + 1) {
    i = (i + 1) & (cap - 1);
    e = m + (<usize>i << 3);
    k = load<i32>(e);
  }
  return e;
}
// (tid, pid) pairs already in the map, direct-mapped by tid: most samples repeat one of a few threads
let pidSeen: usize = 0;
@inline function pidSet(tid: i32, pid: i32): void {
  const c = pidSeen + (<usize>(tid & 255) << 3);
  if (load<i32>(c) == tid + 1 && load<i32>(c + 4) == pid) return;
  store<i32>(c, tid + 1);
  store<i32>(c + 4, pid);
  pidStore(tid, pid);
}
function pidStore(tid: i32, pid: i32): void {
  if ((pn + 1) * 2 > pcap) {
    const old = pmap, oc = pcap;
    pcap <<= 1; pmap = zalloc(<usize>pcap * 8);
    for (let i = 0; i < oc; i++) {
      const k = load<i32>(old + (<usize>i << 3));
      if (k != 0) { const e = mapFind(pmap, pcap, k - 1); store<i32>(e, k); store<i32>(e + 4, load<i32>(old + (<usize>i << 3) + 4)); }
    }
  }
  const e = mapFind(pmap, pcap, tid);
  if (load<i32>(e) == 0) { store<i32>(e, tid + 1); pn++; }
  store<i32>(e + 4, pid);
}
export function pdPidOf(tid: i32): i32 {
  const e = mapFind(pmap, pcap, tid);
  return load<i32>(e) == 0 ? -1 : load<i32>(e + 4);
}
/** Set tid's COMM-record name; true when it changed. */
function commSet(tid: i32, id: i32): bool {
  if ((cn + 1) * 2 > ccap) {
    const old = cmap, oc = ccap;
    ccap <<= 1; cmap = zalloc(<usize>ccap * 8);
    for (let i = 0; i < oc; i++) {
      const k = load<i32>(old + (<usize>i << 3));
      if (k != 0) { const e = mapFind(cmap, ccap, k - 1); store<i32>(e, k); store<i32>(e + 4, load<i32>(old + (<usize>i << 3) + 4)); }
    }
  }
  const e = mapFind(cmap, ccap, tid);
  if (load<i32>(e) == 0) { store<i32>(e, tid + 1); cn++; store<i32>(e + 4, id); return true; }
  if (load<i32>(e + 4) == id) return false;
  store<i32>(e + 4, id);
  return true;
}
/** Where TypeScript writes reason names and COMM strings (set by index.ts). */
export let scratchPtr: usize = 0;
export function pdSetScratch(p: usize): void { scratchPtr = p; }

function skipLater(kind: i32, code: i32, where: i64, v1: i64, v2: i64): void {
  if (skN == skCap) { sk = regrow(sk, <usize>skCap * 32, <usize>skCap * 64); skCap <<= 1; }
  const e = sk + <usize>skN * 32;
  store<i32>(e, kind); store<i32>(e + 4, code); store<i64>(e + 8, where); store<i64>(e + 16, v1); store<i64>(e + 24, v2);
  skN++;
}
export function pdSkipsPtr(): usize { return sk; }
export function pdSkipCount(): i32 { return skN; }
export function pdStopped(): i32 { return pdStop; }
export function pdSkipsClear(): void { skN = 0; }

// ---- field reads ----
@inline function fieldI64(b: usize, f: usize): i64 {
  const size = load<i32>(f + 4);
  const o = b + <usize>load<i32>(f);
  const sg = load<i32>(f + 8) != 0;
  switch (size) {
    case 1: return sg ? <i64>load<i8>(o) : <i64>load<u8>(o);
    case 2: return sg ? <i64>load<i16>(o) : <i64>load<u16>(o);
    case 4: return sg ? <i64>load<i32>(o) : <i64>load<u32>(o);
    case 8: return load<i64>(o);
    default: return 0;
  }
}
/** A field as JS's Number-then-int32 would give it (sizes up to 4 exact; 8: the low 32 bits). */
@inline function fieldI32(b: usize, f: usize): i32 { return <i32>fieldI64(b, f); }

// ---- decoding into queue entries ----
@inline function setEv(e: usize, kind: i32, tid: i32, tgid: i32, vcpu: i32, a: i64, b: i64, c: i32, name: i32): void {
  store<i64>(e + 16, a); store<i64>(e + 24, b); store<i32>(e + 32, tid); store<i32>(e + 40, tgid);
  store<i32>(e + 44, vcpu); store<i32>(e + 48, c); store<i32>(e + 52, name); store<i32>(e + 56, kind);
}
@inline function setSkip(e: usize, kind: i32, code: i32, v1: i64, v2: i64): void {
  store<i64>(e + 16, v1); store<i64>(e + 24, v2); store<i32>(e + 44, code); store<i32>(e + 48, kind); store<i32>(e + 56, K_SKIP);
}

/**
 * The raw tracepoint record at base (size bytes) of a sample by thread sTid of process sPid, as the event
 * the analysis gets (or the skip it gives), written into entry e.
 */
function decodeRaw(e: usize, base: usize, size: i32, sTid: i32, sPid: i32): void {
  if (size < typeOff + typeSize) { setSkip(e, SKIP_UNRECOGNIZED, PDS_NO_TYPE, 0, size); return; }
  const tb = base + <usize>typeOff;
  const id: i32 = typeSize == 1 ? <i32>load<u8>(tb) : typeSize == 4 ? load<i32>(tb) : <i32>load<u16>(tb);
  const fi = id >= 0 && id < 65536 ? load<i32>(fmtOfType + (<usize>id << 2)) - 1 : -1;
  if (fi < 0) { setSkip(e, SKIP_UNRECOGNIZED, PDS_UNKNOWN_TYPE, <i64><u32>id, 0); return; }
  const F = fmts + <usize>fi * FM_STRIDE;
  const kind = load<i32>(F);
  const nameId = load<i32>(F + 4);
  const need = load<i32>(F + 8);
  const flags = load<i32>(F + 12);
  const hasVcpu = (flags & 1) != 0;
  if ((flags & FAST) != 0 && size >= need) {
    // the fields' sizes are known (pdBegin): plain loads
    const tid = load<i32>(base + <usize>load<i32>(F + 16));
    const tgid = tid == sTid ? sPid : TGID_LATER;
    const vcpu = hasVcpu ? load<i32>(base + <usize>load<i32>(F + 28)) : -1;
    if (kind == EV_ENTRY) {
      setEv(e, EV_ENTRY, tid, tgid, vcpu, 0, load<i64>(base + <usize>load<i32>(F + 40)), 0, nameId);
      return;
    }
    const isa = (flags & (1 << 16)) != 0 ? load<i32>(base + <usize>load<i32>(F + 64)) : (flags >> 8) & 0xff;
    const rawR = load<u32>(base + <usize>load<i32>(F + 40));
    setEv(e, EV_EXIT, tid, tgid, vcpu, <i64>reasonKey(isa, exitCode(isa, rawR), scratchPtr), load<i64>(base + <usize>load<i32>(F + 52)), exitFlags(isa, rawR, flags), nameId);
    return;
  }
  if (kind == EV_OTHER) {
    if (size < 8 && size < need) { setSkip(e, SKIP_BAD_PAYLOAD, PDS_BAD_SIZE, fi, size); return; }
    const tid = fieldI32(base, F + 16);
    setEv(e, EV_OTHER, tid, tid == sTid ? sPid : TGID_LATER, hasVcpu && size >= need ? fieldI32(base, F + 28) : -1, 0, 0, 0, nameId);
    return;
  }
  if (size < need) { setSkip(e, SKIP_BAD_PAYLOAD, PDS_BAD_SIZE, fi, size); return; }
  const tid = fieldI32(base, F + 16);
  const tgid = tid == sTid ? sPid : TGID_LATER;
  const vcpu = hasVcpu ? fieldI32(base, F + 28) : -1;
  const f0 = F + 40, f1 = F + 52, f2 = F + 64, f3 = F + 76;
  switch (kind) {
    case EV_EXIT: {
      const isa = (flags & (1 << 16)) != 0 ? fieldI32(base, f2) : (flags >> 8) & 0xff;
      const rawR = <u32>fieldI64(base, f0);
      setEv(e, EV_EXIT, tid, tgid, vcpu, <i64>reasonKey(isa, exitCode(isa, rawR), scratchPtr), fieldI64(base, f1), exitFlags(isa, rawR, flags), nameId);
      break;
    }
    case EV_ENTRY:
      setEv(e, EV_ENTRY, tid, tgid, vcpu, 0, fieldI64(base, f0), 0, nameId);
      break;
    case EV_VCPU_WAKEUP: {
      const c = (fieldI64(base, f1) != 0 ? 1 : 0) | (fieldI64(base, f2) != 0 ? 2 : 0);
      const ns = fieldI64(base, f0);
      const signed = load<i32>(f0 + 8) != 0 || load<i32>(f0 + 4) < 8;
      // the JS reader reads ns as a bigint: unsigned 8-byte fields are never negative there
      const bad = signed ? (ns < 0 || ns >= (<i64>1 << 62)) : (<u64>ns >= (<u64>1 << 62));
      if (bad) { setSkip(e, SKIP_BAD_PAYLOAD, PDS_WAKE_NS, load<i32>(f0 + 8), ns); return; }
      setEv(e, EV_VCPU_WAKEUP, tid, tgid, vcpu, ns, 0, c, nameId);
      break;
    }
    case EV_HALT_POLL_NS:
      setEv(e, EV_HALT_POLL_NS, tid, tgid, vcpu, fieldI64(base, f0), fieldI64(base, f1), fieldI64(base, f2) != 0 ? 1 : 0, nameId);
      break;
    case EV_WAIT_LAPIC_EXPIRE: {
      const d = fieldI64(base, f0); // TypeScript hands the field over as signed
      setEv(e, EV_WAIT_LAPIC_EXPIRE, tid, tgid, vcpu, d, 0, d < 0 ? 1 : 0, nameId);
      break;
    }
    case EV_MSR: {
      const c = (fieldI64(base, f2) != 0 ? 1 : 0) | (fieldI64(base, f3) != 0 ? 2 : 0);
      setEv(e, EV_MSR, tid, tgid, vcpu, fieldI64(base, f0), fieldI64(base, f1), c, nameId);
      break;
    }
    case EV_PIO:
      setEv(e, EV_PIO, tid, tgid, vcpu, fieldI64(base, f0), fieldI64(base, f1), fieldI64(base, f2) != 0 ? 1 : 0, nameId);
      break;
    case EV_MMIO:
      // type: 0 unsatisfied read, 1 read, 2 write (KVM_TRACE_MMIO_*); the analysis wants 1 = write
      setEv(e, EV_MMIO, tid, tgid, vcpu, fieldI64(base, f0), fieldI64(base, f1), fieldI32(base, f2) == 2 ? 1 : 0, nameId);
      break;
    case EV_USERSPACE_EXIT:
      setEv(e, EV_USERSPACE_EXIT, tid, tgid, vcpu, fieldI64(base, f0), 0, 0, nameId);
      break;
    case EV_WFX: // an absent is_wfe field (offset and size 0) is unknown (2)
      setEv(e, EV_WFX, tid, tgid, vcpu, load<i32>(f0 + 4) == 0 ? 2 : fieldI64(base, f0) != 0 ? 1 : 0, fieldI64(base, f1), 0, nameId);
      break;
    case EV_HVC:
      setEv(e, EV_HVC, tid, tgid, vcpu, fieldI64(base, f0), fieldI64(base, f1), 0, nameId);
      break;
    case EV_PLE_WINDOW:
      setEv(e, EV_PLE_WINDOW, tid, tgid, vcpu, fieldI64(base, f0), fieldI64(base, f1), 0, nameId);
      break;
    default: // a kind this table does not decode: delivers nothing
      setSkip(e, 0, 0, 0, 0);
      break;
  }
}

/** Entry e for a sample of attr ai (its time, where and cpu are set by the caller). */
@inline function decodeSample(e: usize, ai: i32, A: usize, pid: i32, tid: i32, rawP: usize, rawLen: i32): void {
  store<i32>(e + 60, ai);
  if (rawLen >= 0 && load<i32>(A + 24) != 0) decodeRaw(e, rawP, rawLen, tid, pid);
  else setEv(e, EV_OTHER, tid, tid >= 0 ? pid : -1, -1, 0, 0, 0, load<i32>(A + 28));
}

// ---- delivery ----
function deliver(e: usize): void {
  const ts = load<u64>(e);
  // a slice: the previous job's events (not later than slLo) are its own to deliver
  if (slOn && slFrom >= 0 && ts <= slLo) return;
  if (ts > lastTs) lastTs = ts;
  const ai = load<i32>(e + 60);
  if (ai >= 0) {
    samples++;
    const ca = attrCounts + (<usize>ai << 3);
    store<i64>(ca, load<i64>(ca) + 1);
  }
  const kind = load<i32>(e + 56);
  const where = load<i64>(e + 8);
  const tid = load<i32>(e + 32);
  if (kind >= 0) {
    const name = load<i32>(e + 52);
    if (ts >= (<u64>1 << 62)) { skipLater(SKIP_BAD_TIMESTAMP, PDS_BAD_TS, where, name, <i64>ts); return; }
    let tgid = load<i32>(e + 40);
    if (tgid == TGID_LATER) {
      tgid = pdPidOf(tid);
      if (slOn && slFrom >= 0 && tgid < 0) sliceFail(SLF_PID);
    }
    onEvent(kind, <i64>ts, tid, tgid, load<i32>(e + 36), load<i32>(e + 44), load<i64>(e + 16), load<i64>(e + 24),
      load<i32>(e + 48), name, where);
    return;
  }
  switch (kind) {
    case K_SKIP: {
      const code = load<i32>(e + 44);
      if (code != 0) skipLater(load<i32>(e + 48), code, where, load<i64>(e + 16), load<i64>(e + 24));
      break;
    }
    case K_COMM:
      if (tid >= 0) {
        const pid = load<i32>(e + 40);
        pidSet(tid, pid);
        const id = dictIntern((ai == -2 ? scratchPtr : raw) + <usize>load<i64>(e + 16), <i32>load<i64>(e + 24));
        if (commSet(tid, id)) nameTh(tid, pid, id);
      }
      break;
    case K_FORK:
      if (tid >= 0) pidSet(tid, load<i32>(e + 40));
      break;
    case K_LOST: {
      const n = load<i64>(e + 16);
      lost += n;
      onEvent(EV_LOST, <i64>ts, tid, tid >= 0 ? pdPidOf(tid) : -1, load<i32>(e + 36), -1, n, 0, 0, lostName, where);
      break;
    }
    default:
      break;
  }
}

// ---- the queue ----
function rawAlloc(n: i32): usize {
  if (rawUsed + <usize>n > rawCap) {
    let cap = rawCap << 1;
    while (cap < rawUsed + <usize>n) cap <<= 1;
    raw = regrow(raw, rawUsed, cap);
    raw2 = zalloc(cap);
    rawCap = cap;
  }
  const o = rawUsed;
  rawUsed += <usize>n;
  return o;
}
// The queue region holds entries [0, qn): the ones waiting since the last flush (keyed, sorted, in
// perm[0, kLive)), the new ones [qNew, qn), and delivered ones in between, which are reclaimed only when
// they are most of the region (compact()): a flush then copies 16-byte keys, not entries.
function moveEntry(d: usize, e: usize, o: usize): usize {
  memory.copy(d, e, Q_STRIDE);
  if (load<i32>(e + 56) == K_COMM) {
    const len = <usize>load<i64>(e + 24);
    memory.copy(raw2 + o, raw + <usize>load<i64>(e + 16), len);
    store<i64>(d + 16, <i64>o);
    o += len;
  }
  return o;
}
function compact(): void {
  let o: usize = 0;
  const n = kLive + (qn - qNew);
  for (let r = 0; r < n; r++) {
    const kp = perm + (<usize>r << 4);
    o = moveEntry(q2 + <usize>r * Q_STRIDE, q + <usize>load<i32>(kp + 8) * Q_STRIDE, o);
    store<i32>(kp + 8, r);
  }
  let t = q; q = q2; q2 = t;
  t = raw; raw = raw2; raw2 = t;
  rawUsed = o;
  qn = n;
  qNew = kLive;
}

function grow(): void {
  const nc = qCap << 1;
  const n = kLive + (qn - qNew);
  q = regrow(q, <usize>qCap * Q_STRIDE, <usize>nc * Q_STRIDE);
  q2 = zalloc(<usize>nc * Q_STRIDE);
  perm = regrow(perm, <usize>n << 4, <usize>nc * 16);
  perm2 = zalloc(<usize>nc * 16);
  runs = regrow(runs, <usize>nRuns << 2, <usize>nc * 4 + 16);
  qCap = nc;
}

/** A new entry, keyed at time ts (a new run starts where the time goes back). */
@inline function qSlot(ts: u64): usize {
  if (qn == qCap) {
    if (kLive + (qn - qNew) <= qCap >> 1) compact();
    else grow();
  }
  const k = kLive + (qn - qNew);
  const kp = perm + (<usize>k << 4);
  if (k == 0 || ts < lastKeyTs) { store<i32>(runs + (<usize>nRuns << 2), k); nRuns++; }
  lastKeyTs = ts;
  store<u64>(kp, ts);
  store<i32>(kp + 8, qn);
  if (ts > maxTs) maxTs = ts;
  if (ts > roundMax) roundMax = ts;
  if (slOn && slFrom >= 0 && slLoKnown && slRounds > slLoRound && ts <= slLo) sliceFail(SLF_LATE);
  const e = q + <usize>qn * Q_STRIDE;
  qn++;
  return e;
}
@inline function enqueued(): void {
  if (kLive + (qn - qNew) >= maxQueued) flushHalf();
}

/**
 * Sort the waiting entries by (time, file order): their keys are sorted runs (what the last flush left, then
 * the new entries, mostly a few long runs, one per CPU buffer perf read in the round), merged pairwise
 * (stable) on 16-byte (time, index) keys.
 */
function sortQueue(): i32 {
  const n = kLive + (qn - qNew);
  qNew = qn;
  let nr = nRuns;
  if (n == 0 || nr <= 1) return n;
  let src = perm, dst = perm2;
  while (nr > 1) {
    let w = 0;
    for (let r = 0; r < nr; r += 2) {
      const lo = load<i32>(runs + (<usize>r << 2));
      const mid = r + 1 < nr ? load<i32>(runs + (<usize>(r + 1) << 2)) : n;
      const hi = r + 2 < nr ? load<i32>(runs + (<usize>(r + 2) << 2)) : n;
      if (mid < hi && load<u64>(src + (<usize>(mid - 1) << 4)) <= load<u64>(src + (<usize>mid << 4))) {
        // already in order
        memory.copy(dst + (<usize>lo << 4), src + (<usize>lo << 4), <usize>(hi - lo) << 4);
      } else {
        let i = lo, j = mid, k = lo;
        while (i < mid && j < hi) {
          const a = src + (<usize>i << 4), b = src + (<usize>j << 4);
          if (load<u64>(b) < load<u64>(a)) { v128.store(dst + (<usize>k << 4), v128.load(b)); j++; }
          else { v128.store(dst + (<usize>k << 4), v128.load(a)); i++; }
          k++;
        }
        if (i < mid) memory.copy(dst + (<usize>k << 4), src + (<usize>i << 4), <usize>(mid - i) << 4);
        else if (j < hi) memory.copy(dst + (<usize>k << 4), src + (<usize>j << 4), <usize>(hi - j) << 4);
      }
      store<i32>(runs + (<usize>w << 2), lo); w++;
    }
    nr = w;
    const t = src; src = dst; dst = t;
  }
  if (src != perm) { perm2 = perm; perm = src; }
  nRuns = 1;
  return n;
}

function flushUpTo(limit: u64): void {
  const n = sortQueue();
  if (n == 0) return;
  let k = 0;
  while (k < n) {
    const kp = perm + (<usize>k << 4);
    if (load<u64>(kp) > limit) break;
    deliver(q + <usize>load<i32>(kp + 8) * Q_STRIDE);
    k++;
  }
  kLive = n - k;
  if (k > 0 && kLive > 0) memory.copy(perm, perm + (<usize>k << 4), <usize>kLive << 4);
  if (kLive == 0) { qn = 0; qNew = 0; rawUsed = 0; nRuns = 0; }
  else { nRuns = 1; lastKeyTs = load<u64>(perm + (<usize>(kLive - 1) << 4)); }
}

function flushHalf(): void {
  if (slOn && (!slLoKnown || slState == 1 || slState == 2)) { sliceFail(SLF_QUEUE); return; }
  let lo: u64 = 0xffffffffffffffff, hi: u64 = 0;
  const n = kLive + (qn - qNew);
  for (let r = 0; r < n; r++) { const t = load<u64>(perm + (<usize>r << 4)); if (t < lo) lo = t; if (t > hi) hi = t; }
  flushUpTo(lo + (hi - lo) / 2);
}

/** A record TypeScript read (COMM, FORK, EXIT, LOST, LOST_SAMPLES); a COMM's name is the `strLen` bytes at scratch. */
export function pdQueue(rec: i32, ts: u64, hasTime: bool, pid: i32, tid: i32, cpu: i32, count: i64, where: i64, strLen: i32): void {
  const usable = hasTime && ts != 0 && ts != 0xffffffffffffffff;
  const kind = rec == R_COMM ? K_COMM : rec == R_FORK ? K_FORK : rec == R_LOST || rec == R_LOST_SAMPLES ? K_LOST : K_SKIP;
  let e: usize;
  let a: i64 = count;
  if (usable) {
    e = qSlot(ts); // before rawAlloc: making room may move the queued names
    store<u64>(e, ts);
    if (kind == K_COMM) {
      const ro = strLen > 0 ? rawAlloc(strLen) : 0;
      if (strLen > 0) memory.copy(raw + ro, scratchPtr, <usize>strLen);
      a = <i64>ro;
    }
  } else {
    if (!untimedOk(where)) return;
    // delivered at once at the latest time, as perf does (ordered_events__queue -> -ETIME)
    e = tmpEntry;
    store<u64>(e, lastTs);
    if (kind == K_COMM) a = 0;
  }
  store<i64>(e + 8, where); store<i64>(e + 16, a); store<i64>(e + 24, <i64>strLen);
  store<i32>(e + 32, tid); store<i32>(e + 36, cpu); store<i32>(e + 40, pid);
  store<i32>(e + 44, 0); store<i32>(e + 48, 0); store<i32>(e + 56, kind); store<i32>(e + 60, usable ? -1 : -2);
  if (usable) enqueued(); else deliver(e);
}

/** End of the data: deliver everything still queued. */
export function pdFinish(): void {
  if (slOn && slTo >= 0) {
    // what is still queued is the next job's; the data ended within the rounds after the cut: up to slHi is this one's
    if (slState == 2) { flushUpTo(slHi); slState = 3; }
    else if (slState != 3) sliceFail(SLF_CUT_NOT_RECORD);
    return;
  }
  flushUpTo(0xffffffffffffffff);
}

/** The dictionary id of attr i's name (for its non-tracepoint samples); the attrs are named from now on. */
export function pdSetAttrName(i: i32, id: i32): void { store<i32>(attrs + <usize>i * AT_STRIDE + 28, id); resolved = true; }
export function pdSamples(): i64 { return samples; }
export function pdGuestSamples(): i64 { return guestSamples; }
export function pdLost(): i64 { return lost; }
export function pdAttrCount(i: i32): i64 { return load<i64>(attrCounts + (<usize>i << 3)); }
export function pdAttrPeriod(i: i32): i64 { return load<i64>(attrPeriods + (<usize>i << 3)); }

/** Where a sample's event id is (-1: none), from the first attr's sample_type (perf requires them to agree). */
let idPos: i32 = -1;
function findIdPos(): void {
  const first = load<i32>(attrs);
  idPos = -1;
  if (first & S_IDENTIFIER) idPos = 8;
  else if (first & S_ID) {
    idPos = 8;
    if (first & S_IP) idPos += 8;
    if (first & S_TID) idPos += 8;
    if (first & S_TIME) idPos += 8;
    if (first & S_ADDR) idPos += 8;
  }
}

/** The attr of a sample (-1: unknown id, skipped; -2: too short for its id, TypeScript words the error). */
@inline function attrOf(p: usize, size: i32, where: i64): i32 {
  if (nAttrs == 1 || idPos < 0) return 0;
  if (idPos + 8 > size) return -2;
  const id = load<u64>(p + <usize>idPos);
  if (id - idMin < <u64>idSpan) {
    const a = load<i32>(idTable + (<usize>(id - idMin) << 2)) - 1;
    if (a >= 0) return a;
  } else {
    for (let i = 0; i < nIds; i++) if (load<u64>(ids + (<usize>i << 4)) == id) return load<i32>(ids + (<usize>i << 4) + 8);
  }
  if (own(where)) skipLater(SKIP_UNRECOGNIZED, PDS_UNKNOWN_ID, where, 0, <i64>id);
  return -1;
}

/** One sample at p (size bytes); false when TypeScript must handle it (it throws the exact error). */
function sample(p: usize, size: i32, where: i64): bool {
  const ai = attrOf(p, size, where);
  if (ai == -2) return false;
  if (ai < 0) return true;
  const A = attrs + <usize>ai * AT_STRIDE;
  const cpumode = <i32>load<u16>(p + 4) & 7;
  if ((cpumode == 4 || cpumode == 5) && own(where)) guestSamples++;
  const st = load<i32>(A), rf = load<i32>(A + 4);
  const tidO = load<i32>(A + 8), timeO = load<i32>(A + 12), cpuO = load<i32>(A + 16), fixedEnd = load<i32>(A + 20);
  if (fixedEnd > size) return false;
  const end = p + <usize>size;
  const pid = tidO >= 0 ? load<i32>(p + <usize>tidO) : -1;
  const tid = tidO >= 0 ? load<i32>(p + <usize>tidO + 4) : -1;
  const hasTime = timeO >= 0;
  const ts: u64 = hasTime ? load<u64>(p + <usize>timeO) : 0;
  const cpu = cpuO >= 0 ? load<i32>(p + <usize>cpuO) : -1;
  let qp = p + <usize>fixedEnd;
  if (st & (S_READ | S_CALLCHAIN)) {
    if (st & S_READ) {
      const per = 8 + (rf & RF_ID ? 8 : 0) + (rf & RF_LOST ? 8 : 0);
      const times = (rf & RF_TE ? 8 : 0) + (rf & RF_TR ? 8 : 0);
      if (rf & RF_GROUP) {
        if (qp + <usize>(8 + times) > end) return false;
        const nr = load<u64>(qp);
        qp += <usize>(8 + times);
        if (nr > <u64>((end - qp) / <usize>per)) return false;
        qp += <usize>nr * <usize>per;
      } else {
        if (qp + <usize>(per + times) > end) return false;
        qp += <usize>(per + times);
      }
    }
    if (st & S_CALLCHAIN) {
      if (qp + 8 > end) return false;
      const nr = load<u64>(qp);
      qp += 8;
      if (nr > <u64>((end - qp) / 8)) return false;
      qp += <usize>nr * 8;
    }
  }
  let rawP: usize = 0;
  let rawSize: i32 = -1;
  if (st & S_RAW) {
    if (qp + 4 > end) return false;
    const rs = load<u32>(qp);
    qp += 4;
    if (<usize>rs > end - qp) return false;
    rawP = qp;
    rawSize = <i32>rs;
  }
  if (tid >= 0 && pid >= 0) pidSet(tid, pid);
  const perO = load<i32>(A + 32);
  if (perO >= 0 && own(where)) { const pa = attrPeriods + (<usize>ai << 3); store<i64>(pa, load<i64>(pa) + load<i64>(p + <usize>perO)); }
  if (hasTime && ts != 0 && ts != 0xffffffffffffffff) {
    const e = qSlot(ts);
    store<u64>(e, ts); store<i64>(e + 8, where); store<i32>(e + 36, cpu);
    decodeSample(e, ai, A, pid, tid, rawP, rawSize);
    enqueued();
  } else {
    if (!untimedOk(where)) return true;
    const e = tmpEntry;
    store<u64>(e, hasTime ? ts : lastTs); store<i64>(e + 8, where); store<i32>(e + 36, cpu);
    decodeSample(e, ai, A, pid, tid, rawP, rawSize);
    deliver(e);
  }
  return true;
}

/**
 * Walk the records in [base+pos, base+len) of the input arena; `fileOff` is the file offset of base.
 * Returns the offset where it stopped: pdStop 0 = the record there is incomplete (or the end was reached),
 * pdStop 1 = TypeScript handles the record there (any type but SAMPLE and FINISHED_ROUND, or a sample whose
 * fields overrun its record).
 */
export function pdWalk(base: usize, pos: i32, len: i32, fileOff: i64): i32 {
  fixedWhere = false;
  return walk(base, pos, len, fileOff);
}

/** pdWalk over records decompressed from PERF_RECORD_COMPRESSED: every record's `where` is `where`. */
export function pdWalkAt(base: usize, pos: i32, len: i32, where: i64): i32 {
  fixedWhere = true;
  return walk(base, pos, len, where);
}

let fixedWhere = false;

function walk(base: usize, pos: i32, len: i32, fileOff: i64): i32 {
  while (pos + 8 <= len) {
    const p = base + <usize>pos;
    const type = load<i32>(p);
    const size = <i32>load<u16>(p + 6);
    if (size < 8) { pdStop = 1; return pos; }
    if (pos + size > len) break;
    if (slOn) {
      if (fixedWhere) { sliceFail(SLF_COMPRESSED); pdStop = 3; return pos; }
      if (slState == 0 && slTo >= 0) {
        const where = fileOff + <i64>pos;
        if (where > slTo || (where == slTo && type != R_FINISHED_ROUND)) { sliceFail(SLF_CUT_NOT_RECORD); pdStop = 3; return pos; }
      }
      if (pdSliceFail != 0) { pdStop = 3; return pos; }
    }
    if (type == R_SAMPLE) {
      // the attrs are named (their names interned) when the first sample comes, as the TypeScript reader does
      if (!resolved) { pdStop = 2; return pos; }
      if (!sample(p, size, fixedWhere ? fileOff : fileOff + <i64>pos)) { pdStop = 1; return pos; }
    } else if (type == R_FINISHED_ROUND) {
      const limit = nextFlush;
      if (slOn) {
        slRounds++;
        let atCut = false;
        if (slState == 0 && slTo >= 0 && fileOff + <i64>pos == slTo) {
          // the next job's first record: what was read before it is all this job's or older
          slBefore = maxTs;
          slState = 1;
          atCut = true;
        }
        if (!slLoKnown && roundMax > 0) {
          // the end of the first round after slFrom with events: its newest time is where this slice starts
          slLo = roundMax;
          slLoKnown = true;
          slLoRound = slRounds;
          // nothing was delivered yet: TypeScript gives the timeline its origin before anything is (pdStop 4)
          nextFlush = maxTs;
          roundMax = 0;
          pdStop = 4;
          return pos + size;
        }
        if (slState == 1 && !atCut && roundMax > 0) {
          slHi = roundMax;
          if (slBefore > slHi) { sliceFail(SLF_OLD_BEFORE_CUT); pdStop = 3; return pos; }
          slState = 2;
        } else if (slState == 2 && limit >= slHi) {
          // everything up to slHi is read (perf's rule): deliver it, leave the rest to the next job
          flushUpTo(slHi);
          slState = 3;
          pdStop = 3;
          return pos + size;
        }
      }
      if (limit != 0) flushUpTo(limit);
      nextFlush = maxTs;
      roundMax = 0;
    } else {
      pdStop = 1;
      return pos;
    }
    pos += size;
  }
  pdStop = 0;
  return pos;
}
