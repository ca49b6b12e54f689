/**
 * A deterministic generator of realistic KVM host traces, for the benchmark.
 *
 *   node dist/bench/gen.js --format ftrace|perf|trace-cmd --size 1G --out FILE [--seed N]
 *                          [--vms 4] [--vcpus 16] [--isa vmx|svm] [--simple]
 *
 * writes FILE (exactly the line shapes of raw ftrace with the tgid column and irq flags, `perf script`'s
 * default output, or `trace-cmd report` with the kvm plugin's rendering) and FILE.expected.json: what a
 * correct analyzer must find in it (exits per reason, handled exits, handling time per reason).
 *
 * The model: several VMs (one host process each: the tgid), each vCPU a host thread ("CPU n/KVM", as QEMU
 * names them) pinned to its own host CPU. A vCPU alternates guest time (log-normal gaps) and exits; an
 * exit's reason is drawn from a mix and its handling time from a log-normal per reason. Derived from
 * the real captures:
 *   - VMX (default): the public HIP24 traces (Intel, 6.5; 110k exits: APIC_WRITE 51%, HLT 27%,
 *     EPT_MISCONFIG 10%, MSR_WRITE 7%, EPT_VIOLATION 4%, PREEMPTION_TIMER, EXTERNAL_INTERRUPT, EOI_INDUCED,
 *     PAUSE_INSTRUCTION, MSR_READ, CPUID, VMCALL, IO_INSTRUCTION; handling p50 below 1 us for APIC_WRITE
 *     and MSR_WRITE, 1-4 us for EPT_*, 5-20 us for EXTERNAL_INTERRUPT, ms for HLT; guest gaps 1-40 us),
 *     blended with a busier server's share of MSR, I/O and interrupt exits.
 *   - SVM (--isa svm): capture svm-A-baseline (msr 32%, io 28%, cpuid 27%, hlt 9%, vintr, interrupt, npf).
 * Inside the handling interval, as in the captures: kvm_msr in MSR exits (TSC deadline 0x6e0, x2APIC ICR
 * 0x830 with kvm_apic_ipi), kvm_pio in I/O exits (some returning to the VMM: kvm_userspace_exit), kvm_mmio
 * in EPT_MISCONFIG/npf exits, and in HLT exits KVM's halt-polling (kvm_halt_poll_ns grow/shrink as
 * virt/kvm/kvm_main.c does with the default module parameters, kvm_vcpu_wakeup poll|wait with the halt's
 * length) and, for halts that block, sched_switch out, sched_wakeup and sched_switch in from the idle
 * task. kvm_wait_lapic_expire precedes the entry after timer exits and timer wake-ups; a few interrupts
 * preempt the vCPU thread for a kworker. Lines are merged by time across CPUs, as the tools print them.
 *
 * Timestamps are printed in microseconds (the default `sec.usec` of ftrace's local clock, trace-cmd
 * report and perf script); the expected totals are computed from the printed values.
 *
 * Speed: lines are assembled from pre-encoded byte pieces into a large Buffer that is written in 8 MB
 * chunks; numbers are written digit by digit. No string is built per line.
 */
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';

export type TextFormat = 'ftrace' | 'perf' | 'trace-cmd';
export const TEXT_FORMATS: TextFormat[] = ['ftrace', 'perf', 'trace-cmd'];

export interface GenOptions {
  format: TextFormat;
  /** bytes to write; the file ends at the last whole line that fits */
  size: number;
  seed?: number;
  vms?: number;
  vcpus?: number;
  isa?: 'vmx' | 'svm';
  /** only kvm_exit and kvm_entry (the bench's simple file: the tokenizer's hot path alone) */
  simple?: boolean;
}

export interface ReasonTotals { exits_seen: number; exits_handled: number; total_ns: number }

/** The sidecar: what a correct analyzer finds in the generated file. */
export interface Expected {
  generator: { format: TextFormat; isa: string; seed: number; vms: number; vcpus: number; size: number; simple: boolean };
  bytes: number;
  lines: number;
  first_ts_ns: number;
  last_ts_ns: number;
  /** events per name (kvm_exit, sched_switch, ...) */
  events: Record<string, number>;
  exits_seen: number;
  exits_handled: number;
  /** sum of handling times (exit to the thread's next entry) */
  host_ns: number;
  reasons: Record<string, ReasonTotals>;
}

// ---------------------------------------------------------------- sizes

/** "1G", "300M", "64K", "12345" -> bytes (binary units). */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i.exec(s.trim());
  if (!m) throw new Error(`bad size "${s}" (expected e.g. 1G, 300M, 64K)`);
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2]!.toUpperCase()]!;
  return Math.round(Number(m[1]) * mult);
}

// ---------------------------------------------------------------- random numbers (deterministic)

