/**
 * tracefs, driven through an instance of our own (Documentation/trace/ftrace.rst, "Instances"):
 *
 *   mkdir instances/kvmtax-PID        a ring buffer of our own; the top-level buffer and others' instances
 *                                     are never touched
 *   instances/X/buffer_size_kb, trace_clock, options/record-tgid, set_event_pid + options/event-fork,
 *   instances/X/events/<sys>/<name>/enable, tracing_on
 *   instances/X/per_cpu/cpuN/trace_pipe_raw    whole ring-buffer pages (events/header_page layout)
 *   instances/X/per_cpu/cpuN/stats             entries, overrun, dropped events...
 *   saved_cmdlines, saved_tgids (global)       tid -> comm, tid -> tgid
 *   rmdir instances/X                          frees it all
 *
 * A directory that is not tracefs (statfs magic) is a replay: a directory laid out like tracefs, whose
 * per_cpu/cpuN/trace_pipe_raw files hold pages (those of a trace.dat). Its instance is a plain directory
 * we create and remove; its pages are read from the top level to their end.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KvmtaxError } from '../core/errors.js';

const TRACEFS_MAGIC = 0x74726163;
const DEBUGFS_MAGIC = 0x64626720;

/** The events kvmtax analyses: recorded by default. */
export const DEFAULT_EVENTS = [
  'kvm:kvm_exit', 'kvm:kvm_entry', 'kvm:kvm_vcpu_wakeup', 'kvm:kvm_halt_poll_ns', 'kvm:kvm_wait_lapic_expire',
  'kvm:kvm_msr', 'kvm:kvm_pio', 'kvm:kvm_mmio', 'kvm:kvm_userspace_exit', 'kvm:kvm_inj_virq', 'kvm:kvm_apic_ipi',
  'kvm:kvm_ple_window_update', 'sched:sched_switch', 'sched:sched_wakeup',
];

export function fail(msg: string, exit = 1): never {
  throw new KvmtaxError(msg, undefined, undefined, undefined, undefined, exit);
}

/** One-line message for a failed file operation on tracefs or the output. */
export function fsError(e: unknown, what: string): KvmtaxError {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOSPC': return new KvmtaxError(`no space left on device writing ${what}`);
    case 'EDQUOT': return new KvmtaxError(`disk quota exceeded writing ${what}`);
    case 'EACCES': case 'EPERM': return new KvmtaxError(`permission denied: ${what} (tracing needs root)`);
    case 'ENOENT': return new KvmtaxError(`${what}: no such file or directory`);
    default: return new KvmtaxError(`${what}: ${err.message ?? String(e)}`);
  }
}

export class Tracefs {
  private constructor(readonly root: string, readonly real: boolean) {}

  /** The tracefs at `dir`, or the first mounted one of /sys/kernel/tracing, /sys/kernel/debug/tracing. */
  static open(dir?: string): Tracefs {
    const candidates = dir ? [dir] : ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];
    for (const d of candidates) {
      let st: fs.StatsFs | undefined;
      try { st = fs.statfsSync(d); } catch { continue; }
      const real = st.type === TRACEFS_MAGIC || st.type === DEBUGFS_MAGIC;
      if (fs.existsSync(path.join(d, 'per_cpu')) && fs.existsSync(path.join(d, 'events'))) return new Tracefs(d, real);
      if (dir) fail(`no tracefs at ${d} (no per_cpu/ and events/ there)`);
    }
    if (dir) fail(`no tracefs at ${dir}: no such directory`);
    fail('no tracefs: mount it with "mount -t tracefs nodev /sys/kernel/tracing" (or give --tracefs DIR)');
  }

  p(...rel: string[]): string { return path.join(this.root, ...rel); }

  read(rel: string): string {
    try { return fs.readFileSync(this.p(rel), 'utf8'); } catch (e) { throw fsError(e, this.p(rel)); }
  }

  readOpt(rel: string): string | undefined {
    try { return fs.readFileSync(this.p(rel), 'utf8'); } catch { return undefined; }
  }

  /** CPUs with a per_cpu folder, in order. */
  cpus(): number[] {
    return fs.readdirSync(this.p('per_cpu')).map((n) => /^cpu(\d+)$/.exec(n)).filter((m) => m).map((m) => Number(m![1])).sort((a, b) => a - b);
  }

  /** Ring-buffer page (sub-buffer) size in bytes. */
  pageSize(): number {
    const kb = Number(this.readOpt('buffer_subbuf_size_kb')?.trim());
    return kb > 0 ? kb * 1024 : 4096;
  }

  /** Resolve "sys:name", "sys/name" or "name" to [sys, name]; undefined when the kernel lacks it. */
  resolveEvent(spec: string): [string, string] | undefined {
    const m = /^([^:/]+)[:/]([^:/]+)$/.exec(spec);
    if (m) return fs.existsSync(this.p('events', m[1]!, m[2]!, 'format')) ? [m[1]!, m[2]!] : undefined;
    let systems: string[] = [];
    try { systems = fs.readdirSync(this.p('events')); } catch { /* none */ }
    for (const s of systems) if (fs.existsSync(this.p('events', s, spec, 'format'))) return [s, spec];
    return undefined;
  }

  /** The names of the instances now present (to check that we leave tracefs as we found it). */
  instances(): string[] {
    try { return fs.readdirSync(this.p('instances')).sort(); } catch { return []; }
  }
}

