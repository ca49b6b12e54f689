/**
 * The hardware's own cost of a VM exit: the VM-exit and VM-entry transitions themselves (saving and loading
 * guest and host state in the VMCS / VMCB), which lie outside kvm_exit -> kvm_entry and so outside every figure
 * kvmtax measures. Shown as a stated estimate beside the report (--sections exitcost), never added to a figure:
 *   estimate = exits seen x the published round-trip cycles of the host's microarchitecture.
 * The host's CPU model comes from the caller (kvmtax record's manifest beside each trace: `host.cpu_model`, read
 * from /proc/cpuinfo at recording time); no model: "unknown CPU model: no estimate". A model with no row in
 * EXIT_COST_FIGURES: "no published figure": no estimate. Mitigations that run at every VM entry or exit (VERW
 * buffer clearing, L1D flush, IBPB) are listed from the manifest's /sys/devices/system/cpu/vulnerabilities, their
 * cost is not estimated. A host that is itself a guest (cpuinfo flag "hypervisor", as in the emulated-SVM captures)
 * gets no estimate: its transitions are nested or emulated.
 *
 * Every row of EXIT_COST_FIGURES carries the source of its figure (paper and table, or a measurement with its CPU
 * model); a figure that could not be read and checked is not entered. Today one row: the Xeon 5500 series
 * (Nehalem-EP), from SplitX (Landau, Ben-Yehuda, Gordon, IBM Research, WIOV 2011, section 1 with its Table 1):
 * the direct cost of an exit, the CPU's world switch out to the hypervisor and back to the guest, about 2,000
 * cycles on a Xeon X5570 at 2.93 GHz (KVM in Linux 2.6.34, EPT and VPID on). The usual table for other models
 * (Agesen et al., "Software Techniques for Avoiding Hardware Virtualization Exits", USENIX ATC 2012, Table 1:
 * Prescott to Sandy Bridge) could not be read here. Add a row as { match: /model-name pattern/, microarch,
 * cycles, source } and the estimate appears for those hosts.
 *
 * View model (report.exitcost; keep stable):
 *   { available: true, hosts: [{ file, cpu_model: string | null, from: string, microarch: string | null,
 *       cycles_per_exit: number | null, source: string | null, exits: number, estimate_cycles: number | null,
 *       mitigations: string[], note: string }], note: string }
 */
import type { Report } from './types.js';

export interface ExitCostFigure {
  /** matched against the CPU model string (/proc/cpuinfo "model name") */
  match: RegExp;
  microarch: string;
  /** one VM exit + VM entry of the hardware, in core cycles */
  cycles: number;
  /** where the figure comes from (paper and table, or measurement and CPU) */
  source: string;
}

export const EXIT_COST_FIGURES: ExitCostFigure[] = [
  {
    // the Xeon 5500 series (E/L/W/X55xx) is one core, Nehalem-EP; the figure was measured on an X5570
    match: /Xeon\(R\) CPU\s+[ELWX]55\d\d\b/,
    microarch: 'Nehalem-EP',
    cycles: 2000,
    source: 'SplitX (Landau, Ben-Yehuda, Gordon; WIOV 2011), section 1 and Table 1: direct cost of an exit about 2,000 cycles, Xeon X5570 2.93 GHz, KVM 2.6.34, EPT+VPID',
  },
];

/** What the caller knows of one input's host. */
export interface HostCpu {
  file: string;
  cpu_model: string | null;
  /** where the model was read, e.g. "kvmtax record manifest (trace.dat.manifest.json)" */
  from: string;
  /** the host's own /proc/cpuinfo says "hypervisor": it is itself a guest, its VM exits are nested or emulated */
  under_hypervisor?: boolean;
  /** /sys/devices/system/cpu/vulnerabilities/* as recorded */
  vulnerabilities?: Record<string, string>;
}

export interface ExitCostHost {
  file: string;
  cpu_model: string | null;
  from: string;
  microarch: string | null;
  cycles_per_exit: number | null;
  source: string | null;
  exits: number;
  estimate_cycles: number | null;
  mitigations: string[];
  note: string;
}

export interface ExitCostSection { available: true; hosts: ExitCostHost[]; note: string }

// mitigations that act at VM entry / exit, by the words the kernel's vulnerabilities files use
const AT_TRANSITION: Array<[RegExp, string]> = [
  [/Clear CPU buffers|VERW/i, 'VERW buffer clearing'],
  [/L1D flush|cache flushes/i, 'L1D flush on VM entry'],
  [/IBPB/i, 'IBPB'],
  [/RSB filling|RSB stuffing/i, 'RSB filling on VM exit'],
];

function mitigationsOf(v: Record<string, string> | undefined): string[] {
  if (!v) return [];
  const out: string[] = [];
  for (const [name, text] of Object.entries(v)) {
    if (!/Mitigation/i.test(text)) continue;
    const kinds = AT_TRANSITION.filter(([re]) => re.test(text)).map(([, k]) => k);
    if (kinds.length) out.push(`${name}: ${kinds.join(', ')}`);
  }
  return out;
}

/** The estimate per input host; `figures` defaults to EXIT_COST_FIGURES (tests pass their own). */
export function buildExitCost(r: Report, hosts: HostCpu[], figures: ExitCostFigure[] = EXIT_COST_FIGURES): ExitCostSection {
  const exitsOf = (file: string) => {
    if (r.inputs.length === 1) return r.totals.exits_seen;
    const i = r.inputs.findIndex((x) => x.file === file);
    return r.vms.filter((m) => m.fileIndex === i).reduce((a, m) => a + m.vcpus.reduce((b, v) => b + v.exits_seen, 0), 0);
  };
  const rows: ExitCostHost[] = r.inputs.map((inp) => {
    const h = hosts.find((x) => x.file === inp.file);
    const exits = exitsOf(inp.file);
    const base = { file: inp.file, cpu_model: h?.cpu_model ?? null, from: h?.from ?? 'none', exits, mitigations: mitigationsOf(h?.vulnerabilities) };
    if (!h?.cpu_model) return { ...base, microarch: null, cycles_per_exit: null, source: null, estimate_cycles: null, note: 'unknown CPU model: no estimate (record with kvmtax record, whose manifest keeps the host\'s CPU model)' };
    if (h.under_hypervisor) return { ...base, microarch: null, cycles_per_exit: null, source: null, estimate_cycles: null, note: `"${h.cpu_model}" is a virtual CPU (the host's cpuinfo has the "hypervisor" flag: this KVM runs nested or emulated, bare-metal round-trip figures do not apply): no estimate` };
    const f = figures.find((x) => x.match.test(h.cpu_model!));
    if (!f) return { ...base, microarch: null, cycles_per_exit: null, source: null, estimate_cycles: null, note: `no published VM-exit round-trip figure for "${h.cpu_model}" in kvmtax's table (src/analysis/exit-cost.ts): no estimate` };
    return {
      ...base, microarch: f.microarch, cycles_per_exit: f.cycles, source: f.source, estimate_cycles: exits * f.cycles,
      note: `${exits} exits x ${f.cycles} cycles (${f.microarch}, ${f.source})`,
    };
  });
  return {
    available: true, hosts: rows,
    note: 'the hardware\'s VM-exit + VM-entry transitions lie outside kvm_exit -> kvm_entry: a stated estimate from published round-trip cycles, never added to the measured figures; mitigations at the transitions are listed, not costed',
  };
}