class Rng {
  private s: number;
  private spare = NaN;
  constructor(seed: number) { this.s = (seed >>> 0) || 0x9e3779b9; }
  /** mulberry32: uniform in [0, 1) */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    if (!Number.isNaN(this.spare)) { const v = this.spare; this.spare = NaN; return v; }
    let u = this.next();
    if (u < 1e-12) u = 1e-12;
    const r = Math.sqrt(-2 * Math.log(u)), a = 2 * Math.PI * this.next();
    this.spare = r * Math.sin(a);
    return r * Math.cos(a);
  }
  /** log-normal with the given median and sigma (of the log) */
  logn(median: number, sigma: number): number { return median * Math.exp(sigma * this.normal()); }
  int(n: number): number { return Math.floor(this.next() * n); }
}

// ---------------------------------------------------------------- the exit reasons

/** what happens inside an exit's handling interval */
const enum Kind { Plain, Hlt, MsrW, MsrR, Io, Mmio, Timer, Intr }

interface Reason {
  name: string; // the kernel's name (what kvmtax and perf kvm stat print)
  plugin: string; // trace-cmd's kvm plugin rendering
  kind: Kind;
  weight: number;
  median: number; // ns
  sigma: number;
  rips: string[]; // exit rips (the entry resumes there or after the instruction)
  len: number; // instruction length: entry rip = exit rip + len
  info1: string; info2: string; intr: string;
}

const K_RIP = ['ffffffffa13f2e2f', 'ffffffffa00db918', 'ffffffffa0632f49', 'ffffffffa0360413', 'ffffffffa00a6f84', 'ffffffffa0e1b3c2'];

function vmxReasons(): Reason[] {
  const r = (name: string, kind: Kind, weight: number, median: number, sigma: number, rips: number[], len: number,
    info1 = '0', info2 = '0', intr = '00000000'): Reason =>
    ({ name, plugin: name, kind, weight, median, sigma, rips: rips.map((i) => K_RIP[i]!), len, info1, info2, intr });
  return [
    r('APIC_WRITE', Kind.Plain, 22, 700, 0.8, [1], 0, '380'),
    r('HLT', Kind.Hlt, 17, 0, 0, [0], 1),
    r('MSR_WRITE', Kind.MsrW, 16, 900, 0.8, [4, 5], 2),
    r('EPT_MISCONFIG', Kind.Mmio, 10, 2200, 1.0, [2], 3),
    r('EXTERNAL_INTERRUPT', Kind.Intr, 9, 4000, 1.1, [3, 0, 5], 0, '0', '0', '800000ec'),
    r('EPT_VIOLATION', Kind.Plain, 6, 1200, 1.0, [3], 0, 'd82'),
    r('IO_INSTRUCTION', Kind.Io, 5, 3000, 0.8, [4], 1, '5010010'),
    r('PREEMPTION_TIMER', Kind.Timer, 5, 500, 0.6, [0, 3], 0),
    r('PAUSE_INSTRUCTION', Kind.Plain, 3, 600, 0.8, [5], 2),
    r('MSR_READ', Kind.MsrR, 2, 900, 0.7, [4], 2),
    r('CPUID', Kind.Plain, 2, 800, 0.5, [5], 2),
    r('EOI_INDUCED', Kind.Plain, 1.5, 800, 0.6, [1], 0, 'ec'),
    r('VMCALL', Kind.Plain, 0.5, 20000, 1.0, [2], 3),
    r('EXCEPTION_NMI', Kind.Plain, 0.3, 1500, 0.8, [3], 0, '0', '0', '80000b0e'),
  ];
}

function svmReasons(): Reason[] {
  const r = (name: string, plugin: string, kind: Kind, weight: number, median: number, sigma: number, rips: number[], len: number,
    info1 = '0', info2 = '0'): Reason =>
    ({ name, plugin, kind, weight, median, sigma, rips: rips.map((i) => K_RIP[i]!), len, info1, info2, intr: '00000000' });
  return [
    r('msr', 'EXIT_MSR', Kind.MsrW, 26, 1100, 0.8, [4, 5], 2, '1'),
    r('io', 'EXIT_IOIO', Kind.Io, 20, 3000, 0.8, [4], 1, '5010010', '10099'),
    r('hlt', 'EXIT_HLT', Kind.Hlt, 17, 0, 0, [0], 1),
    r('cpuid', 'EXIT_CPUID', Kind.Plain, 12, 900, 0.5, [5], 2),
    r('interrupt', 'EXIT_INTR', Kind.Intr, 10, 4000, 1.1, [3, 0], 0),
    r('npf', 'EXIT_NPF', Kind.Mmio, 8, 2200, 1.0, [2, 3], 0, '100000004', 'fee00b0'),
    r('vintr', 'EXIT_VINTR', Kind.Plain, 4, 700, 0.6, [0], 0),
    r('pause', 'EXIT_PAUSE', Kind.Plain, 3, 600, 0.8, [5], 2),
  ];
}

// ---------------------------------------------------------------- events of the model

