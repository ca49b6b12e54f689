/**
 * The one table of the kvm/sched tracepoints kvmtax reads, and the fields it reads of each: used by the
 * TypeScript decoder (kvm-events.ts KvmEventDecoder: trace.dat, perf.data) and by the tables handed to the
 * wasm core (perf.data's core-path.ts; trace.dat's core path can take eventLayout() as it is). The kinds are
 * the core's event ids (EV_* in assembly/constants.ts).
 *
 * Fields come from the kernel's TRACE_EVENT definitions, as the file's own format descriptions
 * (events/<system>/<event>/format) lay them out: arch/x86/kvm/trace.h (kvm_exit, kvm_entry, kvm_msr,
 * kvm_pio, kvm_wait_lapic_expire, kvm_ple_window_update), include/trace/events/kvm.h (kvm_vcpu_wakeup,
 * kvm_halt_poll_ns, kvm_mmio, kvm_userspace_exit), arch/arm64/kvm/trace_arm.h and trace_handle_exit.h
 * (arm64), arch/riscv/kvm/trace.h, include/trace/events/sched.h and task.h.
 *
 * Per event: `fields` in the order the decoders use them (f0, f1, ...: what becomes a, b, c of the event;
 * see each kind in assembly/constants.ts); a list of names is "the first of these the format has" (kernels
 * renamed some). `requires`: the fields without which the format is not this variant (another variant of
 * the same name, or an EV_OTHER event counted by name).
 */
import type { EventFormat, FormatField } from './tracefs-format.js';
import {
  EV_EXIT, EV_ENTRY, EV_VCPU_WAKEUP, EV_HALT_POLL_NS, EV_WAIT_LAPIC_EXPIRE, EV_MSR, EV_PIO, EV_MMIO,
  EV_USERSPACE_EXIT, EV_SCHED_SWITCH, EV_SCHED_WAKEUP, EV_PLE_WINDOW, EV_OTHER, EV_WFX, EV_HVC,
} from '../../assembly/constants.js';

/** How a kvm_exit names its reason: x86 exit_reason (+ isa), arm64 (ret, esr_ec), RISC-V (scause). */
export type ExitVariant = 'x86' | 'arm64' | 'riscv';

export interface EventSpec {
  name: string;
  kind: number;
  fields: readonly (string | readonly string[])[];
  requires?: readonly string[];
  variant?: ExitVariant;
  /** the fields read as signed whatever the format says (kvm_wait_lapic_expire's delta: s64 on every kernel) */
  signed?: readonly string[];
}

export const EVENT_TABLE: readonly EventSpec[] = [
  // kvm_exit: reason code (VMX: basic reason + bit 31 failed VM entry; SVM: exit code), guest rip, isa (1 VMX, 2 SVM)
  { name: 'kvm_exit', kind: EV_EXIT, variant: 'x86', fields: ['exit_reason', 'guest_rip', 'isa'], requires: ['exit_reason'] },
  // arm64: ret (ARM_EXCEPTION_*), esr_ec (exception class when ret is a trap), vcpu_pc; no vCPU id
  { name: 'kvm_exit', kind: EV_EXIT, variant: 'arm64', fields: ['ret', 'esr_ec', 'vcpu_pc'], requires: ['ret', 'esr_ec'] },
  // RISC-V: scause, sepc; no vCPU id
  { name: 'kvm_exit', kind: EV_EXIT, variant: 'riscv', fields: ['scause', 'sepc'], requires: ['scause'] },
  { name: 'kvm_entry', kind: EV_ENTRY, fields: [['rip', 'vcpu_pc', 'pc']] }, // arm64: vcpu_pc, RISC-V: pc
  { name: 'kvm_vcpu_wakeup', kind: EV_VCPU_WAKEUP, fields: ['ns', 'waited', 'valid'] },
  { name: 'kvm_halt_poll_ns', kind: EV_HALT_POLL_NS, fields: ['new', 'old', 'grow'] },
  { name: 'kvm_wait_lapic_expire', kind: EV_WAIT_LAPIC_EXPIRE, fields: ['delta'], signed: ['delta'] },
  { name: 'kvm_msr', kind: EV_MSR, fields: ['ecx', 'data', 'write', 'exception'] },
  // val: u32 on current kernels, an array of data bytes on older ones (the first element is read)
  { name: 'kvm_pio', kind: EV_PIO, fields: ['port', ['val', 'data'], 'rw'] },
  // type: 0 unsatisfied read, 1 read, 2 write (KVM_TRACE_MMIO_*)
  { name: 'kvm_mmio', kind: EV_MMIO, fields: ['gpa', 'val', 'type'] },
  { name: 'kvm_userspace_exit', kind: EV_USERSPACE_EXIT, fields: ['reason'] },
  { name: 'kvm_wfx_arm64', kind: EV_WFX, fields: ['is_wfe', 'vcpu_pc'] },
  { name: 'kvm_hvc_arm64', kind: EV_HVC, fields: ['r0', 'imm'] },
  { name: 'kvm_ple_window_update', kind: EV_PLE_WINDOW, fields: ['new', 'old'] },
  { name: 'sched_switch', kind: EV_SCHED_SWITCH, fields: ['next_pid', 'prev_pid', 'prev_state', 'prev_comm', 'next_comm'] },
  { name: 'sched_wakeup', kind: EV_SCHED_WAKEUP, fields: ['pid', 'target_cpu', 'comm'] },
  { name: 'sched_waking', kind: EV_SCHED_WAKEUP, fields: ['pid', 'target_cpu', 'comm'] },
  // counted as EV_OTHER; their fields say which process a thread belongs to (KvmEventDecoder's `learn`)
  { name: 'task_newtask', kind: EV_OTHER, fields: ['pid', 'clone_flags', 'comm'], requires: ['pid', 'clone_flags'] },
  { name: 'sched_process_exec', kind: EV_OTHER, fields: ['pid', 'filename'], requires: ['pid'] },
];

