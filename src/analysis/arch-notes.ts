/**
 * What a report must say about the exits of an arm64 (or RISC-V) trace: the rules that differ from x86's, stated
 * where the figures are read. Pure: reasons and event counts in, notes out.
 */

/** Notes for a report whose exits are arm64's ('arm64') or RISC-V's ('riscv'); none for any other. */
export function archNotes(isa: string, reasons: ReadonlyArray<{ reason: string; exits_seen: number }>,
                          eventsByName: Readonly<Record<string, number>>): string[] {
  const n = (e: string): number => eventsByName[e] ?? 0;
  if (isa === 'riscv') {
    return ['RISC-V: exits are named by scause (EXC_* exceptions, IRQ_* interrupts); kvm_exit/kvm_entry carry no vCPU id, so a vCPU is its thread. The Timers and IPIs sections model x86 (TSC deadline, APIC ICR) and do not apply'];
  }
  if (isa !== 'arm64') return [];
  const out = [
    'arm64: exits handled entirely at EL2 (the hyp fast path: FP/SIMD, some sysreg and GIC CPU-interface traps; under nVHE/pKVM all that EL2 handles) emit no kvm_exit/kvm_entry: exit counts can be lower than the exits that happened, and their time counts as guest time',
    'arm64: a TRAP exit is named by its exception class (ESR_EL2.EC), any other by its type (IRQ: a host interrupt while the guest ran), as perf kvm stat names them; kvm_exit/kvm_entry carry no vCPU id, so a vCPU is its thread. The Timers and IPIs sections model x86 (TSC deadline, APIC ICR) and do not apply',
  ];
  const wfx = reasons.find((r) => r.reason === 'WFx')?.exits_seen ?? 0;
  const wakeups = n('kvm_vcpu_wakeup');
  if (wfx > 0) {
    out.push(`arm64: WFx (a trapped WFI or WFE, one exception class) takes HLT's place as the idle reason: ${wakeups > 0
      ? 'only the halts inside a WFx exit (kvm_vcpu_wakeup) count as idle, so a trapped WFE (a yield, no halt) stays overhead'
      : 'without kvm_vcpu_wakeup events its whole handling time counts as idle, a trapped WFE (a yield) too'}${n('kvm_wfx_arm64') > 0 ? '; kvm_wfx_arm64 tells WFI from WFE (arm64.wfx per vCPU: WFI idle, a trapped WFE overhead; "unknown" where the tool printed "wf>c<", as trace-cmd 3.1 and perf 6.1 do)' : ''}`);
  } else {
    out.push('arm64: no WFx exits: WFI/WFE did not trap (or the guest never idled); KVM clears HCR_EL2.TWE while a vCPU thread is alone on its CPU and TWI with GICv4 direct injection, and an untrapped WFI\'s idle time is guest time');
  }
  const timerVgic = Object.keys(eventsByName).filter((e) => e.startsWith('kvm_timer_') || e.startsWith('vgic_')).sort();
  if (timerVgic.length > 0) {
    out.push(`arm64: ${timerVgic.map((e) => `${e} ${n(e)}`).join(', ')}: counted by name only (events by name); they mark timer and interrupt-line updates, not a span of time, so no time is derived from them`);
  }
  if (n('kvm_mmio_emulate') > 0) out.push('arm64: kvm_mmio_emulate carries the PC and instruction, not the address: MMIO by address comes from kvm_mmio (the mmio section)');
  return out;
}
