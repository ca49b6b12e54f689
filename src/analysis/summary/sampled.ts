/**
 * A sampled recording (perf record -c N / -F N of kvm:kvm_exit): each sample stands for PERIOD exits, so the
 * exits per reason are estimated as Σ PERIOD (perf report's "Event count (approx.)"), and rates from those.
 * A sampled exit is not followed by its own kvm_entry, nor the vCPU's time by every exit: handling times,
 * guest time, the exit tax and the per-vCPU, slowest-exit, timeline and derived sections are withheld.
 */
import { KvmtaxError } from '../../core/errors.js';
import { isIdleReason } from '../../core/reasons.js';
import type { Report, ReasonRow, SampledInput } from '../types.js';


const NULL_STATS = { min_ns: null, mean_ns: null, p50_ns: null, p90_ns: null, p99_ns: null, p999_ns: null, max_ns: null, stddev_ns: null, rsd_mean_pct: null };

/** Rewrite a report whose inputs were sampled: estimated counts, measured times withheld, notes that say so. */
export function applySampling(r: Report, spanNs: number, perSecond: (n: number, ns: number) => number | null,
                              nameOf: (file: number, raw: string) => string): void {
  const sampled = r.inputs.filter((f) => f.sampled);
  if (sampled.length === 0) return;
  if (sampled.length < r.inputs.length) {
    const plain = r.inputs.find((f) => !f.sampled)!;
    throw KvmtaxError.usage(`${plain.file}: recorded every event, ${sampled[0]!.file} was sampled (perf record ${sampled[0]!.sampled!.sampling}): their exit counts do not add up; report them apart`);
  }
  const by = new Map<string, { samples: number; estimated: number }>();
  sampled.forEach((f) => {
    const file = r.inputs.indexOf(f);
    for (const x of (f.sampled as SampledInput).exits) {
      x.reason = nameOf(file, x.reason);
      const v = by.get(x.reason) ?? { samples: 0, estimated: 0 };
      v.samples += x.samples;
      v.estimated += x.estimated;
      by.set(x.reason, v);
    }
  });
  const total = [...by.values()].reduce((s, v) => s + v.estimated, 0);
  const samples = [...by.values()].reduce((s, v) => s + v.samples, 0);
  const rows: ReasonRow[] = [...by].map(([reason, v]) => ({
    reason, idle: isIdleReason(reason), exits_seen: v.estimated, exits_handled: 0, exits_per_s: perSecond(v.estimated, spanNs),
    share_exits: total > 0 ? v.estimated / total : 0, total_ns: 0, share_host: 0, ...NULL_STATS, samples: v.samples, estimated: true,
  }));
  rows.sort((a, b) => b.exits_seen - a.exits_seen || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0));
  r.reasons = rows;
  r.totals = {
    exits_seen: total, exits_handled: 0, exits_per_s: perSecond(total, spanNs), wall_ns: r.totals.wall_ns,
    guest_ns: 0, host_ns: 0, halted_ns: 0, overhead_ns: 0, tax: null, halted_share: null, guest_share: null,
  };
  r.vms = [];
  r.top = [];
  r.timeline = { bucket_ns: r.timeline.bucket_ns, vcpus: [] };
  const why = 'a sampled recording: each sample stands for PERIOD events, and a sampled exit is not followed by its own kvm_entry';
  for (const k of ['halt', 'timers', 'ipi', 'msr', 'port', 'mmio', 'sched'] as const) r[k] = { available: false, reason: why };
  r.sampled = {
    estimated: true, samples, estimated_exits: total,
    inputs: sampled.map((f) => ({ file: f.file, sampling: f.sampled!.sampling, samples: f.sampled!.samples, period_sum: f.sampled!.period_sum })),
  };
  const notes: string[] = [];
  for (const f of sampled) {
    const s = f.sampled!;
    const n = s.exits.reduce((a, x) => a + x.samples, 0);
    notes.push(`${f.file} is a sampled recording (perf record ${s.sampling}): exit counts are ESTIMATED from ${n} kvm_exit samples as the sum of their PERIOD (${s.exits.reduce((a, x) => a + x.estimated, 0)} exits); handling times, guest time, the exit tax, per-vCPU tables and the slowest exits are withheld: sampled exits cannot give them`);
    if (s.sampling.startsWith('-c')) {
      notes.push(`${f.file}: perf record ${s.sampling} takes every Nth event with N = ${s.sampling.slice(3)}, not a random one: an exit pattern that repeats with that period can alias, so a reason's estimate can be far off`);
    } else {
      notes.push(`${f.file}: perf record ${s.sampling} adapts the period to a rate: it ramps up from 1 at the start, so the first samples stand for few events and the estimate is approximate`);
    }
  }
  r.notes.unshift(...notes);
}
