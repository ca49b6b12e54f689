// trace.dat tracepoint records decoded inside the core (issue 13): the fields of one raw record (common_type,
// common_pid, the event's own fields) read at the offsets the file's format descriptions give, handed over
// once by TypeScript (src/formats/tracedat/core-path.ts) as a small table, and fed to the analysis. The
// mapping follows src/formats/kvm-events.ts (KvmEventDecoder) field for field, including the threads'
// names from sched comm fields and their processes from task_newtask / sched_process_exec.
//
// Format table (TF_STRIDE bytes): kind, nameId, need, flags, id, pad; then 10 fields (off, size, flags:
// bit0 signed, bit1 dynamic (__data_loc), bit2 __rel_loc; size 0 = absent): [0] common_pid, [1] vcpu_id,
// [2..9] the kind's own fields (see tdDecode). flags: bit0 vcpu present; bits 8..15 fixed isa; bit16 isa
// from f2; bit17 EXITF_NO_VCPU. Kinds, field orders and flags come from the one event table
// (src/formats/event-table.ts eventLayout: EV_*, LF_*, and its TK_* for the process-stating events).
import { zalloc, regrow } from "./mem";
import { exitCode, exitFlags, reasonKey } from "./exitreason";
import { intern as dictIntern } from "./dict";
import { onEvent, nameThread as nameTh } from "./analysis";
import {
  EV_EXIT, EV_ENTRY, EV_VCPU_WAKEUP, EV_HALT_POLL_NS, EV_WAIT_LAPIC_EXPIRE, EV_MSR, EV_PIO, EV_MMIO,
  EV_USERSPACE_EXIT, EV_PLE_WINDOW, EV_LOST, EV_OTHER, EV_WFX, EV_HVC, EV_SCHED_SWITCH, EV_SCHED_WAKEUP,
  SKIP_UNRECOGNIZED, SKIP_BAD_PAYLOAD, SKIP_BAD_TIMESTAMP,
} from "./constants";


export const TF_STRIDE: i32 = 144;
export const TK_NEWTASK: i32 = 200; // = event-table.ts TK_NEWTASK
export const TK_EXEC: i32 = 201; // = event-table.ts TK_EXEC
// deferred skips, worded by TypeScript
export const TDS_BAD_SIZE: i32 = 1; // v1 format index, v2 size
export const TDS_UNKNOWN_TYPE: i32 = 2; // v1 type id
export const TDS_NO_TYPE: i32 = 3; // v2 size
export const TDS_BAD_TS: i32 = 4; // v1 name id, v2 ts
export const TDS_WAKE_NS: i32 = 5; // v1 signed, v2 ns
// record errors (the whole file stops, as the TypeScript decoder's FormatError does)

export let swap = false;
let fmts: usize = 0;
let fmtOfType: usize = 0;
let typeOff: i32 = 0;
let typeSize: i32 = 2;
let scratch: usize = 0;

// ---- byte-order aware loads ----
@inline function ld16(p: usize): u16 { const v = load<u16>(p); return swap ? bswap<u16>(v) : v; }
@inline function ld32(p: usize): u32 { const v = load<u32>(p); return swap ? bswap<u32>(v) : v; }
@inline function ld64(p: usize): u64 { const v = load<u64>(p); return swap ? bswap<u64>(v) : v; }
export function tdLd32(p: usize): u32 { return ld32(p); }
export function tdLd64(p: usize): u64 { return ld64(p); }

@inline function fieldI64(b: usize, f: usize): i64 {
  const o = b + <usize>load<i32>(f);
  const sg = (load<i32>(f + 8) & 1) != 0;
  switch (load<i32>(f + 4)) {
    case 1: return sg ? <i64>load<i8>(o) : <i64>load<u8>(o);
    case 2: { const v = ld16(o); return sg ? <i64><i16>v : <i64>v; }
    case 4: { const v = ld32(o); return sg ? <i64><i32>v : <i64>v; }
    case 8: return <i64>ld64(o);
    default: return 0;
  }
}
@inline function fieldI32(b: usize, f: usize): i32 { return <i32>fieldI64(b, f); }
@inline function present(f: usize): bool { return load<i32>(f + 4) != 0; }

