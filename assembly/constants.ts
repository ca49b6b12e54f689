// Constants shared by the WebAssembly core (assembly/) and the TypeScript front end (src/).
// This file must stay valid both as AssemblyScript and as TypeScript: plain integer constants only.

// ---- event kinds (column `kind` of an event batch) ----
export const EV_EXIT = 1; // kvm_exit: a = reason key (dictionary id), b = guest rip, c = flags (EXITF_*)
export const EV_ENTRY = 2; // kvm_entry: b = rip
export const EV_VCPU_WAKEUP = 3; // kvm_vcpu_wakeup: a = ns (whole halt), c = WAKE_* flags
export const EV_HALT_POLL_NS = 4; // kvm_halt_poll_ns: a = new window, b = old window, c = 1 grow / 0 shrink
export const EV_WAIT_LAPIC_EXPIRE = 5; // kvm_wait_lapic_expire: a = delta (signed), c = 1 early / 0 late
export const EV_MSR = 6; // kvm_msr: a = index, b = data, c = MSRF_* flags
export const EV_PIO = 7; // kvm_pio: a = port, b = value, c = 1 write / 0 read
export const EV_MMIO = 8; // kvm_mmio: a = gpa, b = value, c = MMIO_* type
export const EV_USERSPACE_EXIT = 9; // kvm_userspace_exit: a = KVM_EXIT_* code
export const EV_SCHED_SWITCH = 10; // sched_switch: a = next tid, b = prev state bits, c = prev tid
export const EV_SCHED_WAKEUP = 11; // sched_wakeup / sched_waking: a = woken tid, c = target cpu
export const EV_PLE_WINDOW = 12; // kvm_ple_window_update: a = new, b = old
export const EV_LOST = 13; // lost-events marker on `cpu`: a = number lost (0 = unknown)
export const EV_OTHER = 14; // any other event: counted per name only
export const EV_KIND_COUNT = 15;

// exit flags
export const EXITF_FAILED_VMENTRY = 1;
export const EXITF_NO_VCPU = 2; // the rendering did not carry the vcpu id (trace-cmd kvm plugin, old kernels)

// kvm_vcpu_wakeup flags
export const WAKE_WAITED = 1; // "wait" (blocked), else "poll" (successful poll)
export const WAKE_VALID = 2; // "polling valid"

// ---- input formats (text) ----
export const FMT_FTRACE = 1; // /sys/kernel/tracing/trace or trace_pipe
export const FMT_TRACECMD = 2; // trace-cmd report
export const FMT_PERF = 3; // perf script
export const FMT_BINARY = 9; // events pushed as batches by a TypeScript reader

// ---- clock units of the timestamps in a file ----
export const CLOCK_NS = 1; // sec.frac, converted to integer ns
export const CLOCK_RAW = 2; // bare integers (x86-tsc cycles, or counter clocks)

// ---- skipped-line kinds (data quality) ----
export const SKIP_UNRECOGNIZED = 0; // not a trace event line at all
export const SKIP_BAD_TIMESTAMP = 1;
export const SKIP_EXIT_NO_REASON = 2; // kvm_exit without "reason <name>"
export const SKIP_ENTRY_BAD = 3; // kvm_entry without a parsable body
export const SKIP_TRUNCATED = 4; // the file ended inside a line
export const SKIP_BAD_PAYLOAD = 5; // a known event whose fields did not parse
export const SKIP_MIXED_CLOCK = 6; // sec.frac and raw counter timestamps in one file
export const SKIP_KVM_UNREADABLE = 7; // a line naming kvm_exit/kvm_entry that is not an event line we can read
export const SKIP_KIND_COUNT = 8;

// ---- errors returned by the core (negative return values) ----
export const ERR_NONE = 0;
export const ERR_BINARY = -1; // NUL or other control bytes in a text trace
export const ERR_LINE_TOO_LONG = -2; // a line longer than the input arena
export const ERR_STRICT = -3; // --strict and a line was skipped

