// The text tokenizer: raw ftrace (`trace`, `trace_pipe`), `trace-cmd report` and `perf script` lines,
// scanned straight from the input arena. Line ends are found 32 bytes at a time with wasm SIMD.
//
// Shortcuts for the lines that repeat what earlier ones showed, each falling back to the general path on any
// difference (test/formats/text/fast-paths.test.ts checks they change no table):
//   - the header cache: a line whose bytes up to its CPU column equal a cached line's has that line's task,
//     tid, tgid, CPU and thread record (one thread lookup per line); its '[' is looked for first where the
//     last cached header had it;
//   - the timestamp layout: the spaces, flags column and seconds width of the last line's timestamp; a line
//     with the same layout has its "sec.usec:" read with word-wide digit checks, and the seconds' value is
//     the last line's when their bytes are;
//   - kvm_exit / kvm_entry (and "kvm:" of perf) by 8-byte compares, padding runs 16 bytes at a time;
//   - the hot events: after a cached header and a timestamp at the known layout, kvm_exit and kvm_entry of
//     the usual shapes are read in one pass inlined into the line loop (hotEvent), no call but onEvent's.
//
// Header shapes accepted (copied from real captures):
//   ftrace, record-tgid:   "             vmm-193     (    188) [001] d..1.     7.334239: kvm_entry: vcpu 1, rip 0x10000"
//   ftrace, no tgid:       "             vmm-10892   [001] d..2.  1150.196070: sched_switch: prev_comm=vmm ..."
//   ftrace 4.x flags:      "       challenge-24797 [003] d..1 83184.290326: kvm_entry: vcpu 0"
//   unknown comm:          " <...>-62567 [030] 2758596.349023: kvm_entry:            vcpu 0"
//   trace-cmd, instance:   "cap:              vmm-193   [001]     7.335242: kvm_exit:             reason EXIT_NPF rip 0x10000 info 200000006 1000"
//   trace-cmd, comm space: "       CPU 1/KVM-453725 [004] 22149.950355: kvm_entry:             vcpu 1 rip 0xffffffff9431c00b"
//   trace-cmd, x86-tsc:    " qemu-system-x86-533825 [005]303280081900681: kvm_halt_poll_ns:     vcpu 0: halt_poll_ns 0 (shrink 10000)"
//   perf script:           "             vmm   193 [001]     7.301836:                       kvm:kvm_exit: vcpu 1 reason npf rip ..."
//   perf script pid/tid:   "            qemu  1234/1240 [001]  770.850287: kvm:kvm_entry: vcpu 0, rip 0x100146"
//   perf, comm with space: "       fc_vcpu 1  599500 [039] 1377662.550600: kvm:kvm_entry:  vcpu 1 rip 0xffffffff81036706"
//   perf, no comm/tid:     "    [001]   770.850287:                      kvm:kvm_entry: vcpu 0, rip 0x100146"
//   lost events:           "CPU:1 [LOST 1234 EVENTS]"
// kvm_exit bodies:
//   5.10+:   "vcpu 0 reason msr rip 0x10050 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000"
//   6.x:     "... error_code 0x00000000 requests 0x0000000000000000"
//   VMX:     "vcpu 0 reason EXCEPTION_NMI rip 0xfd0bd info1 0x... info2 0x... intr_info 0x80000306 error_code 0x00000000"
//   failed:  "vcpu 0 reason INVALID_STATE FAILED_VMENTRY rip 0x..."   (the flag stays part of the reason name)
//   old:     "reason EXTERNAL_INTERRUPT rip 0x100 info 0 800000f6"
//   plugin:  "reason EXIT_NPF rip 0x10000 info 200000006 1000"  /  "reason UNKNOWN (123) rip ..."
//   arm64:   "IRQ: HSR_EC: 0x0000 (UNKNOWN), PC: 0xffff87259e30"                  (reason IRQ)
//   RISC-V:  "SEPC:0x80200000, SCAUSE:0xa, STVAL:0x0, HTVAL:0x0, HTINST:0x0"      (reason EXC_SUPERVISOR_SYSCALL)
//   arm64, trace-cmd 3.1 kvm plugin: "<CANT FIND FIELD exit_reason>TRAP: HSR_EC: 0x0016 (HVC64), PC: 0x000000004000008c"
//            "TRAP: HSR_EC: 0x0024 (DABT_LOW), PC: 0x0000000040000100"         (reason DABT_LOW; Linux 6.1 arm64)
import {
  EV_EXIT, EV_ENTRY, EV_VCPU_WAKEUP, EV_HALT_POLL_NS, EV_WAIT_LAPIC_EXPIRE, EV_MSR, EV_PIO, EV_MMIO,
  EV_USERSPACE_EXIT, EV_SCHED_SWITCH, EV_SCHED_WAKEUP, EV_PLE_WINDOW, EV_LOST, EV_OTHER, EV_WFX, EV_HVC,
  EXITF_FAILED_VMENTRY, EXITF_NO_VCPU, WAKE_WAITED, WAKE_VALID,
  FMT_TRACECMD, CLOCK_NS, CLOCK_RAW,
  SKIP_UNRECOGNIZED, SKIP_BAD_TIMESTAMP, SKIP_EXIT_NO_REASON, SKIP_ENTRY_BAD, SKIP_TRUNCATED, SKIP_BAD_PAYLOAD,
  SKIP_MIXED_CLOCK, SKIP_KVM_UNREADABLE, SKIP_KIND_COUNT,
  ERR_NONE, ERR_BINARY, ERR_STRICT,
  SK_STRIDE, SK_COUNT, SK_FILE, SK_LINE, SK_COL, SK_LEN, SK_TEXT, SK_TEXT_MAX,
  C_LINES, C_COMMENTS, C_BLANK, C_CLOCK, C_BYTES,
  TH_COMM, TH_STRIDE, TH_PEND_GPA, EV_EXIT_INFO, EV_PAGE_FAULT, EXD_RIP, EXD_INFO,
} from "./constants";
import { zalloc } from "./mem";
import { intern, internCached, DICT_MAX } from "./dict";
import { onEvent, counterAdd, counterGet, counterSet, fileId, threadOf, threadPtr, rowsRoom, primeThread } from "./analysis";

// ---- state of the current text file ----
let fmt: i32 = 0;
let lineNo: i64 = 0;
let strict: bool = false;
let skippingLong: bool = false;
export let errLine: i64 = 0;
export let errCol: i32 = 0;
export let errKind: i32 = 0;

// skipped-line table, SKIP_KIND_COUNT records
export const skips: usize = zalloc(SKIP_KIND_COUNT * SK_STRIDE);

// event name id -> EV_* kind (0 = not a kvm/sched event we decode)
const kindOf: usize = zalloc(DICT_MAX);
let idExit: i32 = -1;

function internStr(s: string): i32 {
  const n = s.length;
  const p = heap.alloc(n);
  for (let i = 0; i < n; i++) store<u8>(p + <usize>i, <u8>s.charCodeAt(i));
  return intern(p, n);
}

let idEntry: i32 = -1;

function known(name: string, kind: i32): void {
  const id = internStr(name);
  store<u8>(kindOf + <usize>id, <u8>kind);
  if (kind == EV_EXIT) idExit = id;
  if (kind == EV_ENTRY) idEntry = id;
}

/** The first 8 bytes of s as a little-endian u64 (for 8-byte compares). */
function word(s: string): u64 {
  let w: u64 = 0;
  for (let i = 0; i < 8; i++) w |= (<u64>s.charCodeAt(i)) << (<u64>i * 8);
  return w;
}
const W_KVM_EXIT: u64 = word("kvm_exit");
const W_KVM_ENTR: u64 = word("kvm_entr");
const W_KVM_SYS: u64 = word("kvm:kvm_");

/** Up to 8 bytes of s as a little-endian u64, zero-padded (compare under lowMask(s.length)). */
function wordN(s: string): u64 {
  let w: u64 = 0;
  for (let i = 0; i < s.length; i++) w |= (<u64>s.charCodeAt(i)) << (<u64>i * 8);
  return w;
}
const W_VCPU_SP: u64 = wordN("vcpu ");
const W_REASON_SP: u64 = wordN("reason ");
const W_SP_RIP_SP: u64 = wordN(" rip ");
const M5: u64 = 0xffffffffff;
const M7: u64 = 0xffffffffffffff;
/** Do the n <= 8 bytes at p (within e) equal w? One load (the arena has slack past the line end). */
// @ts-ignore: decorator
@inline function atW(p: usize, e: usize, w: u64, m: u64, n: usize): bool {
  return p + n <= e && (load<u64>(p) & m) == w;
}

// ---- the header cache: a line whose bytes up to its CPU column ("  CPU 1/KVM-3149  (  3127) [001]")
// repeat those of an earlier kvm line has the same task, tid, tgid and CPU: they are not parsed again.
// Slots are found by the 16 bytes before the '[' (they hold the tid), checked against the whole prefix.
const HC_SLOTS: i32 = 1024;
const HC_STRIDE: usize = 96;
const HC_PREFIX_MAX: i32 = 64;
const HC_LEN: usize = 64; // i32 prefix length (up to and with ']')
const HC_OPEN: usize = 68; // i32 offset of '['
const HC_TID: usize = 72;
const HC_TGID: usize = 76;
const HC_CPU: usize = 80;
const HC_THREAD: usize = 84;
const HC_EPOCH: usize = 88;
const hcache: usize = zalloc(<usize>HC_SLOTS * HC_STRIDE);
let hcEpoch: i32 = 0;
let hcLastOpen: i32 = 0;
/** Tests turn the shortcuts off (the header cache, the timestamp layout) to check they change nothing. */
let fastPaths: bool = true;
export function textFastPaths(on: bool): void { fastPaths = on; } // offset of the '[' of the last header cached or found in the cache (0: none yet)

