/**
 * Perfetto ftrace events -> sink events: the kernel field names and values of one FtraceEvent (typed, generic
 * or dense generic, as bundles.ts decodes them) mapped to the core's EV_* kinds, as kvm-events.ts maps the
 * tracefs readers' fields (the field names and kinds of the one event table, event-table.ts; kvm_entry also
 * reads RISC-V's pc, as the tracefs readers do). Events wait in their CPU's queue as Items until the reader
 * merges the CPUs.
 *
 * Perfetto's typed kvm protos were generated from the arm64 kernel: on x86, kvm_exit keeps none of its fields
 * (no exit_reason, isa or vcpu_id) and kvm_entry neither. Such an exit is pushed with the reason
 * REASON_NOT_RECORDED and without a vCPU id: pairing, per-thread counts and times still work; halted time and
 * the per-reason split do not. A capture whose kvm_exit is a generic event (older Perfetto, or the dense encoding
 * of a Perfetto that does not know the event) keeps the exit reason.
 */
import type { EventSink } from '../../core/sink.js';
import { arm64ExitReason } from '../arm64.js';
import { stateLetter, type Fields } from './schema.js';
import { EVENT_TABLE, type EventSpec } from '../event-table.js';
import {
  EV_EXIT, EV_ENTRY, EV_VCPU_WAKEUP, EV_HALT_POLL_NS, EV_WAIT_LAPIC_EXPIRE, EV_MSR, EV_PIO, EV_MMIO,
  EV_USERSPACE_EXIT, EV_SCHED_SWITCH, EV_SCHED_WAKEUP, EV_PLE_WINDOW, EV_OTHER,
  EXITF_FAILED_VMENTRY, EXITF_NO_VCPU, WAKE_WAITED, WAKE_VALID, SKIP_BAD_PAYLOAD,
} from '../../../assembly/constants.js';

/** The exit reason of a kvm_exit whose reason the capture did not keep (Perfetto's typed kvm_exit on x86). */
export const REASON_NOT_RECORDED = '(reason not recorded)';

/** What the reader saw, for the report's input metadata. */
export interface PerfettoInfo {
  packets: number;
  bundles: number;
  cpus: number;
  ftraceEvents: number;
  compactSched: number;
  genericEvents: number;
  denseGenericEvents: number;
  compressedPackets: number;
  lostBundles: number;
  /** kernel ring-buffer overruns per FtraceStats (end - start of trace) */
  overrun: number;
  /** kvm_exit events whose exit reason the capture did not keep */
  exitsWithoutReason: number;
}

/** A sink event waiting in its CPU's queue. tid / c may be CUR: the CPU's current task, known only in time order. */
export interface Item {
  ts: bigint;
  kind: number;
  tid: number;
  vcpu: number;
  a: bigint;
  b: bigint;
  c: number;
  name: number;
  where: number;
  cpu: number;
  /** sched_switch: the task the CPU runs next */
  next?: number;
  /** (tid, comm) pairs the event reveals */
  comms?: Array<number | string>;
}

export const CUR = -2;

/** What the mapping needs of the reader: the sink (for skips), interned names and reason keys, the counters. */
export interface MapContext {
  readonly sink: EventSink;
  readonly info: PerfettoInfo;
  nameId(n: string): number;
  reasonKey(isa: number, code: number): number;
}

/** The event table's entries by name (kvm_exit: its variants, x86 first), for the field names and kinds. */
const SPECS = new Map<string, EventSpec[]>();
for (const e of EVENT_TABLE) SPECS.set(e.name, [...(SPECS.get(e.name) ?? []), e]);
const NO_FIELDS: EventSpec['fields'] = [];

/** The field names mapEvent may read of an event: its table entries' fields (every variant) and vcpu_id. */
export function fieldsRead(ev: string): Set<string> {
  const s = new Set<string>(['vcpu_id']);
  for (const spec of SPECS.get(ev) ?? []) for (const n of spec.fields) for (const x of typeof n === 'string' ? [n] : n) s.add(x);
  return s;
}

