/**
 * Mapping from raw tracepoint records (decoded with their tracefs event format) to sink events.
 * Shared by the trace.dat and perf.data readers.
 *
 * Which events and which of their fields: the one table, event-table.ts (the wasm cores' tables are built
 * from it too). For every registered format a small specialised decoder is built once (field offsets
 * resolved, the event name interned); decode() then only reads the few fields each sink event kind needs.
 */
import type { EventSink } from '../core/sink.js';
import type { EventFormat, FormatField } from './tracefs-format.js';
import { readString } from './tracefs-format.js';
import { ARM_EXCEPTION_TRAP, arm64ExitReason, arm64Tables } from './arm64.js';
import { eventLayout, guessIsa, LF_NO_VCPU } from './event-table.js';
export { EVENT_TABLE, eventLayout, guessIsa, type EventLayout, type EventSpec } from './event-table.js';
import { ISA_RISCV, riscvCode } from '../core/reasons.js';
import {
  EV_EXIT, EV_ENTRY, EV_VCPU_WAKEUP, EV_HALT_POLL_NS, EV_WAIT_LAPIC_EXPIRE, EV_MSR, EV_PIO, EV_MMIO,
  EV_USERSPACE_EXIT, EV_SCHED_SWITCH, EV_SCHED_WAKEUP, EV_PLE_WINDOW, EV_OTHER, EV_WFX, EV_HVC, EV_EXIT_INFO, EV_PAGE_FAULT, EXD_RIP, EXD_INFO,
  EXITF_FAILED_VMENTRY, EXITF_NO_VCPU, WAKE_WAITED, WAKE_VALID,
  SKIP_BAD_PAYLOAD, SKIP_UNRECOGNIZED,
} from '../../assembly/constants.js';

/**
 * tid -> tgid lookup handed to decode(). A reader that can keep what the trace itself says about processes gives
 * it a `learn` method: the decoder calls it when an event states a thread's process (task_newtask: a new task
 * and its clone flags, CLONE_THREAD = same process as its creator, else a process of its own; sched_process_exec:
 * the task is its process's leader after exec). sched_process_fork alone does not say (threads fire it too).
 */
export type TgidLookup = ((tid: number) => number) & {
  learn?: (tid: number, tgid: number, comm: string, how: string) => void;
};

const CLONE_THREAD = 0x10000n; // include/uapi/linux/sched.h

type Decode = (bytes: Uint8Array, view: DataView, base: number, size: number, ts: bigint, cpu: number,
  tgidOf: (tid: number) => number, where: number) => void;

/**
 * The first letter sched_switch prints for a raw prev_state (include/trace/events/sched.h): the low
 * byte holds the TASK_REPORT bits S D T t X Z P I; none set is R (runnable: preempted, "R+" when the
 * TASK_REPORT_MAX preemption bit is set). The core takes the character code, as the text readers give it.
 */
export function stateLetter(raw: number): number {
  const low = raw & 0xff;
  if (low === 0) return 82; // 'R'
  const letters = 'SDTtXZPI';
  for (let i = 0; i < 8; i++) if (low & (1 << i)) return letters.charCodeAt(i);
  return 63; // '?'
}

/** Reader of an integer field as a JS number (sizes 1, 2, 4; 8-byte fields are converted, exact below 2^53). */
type NumReader = (view: DataView, base: number) => number;
/** Reader of an integer field as a bigint. */
type BigReader = (view: DataView, base: number) => bigint;

const ZERO_NUM: NumReader = () => 0;
const ZERO_BIG: BigReader = () => 0n;

function numReader(f: FormatField | undefined, le: boolean): NumReader {
  if (!f) return ZERO_NUM;
  const o = f.offset;
  switch (f.size) {
    case 1: return f.signed ? (v, b) => v.getInt8(b + o) : (v, b) => v.getUint8(b + o);
    case 2: return f.signed ? (v, b) => v.getInt16(b + o, le) : (v, b) => v.getUint16(b + o, le);
    case 4: return f.signed ? (v, b) => v.getInt32(b + o, le) : (v, b) => v.getUint32(b + o, le);
    case 8: return f.signed ? (v, b) => Number(v.getBigInt64(b + o, le)) : (v, b) => Number(v.getBigUint64(b + o, le));
    default: return ZERO_NUM;
  }
}