// ---- layout of the core's result tables (byte offsets inside one record) ----
// thread table: one record per (file, host thread)
export const TH_STRIDE = 528;
export const TH_FILE = 0; // i32
export const TH_TID = 4; // i32
export const TH_TGID = 8; // i32 (-1 unknown)
export const TH_VCPU = 12; // i32 (-1 unknown)
export const TH_COMM = 16; // i32 dictionary id (-1 unknown)
export const TH_LAST_CPU = 20; // i32
export const TH_STATE = 24; // i32 ST_*
export const TH_PEND_REASON = 28; // i32
export const TH_PEND_TS = 32; // i64
export const TH_LAST_ENTRY_TS = 40; // i64
export const TH_GUEST = 48; // i64 sum of guest intervals (entry -> next exit)
export const TH_HOST = 56; // i64 sum of handled exits' durations (exit -> next entry)
export const TH_FIRST_TS = 64; // i64 first kvm_exit/kvm_entry
export const TH_LAST_TS = 72; // i64 last kvm_exit/kvm_entry
export const TH_EXITS = 80; // i32 kvm_exit events
export const TH_HANDLED = 84; // i32 exits followed by their kvm_entry
export const TH_ENTRIES = 88; // i32 kvm_entry events
export const TH_LEADING_ENTRY = 92; // i32 1 when the thread's first kvm event was an entry
export const TH_ENTRY_NO_EXIT = 96; // i32 entries after an entry (their exit is missing)
export const TH_EXIT_NO_ENTRY = 100; // i32 exits followed by another exit
export const TH_LOST_RESETS = 104; // i32 pairing states dropped because events were lost on the thread's CPU
export const TH_PEND_WHERE = 112; // i64
export const TH_PEND_FLAGS = 120; // i32
export const TH_BACKWARDS = 124; // i32 entries earlier than their exit (clock went backwards)
export const TH_WAKE_POLL = 128; // i32 kvm_vcpu_wakeup "poll"
export const TH_WAKE_WAIT = 132; // i32 kvm_vcpu_wakeup "wait"
export const TH_WAKE_POLL_NS = 136; // i64
export const TH_WAKE_WAIT_NS = 144; // i64
export const TH_WAKE_INVALID = 152; // i32 "polling invalid"
export const TH_EVENTS = 156; // i32 events of any kind on this thread
export const TH_KVM_EVENTS = 160; // i32 kvm events other than exit/entry (msr, pio, wakeup, ...)
export const TH_PENDING_AT_END = 164; // i32 set by finish(): 1 if an exit was still pending
// halt polling, rebuilt the way virt/kvm/kvm_main.c kvm_vcpu_halt() counts it
export const TH_HP_WINDOW = 176; // i64 the vCPU's halt_poll_ns now (from kvm_halt_poll_ns; KVM starts it at 0)
export const TH_HP_START_WIN = 184; // i64 the window the halt in progress started with (old of its grow/shrink)
export const TH_HP_FLAGS = 192; // i32 HPF_*
export const TH_HP_ATTEMPTED = 196; // i32 halts that polled (window > 0): halt_attempted_poll
export const TH_HP_SUCCESS = 200; // i32 "poll" wake-ups of halts that polled: halt_successful_poll
export const TH_HP_INVALID = 204; // i32 successful polls whose wake-up was invalid: halt_poll_invalid
export const TH_HP_SUCCESS_NS = 208; // i64 halt time of successful polls: halt_poll_success_ns
export const TH_HP_FAIL_NS = 216; // i64 polling part of failed polls (the window): halt_poll_fail_ns
export const TH_HP_WAIT_NS = 224; // i64 blocked part of waits: halt_wait_ns
export const TH_HP_GROWS = 232; // i32
export const TH_HP_SHRINKS = 236; // i32
export const TH_HP_FLIPS = 240; // i32 a grow after a shrink or a shrink after a grow
export const TH_HP_LASTDIR = 244; // i32 1 grow, 2 shrink
export const TH_HP_MAX = 248; // i64 largest window seen
export const TH_HP_WIN_TS = 256; // i64 when the window last changed
export const TH_HP_WIN_AREA = 264; // f64 integral of the window over time (for its time-weighted mean)
export const TH_PRE_WAKES = 272; // i32 wake-ups before the first kvm_halt_poll_ns (window not yet known)
export const TH_PRE_POLLS = 276; // i32
export const TH_PRE_POLL_NS = 280; // i64
export const TH_PRE_WAITS = 288; // i32
export const TH_PRE_INVALID = 292; // i32
export const TH_PRE_WAIT_NS = 296; // i64
export const TH_WAKE_TS = 304; // i64 last kvm_vcpu_wakeup not yet followed by kvm_entry (I64 MIN: none)
export const TH_SCHED_WAKE_TS = 312; // i64 sched_wakeup of this thread while in the host, not yet followed by kvm_entry
export const TH_RUNNABLE_TS = 320; // i64 runnable since (woken or preempted), not yet switched in
export const TH_PREEMPT_GUEST = 328; // i32 preempted (switched out runnable) while its last kvm event was kvm_entry
export const TH_PREEMPT_HOST = 332; // i32 preempted while handling an exit
export const TH_SLEEPS = 336; // i32 switched out not runnable (blocked)
export const TH_PLE_GROWS = 340; // i32 kvm_ple_window_update grows
export const TH_PLE_SHRINKS = 344; // i32
export const TH_PLE_LAST = 348; // i32 last PLE window
export const TH_PEND_SUB = 352; // i32 sub-key (msr/port/mmio dictionary id) of the pending exit, -1 none
export const TH_LAPIC = 356; // i32 kvm_wait_lapic_expire events
export const TH_SWITCH_IN = 360; // i32 times switched in
export const TH_HALT_WAKES = 364; // i32 wake-ups of this thread (kvm_vcpu_wakeup)
export const TH_HP_FIRST_TS = 368; // i64 when the window was first known (first kvm_halt_poll_ns)
export const TH_PEND_GUEST = 376; // i64 guest time before the pending exit (-1 unknown)
export const TH_TL_WIDTH = 384; // i64 timeline bucket width (ticks), set when the file ends
export const TH_TL_ORIGIN = 392; // i64 timeline origin (the file's first timestamp)
export const TH_TL_PTR = 168; // i32 byte offset of the thread's TL_BUCKETS u32 exit counts (0: none)
// what came before the thread's first kvm_exit/kvm_entry (a slice of a file: it may belong to an exit
// pending at the end of the previous slice)
export const TH_PREF_WAKES = 400; // i32 kvm_vcpu_wakeup before the first exit/entry
export const TH_PREF_WAKE_POLLS = 404; // i32
export const TH_PREF_POLL_NS = 408; // i64
export const TH_PREF_WAIT_NS = 416; // i64
export const TH_PREF_SUB = 424; // i32 first msr/pio/mmio key before the first exit/entry, -1 none
export const TH_HP_FIRST_OLD = 432; // i64 the old window of the first kvm_halt_poll_ns (the window the thread had before)
export const TH_PREF_SWAKE_TS = 440; // i64 first sched_wakeup before the first exit/entry (I64 MIN: none)
export const TH_PREF_PREEMPT = 448; // i32 preemptions before the first exit/entry
export const TH_HP_FIRSTDIR = 452; // i32 direction of the first kvm_halt_poll_ns (1 grow, 2 shrink)
// a later slice follows every thread's scheduling before it knows which are vCPUs: kept apart until then
export const TH_PK_SWITCH_IN = 456; // i32 switched in before the thread's first kvm event
export const TH_PK_SLEEPS = 460; // i32
export const TH_PK_PREEMPT = 464; // i32
export const TH_WALL = 472; // i64 wall time: the sum of forward steps between the thread's kvm_exit/kvm_entry events
export const TH_PREV_TS = 480; // i64 the thread's previous kvm_exit/kvm_entry timestamp (in file order)
export const TH_JUMPS = 488; // i32 times its timestamps jumped back by more than JUMP_BACK (a second capture?)
export const TH_CPU_MASK = 504; // i64 host CPUs the thread ran on (bit n: CPU n; CPUs 63 and up share bit 63)
export const TH_MIGRATIONS = 512; // i32 times it was seen on another CPU than before
export const TH_PEND_USER_TS = 520; // i64 first kvm_userspace_exit of the pending exit (i64.MIN_VALUE: none)
export const TH_PEND_BIN = 500; // i32 bin index of the pending exit's reason (saves a lookup at its entry)
export const TH_JUMP_DROPS = 496; // i32 exits pending when the clock jumped back (never paired)
export const TH_REPLACED = 492; // i32 1 when a new process reused this tid: lookups go to the newer record
/** A thread's clock going back by more than this is a new capture, not jitter between CPUs. */
export const JUMP_BACK = 1000000;