const enum Ev {
  Exit, Entry, Msr, Pio, Mmio, Userspace, Wakeup, HaltPoll, Lapic, SchedOut, SchedWake, SchedIn,
  PreemptWake, PreemptOut, PreemptBack, ApicIpi, InjVirq,
}
const EV_NAMES = [
  'kvm_exit', 'kvm_entry', 'kvm_msr', 'kvm_pio', 'kvm_mmio', 'kvm_userspace_exit', 'kvm_vcpu_wakeup', 'kvm_halt_poll_ns',
  'kvm_wait_lapic_expire', 'sched_switch', 'sched_wakeup', 'sched_switch', 'sched_wakeup', 'sched_switch', 'sched_switch',
  'kvm_apic_ipi', 'kvm_inj_virq',
];
const EV_SYSTEM = ['kvm', 'kvm', 'kvm', 'kvm', 'kvm', 'kvm', 'kvm', 'kvm', 'kvm', 'sched', 'sched', 'sched', 'sched', 'sched', 'sched', 'kvm', 'kvm'];
// ftrace irq-flags column per event (copied from the captures)
const EV_FLAGS = ['.....', 'd..1.', '.....', '.....', '.....', '.....', '.....', '.....', 'd..1.', 'd..2.', 'dNh2.', 'd..2.', 'dN.4.', 'd..2.', 'd..2.', '.....', '.....'];
/** who prints the line: 0 the vCPU thread, 1 the idle task of its CPU, 2 the kworker of its CPU */
const EV_WHO = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 2, 0, 0];
const NEV = EV_NAMES.length;

const enc = (s: string): Uint8Array => Buffer.from(s, 'latin1');

// KVM's halt-polling parameters (kvm_main.c defaults; x86 halt_poll_ns max is 200000)
const HALT_POLL_MAX = 200000, HALT_POLL_GROW_START = 10000;

const QCAP = 32;

/** One vCPU: a host thread with a queue of its next events (one exit cycle at a time). */
class Vcpu {
  qt = new Float64Array(QCAP); qk = new Int32Array(QCAP); qa = new Float64Array(QCAP); qb = new Float64Array(QCAP);
  qn = 0; qi = 0;
  t = 0; // time of the last entry (ns)
  pollNs = 0; // halt_poll_ns window
  exitReason = -1; exitTs = -1; // the pending exit as printed (us), -1 when none
  constructor(public idx: number, public vm: number, public id: number, public tid: number, public tgid: number, public cpu: number, public comm: string) {}
  push(t: number, k: Ev, a = 0, b = 0): void {
    const i = this.qn++;
    this.qt[i] = t; this.qk[i] = k; this.qa[i] = a; this.qb[i] = b;
  }
}

// ---------------------------------------------------------------- the writer

class Out {
  buf: Buffer;
  private spare: Buffer;
  private pending: Promise<void> = Promise.resolve();
  pos = 0;
  /** bytes handed to the file system */
  written = 0;
  constructor(private fd: number, chunk: number) {
    this.buf = Buffer.allocUnsafe(chunk + 65536);
    this.spare = Buffer.allocUnsafe(chunk + 65536);
  }
  put(a: Uint8Array): void {
    const b = this.buf, n = a.length;
    let p = this.pos;
    if (n < 48) { for (let i = 0; i < n; i++) b[p++] = a[i]!; this.pos = p; }
    else { b.set(a, p); this.pos = p + n; }
  }
  byte(c: number): void { this.buf[this.pos++] = c; }
  /** a non-negative integer in decimal */
  dec(v: number): void {
    const b = this.buf;
    if (v < 10) { b[this.pos++] = 48 + v; return; }
    let n = 0, x = v;
    while (x >= 1) { n++; x = Math.floor(x / 10); }
    let p = this.pos + n;
    this.pos = p;
    x = v;
    while (x >= 1) { const q = Math.floor(x / 10); b[--p] = 48 + (x - q * 10); x = q; }
  }
  /** a signed integer in decimal */
  sdec(v: number): void { if (v < 0) { this.byte(45); this.dec(-v); } else this.dec(v); }
  hex(v: number): void {
    const b = this.buf;
    if (v === 0) { b[this.pos++] = 48; return; }
    let n = 0, x = v;
    while (x >= 1) { n++; x = Math.floor(x / 16); }
    let p = this.pos + n;
    this.pos = p;
    x = v;
    while (x >= 1) { const q = Math.floor(x / 16); const d = x - q * 16; b[--p] = d < 10 ? 48 + d : 87 + d; x = q; }
  }
  /** `%5lu.%06lu` of a time in microseconds */
  ts(us: number): void {
    const sec = Math.floor(us / 1e6);
    let frac = us - sec * 1e6;
    const b = this.buf;
    let w = 0, x = sec;
    while (x >= 1) { w++; x = Math.floor(x / 10); }
    if (w === 0) w = 1;
    for (let i = w; i < 5; i++) b[this.pos++] = 32;
    this.dec(sec);
    b[this.pos++] = 46;
    let p = this.pos + 6;
    this.pos = p;
    for (let i = 0; i < 6; i++) { const q = Math.floor(frac / 10); b[--p] = 48 + (frac - q * 10); frac = q; }
  }
  /**
   * Hand the filled buffer to the file system and go on in the other one: the write (in libuv's thread
   * pool) overlaps the generation of the next chunk. Called at line boundaries only.
   */
  async flush(): Promise<void> {
    await this.pending;
    const full = this.buf, n = this.pos;
    this.buf = this.spare; this.spare = full;
    this.pos = 0;
    this.written += n;
    this.pending = writeAll(this.fd, full, n);
  }
  async close(): Promise<void> { await this.flush(); await this.pending; }
}

