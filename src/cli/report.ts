/** `kvmtax report TRACE...`: the exit-tax report of one or more traces. */
import fs from 'node:fs';
import os from 'node:os';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { analyze } from '../pipeline/analyze.js';
import { withInputOptions, inputOptions, INPUT_FORMATS } from './input-options.js';
import { KvmtaxError } from '../core/errors.js';
import { GuestSymbols } from '../analysis/rips.js';
import { SECTION_NAMES, DEFAULT_SECTIONS } from '../report/sections.js';
import { render, jsonBodyOf, OUTPUT_FORMATS } from '../report/render.js';
import { Progress } from './progress.js';
import { listOf } from './repeat.js';
import { withManifests, readManifest, manifestPath, type ReportLike } from '../record/manifest.js';
import { buildExitCost, type HostCpu } from '../analysis/exit-cost.js';
import path from 'node:path';
import { target, writeOutput } from '../core/output.js';
import { tableWidth, WIDE_OPTION } from './width.js';
import { INPUT_FORMATS_HELP, REPORT_EXAMPLES } from './examples.js';

/** --top's bound: each listed exit costs a row in the core's memory. */
export const MAX_TOP = 100000;

/** The inputs' total size on disk, when all are plain files (compressed ones count as their file size). */
function totalSize(files: string[]): number | undefined {
  let n = 0;
  for (const f of files) {
    try { n += fs.statSync(f).size; } catch { return undefined; }
  }
  return n || undefined;
}
import { renderWhatIf } from '../report/compare-whatif.js';
import { whatIf, WHAT_IF_SCENARIOS, type WhatIfScenario } from '../analysis/runs/whatif.js';
import { attachPhases, PhaseCollector } from '../analysis/levers/index.js';
import { phase } from '../core/phases.js';

interface Args {
  traces: string[];
  format?: string | string[];
  inputFormat?: string;
  strict: boolean;
  tscKhz?: number;
  isa?: string;
  top: number;
  by?: string | string[];
  sections?: string;
  whatIf?: string | string[];
  quiet: boolean;
  jobs: number;
  histograms: boolean;
  guestSymbols?: string;
  output?: string;
  wide?: boolean;
  pid?: number;
  vcpu?: number;
}

export const command = 'report <traces..>';
export const describe = `exit-tax report of KVM host traces. ${INPUT_FORMATS_HELP}`;

