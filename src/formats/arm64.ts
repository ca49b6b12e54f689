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

/** Tables to name exits by: the kernel's own, read from the event's print fmt, or the 6.1 ones. */
export interface Arm64Tables { types: ReadonlyMap<number, string>; classes: ReadonlyMap<number, string> }

/** The reason of an arm64 kvm_exit from its raw `ret` and `esr_ec` fields. */
export function arm64ExitReason(ret: number, esrEc: number, tables?: Arm64Tables): string {
  const r = ret >>> 0;
  if (r === ARM_EXCEPTION_TRAP) return (tables?.classes ?? className).get(esrEc >>> 0) ?? hex(esrEc);
  return (tables?.types ?? typeName).get(r) ?? hex(r);
}

/**
 * The value -> name lists of `__print_symbolic(REC-><field>, { 0, "IRQ" }, { (0x16), "HVC64" }, ...)` in a
 * format's print fmt, so a trace.dat or perf.data names exits with the tables of the kernel that wrote it (a
 * later kernel knows more exception classes than 6.1). A field without such a list gives undefined.
 */
export function symbolicTable(printFmt: string, field: string): Map<number, string> | undefined {
  const at = printFmt.indexOf(`__print_symbolic(REC->${field},`);
  if (at < 0) return undefined;
  const m = new Map<number, string>();
  const re = /\{\s*\(?\s*(0x[0-9a-fA-F]+|\d+)\s*\)?\s*,\s*"([^"]*)"\s*\}\s*(,|\))/gy;
  re.lastIndex = at + `__print_symbolic(REC->${field},`.length;
  for (;;) {
    while (re.lastIndex < printFmt.length && /\s/.test(printFmt[re.lastIndex]!)) re.lastIndex++;
    const x = re.exec(printFmt);
    if (!x) break;
    m.set(Number(x[1]) >>> 0, x[2]!);
    if (x[3] === ')') break;
  }
  return m.size > 0 ? m : undefined;
}

/** The naming tables of a kvm_exit format: its own print fmt's where it has them, else the 6.1 ones. */
export function arm64Tables(printFmt: string): Arm64Tables {
  return { types: symbolicTable(printFmt, 'ret') ?? typeName, classes: symbolicTable(printFmt, 'esr_ec') ?? className };
}

/** A kvm_exit format (field names) is arm64's: `ret` and `esr_ec`, no `exit_reason`. */
export function isArm64Exit(has: (field: string) => boolean): boolean {
  return !has('exit_reason') && has('ret') && has('esr_ec');
}