async function writeAll(fd: number, b: Buffer, n: number): Promise<void> {
  let off = 0;
  while (off < n) {
    off += await new Promise<number>((res, rej) => fs.write(fd, b, off, n - off, null, (e, w) => (e ? rej(e) : res(w))));
  }
}

// ---------------------------------------------------------------- rendering pieces per format

interface Pieces {
  /** per event kind: what comes between the timestamp and the body (": kvm_exit: " etc.) */
  tag: Uint8Array[];
  /** per event kind: ftrace flags column ("d..1. ") or empty */
  flags: Uint8Array[];
}

function pieces(fmt: TextFormat): Pieces {
  const tag: Uint8Array[] = [], flags: Uint8Array[] = [];
  for (let e = 0; e < NEV; e++) {
    const name = EV_NAMES[e]!;
    if (fmt === 'ftrace') { tag.push(enc(`: ${name}: `)); flags.push(enc(`${EV_FLAGS[e]} `)); }
    // trace-cmd: "%s:" left-aligned in 21 columns, then a space
    else if (fmt === 'trace-cmd') { tag.push(enc(`: ${`${name}:`.padEnd(21)} `)); flags.push(enc('')); }
    // perf script: "%*s: " with the width of the longest event name of the session (kvm:* makes it 34)
    else { tag.push(enc(`: ${`${EV_SYSTEM[e]}:${name}`.padStart(34)}: `)); flags.push(enc('')); }
  }
  return { tag, flags };
}

/** the line start of a task up to the timestamp */
function taskHeader(fmt: TextFormat, comm: string, tid: number, tgid: number | null, cpu: number): Uint8Array {
  const c = String(cpu).padStart(3, '0');
  if (fmt === 'ftrace') {
    // "             vmm-193     (    188) [001] d..1.     7.334239: kvm_entry: vcpu 1, rip 0x10000"
    const tg = tgid === null ? '-------' : String(tgid).padStart(7);
    return enc(`${comm.padStart(16)}-${String(tid).padEnd(7)} (${tg}) [${c}] `);
  }
  if (fmt === 'trace-cmd') {
    // "             vmm-186   [000]     5.934744: kvm_exit:             reason EXIT_NPF rip 0x10000 info 200000006 1000"
    return enc(`${comm.padStart(16)}-${String(tid).padEnd(5)} [${c}] `);
  }
  // "             vmm   193 [001]     7.301836:                       kvm:kvm_exit: vcpu 1 reason npf ..."
  return enc(`${comm.padStart(16)} ${String(tid).padStart(5)} [${c}] `);
}

interface VcpuText {
  hdr: Uint8Array[]; // by EV_WHO
  schedOut: Uint8Array; schedWake: Uint8Array; schedIn: Uint8Array;
  preemptWake: Uint8Array; preemptOut: Uint8Array; preemptBack: Uint8Array;
  vcpuNo: Uint8Array; // "vcpu N"
}

function vcpuText(fmt: TextFormat, v: Vcpu): VcpuText {
  const cpu3 = String(v.cpu).padStart(3, '0');
  const idle = `swapper/${v.cpu}`, kw = `kworker/${v.cpu}:1`, kwPid = 100 + v.cpu;
  const sw = (pc: string, pp: number, pprio: number, st: string, nc: string, np: number, nprio: number): string =>
    fmt === 'trace-cmd'
      ? `${pc}:${pp} [${pprio}] ${st} ==> ${nc}:${np} [${nprio}]`
      : `prev_comm=${pc} prev_pid=${pp} prev_prio=${pprio} prev_state=${st} ==> next_comm=${nc} next_pid=${np} next_prio=${nprio}`;
  const wk = (c: string, p: number, prio: number): string =>
    fmt === 'trace-cmd' ? `${c}:${p} [${prio}] CPU:${cpu3}` : `comm=${c} pid=${p} prio=${prio} target_cpu=${cpu3}`;
  const idleComm = fmt === 'perf' ? 'swapper' : '<idle>';
  return {
    hdr: [taskHeader(fmt, v.comm, v.tid, v.tgid, v.cpu), taskHeader(fmt, idleComm, 0, null, v.cpu), taskHeader(fmt, kw, kwPid, kwPid, v.cpu)],
    schedOut: enc(sw(v.comm, v.tid, 120, 'S', idle, 0, 120)),
    schedWake: enc(wk(v.comm, v.tid, 120)),
    schedIn: enc(sw(idle, 0, 120, 'R', v.comm, v.tid, 120)),
    preemptWake: enc(wk(kw, kwPid, 120)),
    preemptOut: enc(sw(v.comm, v.tid, 120, 'R+', kw, kwPid, 120)),
    preemptBack: enc(sw(kw, kwPid, 120, 'I', v.comm, v.tid, 120)),
    vcpuNo: enc(`vcpu ${v.id}`),
  };
}

