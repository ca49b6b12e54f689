/**
 * One recording session: our tracefs instance, its per-CPU page readers polled without blocking, and
 * what to do with the pages (spool them for a trace.dat, or hand them to live analysis). Ends when the
 * command exits, the duration is up, a signal comes (SIGINT, SIGTERM, SIGHUP), or a replay runs dry;
 * tracefs is restored in every case.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { Tracefs, Instance, fail, fsError, type CpuReader } from './tracefs.js';
import { KvmtaxError, EXIT_USAGE } from '../core/errors.js';

export interface SessionOptions {
  tracefs?: string;
  events: string[];
  pids?: number[];
  bufferKb?: number;
  clock?: string;
  durationS?: number;
  command?: string[];
  /** poll period (ms) */
  pollMs?: number;
  /** replay: pages per CPU per poll (default: all) */
  replayPagesPerPoll?: number;
  /** called after each poll with the pages read, by CPU, and the CPUs that will give no more (a replay's end) */
  onPages: (pages: Map<number, Uint8Array[]>, exhausted: Set<number>) => void;
  /** called with the pid of COMMAND once it runs */
  onChild?: (pid: number) => void;
  /** called once the instance is set up, before tracing starts */
  onStart?: (inst: Instance) => void;
  /** called at the end, before the instance is removed (also on errors) */
  onStop?: () => void;
  /** no page readers and no events enabled (in-kernel aggregation) */
  noPages?: boolean;
  /**
   * flight recorder: the instance overwrites its oldest pages and nothing reads them while it runs; on
   * SIGUSR1 (and at the end) tracing pauses, the whole buffer is read (onPages), onSnapshot is called and
   * tracing resumes
   */
  flight?: boolean;
  onSnapshot?: (final: boolean) => void;
  /** --flight: asked after each tick; true snapshots as SIGUSR1 does (a --trip condition held) */
  trip?: () => boolean;
  /** called every tickMs with the time since start (live screens) */
  tickMs?: number;
  onTick?: (elapsedMs: number) => void;
  /** stdin keys (live): return true to stop */
  onKey?: (key: string) => boolean;
  log?: (line: string) => void;
}

export interface SessionResult {
  tfs: Tracefs;
  events: [string, string][];
  missing: string[];
  clock: string;
  pageSize: number;
  headerPage: string;
  headerEvent: string;
  formats: { system: string; text: string }[];
  cmdlines: string;
  tgids: string;
  stats: Map<number, string>;
  cpus: number[];
  stoppedBy: string;
  childStatus?: number | string;
  elapsedMs: number;
}

/** Thread ids of the given processes (/proc/PID/task), for set_event_pid. */
export function threadsOf(pids: number[], proc = '/proc'): number[] {
  const out: number[] = [];
  for (const pid of pids) {
    let tasks: string[];
    try { tasks = fs.readdirSync(path.join(proc, String(pid), 'task')); } catch { fail(`--pid ${pid}: no such process`); }
    for (const t of tasks) if (/^\d+$/.test(t)) out.push(Number(t));
  }
  return [...new Set(out)].sort((a, b) => a - b);
}