export function builder(y: Argv): Argv<Args> {
  return withInputOptions(y)
    .positional('traces', { type: 'string', array: true, describe: 'trace files; several give one report with their VMs kept apart' })
    .option('format', { alias: 'f', type: 'string', describe: `output: ${OUTPUT_FORMATS.join('|')} (an input format name here sets --input-format)` })
    .option('top', { type: 'number', default: 10, describe: 'how many of the slowest exits to list' })
    .option('by', { type: 'string', choices: BY_KEYS, describe: 'add a breakdown: vm (reasons per VM, as perf kvm stat report -p; shown anyway with several VMs), vcpu (vCPU x reason), msr, port, mmio (exits and time per key, like perf kvm stat\'s msr/ioport/mmio analyses); csv: the table to write (or --sections halt|timers|ipi|sched)' })
    .option('sections', { type: 'string', describe: `comma-separated sections to show (${SECTION_NAMES.join(',')}; default ${DEFAULT_SECTIONS.join(',')}, and arm64 for arm64 traces)` })
    .option('guest-symbols', { type: 'string', describe: 'with --by rip: the guest kernel\'s /proc/kallsyms or System.map, to name the RIPs' })
    .option('histograms', { type: 'boolean', default: false, describe: 'JSON: include each reason\'s histogram buckets' })
    .option('jobs', { alias: 'j', type: 'number', default: 1, describe: 'worker threads for each plain (uncompressed) text file, perf.data or trace.dat of 16 MiB or more: line-aligned slices (text), slices of the time-ordered stream (perf.data, trace.dat), merged exactly' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress line on stderr' })
    .option('what-if', { type: 'string', describe: `forecast what cpu-pm, an exitless timer or exitless IPIs would change, with the levers section's models (${WHAT_IF_SCENARIOS.join('|')}; repeat for several; printed after the report; JSON: a what_if member, a list when several)` })
    .option('pid', { alias: 'p', type: 'number', describe: 'only the vCPU threads of this VM process (perf kvm stat report -p)' })
    .option('vcpu', { type: 'number', describe: 'only this vCPU id (perf kvm stat report --vcpu); with --pid, of that VM' })
    .option('wide', WIDE_OPTION)
    .option('output', { alias: 'o', type: 'string', describe: 'write to this file instead of stdout' })
    .example(REPORT_EXAMPLES) as unknown as Argv<Args>;
}

function guestSymbols(file: string | undefined): GuestSymbols | undefined {
  if (!file) return undefined;
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (e) { throw new KvmtaxError(`cannot read --guest-symbols: ${(e as Error).message}`, { file }); }
  const g = new GuestSymbols(text);
  if (g.size === 0) throw new KvmtaxError('--guest-symbols: no "<address> <type> <name>" line (expected /proc/kallsyms or System.map)', { file, line: 1, col: 1 });
  return g;
}

export async function handler(argv: ArgumentsCamelCase<Args>): Promise<void> {
  let out = 'table';
  let inputFormat = argv.inputFormat;
  for (const f of listOf(argv.format)) {
    if (OUTPUT_FORMATS.includes(f)) out = f;
    else if (INPUT_FORMATS.includes(f)) inputFormat = f;
    else throw KvmtaxError.usage(`unknown --format "${f}" (output: ${OUTPUT_FORMATS.join(', ')}; input: ${INPUT_FORMATS.join(', ')})`);
  }
  if (!(Number.isInteger(argv.jobs) && argv.jobs >= 1 && argv.jobs <= 64)) throw KvmtaxError.usage('--jobs must be a whole number from 1 to 64');
  // more slices than CPUs only add merging: capped, with a note (the figures are the same at any count)
  const cpus = os.availableParallelism();
  let jobs = argv.jobs;
  if (jobs > cpus) {
    if (!argv.quiet) process.stderr.write(`kvmtax: --jobs ${jobs} capped at ${cpus} (the CPUs available)\n`);
    jobs = cpus;
  }
  if (!(Number.isInteger(argv.top) && argv.top >= 0 && argv.top <= MAX_TOP)) throw KvmtaxError.usage(`--top must be a whole number from 0 to ${MAX_TOP}`);
  for (const [k, v] of [['--pid', argv.pid], ['--vcpu', argv.vcpu]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw KvmtaxError.usage(`${k} must be a whole number (got ${v})`);
  }
  const whatIfs = [...new Set(listOf(argv.whatIf))];
  for (const w of whatIfs) if (!WHAT_IF_SCENARIOS.includes(w as WhatIfScenario)) throw KvmtaxError.usage(`--what-if: unknown scenario "${w}" (known: ${WHAT_IF_SCENARIOS.join(', ')})`);
  // checked before the traces are read: a bad -o is not found after minutes of reading
  target(argv.output, argv.traces, '-o');
  const by = listOf(argv.by);
  let only: Set<string> | undefined;
  if (argv.sections) {
    only = new Set(argv.sections.split(',').map((x) => x.trim()).filter(Boolean));
    const bad = [...only].filter((x) => !SECTION_NAMES.includes(x));
    if (bad.length) throw KvmtaxError.usage(`unknown section "${bad[0]}" (known: ${SECTION_NAMES.join(', ')})`);
  }
  const progress = Progress.enabled(argv.quiet) ? new Progress(totalSize(argv.traces)) : undefined;
  const done: number[] = [];
  // --sections levers: the exit rows give the phases of work (port 0x501/0x502 markers), timed; one
  // thread only (--jobs slices do not stream rows)
  const phaseRows = only?.has('levers') && !(jobs && jobs > 1) ? new PhaseCollector(inputOptions(argv, inputFormat).isa) : undefined;
  const report = await analyze(argv.traces, {
    rows: phaseRows?.sink,
    onProgress: progress && ((n, i) => { done[i] = n; progress.nextFile(done.slice(0, i).reduce((a, b) => a + (b ?? 0), 0)); progress.update(n); }),
    ...inputOptions(argv, inputFormat),
    top: argv.top, histograms: argv.histograms || out === 'html', jobs, filter: { pid: argv.pid, vcpu: argv.vcpu },
    userspace: only?.has('userspace'), handling: only?.has('handling'), nested: only?.has('nested'),
    rips: listOf(argv.by).includes('rip') || only?.has('rip'), gpas: listOf(argv.by).includes('gpa') || only?.has('gpa'), guestSymbols: guestSymbols(argv.guestSymbols),
  });
  progress?.done();
  if (phaseRows) attachPhases(report, phaseRows.finish());
  if (only?.has('exitcost')) report.exitcost = buildExitCost(report, argv.traces.map((t) => hostCpuOf(t)));
  const width = tableWidth(argv.wide);
  // plain JSON goes out as its body and a newline: body + '\n' is a new string that V8 copies whole to
  // flatten it (the realistic 1 GB file's report: 2.2 MB, 530 fresh pages, about 7 ms on this VM)
  if (out === 'json' && !whatIfs.length && !argv.traces.some((t) => readManifest(t) !== undefined)) {
    await writeOutput([jsonBodyOf(report, only), '\n'], argv.output, argv.traces);
    phase('written');
    return;
  }
  let text = render(report, out, { by, sections: only }, width);
  if (whatIfs.length) {
    // JSON: one scenario is an object (as before), several an array in the order given
    const forecasts = whatIfs.map((w) => whatIf(report, w as WhatIfScenario));
    if (out === 'json') text = JSON.stringify({ ...JSON.parse(text), what_if: forecasts.length === 1 ? forecasts[0] : forecasts }, null, 2) + '\n';
    else if (out !== 'html') for (const w of whatIfs) text += '\n' + renderWhatIf(report, w as WhatIfScenario, out, width);
  }
  text = withManifests(text, argv.traces, out, report as unknown as ReportLike);
  await writeOutput(text, argv.output, argv.traces);
  phase('written');
}

/** The host CPU of a trace, from kvmtax record's manifest beside it (the only source kvmtax reads today). */
function hostCpuOf(trace: string): HostCpu {
  const m = readManifest(trace);
  const name = manifestPath(trace.replace(/\.(xz|gz)$/, ''));
  if (!m) return { file: trace, cpu_model: null, from: 'none (no kvmtax record manifest beside the trace)' };
  return { file: trace, cpu_model: m.host.cpu_model, from: `kvmtax record manifest (${path.basename(name)})`, under_hypervisor: m.virtualization.flags.includes('hypervisor'), vulnerabilities: m.vulnerabilities };
}

export const BY_KEYS = ['reason', 'vm', 'vcpu', 'msr', 'port', 'mmio', 'rip', 'gpa'];