interface ReasonText { exit: Uint8Array[]; entry: Uint8Array[] } // per rip variant

function reasonText(fmt: TextFormat, r: Reason, isa: string): ReasonText {
  const exit: Uint8Array[] = [], entry: Uint8Array[] = [];
  for (const rip of r.rips) {
    const back = BigInt(`0x${rip}`) + BigInt(r.len);
    const erip = back.toString(16);
    if (fmt === 'trace-cmd') {
      // the kvm plugin: "reason EXIT_NPF rip 0x10000 info 200000006 1000" (after "vcpu N" is dropped)
      exit.push(enc(`reason ${r.plugin} rip 0x${rip} info ${r.info1} ${r.info2}`));
      entry.push(enc(` rip 0x${erip}`));
    } else {
      // " reason npf rip 0x10000 info1 0x0000000200000006 info2 0x0000000000001000 intr_info 0x00000000 error_code 0x00000000"
      const p16 = (h: string): string => h.padStart(16, '0');
      exit.push(enc(` reason ${r.name} rip 0x${rip} info1 0x${p16(r.info1)} info2 0x${p16(r.info2)} intr_info 0x${isa === 'svm' ? '00000000' : r.intr} error_code 0x00000000`));
      entry.push(enc(`, rip 0x${erip}`));
    }
  }
  return { exit, entry };
}

// fixed bodies
const MSRS = [
  { msr: 0x6e0, name: 'msr_write 6e0 = 0x', ipi: false }, // IA32_TSC_DEADLINE
  { msr: 0x830, name: 'msr_write 830 = 0x', ipi: true }, // x2APIC ICR
  { msr: 0x80b, name: 'msr_write 80b = 0x', ipi: false }, // x2APIC EOI
  { msr: 0x48, name: 'msr_write 48 = 0x', ipi: false }, // SPEC_CTRL
];
const MSRS_READ = ['msr_read 1b = 0xfee00900', 'msr_read 802 = 0x', 'msr_read 10 = 0x'];
const PIOS = [
  enc('pio_write at 0x501 size 1 count 1 val 0x5 '),
  enc('pio_read at 0x3fd size 1 count 1 val 0x60 '),
  enc('pio_write at 0xcf8 size 4 count 1 val 0x80001804 '),
  enc('pio_read at 0xcfc size 2 count 1 val 0x7 '),
];
const MMIOS = [
  enc('mmio write len 2 gpa 0xfe003000 val 0x0'),
  enc('mmio write len 4 gpa 0xfec00000 val 0x26'),
  enc('mmio read len 4 gpa 0xfed000f0 val 0x1c8d2a'),
];
const USERSPACE = [enc('reason KVM_EXIT_IO (2)'), enc('reason KVM_EXIT_MMIO (6)')];

// ---------------------------------------------------------------- the generator

/** The model's state: vCPUs, their queues, the time-ordered merge. */
class Model {
  readonly vcpus: Vcpu[] = [];
  readonly reasons: Reason[];
  private readonly cum: Float64Array;
  private readonly rng: Rng;
  private readonly heap: Int32Array;
  private hn = 0;
  constructor(seed: number, vms: number, perVm: number, public isa: 'vmx' | 'svm', public simple = false) {
    this.rng = new Rng(seed);
    this.reasons = isa === 'svm' ? svmReasons() : vmxReasons();
    this.cum = new Float64Array(this.reasons.length);
    let s = 0;
    for (let i = 0; i < this.reasons.length; i++) { s += this.reasons[i]!.weight; this.cum[i] = s; }
    for (let i = 0; i < this.cum.length; i++) this.cum[i] = this.cum[i]! / s;
    const t0 = 24006249294000; // 24006.249294 s: a host up for 6.7 hours (HIP24's trace starts there)
    let cpu = 0;
    for (let m = 0; m < vms; m++) {
      const tgid = 3127 + m * 1000;
      for (let i = 0; i < perVm; i++) {
        const v = new Vcpu(this.vcpus.length, m, i, tgid + 21 + i, tgid, cpu++, `CPU ${i}/KVM`);
        v.t = t0 + this.rng.next() * 20000;
        v.push(v.t, Ev.Entry, 0, 0); // the trace starts while the vCPU runs: first an entry without its exit
        this.vcpus.push(v);
      }
    }
    this.heap = new Int32Array(this.vcpus.length);
    for (const v of this.vcpus) this.heapPush(v.idx);
  }

