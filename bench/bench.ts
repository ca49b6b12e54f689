/**
 * `npm run bench`: kvmtax against what users would otherwise run, on the same files, in one run
 *. Prints the machine, then one table: median wall time, input throughput, median peak RSS
 * and ratios, with the issue's targets beside the measured values (PASS/MISS). Checks correctness on
 * the way: kvmtax's totals must equal the generator's sidecar and the baseline parser's (and perf kvm
 * stat's on perf.data); a mismatch is printed loudly and the bench exits 1.
 *
 *   node dist/bench/bench.js [--size 1G] [--runs 5] [--only name,...] [--quick] [--big] [--dir DIR] [--keep]
 *
 * --size    text trace and tiled perf.data size (K/M/G)      --runs  runs per contender (alternating)
 * --only    contenders to run (names in the tables; "startup", "big", "trace.dat-tiled", "trace.dat-192cpu")
 * --quick   the smoke run: a few MB, one run each               --big   also the 4 GB memory check
 * --dir     where the inputs are generated (default: the OS temp dir; deleted afterwards unless --keep)
 * --kvmtax  the kvmtax.js to run (default: bin/kvmtax.js of this checkout), e.g. a built snapshot of a commit
 *
 * Every run is a child process; peak RSS comes from GNU time (`/usr/bin/time -f %M`), or from polling
 * /proc/PID/status VmHWM where GNU time is not installed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { benchPacked } from './packed.js';
import { benchTraceDatCpus } from './tracedat-cpus.js';
import { parseSize, writeTrace, type Expected, type GenOptions, type TextFormat } from './gen.js';
import { readMaybeXz, tilePerfData } from './tile.js';
import { tileTraceDat } from './tile-tracedat.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let KVMTAX = path.join(ROOT, 'bin', 'kvmtax.js');
const BASELINE = path.join(ROOT, 'dist', 'bench', 'baseline.js');
const SHARED = process.env.KVMTAX_SHARED ? path.resolve(process.env.KVMTAX_SHARED) : path.resolve(ROOT, '..', 'shared');
const PERF_DATA_SRC = [path.join(SHARED, 'captures/svm-A-baseline/perf-kvm.data.xz'), path.join(SHARED, 'captures/svm-D-small/perf-kvm.data')];
const TRACE_DAT_SRC = [path.join(SHARED, 'captures/svm-A-baseline/trace.dat'), path.join(SHARED, 'captures/svm-D-small/trace.dat')];
const SMALL_TRACE = path.join(ROOT, 'traces/svm-D-small/trace.txt.xz');
/** The first kvm_entry and kvm_exit of vCPU thread 193 in traces/svm-D-small/trace.txt.xz, verbatim. */
const TINY_TRACE = [
  '             vmm-193     (    188) [001] d..1.     7.334239: kvm_entry: vcpu 1, rip 0x1000',
  '             vmm-193     (    188) [001] .....     7.335242: kvm_exit: vcpu 1 reason npf rip 0x10000 info1 0x0000000200000006 info2 0x0000000000001000 intr_info 0x00000000 error_code 0x00000000',
  '',
].join('\n');
const MB = 1e6;
const RSS_MAX_MB = 150;

interface Opts { size: number; runs: number; only?: Set<string>; quick: boolean; big: boolean; dir: string; keep: boolean }

interface Measure { wall: number; rssKb: number; code: number; stderr: string; /** user + system CPU seconds (GNU time only, else NaN) */ cpu: number }

interface Contender {
  name: string;
  what: string;
  cmd: string[];
  bytes: number;
  /** where stdout goes: a file (kept for the checks) or /dev/null */
  stdout: string | null;
  runs: Measure[];
}

// ---------------------------------------------------------------- helpers

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const GNU_TIME = fs.existsSync('/usr/bin/time') && spawnSync('/usr/bin/time', ['-f', '%M', 'true'], { encoding: 'utf8' }).status === 0;