// @ts-ignore: decorator
@inline function hcSlot(q: usize): usize {
  // the 16 bytes before the '[' and the CPU's digits after it: the same task on other CPUs (the idle task
  // of each, "<idle>-0 (-------) [024]") gets other slots rather than taking turns in one
  const w = load<u32>(q + 1);
  const x = w ^ 0x5d5d5d5d; // ']' bytes become zero
  const z = (x - 0x01010101) & ~x & 0x80808080;
  const digits = z == 0 ? w : w & (((z & (0 - z)) >> 7) - 1);
  const k = load<u64>(q - 16) ^ (load<u64>(q - 8) * 0x9E3779B97F4A7C15) ^ (<u64>digits * 0xC2B2AE3D27D4EB4F);
  return hcache + <usize>((k * 0xff51afd7ed558ccd) >> 54) * HC_STRIDE;
}

/** Are the n bytes at a and b equal (n <= 64; both readable 16 bytes past n)? */
// @ts-ignore: decorator
@inline function sameBytes(a: usize, b: usize, n: i32): bool {
  let i = 0;
  while (i + 16 <= n) {
    if (i8x16.bitmask(i8x16.eq(v128.load(a + <usize>i), v128.load(b + <usize>i))) != 0xffff) return false;
    i += 16;
  }
  if (i == n) return true;
  const m = (1 << (n - i)) - 1;
  return (i8x16.bitmask(i8x16.eq(v128.load(a + <usize>i), v128.load(b + <usize>i))) & m) == m;
}

/** Register the event names the tokenizer decodes (after dictInit). */
export function textInit(): void {
  memory.fill(skips, 0, SKIP_KIND_COUNT * SK_STRIDE);
  known("kvm_exit", EV_EXIT);
  known("kvm_entry", EV_ENTRY);
  known("kvm_vcpu_wakeup", EV_VCPU_WAKEUP);
  known("kvm_halt_poll_ns", EV_HALT_POLL_NS);
  known("kvm_wait_lapic_expire", EV_WAIT_LAPIC_EXPIRE);
  known("kvm_msr", EV_MSR);
  known("kvm_pio", EV_PIO);
  known("kvm_mmio", EV_MMIO);
  known("kvm_userspace_exit", EV_USERSPACE_EXIT);
  known("sched_switch", EV_SCHED_SWITCH);
  known("sched_wakeup", EV_SCHED_WAKEUP);
  known("sched_waking", EV_SCHED_WAKEUP);
  known("kvm_ple_window_update", EV_PLE_WINDOW);
  known("kvm_wfx_arm64", EV_WFX);
  known("kvm_hvc_arm64", EV_HVC);
  known("kvm_page_fault", EV_PAGE_FAULT);
}

export function beginText(format: i32, strictMode: bool): void {
  fmt = format;
  hcEpoch++;
  hcLastOpen = 0;
  tsOff = 0;
  tsSecW = 0;
  lineNo = 0;
  strict = strictMode;
  skippingLong = false;
}

export function textLines(): i64 { return lineNo; }

// ---- the timestamp's layout on the last line read the usual way: the timestamp starts tsOff (1..16) bytes
// after the CPU column's ']', with spaces (or tabs) exactly at the bits of tsSpaces in those bytes, a flags
// token (if any) starting at tsFlag that is no number, and tsSd (1..8) digits of seconds before ".uuuuuu:".
// A line that shows the same layout is read with word-wide digit checks; any other goes the usual way.
let tsOff: i32 = 0;
let tsSpaces: i32 = 0;
let tsFlag: i32 = -1;
let tsSd: i32 = 0;
// the seconds of the last line read at that layout: their bytes (as masked in the word) and their value in ns
let tsSecW: u64 = 0;
let tsSecNs: i64 = 0;
const SWAR_HI: u64 = 0xF0F0F0F0F0F0F0F0;
const SWAR_0: u64 = 0x3030303030303030;
const SWAR_6: u64 = 0x0606060606060606;
/** Are the bytes of x under mask m all ASCII digits? */
// @ts-ignore: decorator
@inline function digits8(x: u64, m: u64): bool {
  return ((x & SWAR_HI & m) == (SWAR_0 & m)) && (((x + SWAR_6) & SWAR_HI & m) == (SWAR_0 & m));
}
/** The value of 8 ASCII digits (zero bytes count as 0), the first in the low byte. */
// @ts-ignore: decorator
@inline function value8(x: u64): u64 {
  x = ((x & 0x0F0F0F0F0F0F0F0F) * 2561) >> 8;
  x = ((x & 0x00FF00FF00FF00FF) * 6553601) >> 16;
  return ((x & 0x0000FFFF0000FFFF) * 42949672960001) >> 32;
}
/** Spaces and tabs among the 16 bytes at p, one bit each. */
// @ts-ignore: decorator
@inline function spaceBits(p: usize): i32 {
  const v = v128.load(p);
  return i8x16.bitmask(v128.or(i8x16.eq(v, i8x16.splat(32)), i8x16.eq(v, i8x16.splat(9))));
}

// ---- small scanners; results that do not fit the return value go through these globals ----
let rp: usize = 0; // position after the last parsed token
let rneg: bool = false;

// @ts-ignore: decorator
@inline function isDigit(c: u32): bool { return c - 48 < 10; }
// @ts-ignore: decorator
@inline function isSpace(c: u32): bool { return c == 32 || c == 9; }
// @ts-ignore: decorator
@inline function isHex(c: u32): bool { return c - 48 < 10 || (c | 0x20) - 97 < 6; }

function skipSp(p: usize, e: usize): usize {
  while (p < e && isSpace(load<u8>(p))) p++;
  return p;
}

/** Skip spaces 16 bytes at a time (the arena has 64 bytes of slack past any line end). */
function skipSpWide(p: usize, e: usize): usize {
  const sp = i8x16.splat(32);
  while (p + 16 <= e) {
    const m = i8x16.bitmask(i8x16.ne(v128.load(p), sp));
    if (m != 0) return p + <usize>ctz(m) < e ? skipSp(p + <usize>ctz(m), e) : e;
    p += 16;
  }
  return skipSp(p, e);
}

/** skipSp, 16 bytes at a time when the run is longer than one space (perf script pads the event name to a
 * column, trace-cmd report its payload). */
// @ts-ignore: decorator
@inline function skipSpRun(p: usize, e: usize): usize {
  if (p + 1 < e && load<u8>(p + 1) == 32 && load<u8>(p) == 32) return skipSpWide(p, e);
  return skipSp(p, e);
}

/** skipSp with no call when the run is shorter than 16 bytes (the padding of perf script's event name and of
 * trace-cmd report's payload; one space in ftrace). */
// @ts-ignore: decorator
@inline function skipSpShort(p: usize, e: usize): usize {
  const m = i8x16.bitmask(i8x16.ne(v128.load(p), i8x16.splat(32)));
  if (m == 0) return p + 16 < e ? skipSpWide(p + 16, e) : e;
  const q = p + <usize>ctz(m);
  if (q >= e) return e;
  return load<u8>(q) == 9 ? skipSp(q, e) : q;
}

/** First '[' in [p, e), or e. */
function findBracket(p: usize, e: usize): usize {
  const br = i8x16.splat(91);
  while (p + 16 <= e) {
    const m = i8x16.bitmask(i8x16.eq(v128.load(p), br));
    if (m != 0) return p + <usize>ctz(m);
    p += 16;
  }
  while (p < e && load<u8>(p) != 91) p++;
  return p;
}

/** Decimal unsigned at p; sets rp; returns -1 if no digit. */
function dec(p: usize, e: usize): i64 {
  let v: i64 = 0;
  const s = p;
  while (p < e) {
    const d = <u32>load<u8>(p) - 48;
    if (d >= 10) break;
    v = v * 10 + <i64>d;
    p++;
  }
  rp = p;
  return p == s ? -1 : v;
}

/** Signed decimal; sets rp and rneg (false if no digits). */
function sdec(p: usize, e: usize): i64 {
  let neg = false;
  if (p < e && load<u8>(p) == 45) { neg = true; p++; }
  const v = dec(p, e);
  rneg = v >= 0;
  return neg ? -v : v;
}

/** Hex number with optional 0x; sets rp; rneg=false when no digit. */
function hex(p: usize, e: usize): i64 {
  if (p + 1 < e && load<u8>(p) == 48 && (load<u8>(p + 1) | 0x20) == 120) p += 2;
  let v: i64 = 0;
  const s = p;
  while (p < e) {
    const c = <u32>load<u8>(p);
    let d: u32 = 0;
    if (c - 48 < 10) d = c - 48;
    else if ((c | 0x20) - 97 < 6) d = (c | 0x20) - 87;
    else break;
    v = (v << 4) | <i64>d;
    p++;
  }
  rp = p;
  rneg = p != s;
  return v;
}

/** Does the ASCII string s occur at p (within e)? */
// @ts-ignore: decorator
@inline function at(p: usize, e: usize, s: string): bool {
  const n = s.length;
  if (p + <usize>n > e) return false;
  // the literal is UTF-16 in static memory: compare its low bytes
  const q = changetype<usize>(s);
  for (let i = 0; i < n; i++) if (load<u8>(p + <usize>i) != load<u8>(q + (<usize>i << 1))) return false;
  return true;
}

