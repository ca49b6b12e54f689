/**
 * In-kernel aggregation for `kvmtax live --in-kernel` (Documentation/trace/histogram.rst): no event goes
 * through the ring buffer; hist triggers pair a start event with an end event per thread and feed a
 * synthetic event whose own hist trigger keeps log2 buckets of the latency:
 *
 *   synthetic_events                       kvmtax_lat_PID int pid; unsigned int reason; u64 lat  (the events' own field types;
 *                                          global: removed at the end)
 *   <start>/trigger (our instance)         hist:keys=common_pid:kvmtax_t0=common_timestamp,kvmtax_r=exit_reason
 *   <end>/trigger                          hist:keys=common_pid:kvmtax_lat=common_timestamp-$kvmtax_t0:
 *                                              onmatch(kvm.kvm_exit).trace(kvmtax_lat_PID,common_pid,$kvmtax_r,$kvmtax_lat)
 *   synthetic/kvmtax_lat_PID/trigger       hist:keys=pid,reason,lat.log2
 *
 * common_timestamp is in ns for the ns clocks (local, global, mono...). A log2 bucket 2^N holds the
 * latencies whose next power of two is 2^N: (2^(N-1), 2^N]. Triggers are removed ("!" + the same text) in
 * the reverse order, then the synthetic event.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KvmtaxError } from '../core/errors.js';
import type { Tracefs, Instance } from './tracefs.js';

export interface PairSpec {
  start: [string, string];
  startKey: string;
  end: [string, string];
  endKey: string;
  /** a field of the start event carried to the histogram (kvm_exit's exit_reason) */
  carry?: string;
}

/** kvm_exit -> kvm_entry per vCPU thread, by exit reason: the exit handling time */
export const KVM_PAIR: PairSpec = { start: ['kvm', 'kvm_exit'], startKey: 'common_pid', end: ['kvm', 'kvm_entry'], endKey: 'common_pid', carry: 'exit_reason' };
/** sched_waking -> sched_switch of the woken thread: the wake-up latency (the textbook case) */
export const SCHED_PAIR: PairSpec = { start: ['sched', 'sched_waking'], startKey: 'pid', end: ['sched', 'sched_switch'], endKey: 'next_pid' };

export interface HistRow { pid: number; reason: number | null; log2: number; count: number }

/** Parse a hist file: "{ pid: 224, reason: 72, lat: ~ 2^13 } hitcount: 3" lines. */
export function parseHist(text: string): { rows: HistRow[]; hits: number; dropped: number } {
  const rows: HistRow[] = [];
  for (const line of text.split('\n')) {
    const m = /^\{\s*(.*?)\s*\}\s*hitcount:\s*(\d+)/.exec(line);
    if (!m) continue;
    const keys = new Map<string, string>();
    for (const kv of m[1]!.split(',')) {
      const k = /^\s*([A-Za-z_]\w*):\s*(.*?)\s*$/.exec(kv);
      if (k) keys.set(k[1]!, k[2]!);
    }
    const lat = /~\s*2\^(\d+)/.exec(keys.get('lat') ?? '');
    if (!lat) continue;
    const reason = keys.get('reason');
    rows.push({ pid: Number(keys.get('pid') ?? -1), reason: reason !== undefined ? Number(reason) : null, log2: Number(lat[1]), count: Number(m[2]) });
  }
  const hits = Number(/^\s*Hits:\s*(\d+)/m.exec(text)?.[1] ?? 0);
  const dropped = Number(/^\s*Dropped:\s*(\d+)/m.exec(text)?.[1] ?? 0);
  return { rows, hits, dropped };
}

/** The log2 bucket the kernel puts a value in: ilog2(roundup_pow_of_two(v)). */
export function log2Bucket(v: number): number {
  if (v <= 1) return 0;
  return Math.ceil(Math.log2(v) - 1e-12);
}

/** Quantile of log2 buckets (the bucket's upper bound 2^N). */
export function bucketQuantile(b: Map<number, number>, q: number): number | null {
  const total = [...b.values()].reduce((s, n) => s + n, 0);
  if (!total) return null;
  let acc = 0;
  for (const k of [...b.keys()].sort((x, y) => x - y)) {
    acc += b.get(k)!;
    if (acc >= q * total) return 2 ** k;
  }
  return null;
}

export class InKernelHist {
  readonly synth: string;
  /** ns per histogram unit: 1 (ns timestamps) or 1000 (.usecs) */
  unitNs = 1;
  /** why the ns form was refused, when it was */
  firstError?: string;
  private triggers: [string, string][] = [];
  private created = false;
  private readonly exitHook = (): void => this.teardown();

  constructor(private readonly tfs: Tracefs, private readonly inst: Instance, private readonly spec: PairSpec) {
    this.synth = `kvmtax_lat_${process.pid}`;
  }