export const HPF_KNOWN = 1; // a kvm_halt_poll_ns event has told the window
export const HPF_CHANGED = 2; // the window changed during the halt in progress

// metric bins: (thread, M_*) records in the bin table, with histograms, besides the exit reasons
export const M_HALT_POLL_OK = -2; // whole halt time of successful polls
export const M_HALT_WAIT = -3; // whole halt time of halts that blocked
export const M_HALT_BLOCKED = -4; // blocked part of those (halt time - window)
export const M_LAPIC_EARLY = -5; // kvm_wait_lapic_expire: |delta| when early (guest TSC cycles)
export const M_LAPIC_LATE = -6; // delta when late (guest TSC cycles)
export const M_WAKE_TO_ENTRY = -7; // kvm_vcpu_wakeup -> next kvm_entry
export const M_SCHED_WAKE_TO_ENTRY = -8; // sched_wakeup of a halted vCPU thread -> next kvm_entry
export const M_RUN_DELAY = -9; // runnable (woken or preempted) -> switched in
export const M_HALT_POLL_ATTEMPT_WIN = -10; // the window each polling halt started with
export const M_PK_RUN_DELAY = -12; // run delays before the thread's first kvm event (later slices)
export const M_PRE_WAIT = -11; // halt time of waits seen before the window was known (settled into M_HALT_BLOCKED)
/** sub-key bins: reason field = dictionary id | SUBKEY_FLAG ("msr 0x6e0 w", "pio 0x80 w", "mmio 0xfee000b0 r") */
export const SUBKEY_FLAG = 0x40000000;