// The needles find() looks for are string literals (static, at fixed addresses): each one's bytes as two
// little-endian words with their masks, kept in a small table keyed by the literal's address.
const NEEDLE_SLOTS: usize = 256;
const NEEDLE_STRIDE: usize = 40; // usize address, i32 length, then w0, m0, w1, m1 (u64) from offset 8
const needles: usize = zalloc(NEEDLE_SLOTS * NEEDLE_STRIDE);
function needleOf(s: string): usize {
  const a = changetype<usize>(s);
  const slot = needles + ((<usize>(<u32>a * 0x9e3779b1) >> 24) & (NEEDLE_SLOTS - 1)) * NEEDLE_STRIDE;
  if (load<usize>(slot) == a) return slot;
  // first use (or a slot another literal had): fill it
  const n = s.length < 16 ? s.length : 16;
  let w0: u64 = 0, w1: u64 = 0;
  for (let i = 0; i < n; i++) {
    const c = <u64>(s.charCodeAt(i) & 0xff);
    if (i < 8) w0 |= c << (<u64>i * 8);
    else w1 |= c << (<u64>(i - 8) * 8);
  }
  store<usize>(slot, a);
  store<i32>(slot + 4, s.length);
  store<u64>(slot + 8, w0);
  store<u64>(slot + 16, n >= 8 ? <u64>-1 : (<u64>1 << (<u64>n * 8)) - 1);
  store<u64>(slot + 24, w1);
  store<u64>(slot + 32, n >= 16 ? <u64>-1 : n <= 8 ? 0 : (<u64>1 << (<u64>(n - 8) * 8)) - 1);
  return slot;
}

/** First position of s in [p, e), or 0 if absent. */
function find(p: usize, e: usize, s: string): usize {
  const nd = needleOf(s);
  const n = <usize>load<i32>(nd + 4);
  if (n == 0 || p + n > e) return 0;
  if (n > 16) return findLong(p, e, s);
  const last = e - n;
  const w0 = load<u64>(nd + 8), m0 = load<u64>(nd + 16);
  const w1 = load<u64>(nd + 24), m1 = load<u64>(nd + 32);
  const c0 = i8x16.splat(<u8>w0);
  // candidates: where the first two bytes match, 16 at a time (memory past e is readable: the arena has slack)
  const c1 = i8x16.splat(<u8>(w0 >> 8));
  for (let q = p; q <= last; q += 16) {
    let m = n == 1
      ? i8x16.bitmask(i8x16.eq(v128.load(q), c0))
      : i8x16.bitmask(v128.and(i8x16.eq(v128.load(q), c0), i8x16.eq(v128.load(q + 1), c1)));
    while (m != 0) {
      const r = q + <usize>ctz(m);
      if (r > last) return 0;
      if ((load<u64>(r) & m0) == w0 && (load<u64>(r + 8) & m1) == w1) return r;
      m &= m - 1;
    }
  }
  return 0;
}
/** find() for needles longer than 16 bytes (none is, today). */
function findLong(p: usize, e: usize, s: string): usize {
  const n = <usize>s.length;
  for (let r = p; r + n <= e; r++) if (at(r, e, s)) return r;
  return 0;
}

// ---- skipped lines ----
let lastSkipKind: i32 = -1;

function skipLine(kind: i32, ls: usize, le: usize, col: usize): bool {
  // a line that names kvm_exit or kvm_entry but is no event line we can read hides an exit: its own kind,
  // so that a file of such lines never reads as "no kvm events"
  if (kind == SKIP_UNRECOGNIZED && (find(ls, le, "kvm_exit") || find(ls, le, "kvm_entry"))) kind = SKIP_KVM_UNREADABLE;
  lastSkipKind = kind;
  const r = skips + <usize>kind * SK_STRIDE;
  const n = load<i64>(r + SK_COUNT);
  store<i64>(r + SK_COUNT, n + 1);
  if (n == 0) {
    store<i32>(r + SK_FILE, fileId);
    store<i64>(r + SK_LINE, lineNo);
    store<i32>(r + SK_COL, <i32>(col - ls) + 1);
    let len = <i32>(le - ls);
    if (len > SK_TEXT_MAX) len = SK_TEXT_MAX;
    store<i32>(r + SK_LEN, len);
    memory.copy(r + SK_TEXT, ls, len);
  }
  if (strict) {
    errLine = lineNo;
    errCol = <i32>(col - ls) + 1;
    errKind = kind;
    // keep this occurrence's text for the error message
    let len = <i32>(le - ls);
    if (len > SK_TEXT_MAX) len = SK_TEXT_MAX;
    store<i32>(r + SK_FILE, fileId);
    store<i64>(r + SK_LINE, lineNo);
    store<i32>(r + SK_COL, errCol);
    store<i32>(r + SK_LEN, len);
    memory.copy(r + SK_TEXT, ls, len);
    return true;
  }
  return false;
}

/** A skip reported by a TypeScript reader (binary formats). */
export function skipExternal(kind: i32, where: i64, p: usize, len: i32): void {
  const r = skips + <usize>kind * SK_STRIDE;
  const n = load<i64>(r + SK_COUNT);
  store<i64>(r + SK_COUNT, n + 1);
  if (n == 0) {
    store<i32>(r + SK_FILE, fileId);
    store<i64>(r + SK_LINE, where);
    store<i32>(r + SK_COL, 0);
    if (len > SK_TEXT_MAX) len = SK_TEXT_MAX;
    store<i32>(r + SK_LEN, len);
    memory.copy(r + SK_TEXT, p, len);
  }
}

// ---- mail-wrapped events ----
// Mail and bug-tracker copies wrap an event line after its timestamp (" kvm_exit: reason ..." follows on the
// next line) or after a field name ("reason npf rip" / "0xfd11d info 100000014 fd000"). Such a line asks
// the scanner to look at the next one (wantJoin); when that one is an unambiguous continuation (no CPU
// column, and an event name exactly when the wrap came before the name) both are read as one line.
const JOIN_NAME: i32 = 1; // header and timestamp, the event name on the next line
const JOIN_FIELD: i32 = 2; // a field name whose value is on the next line
let wantJoin: i32 = 0;
let ripWanted: bool = false;
export function textRips(on: bool): void { ripWanted = on; }
let gpaWanted: bool = false;
export function textGpas(on: bool): void { gpaWanted = on; }
let detailWanted: bool = false;
/** Rows: read each exit's rip and info1/info2 (EV_EXIT_INFO). */
export function textDetail(on: bool): void { detailWanted = on; }

/** The exit's info words after its rip: "info1 0x... info2 0x..." (5.12+) or "info 784 0" (older, and trace-cmd's
 * kvm plugin); handed to the analysis as EV_EXIT_INFO with what the line carried. */
function exitDetail(re: usize, le: usize, ts: i64, tid: i32, tgid: i32, cpu: i32, vcpu: i32, ripSeen: bool): void {
  let i1: i64 = 0, i2: i64 = 0;
  let bits: i32 = ripSeen ? EXD_RIP : 0;
  const p1 = find(re, le, " info1 ");
  if (p1) {
    const v1 = hex(skipSp(p1 + 7, le), le);
    const ok1 = rneg;
    const p2 = find(rp, le, " info2 ");
    if (ok1 && p2) {
      const v2 = hex(skipSp(p2 + 7, le), le);
      if (rneg) { i1 = v1; i2 = v2; bits |= EXD_INFO; }
    }
  } else {
    const p = find(re, le, " info ");
    if (p) {
      const v1 = hex(skipSp(p + 6, le), le);
      if (rneg) {
        const v2 = hex(skipSp(rp, le), le);
        if (rneg) { i1 = v1; i2 = v2; bits |= EXD_INFO; }
      }
    }
  }
  onEvent(EV_EXIT_INFO, ts, tid, tgid, cpu, vcpu, i1, i2, bits, -1, lineNo);
}

/** SVM NPF exits ("npf", "EXIT_NPF"): the faulting guest-physical address is info2 ("info2 0x1ab000", or the
 * second number of the older "info 200000006 1ab000"); -1 when the line has none. */
function npfGpa(rs: usize, re: usize, le: usize): i64 {
  const n = re - rs;
  if (!((n == 3 && at(rs, re, "npf")) || (n == 8 && at(rs, re, "EXIT_NPF")))) return -1;
  const i2 = find(re, le, " info2 ");
  if (i2) { const v = hex(skipSp(i2 + 7, le), le); return rneg ? v : -1; }
  const i1 = find(re, le, " info ");
  if (!i1) return -1;
  hex(skipSp(i1 + 6, le), le);
  if (!rneg) return -1;
  const v = hex(skipSp(rp, le), le);
  return rneg ? v : -1;
}
let noJoin: bool = false;
const JOIN_MAX: i32 = 4096;
const joinBuf: usize = zalloc(<usize>JOIN_MAX + 128) + 16; // 16 bytes before and 64 past for the wide loads

// @ts-ignore: decorator
@inline function tokIs(s: usize, n: usize, w: string): bool { return n == <usize>w.length && at(s, s + n, w); }

/** Does the payload [b, le) end with a field name that waits for its value (or a comma)? */
function endsWithFieldName(b: usize, le: usize): bool {
  // the usual last byte is a digit (of a value), and only "info1"/"info2" among the names end with one
  if (le > b) {
    const c = <u32>load<u8>(le - 1);
    if (c - 48 < 10 && !((c == 49 || c == 50) && le - 1 > b && load<u8>(le - 2) == 111)) return false;
  }
  let e = le;
  while (e > b && (isSpace(load<u8>(e - 1)) || load<u8>(e - 1) == 13)) e--;
  if (e == b) return false;
  if (load<u8>(e - 1) == 44) return true; // "vcpu 0,"
  let s = e;
  while (s > b && !isSpace(load<u8>(s - 1)) && e - s <= 10) s--;
  const n = e - s;
  if (n < 3 || n > 10) return false;
  return tokIs(s, n, "rip") || tokIs(s, n, "reason") || tokIs(s, n, "info") || tokIs(s, n, "info1") || tokIs(s, n, "info2") ||
    tokIs(s, n, "intr_info") || tokIs(s, n, "error_code") || tokIs(s, n, "vcpu") || tokIs(s, n, "address") || tokIs(s, n, "gpa");
}

