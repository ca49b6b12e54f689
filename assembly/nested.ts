// Nested virtualization, per host thread (an L1 vCPU): which L2 exits L0 handled itself and which it
// reflected to L1, and how long a reflected exit keeps L2 off the CPU. Fed by onEvent (analysis.ts)
// when the TypeScript side turned it on with the dictionary ids of the nested events.
//
// The shapes (Linux kvm_amd / kvm_intel, arch/x86/kvm/trace.h):
//   L2 exit, handled by L0:  kvm_exit(R) kvm_nested_vmexit ...            kvm_entry            (back in L2)
//   L2 exit, reflected:      kvm_exit(R) kvm_nested_vmexit kvm_nested_vmexit_inject kvm_entry (now in L1)
//                            ... L1's own exits ... kvm_exit(vmrun) kvm_nested_vmenter        kvm_entry (L2 again)
// kvm_nested_vmrun is kvm_nested_vmenter's older name. A reflected exit's time runs from its kvm_exit to the
// kvm_entry that follows the next kvm_nested_vmenter (L1's handling and its VMRUN included).
//
// Table rows (NB_STRIDE bytes), one per (thread, reason dictionary id); reason -1: a kvm_nested_vmexit with no
// kvm_exit before it on its thread; reason -2: the thread's L2 entries (in NB_L2).
import { zalloc, regrow } from "./mem";

export const NB_STRIDE: i32 = 80;
export const NB_THREAD: i32 = 0;      // i32 thread index
export const NB_REASON: i32 = 4;      // i32 exit reason (dictionary id), -1 unknown, -2 the entries row
export const NB_L2: i32 = 8;          // i32 L2 exits (kvm_nested_vmexit after this kvm_exit) / L2 entries
export const NB_HANDLED: i32 = 12;    // i32 handled by L0 (entry back into L2 with no inject)
export const NB_HANDLED_NS: i32 = 16; // i64 their exit -> entry time
export const NB_REFLECTED: i32 = 24;  // i32 reflected to L1 (kvm_nested_vmexit_inject)
export const NB_CLOSED: i32 = 28;     // i32 reflected exits whose L2 re-entry was seen
export const NB_REFL_NS: i32 = 32;    // i64 their exit -> L2 re-entry time
export const NB_L1_EXITS: i32 = 40;   // i32 L1's own exits inside those windows
export const NB_OPEN_END: i32 = 44;   // i32 reflected windows cut by another L2 exit before an L2 entry was seen
// the timed windows in three parts (when the window shows its kvm_entry into L1 and L1's last exit):
export const NB_TO_L1_NS: i32 = 48;   // i64 L0 reflecting: the L2 exit -> the kvm_entry into L1
export const NB_IN_L1_NS: i32 = 56;   // i64 L1 handling (its own exits included) -> L1's last exit (its VMRUN/VMRESUME)
export const NB_BACK_NS: i32 = 64;    // i64 L0 emulating that VMRUN -> the kvm_entry into L2
export const NB_PARTS: i32 = 72;      // i32 windows split so (the rest: their parts were not all seen)

const F_EXIT: i32 = 1;   // a kvm_exit with no kvm_entry yet
const F_L2: i32 = 2;     // ... which kvm_nested_vmexit marked as an L2 exit
const F_REFL: i32 = 4;   // a reflected exit waiting for L2 to run again
const F_ENTER: i32 = 8;  // kvm_nested_vmenter seen: the next kvm_entry enters L2
const F_IN_L1: i32 = 16; // a reflected window whose kvm_entry into L1 was seen
const F_L1_EXIT: i32 = 32; // ... and an exit of L1 after it

const TS_STRIDE: i32 = 48; // per thread: i32 flags, i32 reason, i64 exit ts, i64 reflected-from ts, i32 row, i32 reflected row,
                           // i64 the window's kvm_entry into L1, i64 L1's last exit

let on = false;
let idExit: i32 = -1, idInject: i32 = -1, idEnter: i32 = -1, idRun: i32 = -1;
let st: usize = 0;
let stCap: i32 = 0;
let rows: usize = 0;
let rowCap: i32 = 0;
export let nestedRowCount: i32 = 0;
let lastThread: i32 = -1, lastReason: i32 = -3, lastRow: i32 = -1;

export function nestedOn(vmexit: i32, inject: i32, vmenter: i32, vmrun: i32): void {
  on = true; idExit = vmexit; idInject = inject; idEnter = vmenter; idRun = vmrun;
  if (rows == 0) { rowCap = 64; rows = zalloc(<usize>rowCap * NB_STRIDE); }
}
export function nestedActive(): bool { return on; }
export function nestedRows(): usize { return rows; }

function stateOf(ti: i32): usize {
  if (ti >= stCap) {
    let n = stCap > 0 ? stCap : 16;
    while (n <= ti) n <<= 1;
    st = regrow(st, <usize>stCap * TS_STRIDE, <usize>n * TS_STRIDE);
    stCap = n;
  }
  return st + <usize>ti * TS_STRIDE;
}