// ---- small maps tid -> i32 (open addressing, key tid + 1; 0 = empty) ----
class IMap { m: usize = 0; cap: i32 = 0; n: i32 = 0; }
function mapInit(x: IMap): void { x.cap = 256; x.m = zalloc(<usize>x.cap * 8); x.n = 0; }
function slot(m: usize, cap: i32, key: i32): usize {
  let i = <i32>((<u32>key * 0x9e3779b1) >> 8) & (cap - 1);
  let e = m + (<usize>i << 3);
  while (load<i32>(e) != 0 && load<i32>(e) != key + 1) { i = (i + 1) & (cap - 1); e = m + (<usize>i << 3); }
  return e;
}
/** the value, or `none` */
function mapGet(x: IMap, key: i32, none: i32): i32 {
  const e = slot(x.m, x.cap, key);
  return load<i32>(e) == 0 ? none : load<i32>(e + 4);
}
function mapSet(x: IMap, key: i32, v: i32): void {
  if ((x.n + 1) * 2 > x.cap) {
    const old = x.m, oc = x.cap;
    x.cap <<= 1; x.m = zalloc(<usize>x.cap * 8);
    for (let i = 0; i < oc; i++) {
      const k = load<i32>(old + (<usize>i << 3));
      if (k != 0) { const e = slot(x.m, x.cap, k - 1); store<i32>(e, k); store<i32>(e + 4, load<i32>(old + (<usize>i << 3) + 4)); }
    }
  }
  const e = slot(x.m, x.cap, key);
  if (load<i32>(e) == 0) { store<i32>(e, key + 1); x.n++; }
  store<i32>(e + 4, v);
}
const learned = new IMap(); // tid -> tgid stated by events
const tgids = new IMap(); // saved tgids
const saved = new IMap(); // saved cmdlines: tid -> dict id
const comms = new IMap(); // comm fields of sched events: tid -> dict id
let learnedHow: i32 = 0; // bit0 sched_process_exec, bit1 task_newtask
export function tdLearnedCount(): i32 { return learned.n; }
export function tdLearnedHow(): i32 { return learnedHow; }
/** 1 when a sched comm or a learned process named this thread */
export function tdNamed(tid: i32): i32 { return mapGet(comms, tid, -1) >= 0 || mapGet(learned, tid, -1) != -1 ? 1 : 0; }
export function tdSetTgid(tid: i32, tgid: i32): void { mapSet(tgids, tid, tgid); staleTgids(); }
/** Forget saved_tgids (live re-reads them every poll: the table is cleared in place) */
export function tdClearTgids(): void { memory.fill(tgids.m, 0, <usize>tgids.cap * 8); tgids.n = 0; staleTgids(); }
/** tid's process: stated by an event, else saved_tgids, else -1 */
export function tdTgidOf(tid: i32): i32 { return tgidOf(tid); }
export function tdSetSaved(tid: i32, id: i32): void { mapSet(saved, tid, id); }