/** A table field's value in `f` (of alternatives, the first present); undefined when absent or not a number. */
function fieldValue(f: Fields, n: string | readonly string[] | undefined): bigint | undefined {
  if (n === undefined) return undefined;
  if (typeof n === 'string') {
    const v = f.get(n);
    return typeof v === 'bigint' ? v : undefined;
  }
  for (const k of n) {
    const v = f.get(k);
    if (typeof v === 'bigint') return v;
  }
  return undefined;
}

/** A string field's value up to its first NUL ('' when absent, not a string, or named by alternatives). */
function fieldString(f: Fields, n: string | readonly string[] | undefined): string {
  if (typeof n !== 'string') return '';
  const v = f.get(n);
  return typeof v === 'string' ? v.replace(/\0[^]*$/, '') : '';
}

/** A sink event waiting in its CPU's queue (always built here, with its fields in this order). */
function makeItem(ts: bigint, kind: number, tid: number, vcpu: number, a: bigint, b: bigint, c: number, name: number, where: number, cpu: number): Item {
  return { ts, kind, tid, vcpu, a, b, c, name, where, cpu };
}

/**
 * Kernel field names and values -> sink event (the mapping of kvm-events.ts, with the field names and kinds of
 * event-table.ts); undefined when skipped. The table's arm64 events (kvm_wfx_arm64, kvm_hvc_arm64) and the
 * process-stating ones (task_newtask, sched_process_exec) are counted by name here, as before.
 */
