/**
 * Our Perfetto exports opened by Perfetto's own trace_processor (trace_processor_shell, built here from the
 * vendored v32.0 source by `npm run trace-processor`; src/export/trace-processor.ts starts it and queries it
 * over its HTTP RPC):
 *   - `kvmtax export --perfetto` of real captures (svm-A-baseline; the public HIP24 110k trace.dat from
 *     ../shared, two VMs' threads in one capture): the process/thread tree, per vCPU thread and exit reason
 *     the slice count and total duration against `kvmtax report -f json --by vcpu`, the counter tracks
 *     against the export's own figures and the report;
 *   - our Perfetto *inputs* (ftrace in Perfetto, written by test/support/perfetto-build.ts from svm-D-small):
 *     trace_processor's count of each kvm event against ours;
 *   - `kvmtax sql --engine perfetto`.
 * Without the shell (CI does not build it: ~15-25 min) every test here is skipped, and says so.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findShell, TraceProcessor, isPerfettoFile } from '../../src/export/trace-processor.js';
import { UNKNOWN_PID, EXIT_PREFIX, DEFAULT_BUCKET_NS } from '../../src/export/perfetto.js';
import { analyze } from '../../src/pipeline/analyze.js';
import { openSource } from '../../src/formats/source.js';
import { buildPerfetto, parseFtraceText, type BuildOptions } from '../support/perfetto-build.js';
import { ROOT, SHARED, TRACES } from '../support/paths.js';

const SHELL = findShell();
if (!SHELL) console.warn('note: trace_processor_shell not found (npm run trace-processor builds it): the trace_processor tests are SKIPPED');

const HIP_110K = path.join(SHARED, 'public-traces', 'hip24-masterarbeit', 'host-6.5.0-21-kvm-entry-exit-110k.trace.dat');
const HAVE_HIP = fs.existsSync(HIP_110K);
if (SHELL && !HAVE_HIP) console.warn('note: ../shared/public-traces/hip24-masterarbeit is absent: the two-VM trace_processor check is SKIPPED');

const BIN = path.join(ROOT, 'bin', 'kvmtax.js');
function kvmtax(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 28 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-tp-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface VcpuJson { vcpu: number | null; tid: number; comm: string | null; exits_handled: number; reasons: Array<{ reason: string; exits_handled: number; total_ns: number }> }
interface VmJson { pid: number | null; name: string; vcpus: VcpuJson[] }

/** How the export names a vCPU thread and its counter tracks (src/export/perfetto.ts threadName()). */
const who = (c: VcpuJson) => (c.vcpu !== null ? `vcpu ${c.vcpu}` : `tid ${c.tid}`);
const threadName = (c: VcpuJson) => (c.comm ? `${who(c)} (${c.comm})` : who(c));