let ltid: i32 = -2, ltgid: i32 = -1;
// the process and the --jobs first-event entry of a few thousand threads (a slot per hashed tid: tid + 1, tgid, the
// generation its tgid is of, first-event entry + 1): with many CPUs merged, the thread changes at almost every
// record, and the maps' lookups (and a later slice's bookkeeping) were a sixth of the decode
const TC_SLOTS: i32 = 4096;
const tc: usize = zalloc(<usize>TC_SLOTS * 16);
let tcGen: i32 = 1;
/** tid's slot (hashed: tids that differ by a multiple of the slot count are common, e.g. per-VM ranges) */
@inline function tcSlot(tid: i32): usize { return tc + (<usize>((<u32>tid * 0x9e3779b1) >> 20) << 4); }
/** The tgids known changed: every cached process is stale. */
@inline function staleTgids(): void { ltid = -2; tcGen++; }
function tgidOf(tid: i32): i32 {
  if (tid == ltid) return ltgid;
  const e = tcSlot(tid);
  let g: i32;
  if (load<i32>(e) == tid + 1 && load<i32>(e + 8) == tcGen) g = load<i32>(e + 4);
  else {
    g = mapGet(learned, tid, -2);
    if (g == -2) {
      g = mapGet(tgids, tid, -1);
      if (spec) mapSet(initReads, tid, 1);
    }
    if (load<i32>(e) != tid + 1) { store<i32>(e, tid + 1); store<i32>(e + 12, 0); }
    store<i32>(e + 4, g); store<i32>(e + 8, tcGen);
  }
  ltid = tid; ltgid = g;
  return g;
}