export function mapEvent(cx: MapContext, ev: string, name: number, f: Fields, ts: bigint, tid: number, cpu: number, where: number): Item | undefined {
  // (no closures here: this runs once per event, and each closure was an allocation)
  const specs = SPECS.get(ev);
  const spec = specs?.[0];
  const F = spec?.fields ?? NO_FIELDS;
  const vcpuV = fieldValue(f, 'vcpu_id');
  const vcpu = vcpuV === undefined ? -1 : Number(BigInt.asIntN(32, vcpuV));
  switch (spec?.kind ?? EV_OTHER) {
    case EV_EXIT: {
      // x86: exit_reason, guest_rip, isa
      const reason = fieldValue(f, F[0]);
      if (reason !== undefined) {
        const isaV = fieldValue(f, F[2]);
        const isa = isaV === 2n ? 2 : 1; // without an isa field: VMX (see the module comment of kvm-events.ts)
        const raw = Number(reason & 0xffffffffn);
        let c = vcpuV === undefined ? EXITF_NO_VCPU : 0;
        let code = raw;
        if (isa === 1) {
          code = raw & 0xffff;
          if (raw >= 0x80000000) c |= EXITF_FAILED_VMENTRY;
        }
        return makeItem(ts, EV_EXIT, tid, vcpu, BigInt(cx.reasonKey(isa, code)), fieldValue(f, F[1]) ?? 0n, c, name, where, cpu);
      }
      // arm64 (KvmExitFtraceEvent: ret, esr_ec, vcpu_pc): a TRAP is named by its exception class (arm64.ts)
      const A = specs!.find((e) => e.variant === 'arm64')?.fields ?? NO_FIELDS;
      const ret = fieldValue(f, A[0]), esr = fieldValue(f, A[1]);
      if (ret !== undefined || esr !== undefined) {
        const r = Number(BigInt.asUintN(32, ret ?? 0n));
        const ec = Number(BigInt.asUintN(32, esr ?? 0n));
        return makeItem(ts, EV_EXIT, tid, vcpu, BigInt(cx.nameId(arm64ExitReason(r, ec))), fieldValue(f, A[2]) ?? 0n, EXITF_NO_VCPU, name, where, cpu);
      }
      cx.info.exitsWithoutReason++;
      return makeItem(ts, EV_EXIT, tid, vcpu, BigInt(cx.nameId(REASON_NOT_RECORDED)), fieldValue(f, A[2]) ?? 0n, EXITF_NO_VCPU, name, where, cpu);
    }
    case EV_ENTRY:
      return makeItem(ts, EV_ENTRY, tid, vcpu, 0n, fieldValue(f, F[0]) ?? 0n, 0, name, where, cpu);
    case EV_VCPU_WAKEUP: {
      // ns, waited, valid
      const c = (fieldValue(f, F[1]) ? WAKE_WAITED : 0) | (fieldValue(f, F[2]) ? WAKE_VALID : 0);
      const ns = fieldValue(f, F[0]) ?? 0n;
      // as in kvm-events.ts: a negative or centuries-long halt time is a damaged record
      if (ns < 0n || ns >= 1n << 62n) {
        cx.sink.skip(SKIP_BAD_PAYLOAD, where, `kvm_vcpu_wakeup: time ${ns} ns`);
        return undefined;
      }
      return makeItem(ts, EV_VCPU_WAKEUP, tid, vcpu, ns, 0n, c, name, where, cpu);
    }
    case EV_HALT_POLL_NS: // new, old, grow
      return makeItem(ts, EV_HALT_POLL_NS, tid, vcpu, fieldValue(f, F[0]) ?? 0n, fieldValue(f, F[1]) ?? 0n, fieldValue(f, F[2]) ? 1 : 0, name, where, cpu);
    case EV_WAIT_LAPIC_EXPIRE: { // delta (signed)
      const d = BigInt.asIntN(64, fieldValue(f, F[0]) ?? 0n);
      return makeItem(ts, EV_WAIT_LAPIC_EXPIRE, tid, vcpu, d, 0n, d < 0n ? 1 : 0, name, where, cpu);
    }
    case EV_MSR: // ecx, data, write, exception
      return makeItem(ts, EV_MSR, tid, vcpu, fieldValue(f, F[0]) ?? 0n, fieldValue(f, F[1]) ?? 0n, (fieldValue(f, F[2]) ? 1 : 0) | (fieldValue(f, F[3]) ? 2 : 0), name, where, cpu);
    case EV_PIO: // port, val (or data), rw
      return makeItem(ts, EV_PIO, tid, vcpu, fieldValue(f, F[0]) ?? 0n, fieldValue(f, F[1]) ?? 0n, fieldValue(f, F[2]) ? 1 : 0, name, where, cpu);
    case EV_MMIO: // gpa, val, type
      // type: 0 unsatisfied read, 1 read, 2 write (KVM_TRACE_MMIO_*); the core wants 1 = write
      return makeItem(ts, EV_MMIO, tid, vcpu, fieldValue(f, F[0]) ?? 0n, fieldValue(f, F[1]) ?? 0n, fieldValue(f, F[2]) === 2n ? 1 : 0, name, where, cpu);
    case EV_USERSPACE_EXIT: // reason
      return makeItem(ts, EV_USERSPACE_EXIT, tid, vcpu, fieldValue(f, F[0]) ?? 0n, 0n, 0, name, where, cpu);
    case EV_PLE_WINDOW: // new, old
      return makeItem(ts, EV_PLE_WINDOW, tid, vcpu, fieldValue(f, F[0]) ?? 0n, fieldValue(f, F[1]) ?? 0n, 0, name, where, cpu);
    case EV_SCHED_SWITCH: { // next_pid, prev_pid, prev_state, prev_comm, next_comm
      const prev = Number(fieldValue(f, F[1]) ?? BigInt(tid));
      const next = Number(fieldValue(f, F[0]) ?? -1n);
      const it = makeItem(ts, EV_SCHED_SWITCH, tid, -1, BigInt(next), stateLetter(fieldValue(f, F[2]) ?? 0n), prev, name, where, cpu);
      it.next = next;
      it.comms = [prev, fieldString(f, F[3]), next, fieldString(f, F[4])];
      return it;
    }
    case EV_SCHED_WAKEUP: { // sched_wakeup, sched_waking: pid, target_cpu, comm
      const woken = Number(fieldValue(f, F[0]) ?? -1n);
      const it = makeItem(ts, EV_SCHED_WAKEUP, tid, -1, BigInt(woken), 0n, Number(fieldValue(f, F[1]) ?? -1n), name, where, cpu);
      it.comms = [woken, fieldString(f, F[2])];
      return it;
    }
    default:
      // other kvm events may tell the thread's vCPU id (as the text readers take it)
      return makeItem(ts, EV_OTHER, tid, ev.startsWith('kvm_') ? vcpu : -1, 0n, 0n, 0, name, where, cpu);
  }
}