/** Does [p, e) start with an event name "name:" followed by a space or its end? */
function startsWithEventName(p: usize, e: usize): bool {
  let q = p;
  while (q < e) {
    const c = <u32>load<u8>(q);
    if (c == 58) return q > p && (q + 1 == e || isSpace(load<u8>(q + 1)) || load<u8>(q + 1) == 13);
    if (!(c == 95 || isDigit(c) || (c | 0x20) - 97 < 26)) return false;
    q++;
  }
  return false;
}

/** Has [p, e) a CPU column "[NNN]"? */
function hasCpuColumn(p: usize, e: usize): bool {
  let q = p;
  while (q < e) {
    q = findBracket(q, e);
    if (q >= e) return false;
    let r = q + 1;
    while (r < e && isDigit(load<u8>(r))) r++;
    if (r > q + 1 && r < e && load<u8>(r) == 93) return true;
    q++;
  }
  return false;
}

/**
 * The line [ls, le) asked for its continuation. Returns the position after the continuation line when both
 * were read as one, 0 when the line was read alone, -1 when the next line is not in the arena yet (the
 * caller carries the line into the next chunk), -2 on a strict-mode stop.
 */
/**
 * U+00A0 (C2 A0) at q becomes two spaces: copies from web archives and mail pad with non-breaking spaces,
 * and two spaces keep every byte offset and column. The tokenizer does it as its newline search passes
 * each byte, before the line is read; a C2 that ends the window is looked at again with the next one.
 */
// @ts-ignore: decorator
@inline function nbsp(q: usize, end: usize): void {
  if (q + 1 < end && load<u8>(q + 1) == 0xa0) store<u16>(q, 0x2020);
}

function joinNext(ls: usize, le: usize, end: usize, last: bool, canCarry: bool): isize {
  const mode = wantJoin;
  wantJoin = 0;
  let ce: usize = le + 1;
  // the next line is looked at before the newline search has passed it: its padding is made plain here
  while (ce < end && load<u8>(ce) != 10 && load<u8>(ce) >= 9) { if (load<u8>(ce) == 0xc2) nbsp(ce, end); ce++; }
  const complete = ce < end && load<u8>(ce) == 10;
  if (!complete && !(last && ce == end)) {
    if (canCarry) return -1;
    noJoin = true;
    const stop = parseLine(ls, le);
    noJoin = false;
    return stop ? -2 : 0;
  }
  const cs = skipSp(le + 1, ce);
  let ok = cs < ce && load<u8>(cs) != 35 && !hasCpuColumn(cs, ce);
  if (ok) ok = mode == JOIN_NAME ? startsWithEventName(cs, ce) : !startsWithEventName(cs, ce);
  let fe = le;
  if (fe > ls && load<u8>(fe - 1) == 13) fe--;
  const n1 = <i32>(fe - ls);
  const n2 = <i32>(ce - cs);
  if (ok && n1 + 1 + n2 > JOIN_MAX) ok = false;
  noJoin = true;
  let stop: bool;
  if (ok) {
    memory.copy(joinBuf, ls, <usize>n1);
    store<u8>(joinBuf + <usize>n1, 32);
    memory.copy(joinBuf + <usize>n1 + 1, cs, <usize>n2);
    const je = joinBuf + <usize>(n1 + 1 + n2);
    memory.fill(je, 0, 64);
    stop = parseLine(joinBuf, je);
    lineNo++; // the continuation line
    counterAdd(C_LINES, 1);
  } else {
    stop = parseLine(ls, le);
  }
  noJoin = false;
  wantJoin = 0;
  if (stop) return -2;
  return ok ? <isize>(ce < end ? ce + 1 : end) : 0;
}

// ---- the hot events: kvm_exit and kvm_entry after a cached header ----
// The shapes read here (everything else, and any difference, goes to parseEvent or parseBody):
//   ftrace:    "... [001] d..1. 24006.249294: kvm_entry: vcpu 1, rip 0xffffffffa00db918"
//              "... [003] ..... 24006.249303: kvm_exit: vcpu 3 reason EXTERNAL_INTERRUPT rip 0xffffffffa13f2e2f info1 ..."
//   perf:      "... [001]     7.301836:                       kvm:kvm_exit: vcpu 1 reason npf rip ..."
//   trace-cmd: "... [001]     7.335242: kvm_exit:             reason EXIT_NPF rip 0x10000 info 200000006 1000"
// The timestamp must show the layout of the last line (tsOff), the file's clock be nanoseconds already, the
// reason be one token followed by " rip ", and the line end with a value (no mail-wrapped field name).

/** The rest of a line whose header came from the cache (ends at cpuEnd): kvm_exit and kvm_entry of the usual
 * shapes read here, the rest by parseEvent (timestamp read) or parseBody (anything else). */
// @ts-ignore: decorator
@inline function cachedLine(ls: usize, le: usize, cpuEnd: usize, tid: i32, tgid: i32, cpu: i32): bool {
  if (tsOff <= 0) return parseBody(ls, le, cpuEnd, tid, tgid, cpu, 0, 0, 0);
  // the timestamp at the last line's layout (as in parseBody)
  const x = cpuEnd + <usize>tsOff;
  const sd = <usize>tsSd;
  if (x + sd + 8 > le || (spaceBits(cpuEnd) & ((1 << tsOff) - 1)) != tsSpaces) return parseBody(ls, le, cpuEnd, tid, tgid, cpu, 0, 0, 0);
  if (tsFlag >= 0 && isDigit(load<u8>(cpuEnd + <usize>tsFlag))) return parseBody(ls, le, cpuEnd, tid, tgid, cpu, 0, 0, 0);
  const m: u64 = <u64>-1 << ((8 - <u64>sd) << 3);
  const sw = load<u64>(x + sd - 8) & m;
  const fw = load<u64>(x + sd); // ".uuuuuu:"
  const fd = (fw << 8) & 0xFFFFFFFFFFFF0000;
  if ((fw & 0xff) != 46 || (fw >> 56) != 58 || !digits8(fd, 0xFFFFFFFFFFFF0000) || counterGet(C_CLOCK) != CLOCK_NS) {
    return parseBody(ls, le, cpuEnd, tid, tgid, cpu, 0, 0, 0);
  }
  // the seconds change far more rarely than the lines: the last line's value when the bytes are the same
  // (bytes that passed digits8 under this layout's mask; tsSecW is 0, no match, after a layout change)
  let secNs = tsSecNs;
  if (sw != tsSecW) {
    if (!digits8(sw, m)) return parseBody(ls, le, cpuEnd, tid, tgid, cpu, 0, 0, 0);
    secNs = <i64>value8(sw) * 1000000000;
    tsSecW = sw;
    tsSecNs = secNs;
  }
  const ts = secNs + <i64>value8(fd) * 1000;
  const t = x + sd + 8;
  if (!(ripWanted || detailWanted || gpaWanted) && hotEvent(le, t, ts, tid, tgid, cpu)) return false;
  return parseEvent(ls, le, t, ts, tid, tgid, cpu, 0, 0, 0, cpuEnd);
}

/** Read [t, le), after a timestamp ts, as parseEvent would when it is a usual kvm_exit or kvm_entry; false
 * (having done nothing) when it is not. */
// @ts-ignore: decorator
@inline function hotEvent(le: usize, t: usize, ts: i64, tid: i32, tgid: i32, cpu: i32): bool {
  // the event name
  let ns = skipSpShort(t, le);
  let w = load<u64>(ns);
  if (w == W_KVM_SYS) { ns += 4; w = load<u64>(ns); }
  let kind: i32;
  let z: usize;
  if (w == W_KVM_EXIT) { kind = EV_EXIT; z = ns + 8; }
  else if (w == W_KVM_ENTR && load<u8>(ns + 8) == 121) { kind = EV_ENTRY; z = ns + 9; }
  else return false;
  if (z + 1 >= le || load<u8>(z) != 58 || !isSpace(load<u8>(z + 1))) return false;
  const b = skipSpShort(z + 1, le);
  if (b >= le) return false;
  // a line that ends with a field name waits for its continuation (mail-wrapped): parseEvent's. The names
  // (endsWithFieldName) are words of 3 letters or more that do not end with three hex digits: a line that
  // ends with a hex token of one or two digits or with three hex digits ("rip 0xffffffffa00db91f",
  // "error_code 0x00000000", "info 0 0") ends with a value
  if (le - b < 3 || !isHex(load<u8>(le - 1)) || !(isSpace(load<u8>(le - 2)) || (isHex(load<u8>(le - 2)) && (isHex(load<u8>(le - 3)) || isSpace(load<u8>(le - 3)))))) {
    if (endsWithFieldName(b, le)) return false;
  }
  let vcpu: i32 = -1;
  let flags: i32 = 0;
  let p = b;
  if (atW(p, le, W_VCPU_SP, M5, 5)) {
    let v: i32 = 0;
    p += 5;
    const s = p;
    while (p < le && isDigit(load<u8>(p))) { v = v * 10 + <i32>(load<u8>(p) - 48); p++; }
    if (p == s || p - s > 6) return false;
    vcpu = v;
  } else if (kind == EV_ENTRY) return false;
  else flags = EXITF_NO_VCPU;
  if (kind == EV_ENTRY) {
    onEvent(EV_ENTRY, ts, tid, tgid, cpu, vcpu, 0, 0, 0, idEntry, lineNo);
    return true;
  }
  // kvm_exit: " reason X rip " (or "reason X rip " without a vcpu)
  if (vcpu >= 0) { if (p >= le || load<u8>(p) != 32) return false; p++; }
  if (!atW(p, le, W_REASON_SP, M7, 7)) return false;
  const rs = p + 7;
  let re = rs;
  while (true) {
    const k = spaceBits(re);
    if (k != 0) { re += <usize>ctz(k); break; }
    re += 16;
    if (re >= le) return false;
  }
  if (re == rs || re > le || !atW(re, le, W_SP_RIP_SP, M5, 5)) return false;
  if (re - rs > 15 && at(re - 14, le, "FAILED_VMENTRY")) flags |= EXITF_FAILED_VMENTRY;
  onEvent(EV_EXIT, ts, tid, tgid, cpu, vcpu, <i64>internCached(rs, <i32>(re - rs)), 0, flags, idExit, lineNo);
  return true;
}