// ---- --jobs (issue 15): what a later slice of a file assumed of the state before it ----
// A later time slice (spec) starts without the processes learned and the sched comm names met before it. It logs
// each decision that read that state, and what it changed, so that the caller can compose the state before every
// slice from the slices before it, check the slice's decisions against it and read again a slice that decided
// otherwise (src/pipeline/jobs-tracedat.ts):
//   initReads   tids whose process came from saved_tgids, not from a learned entry of this slice (R1)
//   LG_FIRST    learn() of a tid without a learned entry in this slice (R2: one job skips it when the tid already
//               had that process)
//   LG_COMM     a task's name taken from comms without an entry of this slice (R4)
//   LG_DEFER    a sched comm name met first in this slice (R3): not named here, since the state before may hold the
//               same name (then one job does not name it either); the caller names the thread when it held another
//               (kind | LG_OVERRIDDEN when the slice named the thread again later)
//   LG_WRITE    learned tid -> tgid; LG_REF learned tid -> the process of parent, read from the state before
const LG_WRITE: i32 = 1, LG_REF: i32 = 2, LG_FIRST: i32 = 3, LG_COMM: i32 = 4, LG_DEFER: i32 = 5, LG_OVERRIDDEN: i32 = 0x100;
let spec = false;
const initReads = new IMap();
// a later slice (speculative or not), for what one job's analysis carries across the cut (src/wasm/merge.ts):
// each thread's first event (of those the analysis places on a CPU: its CPU and record) and first exit/entry
// (record), and the lost-events markers (CPU, record)
let later = false, fcTid: i32 = -2, fcIdx: i32 = 0;
const firstIdx = new IMap(); // tid -> 1 + its entry: tid i32, cpu i32, first record i64, first exit/entry i64 (-1 none)
let fs: usize = 0, fsCap: i32 = 0, fsN: i32 = 0;
let ll: usize = 0, llCap: i32 = 0, llN: i32 = 0; // lost markers: cpu i32, pad, record i64
/** This decoder reads a later slice of its file (call after tdBegin). */
export function tdLater(on: bool): void { later = on; fcTid = -2; fcIdx = 0; fsN = 0; llN = 0; }
function noteFirst(kind: i32, tid: i32, cpu: i32, where: i64): void {
  if (tid != fcTid) {
    fcTid = tid;
    const c = tcSlot(tid);
    fcIdx = load<i32>(c) == tid + 1 ? load<i32>(c + 12) : 0;
    if (fcIdx == 0) fcIdx = mapGet(firstIdx, tid, 0);
    if (fcIdx == 0) {
      if (fsN == fsCap) { const nc = fsCap < 256 ? 256 : fsCap * 2; fs = regrow(fs, <usize>fsCap * 24, <usize>nc * 24); fsCap = nc; }
      const e = fs + <usize>fsN * 24;
      store<i32>(e, tid); store<i32>(e + 4, cpu); store<i64>(e + 8, where); store<i64>(e + 16, -1);
      fcIdx = ++fsN;
      mapSet(firstIdx, tid, fcIdx);
    }
    if (load<i32>(c) != tid + 1) { store<i32>(c, tid + 1); store<i32>(c + 8, 0); }
    store<i32>(c + 12, fcIdx);
  }
  if (kind == EV_EXIT || kind == EV_ENTRY) {
    const e = fs + <usize>(fcIdx - 1) * 24;
    if (load<i64>(e + 16) < 0) store<i64>(e + 16, where);
  }
}
export function tdFirstsPtr(): usize { return fs; }
export function tdFirstsCount(): i32 { return fsN; }
export function tdLostLogPtr(): usize { return ll; }
export function tdLostLogCount(): i32 { return llN; }
const deferIdx = new IMap(); // tid -> 1 + its LG_DEFER entry
let lg: usize = 0, lgCap: i32 = 0, lgN: i32 = 0;
function log(kind: i32, tid: i32, v1: i32, v2: i32): i32 {
  if (lgN == lgCap) { const nc = lgCap < 256 ? 256 : lgCap * 2; lg = regrow(lg, <usize>lgCap * 16, <usize>nc * 16); lgCap = nc; }
  const e = lg + <usize>lgN * 16;
  store<i32>(e, kind); store<i32>(e + 4, tid); store<i32>(e + 8, v1); store<i32>(e + 12, v2);
  return lgN++;
}
/** This decoder reads a later slice of its file: log what it assumes of the state before (call after tdBegin). */
export function tdSpec(on: bool): void { spec = on; }
/** The state before a slice, as the slices before it left it: a learned process, a sched comm name. */
export function tdSeedLearned(tid: i32, tgid: i32): void { mapSet(learned, tid, tgid); staleTgids(); }
export function tdSeedComm(tid: i32, id: i32): void { mapSet(comms, tid, id); }
export function tdLogPtr(): usize { return lg; }
export function tdLogCount(): i32 { return lgN; }
let dump: usize = 0, dumpCap: i32 = 0;
/** The (key, value) pairs of map `which` (0 initReads, 1 comms, 2 learned) at tdDumpPtr(); returns their count. */
export function tdDump(which: i32): i32 {
  const x = which == 0 ? initReads : which == 1 ? comms : learned;
  if (x.n > dumpCap) { dumpCap = x.n; dump = zalloc(<usize>dumpCap * 8); }
  let n = 0;
  for (let i = 0; i < x.cap; i++) {
    const e = x.m + (<usize>i << 3);
    const k = load<i32>(e);
    if (k == 0) continue;
    store<i32>(dump + (<usize>n << 3), k - 1); store<i32>(dump + (<usize>n << 3) + 4, load<i32>(e + 4));
    n++;
  }
  return n;
}
export function tdDumpPtr(): usize { return dump; }
/** Name a thread; a later slice marks a deferred naming of it as overridden. */
function named(tid: i32, tgid: i32, id: i32): void {
  if (spec) {
    const d = mapGet(deferIdx, tid, 0);
    if (d > 0) { const e = lg + <usize>(d - 1) * 16; store<i32>(e, load<i32>(e) | LG_OVERRIDDEN); }
  }
  nameTh(tid, tgid, id);
}

// ---- deferred skips ----
let sk: usize = 0;
let skCap: i32 = 0;
export let skN: i32 = 0;
export function skipLater(kind: i32, code: i32, where: i64, v1: i64, v2: i64): void {
  if (skN == skCap) { sk = regrow(sk, <usize>skCap * 32, <usize>skCap * 64); skCap <<= 1; }
  const e = sk + <usize>skN * 32;
  store<i32>(e, kind); store<i32>(e + 4, code); store<i64>(e + 8, where); store<i64>(e + 16, v1); store<i64>(e + 24, v2);
  skN++;
}
export function tdSkipsPtr(): usize { return sk; }
export function tdSkipCount(): i32 { return skN; }
export function tdSkipsClear(): void { skN = 0; }