export function parsePids(v: unknown): number[] | undefined {
  if (v === undefined) return undefined;
  const list = (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(',')).map((x) => x.trim()).filter(Boolean);
  const out = list.map((x) => {
    if (!/^\d+$/.test(x)) throw new KvmtaxError(`--pid: "${x}" is not a process id`, undefined, undefined, undefined, undefined, EXIT_USAGE);
    return Number(x);
  });
  if (!out.length) throw new KvmtaxError('--pid needs process ids (PID,PID...)', undefined, undefined, undefined, undefined, EXIT_USAGE);
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Run a session to its end. Throws KvmtaxError with a one-line message; tracefs is restored either way. */
export async function runSession(o: SessionOptions): Promise<SessionResult> {
  const tfs = Tracefs.open(o.tracefs);
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const tids = o.pids ? threadsOf(o.pids) : undefined;
  const inst = Instance.create(tfs, {
    events: o.events, pids: tids, bufferKb: o.bufferKb, clock: o.clock, enable: !o.noPages,
    onMissing: (e) => log(`kvmtax: event missing: ${e} (this kernel has no such tracepoint), skipped`),
  });
  let stoppedBy = '';
  const stop = (why: string): void => { if (!stoppedBy) stoppedBy = why; };
  const onSig = (sig: NodeJS.Signals): void => stop(sig);
  const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const cleanups: (() => void)[] = [];
  for (const s of sigs) process.on(s, onSig);
  let child: ChildProcess | undefined;
  let childStatus: number | string | undefined;
  let stdinRaw = false;
  const onData = (d: Buffer): void => {
    const k = d.toString('utf8');
    if (k === '\u0003') stop('SIGINT');
    else if (o.onKey?.(k)) stop('key');
  };
  const t0 = Date.now();
  try {
    let readers = o.noPages || o.flight ? [] : inst.openReaders();
    let snapshot = false;
    const onUsr1 = (): void => { snapshot = true; };
    if (o.flight) {
      inst.set('options/overwrite', '1');
      process.on('SIGUSR1', onUsr1);
      cleanups.push(() => process.removeListener('SIGUSR1', onUsr1));
    }
    /** pause, read the whole buffer, hand it over, resume */
    const takeSnapshot = (final: boolean): void => {
      inst.stop();
      readers = inst.openReaders();
      for (let i = 0; i < 100000 && poll(Infinity); i++) { /* drain */ }
      o.onSnapshot?.(final);
      if (!final) {
        for (const r of readers) r.close();
        readers = [];
        inst.readers = [];
        inst.start();
      }
    };
    const pollMs = o.pollMs ?? 100;
    const poll = (max: number): boolean => {
      const got = new Map<number, Uint8Array[]>();
      let any = false;
      for (const r of readers) {
        const pages = r.read(max);
        if (pages.length) { got.set(r.cpu, pages); any = true; }
      }
      if (any) o.onPages(got, new Set(readers.filter((r) => r.done).map((r) => r.cpu)));
      return any;
    };
    o.onStart?.(inst);
    inst.start();
    if (o.command?.length) {
      child = spawn(o.command[0]!, o.command.slice(1), { stdio: 'inherit' });
      await new Promise<void>((resolve, reject) => {
        child!.once('spawn', () => resolve());
        child!.once('error', (e) => reject(new KvmtaxError(`cannot run ${o.command![0]}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such command' : e.message}`)));
      });
      child.once('exit', (code, sig) => { childStatus = code ?? sig ?? undefined; stop('command'); });
      if (child.pid !== undefined) o.onChild?.(child.pid);
    }
    if (o.onKey && process.stdin.isTTY) {
      process.stdin.setRawMode(true);
      stdinRaw = true;
      process.stdin.on('data', onData);
      process.stdin.resume();
    }
    let lastTick = t0;
    const replayMax = o.replayPagesPerPoll ?? Infinity;
    for (;;) {
      poll(tfs.real ? Infinity : replayMax);
      const now = Date.now();
      if (o.durationS !== undefined && now - t0 >= o.durationS * 1000) stop('duration');
      if (!tfs.real && !o.command?.length && !o.noPages && readers.every((r) => r.done)) stop('end of replay');
      if (o.onTick && o.tickMs && now - lastTick >= o.tickMs) {
        lastTick = now;
        o.onTick(now - t0);
        if (o.flight && o.trip?.()) snapshot = true;
      }
      if (snapshot && !stoppedBy) { snapshot = false; takeSnapshot(false); }
      if (stoppedBy) break;
      await sleep(pollMs);
    }
    if (o.flight) {
      takeSnapshot(true);
    } else {
      inst.stop();
      // what the buffer still holds
      for (let i = 0; i < 10000 && poll(Infinity); i++) { /* drain */ }
    }
    if (child && childStatus === undefined) {
      child.kill('SIGTERM');
      await Promise.race([new Promise((r) => child!.once('exit', r)), sleep(2000)]);
    }
    const f = inst.formats();
    const res: SessionResult = {
      tfs, events: inst.events, missing: inst.missing, clock: inst.clock(), pageSize: tfs.pageSize(),
      ...f, cmdlines: tfs.readOpt('saved_cmdlines') ?? '', tgids: tfs.readOpt('saved_tgids') ?? '',
      stats: inst.stats(), cpus: tfs.cpus(), stoppedBy, childStatus, elapsedMs: Date.now() - t0,
    };
    return res;
  } finally {
    for (const s of sigs) process.removeListener(s, onSig);
    for (const c of cleanups) c();
    if (stdinRaw) { process.stdin.setRawMode(false); process.stdin.removeListener('data', onData); process.stdin.pause(); }
    try { o.onStop?.(); } finally { inst.destroy(); }
  }
}

/** Per-CPU spool files of whole pages, beside the output (same file system), removed when done. */
export class Spool {
  readonly dir: string;
  private fds = new Map<number, number>();
  private seen = new Set<number>();
  pages = 0;

  constructor(near: string) {
    try {
      this.dir = fs.mkdtempSync(path.join(path.dirname(path.resolve(near)) || os.tmpdir(), `.kvmtax-spool-`));
    } catch (e) {
      throw fsError(e, path.dirname(path.resolve(near)));
    }
  }

  file(cpu: number): string { return path.join(this.dir, `cpu${cpu}`); }

  add(pages: Map<number, Uint8Array[]>): void {
    for (const [cpu, list] of pages) {
      let fd = this.fds.get(cpu);
      if (fd === undefined) {
        try { fd = fs.openSync(this.file(cpu), 'a'); } catch (e) { throw fsError(e, this.file(cpu)); }
        this.fds.set(cpu, fd);
        this.seen.add(cpu);
      }
      for (const p of list) {
        try {
          fs.writeSync(fd, p);
        } catch (e) {
          throw fsError(e, this.file(cpu));
        }
        this.pages++;
      }
    }
  }

  cpus(): number[] { return [...this.seen].sort((a, b) => a - b); }

  close(): void {
    for (const fd of this.fds.values()) { try { fs.closeSync(fd); } catch { /* closed */ } }
    this.fds.clear();
  }

  remove(): void {
    this.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