// ---- one line ----
// Returns true when the caller must stop (strict mode error).
function parseLine(ls: usize, le: usize): bool { return lineAt(ls, le); }
// (scanText has it inline: the usual line then costs one call fewer)
// @ts-ignore: decorator
@inline function lineAt(ls: usize, le: usize): bool {
  if (le > ls && load<u8>(le - 1) == 13) le--; // CRLF
  // the header of a kvm line seen before: task, tid, tgid and CPU as then, and the thread looked up once
  if (fastPaths && le - ls >= 24) {
    // most lines have their '[' where the last one had it; a prefix that matches a cached one in full is
    // that line's header, whichever '[' led to it
    let q = ls + <usize>hcLastOpen;
    if (hcLastOpen == 0 || q >= le || load<u8>(q) != 91) q = findBracket(ls, le);
    const off = <i32>(q - ls);
    if (off >= 16 && q < le) {
      const e = hcSlot(q);
      if (load<i32>(e + HC_EPOCH) == hcEpoch && load<i32>(e + HC_OPEN) == off) {
        const n = load<i32>(e + HC_LEN);
        if (ls + <usize>n <= le && sameBytes(ls, e, n)) {
          const tid = load<i32>(e + HC_TID);
          if (primeThread(load<i32>(e + HC_THREAD), tid)) {
            hcLastOpen = off;
            const tgid = load<i32>(e + HC_TGID);
            const cpu = load<i32>(e + HC_CPU);
            return cachedLine(ls, le, ls + <usize>n, tid, tgid, cpu);
          }
        }
      }
    }
  }
  return parseHeader(ls, le);
}

/** A line whose header is not in the cache (ls..le without its CR). */
function parseHeader(ls: usize, le: usize): bool {
  let p = skipSpWide(ls, le);
  if (p == le) { counterAdd(C_BLANK, 1); return false; }
  const c0 = load<u8>(p);
  if (c0 == 35) { counterAdd(C_COMMENTS, 1); return false; } // '#'

  // find the CPU field "[NNN]"
  let q = p;
  let cpuOpen: usize = 0;
  while (q < le) {
    q = findBracket(q, le);
    if (q < le) { // '['
      let r = q + 1;
      while (r < le && isDigit(load<u8>(r))) r++;
      if (r > q + 1 && r < le && load<u8>(r) == 93) { cpuOpen = q; break; }
      // "CPU:1 [LOST 1234 EVENTS]"
      if (at(q + 1, le, "LOST ")) {
        const cp = find(p, q, "CPU:");
        let cpu: i32 = -1;
        if (cp) { const v = dec(cp + 4, q); if (v >= 0) cpu = <i32>v; }
        const nLost = dec(q + 6, le);
        onEvent(EV_LOST, 0, -1, -1, cpu, -1, nLost < 0 ? 0 : nLost, 0, 0, -1, lineNo);
        return false;
      }
    }
    q++;
  }
  if (!cpuOpen) {
    // trace-cmd report preamble: "cpus=2", "version = 6", "CPU 0 is empty", "CPU0 data recorded at offset=..."
    if (at(p, le, "cpus=") || at(p, le, "version = ") || (at(p, le, "CPU") && (find(p, le, "is empty") || find(p, le, "data recorded")))) {
      counterAdd(C_COMMENTS, 1);
      return false;
    }
    return skipLine(SKIP_UNRECOGNIZED, ls, le, p);
  }
  let cpuEnd = cpuOpen + 1;
  const cpu = <i32>dec(cpuEnd, le);
  cpuEnd = rp + 1; // after ']'

  // ---- task part: [p, he) ----
  let he = cpuOpen;
  while (he > p && isSpace(load<u8>(he - 1))) he--;
  let tgid: i32 = -1;
  if (he > p && load<u8>(he - 1) == 41) { // ')': record-tgid column "(    188)" or "(-------)"
    let o = he - 1;
    while (o > p && load<u8>(o) != 40) o--;
    const v = dec(skipSp(o + 1, he), he);
    if (v >= 0) tgid = <i32>v;
    he = o;
    while (he > p && isSpace(load<u8>(he - 1))) he--;
  }
  let hs = p;
  if (fmt == FMT_TRACECMD) {
    // instance prefix "cap:" of a trace-cmd buffer
    let s = hs;
    while (s < he && !isSpace(load<u8>(s))) s++;
    if (s < he && s > hs && load<u8>(s - 1) == 58) hs = skipSp(s, he);
  }
  let tid: i32 = -1;
  let cs = hs;
  let ce = hs;
  if (he > hs) {
    let d = he;
    while (d > hs && isDigit(load<u8>(d - 1))) d--;
    if (d < he && d > hs && load<u8>(d - 1) == 45) { // "comm-pid"
      tid = <i32>dec(d, he);
      ce = d - 1;
    } else if (d < he) { // perf: "comm tid" or "comm pid/tid"
      let ts0 = d;
      if (ts0 > hs && load<u8>(ts0 - 1) == 47) { // '/'
        let d2 = ts0 - 1;
        while (d2 > hs && isDigit(load<u8>(d2 - 1))) d2--;
        const pid = dec(d2, ts0 - 1);
        if (pid >= 0) tgid = <i32>pid;
        tid = <i32>dec(ts0, he);
        ts0 = d2;
      } else {
        tid = <i32>dec(d, he);
      }
      ce = ts0;
      while (ce > hs && isSpace(load<u8>(ce - 1))) ce--;
    } else {
      ce = he; // no tid at all
    }
  }
  return parseBody(ls, le, cpuEnd, tid, tgid, cpu, cs, ce, cpuOpen);
}

/**
 * The rest of a line after its CPU column (at cpuEnd). cs..ce: the task name to record (none on the
 * cached path); cpuOpen: the '[' of a header parsed here, to cache it (0: it came from the cache).
 */
function parseBody(ls: usize, le: usize, cpuEnd: usize, tid: i32, tgid: i32, cpu: i32, cs: usize, ce: usize, cpuOpen: usize): bool {

  // ---- timestamp: optional irq-flags column, then "sec.frac:" or a bare counter "NNN:" ----
  let t = cpuEnd;
  let ts: i64 = 0;
  let clock: i32 = 0;
  // the layout of the last line (see tsOff)
  if (tsOff > 0) {
    const x = cpuEnd + <usize>tsOff;
    const sd = <usize>tsSd;
    if (x + sd + 8 <= le && (spaceBits(cpuEnd) & ((1 << tsOff) - 1)) == tsSpaces && (tsFlag < 0 || !isDigit(load<u8>(cpuEnd + <usize>tsFlag)))) {
      const m: u64 = <u64>-1 << ((8 - <u64>sd) << 3);
      const sw = load<u64>(x + sd - 8) & m;
      const fw = load<u64>(x + sd); // ".uuuuuu:"
      const fd = (fw << 8) & 0xFFFFFFFFFFFF0000;
      if ((fw & 0xff) == 46 && (fw >> 56) == 58 && digits8(sw, m) && digits8(fd, 0xFFFFFFFFFFFF0000)) {
        ts = <i64>value8(sw) * 1000000000 + <i64>value8(fd) * 1000;
        clock = CLOCK_NS;
        t = x + sd + 8;
      }
    }
  }
  if (clock == 0) {
    t = skipSp(cpuEnd, le);
    // the irq-flags column ("d..1.", "....") starts with a letter or a dot: skip it without trying it as a number
    let flag: i32 = -1;
    if (t < le && !isDigit(load<u8>(t))) {
      flag = <i32>(t - cpuEnd);
      while (t < le && !isSpace(load<u8>(t))) t++;
      t = skipSp(t, le);
    }
    // the usual "sec.usec:" (at most 10 digits of seconds, 6 of microseconds) without the general loop
    let r = t;
    let sec: i64 = 0;
    while (r < le) {
      const d = <u32>load<u8>(r) - 48;
      if (d >= 10) break;
      sec = sec * 10 + <i64>d;
      r++;
    }
    if (r > t && r - t <= 10 && sec <= 4611686018 && r + 7 < le && load<u8>(r) == 46 && load<u8>(r + 7) == 58) {
      const d0 = <u32>load<u8>(r + 1) - 48, d1 = <u32>load<u8>(r + 2) - 48, d2 = <u32>load<u8>(r + 3) - 48;
      const d3 = <u32>load<u8>(r + 4) - 48, d4 = <u32>load<u8>(r + 5) - 48, d5 = <u32>load<u8>(r + 6) - 48;
      if (d0 < 10 && d1 < 10 && d2 < 10 && d3 < 10 && d4 < 10 && d5 < 10) {
        const us = ((((d0 * 10 + d1) * 10 + d2) * 10 + d3) * 10 + d4) * 10 + d5;
        ts = sec * 1000000000 + <i64>us * 1000;
        clock = CLOCK_NS;
        // learn this layout for the next lines
        const off = <i32>(t - cpuEnd);
        const sd = <i32>(r - t);
        tsOff = 0;
        tsSecW = 0;
        if (fastPaths && off >= 1 && off <= 16 && sd <= 8) {
          tsOff = off;
          tsSpaces = spaceBits(cpuEnd) & ((1 << off) - 1);
          tsFlag = flag;
          tsSd = sd;
        }
        t = r + 8;
      }
    }
  }
  for (let attempt = 0; clock == 0 && attempt < 2; attempt++) {
    const sec = dec(t, le);
    // more than 18 digits overflow, and times beyond 2^62 ns (146 years) leave no room to subtract:
    // such a number is damage, not a time (as Core.push() does for binary input)
    if (sec >= 0 && (rp - t > 18 || sec > 4611686018427387903)) return skipLine(SKIP_BAD_TIMESTAMP, ls, le, t);
    if (sec >= 0) {
      let r = rp;
      if (r < le && load<u8>(r) == 46) { // '.'
        const fs = r + 1;
        let frac: i64 = 0;
        let nd = 0;
        r = fs;
        while (r < le && isDigit(load<u8>(r))) {
          if (nd < 9) { frac = frac * 10 + <i64>(load<u8>(r) - 48); nd++; }
          r++;
        }
        if (r < le && load<u8>(r) == 58 && r > fs) {
          if (sec > 4611686018) return skipLine(SKIP_BAD_TIMESTAMP, ls, le, t);
          while (nd < 9) { frac *= 10; nd++; }
          ts = sec * 1000000000 + frac;
          clock = CLOCK_NS;
          t = r + 1;
          break;
        }
      } else if (r < le && load<u8>(r) == 58) {
        ts = sec;
        clock = CLOCK_RAW;
        t = r + 1;
        break;
      }
    }
    if (attempt == 0) { // skip the flags token ("d..1.", "....", "dNh2.")
      while (t < le && !isSpace(load<u8>(t))) t++;
      t = skipSp(t, le);
    }
  }
  if (clock == 0) return skipLine(SKIP_BAD_TIMESTAMP, ls, le, t);
  const fileClock = <i32>counterGet(C_CLOCK);
  if (fileClock == 0) counterSet(C_CLOCK, clock);
  else if (fileClock != clock) return skipLine(SKIP_MIXED_CLOCK, ls, le, t);
  return parseEvent(ls, le, t, ts, tid, tgid, cpu, cs, ce, cpuOpen, cpuEnd);
}