/** Reads whole pages from one CPU's trace_pipe_raw without blocking. */
export class CpuReader {
  private fd: number;
  /** a replay file has been read to its end */
  done = false;
  pages = 0;

  constructor(readonly cpu: number, readonly file: string, private readonly pageSize: number, private readonly replay: boolean) {
    try {
      this.fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (e) {
      throw fsError(e, file);
    }
  }

  /** Up to `max` pages now available (none when the buffer is empty for now). */
  read(max = Infinity): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (out.length < max && !this.done) {
      const b = Buffer.alloc(this.pageSize);
      let n: number;
      try {
        n = fs.readSync(this.fd, b, 0, this.pageSize, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR') break;
        throw fsError(e, this.file);
      }
      if (n === 0) {
        // a replay ends here; tracefs gives 0 only when its buffer is empty
        if (this.replay) this.done = true;
        break;
      }
      out.push(n === this.pageSize ? b : Uint8Array.prototype.slice.call(Buffer.concat([b.subarray(0, n), Buffer.alloc(this.pageSize - n)])));
      this.pages++;
    }
    return out;
  }

  close(): void {
    if (this.fd >= 0) { try { fs.closeSync(this.fd); } catch { /* closed */ } this.fd = -1; }
  }
}

export interface InstanceOptions {
  events: string[];
  /** thread ids to follow (set_event_pid, with event-fork) */
  pids?: number[];
  bufferKb?: number;
  clock?: string;
  /** called for each event the kernel lacks */
  onMissing?: (spec: string) => void;
  /** false: check the events exist but do not enable them (hist triggers attach to them instead) */
  enable?: boolean;
}

/**
 * Our own instance. Created by create(), gone after destroy(), which also runs on process exit if the
 * caller forgot (or crashed): tracefs is left as it was found.
 */
export class Instance {
  readonly dir: string;
  readonly events: [string, string][] = [];
  readonly missing: string[] = [];
  readers: CpuReader[] = [];
  private alive = true;
  private readonly exitHook = (): void => this.destroy();

  private constructor(readonly tfs: Tracefs, readonly name: string) {
    this.dir = tfs.p('instances', name);
    process.on('exit', this.exitHook);
  }

  static create(tfs: Tracefs, opts: InstanceOptions, name = `kvmtax-${process.pid}`): Instance {
    if (tfs.real && typeof process.getuid === 'function' && process.getuid() !== 0) {
      fail(`not root: recording with tracefs (${tfs.root}) needs root`);
    }
    const events: [string, string][] = [];
    const missing: string[] = [];
    for (const spec of opts.events) {
      const r = tfs.resolveEvent(spec);
      if (r) { if (!events.some((e) => e[0] === r[0] && e[1] === r[1])) events.push(r); } else { missing.push(spec); opts.onMissing?.(spec); }
    }
    if (events.length === 0) fail(`event missing: the kernel has none of ${opts.events.join(', ')}`);
    if (!fs.existsSync(tfs.p('instances'))) fail(`${tfs.root} has no instances/ folder: this kernel cannot give kvmtax a buffer of its own`);
    try {
      fs.mkdirSync(tfs.p('instances', name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') fail(`instance ${name} already exists in ${tfs.root}: not ours, left alone`);
      throw fsError(e, tfs.p('instances', name));
    }
    const inst = new Instance(tfs, name);
    try {
      inst.events.push(...events);
      inst.missing.push(...missing);
      inst.set('tracing_on', '0');
      if (opts.bufferKb) inst.set('buffer_size_kb', String(opts.bufferKb));
      if (opts.clock) {
        const avail = tfs.readOpt('trace_clock') ?? '';
        if (tfs.real && !avail.split(/[\s[\]]+/).includes(opts.clock)) fail(`unknown clock "${opts.clock}" (this kernel has: ${avail.replace(/[[\]]/g, '').trim()})`, 2);
        inst.set('trace_clock', opts.clock);
      }
      inst.set('options/record-tgid', '1');
      if (opts.pids?.length) {
        inst.set('options/event-fork', '1');
        inst.set('set_event_pid', opts.pids.join(' '));
      }
      if (opts.enable !== false) for (const [s, n] of events) inst.set(`events/${s}/${n}/enable`, '1');
    } catch (e) {
      inst.destroy();
      throw e;
    }
    return inst;
  }

  /** Write a setting of the instance (in a replay: a plain file in our own directory). */
  set(rel: string, value: string): void {
    const f = path.join(this.dir, rel);
    try {
      if (!this.tfs.real) fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, value + '\n');
    } catch (e) {
      throw fsError(e, f);
    }
  }

  /** The clock in use: the bracketed name in trace_clock. */
  clock(): string {
    const t = this.tfs.real ? fs.readFileSync(path.join(this.dir, 'trace_clock'), 'utf8') : (this.tfs.readOpt('trace_clock') ?? '[local]');
    return /\[([^\]]+)\]/.exec(t)?.[1] ?? t.trim().split(/\s+/)[0] ?? 'local';
  }

