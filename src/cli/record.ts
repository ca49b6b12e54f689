/**
 * `kvmtax record [-e EVENTS] [-o FILE] [--duration S] [--pid PID,...] [--buffer-kb N] [--clock NAME]
 *  [--tracefs DIR] [--format-version 6|7] [--compress zstd] [-- COMMAND ...]`: record the events kvmtax
 * analyses into a trace.dat (v6 by default; v7 uncompressed or zstd), in a
 * tracefs instance of its own, while COMMAND runs, for S seconds, or until Ctrl-C.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { KvmtaxError, EXIT_USAGE } from '../core/errors.js';
import { DEFAULT_EVENTS, fsError, lostOf } from '../record/tracefs.js';
import { runSession, parsePids, Spool } from '../record/session.js';
import { writeTraceDatV6, type TraceDatContent } from '../record/tracedat-writer.js';
import { writeTraceDatV7, loadZstd, type Compressor } from '../record/tracedat-v7.js';
import { snapshotManifest, writeManifest, manifestPath, findVmms, vmmInfo, descendants, type VmmInfo, type Manifest } from '../record/manifest.js';
import type { Instance } from '../record/tracefs.js';
import { sampleDebugfs } from '../record/kvm-stats.js';
import { trailing } from './trailing.js';
import { InKernelHist, KVM_PAIR, parseHist } from '../record/in-kernel.js';
import { parseTrip, parseSums, checkTrips, type HistState } from '../record/trip.js';
import { reasonName, ISA_SVM, ISA_VMX } from '../core/reasons.js';
import { listOf } from './repeat.js';

interface Args {
  event?: string | string[];
  output: string;
  duration?: number;
  pid?: string | string[];
  bufferKb?: number;
  clock?: string;
  tracefs?: string;
  force: boolean;
  quiet: boolean;
  flight: boolean;
  debugfs: string;
  formatVersion: number;
  compress: string;
  trip?: string | string[];
  isa?: string;
}

export const command = 'record';
export const describe = 'record KVM events with tracefs into a trace.dat: kvmtax record [options] [-- COMMAND ...]';

export function builder(y: Argv): Argv<Args> {
  return y
    .option('event', { alias: 'e', type: 'string', describe: `events (sys:name or name, comma-separated; default: ${DEFAULT_EVENTS.map((e) => e.split(':')[1]).join(',')})` })
    .option('output', { alias: 'o', type: 'string', default: 'trace.dat', describe: 'the trace.dat to write (a host manifest goes beside it as FILE.manifest.json)' })
    .option('duration', { type: 'number', describe: 'stop after this many seconds' })
    .option('pid', { type: 'string', describe: 'VMM process ids (comma-separated): record only their threads (set_event_pid, following forks)' })
    .option('buffer-kb', { type: 'number', describe: 'ring-buffer size per CPU in KiB (buffer_size_kb of our instance)' })
    .option('clock', { type: 'string', describe: 'trace clock (local, global, mono, x86-tsc...; default: the kernel\'s, local)' })
    .option('tracefs', { type: 'string', describe: 'tracefs mount point (default /sys/kernel/tracing); a directory laid out like tracefs replays its pages' })
    .option('force', { type: 'boolean', default: false, describe: 'replace FILE if it exists' })
    .option('flight', { type: 'boolean', default: false, describe: 'flight recorder: keep the last --buffer-kb per CPU (overwrite mode, nothing read while running); SIGUSR1 writes it to FILE.N, the end to FILE' })
    .option('debugfs', { type: 'string', default: '/sys/kernel/debug', describe: 'where KVM\'s per-VM statistics are sampled during the recording (kvm/<pid>-<fd>/), for the manifest; skipped when absent' })
    .option('trip', { type: 'string', describe: 'with --flight: snapshot when a condition on the in-kernel kvm_exit -> kvm_entry histograms holds, checked every 250 ms over the time since the last trip: "p99(hlt) > 5ms", "max > 1ms", "tax > 40%" (repeatable)' })
    .option('isa', { type: 'string', choices: ['vmx', 'svm'], describe: 'with --trip: the exit-reason table (default: svm when kvm_amd is loaded, else vmx)' })
    .option('format-version', { type: 'number', default: 6, describe: 'trace.dat file version: 6, or 7 (sections; needed for --compress)' })
    .option('compress', { type: 'string', default: 'none', describe: 'compress a version 7 file: none or zstd' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no summary on stderr' })
    .example('kvmtax record -o run.dat -- ./benchmark.sh', 'record while the benchmark runs')
    .example('kvmtax record --pid $(pgrep -d, qemu) --duration 10', 'record the VMs\' threads for 10 s') as unknown as Argv<Args>;
}

const usage = (m: string): KvmtaxError => new KvmtaxError(m, undefined, undefined, undefined, undefined, EXIT_USAGE);

export function eventList(v: string | string[] | undefined): string[] {
  const l = listOf(v).flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
  return l.length ? l : DEFAULT_EVENTS;
}

export async function handler(argv: ArgumentsCamelCase<Args>): Promise<void> {
  const out = argv.output;
  const extra = (argv._ ?? []).slice(1);
  if (extra.length) throw usage(`unexpected argument "${String(extra[0])}" (a command to run goes after --)`);
  if (argv.duration !== undefined && !(argv.duration > 0)) throw usage('--duration must be a positive number of seconds');
  if (argv.bufferKb !== undefined && !(Number.isInteger(argv.bufferKb) && argv.bufferKb > 0)) throw usage('--buffer-kb must be a positive whole number');
  if (!argv.force && fs.existsSync(out)) throw new KvmtaxError(`${out} exists: kvmtax does not replace a file it did not write (remove it, use another -o, or --force)`);
  const mpath = manifestPath(out);
  if (!argv.force && fs.existsSync(mpath)) throw new KvmtaxError(`${mpath} exists: kvmtax does not replace a file it did not write (remove it, use another -o, or --force)`);
  const dir = path.dirname(path.resolve(out));
  if (!fs.existsSync(dir)) throw new KvmtaxError(`${out}: folder ${dir} does not exist`);
  if (argv.formatVersion !== 6 && argv.formatVersion !== 7) throw usage(`--format-version must be 6 or 7, not ${String(argv.formatVersion)}`);
  if (argv.compress !== 'none' && argv.compress !== 'zstd') throw usage(`--compress must be none or zstd, not "${argv.compress}"`);
  if (argv.compress !== 'none' && argv.formatVersion !== 7) throw usage('--compress needs --format-version 7 (version 6 files are not compressed)');
  // the compressor is loaded before recording starts, so that a failure to load it loses no trace
  const compressor: Compressor | undefined = argv.compress === 'zstd' ? await loadZstd() : undefined;
  const writeDat = (file: string, content: TraceDatContent): void => {
    if (argv.formatVersion === 7) writeTraceDatV7(file, content, { compressor });
    else writeTraceDatV6(file, content);
  };
  const isa = argv.isa === 'svm' ? ISA_SVM : argv.isa === 'vmx' ? ISA_VMX : fs.existsSync('/sys/module/kvm_amd') ? ISA_SVM : ISA_VMX;
  const trips = listOf(argv.trip).map((t) => parseTrip(t, isa));
  if (trips.length && !argv.flight) throw usage('--trip needs --flight (it snapshots the flight recorder\'s buffer)');
  const fileKind = `trace.dat v${argv.formatVersion}${compressor ? ', zstd' : ''}`;
  const pids = parsePids(argv.pid);
  const log = (l: string): void => { process.stderr.write(l + '\n'); };
  // the VMMs: --pid, else processes holding a KVM VM, else COMMAND's process tree's VM holders, else COMMAND itself
  let childPid: number | undefined;
  let ticks = 0;
  // KVM's own statistics of the VMs, sampled while recording: the first and the latest sample per VM
  const kvmStats = new Map<string, { pid: number; first: Map<string, number>; last: Map<string, number>; firstAt: number; lastAt: number }>();
  const t0 = Date.now();
  const sampleStats = (vmPids: number[]): void => {
    if (vmPids.length === 0) return;
    let vms;
    try { vms = sampleDebugfs(argv.debugfs, vmPids); } catch { return; }
    const now = (Date.now() - t0) / 1000;
    for (const v of vms) {
      const k = `${v.pid}-${v.fd}`;
      const e = kvmStats.get(k);
      if (!e) kvmStats.set(k, { pid: v.pid, first: v.stats, last: v.stats, firstAt: now, lastAt: now });
      else { e.last = v.stats; e.lastAt = now; }
    }
  };
  const vmmsNow = (): VmmInfo[] => {
    let list = pids ?? findVmms();
    if (!pids && childPid !== undefined) {
      const tree = new Set(descendants(childPid));
      const inTree = list.filter((p) => tree.has(p));
      list = inTree.length ? inTree : list.length ? list : [childPid];
    }
    return list.map((p) => vmmInfo(p)).filter((v): v is VmmInfo => v !== undefined);
  };
  const refresh = (known: VmmInfo[]): VmmInfo[] => known.map((v) => {
    const now = vmmInfo(v.pid);
    if (!now) return v;
    const seen = new Map(v.threads.map((t) => [t.tid, t] as const));
    for (const t of now.threads) seen.set(t.tid, t);
    return { ...now, threads: [...seen.values()].sort((a, b) => a.tid - b.tid) };
  });
  let spool = new Spool(out);
  let inst: Instance | undefined;
  let snapshots = 0;
  const written: string[] = [];
  /** --flight, SIGUSR1: the buffer as it is now, to FILE.N (and its manifest) */
  const writeSnapshot = (manifest: Manifest): void => {
    const i = inst!;
    const file = `${out}.${++snapshots}`;
    spool.close();
    const stats = i.stats();
    const lost = lostOf(stats);
    const f = i.formats();
    try {
      writeDat(file, {
        pageSize: i.tfs.pageSize(), ...f, cmdlines: i.tfs.readOpt('saved_cmdlines') ?? '', tgids: i.tfs.readOpt('saved_tgids') ?? '',
        clock: i.clock(), cpus: i.tfs.cpus().map((c) => ({ cpu: c, file: spool.cpus().includes(c) ? spool.file(c) : undefined, pages: [] })),
        cpuStats: stats, uname: manifest.host.uname,
      });
      writeManifest(manifestPath(file), { ...manifest, taken_at: new Date().toISOString(), recording: { flight_snapshot: snapshots, pages: spool.pages, lost: { overrun: lost.overrun, dropped: lost.dropped } } });
    } catch (e) {
      throw fsError(e, file);
    }
    written.push(file);
    if (!argv.quiet) log(`kvmtax record: flight snapshot ${snapshots}: ${spool.pages} pages to ${file}`);
    spool.remove();
    spool = new Spool(out);
  };
  // --trip: the in-kernel histograms of our instance, compared with their state at the start or last trip
  let hist: InKernelHist | undefined;
  const empty: HistState = { rows: [], sums: [] };
  let base = empty, baseAt = 0;
  const histState = (): HistState => { const t = hist!.histText(); return { rows: parseHist(t).rows, sums: parseSums(t) }; };
  const tripped = (): boolean => {
    if (!hist) return false;
    const now = histState();
    const at = Date.now();
    const why = checkTrips(trips, base, now, (at - baseAt) / 1000, (c) => reasonName(isa, c), hist.unitNs);
    if (!why) return false;
    log(`kvmtax record: trip: ${why}`);
    base = now;
    baseAt = at;
    return true;
  };
  try {
    const manifest = snapshotManifest({ pids });
    const res = await runSession({
      tracefs: argv.tracefs, events: eventList(argv.event), pids, bufferKb: argv.bufferKb, clock: argv.clock,
      durationS: argv.duration, command: trailing.command, onPages: (p) => spool.add(p), log,
      // a VMM started by COMMAND holds its VM only once it runs: look for it until found
      onChild: (pid) => { childPid = pid; },
      // ... and its vCPU threads once created: refresh the VMMs found, keeping threads that have exited
      tickMs: 250, onTick: () => {
        ticks++;
        manifest.vmms = manifest.vmms.length === 0 ? vmmsNow() : refresh(manifest.vmms);
        sampleStats(pids ?? manifest.vmms.map((v) => v.pid));
      },
      flight: argv.flight,
      onStart: (i) => {
        inst = i;
        if (!trips.length) return;
        if (!i.events.some(([sy, n]) => sy === 'kvm' && n === 'kvm_exit') || !i.events.some(([sy, n]) => sy === 'kvm' && n === 'kvm_entry')) {
          throw new KvmtaxError('--trip needs kvm:kvm_exit and kvm:kvm_entry among the events');
        }
        hist = new InKernelHist(i.tfs, i, KVM_PAIR);
        hist.setup({ sums: trips.some((t) => t.kind === 'tax') });
        baseAt = Date.now();
      },
      onStop: () => { hist?.teardown(); },
      trip: tripped, onSnapshot: (final) => { if (!final) writeSnapshot(manifest); },
    });
    manifest.vmms = manifest.vmms.length === 0 ? vmmsNow() : refresh(manifest.vmms);
    sampleStats(pids ?? manifest.vmms.map((v) => v.pid));
    if (kvmStats.size) {
      manifest.kvm_stats = Object.fromEntries([...kvmStats].map(([k, e]) => [k, {
        pid: e.pid, source: `${argv.debugfs}/kvm/${k}`, from_s: e.firstAt, to_s: e.lastAt,
        delta: Object.fromEntries([...e.last].map(([n, v]) => [n, v - (e.first.get(n) ?? 0)])),
      }]));
    }
    spool.close();
    const lost = lostOf(res.stats);
    manifest.recording = {
      events: res.events.map(([s, n]) => `${s}:${n}`), missing_events: res.missing, clock: res.clock, cpus: res.cpus.length,
      pages: spool.pages, page_size: res.pageSize, stopped_by: res.stoppedBy, seconds: res.elapsedMs / 1000,
      lost: { overrun: lost.overrun, dropped: lost.dropped, per_cpu: Object.fromEntries([...lost.perCpu].map(([c, v]) => [`cpu${c}`, v])) },
      tracefs: res.tfs.real ? res.tfs.root : `${res.tfs.root} (replay)`, vmm_scans: ticks,
      ...(argv.flight ? { flight: true, flight_snapshots: written } : {}),
    };
    try {
      writeDat(out, {
        pageSize: res.pageSize, headerPage: res.headerPage, headerEvent: res.headerEvent, formats: res.formats,
        cmdlines: res.cmdlines, tgids: res.tgids, clock: res.clock,
        cpus: res.cpus.map((c) => ({ cpu: c, file: spool.cpus().includes(c) ? spool.file(c) : undefined, pages: [] })),
        cpuStats: res.stats, uname: manifest.host.uname,
      });
    } catch (e) {
      throw fsError(e, out);
    }
    try {
      writeManifest(mpath, manifest);
    } catch (e) {
      throw fsError(e, mpath);
    }
    if (!argv.quiet) {
      const mb = (spool.pages * res.pageSize / 1048576).toFixed(1);
      const miss = res.missing.length ? ` (${res.missing.length} missing: ${res.missing.join(', ')})` : '';
      log(`kvmtax record: ${res.events.length} events enabled${miss}, ${res.cpus.length} CPUs, ${spool.pages} pages (${mb} MiB) in ${(res.elapsedMs / 1000).toFixed(1)} s, stopped by ${res.stoppedBy}`);
      log(`kvmtax record: lost events: ${lost.overrun + lost.dropped} (overrun ${lost.overrun}, dropped ${lost.dropped}; per_cpu/cpuN/stats)`);
      log(`kvmtax record: wrote ${out} (${fileKind}) and ${mpath}`);
    }
    if (typeof res.childStatus === 'number' && res.childStatus !== 0) log(`kvmtax record: the command exited with status ${res.childStatus}`);
  } finally {
    spool.remove();
  }
}
