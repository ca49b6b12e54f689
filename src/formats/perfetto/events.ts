/**
 * Perfetto ftrace events -> sink events: the kernel field names and values of one FtraceEvent (typed, generic
 * or dense generic, as bundles.ts decodes them) mapped to the core's EV_* kinds, as kvm-events.ts maps the
 * tracefs readers' fields. Events wait in their CPU's queue as Items until the reader merges the CPUs.
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

/** Kernel field names and values -> sink event (the mapping of kvm-events.ts); undefined when skipped. */
export function mapEvent(cx: MapContext, ev: string, name: number, f: Fields, ts: bigint, tid: number, cpu: number, where: number): Item | undefined {
  const big = (k: string): bigint | undefined => {
    const v = f.get(k);
    return typeof v === 'bigint' ? v : undefined;
  };
  const str = (k: string): string => {
    const v = f.get(k);
    return typeof v === 'string' ? v.replace(/\0[^]*$/, '') : '';
  };
  const vcpuV = big('vcpu_id');
  const vcpu = vcpuV === undefined ? -1 : Number(BigInt.asIntN(32, vcpuV));
  const item = (kind: number, a: bigint, b: bigint, c: number, v = vcpu): Item =>
    ({ ts, kind, tid, vcpu: v, a, b, c, name, where, cpu });
  switch (ev) {
    case 'kvm_exit': {
      const reason = big('exit_reason');
      if (reason !== undefined) {
        const isaV = big('isa');
        const isa = isaV === 2n ? 2 : 1; // without an isa field: VMX (see the module comment of kvm-events.ts)
        const raw = Number(reason & 0xffffffffn);
        let c = vcpuV === undefined ? EXITF_NO_VCPU : 0;
        let code = raw;
        if (isa === 1) {
          code = raw & 0xffff;
          if (raw >= 0x80000000) c |= EXITF_FAILED_VMENTRY;
        }
        return item(EV_EXIT, BigInt(cx.reasonKey(isa, code)), big('guest_rip') ?? 0n, c);
      }
      const ret = big('ret');
      if (ret !== undefined || big('esr_ec') !== undefined) {
        // arm64 (KvmExitFtraceEvent: ret, esr_ec, vcpu_pc): a TRAP is named by its exception class (arm64.ts)
        const r = Number(BigInt.asUintN(32, ret ?? 0n));
        const ec = Number(BigInt.asUintN(32, big('esr_ec') ?? 0n));
        return item(EV_EXIT, BigInt(cx.nameId(arm64ExitReason(r, ec))), big('vcpu_pc') ?? 0n, EXITF_NO_VCPU);
      }
      cx.info.exitsWithoutReason++;
      return item(EV_EXIT, BigInt(cx.nameId(REASON_NOT_RECORDED)), big('vcpu_pc') ?? 0n, EXITF_NO_VCPU);
    }
    case 'kvm_entry':
      return item(EV_ENTRY, 0n, big('rip') ?? big('vcpu_pc') ?? 0n, 0);
    case 'kvm_vcpu_wakeup': {
      const c = (big('waited') ? WAKE_WAITED : 0) | (big('valid') ? WAKE_VALID : 0);
      const ns = big('ns') ?? 0n;
      // as in kvm-events.ts: a negative or centuries-long halt time is a damaged record
      if (ns < 0n || ns >= 1n << 62n) {
        cx.sink.skip(SKIP_BAD_PAYLOAD, where, `kvm_vcpu_wakeup: time ${ns} ns`);
        return undefined;
      }
      return item(EV_VCPU_WAKEUP, ns, 0n, c);
    }
    case 'kvm_halt_poll_ns':
      return item(EV_HALT_POLL_NS, big('new') ?? 0n, big('old') ?? 0n, big('grow') ? 1 : 0);
    case 'kvm_wait_lapic_expire': {
      const d = BigInt.asIntN(64, big('delta') ?? 0n);
      return item(EV_WAIT_LAPIC_EXPIRE, d, 0n, d < 0n ? 1 : 0);
    }
    case 'kvm_msr':
      return item(EV_MSR, big('ecx') ?? 0n, big('data') ?? 0n, (big('write') ? 1 : 0) | (big('exception') ? 2 : 0));
    case 'kvm_pio':
      return item(EV_PIO, big('port') ?? 0n, big('val') ?? big('data') ?? 0n, big('rw') ? 1 : 0);
    case 'kvm_mmio':
      // type: 0 unsatisfied read, 1 read, 2 write (KVM_TRACE_MMIO_*); the core wants 1 = write
      return item(EV_MMIO, big('gpa') ?? 0n, big('val') ?? 0n, big('type') === 2n ? 1 : 0);
    case 'kvm_userspace_exit':
      return item(EV_USERSPACE_EXIT, big('reason') ?? 0n, 0n, 0);
    case 'kvm_ple_window_update':
      return item(EV_PLE_WINDOW, big('new') ?? 0n, big('old') ?? 0n, 0);
    case 'sched_switch': {
      const prev = Number(big('prev_pid') ?? BigInt(tid));
      const next = Number(big('next_pid') ?? -1n);
      const it = item(EV_SCHED_SWITCH, BigInt(next), stateLetter(big('prev_state') ?? 0n), prev, -1);
      it.next = next;
      it.comms = [prev, str('prev_comm'), next, str('next_comm')];
      return it;
    }
    case 'sched_wakeup':
    case 'sched_waking': {
      const woken = Number(big('pid') ?? -1n);
      const it = item(EV_SCHED_WAKEUP, BigInt(woken), 0n, Number(big('target_cpu') ?? -1n), -1);
      it.comms = [woken, str('comm')];
      return it;
    }
    default:
      // other kvm events may tell the thread's vCPU id (as the text readers take it)
      return item(EV_OTHER, 0n, 0n, 0, ev.startsWith('kvm_') ? vcpu : -1);
  }
}
