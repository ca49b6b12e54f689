/**
 * arm64 KVM exits: the names arch/arm64/kvm/trace_arm.h prints, as the binary readers (kvm-events.ts: trace.dat,
 * perf.data) and the Perfetto reader need them. The text tokenizer (assembly/text.ts) takes the same names from
 * the printed line.
 *
 *   TRACE_EVENT(kvm_exit, int ret, unsigned int esr_ec, unsigned long vcpu_pc)
 *     ret    = ARM_EXCEPTION_CODE(exit code)              (arch/arm64/include/asm/kvm_asm.h)
 *     esr_ec = ARM_EXCEPTION_IS_TRAP(ret) ? ESR_ELx_EC : 0
 *     print: "%s: HSR_EC: 0x%04x (%s), PC: 0x%016lx"  e.g. "TRAP: HSR_EC: 0x0024 (DABT_LOW), PC: 0x0000000040000100"
 *   TRACE_EVENT(kvm_entry, unsigned long vcpu_pc)  print: "PC: 0x%016lx"
 *
 * Neither event has a vCPU id: the vCPU is the host thread. The exit reason is the one perf kvm stat gives
 * (tools/perf/arch/arm64/util/kvm-stat.c): a TRAP is named by its exception class, any other exit by its
 * exception type ("IRQ": a physical interrupt while the guest ran). A value missing from the kernel's table is
 * printed by __print_symbolic as "0x<hex>"; so it is named here.
 *
 * Both tables are the kernel's own, copied from the print fmt of kvm:kvm_exit of a real kernel (Debian
 * linux-image-6.1.0-57-arm64 6.1.192, events/kvm/kvm_exit/format, kept in traces/arm64-D-small/l1-info.txt).
 */

/** ARM_EXCEPTION_TRAP: the exit's esr_ec holds the exception class. */
export const ARM_EXCEPTION_TRAP = 2;

/** kvm_arm_exception_type as the 6.1 format file prints it. */
export const ARM64_EXCEPTION_TYPES: ReadonlyArray<readonly [number, string]> = [
  [0, 'IRQ'], [1, 'SERROR'], [2, 'TRAP'], [0xbadca11, 'HYP_GONE'],
];

/** kvm_arm_exception_class (ESR_ELx_EC_* names) as the 6.1 format file prints it. */
export const ARM64_EXCEPTION_CLASSES: ReadonlyArray<readonly [number, string]> = [
  [0x00, 'UNKNOWN'], [0x01, 'WFx'], [0x03, 'CP15_32'], [0x04, 'CP15_64'], [0x05, 'CP14_MR'], [0x06, 'CP14_LS'],
  [0x07, 'FP_ASIMD'], [0x08, 'CP10_ID'], [0x09, 'PAC'], [0x0c, 'CP14_64'], [0x15, 'SVC64'], [0x16, 'HVC64'],
  [0x17, 'SMC64'], [0x18, 'SYS64'], [0x19, 'SVE'], [0x1f, 'IMP_DEF'], [0x20, 'IABT_LOW'], [0x21, 'IABT_CUR'],
  [0x22, 'PC_ALIGN'], [0x24, 'DABT_LOW'], [0x25, 'DABT_CUR'], [0x26, 'SP_ALIGN'], [0x28, 'FP_EXC32'],
  [0x2c, 'FP_EXC64'], [0x2f, 'SERROR'], [0x30, 'BREAKPT_LOW'], [0x31, 'BREAKPT_CUR'], [0x32, 'SOFTSTP_LOW'],
  [0x33, 'SOFTSTP_CUR'], [0x34, 'WATCHPT_LOW'], [0x35, 'WATCHPT_CUR'], [0x38, 'BKPT32'], [0x3a, 'VECTOR32'],
  [0x3c, 'BRK64'],
];

const typeName = new Map(ARM64_EXCEPTION_TYPES);
const className = new Map(ARM64_EXCEPTION_CLASSES);
const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

/** The reason of an arm64 kvm_exit from its raw `ret` and `esr_ec` fields. */
export function arm64ExitReason(ret: number, esrEc: number): string {
  const r = ret >>> 0;
  if (r === ARM_EXCEPTION_TRAP) return className.get(esrEc >>> 0) ?? hex(esrEc);
  return typeName.get(r) ?? hex(r);
}

/** A kvm_exit format (field names) is arm64's: `ret` and `esr_ec`, no `exit_reason`. */
export function isArm64Exit(has: (field: string) => boolean): boolean {
  return !has('exit_reason') && has('ret') && has('esr_ec');
}