function bigReader(f: FormatField | undefined, le: boolean): BigReader {
  if (!f) return ZERO_BIG;
  const o = f.offset;
  switch (f.size) {
    case 1: return f.signed ? (v, b) => BigInt(v.getInt8(b + o)) : (v, b) => BigInt(v.getUint8(b + o));
    case 2: return f.signed ? (v, b) => BigInt(v.getInt16(b + o, le)) : (v, b) => BigInt(v.getUint16(b + o, le));
    case 4: return f.signed ? (v, b) => BigInt(v.getInt32(b + o, le)) : (v, b) => BigInt(v.getUint32(b + o, le));
    case 8: return f.signed ? (v, b) => v.getBigInt64(b + o, le) : (v, b) => v.getBigUint64(b + o, le);
    default: return ZERO_BIG;
  }
}

/** The smallest record size holding every fixed field the decoder may read. */
export function minSize(fmt: EventFormat): number {
  let m = 0;
  for (const f of fmt.commonFields) m = Math.max(m, f.offset + f.size);
  for (const f of fmt.fields) m = Math.max(m, f.offset + f.size);
  return m;
}

export class KvmEventDecoder {
  private readonly decoders: (Decode | undefined)[] = [];
  private readonly names = new Map<number, string>();
  private typeOffset = 0;
  private typeSize = 2;
  private readonly reasonCache = new Map<number, number>();
  private readonly comms = new Map<number, string>();

  constructor(private readonly sink: EventSink, private readonly littleEndian: boolean) {}

  /** Register the formats found in the file (all of them; unknown events are counted as EV_OTHER by name). */
  addFormat(fmt: EventFormat): void {
    const ct = fmt.field('common_type');
    if (ct) {
      this.typeOffset = ct.offset;
      this.typeSize = ct.size;
    }
    this.names.set(fmt.id, fmt.name);
    this.decoders[fmt.id] = this.build(fmt);
  }

  /** The name of a registered event id (undefined when unknown). */
  nameOf(id: number): string | undefined {
    return this.names.get(id);
  }

  /** The event id (common_type) of a raw record, or -1 when the record is too short. */
  typeOf(view: DataView, base: number, size: number): number {
    const o = this.typeOffset;
    if (size < o + this.typeSize || base + o + this.typeSize > view.byteLength) return -1;
    switch (this.typeSize) {
      case 1: return view.getUint8(base + o);
      case 4: return view.getUint32(base + o, this.littleEndian);
      default: return view.getUint16(base + o, this.littleEndian);
    }
  }

  /** Decode one raw tracepoint record (bytes[base .. base+size)) whose common_type selects the format. */
  decode(bytes: Uint8Array, view: DataView, base: number, size: number, ts: bigint, cpu: number,
         tgidOf: (tid: number) => number, where: number): void {
    const id = this.typeOf(view, base, size);
    const d = id >= 0 ? this.decoders[id] : undefined;
    if (d === undefined) {
      this.sink.skip(SKIP_UNRECOGNIZED, where, id < 0 ? `record of ${size} bytes without an event type` : `unknown event type id ${id}`);
      return;
    }
    d(bytes, view, base, size, ts, cpu, tgidOf, where);
  }

  private reasonKey(isa: number, code: number): number {
    const k = isa * 4294967296 + code;
    let v = this.reasonCache.get(k);
    if (v === undefined) {
      v = this.sink.reasonKey(isa, code);
      this.reasonCache.set(k, v);
    }
    return v;
  }

