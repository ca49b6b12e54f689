/**
 * The Report: what summarize() builds from the core's tables and every renderer, exporter and run
 * comparison reads. Only types (and the schema version) live here, so that the modules that build the
 * report and the ones that read it do not import each other.
 */
export const SCHEMA_VERSION = 1;

export interface InputInfo {
  file: string;
  format: string;
  compression?: string;
  clock: 'ns' | 'raw';
  lines?: number;
  bytes: number;
  events: number;
  first_ts: number | null;
  last_ts: number | null;
  lost_markers: number;
  lost_events: number;
  meta?: Record<string, string | number>;
  /** present when time goes back by more than a second in the file (several captures pasted into one) */
  segments?: Array<{ first_ts: number; last_ts: number; line: number }>;
  /** the number of segments when it is more than those listed in `segments` */
  segment_count?: number;
  /** a sampled recording (perf record -c N / -F N): each sample stands for PERIOD events */
  sampled?: SampledInput;
}

export interface SampledReport {
  /** always true: the exit counts of this report are estimates */
  estimated: true;
  /** kvm_exit samples read (all sampled inputs) */
  samples: number;
  /** Σ PERIOD of those samples: the estimated exits */
  estimated_exits: number;
  inputs: Array<{ file: string; sampling: string; samples: number; period_sum: number }>;
}

export interface SampledInput {
  /** "-c N" (every Nth event) or "-F N" (N samples/s, the period adapts) */
  sampling: string;
  /** samples read (all events) */
  samples: number;
  /** Σ PERIOD of all samples: perf report's "Event count (approx.)" */
  period_sum: number;
  /** kvm_exit samples per reason and Σ PERIOD of them: the estimated exits */
  exits: Array<{ reason: string; samples: number; estimated: number }>;
}

export interface SummaryOptions {
  /** TSC rate for raw counter timestamps (trace_clock=x86-tsc). */
  tscKhz?: number;
  /** exit-reason table for bare numeric reasons: 1 VMX, 2 SVM; detected from the names otherwise */
  isa?: number;
  /** slowest exits to list */
  top: number;
  /** include each reason's histogram buckets */
  histograms?: boolean;
  /** add the userspace round-trip section (report.userspace) */
  userspace?: boolean;
  /** add the handling-time split (report.handling) */
  handling?: boolean;
  /** guest rip table of the core (--by rip) */
  rips?: { entries: Array<{ bin: number; rip: bigint; count: number; sum: bigint }>; dropped: number; symbols?: import('./rips.js').GuestSymbols };
  /** guest-physical page table of the core (--by gpa) */
  gpas?: { entries: Array<{ bin: number; rip: bigint; count: number; sum: bigint }>; dropped: number };
  /** the core's nested table (--sections nested) */
  nested?: import('../wasm/core.js').NestedRec[];
  version: string;
}

export interface Stats {
  min_ns: number | null;
  mean_ns: number | null;
  p50_ns: number | null;
  p90_ns: number | null;
  p99_ns: number | null;
  p999_ns: number | null;
  max_ns: number | null;
  stddev_ns: number | null;
  /** perf kvm stat's "+-": the standard deviation of the mean, in % of the mean */
  rsd_mean_pct: number | null;
}

export interface ReasonRow extends Stats {
  reason: string;
  idle: boolean;
  exits_seen: number;
  exits_handled: number;
  exits_per_s: number | null;
  share_exits: number;
  total_ns: number;
  share_host: number;
  failed_vmentry?: number;
  /** a sampled recording: the kvm_exit samples of this reason (exits_seen is then their Σ PERIOD, an estimate) */
  samples?: number;
  /** a sampled recording: exits_seen and exits_per_s are estimates, the times are withheld */
  estimated?: boolean;
  histogram?: Array<[number, number, number]>;
}

export interface VcpuRow {
  vcpu: number | null;
  tid: number;
  comm: string | null;
  exits_seen: number;
  exits_handled: number;
  exits_per_s: number | null;
  wall_ns: number;
  guest_ns: number;
  host_ns: number;
  halted_ns: number;
  overhead_ns: number;
  tax: number | null;
  guest_share: number | null;
  halted_share: number | null;
  top_reasons: Array<{ reason: string; exits_handled: number; total_ns: number }>;
  /** host CPUs the thread ran on (63 stands for 63 and up), and how often it moved */
  cpus: number[];
  migrations: number;
  reasons?: Array<{ reason: string; exits_seen: number; exits_handled: number } & Stats & { total_ns: number }>;
  kvm_events: number;
}

export interface VmRow {
  file: string;
  /** position of the file among the inputs */
  fileIndex: number;
  pid: number | null;
  name: string;
  vcpus: VcpuRow[];
  exits_handled: number;
  host_ns: number;
  overhead_ns: number;
  wall_ns: number;
  tax: number | null;
  /** the VM's exits per reason, all its vCPUs together (perf kvm stat report -p PID); share_host: of the VM's host time */
  reasons?: Array<{ reason: string; exits_seen: number; exits_handled: number; total_ns: number; share_host: number | null } & Stats>;
}