  private key(i: number): number { const v = this.vcpus[i]!; return v.qt[v.qi]!; }
  private less(a: number, b: number): boolean { const ka = this.key(a), kb = this.key(b); return ka < kb || (ka === kb && a < b); }
  private heapPush(i: number): void {
    const h = this.heap;
    let c = this.hn++;
    h[c] = i;
    while (c > 0) { const p = (c - 1) >> 1; if (!this.less(h[c]!, h[p]!)) break; const t = h[c]!; h[c] = h[p]!; h[p] = t; c = p; }
  }
  private siftDown(): void {
    const h = this.heap, n = this.hn;
    let c = 0;
    for (;;) {
      const l = 2 * c + 1, r = l + 1;
      let m = c;
      if (l < n && this.less(h[l]!, h[m]!)) m = l;
      if (r < n && this.less(h[r]!, h[m]!)) m = r;
      if (m === c) return;
      const t = h[c]!; h[c] = h[m]!; h[m] = t; c = m;
    }
  }
  /** the vCPU whose next event is the earliest */
  top(): Vcpu { return this.vcpus[this.heap[0]!]!; }
  /** consume top()'s current event */
  advance(): void {
    const v = this.top();
    v.qi++;
    if (v.qi >= v.qn) this.cycle(v);
    this.siftDown();
  }

  private pick(): number {
    const u = this.rng.next(), c = this.cum;
    for (let i = 0; i < c.length; i++) if (u < c[i]!) return i;
    return c.length - 1;
  }

  /** one guest interval and one exit with everything inside its handling interval */
  private cycle(v: Vcpu): void {
    const rng = this.rng;
    v.qn = 0; v.qi = 0;
    const ri = this.pick();
    const r = this.reasons[ri]!;
    const variant = rng.int(r.rips.length);
    const tExit = v.t + 300 + rng.logn(4500, 1.1);
    v.push(tExit, Ev.Exit, ri, variant);
    let h = r.median > 0 ? 150 + rng.logn(r.median, r.sigma) : 0;
    let lapic = false;
    if (this.simple) { // exit/entry only: the handling time, no events inside it
      if (r.kind === Kind.Hlt) h = 800 + rng.logn(40000, 1.2);
      v.push(tExit + h, Ev.Entry, variant, ri);
      v.t = tExit + h;
      return;
    }
    switch (r.kind) {
      case Kind.MsrW: {
        const u = rng.next();
        const m = u < 0.55 ? 0 : u < 0.85 ? 1 : u < 0.95 ? 2 : 3;
        const val = m === 0 ? Math.floor(tExit * 2.1) % 0x1000000000000 : m === 1 ? 0xfd + (rng.int(64) * 0x100000000) : 0;
        if (m === 1) h += rng.logn(600, 0.5);
        v.push(tExit + h * 0.4, Ev.Msr, m, val);
        if (m === 1) v.push(tExit + h * 0.7, Ev.ApicIpi, rng.int(16), 0xfd);
        break;
      }
      case Kind.MsrR: v.push(tExit + h * 0.5, Ev.Msr, -1 - rng.int(MSRS_READ.length), rng.int(256)); break;
      case Kind.Io: {
        const p = rng.int(PIOS.length);
        const user = rng.next() < 0.3;
        if (user) h += rng.logn(25000, 0.7);
        v.push(tExit + Math.min(h * 0.3, 1500), Ev.Pio, p);
        if (user) v.push(tExit + h * 0.5, Ev.Userspace, 0);
        break;
      }
      case Kind.Mmio: {
        if (rng.next() < 0.4) {
          const user = rng.next() < 0.25;
          if (user) h += rng.logn(30000, 0.7);
          v.push(tExit + h * 0.4, Ev.Mmio, rng.int(MMIOS.length));
          if (user) v.push(tExit + h * 0.6, Ev.Userspace, 1);
        }
        break;
      }
      case Kind.Timer: lapic = true; break;
      case Kind.Intr: {
        if (rng.next() < 0.03) { // the interrupt woke a kworker that preempts the vCPU thread
          const run = rng.logn(15000, 0.8);
          v.push(tExit + h * 0.5, Ev.PreemptWake);
          v.push(tExit + h * 0.5 + 1000, Ev.PreemptOut);
          v.push(tExit + h * 0.5 + 1000 + run, Ev.PreemptBack);
          h += 2000 + run;
        }
        break;
      }
      case Kind.Hlt: {
        // how long until the vCPU has work again, then KVM's halt-polling (kvm_vcpu_halt)
        const halt = 800 + rng.logn(rng.next() < 0.6 ? 40000 : 900000, 1.2);
        const window = v.pollNs;
        const polled = window > 0 && halt <= window;
        let tEnd: number;
        if (polled) {
          tEnd = tExit + 400 + halt;
        } else {
          const tOut = tExit + 600 + window;
          const tWake = tOut + halt;
          v.push(tOut, Ev.SchedOut);
          v.push(tWake, Ev.SchedWake);
          v.push(tWake + 1200 + Math.min(rng.logn(2000, 0.6), 3000), Ev.SchedIn);
          tEnd = tWake + 5000 + rng.logn(2500, 0.5);
        }
        const haltNs = Math.round(tEnd - tExit - 300);
        // grow/shrink as kvm_main.c with halt_poll_ns=200000, grow=2, grow_start=10000, shrink=0
        if (haltNs > window) {
          if (window > 0 && haltNs > HALT_POLL_MAX) { v.push(tEnd - 250, Ev.HaltPoll, 0, -window); v.pollNs = 0; }
          else if (window < HALT_POLL_MAX && haltNs < HALT_POLL_MAX) {
            let nw = window * 2;
            if (nw < HALT_POLL_GROW_START) nw = HALT_POLL_GROW_START;
            if (nw > HALT_POLL_MAX) nw = HALT_POLL_MAX;
            v.push(tEnd - 250, Ev.HaltPoll, nw, window); v.pollNs = nw;
          }
        }
        v.push(tEnd - 100, Ev.Wakeup, haltNs, polled ? 0 : 1);
        h = tEnd - tExit + 400 + rng.logn(800, 0.5);
        if (this.isa === 'svm' || rng.next() < 0.3) v.push(tEnd + 150, Ev.InjVirq, 0xec);
        lapic = rng.next() < 0.5;
        break;
      }
      default: break;
    }
    const tEntry = tExit + h;
    if (lapic) v.push(tEntry - 80, Ev.Lapic, rng.next() < 0.8 ? -rng.int(3000) - 1 : rng.int(600));
    v.push(tEntry, Ev.Entry, variant, ri);
    v.t = tEntry;
  }
}

