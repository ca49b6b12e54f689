/**
 * The one interface every format reader writes to.
 *
 *   bytes -> format reader -> EventSink (columnar batches in wasm memory) -> core -> summary -> renderer
 *
 * Text formats are tokenized inside the WebAssembly core itself (assembly/text.ts); binary formats
 * (perf.data, trace.dat, Perfetto) are decoded in TypeScript and pushed here one event at a time. The
 * sink stores each event in struct-of-arrays columns that live in the core's linear memory and hands
 * a whole batch (thousands of events) to the core in one export call.
 *
 * Event kinds and flag values are the EV_* / EXITF_* / WAKE_* constants of assembly/constants.ts.
 */
export interface EventSink {
  /**
   * Start a new input. `clock` is CLOCK_NS when timestamps are nanoseconds, CLOCK_RAW when they are raw
   * counter ticks (trace_clock=x86-tsc without conversion). Each file keeps its own threads and VMs.
   */
  beginFile(name: string, clock: number): void;
  /** Intern a string (event name, comm, exit reason name) in the core's dictionary; returns its id. */
  intern(s: string): number;
  /** The dictionary id of the canonical exit-reason name for an exit code of the VMX (isa 1) or SVM (isa 2) table. */
  reasonKey(isa: number, code: number): number;
  /**
   * Record one event.
   * @param kind    EV_* constant
   * @param ts      timestamp (ns, or raw ticks for CLOCK_RAW files)
   * @param tid     host thread id (the vCPU thread for kvm events)
   * @param tgid    process id of that thread (the VM), -1 when unknown
   * @param cpu     host CPU, -1 when unknown
   * @param vcpu    vCPU id carried by the event, -1 when absent
   * @param a,b,c   kind-specific fields (see assembly/constants.ts)
   * @param name    dictionary id of the event's name (intern("kvm_exit") etc.)
   * @param where   record number or byte offset of the event in its file (for --top and errors)
   */
  push(kind: number, ts: bigint, tid: number, tgid: number, cpu: number, vcpu: number,
       a: bigint, b: bigint, c: number, name: number, where: number): void;
  /**
   * True when the run keeps each exit's detail (rows for SQL and exports): a reader then pushes, right after each
   * kvm_exit's EV_EXIT, an EV_EXIT_INFO on the same thread with a = info1, b = info2 and c = EXD_* (what the record
   * carried). Absent or false: no EV_EXIT_INFO.
   */
  readonly exitDetail?: boolean;
  /** Name a thread (comm) once it is known, e.g. from saved cmdlines or a sched event. */
  nameThread(tid: number, tgid: number, comm: string): void;
  /** Count input the reader had to skip: `kind` is a SKIP_* constant, `where` its offset or line. */
  skip(kind: number, where: number, excerpt: string): void;
}