  private build(fmt: EventFormat): Decode {
    const sink = this.sink;
    const le = this.littleEndian;
    const nameId = sink.intern(fmt.name);
    const need = minSize(fmt);
    const pidR = numReader(fmt.field('common_pid'), le);
    const vcpuF = fmt.field('vcpu_id');
    const vcpuR = vcpuF ? numReader(vcpuF, le) : (): number => -1;
    // the table's fields for this format, in its order (event-table.ts)
    const L = eventLayout(fmt);
    const [f0, f1, f2, f3, f4] = L.fields;
    const fname = fmt.name;

    // the generic wrapper: size check, pid, vcpu; `body` computes kind, a, b, c
    const bad = (where: number, size: number): void => {
      sink.skip(SKIP_BAD_PAYLOAD, where, `${fname}: record of ${size} bytes, format needs ${need}`);
    };

    switch (L.spec.variant ?? L.spec.name) {
      case 'arm64': return this.arm64Exit(fmt, f0, f1, f2, need, nameId, pidR, bad);
      case 'riscv': {
        // RISC-V (arch/riscv/kvm/trace.h: sepc, scause, stval, htval, htinst; no vCPU id)
        const scauseR = bigReader(f0, le);
        const sepcR = bigReader(f1, le);
        return (_bytes, view, base, size, ts, cpu, tgidOf, where) => {
          if (size < need) return bad(where, size);
          const tid = pidR(view, base);
          sink.push(EV_EXIT, ts, tid, tgidOf(tid), cpu, -1, BigInt(this.reasonKey(ISA_RISCV, riscvCode(BigInt.asUintN(64, scauseR(view, base))))),
            sepcR(view, base), EXITF_NO_VCPU, nameId, where);
        };
      }
      case 'x86': {
        const reasonR = numReader(f0, le);
        const ripR = bigReader(f1, le);
        const isaR = f2 ? numReader(f2, le) : undefined;
        const fixedIsa = guessIsa(fmt);
        const baseFlags = L.flags & LF_NO_VCPU ? EXITF_NO_VCPU : 0;
        // rows (sink.exitDetail): the exit's info1/info2 follow it as EV_EXIT_INFO
        const detail = sink.exitDetail === true;
        const info1R = bigReader(fmt.field('info1'), le);
        const info2R = bigReader(fmt.field('info2'), le);
        const bits = (f1 ? EXD_RIP : 0) | (fmt.field('info1') && fmt.field('info2') ? EXD_INFO : 0);
        return (_bytes, view, base, size, ts, cpu, tgidOf, where) => {
          if (size < need) return bad(where, size);
          const tid = pidR(view, base);
          const isa = isaR ? isaR(view, base) : fixedIsa;
          const raw = reasonR(view, base) >>> 0;
          let c = baseFlags;
          let code = raw;
          if (isa === 1) {
            code = raw & 0xffff;
            if (raw & 0x80000000) c |= EXITF_FAILED_VMENTRY;
          }
          sink.push(EV_EXIT, ts, tid, tgidOf(tid), cpu, vcpuR(view, base), BigInt(this.reasonKey(isa, code)),
            ripR(view, base), c, nameId, where);
          if (detail) sink.push(EV_EXIT_INFO, ts, tid, tgidOf(tid), cpu, -1, info1R(view, base), info2R(view, base), bits, -1, where);
        };
      }
      case 'kvm_entry': {
        const ripR = bigReader(f0, le); // rip; arm64: vcpu_pc, RISC-V: pc
        return (_bytes, view, base, size, ts, cpu, tgidOf, where) => {
          if (size < need) return bad(where, size);
          const tid = pidR(view, base);
          sink.push(EV_ENTRY, ts, tid, tgidOf(tid), cpu, vcpuR(view, base), 0n, ripR(view, base), 0, nameId, where);
        };
      }
      case 'kvm_vcpu_wakeup': {
        const nsR = bigReader(f0, le);
        const waitedR = numReader(f1, le);
        const validR = numReader(f2, le);
        return (_bytes, view, base, size, ts, cpu, tgidOf, where) => {
          if (size < need) return bad(where, size);
          const tid = pidR(view, base);
          const c = (waitedR(view, base) ? WAKE_WAITED : 0) | (validR(view, base) ? WAKE_VALID : 0);
          const ns = nsR(view, base);
          // a halt time is never negative nor centuries long (the field is u64 on some kernels, s64 on others):
          // a damaged record (fuzz-found: tracedat-8111a30207) is skipped as bad fields, not summed
          if (ns < 0n || ns >= 1n << 62n) { sink.skip(SKIP_BAD_PAYLOAD, where, `kvm_vcpu_wakeup: time ${ns} ns`); return; }
          sink.push(EV_VCPU_WAKEUP, ts, tid, tgidOf(tid), cpu, vcpuR(view, base), ns, 0n, c, nameId, where);
        };
      }
      case 'kvm_halt_poll_ns': {
        const newR = bigReader(f0, le);
        const oldR = bigReader(f1, le);
        const growR = numReader(f2, le);
        return (_bytes, view, base, size, ts, cpu, tgidOf, where) => {
          if (size < need) return bad(where, size);
          const tid = pidR(view, base);
          sink.push(EV_HALT_POLL_NS, ts, tid, tgidOf(tid), cpu, vcpuR(view, base), newR(view, base), oldR(view, base),
            growR(view, base) ? 1 : 0, nameId, where);
        };
      }
      case 'kvm_wait_lapic_expire': {
        const deltaR = bigReader(f0, le); // signed (the table says so)
        return (_bytes, view, base, size, ts, cpu, tgidOf, where) => {
          if (size < need) return bad(where, size);
          const tid = pidR(view, base);
          const d = deltaR(view, base);
          sink.push(EV_WAIT_LAPIC_EXPIRE, ts, tid, tgidOf(tid), cpu, vcpuR(view, base), d, 0n, d < 0n ? 1 : 0, nameId, where);
        };
      }
      case 'kvm_msr': {
        const ecxR = bigReader(f0, le);
        const dataR = bigReader(f1, le);
        const writeR = numReader(f2, le);
        const excR = numReader(f3, le);
        return (_bytes, view, base, size, ts, cpu, tgidOf, where) => {
          if (size < need) return bad(where, size);
          const tid = pidR(view, base);
          const c = (writeR(view, base) ? 1 : 0) | (excR(view, base) ? 2 : 0);
          sink.push(EV_MSR, ts, tid, tgidOf(tid), cpu, vcpuR(view, base), ecxR(view, base), dataR(view, base), c, nameId, where);
        };
      }
      case 'kvm_pio': {
        const portR = bigReader(f0, le);
        const valR = bigReader(f1, le); // an array (older kernels: data bytes): its first element (the table's choice)
        const rwR = numReader(f2, le);
        return (_bytes, view, base, size, ts, cpu, tgidOf, where) => {
          if (size < need) return bad(where, size);
          const tid = pidR(view, base);
          sink.push(EV_PIO, ts, tid, tgidOf(tid), cpu, vcpuR(view, base), portR(view, base), valR(view, base),
            rwR(view, base) ? 1 : 0, nameId, where);
        };
      }
      case 'kvm_mmio': {
        const gpaR = bigReader(f0, le);
        const valR = bigReader(f1, le);
        const typeR = numReader(f2, le);
        return (_bytes, view, base, size, ts, cpu, tgidOf, where) => {
          if (size < need) return bad(where, size);
          const tid = pidR(view, base);
          // the kernel's type is 0 unsatisfied read, 1 read, 2 write (KVM_TRACE_MMIO_*); the core wants 1 = write
          sink.push(EV_MMIO, ts, tid, tgidOf(tid), cpu, vcpuR(view, base), gpaR(view, base), valR(view, base),
            typeR(view, base) === 2 ? 1 : 0, nameId, where);
        };
      }
      case 'kvm_wfx_arm64': {
        // arch/arm64/kvm/trace_handle_exit.h: vcpu_pc, is_wfe
        const wfeR = numReader(f0, le);
        const pcR = bigReader(f1, le);
        const known = f0 !== undefined;
        return (_bytes, view, base, size, ts, cpu, tgidOf, where) => {
          if (size < need) return bad(where, size);
          const tid = pidR(view, base);
          sink.push(EV_WFX, ts, tid, tgidOf(tid), cpu, vcpuR(view, base), known ? (wfeR(view, base) ? 1n : 0n) : 2n, pcR(view, base), 0, nameId, where);
        };
      }
      case 'kvm_hvc_arm64': {
        // vcpu_pc, r0 (the PSCI/SMCCC function id), imm
        const r0R = bigReader(f0, le);
        const immR = bigReader(f1, le);
        return (_bytes, view, base, size, ts, cpu, tgidOf, where) => {
          if (size < need) return bad(where, size);
          const tid = pidR(view, base);
          sink.push(EV_HVC, ts, tid, tgidOf(tid), cpu, vcpuR(view, base), r0R(view, base), immR(view, base), 0, nameId, where);
        };
      }
      case 'kvm_userspace_exit': {
        const reasonR = bigReader(f0, le);
        return (_bytes, view, base, size, ts, cpu, tgidOf, where) => {
          if (size < need) return bad(where, size);
          const tid = pidR(view, base);
          sink.push(EV_USERSPACE_EXIT, ts, tid, tgidOf(tid), cpu, vcpuR(view, base), reasonR(view, base), 0n, 0, nameId, where);
        };
      }
      case 'kvm_ple_window_update': {
        const newR = bigReader(f0, le);
        const oldR = bigReader(f1, le);
        return (_bytes, view, base, size, ts, cpu, tgidOf, where) => {
          if (size < need) return bad(where, size);
          const tid = pidR(view, base);
          sink.push(EV_PLE_WINDOW, ts, tid, tgidOf(tid), cpu, vcpuR(view, base), newR(view, base), oldR(view, base), 0,
            nameId, where);
        };
      }
      case 'sched_switch': {
        const nextR = numReader(f0, le);
        const prevR = numReader(f1, le);
        const stateR = bigReader(f2, le);
        const prevComm = f3;
        const nextComm = f4;
        return (bytes, view, base, size, ts, cpu, tgidOf, where) => {
          if (size < need) return bad(where, size);
          const prev = prevR(view, base);
          const next = nextR(view, base);
          if (prevComm) this.noteComm(prev, bytes, base, prevComm, tgidOf);
          if (nextComm) this.noteComm(next, bytes, base, nextComm, tgidOf);
          sink.push(EV_SCHED_SWITCH, ts, prev, tgidOf(prev), cpu, -1, BigInt(next), BigInt(stateLetter(Number(stateR(view, base)))), prev, nameId, where);
        };
      }
      case 'sched_wakeup':
      case 'sched_waking': {
        const wpidR = numReader(f0, le);
        const targetR = numReader(f1, le);
        const comm = f2;
        return (bytes, view, base, size, ts, cpu, tgidOf, where) => {
          if (size < need) return bad(where, size);
          const tid = pidR(view, base);
          const woken = wpidR(view, base);
          if (comm) this.noteComm(woken, bytes, base, comm, tgidOf);
          sink.push(EV_SCHED_WAKEUP, ts, tid, tgidOf(tid), cpu, -1, BigInt(woken), 0n, targetR(view, base), nameId, where);
        };
      }
      case 'task_newtask': {
        // common_pid created task `pid` (comm = its comm) with clone_flags (include/trace/events/task.h)
        if (L.spec.kind !== EV_OTHER || !f0 || !f1) break; // without pid and clone_flags: counted only
        const newR = numReader(f0, le);
        const flagsR = bigReader(f1, le);
        const comm = f2;
        return (bytes, view, base, size, ts, cpu, tgidOf, where) => {
          if (size < need) return bad(where, size);
          const tid = pidR(view, base);
          const learn = (tgidOf as TgidLookup).learn;
          const child = newR(view, base);
          if (learn && child > 0) {
            const tgid = (flagsR(view, base) & CLONE_THREAD) !== 0n ? tgidOf(tid) : child;
            const name = comm ? readString(bytes, base, comm, le) : '';
            if (tgid >= 0) learn(child, tgid, name || (this.comms.get(child) ?? ''), fname);
          }
          sink.push(EV_OTHER, ts, tid, tgidOf(tid), cpu, -1, 0n, 0n, 0, nameId, where);
        };
      }
      case 'sched_process_exec': {
        // after exec the task is its thread group's leader (de_thread), so its pid is the process id;
        // its comm is the basename of the file it executed (begin_new_exec)
        if (!f0) break;
        const execR = numReader(f0, le);
        const file = f1;
        return (bytes, view, base, size, ts, cpu, tgidOf, where) => {
          if (size < need) return bad(where, size);
          const tid = pidR(view, base);
          const learn = (tgidOf as TgidLookup).learn;
          const pid = execR(view, base);
          if (learn && pid > 0) {
            const path = file ? readString(bytes, base, file, le) : '';
            const name = path.slice(path.lastIndexOf('/') + 1).slice(0, 15) || (this.comms.get(pid) ?? '');
            learn(pid, pid, name, fname);
          }
          sink.push(EV_OTHER, ts, tid, tgidOf(tid), cpu, -1, 0n, 0n, 0, nameId, where);
        };
      }
      case 'kvm_page_fault': {
        // not in event-table.ts (an EV_OTHER there, so perf.data's core path counts it by name); here, counted as
        // any other event with a = fault_address (the GPA of a VMX EPT violation), b = error_code
        // (arch/x86/kvm/trace.h: fault_address and error_code in every kernel, vcpu_id and guest_rip added later)
        const addrF = fmt.field('fault_address');
        if (!addrF) break;
        const addrR = bigReader(addrF, le);
        const errR = bigReader(fmt.field('error_code'), le);
        return (_bytes, view, base, size, ts, cpu, tgidOf, where) => {
          const tid = pidR(view, base);
          if (size < need) {
            // as the EV_OTHER decoder below does with a short record
            if (size < 8) return bad(where, size);
            return sink.push(EV_OTHER, ts, tid, tgidOf(tid), cpu, -1, 0n, 0n, 0, nameId, where);
          }
          sink.push(EV_PAGE_FAULT, ts, tid, tgidOf(tid), cpu, vcpuR(view, base), addrR(view, base), errR(view, base), 0, nameId, where);
        };
      }
      default:
        break;
    }
    return (_bytes, view, base, size, ts, cpu, tgidOf, where) => {
      // EV_OTHER only needs the common fields
      if (size < 8 && size < need) return bad(where, size);
      const tid = pidR(view, base);
      sink.push(EV_OTHER, ts, tid, tgidOf(tid), cpu, vcpuF && size >= need ? vcpuR(view, base) : -1, 0n, 0n, 0, nameId, where);
    };
  }