/** Export `trace` with the CLI, report it with the CLI, open the export in trace_processor and check it. */
function exportChecks(label: string, trace: () => string, extra: string[] = []) {
  let tp: TraceProcessor;
  let vms: VmJson[];
  let exported: { exits: number; counterValues: number; threads: number; processes: number; halts: number };
  beforeAll(async () => {
    const out = path.join(dir, `${label}.pftrace`);
    const e = kvmtax(['export', trace(), '--perfetto', out, ...extra]);
    expect(e.code, e.err).toBe(0);
    const m = /(\d+) VM, (\d+) vCPU threads, (\d+) exits, (\d+) halts, \d+ instants, (\d+) counter values/.exec(e.err);
    expect(m, e.err).not.toBeNull();
    exported = { processes: Number(m![1]), threads: Number(m![2]), exits: Number(m![3]), halts: Number(m![4]), counterValues: Number(m![5]) };
    const r = kvmtax(['report', trace(), '-f', 'json', '--by', 'vcpu', ...extra]);
    expect(r.code, r.err).toBe(0);
    vms = JSON.parse(r.out).vms;
    tp = await TraceProcessor.open(out, { shell: SHELL });
  }, 300_000);
  afterAll(async () => { await tp?.close(); });

  it('one process per VM, one thread per vCPU thread, named as in the report', async () => {
    const procs = await tp.query('SELECT pid, name FROM process WHERE pid != 0 ORDER BY pid');
    // the export names a process as the report does, less the "(pid N)" its pid column already says
    const procName = (v: VmJson) => (v.pid === null ? 'unknown VM' : v.name.replace(/ \(pid -?\d+\)$/, ''));
    expect(procs.rows).toEqual(vms.map((v) => [v.pid ?? UNKNOWN_PID, procName(v)]).sort((a, b) => Number(a[0]) - Number(b[0])));
    expect(procs.rows.length).toBe(exported.processes);
    // every thread trace_processor has (tid 0 is its swapper placeholder), with its process
    const threads = await tp.query('SELECT t.tid, t.name, p.pid FROM thread t LEFT JOIN process p USING (upid) WHERE t.tid != 0 ORDER BY t.tid');
    const want = vms.flatMap((v) => v.vcpus.map((c) => [c.tid, threadName(c), v.pid ?? UNKNOWN_PID])).sort((a, b) => Number(a[0]) - Number(b[0]));
    // trace_processor gives each process a main thread (tid = pid, unnamed, no track): one per VM, apart
    const main = threads.rows.filter((r) => r[0] === r[2]);
    expect(main).toEqual(procs.rows.map(([pid]) => [pid, null, pid]));
    const vcpuThreads = threads.rows.filter((r) => r[0] !== r[2]);
    expect(vcpuThreads).toEqual(want);
    expect(vcpuThreads.length).toBe(exported.threads);
    // and the slices are on those threads' tracks only
    const on = await tp.query('SELECT DISTINCT t.tid FROM slice s JOIN thread_track tt ON s.track_id = tt.id JOIN thread t USING (utid) ORDER BY 1');
    expect(on.rows.map((r) => r[0])).toEqual(want.map((w) => w[0]));
  });

  it('per vCPU thread and reason: slice count and total duration equal the report', async () => {
    const q = await tp.query(`
      SELECT t.tid AS tid, substr(s.name, ${EXIT_PREFIX.length + 1}) AS reason, count(*) AS n, sum(s.dur) AS dur
      FROM slice s JOIN thread_track tt ON s.track_id = tt.id JOIN thread t USING (utid)
      WHERE s.name GLOB '${EXIT_PREFIX}*' GROUP BY 1, 2 ORDER BY 1, 2`);
    const got = q.rows.map(([tid, reason, n, dur]) => `${tid} ${reason} ${n} ${dur}`);
    const want = vms.flatMap((v) => v.vcpus.flatMap((c) => c.reasons.filter((r) => r.exits_handled > 0)
      .map((r) => [c.tid, r.reason, r.exits_handled, r.total_ns] as const)))
      .sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
      .map(([tid, reason, n, dur]) => `${tid} ${reason} ${n} ${dur}`);
    expect(got.length).toBeGreaterThan(2);
    expect(got).toEqual(want);
    const total = q.rows.reduce((s, r) => s + Number(r[2]), 0);
    expect(total).toBe(exported.exits);
    expect(total).toBe(vms.reduce((s, v) => s + v.vcpus.reduce((t, c) => t + c.exits_handled, 0), 0));
    // no slice left open (dur -1) and every guest / exit / halt slice on a vCPU thread track
    const open = await tp.query('SELECT count(*) FROM slice WHERE dur < 0');
    expect(open.rows).toEqual([[0]]);
    // halt slices: each nested in its HLT exit
    const halts = await tp.query(`SELECT count(*), sum(lower(p.name) = '${EXIT_PREFIX}hlt') FROM slice s LEFT JOIN slice p ON s.parent_id = p.id WHERE s.name GLOB 'halt: *'`);
    expect(halts.rows).toEqual([[exported.halts, exported.halts === 0 ? null : exported.halts]]);
  });

  it('counter tracks: an exits/s track per vCPU thread whose buckets add up to its exits', async () => {
    const q = await tp.query(`
      SELECT ct.name AS name, count(*) AS n, sum(c.value) AS total FROM counter c JOIN counter_track ct ON c.track_id = ct.id
      GROUP BY ct.id ORDER BY ct.name, ct.id`);
    const all = q.rows.reduce((s, r) => s + Number(r[1]), 0);
    expect(all).toBe(exported.counterValues);
    const rate = q.rows.filter((r) => String(r[0]).endsWith(' exits/s'));
    const threads = vms.flatMap((v) => v.vcpus);
    expect(rate.length).toBe(threads.length);
    // each value is exits in a 10 ms bucket as a rate per second: sum * 10 ms = the thread's exits
    const per = rate.map((r) => [String(r[0]), Math.round((Number(r[2]) * DEFAULT_BUCKET_NS) / 1e9)]).sort();
    const want = threads.map((c) => [`${who(c)} exits/s`, c.exits_handled]).sort();
    expect(per).toEqual(want);
    // the other tracks: the halt-poll window of a vCPU, when the trace has kvm_halt_poll_ns
    const other = q.rows.map((r) => String(r[0])).filter((n) => !n.endsWith(' exits/s'));
    for (const n of other) expect(n).toMatch(/^(vcpu|tid) \d+ halt-poll window$/);
  });
}

describe.skipIf(!SHELL)('trace_processor opens kvmtax export --perfetto: svm-A-baseline', () => {
  exportChecks('svm-A-baseline', () => path.join(TRACES, 'svm-A-baseline', 'trace.txt.xz'));
});

describe.skipIf(!SHELL || !HAVE_HIP)('trace_processor opens kvmtax export --perfetto: HIP24 110k trace.dat (two VMs, ../shared)', () => {
  exportChecks('hip24-110k', () => HIP_110K);
});