// thread pairing states
export const ST_NONE = 0; // no kvm_exit/kvm_entry seen yet
export const ST_GUEST = 1; // last was kvm_entry: in guest mode
export const ST_HOST = 2; // last was kvm_exit: handling it
export const ST_GAP = 3; // events were lost: state unknown until the next entry

// bin table: one record per (thread, exit reason key)
export const BIN_STRIDE = 96;
export const BIN_THREAD = 0; // i32 thread index
export const BIN_REASON = 4; // i32 dictionary id of the reason as written in the trace
export const BIN_SEEN = 8; // i32 kvm_exit events
export const BIN_HANDLED = 12; // i32 exits followed by their entry
export const BIN_SUM = 16; // i64 total handling time
export const BIN_MIN = 24; // i64
export const BIN_MAX = 32; // i64
export const BIN_SUMSQ = 40; // f64 sum of squared durations
export const BIN_HIST = 48; // i32 index of the bin's histogram
export const BIN_FAILED = 52; // i32 exits with FAILED_VMENTRY
export const BIN_WAKE_POLL_NS = 56; // i64 kvm_vcpu_wakeup "poll" halt time inside these exits
export const BIN_WAKE_WAIT_NS = 64; // i64 kvm_vcpu_wakeup "wait" halt time inside these exits
export const BIN_WAKES = 72; // i32 wake-ups inside these exits
export const BIN_WAKE_POLLS = 76; // i32 of which "poll"
export const BIN_USER_NS = 80; // i64 time from the exit's first kvm_userspace_exit to its entry (the VMM's part)
export const BIN_USER_N = 88; // i32 handled exits that went to userspace

// log-linear histogram: values < 128 exact, then 64 sub-buckets per power of two (<= 0.78% error at the
// bucket's midpoint); values of 2^46 and above share the last bucket (min/max/sum stay exact).
export const HIST_SUB_BITS = 6;
export const HIST_BUCKETS = 2624; // 128 + (45 - 7 + 1) * 64

// top-N slowest exits: records of (duration i64, exit ts i64, where i64, thread i32, reason i32)
export const TOP_STRIDE = 32;

// skipped-line table: per SKIP_* kind
export const SK_STRIDE = 128;
export const SK_COUNT = 0; // i64
export const SK_FILE = 8; // i32
export const SK_LINE = 16; // i64
export const SK_COL = 24; // i32
export const SK_LEN = 28; // i32 excerpt length
export const SK_TEXT = 32; // up to 96 bytes of the first such line
export const SK_TEXT_MAX = 96;

// global counters (i64 each), read with counters()
export const C_LINES = 0;
export const C_EVENTS = 1;
export const C_COMMENTS = 2; // header and comment lines
export const C_BLANK = 3;
export const C_LOST_MARKERS = 4;
export const C_LOST_EVENTS = 5; // sum of the numbers the markers state
export const C_FIRST_TS = 6;
export const C_LAST_TS = 7;
export const C_BYTES = 8;
export const C_CLOCK = 9; // CLOCK_* of the current file
export const C_BACKWARDS = 10; // events whose timestamp is before their CPU's previous one
export const C_SEGMENTS = 11; // time segments of the file: >1 when time went back by more than SEG_GAP_NS (pasted captures)
export const C_COUNT = 16;
// ---- time segments (pasted captures): SEG_MAX records of SEG_STRIDE bytes: i64 first ts, i64 last ts, i64 line/offset where it starts
export const SEG_MAX = 16;
export const SEG_STRIDE = 24;
export const SEG_GAP_NS = 1000000000;

// timeline: exits per time bucket per thread; the bucket width doubles (merging pairs) to keep TL_BUCKETS
export const TL_BUCKETS = 512;
export const TL_START_WIDTH = 1000000; // 1 ms at ns timestamps

// rows: one record per handled exit, per halt and per kvm_wait_lapic_expire, streamed to TypeScript
export const ROW_STRIDE = 48;
export const ROW_TS = 0; // i64 exit (or event) timestamp, ticks
export const ROW_DUR = 8; // i64 handling time (exit rows), halt time (halt rows), delta (lapic rows)
export const ROW_AUX = 16; // i64 guest time before the exit (-1 unknown) / the halt's poll window (-1 unknown)
export const ROW_WHERE = 24; // i64 line or record of the exit
export const ROW_THREAD = 32; // i32 thread index
export const ROW_KEY = 36; // i32 reason (dictionary id) / WAKE_* flags for halts
export const ROW_SUB = 40; // i32 sub-key (dictionary id of "msr 0x6e0 w" ...) or -1
export const ROW_KIND = 44; // i32 ROWK_*
export const ROWK_EXIT = 1;
export const ROWK_HALT = 2;
export const ROWK_LAPIC = 3;