export interface TopRow {
  ts_ns: number;
  at: string;
  file: string;
  where: string;
  vm: number | null;
  vcpu: number | null;
  tid: number;
  reason: string;
  duration_ns: number;
}

export interface SkipRow {
  kind: string;
  what: string;
  count: number;
  first: string;
  excerpt: string;
}

export interface Quality {
  events_read: number;
  lines_read: number | null;
  events_by_name: Record<string, number>;
  exit_entry_present: boolean;
  first_ts: number | null;
  last_ts: number | null;
  span_ns: number;
  unpaired: {
    exits_pending_at_end: number;
    exits_without_entry: number;
    entries_without_exit: number;
    leading_entries: number;
    lost_resets: number;
    backwards: number;
    /** exits pending when the thread's clock jumped back (a second capture): never paired */
    jump_resets: number;
  };
  lost: { markers: number; events: number };
  skipped: SkipRow[];
  dictionary_overflow: number;
}

export interface Timeline {
  /** bucket width in ns (or cycles); buckets start at the trace clock's t_ns */
  bucket_ns: number;
  vcpus: Array<{ file_index: number; pid: number | null; vcpu: number | null; tid: number; buckets: Array<[number, number]> }>;
}

export interface Report extends Extras {
  /** present when asked for (--sections userspace) */
  userspace?: UserspaceSection | Unavailable;
  /** present when asked for (--sections handling) */
  handling?: HandlingSection | Unavailable;
  /** present when asked for (--sections exitcost): src/analysis/exit-cost.ts, added by the CLI from kvmtax record's manifests */
  exitcost?: import('./exit-cost.js').ExitCostSection;
  /** present when asked for (--sections nested): src/analysis/nested.ts */
  nested?: import('./nested.js').NestedResult;
  /** present when asked for (--by rip) */
  rips?: RipSection;
  /** present when asked for (--by gpa) */
  gpas?: GpaSection;
  /** arm64 reports only: WFI/WFE split (kvm_wfx_arm64), hypercalls by function id (kvm_hvc_arm64) */
  arm64?: Arm64Section;
  /** exits per time bucket per vCPU (empty buckets left out) */
  timeline: Timeline;
  kvmtax: { version: string; schema: number };
  unit: 'ns' | 'cycles';
  inputs: InputInfo[];
  isa: 'vmx' | 'svm' | 'arm64' | 'riscv' | 'unknown';
  totals: {
    exits_seen: number;
    exits_handled: number;
    exits_per_s: number | null;
    wall_ns: number;
    guest_ns: number;
    host_ns: number;
    halted_ns: number;
    overhead_ns: number;
    tax: number | null;
    halted_share: number | null;
    guest_share: number | null;
  };
  reasons: ReasonRow[];
  vms: VmRow[];
  top: TopRow[];
  quality: Quality;
  notes: string[];
  /** set when the inputs are sampled recordings: the exit counts are estimates (summary/sampled.ts) */
  sampled?: SampledReport;
}

// ---- the extra sections (sections/*, built by extras.ts)

export interface Who { pid: number | null; vcpu: number | null; tid: number; comm: string | null }

export interface Unavailable { available: false; reason: string }

/** one exit reason or key: its handling time split at its first kvm_userspace_exit */
export interface UserspaceRow {
  key: string;
  exits_handled: number;
  total_ns: number;
  /** handled exits that went to userspace */
  to_userspace: number;
  userspace_ns: number;
  in_kernel_ns: number;
}
export interface GpaRow { gpa: string; exits: number; total_ns: number }
export interface GpaSection {
  available: true;
  dropped: number;
  distinct_pages: number;
  note: string;
  pages: GpaRow[];
  vcpus: Array<Who & { exits: number; top: GpaRow[] }>;
}
export interface RipRow { rip: string; symbol: string | null; exits: number; total_ns: number }
export interface RipSection {
  available: true;
  /** symbols read from --guest-symbols, null without */
  symbols: number | null;
  /** exits left out past the table's cap */
  dropped: number;
  note: string;
  reasons: Array<{ reason: string; exits: number; distinct_rips: number; top: RipRow[] }>;
  vcpus: Array<Who & { reason: string; exits: number; top: RipRow[] }>;
}
/** one exit reason, vCPU or all: its handling time split by where it went */
export interface HandlingRow {
  key: string;
  exits_handled: number;
  total_ns: number;
  on_cpu_ns: number;
  preempted_ns: number;
  vmm_ns: number;
  halted_ns: number;
  /** handled exits during which the thread was preempted */
  preempted_exits: number;
}
export interface HandlingSection {
  available: true;
  source: string[];
  /** what the exit tax includes and what lies outside exit -> entry */
  included: string;
  /** the parts this trace cannot separate, and why */
  missing: string[];
  totals: HandlingRow;
  reasons: HandlingRow[];
  vcpus: Array<HandlingRow & Who>;
}
export interface UserspaceSection {
  available: true;
  source: string[];
  note: string;
  reasons: UserspaceRow[];
  keys: UserspaceRow[];
}

