/**
 * The parts of the exit tax that cpu-pm, halt-polling, exitless timers and exitless IPIs each change,
 * measured on their own from the same trace: halt polling (kvm_vcpu_wakeup, kvm_halt_poll_ns), timers
 * (kvm_wait_lapic_expire, TSC-deadline MSR writes, PREEMPTION_TIMER exits, wake-up latency), IPIs
 * (x2APIC ICR writes, APIC_WRITE exits), the sub-keys of MSR, port I/O and MMIO exits, and vCPU
 * scheduling (sched_switch, sched_wakeup, kvm_ple_window_update).
 *
 * Every section says which events it came from; when the trace lacks them the section is present with
 * `available: false` and the reason, never as zeros. Each section is one module of sections/, all built
 * from one context (sections/context.ts).
 */
import type { Extras } from './types.js';
import { sectionContext, type ExtraContext } from './sections/context.js';
import { haltSection } from './sections/halt.js';
import { keySection } from './sections/keys.js';
import { timerSection } from './sections/timers.js';
import { ipiSection } from './sections/ipi.js';
import { schedSection } from './sections/sched.js';
import { arm64Section } from './sections/arm64.js';
import type { Arm64Section } from './types.js';

export type { ExtraContext };
// the section types, for modules that still import them from here (new code imports ./types.js)
export type { Who, Unavailable, HaltVcpu, HaltSection, TimerVcpu, TimerSection, IpiVcpu, IpiSection, KeyRow, KeySection, SchedVcpu, SchedSection, Extras } from './types.js';
export { MSR_NAMES } from './sections/keys.js';

export function buildExtras(base: ExtraContext): Extras {
  const ctx = sectionContext(base);
  // the order of the report's members (and so of its JSON) is halt, timers, ipi, msr, port, mmio, sched
  const halt = haltSection(ctx);
  const msr = keySection(ctx, 'msr', 'kvm_msr');
  const port = keySection(ctx, 'pio', 'kvm_pio');
  const mmio = keySection(ctx, 'mmio', 'kvm_mmio');
  const timers = timerSection(ctx);
  const ipi = ipiSection(ctx);
  const sched = schedSection(ctx);
  return { halt, timers, ipi, msr, port, mmio, sched };
}

/** arm64's own section (kvm_wfx_arm64, kvm_hvc_arm64): built for arm64 reports only, so others keep their members. */
export function buildArm64(base: ExtraContext): Arm64Section {
  return arm64Section(sectionContext(base));
}
