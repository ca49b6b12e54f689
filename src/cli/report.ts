/** `kvmtax report TRACE...`: the exit-tax report of one or more traces. */
import fs from 'node:fs';
import os from 'node:os';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { analyze } from '../pipeline/analyze.js';
import { withInputOptions, inputOptions, INPUT_FORMATS } from './input-options.js';
import { KvmtaxError } from '../core/errors.js';
import { GuestSymbols } from '../analysis/rips.js';
import { SECTION_NAMES, DEFAULT_SECTIONS } from '../report/sections.js';
import { render, OUTPUT_FORMATS } from '../report/render.js';
import { Progress } from './progress.js';
import { listOf } from './repeat.js';

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
}

export const command = 'report <traces..>';
export const describe = 'exit-tax report of KVM host traces (ftrace text, trace-cmd report, perf script; .gz/.xz; - for stdin)';

export function builder(y: Argv): Argv<Args> {
  return withInputOptions(y)
    .positional('traces', { type: 'string', array: true, describe: 'trace files; several give one report with their VMs kept apart' })
    .option('format', { alias: 'f', type: 'string', describe: `output: ${OUTPUT_FORMATS.join('|')} (an input format name here sets --input-format)` })
    .option('top', { type: 'number', default: 10, describe: 'how many of the slowest exits to list' })
    .option('by', { type: 'string', choices: BY_KEYS, describe: 'add a breakdown: vcpu (vCPU x reason), msr, port, mmio (exits and time per key, like perf kvm stat\'s msr/ioport/mmio analyses); csv: the table to write (or --sections halt|timers|ipi|sched)' })
    .option('sections', { type: 'string', describe: `comma-separated sections to show (${SECTION_NAMES.join(',')}; default ${DEFAULT_SECTIONS.join(',')})` })
    .option('guest-symbols', { type: 'string', describe: 'with --by rip: the guest kernel\'s /proc/kallsyms or System.map, to name the RIPs' })
    .option('histograms', { type: 'boolean', default: false, describe: 'JSON: include each reason\'s histogram buckets' })
    .option('jobs', { alias: 'j', type: 'number', default: 1, describe: 'worker threads for each plain (uncompressed) text file of 16 MiB or more: line-aligned slices, merged exactly' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress line on stderr' })
    .option('what-if', { type: 'string', choices: WHAT_IF_SCENARIOS, describe: 'forecast what cpu-pm, an exitless timer or exitless IPIs would change, with the levers section\'s models (printed after the report; JSON: a what_if member, a list when given more than once); repeatable' })
    .option('output', { alias: 'o', type: 'string', describe: 'write to this file instead of stdout' }) as unknown as Argv<Args>;
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
  if (!(argv.top >= 0)) throw KvmtaxError.usage('--top must be 0 or more');
  const by = listOf(argv.by);
  let only: Set<string> | undefined;
  if (argv.sections) {
    only = new Set(argv.sections.split(',').map((x) => x.trim()).filter(Boolean));
    const bad = [...only].filter((x) => !SECTION_NAMES.includes(x));
    if (bad.length) throw KvmtaxError.usage(`unknown section "${bad[0]}" (known: ${SECTION_NAMES.join(', ')})`);
  }
  const progress = Progress.enabled(argv.quiet) ? new Progress(totalSize(argv.traces)) : undefined;
  const done: number[] = [];
  const report = await analyze(argv.traces, {
    onProgress: progress && ((n, i) => { done[i] = n; progress.nextFile(done.slice(0, i).reduce((a, b) => a + (b ?? 0), 0)); progress.update(n); }),
    ...inputOptions(argv, inputFormat),
    top: argv.top, histograms: argv.histograms || out === 'html', jobs, userspace: only?.has('userspace'), handling: only?.has('handling'),
    rips: listOf(argv.by).includes('rip') || only?.has('rip'), guestSymbols: guestSymbols(argv.guestSymbols),
  });
  progress?.done();
  let text = render(report, out, { by, sections: only });
  const scenarios = [...new Set(listOf(argv.whatIf))] as WhatIfScenario[];
  if (scenarios.length) {
    if (out === 'json') {
      const w = scenarios.map((sc) => whatIf(report, sc));
      text = JSON.stringify({ ...JSON.parse(text), what_if: w.length === 1 ? w[0] : w }, null, 2) + '\n';
    } else if (out !== 'html') for (const sc of scenarios) text += '\n' + renderWhatIf(report, sc, out);
  }
  if (argv.output) fs.writeFileSync(argv.output, text);
  else process.stdout.write(text);
}

export const BY_KEYS = ['reason', 'vcpu', 'msr', 'port', 'mmio', 'rip'];