function rowOf(ti: i32, reason: i32): i32 {
  if (ti == lastThread && reason == lastReason) return lastRow;
  let r = -1;
  for (let i = 0; i < nestedRowCount; i++) {
    const p = rows + <usize>i * NB_STRIDE;
    if (load<i32>(p + NB_THREAD) == ti && load<i32>(p + NB_REASON) == reason) { r = i; break; }
  }
  if (r < 0) {
    if (nestedRowCount == rowCap) {
      rows = regrow(rows, <usize>rowCap * NB_STRIDE, <usize>rowCap * 2 * NB_STRIDE);
      rowCap <<= 1;
    }
    r = nestedRowCount++;
    const p = rows + <usize>r * NB_STRIDE;
    store<i32>(p + NB_THREAD, ti); store<i32>(p + NB_REASON, reason);
  }
  lastThread = ti; lastReason = reason; lastRow = r;
  return r;
}

function addI32(row: i32, field: i32, v: i32): void {
  const p = rows + <usize>row * NB_STRIDE + field;
  store<i32>(p, load<i32>(p) + v);
}
function addI64(row: i32, field: i32, v: i64): void {
  const p = rows + <usize>row * NB_STRIDE + field;
  store<i64>(p, load<i64>(p) + v);
}

/** kvm_exit (entry = false, reason = its dictionary id) or kvm_entry (entry = true) on thread `ti`. */
export function nestedStep(ti: i32, entry: bool, reason: i32, ts: i64): void {
  const s = stateOf(ti);
  let f = load<i32>(s);
  if (!entry) {
    if (f & F_REFL) {
      addI32(load<i32>(s + 28), NB_L1_EXITS, 1);
      if (f & F_IN_L1) { store<i64>(s + 40, ts); f |= F_L1_EXIT; }
    }
    store<i32>(s + 4, reason);
    store<i64>(s + 8, ts);
    store<i32>(s, (f & (F_REFL | F_ENTER | F_IN_L1 | F_L1_EXIT)) | F_EXIT);
    return;
  }
  if (f & F_ENTER) {
    if (f & F_REFL) {
      const rr = load<i32>(s + 28);
      addI32(rr, NB_CLOSED, 1);
      const from = load<i64>(s + 16);
      addI64(rr, NB_REFL_NS, ts - from);
      if ((f & (F_IN_L1 | F_L1_EXIT)) == (F_IN_L1 | F_L1_EXIT)) {
        const inL1 = load<i64>(s + 32), last = load<i64>(s + 40);
        addI64(rr, NB_TO_L1_NS, inL1 - from);
        addI64(rr, NB_IN_L1_NS, last - inL1);
        addI64(rr, NB_BACK_NS, ts - last);
        addI32(rr, NB_PARTS, 1);
      }
    }
    addI32(rowOf(ti, -2), NB_L2, 1);
    store<i32>(s, 0);
    return;
  }
  if ((f & (F_EXIT | F_L2 | F_REFL)) == (F_EXIT | F_L2)) {
    const r = load<i32>(s + 24);
    addI32(r, NB_HANDLED, 1);
    addI64(r, NB_HANDLED_NS, ts - load<i64>(s + 8));
  }
  if ((f & (F_REFL | F_IN_L1)) == F_REFL) { store<i64>(s + 32, ts); f |= F_IN_L1; }
  store<i32>(s, f & (F_REFL | F_IN_L1 | F_L1_EXIT));
}

/** Any other event on thread `ti`: acts only on the nested events' names. */
export function nestedOther(ti: i32, name: i32, ts: i64): void {
  if (name < 0) return;
  if (name != idExit && name != idInject && name != idEnter && name != idRun) return;
  const s = stateOf(ti);
  let f = load<i32>(s);
  if (name == idExit) {
    if (f & F_L2) return; // a second kvm_nested_vmexit for the same exit
    if (f & F_REFL) {
      // L2 ran again without a kvm_nested_vmenter seen: the window is cut, and this exit was not L1's
      const rr = load<i32>(s + 28);
      addI32(rr, NB_OPEN_END, 1);
      if (f & F_EXIT) addI32(rr, NB_L1_EXITS, -1);
      f &= ~(F_REFL | F_IN_L1 | F_L1_EXIT);
    }
    if (!(f & F_EXIT)) { store<i32>(s + 4, -1); store<i64>(s + 8, ts); f |= F_EXIT; }
    const r = rowOf(ti, load<i32>(s + 4));
    addI32(r, NB_L2, 1);
    store<i32>(s + 24, r);
    store<i32>(s, (f | F_L2) & ~F_ENTER);
  } else if (name == idInject) {
    if ((f & (F_EXIT | F_L2 | F_REFL)) != (F_EXIT | F_L2)) {
      if (!(f & F_REFL)) addI32(rowOf(ti, -3), NB_REFLECTED, 1); // no L2 exit in flight: counted apart
      return;
    }
    const r = load<i32>(s + 24);
    addI32(r, NB_REFLECTED, 1);
    store<i32>(s + 28, r);
    store<i64>(s + 16, load<i64>(s + 8));
    store<i32>(s, (f | F_REFL) & ~(F_IN_L1 | F_L1_EXIT));
  } else {
    store<i32>(s, f | F_ENTER);
  }
}
