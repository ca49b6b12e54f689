/**
 * `kvmtax export TRACE... --perfetto FILE`: the analysis' rows (every handled exit, halt and lapic event)
 * written out for other tools. One option per exporter; at least one must be given.
 *
 *   --perfetto FILE   a Perfetto trace (src/export/perfetto.ts) for ui.perfetto.dev
 *   --parquet DIR|FILE  Parquet (src/export/parquet.ts): a directory gets exits, halts and lapic tables
 *   --arrow DIR|FILE    the same tables as Arrow IPC files
 *
 * Exit codes as `kvmtax report`: 0 written, 1 bad input, 2 usage error, 70 internal error.
 */
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { withInputOptions, inputOptions } from './input-options.js';
import { KvmtaxError } from '../core/errors.js';
import { exportPerfetto, partialName, DEFAULT_BUCKET_NS, type TimeWindow } from '../export/perfetto.js';
import { parseWindow } from './window.js';
import type { AnalyzeOptions } from '../pipeline/analyze.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { STDIN } from '../formats/source.js';
import { registerScratch, releaseScratch, target, writeError, writeStdout, type Target } from '../core/output.js';


interface Args {
  traces: string[];
  perfetto?: string;
  window?: string;
  bucketMs: number;
  inputFormat?: string;
  strict: boolean;
  tscKhz?: number;
  isa?: string;
  buffer?: string;
  quiet: boolean;
  parquet?: string;
  arrow?: string;
  host?: string;
}

export const command = 'export <traces..>';
export const describe = 'write every handled exit, halt and lapic event out for other tools (--perfetto: a timeline for ui.perfetto.dev)';

export function builder(y: Argv): Argv<Args> {
  return withInputOptions(y, '; required for such captures')
    .positional('traces', { type: 'string', array: true, describe: 'trace files (as for report); several go into one output with their VMs kept apart' })
    .option('perfetto', { type: 'string', describe: 'write a Perfetto trace (.pftrace) to this file (- for stdout): per VM a process, per vCPU a thread with guest / exit / halt slices, exits/s and halt-poll window counters' })
    .option('parquet', { type: 'string', describe: 'write the rows as Parquet: a DIR gets exits.parquet, halts.parquet and lapic.parquet; a FILE.parquet the exits (schema: kvmtax sql --schema)' })
    .option('arrow', { type: 'string', describe: 'the same as --parquet, as Arrow IPC files (.arrow)' })
    .option('host', { type: 'string', describe: 'the host column of Parquet/Arrow rows (default: this machine\'s hostname)' })
    .option('window', { type: 'string', describe: 'export only START,END of the trace clock: seconds as the trace prints them (7.3,7.5) or with a unit s|ms|us|ns (7300ms,7500000000ns); either side may be empty' })
    .option('bucket-ms', { type: 'number', default: DEFAULT_BUCKET_NS / 1e6, describe: 'width of the exits/s counter buckets (ms)' })
    .option('buffer', { type: 'string', describe: 'trace.dat: the buffer (instance) to read' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'do not print what was written' }) as unknown as Argv<Args>;
}

const usage = (msg: string) => KvmtaxError.usage(msg);

export async function handler(argv: ArgumentsCamelCase<Args>): Promise<void> {
  if (argv.perfetto === undefined && argv.parquet === undefined && argv.arrow === undefined) throw usage('name what to export: --perfetto FILE, --parquet DIR|FILE or --arrow DIR|FILE');
  if (argv.parquet === '' || argv.arrow === '') throw usage('--parquet/--arrow: name the DIR or FILE to write');
  if (argv.perfetto === '') throw usage('--perfetto: name the FILE to write');
  if (!(argv.bucketMs > 0)) throw usage('--bucket-ms must be a positive number');
  const window: TimeWindow | undefined = argv.window !== undefined ? parseWindow(argv.window) : undefined;
  const analyzeOpts: Omit<AnalyzeOptions, 'rows'> = {
    ...inputOptions(argv), buffer: argv.buffer,
  };
  const say = (s: string) => { if (!argv.quiet) process.stderr.write(s + '\n'); };

  for (const [as, out] of [['parquet', argv.parquet], ['arrow', argv.arrow]] as const) {
    if (!out) continue;
    if (window) throw usage('--window applies to --perfetto only');
    // loaded here: DuckDB and apache-arrow are large, and only Parquet/Arrow export needs them
    const { exportParquet } = await import('../export/parquet.js');
    const r = await exportParquet(argv.traces, out, { ...analyzeOpts, as, host: argv.host });
    say(`kvmtax: wrote ${r.files.map((f) => `${f.path} (${f.rows} rows, ${fmtBytes(f.bytes)})`).join(', ')} in ${r.seconds.toFixed(1)} s`);
  }

  if (argv.perfetto) {
    // --perfetto -: written to a private scratch file (the trace's descriptors come last, after every
    // row), then copied to stdout; a file: written beside its name and renamed over it when complete,
    // never over an input, a FIFO, a device or a directory
    const toStdout = argv.perfetto === '-' || argv.perfetto === STDIN;
    let file: string;
    let scratchDir: string | undefined;
    if (toStdout) {
      scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-perfetto-'));
      registerScratch(scratchDir);
      file = path.join(scratchDir, 'trace.pftrace');
    } else {
      const t = target(argv.perfetto, argv.traces, '--perfetto', false);
      file = (t as Extract<Target, { kind: 'file' }>).path;
      registerScratch(partialName(file));
    }
    let res;
    try {
      res = await exportPerfetto(argv.traces, file, { ...analyzeOpts, window, bucketNs: Math.round(argv.bucketMs * 1e6) });
      if (toStdout) await copyToStdout(file);
    } catch (e) {
      if (e instanceof KvmtaxError) throw e;
      throw writeError(e, toStdout ? 'standard output' : argv.perfetto);
    } finally {
      if (scratchDir) { fs.rmSync(scratchDir, { recursive: true, force: true }); releaseScratch(scratchDir); }
      releaseScratch(partialName(file));
    }
    const { stats, report } = res;
    if (toStdout) stats.file = '-';
    const q = report.quality;
    if (window && stats.exitSlices === 0 && q.first_ts !== null && q.last_ts !== null) {
      const k = argv.tscKhz && report.inputs.some((f) => f.clock === 'raw') ? 1e6 / argv.tscKhz : 1;
      say(`kvmtax: note: no exit in --window ${argv.window}: the trace runs from ${fmtS(q.first_ts * k)} to ${fmtS(q.last_ts * k)} s`);
    }
    say(`kvmtax: wrote ${stats.file} (${fmtBytes(stats.bytes)}): ${stats.processes} VM, ${stats.threads} vCPU threads, ` +
      `${stats.exitSlices} exits, ${stats.haltSlices} halts, ${stats.instants} instants, ${stats.counterValues} counter values` +
      (stats.lostUnplaced ? `; lost events marked at the start of ${stats.lostUnplaced} input(s): their times are not known` : '') +
      ' - open it in ui.perfetto.dev');
  }

}

async function copyToStdout(file: string): Promise<void> {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) await writeStdout(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
}

function fmtS(ns: number): string {
  return (ns / 1e9).toFixed(6);
}

function fmtBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}
