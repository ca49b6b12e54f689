/**
 * Phases of work, timed: where the VMM marks the work it runs, the exits and the tax of each phase (one
 * phase = one unit of work). The capture VMM (../shared/capture-tools/vmm, scripts/capture-svm/vmm) has the
 * guest write the phase id to port 0x501 when a phase begins and to 0x502 when it ends; the VMM also writes
 * "vmm: vcpuN phase X begin|end" to trace_marker when it handles those exits. The port writes are kvm_pio
 * events, the same in every format, so the phases are found from the exit rows (key "pio 0x501 w"): a phase
 * of a VM runs from its 0x501 exit to the next 0x502 exit of the same vCPU thread, and every exit of any
 * vCPU thread of that VM (pid; one VM per input when the trace does not say the pid) inside that window
 * counts to it. The phase's name (the trace_marker text,
 * the id written) is not in the rows: phases are numbered in order per marking vCPU thread.
 *
 * Per phase: wall (end - begin), the vCPU threads' exits in the window, their host time split into
 * overhead (non-idle exits, and HLT exits beyond their halt) and halted (halt rows), their guest time
 * (each exit's guest time before it), tax = overhead / (guest + host).
 *
 * Rows come out of the core as exits are handled (at kvm_entry), so an exit that began just before a
 * phase may arrive after the phase opened: each row is placed by its own timestamp among the phases of
 * its VM seen so far (the open one and the last few closed ones).
 */
import type { Core, RowSink } from '../../wasm/core.js';
import type { Report } from '../types.js';
import { decodeRows } from '../rows.js';

export const PHASE_BEGIN = 'pio 0x501 w';
export const PHASE_END = 'pio 0x502 w';

export interface Phase {
  /** VM process id (null when the trace does not say) and input file index */
  pid: number | null;
  file: number;
  /** the vCPU thread that marked the phase, and its vCPU id */
  tid: number;
  vcpu: number | null;
  /** 1, 2, ... in order on that thread */
  index: number;
  begin_ns: number;
  end_ns: number;
  wall_ns: number;
  /** vCPU threads of the VM with exits in the phase */
  vcpu_threads: number;
  exits: number;
  guest_ns: number;
  host_ns: number;
  halted_ns: number;
  overhead_ns: number;
  /** overhead / (guest + host) over the phase's exits; null when nothing was timed */
  tax: number | null;
  exits_per_s: number | null;
  /** the reasons with the most exits in the phase (at most 3) */
  top: Array<{ reason: string; exits: number }>;
}

export interface PhaseSection {
  source: string;
  phases: Phase[];
  /** phases begun (0x501) that never ended (0x502) in the trace */
  unfinished: number;
  /** exit rows of a VM's vCPU threads outside every phase of that VM */
  outside_exits: number;
}

interface Acc {
  p: Phase;
  open: boolean;
  reasons: Map<string, number>;
  tids: Set<number>;
}

/** Collects phases from the core's row stream: pass `sink` as analyze()'s `rows`, then call finish(). */
export class PhaseCollector {
  private byVm = new Map<string, Acc[]>();
  private counters = new Map<number, number>();
  private outside = 0;
  private seen = false;
  readonly sink: RowSink;

  constructor(private isa?: number) {
    this.sink = (b, core: Core) => { for (const row of decodeRows(b, core, this.isa)) this.add(row); };
  }

  private add(x: ReturnType<typeof decodeRows>[number]): void {
    // a VM is a process of one input; a trace that does not say the process (trace.dat without saved
    // tgids) is one VM per input, as the report itself groups it
    const vmKey = `${x.file}:${x.pid ?? '?'}`;
    let list = this.byVm.get(vmKey);
    if (x.kind === 'exit' && x.key === PHASE_BEGIN) {
      this.seen = true;
      if (!list) this.byVm.set(vmKey, (list = []));
      // a phase still open on this thread was never ended
      for (const a of list) if (a.open && a.p.tid === x.tid) a.open = false;
      const index = (this.counters.get(x.tid) ?? 0) + 1;
      this.counters.set(x.tid, index);
      list.push({
        p: { pid: x.pid, file: x.file, tid: x.tid, vcpu: x.vcpu, index, begin_ns: x.ts, end_ns: -1, wall_ns: 0, vcpu_threads: 0, exits: 0, guest_ns: 0, host_ns: 0, halted_ns: 0, overhead_ns: 0, tax: null, exits_per_s: null, top: [] },
        open: true, reasons: new Map(), tids: new Set(),
      });
    }
    if (!list || list.length === 0) { if (x.kind === 'exit') this.outside++; return; }
    if (x.kind === 'exit' && x.key === PHASE_END) {
      for (let i = list.length - 1; i >= 0; i--) {
        const a = list[i]!;
        if (a.open && a.p.tid === x.tid) { a.open = false; a.p.end_ns = x.ts; break; }
      }
      return;
    }
    if (x.kind === 'lapic') return;
    // the phase whose window holds this row's time (a halt: when it began, at its HLT exit, as its exit
    // row is placed; the row's own time is the wake-up): the newest ones first
    const at = x.kind === 'halt' ? x.ts - x.duration : x.ts;
    let hit: Acc | undefined;
    for (let i = list.length - 1; i >= 0 && i >= list.length - 4; i--) {
      const a = list[i]!;
      if (at >= a.p.begin_ns && (a.open || at < a.p.end_ns)) { hit = a; break; }
    }
    if (!hit) { if (x.kind === 'exit') this.outside++; return; }
    const p = hit.p;
    if (x.kind === 'halt') { p.halted_ns += x.duration; return; }
    p.exits++;
    hit.tids.add(x.tid);
    p.host_ns += x.duration;
    if (x.guest_before !== null) p.guest_ns += x.guest_before;
    const reason = x.reason ?? '?';
    hit.reasons.set(reason, (hit.reasons.get(reason) ?? 0) + 1);
  }

  /** The phases found (null when no 0x501 port write was seen). */
  finish(): PhaseSection | null {
    if (!this.seen) return null;
    const phases: Phase[] = [];
    let unfinished = 0;
    for (const list of this.byVm.values()) {
      for (const a of list) {
        const p = a.p;
        if (p.end_ns < 0) { unfinished++; continue; }
        p.wall_ns = p.end_ns - p.begin_ns;
        p.vcpu_threads = a.tids.size;
        // as the report's own split: host time = halted + overhead
        p.overhead_ns = Math.max(0, p.host_ns - p.halted_ns);
        const w = p.guest_ns + p.host_ns;
        p.tax = w > 0 ? p.overhead_ns / w : null;
        p.exits_per_s = p.wall_ns > 0 ? p.exits / (p.wall_ns / 1e9) : null;
        p.top = [...a.reasons].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).slice(0, 3).map(([reason, exits]) => ({ reason, exits }));
        phases.push(p);
      }
    }
    phases.sort((a, b) => a.file - b.file || (a.pid ?? -1) - (b.pid ?? -1) || a.begin_ns - b.begin_ns);
    return { source: `kvm_pio: port 0x501 writes (phase begins) and 0x502 (ends), the capture VMM's phase markers`, phases, unfinished, outside_exits: this.outside };
  }
}

const attached = new WeakMap<Report, PhaseSection>();
/** Hands the phases collected while `r` was analyzed to the levers section built from `r`. */
export function attachPhases(r: Report, s: PhaseSection | null): void { if (s) attached.set(r, s); }
export function phasesOf(r: Report): PhaseSection | null { return attached.get(r) ?? null; }
