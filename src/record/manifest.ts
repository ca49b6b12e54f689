/**
 * The host manifest: what a lever's preconditions depend on and the trace does not say, snapshot by
 * `kvmtax record` beside its trace.dat (FILE.manifest.json) and shown by `kvmtax report`.
 *
 *   kernel command line: isolcpus, nohz_full, mitigations    /proc/cmdline, /sys/devices/system/cpu/{isolated,nohz_full}
 *   CPU vulnerabilities / mitigations                         /sys/devices/system/cpu/vulnerabilities/*
 *   virtualization features                                   /proc/cpuinfo flags (svm, avic, x2avic, vnmi...) and "vmx flags"
 *   kvm, kvm_intel, kvm_amd module parameters                 /sys/module/<m>/parameters/*
 *   VMM processes: command line, threads (tid, comm, tgid, affinity, last CPU)   /proc/PID/{cmdline,task/TID/{comm,status,stat}}
 *
 * VMMs are the --pid processes, else every process holding a KVM VM file descriptor (anon_inode:kvm-vm).
 * saved_tgids only knows threads that switched while tracing; a pinned vCPU thread may never switch, so the
 * tid -> tgid/comm table here fills the gap.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { oneLine } from '../core/errors.js';

export interface ThreadInfo { tid: number; comm: string; cpus_allowed: string; last_cpu: number | null; vcpu: number | null }
export interface VmmInfo { pid: number; comm: string; cmdline: string[]; threads: ThreadInfo[] }

export interface Manifest {
  kvmtax_manifest: 1;
  taken_at: string;
  host: {
    hostname: string; uname: string; cpus: number; kernel_cmdline: string;
    isolcpus: string | null; nohz_full: string | null; isolated: string | null; nohz_full_cpus: string | null;
    mitigations: string | null; cpu_model: string | null;
  };
  virtualization: { flags: string[]; vmx_flags: string[] };
  vulnerabilities: Record<string, string>;
  modules: Record<string, Record<string, string>>;
  vmms: VmmInfo[];
  recording?: Record<string, unknown>;
  /** KVM's statistics of each VM (debugfs kvm/<pid>-<fd>), their change between the first and last sample while recording */
  kvm_stats?: Record<string, { pid: number; source: string; from_s: number; to_s: number; delta: Record<string, number> }>;
}

/** What the trace says of one VM, to set beside KVM's own statistics. */
export interface TraceFigures { exits: number; halts: number; attempted: number; successful: number }

/** Flags of /proc/cpuinfo that say what the CPU offers KVM. */
const VIRT_FLAGS = ['vmx', 'svm', 'avic', 'x2avic', 'vnmi', 'npt', 'nrip_save', 'vgif', 'v_vmsave_vmload', 'pausefilter',
  'pfthreshold', 'lbrv', 'tsc_scale', 'vmcb_clean', 'flushbyasid', 'decodeassists', 'ept', 'vpid', 'flexpriority',
  'tpr_shadow', 'vnmi', 'x2apic', 'tsc_deadline_timer', 'hypervisor', 'constant_tsc', 'nonstop_tsc', 'mwait', 'monitor', 'waitpkg'];

function readOr(f: string, dflt: string | null = null): string | null {
  try { return fs.readFileSync(f, 'utf8').replace(/\n$/, ''); } catch { return dflt; }
}

function cmdlineParam(cmdline: string, name: string): string | null {
  const m = new RegExp(`(?:^|\\s)${name}=(\\S+)`).exec(cmdline);
  return m ? m[1]! : null;
}

/** Processes holding a KVM VM (anon_inode:kvm-vm) among /proc/*. */
export function findVmms(proc = '/proc'): number[] {
  const out: number[] = [];
  let names: string[] = [];
  try { names = fs.readdirSync(proc); } catch { return out; }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    let fds: string[];
    try { fds = fs.readdirSync(path.join(proc, n, 'fd')); } catch { continue; }
    for (const fd of fds) {
      let l = '';
      try { l = fs.readlinkSync(path.join(proc, n, 'fd', fd)); } catch { continue; }
      if (l === 'anon_inode:kvm-vm') { out.push(Number(n)); break; }
    }
  }
  return out;
}