async function readText(p: string): Promise<string> {
  const src = await openSource(p);
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(1 << 16);
  for (let n; (n = await src.read(buf, 0, buf.length)) > 0;) chunks.push(Buffer.from(buf.subarray(0, n)));
  src.close();
  return Buffer.concat(chunks).toString('utf8');
}

describe.skipIf(!SHELL)('trace_processor reads our Perfetto inputs (ftrace in Perfetto from svm-D-small): kvm event counts equal ours', () => {
  const TEXT = path.join(TRACES, 'svm-D-small', 'trace.txt.xz');
  let events: ReturnType<typeof parseFtraceText>;
  beforeAll(async () => { events = parseFtraceText(await readText(TEXT)); });
  const cases: Array<[string, BuildOptions]> = [
    ['generic events (GenericFtraceEvent)', { generic: 'legacy' }],
    ['generic events + compact_sched inside compressed_packets', { generic: 'legacy', compactSched: true, compress: true }],
    ['kvm_exit / kvm_entry typed as on x86', { generic: 'legacy', typedKvm: true }],
  ];
  it.each(cases)('%s', async (_what, opts) => {
    const file = path.join(dir, `svm-D-small.${Object.keys(opts).join('-')}.pftrace`);
    fs.writeFileSync(file, buildPerfetto(events, opts));
    expect(isPerfettoFile(file)).toBe(true);
    const ours = (await analyze([file])).quality.events_by_name;
    const tp = await TraceProcessor.open(file, { shell: SHELL });
    try {
      const q = await tp.query("SELECT name, count(*) FROM raw WHERE name GLOB 'kvm_*' GROUP BY name ORDER BY name");
      const theirs = Object.fromEntries(q.rows.map(([n, c]) => [n, c]));
      const want = Object.fromEntries(Object.entries(ours).filter(([n]) => n.startsWith('kvm_')).sort());
      expect(Object.keys(want)).toContain('kvm_exit');
      expect(theirs).toEqual(want);
      // and the text itself
      const text: Record<string, number> = {};
      for (const e of events) if (e.name.startsWith('kvm_')) text[e.name] = (text[e.name] ?? 0) + 1;
      expect(theirs).toEqual(text);
    } finally {
      await tp.close();
    }
  });
});

describe.skipIf(!SHELL)('kvmtax sql --engine perfetto', () => {
  it('answers a slice query on a capture (exported to a temporary .pftrace) in the DuckDB engine\'s formats', () => {
    const trace = path.join(TRACES, 'svm-D-small', 'trace.txt.xz');
    const q = "SELECT name, count(*) AS n, sum(dur) AS dur FROM slice WHERE name GLOB 'exit: *' GROUP BY name ORDER BY n DESC, name";
    const j = kvmtax(['sql', '--engine', 'perfetto', q, trace, '-f', 'json']);
    expect(j.code, j.err).toBe(0);
    const rows = JSON.parse(j.out) as Array<{ name: string; n: number; dur: number }>;
    const r = kvmtax(['report', trace, '-f', 'json']);
    const reasons = (JSON.parse(r.out).reasons as Array<{ reason: string; exits_handled: number; total_ns: number }>)
      .filter((x) => x.exits_handled > 0);
    expect(rows.map((x) => [x.name, x.n, x.dur]).sort()).toEqual(reasons.map((x) => [`exit: ${x.reason}`, x.exits_handled, x.total_ns]).sort());
    const csv = kvmtax(['sql', q, trace, '--engine', 'perfetto', '-f', 'csv']);
    expect(csv.code, csv.err).toBe(0);
    expect(csv.out.split('\n')[0]).toBe('name,n,dur');
    expect(csv.out.trim().split('\n').length).toBe(rows.length + 1);
    const t = kvmtax(['sql', '--engine', 'perfetto', q, trace]);
    expect(t.out).toMatch(new RegExp(`\\(${rows.length} rows\\)\\n$`));
  });
  it('a SQL error is one line, exit non-zero, no stack', () => {
    const r = kvmtax(['sql', '--engine', 'perfetto', 'SELECT nope FROM slice', path.join(TRACES, 'svm-D-small', 'trace.txt.xz')]);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBe(70);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/no such column: nope/);
  });
});

describe('kvmtax sql --engine perfetto without the shell', () => {
  it('says to build it, in one line', () => {
    const r = spawnSync(process.execPath, [BIN, 'sql', '--engine', 'perfetto', 'SELECT 1', path.join(TRACES, 'svm-D-small', 'trace.txt.xz')],
      { encoding: 'utf8', cwd: ROOT, env: { ...process.env, KVMTAX_TRACE_PROCESSOR: path.join(dir, 'nothing-here') } });
    expect(r.status).not.toBe(0);
    expect(r.status).not.toBe(70);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/run npm run trace-processor/);
  });
});
