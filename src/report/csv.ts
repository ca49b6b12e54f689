/**
 * CSV with raw numbers (ns, counts): per reason by default, one row per (VM, vCPU, reason) with
 * --by vcpu, per MSR / port / MMIO key with --by msr|port|mmio. RFC 4180 quoting.
 */
import type { Report } from '../analysis/summary.js';

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
const STATS = ['min_ns', 'mean_ns', 'p50_ns', 'p90_ns', 'p99_ns', 'p999_ns', 'max_ns', 'stddev_ns'] as const;

export function renderCsv(r: Report, table: string | boolean): string {
  const lines: string[] = [];
  const which = table === true ? 'vcpu' : table === false ? 'reason' : table;
  if (which === 'msr' || which === 'port' || which === 'mmio') {
    const k = r[which];
    lines.push(['key', 'name', 'dir', 'events', 'exits_handled', 'total_ns', ...STATS].join(','));
    if (k.available) for (const x of k.keys) lines.push([x.key, x.name, x.dir, x.events, x.exits_handled, x.total_ns, ...STATS.map((s) => x[s])].map(cell).join(','));
    return lines.join('\n') + '\n';
  }
  if (which === 'vcpu') {
    lines.push(['file', 'pid', 'vcpu', 'tid', 'comm', 'reason', 'exits_seen', 'exits_handled', 'total_ns', ...STATS].join(','));
    for (const vm of r.vms) {
      for (const c of vm.vcpus) {
        for (const x of c.reasons ?? []) {
          lines.push([vm.file, vm.pid, c.vcpu, c.tid, c.comm, x.reason, x.exits_seen, x.exits_handled, x.total_ns, ...STATS.map((k) => x[k])].map(cell).join(','));
        }
      }
    }
  } else {
    lines.push(['reason', 'idle', 'exits_seen', 'exits_handled', 'exits_per_s', 'share_exits', 'total_ns', 'share_host', ...STATS, 'rsd_mean_pct'].join(','));
    for (const x of r.reasons) {
      lines.push([x.reason, x.idle, x.exits_seen, x.exits_handled, x.exits_per_s, x.share_exits, x.total_ns, x.share_host, ...STATS.map((k) => x[k]), x.rsd_mean_pct].map(cell).join(','));
    }
  }
  return lines.join('\n') + '\n';
}