  /** arm64 kvm_exit (ret, esr_ec, vcpu_pc; no vCPU id): named by the format's own symbol tables (arm64.ts). */
  private arm64Exit(fmt: EventFormat, retF: FormatField | undefined, ecF: FormatField | undefined, pcF: FormatField | undefined,
                    need: number, nameId: number, pidR: NumReader, bad: (where: number, size: number) => void): Decode {
    const le = this.littleEndian;
    const retR = numReader(retF, le);
    const ecR = numReader(ecF, le);
    const pcR = bigReader(pcF, le);
    const tables = arm64Tables(fmt.printFmt);
    const ids = new Map<number, number>();
    return (_bytes, view, base, size, ts, cpu, tgidOf, where) => {
      if (size < need) return bad(where, size);
      const tid = pidR(view, base);
      const ret = retR(view, base) >>> 0;
      const ec = ret === ARM_EXCEPTION_TRAP ? ecR(view, base) >>> 0 : 0;
      const k = ret === ARM_EXCEPTION_TRAP ? ec : 0x100000000 + ret;
      let id = ids.get(k);
      if (id === undefined) { id = this.sink.intern(arm64ExitReason(ret, ec, tables)); ids.set(k, id); }
      this.sink.push(EV_EXIT, ts, tid, tgidOf(tid), cpu, -1, BigInt(id), pcR(view, base), EXITF_NO_VCPU, nameId, where);
    };
  }

  /** Name a thread from a comm field of a sched event, once per change of its comm. */
  private noteComm(tid: number, bytes: Uint8Array, base: number, f: FormatField, tgidOf: (tid: number) => number): void {
    if (tid <= 0) return;
    const comm = readString(bytes, base, f, this.littleEndian);
    if (comm === '' || this.comms.get(tid) === comm) return;
    this.comms.set(tid, comm);
    this.sink.nameThread(tid, tgidOf(tid), comm);
  }
}
