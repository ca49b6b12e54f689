/**
 * Canonical exit-reason names. A trace may name one exit reason in several ways:
 *   kernel print format (VMX):  "MSR_WRITE", "EXTERNAL_INTERRUPT"          (isa 1)
 *   kernel print format (SVM):  "msr", "io", "interrupt", "npf"            (isa 2)
 *   unknown code:               "0x7e" (the kernel's __print_symbolic fallback)
 *   trace-cmd's kvm plugin:     "EXIT_MSR", "EXIT_IOIO", "UNKNOWN (123)", and VMX "PENDING_INTERRUPT"
 *                               (libtraceevent plugins/plugin_kvm.c keeps its own, older tables)
 *   failed VM entry (VMX):      "INVALID_STATE FAILED_VMENTRY"
 * All become the kernel's own name (reason-tables.ts), which is also what perf kvm stat prints.
 */
import { VMX_REASONS, SVM_REASONS, ARM64_EXCEPTION_CLASSES, ARM64_EXCEPTION_TYPES } from './reason-tables.js';

export const ISA_UNKNOWN = 0;
export const ISA_VMX = 1;
export const ISA_SVM = 2;
/** arm64: exits are named by the readers (src/formats/arm64.ts); no numeric code is ever read as arm64's. */
export const ISA_ARM64 = 3;
/** RISC-V: the code is scause's cause number, bit 31 set for an interrupt (scause's top bit). */
export const ISA_RISCV = 4;

/**
 * RISC-V trap causes (arch/riscv/include/asm/csr.h IRQ_* and EXC_*), named as perf kvm stat's riscv table
 * (tools/perf/arch/riscv/util/riscv_trap_types.h) names them. The kernel's kvm_exit (arch/riscv/kvm/trace.h)
 * prints scause as a number ("SEPC:0x..., SCAUSE:0x..., STVAL:..."); no real capture backs this table here.
 * Unlike perf, which masks the interrupt bit and so names IRQ_S_TIMER and EXC_LOAD_ACCESS (both 5) alike,
 * an interrupt and an exception of one number stay apart.
 */
const RISCV_IRQ = new Map<number, string>([[1, 'S_SOFT'], [2, 'VS_SOFT'], [3, 'M_SOFT'], [5, 'S_TIMER'], [6, 'VS_TIMER'],
  [7, 'M_TIMER'], [9, 'S_EXT'], [10, 'VS_EXT'], [11, 'M_EXT'], [12, 'S_GEXT'], [13, 'PMU_OVF']]);
const RISCV_EXC = new Map<number, string>([[0, 'INST_MISALIGNED'], [1, 'INST_ACCESS'], [2, 'INST_ILLEGAL'], [3, 'BREAKPOINT'],
  [4, 'LOAD_MISALIGNED'], [5, 'LOAD_ACCESS'], [6, 'STORE_MISALIGNED'], [7, 'STORE_ACCESS'], [8, 'SYSCALL'],
  [9, 'HYPERVISOR_SYSCALL'], [10, 'SUPERVISOR_SYSCALL'], [12, 'INST_PAGE_FAULT'], [13, 'LOAD_PAGE_FAULT'],
  [15, 'STORE_PAGE_FAULT'], [20, 'INST_GUEST_PAGE_FAULT'], [21, 'LOAD_GUEST_PAGE_FAULT'], [22, 'VIRTUAL_INST_FAULT'],
  [23, 'STORE_GUEST_PAGE_FAULT']]);

/** The ISA_RISCV code of a 64-bit scause value (as a bigint). */
export function riscvCode(scause: bigint): number {
  const irq = (scause >> 63n) & 1n;
  const cause = Number(scause & 0x7fffffffn);
  return ((irq ? 0x80000000 : 0) | cause) >>> 0;
}

function riscvName(code: number): string {
  const irq = (code & 0x80000000) !== 0;
  const c = code & 0x7fffffff;
  const n = (irq ? RISCV_IRQ : RISCV_EXC).get(c);
  return n ? `${irq ? 'IRQ' : 'EXC'}_${n}` : `scause 0x${irq ? (BigInt(c) | (1n << 63n)).toString(16) : c.toString(16)}`;
}

