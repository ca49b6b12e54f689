/**
 * CSV with raw numbers (ns, counts): per reason by default, one row per (VM, vCPU, reason) with
 * --by vcpu, per MSR / port / MMIO key with --by msr|port|mmio, and one row per vCPU for the halt,
 * timers, ipi and sched sections (--sections NAME): nested figures become dotted column names
 * (poll_success.p99_ns). A section the trace has no events for is one row saying why. RFC 4180 quoting.
 */
import type { Report } from '../analysis/types.js';
import { csvSafe } from './escape.js';

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  // a name from the trace that starts like a formula (=, +, -, @) gets a leading apostrophe
  const s = typeof v === 'string' ? csvSafe(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
const STATS = ['min_ns', 'mean_ns', 'p50_ns', 'p90_ns', 'p99_ns', 'p999_ns', 'max_ns', 'stddev_ns'] as const;

/** Nested objects as dotted columns; arrays of objects (top_reasons) as "a b;c d". */
function flatten(o: Record<string, unknown>, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, v] of Object.entries(o)) {
    const key = prefix + k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, key + '.', out);
    else if (Array.isArray(v)) out[key] = v.map((x) => (typeof x === 'object' && x !== null ? Object.values(x).join(' ') : String(x))).join(';');
    else out[key] = v;
  }
  return out;
}

export const PER_VCPU_SECTIONS = ['halt', 'timers', 'ipi', 'sched'] as const;

function perVcpuSection(r: Report, name: (typeof PER_VCPU_SECTIONS)[number]): string {
  const sec = r[name];
  if (!sec.available) return `section,available,reason
${[name, false, sec.reason].map(cell).join(',')}
`;
  const rows = (sec.vcpus as unknown as Array<Record<string, unknown>>).map((v) => flatten(v));
  const cols: string[] = [];
  for (const row of rows) for (const k of Object.keys(row)) if (!cols.includes(k)) cols.push(k);
  return [cols.join(','), ...rows.map((row) => cols.map((c) => cell(row[c])).join(','))].join('\n') + '\n';
}

export function renderCsv(r: Report, table: string | boolean): string {
  const lines: string[] = [];
  const which = table === true ? 'vcpu' : table === false ? 'reason' : table;
  if ((PER_VCPU_SECTIONS as readonly string[]).includes(which)) return perVcpuSection(r, which as (typeof PER_VCPU_SECTIONS)[number]);
  if (which === 'msr' || which === 'port' || which === 'mmio') {
    const k = r[which];
    lines.push(['key', 'name', 'dir', 'events', 'exits_handled', 'total_ns', ...STATS].join(','));
    if (k.available) for (const x of k.keys) lines.push([x.key, x.name, x.dir, x.events, x.exits_handled, x.total_ns, ...STATS.map((s) => x[s])].map(cell).join(','));
    return lines.join('\n') + '\n';
  }
  const issue17 = issue17Csv(r, which);
  if (issue17 !== undefined) return issue17;
  if (which === 'vm') {
    lines.push(['file', 'pid', 'vm', 'reason', 'exits_seen', 'exits_handled', 'total_ns', 'share_host', ...STATS].join(','));
    for (const vm of r.vms) {
      for (const x of vm.reasons ?? []) {
        lines.push([vm.file, vm.pid, vm.name, x.reason, x.exits_seen, x.exits_handled, x.total_ns, x.share_host, ...STATS.map((k) => x[k])].map(cell).join(','));
      }
    }
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
  } else if (r.sampled) {
    // a sampled recording: estimated counts only (the times are withheld)
    lines.push(['reason', 'idle', 'samples', 'estimated_exits', 'estimated_exits_per_s', 'share_exits'].join(','));
    for (const x of r.reasons) lines.push([x.reason, x.idle, x.samples, x.exits_seen, x.exits_per_s, x.share_exits].map(cell).join(','));
  } else {
    lines.push(['reason', 'idle', 'exits_seen', 'exits_handled', 'exits_per_s', 'share_exits', 'total_ns', 'share_host', ...STATS, 'rsd_mean_pct'].join(','));
    for (const x of r.reasons) {
      lines.push([x.reason, x.idle, x.exits_seen, x.exits_handled, x.exits_per_s, x.share_exits, x.total_ns, x.share_host, ...STATS.map((k) => x[k]), x.rsd_mean_pct].map(cell).join(','));
    }
  }
  return lines.join('\n') + '\n';
}

/** The issue-17 tables: userspace (per reason and key), handling (per reason and vCPU), rip, gpa. */
function issue17Csv(r: Report, which: string): string | undefined {
  const out = (head: string[], rows: unknown[][]) => [head.join(','), ...rows.map((x) => x.map(cell).join(','))].join('\n') + '\n';
  const unavailable = (name: string, reason: string) => out(['section', 'available', 'reason'], [[name, false, reason]]);
  if (which === 'userspace' && r.userspace) {
    const u = r.userspace;
    if (!u.available) return unavailable(which, u.reason);
    const row = (kind: string, x: typeof u.reasons[number]) => [kind, x.key, x.exits_handled, x.total_ns, x.to_userspace, x.in_kernel_ns, x.userspace_ns];
    return out(['by', 'key', 'exits_handled', 'total_ns', 'to_userspace', 'in_kernel_ns', 'userspace_ns'], [...u.reasons.map((x) => row('reason', x)), ...u.keys.map((x) => row('key', x))]);
  }
  if (which === 'handling' && r.handling) {
    const h = r.handling;
    if (!h.available) return unavailable(which, h.reason);
    const cols = (x: typeof h.totals) => [x.exits_handled, x.total_ns, x.on_cpu_ns, x.preempted_ns, x.vmm_ns, x.halted_ns, x.preempted_exits];
    return out(['by', 'key', 'vcpu', 'tid', 'exits_handled', 'total_ns', 'on_cpu_ns', 'preempted_ns', 'vmm_ns', 'halted_ns', 'preempted_exits'],
      [['all', 'all', null, null, ...cols(h.totals)], ...h.reasons.map((x) => ['reason', x.key, null, null, ...cols(x)]), ...h.vcpus.map((x) => ['vcpu', x.key, x.vcpu, x.tid, ...cols(x)])]);
  }
  if (which === 'rip' && r.rips) {
    return out(['reason', 'rip', 'symbol', 'exits', 'total_ns'], r.rips.reasons.flatMap((g) => g.top.map((x) => [g.reason, x.rip, x.symbol, x.exits, x.total_ns])));
  }
  if (which === 'gpa' && r.gpas) {
    return out(['page', 'exits', 'total_ns'], r.gpas.pages.map((x) => [x.gpa, x.exits, x.total_ns]));
  }
  return undefined;
}
