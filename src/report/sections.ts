/**
 * The report as titled tables of display strings, shared by the terminal and Markdown renderers
 * (CSV and JSON use the raw numbers instead).
 */
import type { Report, Stats, Who } from '../analysis/types.js';
import { buildNested } from '../analysis/nested.js';
import { buildLevers } from '../analysis/levers/index.js';
import { leverTables } from './levers.js';

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
  /** the per-VM reason table even with one VM (--by vm); with several VMs it is always shown */
  byVm?: boolean;
  top?: number;
  /** which sections to show (SECTION_NAMES); default: DEFAULT_SECTIONS */
  sections?: Set<string>;
}

/** 'levers' is shown only when named (--sections levers, or kvmtax advise) */
export const SECTION_NAMES = ['summary', 'exits', 'vcpus', 'halt', 'timers', 'ipi', 'msr', 'port', 'mmio', 'sched', 'levers', 'top', 'quality', 'userspace', 'handling', 'nested', 'exitcost', 'rip', 'gpa', 'arm64'];
export const DEFAULT_SECTIONS = ['summary', 'exits', 'vcpus', 'halt', 'timers', 'ipi', 'sched', 'top', 'quality'];
/** The default view also shows 'arm64', which has tables only in arm64 reports (report.arm64 is absent elsewhere). */
export const defaultSections = (): Set<string> => new Set([...DEFAULT_SECTIONS, 'arm64']);

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

const vcpuName = (w: Who) => `${w.pid === null ? '' : `${w.pid}/`}${w.vcpu === null ? '?' : w.vcpu} (${w.tid})`;
const p5099 = (s: Stats, u: 'ns' | 'cycles' = 'ns') => (s.p50_ns === null ? '-' : `${dur(s.p50_ns, u)} / ${dur(s.p99_ns, u)}`);
const cnt = (n: number | null) => (n === null ? '-' : String(n));
/** "3" for a pinned thread, "0,1 (5 moves)" for one that moved; 63 stands for 63 and up. */
const cpuList = (cpus: number[], moves: number) => (cpus.length === 0 ? '-' : cpus.map((c) => (c === 63 ? '63+' : String(c))).join(',') + (moves > 0 ? ` (${moves} moves)` : ''));