const vmxByCode = new Map<number, string>(VMX_REASONS.map(([c, n]) => [c, n]));
const svmByCode = new Map<number, string>(SVM_REASONS.map(([c, n]) => [c >>> 0, n]));
const vmxNames = new Set(VMX_REASONS.map(([, n]) => n));
const svmNames = new Set(SVM_REASONS.map(([, n]) => n));

/**
 * SVM exit codes of trace-cmd's kvm plugin names (libtraceevent plugins/plugin_kvm.c, SVM_EXIT_REASONS).
 * Only the codes are taken from there; the printed name is the kernel's.
 */
const PLUGIN_SVM: Record<string, number> = {
  EXIT_READ_CR0: 0x000, EXIT_READ_CR3: 0x003, EXIT_READ_CR4: 0x004, EXIT_READ_CR8: 0x008,
  EXIT_WRITE_CR0: 0x010, EXIT_WRITE_CR3: 0x013, EXIT_WRITE_CR4: 0x014, EXIT_WRITE_CR8: 0x018,
  EXIT_READ_DR0: 0x020, EXIT_READ_DR1: 0x021, EXIT_READ_DR2: 0x022, EXIT_READ_DR3: 0x023,
  EXIT_READ_DR4: 0x024, EXIT_READ_DR5: 0x025, EXIT_READ_DR6: 0x026, EXIT_READ_DR7: 0x027,
  EXIT_WRITE_DR0: 0x030, EXIT_WRITE_DR1: 0x031, EXIT_WRITE_DR2: 0x032, EXIT_WRITE_DR3: 0x033,
  EXIT_WRITE_DR4: 0x034, EXIT_WRITE_DR5: 0x035, EXIT_WRITE_DR6: 0x036, EXIT_WRITE_DR7: 0x037,
  EXIT_EXCP_DE: 0x040, EXIT_EXCP_DB: 0x041, EXIT_EXCP_BP: 0x043, EXIT_EXCP_OF: 0x044, EXIT_EXCP_BR: 0x045,
  EXIT_EXCP_UD: 0x046, EXIT_EXCP_NM: 0x047, EXIT_EXCP_DF: 0x048, EXIT_EXCP_TS: 0x04a, EXIT_EXCP_NP: 0x04b,
  EXIT_EXCP_SS: 0x04c, EXIT_EXCP_GP: 0x04d, EXIT_EXCP_PF: 0x04e, EXIT_EXCP_MF: 0x050, EXIT_EXCP_AC: 0x051,
  EXIT_EXCP_MC: 0x052, EXIT_EXCP_XF: 0x053, EXIT_INTR: 0x060, EXIT_NMI: 0x061, EXIT_SMI: 0x062,
  EXIT_INIT: 0x063, EXIT_VINTR: 0x064, EXIT_CR0_SEL_WRITE: 0x065, EXIT_IDTR_READ: 0x066,
  EXIT_GDTR_READ: 0x067, EXIT_LDTR_READ: 0x068, EXIT_TR_READ: 0x069, EXIT_IDTR_WRITE: 0x06a,
  EXIT_GDTR_WRITE: 0x06b, EXIT_LDTR_WRITE: 0x06c, EXIT_TR_WRITE: 0x06d, EXIT_RDTSC: 0x06e,
  EXIT_RDPMC: 0x06f, EXIT_PUSHF: 0x070, EXIT_POPF: 0x071, EXIT_CPUID: 0x072, EXIT_RSM: 0x073,
  EXIT_IRET: 0x074, EXIT_SWINT: 0x075, EXIT_INVD: 0x076, EXIT_PAUSE: 0x077, EXIT_HLT: 0x078,
  EXIT_INVLPG: 0x079, EXIT_INVLPGA: 0x07a, EXIT_IOIO: 0x07b, EXIT_MSR: 0x07c, EXIT_TASK_SWITCH: 0x07d,
  EXIT_FERR_FREEZE: 0x07e, EXIT_SHUTDOWN: 0x07f, EXIT_VMRUN: 0x080, EXIT_VMMCALL: 0x081,
  EXIT_VMLOAD: 0x082, EXIT_VMSAVE: 0x083, EXIT_STGI: 0x084, EXIT_CLGI: 0x085, EXIT_SKINIT: 0x086,
  EXIT_RDTSCP: 0x087, EXIT_ICEBP: 0x088, EXIT_WBINVD: 0x089, EXIT_MONITOR: 0x08a, EXIT_MWAIT: 0x08b,
  EXIT_MWAIT_COND: 0x08c, EXIT_XSETBV: 0x08d, EXIT_NPF: 0x400, EXIT_AVIC_INCOMPLETE_IPI: 0x401,
  EXIT_AVIC_UNACCELERATED_ACCESS: 0x402, EXIT_ERR: -1,
};
/** VMX names older renderings use for a code the kernel now names otherwise. */
const OLD_VMX: Record<string, number> = { PENDING_INTERRUPT: 7 };