/**
 * Write a trace of `opts.size` bytes to `file` (and return what is in it). The sidecar is not written
 * here: see writeTrace.
 */
export async function generate(opts: GenOptions, file: string): Promise<Expected> {
  const fmt = opts.format;
  const seed = opts.seed ?? 1;
  const vms = opts.vms ?? 4, perVm = opts.vcpus ?? 16;
  const isa = opts.isa ?? 'vmx';
  const model = new Model(seed, vms, perVm, isa, opts.simple === true);
  const P = pieces(fmt);
  const VT = model.vcpus.map((v) => vcpuText(fmt, v));
  const RT = model.reasons.map((r) => reasonText(fmt, r, isa));
  const NL = 10;
  const cpus = model.vcpus.length;

  const fd = fs.openSync(file, 'w');
  const CHUNK = 8 << 20;
  const out = new Out(fd, CHUNK);
  const size = opts.size;
  // per reason: seen, handled, total (us)
  const seen = new Float64Array(model.reasons.length), handled = new Float64Array(model.reasons.length), totalUs = new Float64Array(model.reasons.length);
  const evCount = new Float64Array(NEV);
  let lines = 0, firstUs = -1, lastUs = 0;

  if (fmt === 'ftrace') {
    out.put(enc([
      '# tracer: nop', '#', `# entries-in-buffer/entries-written: 0/0   #P:${cpus}`, '#',
      '#                                          _-----=> irqs-off/BH-disabled',
      '#                                         / _----=> need-resched',
      '#                                        | / _---=> hardirq/softirq',
      '#                                        || / _--=> preempt-depth',
      '#                                        ||| / _-=> migrate-disable',
      '#                                        |||| /     delay',
      '#           TASK-PID       TGID    CPU#  |||||  TIMESTAMP  FUNCTION',
      '#              | |           |       |   |||||     |         |', ''].join('\n')));
  } else if (fmt === 'trace-cmd') {
    out.put(enc(`cpus=${cpus}\n`));
  }
  if (out.pos > size) throw new Error(`size ${size} is smaller than the header`);

  const VCPU = enc('vcpu '), NS_POLL = enc('poll time '), NS_WAIT = enc('wait time '), NS_TAIL = enc(' ns, polling valid');
  const HPN = enc(': halt_poll_ns '), GROW = enc(' (grow '), SHRINK = enc(' (shrink '), CLOSE = enc(')');
  const DELTA = enc(': delta '), EARLY = enc(' (early)'), LATE = enc(' (late)');
  const IPI_DST = enc('dst '), IPI_VEC = enc(' vec '), IPI_TAIL = enc(' (Fixed|physical|de-assert|edge|dst)');
  const IRQ = enc('IRQ 0x');
  const MSRW = MSRS.map((m) => enc(m.name)), MSRR = MSRS_READ.map((m) => enc(m));
  const tc = fmt === 'trace-cmd';

  for (;;) {
    const v = model.top();
    const k = v.qk[v.qi]! as Ev, a = v.qa[v.qi]!, b = v.qb[v.qi]!;
    const us = Math.floor(v.qt[v.qi]! / 1000);
    const vt = VT[v.idx]!;
    const start = out.pos;
    out.put(vt.hdr[EV_WHO[k]!]!);
    out.put(P.flags[k]!);
    out.ts(us);
    out.put(P.tag[k]!);
    switch (k) {
      case Ev.Exit:
        if (tc) out.put(RT[a]!.exit[b]!);
        else { out.put(vt.vcpuNo); out.put(RT[a]!.exit[b]!); }
        break;
      case Ev.Entry: out.put(vt.vcpuNo); out.put(RT[b]!.entry[a]!); break;
      case Ev.Msr:
        if (a >= 0) { out.put(MSRW[a]!); out.hex(b); }
        else { const m = -1 - a; out.put(MSRR[m]!); if (m > 0) out.hex(b); }
        break;
      case Ev.Pio: out.put(PIOS[a]!); break;
      case Ev.Mmio: out.put(MMIOS[a]!); break;
      case Ev.Userspace: out.put(USERSPACE[a]!); break;
      case Ev.Wakeup: out.put(b ? NS_WAIT : NS_POLL); out.dec(a); out.put(NS_TAIL); break;
      case Ev.HaltPoll:
        out.put(VCPU); out.dec(v.id); out.put(HPN); out.dec(a);
        if (b >= 0) { out.put(GROW); out.dec(b); } else { out.put(SHRINK); out.dec(-b); }
        out.put(CLOSE);
        break;
      case Ev.Lapic: out.put(VCPU); out.dec(v.id); out.put(DELTA); out.sdec(a); out.put(a < 0 ? EARLY : LATE); break;
      case Ev.SchedOut: out.put(vt.schedOut); break;
      case Ev.SchedWake: out.put(vt.schedWake); break;
      case Ev.SchedIn: out.put(vt.schedIn); break;
      case Ev.PreemptWake: out.put(vt.preemptWake); break;
      case Ev.PreemptOut: out.put(vt.preemptOut); break;
      case Ev.PreemptBack: out.put(vt.preemptBack); break;
      case Ev.ApicIpi: out.put(IPI_DST); out.dec((v.id + 1 + a) % perVm); out.put(IPI_VEC); out.dec(b); out.put(IPI_TAIL); break;
      case Ev.InjVirq: out.put(IRQ); out.hex(a); break;
    }
    out.byte(NL);
    if (out.written + out.pos > size) { out.pos = start; break; }
    // the line is in: count it
    lines++;
    evCount[k]!++;
    if (firstUs < 0) firstUs = us;
    lastUs = us;
    if (k === Ev.Exit) {
      seen[a]!++;
      v.exitReason = a; v.exitTs = us;
    } else if (k === Ev.Entry) {
      if (v.exitReason >= 0) { handled[v.exitReason]!++; totalUs[v.exitReason]! += us - v.exitTs; }
      v.exitReason = -1;
    }
    model.advance();
    if (out.pos >= CHUNK) await out.flush();
  }
  await out.close();
  fs.closeSync(fd);

  const reasons: Record<string, ReasonTotals> = {};
  let es = 0, eh = 0, host = 0;
  model.reasons.forEach((r, i) => {
    if (seen[i]! === 0) return;
    reasons[r.name] = { exits_seen: seen[i]!, exits_handled: handled[i]!, total_ns: totalUs[i]! * 1000 };
    es += seen[i]!; eh += handled[i]!; host += totalUs[i]! * 1000;
  });
  const events: Record<string, number> = {};
  for (let e = 0; e < NEV; e++) if (evCount[e]! > 0) events[EV_NAMES[e]!] = (events[EV_NAMES[e]!] ?? 0) + evCount[e]!;
  return {
    generator: { format: fmt, isa, seed, vms, vcpus: perVm, size, simple: opts.simple === true },
    bytes: out.written, lines, first_ts_ns: firstUs * 1000, last_ts_ns: lastUs * 1000, events,
    exits_seen: es, exits_handled: eh, host_ns: host, reasons,
  };
}