  private synthFile(): string {
    const f = this.tfs.p('synthetic_events');
    if (!fs.existsSync(f)) throw new KvmtaxError(`${f} is absent: this kernel has no synthetic events (CONFIG_SYNTH_EVENTS, CONFIG_HIST_TRIGGERS); use kvmtax live without --in-kernel`);
    return f;
  }

  private append(file: string, text: string): void {
    try {
      fs.appendFileSync(file, text + '\n');
    } catch (e) {
      const log = (() => { try { return fs.readFileSync(path.join(this.inst.dir, 'error_log'), 'utf8').trim().split('\n').slice(-3).join(' | '); } catch { return ''; } })();
      throw new KvmtaxError(`cannot write "${text}" to ${file}: ${(e as Error).message}${log ? ` (error_log: ${log})` : ''}`);
    }
  }

  /** `sums`: a second trigger on the synthetic event keeping the exact sum of the latencies per pid and reason */
  setup(opts: { sums?: boolean } = {}): void {
    const s = this.spec;
    for (const [sys, ev] of [s.start, s.end]) {
      if (!fs.existsSync(path.join(this.inst.dir, 'events', sys, ev, 'hist')) && this.tfs.real) {
        throw new KvmtaxError(`${sys}:${ev} has no hist file: this kernel has no hist triggers (CONFIG_HIST_TRIGGERS); use kvmtax live without --in-kernel`);
      }
    }
    const sf = this.synthFile();
    process.on('exit', this.exitHook);
    // the synthetic fields take the events' own type names: some kernels compare the type strings
    const pidType = this.fieldType(s.end, s.endKey) ?? 'int';
    const reasonType = s.carry ? this.fieldType(s.start, s.carry) ?? 'unsigned int' : '';
    this.append(sf, `${this.synth} ${pidType} pid; ${s.carry ? `${reasonType} reason; ` : ''}u64 lat`);
    this.created = true;
    const trig = (sys: string, ev: string, text: string): void => {
      const f = path.join(this.inst.dir, 'events', sys, ev, 'trigger');
      // a directory laid out like tracefs (--tracefs DIR) has no synthetic event folders of its own
      if (!this.tfs.real) fs.mkdirSync(path.dirname(f), { recursive: true });
      this.append(f, text);
      this.triggers.push([f, text]);
    };
    // ns timestamps; kernels that refuse the bare common_timestamp in an expression get .usecs (the
    // textbook form), and the buckets are then in us
    for (const unit of ['', '.usecs']) {
      trig(s.start[0], s.start[1], `hist:keys=${s.startKey}:kvmtax_t0=common_timestamp${unit}${s.carry ? `,kvmtax_r=${s.carry}` : ''}`);
      try {
        trig(s.end[0], s.end[1], `hist:keys=${s.endKey}:kvmtax_lat=common_timestamp${unit}-$kvmtax_t0:onmatch(${s.start[0]}.${s.start[1]}).trace(${this.synth},${s.endKey},${s.carry ? '$kvmtax_r,' : ''}$kvmtax_lat)`);
        this.unitNs = unit === '' ? 1 : 1000;
        break;
      } catch (e) {
        const [f, t] = this.triggers.pop()!;
        fs.appendFileSync(f, `!${t}\n`);
        if (unit !== '') throw e;
        this.firstError = (e as Error).message;
      }
    }
    trig('synthetic', this.synth, `hist:keys=pid,${s.carry ? 'reason,' : ''}lat.log2:size=8192`);
    if (opts.sums && s.carry) trig('synthetic', this.synth, 'hist:keys=pid,reason:vals=hitcount,lat:size=8192');
  }

  /** The C type of a field in an event's format ("int", "pid_t", "unsigned int"). */
  private fieldType(ev: [string, string], name: string): string | undefined {
    const text = this.tfs.readOpt(`events/${ev[0]}/${ev[1]}/format`) ?? '';
    for (const m of text.matchAll(/field:([^;]*?)\s+([A-Za-z_]\w*);/g)) if (m[2] === name) return m[1]!.trim();
    return undefined;
  }

  /** the synthetic event's hist file (every trigger's table), '' when unreadable */
  histText(): string {
    try { return fs.readFileSync(path.join(this.inst.dir, 'events', 'synthetic', this.synth, 'hist'), 'utf8'); } catch { return ''; }
  }

  read(): ReturnType<typeof parseHist> {
    return parseHist(this.histText());
  }

  /** Remove the triggers (reverse order) and the synthetic event. Safe to call twice. */
  teardown(): void {
    process.removeListener('exit', this.exitHook);
    for (const [f, t] of this.triggers.reverse()) {
      try { fs.appendFileSync(f, `!${t}\n`); } catch (e) { process.stderr.write(`kvmtax: could not remove trigger ${t}: ${(e as Error).message}\n`); }
    }
    this.triggers = [];
    if (this.created) {
      this.created = false;
      try { fs.appendFileSync(this.synthFile(), `!${this.synth}\n`); } catch (e) { process.stderr.write(`kvmtax: could not remove synthetic event ${this.synth}: ${(e as Error).message}\n`); }
    }
  }
}
