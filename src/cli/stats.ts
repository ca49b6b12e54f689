/**
 * `kvmtax stats [--pid PID,...] [--interval 1s] [--count N] [--qmp SOCKET] [--debugfs DIR] [-f table|json]`:
 * KVM's own counters as deltas over each interval, with no tracing: per VM from debugfs, per vCPU from
 * QEMU's QMP query-stats when a socket is given.
 */
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { KvmtaxError, EXIT_USAGE } from '../core/errors.js';
import { parsePids } from '../record/session.js';
import { parseInterval } from '../record/live.js';
import { sampleDebugfs, deltas, haltPollRate, Qmp, type Counters, type DeltaRow } from '../record/kvm-stats.js';

interface Args { pid?: string; interval: string; count?: number; qmp?: string; debugfs: string; format: string; top: number }

export const command = 'stats';
export const describe = 'KVM\'s own counters as deltas per interval (debugfs per VM, QMP query-stats per vCPU): no tracing';

export function builder(y: Argv): Argv<Args> {
  return y
    .option('pid', { type: 'string', describe: 'VMM process ids (comma-separated; default: every VM)' })
    .option('interval', { type: 'string', default: '1s', describe: 'sampling period (1s, 500ms)' })
    .option('count', { type: 'number', describe: 'stop after this many intervals (default: until Ctrl-C)' })
    .option('qmp', { type: 'string', describe: 'QEMU QMP socket: per-vCPU stats with query-stats (QEMU 7.1+); debugfs is then not read' })
    .option('debugfs', { type: 'string', default: '/sys/kernel/debug', describe: 'debugfs mount point' })
    .option('top', { type: 'number', default: 15, describe: 'counters shown per VM or vCPU (table)' })
    .option('format', { alias: 'f', type: 'string', choices: ['table', 'json'], default: 'table', describe: 'table, or one JSON object per interval (NDJSON)' }) as unknown as Argv<Args>;
}

const clean = (s: string): string => s.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');

function table(title: string, rows: DeltaRow[], rate: number | null, top: number): string {
  const lines = [`${title}${rate !== null ? `  halt-poll success ${(rate * 100).toFixed(1)}%` : ''}`];
  if (rows.length === 0) lines.push('  (no counter moved)');
  const w = Math.max(8, ...rows.slice(0, top).map((r) => r.name.length));
  for (const r of rows.slice(0, top)) lines.push(`  ${clean(r.name).padEnd(w)} ${String(r.delta).padStart(12)} ${String(r.per_s).padStart(12)}/s ${String(r.total).padStart(16)}`);
  if (rows.length > top) lines.push(`  ... ${rows.length - top} more (-f json for all)`);
  return lines.join('\n') + '\n';
}

export async function handler(argv: ArgumentsCamelCase<Args>): Promise<void> {
  const ms = parseInterval(argv.interval);
  if (ms === undefined) throw new KvmtaxError(`--interval "${argv.interval}": expected a duration such as 1s or 500ms`, undefined, undefined, undefined, undefined, EXIT_USAGE);
  if (argv.count !== undefined && !(Number.isInteger(argv.count) && argv.count > 0)) throw new KvmtaxError('--count must be a positive whole number', undefined, undefined, undefined, undefined, EXIT_USAGE);
  const pids = parsePids(argv.pid);
  const json = argv.format === 'json';
  const out = (s: string): void => { process.stdout.write(s); };
  const qmp = argv.qmp ? await Qmp.connect(argv.qmp) : undefined;
  let stop = false;
  const onSig = (): void => { stop = true; };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  type Sample = { key: string; title: string; stats: Counters; extra: Record<string, unknown> }[];
  const sample = async (): Promise<Sample> => {
    if (qmp) return (await qmp.vcpuStats()).map((v) => ({ key: `vcpu${v.cpu}`, title: `vCPU ${v.cpu} (thread ${v.thread ?? '?'})`, stats: v.stats, extra: { vcpu: v.cpu, thread: v.thread, qom_path: v.qom } }));
    return sampleDebugfs(argv.debugfs, pids).map((v) => ({ key: `${v.pid}-${v.fd}`, title: `VM ${v.pid} (fd ${v.fd})`, stats: v.stats, extra: { pid: v.pid, fd: v.fd } }));
  };
  try {
    let prev = await sample();
    let t = Date.now();
    for (let n = 0; !stop && (argv.count === undefined || n < argv.count); n++) {
      const until = Date.now() + ms;
      while (!stop && Date.now() < until) await new Promise((r) => setTimeout(r, Math.min(50, until - Date.now())));
      const cur = await sample();
      const now = Date.now();
      const dt = (now - t) / 1000;
      const before = new Map(prev.map((p) => [p.key, p.stats] as const));
      const items = cur.map((c) => {
        const p = before.get(c.key) ?? new Map<string, number>();
        return { ...c, rows: deltas(p, c.stats, dt), rate: haltPollRate(p, c.stats) };
      });
      if (json) {
        out(JSON.stringify({ type: 'interval', source: qmp ? 'qmp' : 'debugfs', interval_s: Math.round(dt * 1000) / 1000, items: items.map((i) => ({ ...i.extra, halt_poll_success: i.rate, deltas: Object.fromEntries(i.rows.map((r) => [r.name, r.delta])) })) }) + '\n');
      } else {
        out(`kvmtax stats (${qmp ? `QMP ${argv.qmp}` : `debugfs ${argv.debugfs}/kvm`}), ${dt.toFixed(2)} s: change, per second, total\n`);
        for (const i of items) out(table(i.title, i.rows, i.rate, argv.top));
        out('\n');
      }
      prev = cur;
      t = now;
    }
  } finally {
    process.removeListener('SIGINT', onSig);
    process.removeListener('SIGTERM', onSig);
    qmp?.close();
  }
}
