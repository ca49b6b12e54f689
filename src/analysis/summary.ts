/**
 * From the core's raw tables to the report: canonical reason names, per-reason and per-vCPU figures,
 * the exit tax split into halted (idle) time and handling overhead, the slowest exits and data quality.
 * Format-independent: it knows nothing of the readers, only of the core's tables and each input's facts.
 * The parts are in summary/: units and spans, reasons, threads (VMs, vCPUs, timeline) and quality.
 *
 * Definitions (../shared/DOMAIN.md):
 *   host time  = sum over handled exits of (kvm_entry - kvm_exit)        (per thread, the next entry)
 *   guest time = sum over exits of (kvm_exit - the thread's previous kvm_entry)
 *   wall       = the thread's last - first kvm_exit/kvm_entry timestamp
 *   halted     = host time of HLT-class exits (polling, then blocked: idle, not overhead)
 *   overhead   = host time - halted;  exit tax = overhead / wall
 */
import type { CoreTables } from '../wasm/core.js';
import type { HistStats } from '../core/histogram.js';
import { archNotes } from './arch-notes.js';
import { buildArm64, buildExtras } from './extras.js';
import { buildUserspace } from './userspace.js';
import { buildHandling } from './handling.js';
import { buildGpas, buildRips } from './rips.js';
import { nestedFromCore } from './nested.js';
import { ratio, round1, round2 } from './numbers.js';
import { SCHEMA_VERSION, type InputInfo, type SummaryOptions, type Stats, type Report } from './types.js';
import { perSecondOf, spans, units } from './summary/units.js';
import { reasonBins, reasonRows, reasonTotals, slowest } from './summary/reasons.js';
import { reportOrder, timeline as timelineOf, vcpuRows, whoOf } from './summary/threads.js';
import { quality as qualityOf } from './summary/quality.js';

export { SCHEMA_VERSION } from './types.js';
// the report's types, for modules that still import them from here (new code imports ./types.js)
export type * from './types.js';

const QS = [0.5, 0.9, 0.99, 0.999] as const;

export function stats(h: HistStats): Stats {
  if (h.n === 0) {
    return { min_ns: null, mean_ns: null, p50_ns: null, p90_ns: null, p99_ns: null, p999_ns: null, max_ns: null, stddev_ns: null, rsd_mean_pct: null };
  }
  const mean = h.mean();
  const sd = h.stddev();
  // indexed, not destructured: a destructuring is an iterator, garbage in code not yet optimized (the summary
  // runs once, mostly unoptimized, and its garbage is most of a large report's collections)
  const q = h.quantiles(QS);
  return {
    min_ns: h.min, mean_ns: round1(mean), p50_ns: round1(q[0]!), p90_ns: round1(q[1]!),
    p99_ns: round1(q[2]!), p999_ns: round1(q[3]!), max_ns: h.max, stddev_ns: round1(sd),
    rsd_mean_pct: mean > 0 ? round2((100 * sd) / Math.sqrt(h.n) / mean) : 0,
  };
}

import { applySampling } from './summary/sampled.js';

export { fmtTs } from './summary/reasons.js';

export function summarize(t: CoreTables, inputs: InputInfo[], opt: SummaryOptions): Report {
  const u = units(inputs, opt.tscKhz);
  const { unit, scale } = u;
  const rb = reasonBins(t, inputs, scale, opt.isa);
  const sp = spans(t, inputs, scale);
  const perSecond = perSecondOf(unit);
  const totals = reasonTotals(rb.byReason);
  const { hostAll, seenAll, handledAll } = totals;
  const reasons = reasonRows(rb.byReason, totals, sp.spanNs, perSecond, stats, opt.histograms);
  const { vms, vcpuRowOf, guestAll, haltedAll, wallAll } = vcpuRows(t, inputs, scale, rb, perSecond, stats);
  const top = slowest(t, inputs, scale, rb.reasonOf, opt.top);
  const q = qualityOf(t, inputs, seenAll, rb.byReason.has('(reason not recorded)'), rb.isaOf, sp);
  const notes = [...u.notes, ...rb.notes, ...sp.notes, ...q.notes];

  const order = reportOrder(vms, vcpuRowOf);
  const who = whoOf(t);
  const extraBase = {
    tables: t, vcpuThreads: order, who, scale, reasonOf: rb.reasonOf, tscNs: opt.tscKhz ? 1e6 / opt.tscKhz : undefined,
    events: q.eventsByName, overheadNs: hostAll - haltedAll, stats, fileLastTs: inputs.map((f) => f.last_ts),
  };
  const extras = buildExtras(extraBase);
  const timeline = timelineOf(t, order, scale, who);

  const report: Report = {
    kvmtax: { version: opt.version, schema: SCHEMA_VERSION },
    timeline,
    unit,
    inputs,
    isa: q.isa,
    totals: {
      exits_seen: seenAll, exits_handled: handledAll, exits_per_s: perSecond(seenAll, sp.spanNs), wall_ns: wallAll,
      guest_ns: guestAll, host_ns: hostAll, halted_ns: haltedAll, overhead_ns: hostAll - haltedAll,
      tax: ratio(hostAll - haltedAll, wallAll), halted_share: ratio(haltedAll, wallAll), guest_share: ratio(guestAll, wallAll),
    },
    reasons,
    vms,
    top,
    ...(opt.userspace ? { userspace: buildUserspace({ tables: t, scale, reasonOf: rb.reasonOf, reasonBins: rb.reasonBins }) } : {}),
    ...(opt.rips ? { rips: buildRips({ tables: t, scale, reasonOf: rb.reasonOf, entries: opt.rips.entries, dropped: opt.rips.dropped, who, symbols: opt.rips.symbols, top: 10 }) } : {}),
    ...(opt.gpas ? { gpas: buildGpas({ tables: t, scale, reasonOf: rb.reasonOf, entries: opt.gpas.entries, dropped: opt.gpas.dropped, who, top: 10 }) } : {}),
    ...(opt.nested ? { nested: nestedFromCore({ tables: t, rows: opt.nested, scale, reasonOf: rb.reasonOf }) } : {}),
    ...(opt.handling ? { handling: buildHandling({ tables: t, scale, reasonOf: rb.reasonOf, reasonBins: rb.reasonBins, vcpuThreads: order, who }) } : {}),
    quality: q.quality,
    notes: [...notes, ...archNotes(q.isa, reasons, q.eventsByName)],
    ...extras,
    ...(q.isa === 'arm64' ? { arm64: buildArm64(extraBase) } : {}),
  };
  // a sampled input's reasons are named as the bins' are (bare codes through the ISA's table)
  const idOf = new Map(t.strings.map((x, i) => [x, i] as const));
  applySampling(report, sp.spanNs, perSecond, (file, raw) => (idOf.has(raw) ? rb.reasonOf(file, idOf.get(raw)!) : raw));
  return report;
}
