/**
 * KVM's own counters, at no tracing cost (Documentation/virt/kvm/api.rst "KVM_GET_STATS_FD", and the
 * debugfs view of the same statistics):
 *
 *   debugfs   /sys/kernel/debug/kvm/<pid>-<fd>/<stat>   one VM's statistics, summed over its vCPUs (the
 *             vcpuN/ folders hold only a few arch files); /sys/kernel/debug/kvm/<stat> sums all VMs.
 *   QMP       query-stats {target: "vcpu"}               per vCPU (QEMU 7.1+), the VMM reading KVM's
 *             per-vCPU stats file descriptor; query-cpus-fast maps qom-path to cpu-index and thread-id.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { KvmtaxError } from '../core/errors.js';

export type Counters = Map<string, number>;

export interface VmSample { pid: number; fd: number; dir: string; stats: Counters }

/** The VMs' statistics under debugfs (default /sys/kernel/debug); one-line errors when unavailable. */
export function sampleDebugfs(debugfs: string, pids?: number[]): VmSample[] {
  const kvm = path.join(debugfs, 'kvm');
  let names: string[];
  try {
    names = fs.readdirSync(kvm);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EPERM' || code === 'EACCES') {
      throw new KvmtaxError(`${kvm}: permission denied (debugfs needs root, and kernel lockdown blocks it: "cat /sys/kernel/security/lockdown"); give --qmp SOCKET to read the stats through QEMU`);
    }
    if (!fs.existsSync(debugfs) || fs.readdirSync(debugfs).length === 0) {
      throw new KvmtaxError(`debugfs is not mounted at ${debugfs} (mount -t debugfs none ${debugfs}), or give --qmp SOCKET`);
    }
    throw new KvmtaxError(`${kvm}: no such folder (is the kvm module loaded?)`);
  }
  const out: VmSample[] = [];
  for (const n of names.sort()) {
    const m = /^(\d+)-(\d+)$/.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pids && !pids.includes(pid)) continue;
    const dir = path.join(kvm, n);
    const stats: Counters = new Map();
    let files: string[] = [];
    try { files = fs.readdirSync(dir); } catch { continue; } // the VM went away
    for (const f of files.sort()) {
      let t: string;
      try {
        if (!fs.statSync(path.join(dir, f)).isFile()) continue;
        t = fs.readFileSync(path.join(dir, f), 'utf8').trim();
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPERM' || code === 'EACCES') throw new KvmtaxError(`${path.join(dir, f)}: permission denied (kernel lockdown blocks debugfs reads?); give --qmp SOCKET`);
        continue;
      }
      if (/^-?\d+$/.test(t)) stats.set(f, Number(t));
    }
    out.push({ pid, fd: Number(m[2]), dir, stats });
  }
  if (out.length === 0) {
    throw new KvmtaxError(pids ? `no VM of process ${pids.join(',')} in ${kvm}` : `no VM is running (${kvm} has no <pid>-<fd> folders)`);
  }
  return out;
}

export interface DeltaRow { name: string; delta: number; per_s: number; total: number }

/** The counters that moved between two samples, largest change first. */
export function deltas(prev: Counters, cur: Counters, dtS: number): DeltaRow[] {
  const rows: DeltaRow[] = [];
  for (const [name, v] of cur) {
    const d = v - (prev.get(name) ?? 0);
    if (d !== 0) rows.push({ name, delta: d, per_s: dtS > 0 ? Math.round((d / dtS) * 10) / 10 : 0, total: v });
  }
  return rows.sort((a, b) => b.delta - a.delta || (a.name < b.name ? -1 : 1));
}

/** halt_successful_poll / halt_attempted_poll over the interval */
export function haltPollRate(prev: Counters, cur: Counters): number | null {
  const a = (cur.get('halt_attempted_poll') ?? 0) - (prev.get('halt_attempted_poll') ?? 0);
  const s = (cur.get('halt_successful_poll') ?? 0) - (prev.get('halt_successful_poll') ?? 0);
  return a > 0 ? Math.round((s / a) * 1000) / 1000 : null;
}

// ---------------------------------------------------------------------------------------------------------
// QMP

export interface VcpuSample { cpu: number; qom: string; thread: number | null; stats: Counters }

/** A QMP connection: greeting, qmp_capabilities, then one command at a time. */
export class Qmp {
  private buf = '';
  private waiters: ((msg: Record<string, unknown>) => void)[] = [];
  private queue: Record<string, unknown>[] = [];

  private constructor(private readonly sock: net.Socket, readonly path: string) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, i).trim();
        this.buf = this.buf.slice(i + 1);
        if (!line) continue;
        let msg: Record<string, unknown>;
        try { msg = JSON.parse(line) as Record<string, unknown>; } catch { continue; }
        if ('event' in msg) continue; // asynchronous events are not answers
        const w = this.waiters.shift();
        if (w) w(msg); else this.queue.push(msg);
      }
    });
  }

  static async connect(p: string, timeoutMs = 5000): Promise<Qmp> {
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.createConnection(p);
      s.once('connect', () => resolve(s));
      s.once('error', (e: NodeJS.ErrnoException) => reject(new KvmtaxError(`--qmp ${p}: ${e.code === 'ENOENT' ? 'no such socket' : e.code === 'ECONNREFUSED' ? 'nothing listens there' : e.message}`)));
    });
    const q = new Qmp(sock, p);
    const hello = await q.next(timeoutMs);
    if (!('QMP' in hello)) { sock.destroy(); throw new KvmtaxError(`--qmp ${p}: not a QMP socket (no greeting)`); }
    await q.execute('qmp_capabilities', undefined, timeoutMs);
    return q;
  }

  private next(timeoutMs: number): Promise<Record<string, unknown>> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new KvmtaxError(`--qmp ${this.path}: no answer within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((msg) => { clearTimeout(t); resolve(msg); });
    });
  }

  async execute(cmd: string, args?: Record<string, unknown>, timeoutMs = 5000): Promise<unknown> {
    this.sock.write(JSON.stringify(args ? { execute: cmd, arguments: args } : { execute: cmd }) + '\n');
    const r = await this.next(timeoutMs);
    if ('error' in r) {
      const e = r.error as { class?: string; desc?: string };
      throw new KvmtaxError(`--qmp ${this.path}: ${cmd}: ${e.desc ?? e.class ?? 'error'}${cmd === 'query-stats' ? ' (query-stats needs QEMU 7.1 or later)' : ''}`);
    }
    return r.return;
  }

  /** per-vCPU KVM statistics: query-stats target vcpu, named by query-cpus-fast */
  async vcpuStats(): Promise<VcpuSample[]> {
    const cpus = (await this.execute('query-cpus-fast')) as { 'cpu-index': number; 'qom-path': string; 'thread-id'?: number }[];
    const byQom = new Map(cpus.map((c) => [c['qom-path'], c] as const));
    const res = (await this.execute('query-stats', { target: 'vcpu' })) as { provider: string; 'qom-path'?: string; stats: { name: string; value: unknown }[] }[];
    const out: VcpuSample[] = [];
    for (const r of res) {
      if (r.provider !== 'kvm') continue;
      const qom = r['qom-path'] ?? '';
      const c = byQom.get(qom);
      const stats: Counters = new Map();
      for (const s of r.stats) if (typeof s.value === 'number') stats.set(s.name, s.value);
      out.push({ cpu: c ? c['cpu-index'] : out.length, qom, thread: c?.['thread-id'] ?? null, stats });
    }
    return out.sort((a, b) => a.cpu - b.cpu);
  }

  close(): void { this.sock.destroy(); }
}
