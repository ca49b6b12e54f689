/**
 * `kvmtax live [-e EVENTS] [--pid PID,...] [--interval 1s] [--top N] [-f table|json] [--tracefs DIR]
 *  [--duration S] [-- COMMAND ...]`: watch a host as it runs.
 */
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { KvmtaxError, EXIT_USAGE } from '../core/errors.js';
import { parsePids } from '../record/session.js';
import fs from 'node:fs';
import { runLive, runInKernelLive, parseInterval } from '../record/live.js';
import { KVM_PAIR, SCHED_PAIR } from '../record/in-kernel.js';
import { eventList } from './record.js';
import { trailing } from './trailing.js';
import { render } from '../report/render.js';
import { version } from '../pipeline/analyze.js';

interface Args {
  event?: string | string[];
  pid?: string | string[];
  interval: string;
  top: number;
  format: string;
  duration?: number;
  tracefs?: string;
  bufferKb?: number;
  clock?: string;
  replayPages?: number;
  inKernel: boolean;
  pair: string;
}

export const command = 'live';
export const describe = 'watch KVM exits live (tracefs): a screen or NDJSON per interval, the full report at the end';

export function builder(y: Argv): Argv<Args> {
  return y
    .option('event', { alias: 'e', type: 'string', describe: 'events (sys:name or name, comma-separated; default: those kvmtax analyses)' })
    .option('pid', { type: 'string', describe: 'VMM process ids (comma-separated): only their threads' })
    .option('interval', { type: 'string', default: '1s', describe: 'refresh period (1s, 500ms)' })
    .option('top', { type: 'number', default: 10, describe: 'rows per table' })
    .option('format', { alias: 'f', type: 'string', choices: ['table', 'json'], default: 'table', describe: 'table: a screen refreshed each interval (keys: s sort, q quit); json: one JSON object per interval (NDJSON), then the report' })
    .option('duration', { type: 'number', describe: 'stop after this many seconds' })
    .option('tracefs', { type: 'string', describe: 'tracefs mount point (default /sys/kernel/tracing); a directory laid out like tracefs replays its pages' })
    .option('buffer-kb', { type: 'number', describe: 'ring-buffer size per CPU in KiB' })
    .option('clock', { type: 'string', describe: 'trace clock' })
    .option('in-kernel', { type: 'boolean', default: false, describe: 'aggregate in the kernel: hist triggers and a synthetic event give log2 histograms of kvm_exit -> kvm_entry per pid and reason; no event is copied out' })
    .option('pair', { type: 'string', choices: ['kvm', 'sched'], default: 'kvm', hidden: true, describe: '--in-kernel: kvm (kvm_exit -> kvm_entry) or sched (sched_waking -> sched_switch, for testing)' })
    .option('replay-pages', { type: 'number', hidden: true, describe: 'replay: pages per CPU per poll' }) as unknown as Argv<Args>;
}

export async function handler(argv: ArgumentsCamelCase<Args>): Promise<void> {
  const extra = (argv._ ?? []).slice(1);
  if (extra.length) throw new KvmtaxError(`unexpected argument "${String(extra[0])}" (a command to run goes after --)`, undefined, undefined, undefined, undefined, EXIT_USAGE);
  const intervalMs = parseInterval(argv.interval);
  if (intervalMs === undefined) throw new KvmtaxError(`--interval "${argv.interval}": expected a duration such as 1s or 500ms`, undefined, undefined, undefined, undefined, EXIT_USAGE);
  if (!(Number.isInteger(argv.top) && argv.top > 0)) throw new KvmtaxError('--top must be a positive whole number', undefined, undefined, undefined, undefined, EXIT_USAGE);
  const format = argv.format === 'json' ? 'json' : 'table';
  const write = (s: string): void => { process.stdout.write(s); };
  const log = (s: string): void => { process.stderr.write(s + '\n'); };
  if (argv.inKernel) {
    const k = await runInKernelLive({
      tracefs: argv.tracefs, events: [], pids: parsePids(argv.pid), intervalMs, top: argv.top, format, durationS: argv.duration,
      command: trailing.command, clock: argv.clock, version: version(), write, log,
      pair: argv.pair === 'sched' ? SCHED_PAIR : KVM_PAIR, isa: fs.existsSync('/sys/module/kvm_amd') ? 2 : 1,
    });
    const cost = { wall_s: Math.round(k.wallS * 1000) / 1000, cpu_s: Math.round(k.cpuS * 1000) / 1000 };
    if (format === 'json') write(JSON.stringify({ type: 'in-kernel', bucket_unit: k.unit, hits: k.hits, dropped: k.dropped, rows: k.rows, cost }) + '\n');
    else {
      write(`kvmtax live --in-kernel: ${k.hits} pairs${k.dropped ? `, ${k.dropped} dropped (histogram full)` : ''}; per pid and reason (log2 buckets, ${k.unit}):\n`);
      for (const r of k.rows) write(`  ${r.pid} ${r.reason ?? '-'}: ${r.count}  ${Object.entries(r.buckets).map(([b, n]) => `${b}:${n}`).join(' ')}\n`);
      write(`kvmtax live: kvmtax's own CPU time ${cost.cpu_s} s in ${cost.wall_s} s\n`);
    }
    return;
  }
  const r = await runLive({
    tracefs: argv.tracefs, events: eventList(argv.event), pids: parsePids(argv.pid), intervalMs, top: argv.top, format,
    durationS: argv.duration, command: trailing.command, replayPages: argv.replayPages, bufferKb: argv.bufferKb, clock: argv.clock,
    version: version(), write, log,
  });
  const cost = {
    events: r.events, wall_s: Math.round(r.wallS * 1000) / 1000, cpu_s: Math.round(r.cpuS * 1000) / 1000,
    cpu_s_per_million_events: r.events ? Math.round((r.cpuS / (r.events / 1e6)) * 1000) / 1000 : null,
    share_of_one_cpu: r.wallS > 0 ? Math.round((r.cpuS / r.wallS) * 1000) / 1000 : null,
  };
  if (format === 'json') {
    write(JSON.stringify({ type: 'report', report: r.report, cost }) + '\n');
  } else {
    write('\n' + render(r.report, 'table', { by: [] }));
    write(`\nkvmtax live: ${cost.events} events in ${cost.wall_s} s; kvmtax's own CPU time ${cost.cpu_s} s = ${cost.cpu_s_per_million_events ?? '-'} s per million events, ${cost.share_of_one_cpu === null ? '-' : (cost.share_of_one_cpu * 100).toFixed(1) + '%'} of one CPU\n`);
  }
}
