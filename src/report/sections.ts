/**
 * The report as titled tables of display strings, shared by the terminal and Markdown renderers
 * (CSV and JSON use the raw numbers instead).
 */
import type { Report, Stats } from '../analysis/summary.js';

export interface Table {
  title: string;
  /** lines printed under the title, before the table */
  lead?: string[];
  header: string[];
  /** 'l' or 'r' per column */
  align: string;
  rows: string[][];
  /** lines printed after the table */
  foot?: string[];
}

export interface ViewOptions {
  byVcpu?: boolean;
  top?: number;
}

/** A duration for people: ns below 1 us, then us / ms / s with 2-3 decimals. */
export function dur(v: number | null, unit: 'ns' | 'cycles' = 'ns'): string {
  if (v === null || Number.isNaN(v)) return '-';
  if (unit === 'cycles') return `${Math.round(v)} cyc`;
  const a = Math.abs(v);
  if (a < 1e3) return `${Math.round(v)} ns`;
  if (a < 1e6) return `${(v / 1e3).toFixed(2)} us`;
  if (a < 1e9) return `${(v / 1e6).toFixed(2)} ms`;
  return `${(v / 1e9).toFixed(3)} s`;
}

export function pct(x: number | null): string {
  return x === null ? '-' : `${(x * 100).toFixed(2)}%`;
}

function rate(x: number | null): string {
  return x === null ? '-' : x.toFixed(1);
}

function statCells(s: Stats, unit: 'ns' | 'cycles'): string[] {
  return [s.min_ns, s.mean_ns, s.p50_ns, s.p90_ns, s.p99_ns, s.p999_ns, s.max_ns].map((v) => dur(v, unit));
}

