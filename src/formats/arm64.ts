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
 * Both tables (src/core/reason-tables.ts) are the kernel's own, copied from the print fmt of kvm:kvm_exit of
 * a real kernel (Debian linux-image-6.1.0-57-arm64 6.1.192, kept in traces/arm64-D-small/l1-info.txt).
 */

import { ARM64_EXCEPTION_CLASSES, ARM64_EXCEPTION_TYPES } from '../core/reason-tables.js';

export { ARM64_EXCEPTION_CLASSES, ARM64_EXCEPTION_TYPES };

/** ARM_EXCEPTION_TRAP: the exit's esr_ec holds the exception class. */
export const ARM_EXCEPTION_TRAP = 2;

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