/** Take the table written at cfg: nF formats; common_type at (tOff, tSize); big-endian records when sw. */
export function recordsBegin(cfg: usize, nF: i32, tOff: i32, tSize: i32, sw: bool, scratchP: usize): void {
  swap = sw; typeOff = tOff; typeSize = tSize; scratch = scratchP;
  fmts = zalloc(<usize>nF * TF_STRIDE + 16);
  memory.copy(fmts, cfg, <usize>nF * TF_STRIDE);
  fmtOfType = zalloc(65536 * 4);
  for (let i = 0; i < nF; i++) {
    const id = load<i32>(fmts + <usize>i * TF_STRIDE + 16);
    if (id >= 0 && id < 65536) store<i32>(fmtOfType + (<usize>id << 2), i + 1);
  }
  mapInit(learned); mapInit(tgids); mapInit(saved); mapInit(comms); mapInit(initReads); mapInit(deferIdx); mapInit(firstIdx);
  spec = false; later = false; fcTid = -2; fcIdx = 0; fsN = 0; llN = 0; lgN = 0;
  cc = zalloc(<usize>CC_SLOTS * 24);
  learnedHow = 0; ltid = -2; ltgid = -1; memory.fill(tc, 0, <usize>TC_SLOTS * 16); tcGen = 1;
  skCap = 64; sk = zalloc(<usize>skCap * 32); skN = 0;
}

// ---- strings ----
let sStart: usize = 0;
let sLen: i32 = 0;
/** The string field f of the record [b, b+size) into (sStart, sLen), up to its NUL; false when outside it. */
function str(b: usize, size: i32, f: usize): bool {
  const off = load<i32>(f), fsz = load<i32>(f + 4), fl = load<i32>(f + 8);
  let start: i32, len: i32;
  if (fl & 2) {
    if (off < 0 || off + 4 > size) return false;
    const v = ld32(b + <usize>off);
    const rel = <i32>(v & 0xffff);
    len = <i32>(v >>> 16);
    start = (fl & 4) != 0 ? off + fsz + rel : rel;
  } else { start = off; len = fsz; }
  if (start < 0 || start + len > size) return false;
  let e = start;
  while (e < start + len && load<u8>(b + <usize>e) != 0) e++;
  sStart = b + <usize>start;
  sLen = e - start;
  return true;
}
// the last comm bytes of a few threads (tid % 1024): a sched_switch names the same threads over and over
const CC_SLOTS: i32 = 1024;
let cc: usize = 0; // per slot: tid i32, len i32, 16 bytes
function noteComm(tid: i32, b: usize, size: i32, f: usize): bool {
  if (tid <= 0) return true;
  if (!str(b, size, f)) return false;
  if (sLen == 0) return true;
  const e = cc + (<usize>(tid & (CC_SLOTS - 1)) * 24);
  if (sLen <= 16 && load<i32>(e) == tid && load<i32>(e + 4) == sLen && memory.compare(e + 8, sStart, <usize>sLen) == 0) return true;
  const id = dictIntern(sStart, sLen);
  if (sLen <= 16) { store<i32>(e, tid); store<i32>(e + 4, sLen); memory.copy(e + 8, sStart, <usize>sLen); }
  const cur = mapGet(comms, tid, -1);
  if (cur == id) return true;
  mapSet(comms, tid, id);
  if (spec && cur == -1) { mapSet(deferIdx, tid, 1 + log(LG_DEFER, tid, id, tgidOf(tid))); return true; }
  named(tid, tgidOf(tid), id);
  return true;
}
/** tid's name from comms (an in-slice entry, or in a later slice the state before: logged) */
function commOf(tid: i32): i32 {
  const id = mapGet(comms, tid, -1);
  if (spec && id == -1) log(LG_COMM, tid, 0, 0);
  return id;
}
function learn(tid: i32, tgid: i32, id: i32, how: i32, logged: bool): void {
  const cur = mapGet(learned, tid, -2);
  if (cur == tgid) return;
  if (spec && cur == -2) log(LG_FIRST, tid, tgid, 0);
  mapSet(learned, tid, tgid);
  if (!logged) log(LG_WRITE, tid, tgid, 0);
  staleTgids();
  learnedHow |= how;
  if (id < 0) id = mapGet(saved, tid, -1);
  if (id < 0) id = dictIntern(scratch, 0);
  named(tid, tgid, id);
}