export function sections(r: Report, v: ViewOptions = {}): Table[] {
  const out: Table[] = [];
  const u = r.unit;
  const t = r.totals;
  const files = r.inputs.map((f) => `${f.file} (${f.format}${f.compression ? `, ${f.compression}` : ''}, ${f.events} events)`);

  // ---- headline ----
  const lead: string[] = [...files.map((f) => `input: ${f}`)];
  if (r.quality.exit_entry_present) {
    lead.push(
      `exit tax ${pct(t.tax)} of vCPU wall time is exit-handling overhead; ${pct(t.halted_share)} halted (HLT: polling and blocked, idle); ${pct(t.guest_share)} in guest mode`,
      `host time ${dur(t.host_ns, u)} = halted ${dur(t.halted_ns, u)} + overhead ${dur(t.overhead_ns, u)}; vCPU wall time ${dur(t.wall_ns, u)}; ${t.exits_handled} of ${t.exits_seen} exits handled` +
        (t.exits_per_s !== null ? `, ${rate(t.exits_per_s)} exits/s` : ''),
    );
  }
  for (const n of r.notes) lead.push(`note: ${n}`);
  out.push({ title: `kvmtax ${r.kvmtax.version} report`, lead, header: [], align: '', rows: [] });

  // ---- per reason ----
  if (r.reasons.length) {
    out.push({
      title: 'Exit reasons (all VMs, all vCPUs)',
      header: ['reason', 'seen', 'handled', 'exits/s', 'exits%', 'total', 'host%', 'min', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'max', '+-'],
      align: 'lrrrrrrrrrrrrrr',
      rows: r.reasons.map((x) => [
        x.reason + (x.idle ? ' (idle)' : ''), String(x.exits_seen), String(x.exits_handled), rate(x.exits_per_s), pct(x.share_exits),
        dur(x.total_ns, u), pct(x.share_host), ...statCells(x, u), x.rsd_mean_pct === null ? '-' : `${x.rsd_mean_pct.toFixed(2)}%`,
      ]),
      foot: [`total: ${t.exits_seen} exits seen, ${t.exits_handled} handled (followed by their kvm_entry), ${dur(t.host_ns, u)} of host time`],
    });
  }

  // ---- per vCPU, grouped by VM ----
  const vrows: string[][] = [];
  for (const vm of r.vms) {
    for (const c of vm.vcpus) {
      vrows.push([
        vm.name, c.vcpu === null ? '?' : String(c.vcpu), String(c.tid), c.comm ?? '?', String(c.exits_seen), rate(c.exits_per_s),
        pct(c.guest_share), pct(c.halted_share), pct(c.tax), dur(c.host_ns, u), dur(c.overhead_ns, u),
        c.top_reasons.map((x) => `${x.reason} ${dur(x.total_ns, u)}`).join(', ') || (c.kvm_events ? `(${c.kvm_events} other kvm events)` : '-'),
      ]);
    }
  }
  if (vrows.length) {
    out.push({
      title: 'vCPUs (grouped by VM)',
      header: ['VM', 'vcpu', 'tid', 'comm', 'exits', 'exits/s', 'guest%', 'halted%', 'tax%', 'host', 'overhead', 'top reasons (time)'],
      align: 'lrrlrrrrrrrl',
      rows: vrows,
      foot: ['tax% = exit-handling time that is not HLT (idle), as a share of the vCPU thread\'s wall time between its first and last kvm event'],
    });
  }

  // ---- vCPU x reason ----
  if (v.byVcpu) {
    const rows: string[][] = [];
    for (const vm of r.vms) {
      for (const c of vm.vcpus) {
        for (const x of c.reasons ?? []) {
          rows.push([vm.pid === null ? '?' : String(vm.pid), c.vcpu === null ? '?' : String(c.vcpu), String(c.tid), x.reason,
            String(x.exits_seen), String(x.exits_handled), dur(x.total_ns, u), dur(x.mean_ns, u), dur(x.p50_ns, u), dur(x.p99_ns, u), dur(x.max_ns, u)]);
        }
      }
    }
    out.push({ title: 'vCPU x reason', header: ['pid', 'vcpu', 'tid', 'reason', 'seen', 'handled', 'total', 'mean', 'p50', 'p99', 'max'], align: 'rrrlrrrrrrr', rows });
  }

  // ---- slowest exits ----
  if (r.top.length) {
    out.push({
      title: `Slowest exits (top ${r.top.length})`,
      header: ['time', 'pid', 'vcpu', 'tid', 'reason', 'duration', 'where'],
      align: 'rrrrlrl',
      rows: r.top.map((x) => [x.at, x.vm === null ? '?' : String(x.vm), x.vcpu === null ? '?' : String(x.vcpu), String(x.tid), x.reason, dur(x.duration_ns, u), x.where]),
    });
  }

  // ---- data quality ----
  const q = r.quality;
  const un = q.unpaired;
  const ql: string[] = [
    `events read: ${q.events_read}` + (q.lines_read !== null ? ` from ${q.lines_read} lines` : '') +
      (q.first_ts !== null ? `; time span ${dur(q.span_ns, u)}` : ''),
    `events by name: ${Object.entries(q.events_by_name).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`,
    q.exit_entry_present
      ? `unpaired: ${un.exits_pending_at_end} exits still pending at the end, ${un.exits_without_entry} exits followed by another exit, ${un.entries_without_exit} entries without their exit, ${un.leading_entries} threads starting with an entry` +
        (un.backwards ? `, ${un.backwards} entries earlier than their exit` : '') + (un.lost_resets ? `, ${un.lost_resets} pairings dropped at lost-event gaps` : '')
      : 'kvm_exit/kvm_entry: absent from this trace',
    `lost events: ${q.lost.markers ? `${q.lost.markers} markers, ${q.lost.events} events` : 'none reported'}`,
  ];
  if (q.skipped.length === 0) ql.push('skipped lines: none');
  for (const s of q.skipped) ql.push(`skipped: ${s.count} x ${s.what} (${s.kind}), first at ${s.first}: ${JSON.stringify(s.excerpt)}`);
  out.push({ title: 'Data quality', lead: ql, header: [], align: '', rows: [] });
  return out;
}