  /** Where pages come from: our instance's trace_pipe_raw, or a replay's. */
  private cpuDir(cpu: number): string {
    return this.tfs.real ? path.join(this.dir, 'per_cpu', `cpu${cpu}`) : this.tfs.p('per_cpu', `cpu${cpu}`);
  }

  openReaders(): CpuReader[] {
    const ps = this.tfs.pageSize();
    this.readers = this.tfs.cpus().map((c) => new CpuReader(c, path.join(this.cpuDir(c), 'trace_pipe_raw'), ps, !this.tfs.real));
    return this.readers;
  }

  start(): void { this.set('tracing_on', '1'); }
  stop(): void { if (this.alive) this.set('tracing_on', '0'); }

  /** per_cpu/cpuN/stats text of each CPU */
  stats(): Map<number, string> {
    const m = new Map<number, string>();
    for (const c of this.tfs.cpus()) {
      try { m.set(c, fs.readFileSync(path.join(this.cpuDir(c), 'stats'), 'utf8')); } catch { /* absent in a replay */ }
    }
    return m;
  }

  /** header_page, header_event and the formats of the enabled events (and ftrace's print, for markers) */
  formats(): { headerPage: string; headerEvent: string; formats: { system: string; text: string }[] } {
    const formats: { system: string; text: string }[] = [];
    const print = this.tfs.readOpt('events/ftrace/print/format');
    if (print) formats.push({ system: 'ftrace', text: print });
    for (const [s, n] of this.events) formats.push({ system: s, text: this.tfs.read(`events/${s}/${n}/format`) });
    return { headerPage: this.tfs.read('events/header_page'), headerEvent: this.tfs.read('events/header_event'), formats };
  }

  /** Stop, disable our events, close the readers and remove the instance. Safe to call twice. */
  destroy(): void {
    if (!this.alive) return;
    this.alive = false;
    process.removeListener('exit', this.exitHook);
    for (const r of this.readers) r.close();
    if (this.tfs.real) {
      const quiet = (rel: string, v: string): void => { try { fs.writeFileSync(path.join(this.dir, rel), v + '\n'); } catch { /* best effort */ } };
      quiet('tracing_on', '0');
      for (const [s, n] of this.events) quiet(`events/${s}/${n}/enable`, '0');
      for (let i = 0; i < 50; i++) {
        try { fs.rmdirSync(this.dir); break; } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          if (code !== 'EBUSY' || i === 49) { process.stderr.write(`kvmtax: could not remove ${this.dir}: ${(e as Error).message}\n`); break; }
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
        }
      }
    } else {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** Sum of the lost-event counters in per_cpu/cpuN/stats texts: overrun + dropped events. */
export function lostOf(stats: Map<number, string>): { overrun: number; dropped: number; perCpu: Map<number, { overrun: number; dropped: number }> } {
  let overrun = 0, dropped = 0;
  const perCpu = new Map<number, { overrun: number; dropped: number }>();
  for (const [c, t] of stats) {
    const o = Number(/^overrun:\s*(\d+)/m.exec(t)?.[1] ?? 0);
    const d = Number(/^dropped events:\s*(\d+)/m.exec(t)?.[1] ?? 0);
    overrun += o; dropped += d;
    perCpu.set(c, { overrun: o, dropped: d });
  }
  return { overrun, dropped, perCpu };
}