/** pid and its descendants (from /proc/N/stat parent pids), pid first. */
export function descendants(pid: number, proc = '/proc'): number[] {
  const kids = new Map<number, number[]>();
  let names: string[] = [];
  try { names = fs.readdirSync(proc); } catch { return [pid]; }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const st = readOr(path.join(proc, n, 'stat'), '') ?? '';
    const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
    if (Number.isFinite(ppid)) { const l = kids.get(ppid) ?? []; l.push(Number(n)); kids.set(ppid, l); }
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length && out.length < 10000) { const p = todo.shift()!; out.push(p); todo.push(...(kids.get(p) ?? [])); }
  return out;
}

export function vmmInfo(pid: number, proc = '/proc'): VmmInfo | undefined {
  const base = path.join(proc, String(pid));
  const comm = readOr(path.join(base, 'comm'));
  if (comm === null) return undefined;
  const cmdline = (readOr(path.join(base, 'cmdline'), '') ?? '').split('\0').filter((x, i, a) => x !== '' || i < a.length - 1);
  const threads: ThreadInfo[] = [];
  let tids: string[] = [];
  try { tids = fs.readdirSync(path.join(base, 'task')).filter((t) => /^\d+$/.test(t)); } catch { /* gone */ }
  for (const t of tids.sort((a, b) => Number(a) - Number(b))) {
    const tb = path.join(base, 'task', t);
    const tcomm = readOr(path.join(tb, 'comm'), '') ?? '';
    const status = readOr(path.join(tb, 'status'), '') ?? '';
    const stat = readOr(path.join(tb, 'stat'), '') ?? '';
    // stat: "tid (comm) state ..." — fields after the last ')' ; processor is field 39
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const lastCpu = after.length > 36 ? Number(after[36]) : NaN;
    const vm = /^CPU (\d+)\/KVM$/.exec(tcomm);
    threads.push({
      tid: Number(t), comm: tcomm, cpus_allowed: /^Cpus_allowed_list:\s*(.*)$/m.exec(status)?.[1] ?? '',
      last_cpu: Number.isFinite(lastCpu) ? lastCpu : null, vcpu: vm ? Number(vm[1]) : null,
    });
  }
  return { pid, comm, cmdline, threads };
}

export interface ManifestOptions { pids?: number[]; proc?: string; sys?: string }

export function snapshotManifest(o: ManifestOptions = {}): Manifest {
  const proc = o.proc ?? '/proc';
  const sys = o.sys ?? '/sys';
  const cmdline = readOr(path.join(proc, 'cmdline'), '') ?? '';
  const cpuinfo = readOr(path.join(proc, 'cpuinfo'), '') ?? '';
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '').split(/\s+/));
  const vmxFlags = (/^vmx flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '').split(/\s+/).filter(Boolean);
  const vulnerabilities: Record<string, string> = {};
  const vdir = path.join(sys, 'devices/system/cpu/vulnerabilities');
  try { for (const f of fs.readdirSync(vdir).sort()) vulnerabilities[f] = readOr(path.join(vdir, f), '') ?? ''; } catch { /* none */ }
  const modules: Record<string, Record<string, string>> = {};
  for (const m of ['kvm', 'kvm_intel', 'kvm_amd']) {
    const d = path.join(sys, 'module', m, 'parameters');
    let names: string[];
    try { names = fs.readdirSync(d).sort(); } catch { continue; }
    modules[m] = {};
    for (const n of names) { const v = readOr(path.join(d, n)); if (v !== null) modules[m]![n] = v; }
  }
  const pids = o.pids ?? findVmms(proc);
  const vmms = pids.map((p) => vmmInfo(p, proc)).filter((v): v is VmmInfo => v !== undefined);
  return {
    kvmtax_manifest: 1,
    taken_at: new Date().toISOString(),
    host: {
      hostname: os.hostname(), uname: `${os.type()} ${os.hostname()} ${os.release()} ${os.version()} ${os.machine()}`,
      cpus: os.cpus().length, kernel_cmdline: cmdline,
      isolcpus: cmdlineParam(cmdline, 'isolcpus'), nohz_full: cmdlineParam(cmdline, 'nohz_full'),
      isolated: readOr(path.join(sys, 'devices/system/cpu/isolated')), nohz_full_cpus: readOr(path.join(sys, 'devices/system/cpu/nohz_full')),
      mitigations: cmdlineParam(cmdline, 'mitigations'), cpu_model: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? null,
    },
    virtualization: { flags: VIRT_FLAGS.filter((f, i) => flags.has(f) && VIRT_FLAGS.indexOf(f) === i), vmx_flags: vmxFlags },
    vulnerabilities, modules, vmms,
  };
}