export interface HaltVcpu extends Who {
  halts: number;
  poll_wakeups: number;
  wait_wakeups: number;
  halt_successful_poll: number;
  halt_attempted_poll: number;
  halt_poll_invalid: number;
  /** halt time of successful polls: KVM's halt_poll_success_ns plus any wake-up after the poll loop (an upper bound) */
  halt_poll_success_ns: number;
  /** halt time of halts that blocked: exactly KVM's halt_wait_ns + halt_poll_fail_ns */
  halt_wait_ns_plus_poll_fail_ns: number;
  /** the poll window of each failed poll: an upper bound of halt_poll_fail_ns (polling stops early on need_resched) */
  halt_poll_fail_ns_max: number;
  /** halt_wait_ns_plus_poll_fail_ns - halt_poll_fail_ns_max: a lower bound of halt_wait_ns */
  halt_wait_ns_min: number;
  success_rate: number | null;
  poll_success: Stats;
  halt_blocked: Stats;
  blocked: Stats;
  window: { known: boolean; grows: number; shrinks: number; flips: number; settled_ns: number | null; max_ns: number | null; mean_ns: number | null };
  hlt_split: { exits_handled: number; total_ns: number; poll_ns: number; wait_ns: number; other_ns: number } | null;
  hints: string[];
}
export interface HaltSection {
  available: true;
  source: string[];
  notes: string[];
  vcpus: HaltVcpu[];
}

export interface TimerVcpu extends Who {
  lapic_expire: { events: number; early: number; late: number; unit: 'ns' | 'cycles'; early_stats: Stats; late_stats: Stats } | null;
  tsc_deadline_writes: number | null;
  tsc_deadline_exits_ns: number | null;
  preemption_timer_exits: number | null;
  preemption_timer_ns: number | null;
  wake_to_entry: Stats | null;
  sched_wake_to_entry: Stats | null;
}
export interface TimerSection {
  available: true;
  source: string[];
  notes: string[];
  vcpus: TimerVcpu[];
  /** host time an exitless timer would remove: TSC-deadline write exits + PREEMPTION_TIMER exits */
  exitless_timer_ns: number | null;
  exitless_timer_share_of_overhead: number | null;
}

export interface IpiVcpu extends Who {
  icr_writes: number | null;
  icr_exits_ns: number | null;
  apic_write_exits: number | null;
  apic_write_ns: number | null;
}
export interface IpiSection {
  available: true;
  source: string[];
  notes: string[];
  vcpus: IpiVcpu[];
  /** host time an exitless IPI would remove (ICR-write exits, or APIC_WRITE exits in xAPIC mode) */
  exitless_ipi_ns: number | null;
  exitless_ipi_share_of_overhead: number | null;
}

export interface KeyRow extends Stats {
  key: string;
  dir: 'r' | 'w';
  name: string | null;
  events: number;
  /** null when the trace has no kvm_exit/kvm_entry to time them */
  exits_handled: number | null;
  total_ns: number | null;
}
export interface KeySection { available: true; source: string[]; keys: KeyRow[] }

// ---- arm64 (sections/arm64.ts) ----
/** exits of one kind of WFx on one vCPU; times null without kvm_exit/kvm_entry */
export interface WfxPart { events: number; exits_handled: number | null; total_ns: number | null }
export interface WfxVcpu extends Who {
  wfi: WfxPart;
  wfe: WfxPart;
  /** kvm_wfx_arm64 printed without its is_wfe (trace-cmd 3.1 and perf 6.1 print "wf>c<"): WFI or WFE unknown */
  unknown: WfxPart;
  /** halts (kvm_vcpu_wakeup) of this vCPU: a WFI that blocked or polled; a trapped WFE only yields */
  halts: number;
  /** WFI handling time: idle, HLT's place */
  idle_ns: number | null;
  /** trapped-WFE handling time: overhead (a spinning vCPU yielding) */
  overhead_ns: number | null;
}
export interface WfxSection { available: true; source: string[]; vcpus: WfxVcpu[] }
export interface HvcRow extends Stats {
  function_id: string;
  name: string | null;
  events: number;
  exits_handled: number | null;
  total_ns: number | null;
}
export interface HvcSection { available: true; source: string[]; functions: HvcRow[] }
export interface Arm64Section { wfx: WfxSection | Unavailable; hvc: HvcSection | Unavailable }


export interface SchedVcpu extends Who {
  switched_in: number;
  slept: number;
  preempted_in_guest: number;
  preempted_in_host: number;
  run_delay: Stats;
  pause_exits: number | null;
  ple_window: { grows: number; shrinks: number; last: number } | null;
}
export interface SchedSection { available: true; source: string[]; notes: string[]; vcpus: SchedVcpu[] }

export interface Extras {
  halt: HaltSection | Unavailable;
  timers: TimerSection | Unavailable;
  ipi: IpiSection | Unavailable;
  msr: KeySection | Unavailable;
  port: KeySection | Unavailable;
  mmio: KeySection | Unavailable;
  sched: SchedSection | Unavailable;
}