// ---- delivery ----
let tsSigned = false;
export function setTsSigned(s: bool): void { tsSigned = s; }
@inline function push(kind: i32, ts: i64, tid: i32, tgid: i32, cpu: i32, vcpu: i32, a: i64, b: i64, c: i32, name: i32, where: i64): void {
  if (kind != EV_LOST && (ts < 0 || ts >= (<i64>1 << 62))) {
    skipLater(SKIP_BAD_TIMESTAMP, TDS_BAD_TS, where, <i64>name | (tsSigned ? (<i64>1 << 32) : 0), ts);
    return;
  }
  if (later && kind != EV_OTHER) noteFirst(kind, tid, cpu, where);
  onEvent(kind, ts, tid, tgid, cpu, vcpu, a, b, c, name, where);
}
export function pushLost(ts: i64, cpu: i32, n: i64, name: i32, where: i64): void {
  if (later) {
    if (llN == llCap) { const nc = llCap < 64 ? 64 : llCap * 2; ll = regrow(ll, <usize>llCap * 16, <usize>nc * 16); llCap = nc; }
    const e = ll + <usize>llN * 16;
    store<i32>(e, cpu); store<i64>(e + 8, where);
    llN++;
  }
  onEvent(EV_LOST, ts, -1, -1, cpu, -1, n, 0, 0, name, where);
}

/** The format index of the record [b, b+size) when its format's row is still to come (kind -1), else -1. */
export function lazyFormatOf(b: usize, size: i32): i32 {
  if (size < typeOff + typeSize) return -1;
  const tb = b + <usize>typeOff;
  const id: i32 = typeSize == 1 ? <i32>load<u8>(tb) : typeSize == 4 ? <i32>ld32(tb) : <i32>ld16(tb);
  const fi = id >= 0 && id < 65536 ? load<i32>(fmtOfType + (<usize>id << 2)) - 1 : -1;
  return fi >= 0 && load<i32>(fmts + <usize>fi * TF_STRIDE) == -1 ? fi : -1;
}
/** Row fi of the format table, written at `cfg` (a format parsed when its first record came). */
export function setFormatRow(fi: i32, cfg: usize): void {
  memory.copy(fmts + <usize>fi * TF_STRIDE, cfg, <usize>TF_STRIDE);
}