export function manifestPath(trace: string): string { return `${trace}.manifest.json`; }

export function writeManifest(file: string, m: Manifest): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  try {
    fs.writeFileSync(tmp, JSON.stringify(m, null, 2) + '\n');
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Manifests already said to be unreadable (a report reads each up to three times). */
const unreadable = new Set<string>();

/**
 * The manifest beside a trace, if kvmtax record wrote one (undefined when absent or not ours). One that is
 * there but cannot be read as ours is left out with a warning on stderr, once: the report then lacks its lines.
 */
export function readManifest(trace: string): Manifest | undefined {
  let t: string | undefined;
  let file = '';
  // beside the trace, or beside its uncompressed name (run.dat.xz: run.dat.manifest.json)
  for (const f of [manifestPath(trace), manifestPath(trace.replace(/\.(xz|gz)$/, ''))]) {
    try { t = fs.readFileSync(f, 'utf8'); file = f; break; } catch { /* next */ }
  }
  if (t === undefined) return undefined;
  let why: string;
  try {
    const m = JSON.parse(t) as Manifest;
    if (m && m.kvmtax_manifest === 1) return m;
    why = 'no "kvmtax_manifest": 1 in it';
  } catch (e) {
    why = `not JSON: ${oneLine((e as Error).message)}`;
  }
  if (!unreadable.has(file)) {
    unreadable.add(file);
    process.stderr.write(`kvmtax: warning: ${oneLine(file)}: not read as kvmtax record's manifest (${why}): its lines are left out\n`);
  }
  return undefined;
}

/** The parts of a report the manifest lines set beside KVM's statistics. */
export interface ReportLike {
  vms?: { pid: number | null; file?: string; vcpus: { exits_seen: number }[] }[];
  halt?: { vcpus?: { pid: number | null; halts: number; halt_attempted_poll: number; halt_successful_poll: number }[] };
}

/** Names from the host are data: no terminal control characters. */
function clean(s: string): string { return s.replace(/[\x00-\x1f\x7f-\x9f]/g, '?'); }

/** Text lines for the report: the levers' preconditions at a glance. */
export function manifestLines(trace: string, m: Manifest, figures?: (pid: number) => TraceFigures | undefined): string[] {
  const h = m.host;
  const kvm = m.modules.kvm ?? {};
  const arch = m.modules.kvm_amd ?? m.modules.kvm_intel ?? {};
  const pick = (o: Record<string, string>, ks: string[]): string => ks.filter((k) => k in o).map((k) => `${k}=${clean(o[k]!)}`).join(' ');
  const lines = [
    `Host manifest (beside ${clean(path.basename(trace))}, taken ${m.taken_at})`,
    `  kernel: ${clean(h.uname)}; isolcpus=${h.isolcpus ?? '-'} nohz_full=${h.nohz_full ?? '-'} mitigations=${h.mitigations ?? '(default)'}`,
    `  kvm: ${pick(kvm, ['halt_poll_ns', 'halt_poll_ns_grow', 'halt_poll_ns_shrink', 'enable_pmu', 'lapic_timer_advance']) || '(module parameters not readable)'}`,
  ];
  const a = pick(arch, ['enable_apicv', 'avic', 'x2avic', 'ple_gap', 'ple_window', 'pause_filter_count', 'pause_filter_thresh', 'vnmi', 'ipiv', 'preemption_timer', 'nested']);
  if (a) lines.push(`  ${m.modules.kvm_amd ? 'kvm_amd' : 'kvm_intel'}: ${a}`);
  lines.push(`  CPU: ${clean(h.cpu_model ?? '?')}; virtualization flags: ${m.virtualization.flags.join(' ') || '-'}${m.virtualization.vmx_flags.length ? `; vmx flags: ${m.virtualization.vmx_flags.filter((f) => /apicv|posted|ipiv|vnmi|preemption/.test(f)).join(' ')}` : ''}`);
  for (const v of m.vmms) {
    const vcpus = v.threads.filter((t) => t.vcpu !== null);
    const pins = vcpus.map((t) => `vcpu${t.vcpu}:${t.cpus_allowed}`).join(' ');
    lines.push(`  VMM ${v.pid} ${clean(v.comm)}: ${v.threads.length} threads, ${vcpus.length} vCPU threads${pins ? ` (affinity ${clean(pins)})` : ''}`);
    lines.push(`    ${clean(v.cmdline.join(' ')).slice(0, 200)}`);
  }
  const r = m.recording as { lost?: { overrun: number; dropped: number }; stopped_by?: string; missing_events?: string[] } | undefined;
  for (const [k, st] of Object.entries(m.kvm_stats ?? {})) {
    const d = st.delta;
    const f = figures?.(st.pid);
    lines.push(`  KVM stats of VM ${k} (debugfs, ${st.from_s.toFixed(1)}-${st.to_s.toFixed(1)} s into the recording): exits ${d.exits ?? '-'}, halt_wakeup ${d.halt_wakeup ?? '-'}, halt_attempted_poll ${d.halt_attempted_poll ?? '-'}, halt_successful_poll ${d.halt_successful_poll ?? '-'}`);
    if (f) lines.push(`    the trace, whole recording: exits ${f.exits}, halts ${f.halts}, halt_attempted_poll ${f.attempted}, halt_successful_poll ${f.successful}`);
  }
  if (r?.lost) lines.push(`  recording: lost events ${r.lost.overrun + r.lost.dropped} (overrun ${r.lost.overrun}, dropped ${r.lost.dropped}); stopped by ${r.stopped_by ?? '?'}${r.missing_events?.length ? `; missing events: ${r.missing_events.join(', ')}` : ''}`);
  return lines;
}

/**
 * The report hook: the host manifests of `kvmtax record` beside the traces, appended to a table or
 * Markdown report, or a "manifests" member of the JSON one (by trace). No manifest: the text unchanged.
 */
export function withManifests(text: string, traces: string[], format: string, report?: ReportLike): string {
  const found = traces.map((t) => [t, readManifest(t)] as const).filter((x): x is readonly [string, Manifest] => x[1] !== undefined);
  if (found.length === 0) return text;
  if (format === 'json') return JSON.stringify({ ...JSON.parse(text), manifests: Object.fromEntries(found) }, null, 2) + '\n';
  if (format !== 'table' && format !== 'md') return text;
  const figures = (trace: string) => (pid: number): TraceFigures | undefined => {
    const vm = report?.vms?.find((v) => v.pid === pid && (v.file === undefined || v.file === trace));
    if (!vm) return undefined;
    const halt = (report?.halt?.vcpus ?? []).filter((h) => h.pid === pid);
    return {
      exits: vm.vcpus.reduce((s, v) => s + v.exits_seen, 0), halts: halt.reduce((s, h) => s + h.halts, 0),
      attempted: halt.reduce((s, h) => s + h.halt_attempted_poll, 0), successful: halt.reduce((s, h) => s + h.halt_successful_poll, 0),
    };
  };
  const body = found.flatMap(([t, m]) => manifestLines(t, m, figures(t))).join('\n');
  return text.replace(/\n*$/, '\n\n') + (format === 'md' ? '```\n' + body + '\n```\n' : body + '\n');
}