/** The rest of a line after its timestamp (at t, time ts in the file's clock): event name and payload.
 * The other arguments as parseBody's. */
function parseEvent(ls: usize, le: usize, t: usize, ts: i64, tid: i32, tgid: i32, cpu: i32, cs: usize, ce: usize, cpuOpen: usize, cpuEnd: usize): bool {
  // ---- event name: up to the first ':' followed by a space or the line end ("kvm:kvm_exit:" in perf) ----
  let ns = skipSpRun(t, le);
  let ne = ns;
  let nameStart = ns;
  let name: i32 = -1;
  // kvm_exit and kvm_entry by 8-byte compares (the arena has slack past the line end)
  let w = load<u64>(ns);
  if (w == W_KVM_SYS && ns + 12 <= le) { nameStart = ns + 4; w = load<u64>(nameStart); }
  if (w == W_KVM_EXIT) {
    const z = nameStart + 8;
    if (z < le && load<u8>(z) == 58 && (z + 1 == le || isSpace(load<u8>(z + 1)))) { name = idExit; ne = z; }
  } else if (w == W_KVM_ENTR) {
    const z = nameStart + 9;
    if (z < le && load<u8>(z - 1) == 121 && load<u8>(z) == 58 && (z + 1 == le || isSpace(load<u8>(z + 1)))) { name = idEntry; ne = z; }
  }
  if (name < 0) {
    nameStart = ns;
    // the first ':' or space or tab, 16 bytes at a time (the arena has slack past the line end)
    while (true) {
      const v = v128.load(ne);
      const m = i8x16.bitmask(v128.or(i8x16.eq(v, i8x16.splat(58)), v128.or(i8x16.eq(v, i8x16.splat(32)), i8x16.eq(v, i8x16.splat(9)))));
      if (m == 0) {
        ne += 16;
        if (ne >= le) { ne = le; break; }
        continue;
      }
      const q = ne + <usize>ctz(m);
      if (q >= le) { ne = le; break; }
      if (load<u8>(q) == 58 && !(q + 1 == le || isSpace(load<u8>(q + 1)))) {
        nameStart = q + 1; // system prefix "kvm:"
        ne = q + 1;
        continue;
      }
      ne = q;
      break;
    }
    if (ne == nameStart) {
      if (ns == le && !noJoin) { wantJoin = JOIN_NAME; return false; }
      return skipLine(SKIP_UNRECOGNIZED, ls, le, ns);
    }
    name = internCached(nameStart, <i32>(ne - nameStart));
  }
  const kind = <i32>load<u8>(kindOf + <usize>name);
  let b = ne < le ? ne + 1 : le; // payload
  b = skipSpRun(b, le);

  if (!noJoin && (kind == EV_EXIT || kind == EV_ENTRY || kind == EV_USERSPACE_EXIT || kind == EV_PAGE_FAULT || (kind == 0 && at(nameStart, ne, "kvm_"))) && endsWithFieldName(b, le)) {
    wantJoin = JOIN_FIELD;
    return false;
  }
  if (kind == 0) {
    // other kvm events on a vCPU thread may tell its vCPU id ("kvm_hv_timer_state: vcpu_id 0 hv_timer 1")
    let vcpu: i32 = -1;
    if (at(nameStart, ne, "kvm_") && at(b, le, "vcpu")) {
      const v = dec(skipSp(at(b, le, "vcpu_id ") ? b + 8 : b + 4, le), le);
      if (v >= 0) vcpu = <i32>v;
    }
    onEvent(EV_OTHER, ts, tid, tgid, cpu, vcpu, 0, 0, 0, name, lineNo);
    return false;
  }
  if (kind == EV_PAGE_FAULT) {
    // counted as any other kvm event; with --by gpa its address is read: VMX EPT violations name their GPA here only.
    // "address fffffff0 error_code 784" (older kernels: fault_address, error_code) or
    // "vcpu 0 rip 0xffffffff81000000 address 0x00000000fee00000 error_code 0x182" (vcpu_id, guest_rip, fault_address, error_code)
    let vcpu: i32 = -1;
    if (at(b, le, "vcpu ")) { const v = dec(skipSp(b + 5, le), le); if (v >= 0) vcpu = <i32>v; }
    let addr: i64 = -1;
    let err: i64 = 0;
    if (gpaWanted) {
      const ap = find(b, le, "address ");
      if (ap) {
        const v = hex(skipSp(ap + 8, le), le);
        if (rneg && v >= 0) addr = v;
        const ep = find(rp, le, "error_code ");
        if (ep) err = hex(skipSp(ep + 11, le), le);
      }
    }
    onEvent(EV_PAGE_FAULT, ts, tid, tgid, cpu, vcpu, addr, err, 0, name, lineNo);
    return false;
  }
  // the thread's comm, once, from its first kvm event
  if (tid >= 0 && ce > cs) {
    const ti = threadOf(tid, tgid);
    const th = threadPtr(ti);
    if (load<i32>(th + TH_COMM) < 0) store<i32>(th + TH_COMM, intern(cs, <i32>(ce - cs)));
    // remember this header for the lines that repeat it
    const off = <i32>(cpuOpen - ls);
    const n = <i32>(cpuEnd - ls);
    if (fastPaths && cpuOpen && off >= 16 && n <= HC_PREFIX_MAX) {
      const e = hcSlot(cpuOpen);
      memory.copy(e, ls, <usize>n);
      store<i32>(e + HC_LEN, n);
      store<i32>(e + HC_OPEN, off);
      store<i32>(e + HC_TID, tid);
      store<i32>(e + HC_TGID, tgid);
      store<i32>(e + HC_CPU, cpu);
      store<i32>(e + HC_THREAD, ti);
      store<i32>(e + HC_EPOCH, hcEpoch);
      hcLastOpen = off;
    }
  }

  if (kind == EV_EXIT) {
    let vcpu: i32 = -1;
    let flags: i32 = 0;
    let x = b;
    if (atW(x, le, W_VCPU_SP, M5, 5)) {
      const v = dec(x + 5, le);
      if (v >= 0) vcpu = <i32>v;
      x = skipSp(rp, le);
    } else flags |= EXITF_NO_VCPU;
    let rs: usize = 0;
    let re: usize = 0;
    // trace-cmd's kvm plugin on an arm64 trace prints its failed x86 lookup before the kernel's text
    if (at(x, le, "<CANT FIND FIELD exit_reason>")) x += 29;
    if (atW(x, le, W_REASON_SP, M7, 7)) {
      rs = skipSp(x + 7, le);
      // the reason runs to " rip" (it may hold "UNKNOWN (123)" or "INVALID_STATE FAILED_VMENTRY"):
      // usually one token, so look right after it before searching
      re = rs;
      // its end: the first space or tab, 16 bytes at a time
      while (true) {
        const v = v128.load(re);
        const m = i8x16.bitmask(v128.or(i8x16.eq(v, i8x16.splat(32)), i8x16.eq(v, i8x16.splat(9))));
        if (m != 0) { re += <usize>ctz(m); break; }
        re += 16;
        if (re >= le) break;
      }
      if (re > le) re = le;
      if (re < le && !atW(re, le, W_SP_RIP_SP, M5, 5)) {
        const rip = find(re, le, " rip ");
        if (rip) re = rip;
      }
      while (re > rs && isSpace(load<u8>(re - 1))) re--;
    } else {
      // arm64 (arch/arm64/kvm/trace_arm.h): "<type>: HSR_EC: 0x%04x (<class>), PC: 0x%016lx"; a TRAP is named by
      // its exception class ("DABT_LOW", or "0x1a" for a class the kernel's table lacks), any other type by
      // itself ("IRQ"), as perf kvm stat names them (src/formats/arm64.ts)
      let y = x;
      while (y < le && ((load<u8>(y) >= 65 && load<u8>(y) <= 90) || load<u8>(y) == 95)) y++;
      const hs = y > x && y < le && load<u8>(y) == 58 ? find(y, le, "HSR_EC") : 0;
      if (y - x == 4 && at(x, le, "SEPC:")) {
        // RISC-V (arch/riscv/kvm/trace.h): "SEPC:0x80200000, SCAUSE:0xa, STVAL:0x0, HTVAL:0x0, HTINST:0x0";
        // the reason is "SCAUSE:0x..." (named by src/core/reasons.ts)
        const sc = find(y, le, " SCAUSE:0x");
        if (sc) {
          let e = sc + 10;
          while (e < le && load<u8>(e) != 44 && !isSpace(load<u8>(e))) e++;
          if (e > sc + 10) { rs = sc + 1; re = e; }
        }
      }
      if (hs) {
        rs = x; re = y;
        if (y - x == 4 && at(x, le, "TRAP")) {
          const op = find(hs, le, " (");
          if (op) {
            let cl = op + 2;
            while (cl < le && load<u8>(cl) != 41) cl++;
            if (cl < le && cl > op + 2) { rs = op + 2; re = cl; }
          }
        }
      }
    }
    if (re <= rs) return skipLine(SKIP_EXIT_NO_REASON, ls, le, x);
    if (re - rs > 15 && at(re - 14, le, "FAILED_VMENTRY")) flags |= EXITF_FAILED_VMENTRY;
    // the guest rip is not used by any figure (rows point at the line instead): not parsed
    // the guest rip, when asked for (--by rip): " rip 0x10000" right after the reason
    let rip: i64 = 0;
    let ripSeen = false;
    if ((ripWanted || detailWanted) && at(re, le, " rip ")) { rip = hex(skipSp(re + 5, le), le); ripSeen = rneg; }
    onEvent(EV_EXIT, ts, tid, tgid, cpu, vcpu, <i64>internCached(rs, <i32>(re - rs)), rip, flags, name, lineNo);
    if (detailWanted && tid >= 0) exitDetail(re, le, ts, tid, tgid, cpu, vcpu, ripSeen);
    if (gpaWanted && tid >= 0) {
      const g = npfGpa(rs, re, le);
      if (g >= 0) store<i64>(threadPtr(threadOf(tid, tgid)) + TH_PEND_GPA, g);
    }
    return false;
  }
  if (kind == EV_ENTRY) {
    let vcpu: i32 = -1;
    if (atW(b, le, W_VCPU_SP, M5, 5)) {
      const v = dec(b + 5, le);
      if (v < 0) return skipLine(SKIP_ENTRY_BAD, ls, le, b + 5);
      vcpu = <i32>v;
    } else {
      // arm64 "PC: 0x..."; trace-cmd's kvm plugin prints its failed x86 lookups first:
      // "CAN'T FIND FIELD \"vcpu_id\"<CANT FIND FIELD rip>PC: 0x0000000040000000"
      let y = b;
      if (at(y, le, "CAN'T FIND FIELD \"vcpu_id\"")) y += 26;
      if (at(y, le, "<CANT FIND FIELD rip>")) y += 21;
      if (y < le && !at(y, le, "PC: ")) return skipLine(SKIP_ENTRY_BAD, ls, le, y);
    }
    onEvent(EV_ENTRY, ts, tid, tgid, cpu, vcpu, 0, 0, 0, name, lineNo);
    return false;
  }
  if (kind == EV_VCPU_WAKEUP) {
    // "poll time 12345 ns, polling valid" / "wait time 678 ns, polling invalid"
    let c: i32 = 0;
    if (at(b, le, "wait")) c |= WAKE_WAITED;
    else if (!at(b, le, "poll")) return skipLine(SKIP_BAD_PAYLOAD, ls, le, b);
    const tp = find(b, le, "time ");
    const v = tp ? dec(tp + 5, le) : -1;
    if (v < 0) return skipLine(SKIP_BAD_PAYLOAD, ls, le, b);
    if (!find(rp, le, "invalid")) c |= WAKE_VALID;
    onEvent(EV_VCPU_WAKEUP, ts, tid, tgid, cpu, -1, v, 0, c, name, lineNo);
    return false;
  }
  if (kind == EV_HALT_POLL_NS) {
    // "vcpu 0: halt_poll_ns 10000 (grow 0)"
    const vp = find(b, le, "vcpu ");
    const vcpu = vp ? <i32>dec(vp + 5, le) : -1;
    const hp = find(b, le, "halt_poll_ns ");
    if (!hp) return skipLine(SKIP_BAD_PAYLOAD, ls, le, b);
    const nw = dec(hp + 13, le);
    const g = find(rp, le, "grow ");
    const s: usize = g ? 0 : find(rp, le, "shrink ");
    if (nw < 0 || (!g && !s)) return skipLine(SKIP_BAD_PAYLOAD, ls, le, b);
    const old = g ? dec(g + 5, le) : dec(s + 7, le);
    onEvent(EV_HALT_POLL_NS, ts, tid, tgid, cpu, vcpu, nw, old, g ? 1 : 0, name, lineNo);
    return false;
  }
  if (kind == EV_WAIT_LAPIC_EXPIRE) {
    // "vcpu 0: delta 1234 (late)"
    const vp = find(b, le, "vcpu ");
    const vcpu = vp ? <i32>dec(vp + 5, le) : -1;
    const dp = find(b, le, "delta ");
    if (!dp) return skipLine(SKIP_BAD_PAYLOAD, ls, le, b);
    const d = sdec(dp + 6, le);
    if (!rneg) return skipLine(SKIP_BAD_PAYLOAD, ls, le, dp + 6);
    onEvent(EV_WAIT_LAPIC_EXPIRE, ts, tid, tgid, cpu, vcpu, d, 0, find(rp, le, "early") ? 1 : 0, name, lineNo);
    return false;
  }
  // kvm_msr, kvm_pio and kvm_mmio: the value written or read is not used by any figure (an event keys its exit by
  // MSR, port or address): not parsed, 0 is passed (a 12-digit MSR value was a quarter of a kvm_msr line's cost)
  if (kind == EV_MSR) {
    // "msr_write 6e0 = 0x1234" / "msr_read 802 = 0x1" (optionally " (#GP)")
    let c: i32 = 0;
    let x: usize;
    if (at(b, le, "msr_write ")) { c = 1; x = b + 10; }
    else if (at(b, le, "msr_read ")) x = b + 9;
    else return skipLine(SKIP_BAD_PAYLOAD, ls, le, b);
    const idx = hex(x, le);
    if (!rneg) return skipLine(SKIP_BAD_PAYLOAD, ls, le, x);
    if (find(rp, le, "#GP")) c |= 2; // after " = 0x..." (hex digits hold no '#')
    onEvent(EV_MSR, ts, tid, tgid, cpu, -1, idx, 0, c, name, lineNo);
    return false;
  }
  if (kind == EV_PIO) {
    // "pio_write at 0x501 size 1 count 1 val 0x5"
    let c: i32 = 0;
    if (at(b, le, "pio_write")) c = 1;
    else if (!at(b, le, "pio_read")) return skipLine(SKIP_BAD_PAYLOAD, ls, le, b);
    const ap = find(b, le, "at ");
    if (!ap) return skipLine(SKIP_BAD_PAYLOAD, ls, le, b);
    const port = hex(ap + 3, le);
    onEvent(EV_PIO, ts, tid, tgid, cpu, -1, port, 0, c, name, lineNo);
    return false;
  }
  if (kind == EV_MMIO) {
    // "mmio write len 4 gpa 0xfee000b0 val 0x0"
    let c: i32 = 0;
    if (find(b, le, "write")) c = 1;
    const gp = find(b, le, "gpa ");
    if (!gp) return skipLine(SKIP_BAD_PAYLOAD, ls, le, b);
    const gpa = hex(gp + 4, le);
    onEvent(EV_MMIO, ts, tid, tgid, cpu, -1, gpa, 0, c, name, lineNo);
    return false;
  }
  if (kind == EV_WFX) {
    // "guest executed wfi at: 0x0000000040000244" (is_wfe: 'e' / 'i'); trace-cmd 3.1 and perf 6.1 cannot
    // render the ternary and print "wf>c< at: 0x0": which of the two is then unknown (2)
    const wp = find(b, le, "executed wf");
    if (!wp) return skipLine(SKIP_BAD_PAYLOAD, ls, le, b);
    const ch = wp + 11 < le ? <u32>load<u8>(wp + 11) : 0;
    const w: i64 = ch == 101 ? 1 : ch == 105 ? 0 : 2;
    const ap = find(wp, le, "at: ");
    const pc = ap ? hex(ap + 4, le) : 0;
    onEvent(EV_WFX, ts, tid, tgid, cpu, -1, w, pc, 0, name, lineNo);
    return false;
  }
  if (kind == EV_HVC) {
    // "HVC at 0x000000004000008c (r0: 0x0000000084000000, imm: 0x0)"
    const rp0 = find(b, le, "r0: ");
    if (!rp0) return skipLine(SKIP_BAD_PAYLOAD, ls, le, b);
    const r0 = hex(rp0 + 4, le);
    if (!rneg) return skipLine(SKIP_BAD_PAYLOAD, ls, le, rp0 + 4);
    const ip = find(rp, le, "imm: ");
    const imm = ip ? hex(ip + 5, le) : 0;
    onEvent(EV_HVC, ts, tid, tgid, cpu, -1, r0, imm, 0, name, lineNo);
    return false;
  }
  if (kind == EV_USERSPACE_EXIT) {
    // "reason KVM_EXIT_IO (2)"
    const op = find(b, le, "(");
    const v = op ? dec(op + 1, le) : -1;
    onEvent(EV_USERSPACE_EXIT, ts, tid, tgid, cpu, -1, v, 0, 0, name, lineNo);
    return false;
  }
  if (kind == EV_SCHED_SWITCH) {
    // "prev_comm=vmm prev_pid=10892 prev_prio=120 prev_state=D ==> next_comm=swapper/1 next_pid=0 next_prio=120"
    // plugin: "sh:177 [120] S ==> kworker/1:1:35 [120]"
    let prev: i64 = -1;
    let next: i64 = -1;
    let state: i64 = 0;
    if (at(b, le, "prev_comm=")) {
      // kernel format, fields in a fixed order: scan forward once
      const pp = find(b + 10, le, " prev_pid=");
      if (pp) {
        prev = dec(pp + 10, le);
        const sp = find(rp, le, " prev_state=");
        if (sp) {
          if (sp + 12 < le) state = <i64>load<u8>(sp + 12);
          const np = find(sp + 12, le, " next_pid=");
          if (np) next = dec(np + 10, le);
        }
      }
    } else {
      // plugin form "sh:177 [120] S ==> kworker/1:1:35 [120]": the pid follows the last ':' before " ["
      const arrow = find(b, le, " ==> ");
      if (!arrow) return skipLine(SKIP_BAD_PAYLOAD, ls, le, b);
      const lb = find(b, arrow, " [");
      if (lb) { let k = lb; while (k > b && load<u8>(k - 1) != 58) k--; prev = dec(k, lb); }
      const rb = find(arrow, le, " [");
      if (rb) { let k = rb; while (k > arrow && load<u8>(k - 1) != 58) k--; next = dec(k, rb); }
      const sb = find(b, arrow, "] ");
      if (sb) state = <i64>load<u8>(sb + 2);
    }
    if (prev < 0 || next < 0) return skipLine(SKIP_BAD_PAYLOAD, ls, le, b);
    onEvent(EV_SCHED_SWITCH, ts, tid, tgid, cpu, -1, next, state, <i32>prev, name, lineNo);
    return false;
  }
  if (kind == EV_SCHED_WAKEUP) {
    // "comm=sh pid=177 prio=120 target_cpu=001" / plugin "sh:177 [120] CPU:001"
    let pid: i64 = -1;
    let tc: i64 = -1;
    const pp = find(b, le, "pid=");
    if (pp) {
      pid = dec(pp + 4, le);
      const tp = find(b, le, "target_cpu=");
      if (tp) tc = dec(tp + 11, le);
    } else {
      const lb = find(b, le, " [");
      if (lb) { let k = lb; while (k > b && load<u8>(k - 1) != 58) k--; pid = dec(k, lb); }
      const cp = find(b, le, "CPU:");
      if (cp) tc = dec(cp + 4, le);
    }
    if (pid < 0) return skipLine(SKIP_BAD_PAYLOAD, ls, le, b);
    onEvent(EV_SCHED_WAKEUP, ts, tid, tgid, cpu, -1, pid, 0, <i32>tc, name, lineNo);
    return false;
  }
  if (kind == EV_PLE_WINDOW) {
    // "vcpu 0 old 4096 new 8192 (growed)"
    const vp = find(b, le, "vcpu ");
    const vcpu = vp ? <i32>dec(vp + 5, le) : -1;
    const op = find(b, le, "old ");
    const np = find(b, le, "new ");
    if (!op || !np) return skipLine(SKIP_BAD_PAYLOAD, ls, le, b);
    const old = dec(op + 4, le);
    const nw = dec(np + 4, le);
    onEvent(EV_PLE_WINDOW, ts, tid, tgid, cpu, vcpu, nw, old, 0, name, lineNo);
    return false;
  }
  onEvent(EV_OTHER, ts, tid, tgid, cpu, -1, 0, 0, 0, name, lineNo);
  return false;
}