/** Decode the record [b, b+size) at time ts (already converted) on cpu; false: a string field is outside it. */
export function tdDecode(b: usize, size: i32, ts: i64, cpu: i32, where: i64): bool {
  if (size < typeOff + typeSize) { skipLater(SKIP_UNRECOGNIZED, TDS_NO_TYPE, where, 0, size); return true; }
  const tb = b + <usize>typeOff;
  const id: i32 = typeSize == 1 ? <i32>load<u8>(tb) : typeSize == 4 ? <i32>ld32(tb) : <i32>ld16(tb);
  const fi = id >= 0 && id < 65536 ? load<i32>(fmtOfType + (<usize>id << 2)) - 1 : -1;
  if (fi < 0) { skipLater(SKIP_UNRECOGNIZED, TDS_UNKNOWN_TYPE, where, <i64><u32>id, 0); return true; }
  const F = fmts + <usize>fi * TF_STRIDE;
  const kind = load<i32>(F), nameId = load<i32>(F + 4), need = load<i32>(F + 8), flags = load<i32>(F + 12);
  const fp = F + 24, fv = F + 36, f0 = F + 48, f1 = F + 60, f2 = F + 72, f3 = F + 84, f4 = F + 96;
  if (kind == EV_OTHER) {
    if (size < 8 && size < need) { skipLater(SKIP_BAD_PAYLOAD, TDS_BAD_SIZE, where, fi, size); return true; }
    const tid = fieldI32(b, fp);
    push(EV_OTHER, ts, tid, tgidOf(tid), cpu, (flags & 1) != 0 && size >= need ? fieldI32(b, fv) : -1, 0, 0, 0, nameId, where);
    return true;
  }
  if (size < need) { skipLater(SKIP_BAD_PAYLOAD, TDS_BAD_SIZE, where, fi, size); return true; }
  const tid = fieldI32(b, fp);
  const vcpu = (flags & 1) != 0 ? fieldI32(b, fv) : -1;
  switch (kind) {
    case EV_EXIT: {
      const isa = (flags & (1 << 16)) != 0 ? fieldI32(b, f2) : (flags >> 8) & 0xff;
      const rawR = <u32>fieldI64(b, f0);
      push(EV_EXIT, ts, tid, tgidOf(tid), cpu, vcpu, <i64>reasonKey(isa, exitCode(isa, rawR), scratch), fieldI64(b, f1), exitFlags(isa, rawR, flags), nameId, where);
      break;
    }
    case EV_ENTRY:
      push(EV_ENTRY, ts, tid, tgidOf(tid), cpu, vcpu, 0, fieldI64(b, f0), 0, nameId, where);
      break;
    case EV_VCPU_WAKEUP: {
      const c = (fieldI64(b, f1) != 0 ? 1 : 0) | (fieldI64(b, f2) != 0 ? 2 : 0);
      const ns = fieldI64(b, f0);
      const signed = (load<i32>(f0 + 8) & 1) != 0 || load<i32>(f0 + 4) < 8;
      const bad = signed ? (ns < 0 || ns >= (<i64>1 << 62)) : (<u64>ns >= (<u64>1 << 62));
      if (bad) { skipLater(SKIP_BAD_PAYLOAD, TDS_WAKE_NS, where, signed ? 1 : 0, ns); return true; }
      push(EV_VCPU_WAKEUP, ts, tid, tgidOf(tid), cpu, vcpu, ns, 0, c, nameId, where);
      break;
    }
    case EV_HALT_POLL_NS:
      push(EV_HALT_POLL_NS, ts, tid, tgidOf(tid), cpu, vcpu, fieldI64(b, f0), fieldI64(b, f1), fieldI64(b, f2) != 0 ? 1 : 0, nameId, where);
      break;
    case EV_WAIT_LAPIC_EXPIRE: {
      const d = fieldI64(b, f0); // handed over as signed
      push(EV_WAIT_LAPIC_EXPIRE, ts, tid, tgidOf(tid), cpu, vcpu, d, 0, d < 0 ? 1 : 0, nameId, where);
      break;
    }
    case EV_MSR: {
      const c = (fieldI64(b, f2) != 0 ? 1 : 0) | (fieldI64(b, f3) != 0 ? 2 : 0);
      push(EV_MSR, ts, tid, tgidOf(tid), cpu, vcpu, fieldI64(b, f0), fieldI64(b, f1), c, nameId, where);
      break;
    }
    case EV_PIO:
      push(EV_PIO, ts, tid, tgidOf(tid), cpu, vcpu, fieldI64(b, f0), fieldI64(b, f1), fieldI64(b, f2) != 0 ? 1 : 0, nameId, where);
      break;
    case EV_MMIO: // type: 0 unsatisfied read, 1 read, 2 write; the analysis wants 1 = write
      push(EV_MMIO, ts, tid, tgidOf(tid), cpu, vcpu, fieldI64(b, f0), fieldI64(b, f1), fieldI32(b, f2) == 2 ? 1 : 0, nameId, where);
      break;
    case EV_USERSPACE_EXIT:
      push(EV_USERSPACE_EXIT, ts, tid, tgidOf(tid), cpu, vcpu, fieldI64(b, f0), 0, 0, nameId, where);
      break;
    case EV_WFX: // an absent is_wfe field is unknown (2)
      push(EV_WFX, ts, tid, tgidOf(tid), cpu, vcpu, !present(f0) ? 2 : fieldI64(b, f0) != 0 ? 1 : 0, fieldI64(b, f1), 0, nameId, where);
      break;
    case EV_HVC:
      push(EV_HVC, ts, tid, tgidOf(tid), cpu, vcpu, fieldI64(b, f0), fieldI64(b, f1), 0, nameId, where);
      break;
    case EV_PLE_WINDOW:
      push(EV_PLE_WINDOW, ts, tid, tgidOf(tid), cpu, vcpu, fieldI64(b, f0), fieldI64(b, f1), 0, nameId, where);
      break;
    case EV_SCHED_SWITCH: { // f0 next_pid, f1 prev_pid, f2 prev_state, f3 prev_comm, f4 next_comm
      const prev = fieldI32(b, f1), next = fieldI32(b, f0);
      if (present(f3) && !noteComm(prev, b, size, f3)) return false;
      if (present(f4) && !noteComm(next, b, size, f4)) return false;
      push(EV_SCHED_SWITCH, ts, prev, tgidOf(prev), cpu, -1, <i64>next, <i64>stateLetter(<i32>fieldI64(b, f2)), prev, nameId, where);
      break;
    }
    case EV_SCHED_WAKEUP: { // f0 pid, f1 target_cpu, f2 comm
      const woken = fieldI32(b, f0);
      if (present(f2) && !noteComm(woken, b, size, f2)) return false;
      push(EV_SCHED_WAKEUP, ts, tid, tgidOf(tid), cpu, -1, <i64>woken, 0, fieldI32(b, f1), nameId, where);
      break;
    }
    case TK_NEWTASK: { // f0 pid, f1 clone_flags, f2 comm
      const child = fieldI32(b, f0);
      if (child > 0) {
        // a thread (CLONE_THREAD) is in its parent's process: logged as such (a later slice may not know it yet)
        const thread = (fieldI64(b, f1) & 0x10000) != 0;
        if (thread) log(LG_REF, child, tid, 0);
        const tgid = thread ? tgidOf(tid) : child;
        let id = -1;
        if (present(f2)) {
          if (!str(b, size, f2)) return false;
          if (sLen > 0) id = dictIntern(sStart, sLen);
        }
        if (id < 0) id = commOf(child);
        if (tgid >= 0) learn(child, tgid, id, 2, thread);
      }
      push(EV_OTHER, ts, tid, tgidOf(tid), cpu, -1, 0, 0, 0, nameId, where);
      break;
    }
    case TK_EXEC: { // f0 pid, f1 filename
      const pid = fieldI32(b, f0);
      if (pid > 0) {
        let id = -1;
        if (present(f1)) {
          if (!str(b, size, f1)) return false;
          let s = sStart, n = sLen;
          for (let i = n - 1; i >= 0; i--) if (load<u8>(sStart + <usize>i) == 47) { s = sStart + <usize>i + 1; n = sLen - i - 1; break; }
          if (n > 15) n = 15;
          if (n > 0) id = dictIntern(s, n);
        }
        if (id < 0) id = commOf(pid);
        learn(pid, pid, id, 1, false);
      }
      push(EV_OTHER, ts, tid, tgidOf(tid), cpu, -1, 0, 0, 0, nameId, where);
      break;
    }
    default:
      break;
  }
  return true;
}

/** sched_switch's first letter of a raw prev_state (kvm-events.ts stateLetter) */
function stateLetter(raw: i32): i32 {
  const low = raw & 0xff;
  if (low == 0) return 82;
  for (let i = 0; i < 8; i++) if (low & (1 << i)) return <i32>load<u8>(changetype<usize>(LETTERS) + <usize>(i << 1));
  return 63;
}
const LETTERS = "SDTtXZPI";