/** generate() and write the sidecar FILE.expected.json beside the trace. */
export async function writeTrace(opts: GenOptions, file: string): Promise<Expected> {
  const exp = await generate(opts, file);
  fs.writeFileSync(expectedPath(file), `${JSON.stringify(exp, null, 2)}\n`);
  return exp;
}

export function expectedPath(file: string): string { return `${file}.expected.json`; }

// ---------------------------------------------------------------- command line

function usage(msg?: string): never {
  if (msg) process.stderr.write(`gen: ${msg}\n`);
  process.stderr.write('usage: node dist/bench/gen.js --format ftrace|perf|trace-cmd --size 1G --out FILE [--seed N] [--vms N] [--vcpus N] [--isa vmx|svm] [--simple]\n');
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  const o: Partial<GenOptions> & { out?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!, val = (): string => { const x = argv[++i]; if (x === undefined) usage(`${a} needs a value`); return x; };
    if (a === '--format') { const f = val(); if (!TEXT_FORMATS.includes(f as TextFormat)) usage(`unknown format "${f}"`); o.format = f as TextFormat; }
    else if (a === '--size') o.size = parseSize(val());
    else if (a === '--out' || a === '-o') o.out = val();
    else if (a === '--seed') o.seed = Number(val());
    else if (a === '--vms') o.vms = Number(val());
    else if (a === '--vcpus') o.vcpus = Number(val());
    else if (a === '--simple') o.simple = true;
    else if (a === '--isa') { const x = val(); if (x !== 'vmx' && x !== 'svm') usage(`unknown isa "${x}"`); o.isa = x; }
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument "${a}"`);
  }
  if (!o.format || !o.size || !o.out) usage('--format, --size and --out are required');
  const t0 = process.hrtime.bigint();
  const exp = await writeTrace(o as GenOptions, o.out);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stderr.write(`gen: ${o.out}: ${exp.bytes} bytes, ${exp.lines} lines, ${exp.exits_seen} exits in ${s.toFixed(2)} s (${(exp.bytes / s / 1e6).toFixed(0)} MB/s); expected totals in ${expectedPath(o.out)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv.slice(2));