/** Run one command as a child process: wall time and peak RSS. */
async function measure(cmd: string[], stdout: string | null, tmp: string): Promise<Measure> {
  const out = fs.openSync(stdout ?? '/dev/null', 'w');
  try {
    if (GNU_TIME) {
      const tf = path.join(tmp, 'time.txt');
      const t0 = process.hrtime.bigint();
      const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', '-o', tf, ...cmd], { stdio: ['ignore', out, 'pipe'], maxBuffer: 1 << 26 });
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const [rss, user, sys] = fs.readFileSync(tf, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
      return { wall, rssKb: rss!, code: r.status ?? -1, stderr: r.stderr?.toString() ?? '', cpu: user! + sys! };
    }
    // no GNU time: poll VmHWM (the high-water mark only grows, so the last read is close to the peak)
    return await new Promise<Measure>((resolve) => {
      const t0 = process.hrtime.bigint();
      const ch = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', out, 'pipe'] });
      let hwm = 0, err = '';
      ch.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
      const poll = setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${ch.pid}/status`, 'utf8'));
          if (m) hwm = Math.max(hwm, Number(m[1]));
        } catch { /* gone */ }
      }, 5);
      ch.on('close', (code) => {
        clearInterval(poll);
        resolve({ wall: Number(process.hrtime.bigint() - t0) / 1e9, rssKb: hwm, code: code ?? -1, stderr: err, cpu: NaN });
      });
    });
  } finally {
    fs.closeSync(out);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

function fmtBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(0)} KiB`;
}

function machine(): string[] {
  const cpus = os.cpus();
  const lines = [
    `cpu:    ${cpus[0]?.model ?? '?'} x ${cpus.length} (${os.arch()})`,
    `memory: ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB (${(os.freemem() / 1024 ** 3).toFixed(1)} free)`,
    `os:     ${os.type()} ${os.release()}`,
    `node:   ${process.version}`,
  ];
  const tool = (c: string, args: string[]): string => {
    const r = spawnSync(c, args, { encoding: 'utf8' });
    return r.status === 0 ? (r.stdout || r.stderr).split('\n')[0]!.trim() : 'not installed';
  };
  lines.push(`perf:   ${has('perf') ? tool('perf', ['--version']) : 'not installed'}`);
  lines.push(`trace-cmd: ${has('trace-cmd') ? (spawnSync('trace-cmd', ['--version'], { encoding: 'utf8' }).stdout.split('\n').find((l) => /version/.test(l))?.trim() ?? '?') : 'not installed'}`);
  lines.push(`peak RSS from: ${GNU_TIME ? 'GNU time %M' : '/proc/PID/status VmHWM polled every 5 ms'}`);
  return lines;
}

// ---------------------------------------------------------------- correctness

interface Totals { exits_seen: number; exits_handled: number; host_ns: number; reasons: Record<string, { exits_seen: number; exits_handled: number; total_ns: number }> }

interface KvmtaxJson {
  totals: { exits_seen: number; exits_handled: number; host_ns: number };
  reasons: { reason: string; exits_seen: number; exits_handled: number; total_ns: number }[];
}

function kvmtaxTotals(file: string): Totals {
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as KvmtaxJson;
  const reasons: Totals['reasons'] = {};
  for (const r of j.reasons) reasons[r.reason] = { exits_seen: r.exits_seen, exits_handled: r.exits_handled, total_ns: r.total_ns };
  return { exits_seen: j.totals.exits_seen, exits_handled: j.totals.exits_handled, host_ns: j.totals.host_ns, reasons };
}

/** differences between two sets of totals, as lines; empty when equal */
function diffTotals(aName: string, a: Totals, bName: string, b: Totals): string[] {
  const d: string[] = [];
  for (const k of ['exits_seen', 'exits_handled', 'host_ns'] as const) {
    if (a[k] !== b[k]) d.push(`${k}: ${aName} ${a[k]} != ${bName} ${b[k]}`);
  }
  for (const r of new Set([...Object.keys(a.reasons), ...Object.keys(b.reasons)])) {
    const x = a.reasons[r], y = b.reasons[r];
    for (const k of ['exits_seen', 'exits_handled', 'total_ns'] as const) {
      if (x?.[k] !== y?.[k]) d.push(`${r}.${k}: ${aName} ${x?.[k]} != ${bName} ${y?.[k]}`);
    }
  }
  return d;
}

/** perf kvm stat report's table: reason -> samples, and the total handled time in ns */
function parsePerfKvmStat(text: string): { reasons: Record<string, number>; totalNs: number; samples: number } {
  const reasons: Record<string, number> = {};
  for (const m of text.matchAll(/^\s*(\S+)\s+(\d+)\s+[\d.]+%\s+[\d.]+%\s+[\d.]+us/gm)) reasons[m[1]!] = Number(m[2]);
  const t = /Total Samples:(\d+), Total events handled time:([\d.]+)us/.exec(text);
  return { reasons, samples: t ? Number(t[1]) : NaN, totalNs: t ? Math.round(Number(t[2]) * 1000) : NaN };
}

// ---------------------------------------------------------------- the bench

function parseArgs(argv: string[]): Opts {
  const o: Opts = { size: parseSize('1G'), runs: 5, quick: false, big: false, dir: os.tmpdir(), keep: false };
  let sizeSet = false, runsSet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!, val = (): string => {
      const v = argv[++i];
      if (v === undefined) { process.stderr.write(`bench: ${a} needs a value\n`); process.exit(2); }
      return v;
    };
    if (a === '--size') { o.size = parseSize(val()); sizeSet = true; }
    else if (a === '--runs') { o.runs = Math.max(1, Number(val())); runsSet = true; }
    else if (a === '--only') o.only = new Set(val().split(',').map((s) => s.trim()).filter(Boolean));
    else if (a === '--quick') o.quick = true;
    else if (a === '--big') o.big = true;
    else if (a === '--dir') o.dir = val();
    else if (a === '--keep') o.keep = true;
    else if (a === '--kvmtax') KVMTAX = path.resolve(val());
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node dist/bench/bench.js [--size 1G] [--runs 5] [--only name,...] [--quick] [--big] [--dir DIR] [--keep] [--kvmtax bin/kvmtax.js]\n');
      process.exit(0);
    } else { process.stderr.write(`bench: unknown argument "${a}"\n`); process.exit(2); }
  }
  if (o.quick) {
    if (!sizeSet) o.size = parseSize('4M');
    if (!runsSet) o.runs = 1;
  }
  return o;
}

export async function bench(o: Opts): Promise<number> {
  const want = (n: string): boolean => !o.only || o.only.has(n);
  const notes: string[] = [];
  const problems: string[] = [];
  const say = (s: string): void => { process.stdout.write(`${s}\n`); };
  say('# kvmtax bench');
  say('');
  for (const l of machine()) say(l);
  say(`kvmtax: ${KVMTAX}`);
  say(`size:   ${fmtBytes(o.size)} per input, ${o.runs} run(s) per contender, alternating${o.quick ? ' (--quick)' : ''}`);
  say('');

  // disk space: three text traces and the tiled perf.data (and 4 GB more with --big, one at a time)
  fs.mkdirSync(o.dir, { recursive: true });
  const need = 5.6 * o.size + (o.big ? parseSize('4G') : 0);
  const st = fs.statfsSync(o.dir);
  const free = st.bavail * st.bsize;
  if (free < need) {
    process.stderr.write(`bench: ${o.dir} has ${fmtBytes(free)} free, the inputs need about ${fmtBytes(need)} (use --dir or a smaller --size)\n`);
    return 2;
  }
  const tmp = fs.mkdtempSync(path.join(o.dir, 'kvmtax-bench-'));
  try {
    const code = await benchIn(tmp, o, want, notes, problems, say);
    // Perfetto and compressed inputs: their own rows and table (bench/packed.ts)
    const packedProblems: string[] = [];
    await benchPacked({
      tmp, root: ROOT, size: o.size, runs: o.runs, quick: o.quick, want, say, problems: packedProblems,
      kvmtax: (file, out, extra = []) => [process.execPath, KVMTAX, 'report', file, '-f', 'json', '-o', out, ...extra],
      measure: (cmd, stdout) => measure(cmd, stdout, tmp), median, fmtBytes, totals: kvmtaxTotals, diff: diffTotals, has,
    });
    for (const p of packedProblems) say(`!!! ${p}`);
    // trace.dat on 192 CPU streams by --jobs: its own rows and table (bench/tracedat-cpus.ts)
    const cpusProblems: string[] = [];
    await benchTraceDatCpus({
      tmp, root: ROOT, size: o.size, runs: o.runs, quick: o.quick, want, say, problems: cpusProblems,
      kvmtax: (file, out, extra = []) => [process.execPath, KVMTAX, 'report', file, '-f', 'json', '-o', out, ...extra],
      measure: (cmd, stdout) => measure(cmd, stdout, tmp), median, fmtBytes, totals: kvmtaxTotals, diff: diffTotals, has,
      src: TRACE_DAT_SRC.find((p) => fs.existsSync(p)),
    });
    for (const p of cpusProblems) say(`!!! ${p}`);
    return code || (packedProblems.some((p) => !p.startsWith('packed:')) || cpusProblems.length ? 1 : 0);
  } finally {
    if (o.keep) say(`inputs kept in ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function benchIn(tmp: string, o: Opts, want: (n: string) => boolean, notes: string[], problems: string[], say: (s: string) => void): Promise<number> {
  const node = process.execPath;
  const kvmtax = (file: string, out: string, extra: string[] = []): string[] => [node, KVMTAX, 'report', file, '-f', 'json', '-o', out, ...extra];

  // ---- inputs
  const texts: Partial<Record<TextFormat, { file: string; exp: Expected }>> = {};
  const needText = (f: TextFormat): boolean =>
    (f === 'ftrace' && (want('kvmtax-ftrace') || want('baseline-ftrace') || want('kvmtax-jobs2') || want('native-ftrace') || want('native-jobs2'))) || want(`kvmtax-${f}`);
  for (const f of ['ftrace', 'perf', 'trace-cmd'] as TextFormat[]) {
    if (!needText(f)) continue;
    const file = path.join(tmp, `gen.${f}.txt`);
    const t0 = Date.now();
    const exp = await writeTrace({ format: f, size: o.size, seed: 1 }, file);
    say(`generated ${path.basename(file)}: ${fmtBytes(exp.bytes)}, ${exp.lines} lines, ${exp.exits_seen} exits (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    texts[f] = { file, exp };
  }
  // the simple file (issue 15): 8 vCPU threads, kvm_exit/kvm_entry only, 1.3x the size; and the shapes of
  // the memory budget: 256 vCPU threads (16 VMs x 16) x 13 reasons, and 150,000 distinct threads
  const shapes: { name: string; file: string; exp: Expected; gen: GenOptions }[] = [];
  const shape = async (name: string, gen: GenOptions, wanted: boolean): Promise<void> => {
    if (!wanted) return;
    const file = path.join(tmp, `gen.${name}.txt`);
    const t0 = Date.now();
    const exp = await writeTrace(gen, file);
    say(`generated ${path.basename(file)}: ${fmtBytes(exp.bytes)}, ${exp.lines} lines, ${exp.exits_seen} exits (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    shapes.push({ name, file, exp, gen });
  };
  await shape('simple', { format: 'ftrace', size: Math.round(o.size * 1.3), seed: 3, vms: 1, vcpus: 8, simple: true },
    want('kvmtax-simple') || want('native-simple') || want('baseline-simple') || want('kvmtax-simple-jobs2') || want('native-simple-jobs2'));
  await shape('256vcpu', { format: 'ftrace', size: Math.min(o.size, parseSize('256M')), seed: 4, vms: 16, vcpus: 16 }, want('kvmtax-256vcpu'));
  // (--quick: 15,000 threads in 4 MiB, enough to reach the budget; the generator is slow with 150,000)
  await shape('150k-threads', { format: 'ftrace', size: o.quick ? parseSize('4M') : parseSize('47M'), seed: 5, vms: o.quick ? 150 : 1500, vcpus: 100 }, want('kvmtax-150k-threads'));
  const shapeOf = (n: string) => shapes.find((x) => x.name === n);

  // the native reference scanner, built with the system cc when there is one
  let native: string | undefined;
  if (want('native-simple') || want('native-ftrace') || want('native-jobs2') || want('native-simple-jobs2')) {
    const cc = ['cc', 'gcc', 'clang'].find(has);
    if (!cc) notes.push('native-*: no C compiler (cc, gcc, clang) on this machine: the native reference is skipped');
    else {
      native = path.join(tmp, 'native');
      const r = spawnSync(cc, ['-O2', '-pthread', '-o', native, path.join(ROOT, 'bench', 'native.c')], { encoding: 'utf8' });
      if (r.status !== 0) { notes.push(`native-*: ${cc} failed: ${(r.stderr ?? '').trim().split('\n')[0]}: skipped`); native = undefined; }
      else say(`built the native reference scanner with ${cc} -O2 -pthread (bench/native.c)`);
    }
  }

  let perfData: string | undefined, tileInfo = '';
  // the smoke run tiles the small capture (many copies of it), the full run the larger one
  const perfSrc = (o.quick ? [...PERF_DATA_SRC].reverse() : PERF_DATA_SRC).find((p) => fs.existsSync(p));
  if (want('kvmtax-perf.data') || want('kvmtax-perf.data-jobs2') || want('perf-kvm-stat')) {
    if (!perfSrc) notes.push(`perf.data: no capture to tile (${PERF_DATA_SRC.join(', ')} missing): skipped`);
    else {
      perfData = path.join(tmp, 'tiled.perf.data');
      const r = tilePerfData(readMaybeXz(perfSrc), perfData, o.size);
      tileInfo = `${path.relative(ROOT, perfSrc)} x ${r.copies}: ${r.samples} samples`;
      say(`tiled ${tileInfo} -> ${fmtBytes(r.bytes)}`);
    }
  }
  const traceDat = TRACE_DAT_SRC.find((p) => fs.existsSync(p));
  say('');

  // ---- contenders
  const cs: Contender[] = [];
  const add = (name: string, what: string, cmd: string[], bytes: number, stdout: string | null): void => {
    if (want(name)) cs.push({ name, what, cmd, bytes, stdout, runs: [] });
  };
  const help = spawnSync(node, [KVMTAX, 'report', '--help'], { encoding: 'utf8' }).stdout ?? '';
  const hasJobs = /--jobs\b/.test(help);
  if (texts.ftrace) {
    const f = texts.ftrace;
    add('kvmtax-ftrace', 'kvmtax report, ftrace text', kvmtax(f.file, path.join(tmp, 'kvmtax-ftrace.json')), f.exp.bytes, null);
    add('baseline-ftrace', 'readline + regex baseline, same file', [node, BASELINE, f.file, '-o', path.join(tmp, 'baseline-ftrace.json')], f.exp.bytes, null);
    if (hasJobs) add('kvmtax-jobs2', 'kvmtax report --jobs 2, same file', kvmtax(f.file, path.join(tmp, 'kvmtax-jobs2.json'), ['--jobs', '2']), f.exp.bytes, null);
    else if (want('kvmtax-jobs2')) notes.push('kvmtax-jobs2: `kvmtax report --help` has no --jobs option yet: skipped');
  }
  if (texts.ftrace && native) add('native-ftrace', 'native C scanner (bench/native.c), same file', [native, texts.ftrace.file], texts.ftrace.exp.bytes, path.join(tmp, 'native-ftrace.json'));
  // what 2 threads give a C scan on this machine (2 vCPUs may be one core's hyperthreads, or share its memory
  // bandwidth): the ceiling that kvmtax --jobs 2 is read against
  if (texts.ftrace && native) add('native-jobs2', 'native C scanner on 2 threads (line-aligned halves, merged exactly), same file', [native, texts.ftrace.file, '2'], texts.ftrace.exp.bytes, path.join(tmp, 'native-jobs2.json'));
  const simple = shapeOf('simple');
  if (simple) {
    const f = simple;
    add('kvmtax-simple', 'kvmtax report, simple ftrace text (8 threads, exit/entry only)', kvmtax(f.file, path.join(tmp, 'kvmtax-simple.json')), f.exp.bytes, null);
    if (native) add('native-simple', 'native C scanner, simple file', [native, f.file], f.exp.bytes, path.join(tmp, 'native-simple.json'));
    if (native) add('native-simple-jobs2', 'native C scanner on 2 threads, simple file', [native, f.file, '2'], f.exp.bytes, path.join(tmp, 'native-simple-jobs2.json'));
    add('baseline-simple', 'readline + regex baseline, simple file', [node, BASELINE, f.file, '-o', path.join(tmp, 'baseline-simple.json')], f.exp.bytes, null);
    if (hasJobs) add('kvmtax-simple-jobs2', 'kvmtax report --jobs 2, simple file', kvmtax(f.file, path.join(tmp, 'kvmtax-simple-jobs2.json'), ['--jobs', '2']), f.exp.bytes, null);
  }
  for (const n of ['256vcpu', '150k-threads']) {
    const f = shapeOf(n);
    if (f) add(`kvmtax-${n}`, `kvmtax report, ftrace text with ${f.gen.vms! * f.gen.vcpus!} vCPU threads`, kvmtax(f.file, path.join(tmp, `kvmtax-${n}.json`)), f.exp.bytes, null);
  }
  if (texts.perf) add('kvmtax-perf', 'kvmtax report, perf script text', kvmtax(texts.perf.file, path.join(tmp, 'kvmtax-perf.json')), texts.perf.exp.bytes, null);
  if (texts['trace-cmd']) add('kvmtax-trace-cmd', 'kvmtax report, trace-cmd report text', kvmtax(texts['trace-cmd'].file, path.join(tmp, 'kvmtax-trace-cmd.json')), texts['trace-cmd'].exp.bytes, null);
  if (perfData) {
    const n = fs.statSync(perfData).size;
    add('kvmtax-perf.data', `kvmtax report, perf.data (${tileInfo})`, kvmtax(perfData, path.join(tmp, 'kvmtax-perf.data.json')), n, null);
    add('kvmtax-perf.data-jobs2', 'kvmtax report --jobs 2, same perf.data (slices of its time-ordered stream)', kvmtax(perfData, path.join(tmp, 'kvmtax-perf.data-jobs2.json'), ['--jobs', '2']), n, null);
    if (has('perf')) add('perf-kvm-stat', 'perf kvm -i FILE stat report --event=vmexit', ['perf', 'kvm', '-i', perfData, 'stat', 'report', '--event=vmexit'], n, null);
    else notes.push('perf-kvm-stat: perf is not installed: skipped');
  }
  if (want('kvmtax-trace.dat') || want('trace-cmd-report')) {
    if (!traceDat) notes.push('trace.dat: no capture found: skipped');
    else {
      const n = fs.statSync(traceDat).size;
      add('kvmtax-trace.dat', `kvmtax report, trace.dat (${path.relative(ROOT, traceDat)}, real, not tiled)`, kvmtax(traceDat, path.join(tmp, 'kvmtax-trace.dat.json')), n, null);
      if (has('trace-cmd')) add('trace-cmd-report', 'trace-cmd report -i FILE > /dev/null', ['trace-cmd', 'report', '-i', traceDat], n, null);
      else notes.push('trace-cmd-report: trace-cmd is not installed: skipped');
    }
  }

  // ---- runs, alternating
  for (let run = 0; run < o.runs; run++) {
    for (const c of cs) {
      const m = await measure(c.cmd, c.stdout, tmp);
      // the 150,000-thread shape may stop at the memory budget: exit 1 with the one line naming the option
      const budgetStop = c.name === 'kvmtax-150k-threads' && m.code === 1 && /--max-memory/.test(m.stderr) && m.stderr.trim().split('\n').length === 1;
      if (budgetStop && run === 0) notes.push(`kvmtax-150k-threads: stopped at the memory budget (exit 1): ${m.stderr.trim()}`);
      if (m.code !== 0 && !budgetStop) {
        problems.push(`${c.name}: exit code ${m.code}: ${m.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      }
      c.runs.push(m);
      process.stderr.write(`  run ${run + 1}/${o.runs} ${c.name}: ${m.wall.toFixed(3)} s, ${(m.rssKb / 1024).toFixed(0)} MB\n`);
    }
  }

  // start-up: a small real trace, median of 10 (2 with --quick)
  // (and a tiny report: the first kvm_entry/kvm_exit of one vCPU thread of that capture, 2 lines)
  let startup: Measure[] = [];
  const startHelp: Measure[] = [], startNode: Measure[] = [], startTiny: Measure[] = [];
  if (want('startup')) {
    const tiny = path.join(tmp, 'tiny.txt');
    fs.writeFileSync(tiny, TINY_TRACE);
    const n = o.quick ? 2 : 15;
    for (let i = 0; i < n; i++) {
      startNode.push(await measure([node, '-e', '0'], null, tmp));
      const h = await measure([node, KVMTAX, '--help'], null, tmp);
      if (h.code !== 0) problems.push(`startup --help: exit code ${h.code}: ${h.stderr.trim()}`);
      startHelp.push(h);
      const t = await measure([node, KVMTAX, 'report', tiny], null, tmp);
      if (t.code !== 0) problems.push(`startup tiny: exit code ${t.code}: ${t.stderr.trim()}`);
      startTiny.push(t);
      const m = await measure([node, KVMTAX, 'report', SMALL_TRACE], null, tmp);
      if (m.code !== 0) problems.push(`startup: exit code ${m.code}: ${m.stderr.trim()}`);
      startup.push(m);
    }
  }

  // ---- correctness
  const checks: string[] = [];
  const check = (what: string, diffs: string[]): void => {
    if (diffs.length === 0) { checks.push(`ok   ${what}`); return; }
    checks.push(`FAIL ${what}`);
    for (const d of diffs.slice(0, 20)) checks.push(`       ${d}`);
    problems.push(`MISMATCH: ${what}`);
  };
  const okRun = (name: string): boolean => cs.some((c) => c.name === name && c.runs.length > 0 && c.runs.every((r) => r.code === 0));
  for (const f of ['ftrace', 'perf', 'trace-cmd'] as TextFormat[]) {
    const t = texts[f];
    if (!t) continue;
    if (okRun(`kvmtax-${f}`)) check(`kvmtax on ${f} text = generator's expected totals`, diffTotals('kvmtax', kvmtaxTotals(path.join(tmp, `kvmtax-${f}.json`)), 'expected', t.exp));
  }
  if (texts.ftrace && okRun('baseline-ftrace')) {
    const b = JSON.parse(fs.readFileSync(path.join(tmp, 'baseline-ftrace.json'), 'utf8')) as Totals;
    check('baseline on ftrace text = generator\'s expected totals', diffTotals('baseline', b, 'expected', texts.ftrace.exp));
    if (okRun('kvmtax-ftrace')) check('kvmtax on ftrace text = baseline', diffTotals('kvmtax', kvmtaxTotals(path.join(tmp, 'kvmtax-ftrace.json')), 'baseline', b));
  }
  const nativeTotals = (f: string): Totals => JSON.parse(fs.readFileSync(f, 'utf8')) as Totals;
  if (texts.ftrace && okRun('native-ftrace')) check('native scanner on ftrace text = generator\'s expected totals', diffTotals('native', nativeTotals(path.join(tmp, 'native-ftrace.json')), 'expected', texts.ftrace.exp));
  if (texts.ftrace && okRun('native-jobs2')) check('native scanner on 2 threads, ftrace text = generator\'s expected totals', diffTotals('native', nativeTotals(path.join(tmp, 'native-jobs2.json')), 'expected', texts.ftrace.exp));
  if (simple && okRun('native-simple-jobs2')) check('native scanner on 2 threads, simple file = generator\'s expected totals', diffTotals('native', nativeTotals(path.join(tmp, 'native-simple-jobs2.json')), 'expected', simple.exp));
  if (simple && okRun('native-simple')) check('native scanner on the simple file = generator\'s expected totals', diffTotals('native', nativeTotals(path.join(tmp, 'native-simple.json')), 'expected', simple.exp));
  if (simple && okRun('kvmtax-simple')) check('kvmtax on the simple file = generator\'s expected totals', diffTotals('kvmtax', kvmtaxTotals(path.join(tmp, 'kvmtax-simple.json')), 'expected', simple.exp));
  if (simple && okRun('kvmtax-simple-jobs2')) check('kvmtax --jobs 2 on the simple file = generator\'s expected totals', diffTotals('kvmtax --jobs 2', kvmtaxTotals(path.join(tmp, 'kvmtax-simple-jobs2.json')), 'expected', simple.exp));
  for (const n of ['256vcpu', '150k-threads']) {
    const f = shapeOf(n);
    if (f && okRun(`kvmtax-${n}`)) check(`kvmtax on ${n} = generator's expected totals`, diffTotals('kvmtax', kvmtaxTotals(path.join(tmp, `kvmtax-${n}.json`)), 'expected', f.exp));
  }
  if (texts.ftrace && okRun('kvmtax-jobs2')) check('kvmtax --jobs 2 = generator\'s expected totals', diffTotals('kvmtax --jobs 2', kvmtaxTotals(path.join(tmp, 'kvmtax-jobs2.json')), 'expected', texts.ftrace.exp));
  for (const name of ['kvmtax-perf.data', 'kvmtax-perf.data-jobs2']) {
    if (!okRun(name) || !okRun('perf-kvm-stat')) continue;
    const k = kvmtaxTotals(path.join(tmp, `${name}.json`));
    // perf kvm stat report prints its table on stderr
    const p = parsePerfKvmStat(cs.find((c) => c.name === 'perf-kvm-stat')!.runs.at(-1)!.stderr);
    const d: string[] = [];
    if (k.exits_handled !== p.samples) d.push(`handled exits: kvmtax ${k.exits_handled} != perf ${p.samples}`);
    // perf prints microseconds with 2 decimals: allow its rounding
    if (!(Math.abs(k.host_ns - p.totalNs) <= 10)) d.push(`handling time: kvmtax ${k.host_ns} ns != perf ${p.totalNs} ns`);
    for (const r of new Set([...Object.keys(k.reasons), ...Object.keys(p.reasons)])) {
      if ((k.reasons[r]?.exits_handled ?? 0) !== (p.reasons[r] ?? 0)) d.push(`${r}: kvmtax ${k.reasons[r]?.exits_handled} != perf ${p.reasons[r]}`);
    }
    check(`${name === 'kvmtax-perf.data' ? 'kvmtax' : 'kvmtax --jobs 2'} on the tiled perf.data = perf kvm stat report (samples per reason, total time)`, d);
  }
  if (okRun('kvmtax-perf.data') && okRun('kvmtax-perf.data-jobs2')) {
    // the whole report, not only the totals: slices merge exactly
    const same = fs.readFileSync(path.join(tmp, 'kvmtax-perf.data.json'), 'utf8') === fs.readFileSync(path.join(tmp, 'kvmtax-perf.data-jobs2.json'), 'utf8');
    check('kvmtax --jobs 2 on the tiled perf.data = one job (the whole JSON report)', same ? [] : ['the JSON reports differ']);
  }
  if (traceDat && okRun('kvmtax-trace.dat') && has('trace-cmd')) {
    // trace-cmd's own rendering of the same file, read by the baseline: the same exits and times
    const txt = path.join(tmp, 'trace-dat-report.txt');
    const fd = fs.openSync(txt, 'w');
    spawnSync("trace-cmd", ["report", "-t", "-i", traceDat], { stdio: ['ignore', fd, 'ignore'] });
    fs.closeSync(fd);
    const b = await (await import(pathToFileURL(BASELINE).href) as typeof import('./baseline.js')).baseline(txt);
    check('kvmtax on trace.dat = baseline on `trace-cmd report` of it', diffTotals('kvmtax', kvmtaxTotals(path.join(tmp, 'kvmtax-trace.dat.json')), 'baseline', b));
  }

  // ---- the 4 GB memory check (--big): one run, then the file is deleted
  let big: Measure | undefined, bigBytes = 0;
  if (o.big && want('big')) {
    const file = path.join(tmp, 'gen.big.ftrace.txt');
    const exp = await writeTrace({ format: 'ftrace', size: parseSize('4G'), seed: 2 }, file);
    bigBytes = exp.bytes;
    say(`generated ${path.basename(file)}: ${fmtBytes(exp.bytes)}`);
    for (const f of Object.values(texts)) fs.rmSync(f.file, { force: true }); // room on the disk
    big = await measure(kvmtax(file, path.join(tmp, 'kvmtax-big.json')), null, tmp);
    if (big.code !== 0) problems.push(`big: exit code ${big.code}: ${big.stderr.trim()}`);
    else check('kvmtax on the 4 GB ftrace text = generator\'s expected totals', diffTotals('kvmtax', kvmtaxTotals(path.join(tmp, 'kvmtax-big.json')), 'expected', exp));
    fs.rmSync(file, { force: true });
  }

  // ---- the table
  const row = (name: string): { wall: number; rate: number; rss: number; bytes: number } | undefined => {
    const c = cs.find((x) => x.name === name);
    if (!c || c.runs.length === 0) return undefined;
    const wall = median(c.runs.map((r) => r.wall));
    return { wall, rate: c.bytes / wall / MB, rss: median(c.runs.map((r) => r.rssKb)) / 1024, bytes: c.bytes };
  };
  const pf = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
  const large = o.size >= parseSize('1G');
  const ref = row('kvmtax-ftrace');
  const header = ['contender', 'input', 'median s', 'MB/s', 'peak RSS MB', 'vs kvmtax', 'target', ''];
  const rows: string[][] = [];
  const rssTarget = (r: { rss: number }): string => `RSS <= ${RSS_MAX_MB} MB: ${pf(r.rss <= RSS_MAX_MB)}`;
  for (const c of cs) {
    const r = row(c.name)!;
    let vs = '', target = '', verdict = '';
    switch (c.name) {
      case 'kvmtax-ftrace':
        vs = '1.00x';
        target = `>= 1400 MB/s${large ? '' : ' (on >= 1 GB)'}; ${rssTarget(r)}`;
        verdict = `${large ? pf(r.rate >= 1400) : 'n/a'}`;
        break;
      case 'baseline-ftrace':
        if (ref) { vs = `kvmtax ${(ref.rate / r.rate).toFixed(2)}x faster`; target = 'kvmtax >= 8x faster'; verdict = pf(ref.rate / r.rate >= 8); }
        break;
      case 'native-ftrace':
        if (ref) { vs = `kvmtax ${(ref.wall / r.wall).toFixed(2)}x native`; target = 'kvmtax <= 2x native'; verdict = pf(ref.wall / r.wall <= 2); }
        break;
      case 'kvmtax-simple': {
        const j = row('kvmtax-ftrace');
        vs = j ? `${(r.rate / j.rate).toFixed(2)}x` : '';
        target = rssTarget(r); verdict = pf(r.rss <= RSS_MAX_MB);
        break;
      }
      case 'native-simple': {
        const k = row('kvmtax-simple');
        if (k) { vs = `kvmtax ${(k.wall / r.wall).toFixed(2)}x native`; target = 'kvmtax <= 1.6x native'; verdict = pf(k.wall / r.wall <= 1.6); }
        break;
      }
      case 'baseline-simple': {
        const k = row('kvmtax-simple');
        if (k) { vs = `kvmtax ${(r.wall / k.wall).toFixed(2)}x faster`; target = 'kvmtax >= 8x faster'; verdict = pf(r.wall / k.wall >= 8); }
        break;
      }
      case 'kvmtax-simple-jobs2': {
        const k = row('kvmtax-simple');
        if (k) { vs = `${(k.wall / r.wall).toFixed(2)}x`; target = `>= 1.7x one job; ${rssTarget(r)}`; verdict = pf(k.wall / r.wall >= 1.7 && r.rss <= RSS_MAX_MB); }
        break;
      }
      case 'native-jobs2': case 'native-simple-jobs2': {
        const one = row(c.name === 'native-jobs2' ? 'native-ftrace' : 'native-simple');
        if (one) { vs = `${(one.wall / r.wall).toFixed(2)}x native on 1 thread`; target = 'this machine\'s 2-thread gain (reference)'; verdict = 'n/a'; }
        break;
      }
      case 'kvmtax-256vcpu':
        target = rssTarget(r); verdict = pf(r.rss <= RSS_MAX_MB);
        break;
      case 'kvmtax-150k-threads':
        target = `${rssTarget(r)}, or exit 1 naming --max-memory`; verdict = pf(r.rss <= RSS_MAX_MB);
        break;
      case 'kvmtax-perf': case 'kvmtax-trace-cmd':
        if (ref) { vs = `${(r.rate / ref.rate).toFixed(2)}x`; target = `same order as ftrace (>= 0.7x); ${rssTarget(r)}`; verdict = pf(r.rate / ref.rate >= 0.7 && r.rss <= RSS_MAX_MB); }
        break;
      case 'kvmtax-jobs2':
        if (ref) { vs = `${(r.rate / ref.rate).toFixed(2)}x`; target = `>= 1.7x one worker; ${rssTarget(r)}`; verdict = pf(r.rate / ref.rate >= 1.7 && r.rss <= RSS_MAX_MB); }
        break;
      case 'kvmtax-perf.data': case 'kvmtax-perf.data-jobs2': {
        const p = row('perf-kvm-stat');
        if (p) { vs = `${(r.rate / p.rate).toFixed(2)}x perf`; }
        target = `>= 2x perf kvm stat (issue 13); ${rssTarget(r)}`;
        verdict = p ? pf(r.rate / p.rate >= 2 && r.rss <= RSS_MAX_MB) : '';
        break;
      }
      case 'kvmtax-trace.dat': {
        const t = row('trace-cmd-report');
        if (t) vs = `${(r.rate / t.rate).toFixed(2)}x trace-cmd`;
        // 1.2 MB: both tools' start-up is most of it. Issue 13's >= 10x is for a capture of 50 MB or more,
        // which the tiled rows (trace.dat-tiled) measure and judge
        target = 'none: start-up bound (>= 10x: tiled rows)';
        verdict = '';
        break;
      }
      default: break;
    }
    if (c.name === 'kvmtax-ftrace' && large) verdict = pf(r.rate >= 1400 && r.rss <= RSS_MAX_MB);
    rows.push([c.name, fmtBytes(c.bytes), r.wall.toFixed(3), r.rate.toFixed(0), r.rss.toFixed(0), vs, target, verdict]);
  }
  if (startup.length) {
    // wall decides the verdict; CPU (user + system) is given beside it, as a loaded machine stretches wall
    const wallOf = (ms: Measure[]): number => median(ms.map((m) => m.wall)), cpuOf = (ms: Measure[]): number => median(ms.map((m) => m.cpu));
    const n0 = wallOf(startNode), c0 = cpuOf(startNode);
    const cpuNote = (ms: Measure[]): string => (Number.isNaN(c0) ? '' : `, cpu node + ${((cpuOf(ms) - c0) * 1000).toFixed(0)} ms`);
    rows.push(['node -e 0', '', n0.toFixed(3), '', '', Number.isNaN(c0) ? '' : `cpu ${(c0 * 1000).toFixed(0)} ms`, '', '']);
    const row = (name: string, what: string, ms: Measure[], goal: boolean): void => {
      const w = wallOf(ms);
      rows.push([name, what, w.toFixed(3), '', '', `node + ${((w - n0) * 1000).toFixed(0)} ms${cpuNote(ms)}`, goal ? '<= node + 60 ms' : '', goal ? pf(w - n0 <= 0.06) : '']);
    };
    row('startup --help', '', startHelp, true);
    row('startup tiny', '2-line ftrace', startTiny, true);
    row('startup', 'traces/svm-D-small/trace.txt.xz', startup, false);
  }
  if (big) {
    const rate = bigBytes / big.wall / MB, rss = big.rssKb / 1024;
    rows.push(['kvmtax-ftrace-4G', fmtBytes(bigBytes), big.wall.toFixed(3), rate.toFixed(0), rss.toFixed(0), '', `RSS <= ${RSS_MAX_MB} MB`, pf(rss <= RSS_MAX_MB)]);
  }
  if (want('trace.dat-tiled')) {
    const td = await traceDatTiled(tmp, o, say);
    rows.push(...td.rows); checks.push(...td.checks); notes.push(...td.notes); problems.push(...td.problems);
  }
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join(' | ')} |`;
  say(line(header));
  say(`|${w.map((n, i) => (i >= 2 && i <= 4 ? `${'-'.repeat(n + 1)}:` : '-'.repeat(n + 2))).join('|')}|`);
  for (const r of rows) say(line(r));
  say('');
  say('medians of the runs; MB/s = 10^6 bytes of input per second of wall time (whole process: start-up, read, report);');
  say('peak RSS = the child\'s maximum resident set; "vs kvmtax" = throughput ratio.');
  for (const c of cs) say(`  ${c.name}: ${c.what}`);
  if (notes.length) { say(''); for (const n of notes) say(`note: ${n}`); }
  say('');
  say('correctness:');
  for (const c of checks) say(`  ${c}`);
  if (problems.length) {
    say('');
    say('!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!');
    for (const p of problems) say(`!!! ${p}`);
    say('!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!');
    return 1;
  }
  return 0;
}

/**
 * trace.dat at scale (issue 13): a real capture tiled (tile-tracedat.ts) to --size of pages (64 MB .. 256 MB; 8 MB
 * with --quick), written plain (v6) and zstd-compressed (v7) by kvmtax record's writers; kvmtax report against
 * `trace-cmd report`, alternating, medians of wall and of CPU (user + system: a loaded machine stretches wall).
 * Checked: kvmtax's event count = trace-cmd report's event lines = copies x the capture's events, and the two
 * files give the same handled exits.
 */
async function traceDatTiled(tmp: string, o: Opts, say: (s: string) => void): Promise<{ rows: string[][]; checks: string[]; notes: string[]; problems: string[] }> {
  const out = { rows: [] as string[][], checks: [] as string[], notes: [] as string[], problems: [] as string[] };
  const src = TRACE_DAT_SRC.find((p) => fs.existsSync(p));
  if (!src) { out.notes.push('trace.dat-tiled: no capture to tile: skipped'); return out; }
  if (!has('trace-cmd')) { out.notes.push('trace.dat-tiled: trace-cmd is not installed (apt-get install trace-cmd): skipped'); return out; }
  const size = o.quick ? parseSize('8M') : Math.max(parseSize('64M'), Math.min(o.size, parseSize('256M')));
  const node = process.execPath;
  const files: { tag: string; file: string; copies: number }[] = [];
  for (const zstd of [false, true]) {
    const file = path.join(tmp, `tiled${zstd ? '-zstd' : ''}.trace.dat`);
    const r = await tileTraceDat(src, file, size, zstd);
    files.push({ tag: zstd ? 'zstd' : 'plain', file, copies: r.copies });
    say(`tiled ${path.relative(ROOT, src)} x ${r.copies}${zstd ? ' (v7, zstd)' : ' (v6)'} -> ${fmtBytes(r.bytes)}`);
  }
  const srcEvents = (JSON.parse(spawnSync(node, [KVMTAX, 'report', src, '-f', 'json'], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout) as { inputs: { events: number }[] }).inputs[0]!.events;
  const cs: { name: string; f: (typeof files)[number]; cmd: string[]; runs: Measure[] }[] = [];
  for (const f of files) {
    cs.push({ name: `kvmtax-trace.dat-${f.tag}`, f, cmd: [node, KVMTAX, 'report', f.file, '-f', 'json', '-o', `${f.file}.json`], runs: [] });
    cs.push({ name: `trace-cmd-report-${f.tag}`, f, cmd: ['trace-cmd', 'report', '-i', f.file], runs: [] });
  }
  for (let run = 0; run < o.runs; run++) {
    for (const c of cs) {
      const m = await measure(c.cmd, null, tmp);
      if (m.code !== 0) out.problems.push(`${c.name}: exit code ${m.code}: ${m.stderr.trim().split('\n').slice(-2).join(' | ')}`);
      c.runs.push(m);
      process.stderr.write(`  run ${run + 1}/${o.runs} ${c.name}: ${m.wall.toFixed(3)} s, cpu ${m.cpu.toFixed(3)} s\n`);
    }
  }
  const handled: number[] = [];
  for (const f of files) {
    const k = cs.find((c) => c.name === `kvmtax-trace.dat-${f.tag}`)!, t = cs.find((c) => c.name === `trace-cmd-report-${f.tag}`)!;
    const bytes = fs.statSync(f.file).size;
    const kw = median(k.runs.map((r) => r.wall)), tw = median(t.runs.map((r) => r.wall));
    const kc = median(k.runs.map((r) => r.cpu)), tc = median(t.runs.map((r) => r.cpu));
    const cpu = Number.isNaN(kc) ? '' : `; cpu ${kc.toFixed(3)} s vs ${tc.toFixed(3)} s: ${(tc / kc).toFixed(1)}x`;
    out.rows.push([k.name, fmtBytes(bytes), kw.toFixed(3), (bytes / kw / MB).toFixed(0), (median(k.runs.map((r) => r.rssKb)) / 1024).toFixed(0),
      `${(tw / kw).toFixed(2)}x trace-cmd${cpu}`, '>= 10x trace-cmd report', pf(tw / kw >= 10)]);
    out.rows.push([t.name, fmtBytes(bytes), tw.toFixed(3), (bytes / tw / MB).toFixed(0), (median(t.runs.map((r) => r.rssKb)) / 1024).toFixed(0), '', '', '']);
    // trace-cmd's event lines ("comm-pid [cpu] time: event: ..."), counted as they stream by
    const tcEvents = Number(spawnSync('sh', ['-c', `trace-cmd report -i '${f.file}' 2>/dev/null | grep -cE '\\[[0-9]+\\] +[0-9]+\\.[0-9]+: '`], { encoding: 'utf8' }).stdout.trim());
    const rep = fs.existsSync(`${f.file}.json`) ? JSON.parse(fs.readFileSync(`${f.file}.json`, 'utf8')) as { inputs: { events: number }[]; totals: { exits_handled: number } } : undefined;
    const d: string[] = [];
    if (!rep) d.push('no kvmtax report');
    else {
      handled.push(rep.totals.exits_handled);
      if (rep.inputs[0]!.events !== tcEvents) d.push(`events: kvmtax ${rep.inputs[0]!.events} != trace-cmd report ${tcEvents}`);
      if (rep.inputs[0]!.events !== f.copies * srcEvents) d.push(`events: kvmtax ${rep.inputs[0]!.events} != ${f.copies} x ${srcEvents}`);
    }
    const what = `kvmtax on the tiled trace.dat (${f.tag}): events = trace-cmd report's event lines (${tcEvents}) = copies x the capture's`;
    if (d.length === 0) out.checks.push(`ok   ${what}`);
    else { out.checks.push(`FAIL ${what}`, ...d.map((x) => `       ${x}`)); out.problems.push(`MISMATCH: ${what}`); }
  }
  if (handled.length === 2) {
    const what = `kvmtax: the same handled exits on the plain and the zstd tiled trace.dat (${handled[0]})`;
    if (handled[0] === handled[1]) out.checks.push(`ok   ${what}`);
    else { out.checks.push(`FAIL ${what}: ${handled[1]}`); out.problems.push(`MISMATCH: ${what}`); }
  }
  return out;
}
const pf = (ok: boolean): string => (ok ? 'PASS' : 'MISS');

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await bench(parseArgs(process.argv.slice(2)));
}