/**
 * Scan [base, base+len) of the input arena. Complete lines are parsed; the bytes of a line that is not
 * finished yet are left for the caller to carry into the next chunk (returns the number consumed).
 * With `last` set the remainder is parsed as a final line without newline. Negative: ERR_* code.
 */
export function scanText(base: usize, len: i32, last: bool, arenaFull: bool): i32 {
  const end = base + <usize>len;
  let ls = base;
  let p = base;
  const nl = i8x16.splat(10);
  const ctl = i8x16.splat(9);
  const low = i8x16.splat(11);
  const c2 = i8x16.splat(<i8>0xc2);
  if (skippingLong) {
    // the rest of an over-long line from the previous chunk
    while (p < end && load<u8>(p) != 10) p++;
    if (p == end) { counterAdd(C_BYTES, len); return len; }
    skippingLong = false;
    p++;
    ls = p;
  }
  while (true) {
    // the row buffer is full: stop here; TypeScript drains it and calls again
    if (!rowsRoom()) {
      const used = <i32>(ls - base);
      counterAdd(C_BYTES, used);
      return used;
    }
    // find the next '\n' (and any control byte that says this is not text)
    let found: usize = 0;
    // 32 bytes a step with one signed compare: it flags the bytes below 11 ('\n', tab, and the control
    // bytes of binary input) and those from 0x80 (text too); a step that flags one looks at each
    let bad: usize = 0;
    while (p + 32 <= end) {
      const v0 = v128.load(p);
      const v1 = v128.load(p + 16);
      if (i8x16.bitmask(i8x16.lt_s(i8x16.min_s(v0, v1), low)) != 0) {
        let m = <u32>i8x16.bitmask(i8x16.lt_s(v0, low)) | (<u32>i8x16.bitmask(i8x16.lt_s(v1, low)) << 16);
        while (m != 0) {
          const q = p + <usize>ctz(m);
          const c = load<u8>(q);
          if (c == 10) { found = q; break; }
          if (c < 9) { bad = q; break; }
          if (c == 0xc2) nbsp(q, end);
          m &= m - 1;
        }
        if (found | bad) break;
      }
      p += 32;
    }
    if (bad) {
      lineNo++;
      errLine = lineNo; errCol = <i32>(bad - ls) + 1; errKind = -1;
      return ERR_BINARY;
    }
    while (!found && p + 16 <= end) {
      const v = v128.load(p);
      let m = i8x16.bitmask(v128.or(v128.or(i8x16.eq(v, nl), i8x16.lt_u(v, ctl)), i8x16.eq(v, c2)));
      let hit: usize = 0;
      while (m != 0) {
        const q = p + <usize>ctz(m);
        const c = load<u8>(q);
        if (c == 0xc2) { nbsp(q, end); m &= m - 1; continue; }
        hit = q;
        break;
      }
      if (hit) {
        if (load<u8>(hit) == 10) { found = hit; break; }
        lineNo++;
        errLine = lineNo; errCol = <i32>(hit - ls) + 1; errKind = -1;
        return ERR_BINARY;
      }
      p += 16;
    }
    if (!found) {
      while (p < end) {
        const c = load<u8>(p);
        if (c == 10) { found = p; break; }
        if (c < 9) {
          lineNo++;
          errLine = lineNo; errCol = <i32>(p - ls) + 1; errKind = -1;
          return ERR_BINARY;
        }
        if (c == 0xc2) nbsp(p, end);
        p++;
      }
    }
    if (!found) break;
    lineNo++;
    counterAdd(C_LINES, 1);
    if (lineAt(ls, found)) return ERR_STRICT;
    p = found + 1;
    if (wantJoin) {
      const j = joinNext(ls, found, end, last, ls > base || !arenaFull);
      if (j == -2) return ERR_STRICT;
      if (j == -1) { // the continuation is not in the arena yet: read this line again with the next chunk
        lineNo--;
        counterAdd(C_LINES, -1);
        const used = <i32>(ls - base);
        counterAdd(C_BYTES, used);
        return used;
      }
      if (j > 0) p = <usize>j;
    }
    ls = p;
  }
  // ls..end is an unfinished line
  if (last && ls < end && !rowsRoom()) {
    const used = <i32>(ls - base);
    counterAdd(C_BYTES, used);
    return used;
  }
  if (last && ls < end) {
    // the input ends inside a line: what is there may parse, but with cut values ("reason n" of a
    // cut "reason npf"): it is skipped as truncated, never read
    lineNo++;
    counterAdd(C_LINES, 1);
    let q = ls;
    while (q < end && (load<u8>(q) == 32 || load<u8>(q) == 9 || load<u8>(q) == 13)) q++;
    if (q < end && skipLine(SKIP_TRUNCATED, ls, end, ls)) return ERR_STRICT;
    if (q == end) counterAdd(C_BLANK, 1);
    counterAdd(C_BYTES, len);
    return len;
  }
  if (ls == base && !last && arenaFull) {
    // no newline in a whole arena: an over-long line; skip it and what follows up to its newline
    lineNo++;
    counterAdd(C_LINES, 1);
    if (skipLine(SKIP_UNRECOGNIZED, ls, end, ls)) return ERR_STRICT;
    skippingLong = true;
    counterAdd(C_BYTES, len);
    return len;
  }
  const used = <i32>(ls - base);
  counterAdd(C_BYTES, used);
  return used;
}

export { ERR_NONE };
