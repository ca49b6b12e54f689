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
import { VMX_REASONS, SVM_REASONS } from './reason-tables.js';

export const ISA_UNKNOWN = 0;
export const ISA_VMX = 1;
export const ISA_SVM = 2;

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

/** Which table a name as written belongs to, if it tells. */
export function isaOfName(raw: string): number {
  const base = raw.replace(/ FAILED_VMENTRY$/, '');
  if (raw.endsWith(' FAILED_VMENTRY')) return ISA_VMX;
  if (base in PLUGIN_SVM) return ISA_SVM;
  if (vmxNames.has(base) || base in OLD_VMX) return ISA_VMX;
  if (svmNames.has(base)) return ISA_SVM;
  return ISA_UNKNOWN;
}

/** The kernel's name of an exit code. */
export function reasonName(isa: number, code: number): string {
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

/** Reasons whose host time is the vCPU being idle (halted: polling, then blocked), not overhead. */
export function isIdleReason(canonical: string): boolean {
  return canonical === 'HLT' || canonical === 'hlt' || canonical === 'idle-halt';
}