export function sections(r: Report, v: ViewOptions = {}): Table[] {
  const show = v.sections ?? defaultSections();
  if (v.byVcpu) show.add('vcpus');
  const out: Table[] = [];
  const u = r.unit;
  const t = r.totals;
  const files = r.inputs.map((f) => `${f.file} (${f.format}${f.compression ? `, ${f.compression}` : ''}, ${f.events} events)`);

  // ---- headline ----
  const lead: string[] = [...files.map((f) => `input: ${f}`)];
  if (r.sampled) {
    lead.push(`ESTIMATED: ${r.sampled.estimated_exits} exits estimated from ${r.sampled.samples} kvm_exit samples (sampled recording); handling times, guest time and the exit tax are withheld` +
      (t.exits_per_s !== null ? `; about ${rate(t.exits_per_s)} exits/s` : ''));
  } else if (r.quality.exit_entry_present) {
    lead.push(
      `exit tax ${pct(t.tax)} of vCPU wall time is exit-handling overhead; ${pct(t.halted_share)} halted (HLT: polling and blocked, idle); ${pct(t.guest_share)} in guest mode`,
      `host time ${dur(t.host_ns, u)} = halted ${dur(t.halted_ns, u)} + overhead ${dur(t.overhead_ns, u)}; vCPU wall time ${dur(t.wall_ns, u)}; ${t.exits_handled} of ${t.exits_seen} exits handled` +
        (t.exits_per_s !== null ? `, ${rate(t.exits_per_s)} exits/s` : ''),
    );
  }
  for (const n of r.notes) lead.push(`note: ${n}`);
  if (show.has('summary')) out.push({ title: `kvmtax ${r.kvmtax.version} report`, lead, header: [], align: '', rows: [] });

  // ---- per reason ----
  if (show.has('exits') && r.reasons.length && r.sampled) {
    out.push({
      title: 'Exit reasons, ESTIMATED from samples (all VMs, all vCPUs)',
      header: ['reason', 'samples', 'est. exits', 'est. exits/s', 'exits%'],
      align: 'lrrrr',
      rows: r.reasons.map((x) => [x.reason + (x.idle ? ' (idle)' : ''), String(x.samples ?? '-'), `~${x.exits_seen}`, x.exits_per_s === null ? '-' : `~${rate(x.exits_per_s)}`, pct(x.share_exits)]),
      foot: [`total: ~${t.exits_seen} exits estimated from ${r.sampled.samples} samples (Σ PERIOD); handling times withheld`],
    });
  } else if (show.has('exits') && r.reasons.length) {
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
  // a VM the trace gives no process for is "unknown VM" in its rows, and why is said once, below
  const unknownVm = r.vms.some((vm) => vm.pid === null);
  for (const vm of r.vms) {
    for (const c of vm.vcpus) {
      vrows.push([
        vm.pid === null ? 'unknown VM' : vm.name, c.vcpu === null ? '?' : String(c.vcpu), String(c.tid), c.comm ?? '?', cpuList(c.cpus, c.migrations), String(c.exits_seen), rate(c.exits_per_s),
        pct(c.guest_share), pct(c.halted_share), pct(c.tax), dur(c.host_ns, u), dur(c.overhead_ns, u),
        c.top_reasons.map((x) => `${x.reason} ${dur(x.total_ns, u)}`).join(', ') || (c.kvm_events ? `(${c.kvm_events} other kvm events)` : '-'),
      ]);
    }
  }
  if (show.has('vcpus') && vrows.length) {
    out.push({
      title: 'vCPUs (grouped by VM)',
      header: ['VM', 'vcpu', 'tid', 'comm', 'host CPUs', 'exits', 'exits/s', 'guest%', 'halted%', 'tax%', 'host', 'overhead', 'top reasons (time)'],
      align: 'lrrllrrrrrrrl',
      rows: vrows,
      foot: ['tax% = exit-handling time that is not HLT (idle), as a share of the vCPU thread\'s wall time (its first to its last exit or entry, leaving out any jump back of the clock)',
        ...r.inputs.filter((f) => f.meta?.processes_from).map((f) => `VMs of ${f.file}: threads' processes from ${f.meta!.processes_from}`),
        ...(unknownVm ? ['unknown VM: the trace does not say which process each thread belongs to (record with the record-tgid option, or keep sched events and saved cmdlines)'] : [])],
    });
  }

  // ---- per VM x reason (perf kvm stat report -p PID, for every VM at once) ----
  const vmsWithExits = r.vms.filter((vm) => (vm.reasons ?? []).length > 0);
  if ((v.byVm || (show.has('vcpus') && vmsWithExits.length > 1)) && vmsWithExits.length) {
    const rows: string[][] = [];
    for (const vm of vmsWithExits) {
      for (const x of vm.reasons ?? []) {
        rows.push([vm.pid === null ? 'unknown VM' : vm.name, x.reason, String(x.exits_seen), String(x.exits_handled), dur(x.total_ns, u), pct(x.share_host),
          dur(x.mean_ns, u), dur(x.p50_ns, u), dur(x.p99_ns, u), dur(x.max_ns, u)]);
      }
    }
    out.push({
      title: 'Exit reasons per VM', header: ['VM', 'reason', 'seen', 'handled', 'total', 'host%', 'mean', 'p50', 'p99', 'max'], align: 'llrrrrrrrr', rows,
      foot: ['host% = share of the VM\'s host time; as perf kvm stat report -p PID gives for one VM'],
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

  extraSections(r, show, out);
  if (show.has('levers')) out.push(...leverTables(buildLevers(r)));

  // ---- slowest exits ----
  if (show.has('top') && r.top.length) {
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
        (un.backwards ? `, ${un.backwards} entries earlier than their exit` : '') + (un.lost_resets ? `, ${un.lost_resets} pairings dropped at lost-event gaps` : '') + (un.jump_resets ? `, ${un.jump_resets} exits left unpaired where the clock jumped back` : '')
      : q.skipped.some((s) => s.kind === 'kvm-line-not-understood' || s.kind === 'exit-without-reason' || s.kind === 'bad-entry')
        ? 'kvm_exit/kvm_entry: present but not understood (see the skipped lines): no exit could be read'
        : 'kvm_exit/kvm_entry: absent from this trace',
    ...r.inputs.filter((f) => (f.segments?.length ?? 0) > 1).map((f) => {
      const g = f.segments!;
      return `pasted captures: ${f.file} holds ${f.segment_count ?? g.length} time segments${f.segment_count ? ` (the first ${g.length} listed)` : ''} (time goes back at ${g.slice(1).map((x) => `line ${x.line}`).join(', ')}); ` +
        `their spans ${g.map((x) => dur(x.last_ts - x.first_ts, u)).join(', ')}; each thread is timed within its own segment`;
    }),
    `lost events: ${q.lost.markers ? `${q.lost.markers} markers, ${q.lost.events} events` : 'none reported'}`,
  ];
  if (q.skipped.length === 0) ql.push('skipped lines: none');
  for (const s of q.skipped) ql.push(`skipped: ${s.count} x ${s.what} (${s.kind}), first at ${s.first}: ${JSON.stringify(s.excerpt)}`);
  if (show.has('quality')) out.push({ title: 'Data quality', lead: ql, header: [], align: '', rows: [] });
  return out;
}

function unavailable(title: string, x: { reason: string }): Table {
  return { title, lead: [`not available: ${x.reason}`], header: [], align: '', rows: [] };
}

/** Halt polling, timers, IPIs, MSR / port / MMIO keys and scheduling. */
function extraSections(r: Report, show: Set<string>, out: Table[]): void {
  const u = r.unit;
  if (show.has('rip') && r.rips) {
    const rp = r.rips;
    const name = (x: { rip: string; symbol: string | null }) => (x.symbol ? `${x.rip} ${x.symbol}` : x.rip);
    out.push({
      title: 'Guest RIPs by exit reason', lead: [rp.note],
      header: ['reason', 'rip', 'exits', 'total', 'share of reason'], align: 'llrrr',
      rows: rp.reasons.flatMap((g) => g.top.map((x) => [g.reason, name(x), String(x.exits), dur(x.total_ns, u), `${((100 * x.exits) / g.exits).toFixed(1)}%`])),
    });
    out.push({
      title: 'Guest RIPs by vCPU', header: ['vcpu', 'tid', 'reason', 'rip', 'exits', 'total'], align: 'rrllrr',
      rows: rp.vcpus.flatMap((g) => g.top.slice(0, 3).map((x) => [g.vcpu === null ? '?' : String(g.vcpu), String(g.tid), g.reason, name(x), String(x.exits), dur(x.total_ns, u)])),
    });
  }
  if (show.has('gpa') && r.gpas) {
    const g = r.gpas;
    out.push({
      title: `NPF / EPT violation exits by guest-physical page (${g.distinct_pages} pages)`, lead: [g.note], header: ['page', 'exits', 'total'], align: 'lrr',
      rows: g.pages.map((x) => [x.gpa, String(x.exits), dur(x.total_ns, u)]),
    });
    out.push({
      title: 'NPF / EPT violation pages by vCPU', header: ['vcpu', 'tid', 'page', 'exits', 'total'], align: 'rrlrr',
      rows: g.vcpus.flatMap((v) => v.top.map((x) => [v.vcpu === null ? '?' : String(v.vcpu), String(v.tid), x.gpa, String(x.exits), dur(x.total_ns, u)])),
    });
  }
  if (show.has('nested')) {
    const ns = buildNested(r);
    if (!ns.available) out.push(unavailable('Nested virtualization', ns));
    else if (!ns.per_reason) out.push({
      title: 'Nested virtualization (L2 exits seen by L0)', lead: [ns.note], header: ['L2 exits', 'handled by L0', 'reflected to L1', 'L2 entries'], align: 'rrrr',
      rows: [[String(ns.l2_exits), String(ns.handled_by_l0), String(ns.reflected_to_l1), String(ns.l2_entries)]],
    });
    else {
      const avg = (ns_: number, n: number) => (n > 0 ? dur(ns_ / n, u) : '-');
      const lead = [
        `${ns.l2_exits} L2 exits: ${ns.handled_by_l0} handled by L0 (${dur(ns.handled_by_l0_ns, u)}), ${ns.reflected_to_l1} reflected to L1 (${dur(ns.reflected_ns, u)} until L2 ran again, over ${ns.reflected_timed} timed, ${ns.l1_exits_inside} L1 exits inside); ${ns.l2_entries} L2 entries`,
        ns.note,
        ...(ns.reflected_cut ? [`${ns.reflected_cut} reflected exits were followed by another L2 exit before any L2 entry was seen (not timed)`] : []),
        ...(ns.reflected_without_l2_exit ? [`${ns.reflected_without_l2_exit} kvm_nested_vmexit_inject with no L2 exit in flight (exits L0 made up for L1, e.g. an interrupt): not in the rows`] : []),
      ];
      out.push({
        title: 'Nested virtualization: L2 exits by reason, handled by L0 vs reflected to L1', lead,
        header: ['reason', 'L2 exits', 'by L0', 'L0 time', 'L0 avg', 'to L1', 'to L1 time', 'to L1 avg', 'L1 exits inside'], align: 'lrrrrrrrr',
        rows: ns.reasons.map((x) => [x.reason, String(x.l2_exits), String(x.handled_by_l0), dur(x.handled_by_l0_ns, u), avg(x.handled_by_l0_ns, x.handled_by_l0),
          String(x.reflected_to_l1), dur(x.reflected_ns, u), avg(x.reflected_ns, x.reflected_timed), String(x.l1_exits_inside)]),
      });
      const refl = ns.reasons.filter((x) => x.split_timed > 0);
      if (refl.length) out.push({
        title: 'Reflected exits: where the time until L2 runs again goes (averages per exit)',
        lead: ['to L1: L0 reflects the exit (L2 exit -> kvm_entry into L1); in L1: L1 handles it, its own exits included, until its VMRUN/VMRESUME exits; back to L2: L0 emulates that VMRUN (-> kvm_entry into L2)'],
        header: ['reason', 'split', 'to L1', 'in L1', 'back to L2', 'in L1 %'], align: 'lrrrrr',
        rows: refl.map((x) => {
          const n = x.split_timed, t = x.to_l1_ns + x.in_l1_ns + x.back_to_l2_ns;
          return [x.reason, String(n), dur(x.to_l1_ns / n, u), dur(x.in_l1_ns / n, u), dur(x.back_to_l2_ns / n, u), t > 0 ? `${((100 * x.in_l1_ns) / t).toFixed(1)}%` : '-'];
        }),
      });
    }
  }
  if (show.has('exitcost')) {
    const ec = r.exitcost;
    if (!ec) out.push(unavailable('Hardware VM-exit cost (estimate)', { reason: 'unknown CPU model: no estimate' }));
    else out.push({
      title: 'Hardware VM-exit cost (a stated estimate, not in any figure above)',
      lead: [ec.note, ...ec.hosts.flatMap((h) => [`${h.file}: ${h.note}; CPU model from ${h.from}`, ...h.mitigations.map((m) => `  at the transitions (not costed): ${m}`)])],
      header: ['input', 'CPU model', 'exits', 'cycles/exit', 'estimate (cycles)'], align: 'llrrr',
      rows: ec.hosts.map((h) => [h.file, h.cpu_model ?? 'unknown', String(h.exits), h.cycles_per_exit === null ? '-' : String(h.cycles_per_exit), h.estimate_cycles === null ? 'no estimate' : String(h.estimate_cycles)]),
    });
  }
  if (show.has('handling') && r.handling) {
    const hs = r.handling;
    if (!hs.available) out.push(unavailable('Where handling time goes', hs));
    else {
      const pct = (x: number, tot: number) => (tot > 0 ? `${((100 * x) / tot).toFixed(1)}%` : '-');
      const cells = (x: typeof hs.totals) => [String(x.exits_handled), dur(x.total_ns, u), dur(x.on_cpu_ns, u), dur(x.preempted_ns, u), dur(x.vmm_ns, u), dur(x.halted_ns, u), pct(x.on_cpu_ns + x.preempted_ns + x.vmm_ns, x.total_ns)];
      const header = ['handled', 'total', 'on-CPU', 'preempted', 'VMM', 'halted', 'taxed%'];
      const T = hs.totals;
      const lead = [
        `handling ${dur(T.total_ns, u)} = on-CPU ${dur(T.on_cpu_ns, u)} + preempted ${dur(T.preempted_ns, u)} (${T.preempted_exits} exits) + VMM ${dur(T.vmm_ns, u)} + halted ${dur(T.halted_ns, u)}`,
        hs.included,
        ...hs.missing.map((m) => `cannot separate: ${m}`),
      ];
      out.push({ title: 'Where handling time goes, by exit reason', lead, header: ['reason', ...header], align: 'lrrrrrrr', rows: hs.reasons.map((x) => [x.key, ...cells(x)]) });
      out.push({ title: 'Where handling time goes, by vCPU', header: ['vcpu', 'tid', ...header], align: 'rrrrrrrrr', rows: hs.vcpus.map((x) => [x.vcpu === null ? '?' : String(x.vcpu), String(x.tid), ...cells(x)]) });
    }
  }
  if (show.has('userspace') && r.userspace) {
    const us = r.userspace;
    if (!us.available) out.push(unavailable('Userspace round trips', us));
    else {
      const rowsOf = (rows: typeof us.reasons) => rows.map((x) => [x.key, String(x.exits_handled), dur(x.total_ns, u), String(x.to_userspace), dur(x.in_kernel_ns, u), dur(x.userspace_ns, u),
        x.total_ns > 0 ? `${((100 * x.userspace_ns) / x.total_ns).toFixed(1)}%` : '-']);
      const header = ['handled', 'total', 'to VMM', 'in kernel', 'in VMM', 'VMM%'];
      const lead = us.reasons.filter((x) => x.to_userspace > 0).slice(0, 3).map((x) => `${x.key}: ${dur(x.total_ns, u)}, of which ${dur(x.userspace_ns, u)} in the VMM (${x.to_userspace} of ${x.exits_handled} exits went to userspace)`);
      out.push({ title: 'Userspace round trips by exit reason', lead: [...lead, us.note], header: ['reason', ...header], align: 'lrrrrrr', rows: rowsOf(us.reasons) });
      if (us.keys.length) out.push({ title: 'Userspace round trips by port / MMIO / MSR key', header: ['key', ...header], align: 'lrrrrrr', rows: rowsOf(us.keys) });
    }
  }
  if (show.has('halt')) {
    const h = r.halt;
    if (!h.available) out.push(unavailable('Halt polling', h));
    else {
      const hints = h.vcpus.flatMap((c) => c.hints.map((x) => `hint: vCPU ${vcpuName(c)}: ${x}`));
      out.push({
        title: 'Halt polling (KVM\'s names: halt_attempted_poll, halt_successful_poll, ...)',
        lead: [`from: ${h.source.join(', ')}`, ...h.notes.map((n) => `note: ${n}`)],
        header: ['vCPU (pid/vcpu (tid))', 'halts', 'attempted_poll', 'successful_poll', 'poll_invalid', 'success%', 'waits', 'poll_success', 'wait+poll_fail', 'poll ok p50/p99', 'halt blocked p50/p99', 'window settled/max/mean', 'grow/shrink/flip'],
        align: 'lrrrrrrrrrrrr',
        rows: h.vcpus.map((c) => [
          vcpuName(c), String(c.halts), String(c.halt_attempted_poll), String(c.halt_successful_poll), String(c.halt_poll_invalid),
          pct(c.success_rate), String(c.wait_wakeups), dur(c.halt_poll_success_ns), dur(c.halt_wait_ns_plus_poll_fail_ns),
          p5099(c.poll_success), p5099(c.halt_blocked),
          c.window.known ? `${dur(c.window.settled_ns)} / ${dur(c.window.max_ns)} / ${dur(c.window.mean_ns)}` : 'not traced',
          `${c.window.grows}/${c.window.shrinks}/${c.window.flips}`,
        ]),
        foot: hints,
      });
      const split = h.vcpus.filter((c) => c.hlt_split);
      if (split.length) {
        out.push({
          title: 'HLT exits: handling time split into the halt (polling, blocked) and the rest',
          header: ['vCPU', 'HLT exits', 'HLT time', 'polling (woke in poll)', 'blocked (waited)', 'rest (exit handling)'],
          align: 'lrrrrr',
          rows: split.map((c) => [vcpuName(c), String(c.hlt_split!.exits_handled), dur(c.hlt_split!.total_ns, u), dur(c.hlt_split!.poll_ns), dur(c.hlt_split!.wait_ns), dur(c.hlt_split!.other_ns, u)]),
        });
      }
    }
  }
  if (show.has('timers')) {
    const t = r.timers;
    if (!t.available) out.push(unavailable('Timers', t));
    else {
      out.push({
        title: 'Timers',
        lead: [`from: ${t.source.join(', ')}`, ...t.notes.map((n) => `note: ${n}`),
          ...(t.exitless_timer_ns !== null ? [`an exitless timer would remove ${dur(t.exitless_timer_ns, u)} of host time (TSC-deadline writes + PREEMPTION_TIMER exits), ${pct(t.exitless_timer_share_of_overhead)} of the handling overhead`] : [])],
        header: ['vCPU', 'lapic early n', 'early p50/p99', 'late n', 'late p50/p99', 'TSC_DEADLINE writes', 'their exits', 'PREEMPTION_TIMER', 'its time', 'wakeup->entry p50/p99', 'sched_wakeup->entry p50/p99'],
        align: 'lrrrrrrrrrr',
        rows: t.vcpus.map((c) => {
          const l = c.lapic_expire;
          return [vcpuName(c), l ? String(l.early) : '-', l ? p5099(l.early_stats, l.unit) : '-', l ? String(l.late) : '-', l ? p5099(l.late_stats, l.unit) : '-',
            cnt(c.tsc_deadline_writes), c.tsc_deadline_exits_ns === null ? '-' : dur(c.tsc_deadline_exits_ns, u), cnt(c.preemption_timer_exits),
            c.preemption_timer_ns === null ? '-' : dur(c.preemption_timer_ns, u), c.wake_to_entry ? p5099(c.wake_to_entry, u) : '-',
            c.sched_wake_to_entry ? p5099(c.sched_wake_to_entry, u) : '-'];
        }),
      });
    }
  }
  if (show.has('ipi')) {
    const x = r.ipi;
    if (!x.available) out.push(unavailable('IPIs', x));
    else {
      out.push({
        title: 'IPIs',
        lead: [`from: ${x.source.join(', ')}`, ...x.notes.map((n) => `note: ${n}`),
          ...(x.exitless_ipi_ns !== null ? [`an exitless IPI would remove ${dur(x.exitless_ipi_ns, u)} of host time, ${pct(x.exitless_ipi_share_of_overhead)} of the handling overhead`] : [])],
        header: ['vCPU', 'x2APIC ICR writes', 'their exits', 'APIC_WRITE exits', 'their time'],
        align: 'lrrrr',
        rows: x.vcpus.map((c) => [vcpuName(c), cnt(c.icr_writes), c.icr_exits_ns === null ? '-' : dur(c.icr_exits_ns, u), cnt(c.apic_write_exits), c.apic_write_ns === null ? '-' : dur(c.apic_write_ns, u)]),
      });
    }
  }
  for (const [name, title] of [['msr', 'MSR accesses (kvm_msr)'], ['port', 'Port I/O (kvm_pio)'], ['mmio', 'MMIO (kvm_mmio)']] as const) {
    if (!show.has(name)) continue;
    const k = r[name];
    if (!k.available) { out.push(unavailable(title, k)); continue; }
    out.push({
      title: `${title}: exits and handling time per key, all vCPUs`,
      header: ['key', 'name', 'r/w', 'events', 'handled', 'total', 'mean', 'p50', 'p99', 'max'],
      align: 'lllrrrrrrr',
      rows: k.keys.map((x) => [x.key, x.name ?? '', x.dir, String(x.events), cnt(x.exits_handled), x.total_ns === null ? '-' : dur(x.total_ns, u), dur(x.mean_ns, u), dur(x.p50_ns, u), dur(x.p99_ns, u), dur(x.max_ns, u)]),
    });
  }
  if (show.has('arm64') && r.arm64) arm64Tables(r, out);
  if (show.has('sched')) {
    const x = r.sched;
    if (!x.available) out.push(unavailable('vCPU scheduling', x));
    else {
      out.push({
        title: 'vCPU scheduling (double scheduling)',
        lead: [`from: ${x.source.join(', ')}`, ...x.notes.map((n) => `note: ${n}`)],
        header: ['vCPU', 'switched in', 'slept', 'preempted in guest', 'preempted in host', 'run delay p50/p99', 'run delay max', 'PAUSE exits', 'PLE grow/shrink/last'],
        align: 'lrrrrrrrr',
        rows: x.vcpus.map((c) => [vcpuName(c), String(c.switched_in), String(c.slept), String(c.preempted_in_guest), String(c.preempted_in_host),
          p5099(c.run_delay, u), dur(c.run_delay.max_ns, u), cnt(c.pause_exits), c.ple_window ? `${c.ple_window.grows}/${c.ple_window.shrinks}/${c.ple_window.last}` : '-']),
      });
    }
  }
}

/** arm64 reports: the WFI / WFE split per vCPU (kvm_wfx_arm64) and the hypercalls per PSCI/SMCCC function id (kvm_hvc_arm64). */
function arm64Tables(r: Report, out: Table[]): void {
  const u = r.unit;
  const time = (x: number | null) => (x === null ? '-' : dur(x, u));
  const w = r.arm64!.wfx;
  const wTitle = 'arm64 WFx exits per vCPU (kvm_wfx_arm64): WFI is idle, a trapped WFE is overhead';
  if (!w.available) out.push(unavailable(wTitle, w));
  else {
    const unknown = w.vcpus.some((c) => c.unknown.events > 0);
    out.push({
      title: wTitle,
      lead: [`from: ${w.source.join(', ')}`],
      header: ['vCPU', 'WFI', 'WFI time', 'WFE', 'WFE time', 'unknown', 'unknown time', 'halts'],
      align: 'lrrrrrrr',
      rows: w.vcpus.map((c) => [vcpuName(c), String(c.wfi.events), time(c.wfi.total_ns), String(c.wfe.events), time(c.wfe.total_ns),
        String(c.unknown.events), time(c.unknown.total_ns), String(c.halts)]),
      foot: [
        'WFI / WFE: exits; WFI time is idle (HLT\'s place), WFE time overhead; halts = kvm_vcpu_wakeup: a WFI that polled or blocked (a trapped WFE only yields)',
        ...(unknown ? ['unknown: kvm_wfx_arm64 printed without telling WFI from WFE (trace-cmd 3.1 and perf 6.1 print "wf>c<")'] : []),
      ],
    });
  }
  const h = r.arm64!.hvc;
  const hTitle = 'arm64 hypercalls (kvm_hvc_arm64) per PSCI/SMCCC function id';
  if (!h.available) out.push(unavailable(hTitle, h));
  else {
    out.push({
      title: `${hTitle}, all vCPUs`,
      lead: [`from: ${h.source.join(', ')}`],
      header: ['function id', 'name', 'events', 'handled', 'total', 'mean', 'p50', 'p99', 'max'],
      align: 'llrrrrrrr',
      rows: h.functions.map((x) => [x.function_id, x.name ?? '', String(x.events), cnt(x.exits_handled), time(x.total_ns), dur(x.mean_ns, u), dur(x.p50_ns, u), dur(x.p99_ns, u), dur(x.max_ns, u)]),
    });
  }
}