const arm64Names = new Set([...ARM64_EXCEPTION_CLASSES.map(([, n]) => n), ...ARM64_EXCEPTION_TYPES.map(([, n]) => n)]);

/** Which table a name as written belongs to, if it tells. */
export function isaOfName(raw: string): number {
  if (arm64Names.has(raw)) return ISA_ARM64;
  if (/^SCAUSE:0x|^(EXC|IRQ)_[A-Z_]+$|^scause 0x/.test(raw)) return ISA_RISCV;
  const base = raw.replace(/ FAILED_VMENTRY$/, '');
  if (raw.endsWith(' FAILED_VMENTRY')) return ISA_VMX;
  if (base in PLUGIN_SVM) return ISA_SVM;
  if (vmxNames.has(base) || base in OLD_VMX) return ISA_VMX;
  if (svmNames.has(base)) return ISA_SVM;
  return ISA_UNKNOWN;
}

/** The kernel's name of an exit code. */
export function reasonName(isa: number, code: number): string {
  if (isa === ISA_RISCV) return riscvName(code >>> 0);
  if (isa === ISA_SVM) return svmByCode.get(code >>> 0) ?? `0x${(code >>> 0).toString(16)}`;
  const basic = code & 0xffff;
  const name = vmxByCode.get(basic) ?? `0x${basic.toString(16)}`;
  return (code & 0x80000000) !== 0 ? `${name} FAILED_VMENTRY` : name;
}

/**
 * The canonical name of a reason as written in a trace. `isa` is the file's instruction set (from the
 * other names in it, or --isa) and decides how a bare number is read; it is ignored when the name tells.
 */
export function canonicalReason(raw: string, isa: number): string {
  // RISC-V kvm_exit as the text readers take it: "SCAUSE:0x8000000000000005"
  const rv = /^SCAUSE:0x([0-9a-fA-F]{1,16})$/.exec(raw);
  if (rv) return riscvName(riscvCode(BigInt(`0x${rv[1]}`)));
  if (raw.endsWith(' FAILED_VMENTRY')) return `${canonicalReason(raw.slice(0, -15), ISA_VMX)} FAILED_VMENTRY`;
  if (raw in PLUGIN_SVM) return reasonName(ISA_SVM, PLUGIN_SVM[raw]!);
  if (raw in OLD_VMX) return reasonName(ISA_VMX, OLD_VMX[raw]!);
  if (vmxNames.has(raw) || svmNames.has(raw)) return raw;
  const unk = /^UNKNOWN \((\d+)\)$/.exec(raw) ?? /^(0x[0-9a-fA-F]+|\d+)$/.exec(raw);
  if (unk) {
    const code = Number(unk[1]);
    if (isa === ISA_SVM || isa === ISA_VMX) return reasonName(isa, code);
    return raw;
  }
  return raw;
}

/**
 * Reasons whose host time is the vCPU being idle (halted: polling, then blocked), not overhead. arm64's WFx (a
 * trapped WFI or WFE: one exception class for both) takes HLT's place; only its halts (kvm_vcpu_wakeup inside
 * the exit) count as idle when the trace has them, so a trapped WFE (a yield, no halt) stays overhead.
 */
export function isIdleReason(canonical: string): boolean {
  return canonical === 'HLT' || canonical === 'hlt' || canonical === 'idle-halt' || canonical === 'WFx';
}