/** Every event name of the table (the formats worth parsing when a file has many). */
export const TABLE_NAMES: ReadonlySet<string> = new Set(EVENT_TABLE.map((e) => e.name));

/** The ISA of a kvm_exit format without an `isa` field, from its print fmt (VMX unless it looks like SVM). */
export function guessIsa(fmt: EventFormat): number {
  const p = fmt.printFmt;
  if (/EXCEPTION_NMI|EXTERNAL_INTERRUPT|EPT_VIOLATION/.test(p)) return 1;
  if (/"npf"|"vmrun"|SVM_EXIT|"read_cr0"/.test(p)) return 2;
  return 1;
}

// flags of a layout (the wasm cores read the same bits)
/** the format has vcpu_id */
export const LF_VCPU = 1;
/** bits 8..15: the ISA of an x86 kvm_exit without an isa field (guessIsa) */
export const LF_ISA_SHIFT = 8;
/** the ISA is read from field 2 (isa) */
export const LF_ISA_FIELD = 1 << 16;
/** kvm_exit without vcpu_id: its events carry EXITF_NO_VCPU */
export const LF_NO_VCPU = 1 << 17;

export interface EventLayout {
  spec: EventSpec;
  kind: number;
  /** the spec's fields as this format has them (undefined: absent) */
  fields: (FormatField | undefined)[];
  /** LF_* */
  flags: number;
}

/** The field of `fmt` the decoders read for a table entry (the first present of alternatives), as they read it. */
function resolve(fmt: EventFormat, spec: EventSpec, names: string | readonly string[]): FormatField | undefined {
  let f: FormatField | undefined;
  for (const n of typeof names === 'string' ? [names] : names) if ((f = fmt.field(n))) break;
  if (!f) return undefined;
  if (spec.signed?.includes(f.name)) return { ...f, signed: true };
  if (spec.kind === EV_PIO && f.name !== 'port' && f.name !== 'rw') {
    // an array (older kernels: the data bytes): its first element; a dynamic one cannot be read
    if (f.isDynamic) return undefined;
    if (f.isArray && f.arrayLen > 0) return { ...f, size: f.size / f.arrayLen, isArray: false };
  }
  return f;
}

/**
 * The table's view of a format: its entry (the first of its name whose required fields are present), the
 * fields in the entry's order, and the LF_* flags. A name the table does not have, or whose required fields
 * are missing, is an EV_OTHER event with no fields.
 */
export function eventLayout(fmt: EventFormat): EventLayout {
  const vcpu = fmt.field('vcpu_id');
  let flags = vcpu ? LF_VCPU : 0;
  for (const spec of EVENT_TABLE) {
    if (spec.name !== fmt.name || !(spec.requires ?? []).every((n) => fmt.field(n) !== undefined)) continue;
    const fields = spec.fields.map((n) => resolve(fmt, spec, n));
    if (spec.variant === 'x86') {
      flags |= (guessIsa(fmt) << LF_ISA_SHIFT) | (fields[2] ? LF_ISA_FIELD : 0) | (vcpu ? 0 : LF_NO_VCPU);
    }
    return { spec, kind: spec.kind, fields, flags };
  }
  return { spec: { name: fmt.name, kind: EV_OTHER, fields: [] }, kind: EV_OTHER, fields: [], flags };
}
