/** `kvmtax report TRACE...`: the exit-tax report of one or more traces. */
import fs from 'node:fs';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { analyze } from '../pipeline.js';
import { withInputOptions, inputOptions, INPUT_FORMATS } from './input-options.js';
import { KvmtaxError } from '../core/errors.js';
import { sections, SECTION_NAMES, DEFAULT_SECTIONS, type ViewOptions } from '../report/sections.js';
import { renderTables } from '../report/table.js';
import { renderMarkdown } from '../report/markdown.js';
import { renderCsv } from '../report/csv.js';
import { renderHtml } from '../report/html.js';
import { Progress } from './progress.js';
import { listOf } from './repeat.js';
import { target, writeOutput } from './output.js';
import { tableWidth, WIDE_OPTION } from './width.js';

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
import { whatIf, WHAT_IF_SCENARIOS, type WhatIfScenario } from '../analysis/whatif.js';
import type { Report } from '../analysis/summary.js';

export const OUTPUT_FORMATS = ['table', 'json', 'csv', 'md', 'html'];

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
  output?: string;
  wide?: boolean;
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
    .option('histograms', { type: 'boolean', default: false, describe: 'JSON: include each reason\'s histogram buckets' })
    .option('jobs', { alias: 'j', type: 'number', default: 1, describe: 'worker threads for each plain (uncompressed) text file of 16 MiB or more: line-aligned slices, merged exactly' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress line on stderr' })
    .option('what-if', { type: 'string', describe: `forecast what cpu-pm, an exitless timer or exitless IPIs would change (${WHAT_IF_SCENARIOS.join('|')}; repeat for several; printed after the report; JSON: a what_if member, an array when several)` })
    .option('wide', WIDE_OPTION)
    .option('output', { alias: 'o', type: 'string', describe: 'write to this file instead of stdout' }) as unknown as Argv<Args>;
}

export async function handler(argv: ArgumentsCamelCase<Args>): Promise<void> {
  let out = 'table';
  let inputFormat = argv.inputFormat;
  for (const f of listOf(argv.format)) {
    if (OUTPUT_FORMATS.includes(f)) out = f;
    else if (INPUT_FORMATS.includes(f)) inputFormat = f;
    else throw new KvmtaxError(`unknown --format "${f}" (output: ${OUTPUT_FORMATS.join(', ')}; input: ${INPUT_FORMATS.join(', ')})`, undefined, undefined, undefined, undefined, 2);
  }
  if (!(Number.isInteger(argv.jobs) && argv.jobs >= 1 && argv.jobs <= 64)) throw new KvmtaxError('--jobs must be a whole number from 1 to 64', undefined, undefined, undefined, undefined, 2);
  if (!(Number.isInteger(argv.top) && argv.top >= 0 && argv.top <= MAX_TOP)) throw new KvmtaxError(`--top must be a whole number from 0 to ${MAX_TOP}`, undefined, undefined, undefined, undefined, 2);
  const whatIfs = [...new Set(listOf(argv.whatIf))];
  for (const w of whatIfs) if (!WHAT_IF_SCENARIOS.includes(w as WhatIfScenario)) throw new KvmtaxError(`--what-if: unknown scenario "${w}" (known: ${WHAT_IF_SCENARIOS.join(', ')})`, undefined, undefined, undefined, undefined, 2);
  // checked before the traces are read: a bad -o is not found after minutes of reading
  target(argv.output, argv.traces, '-o');
  const progress = Progress.enabled(argv.quiet) ? new Progress(totalSize(argv.traces)) : undefined;
  const done: number[] = [];
  const report = await analyze(argv.traces, {
    onProgress: progress && ((n, i) => { done[i] = n; progress.nextFile(done.slice(0, i).reduce((a, b) => a + (b ?? 0), 0)); progress.update(n); }),
    ...inputOptions(argv, inputFormat),
    top: argv.top, histograms: argv.histograms || out === 'html', jobs: argv.jobs,
  });
  const by = listOf(argv.by);
  let only: Set<string> | undefined;
  if (argv.sections) {
    only = new Set(argv.sections.split(',').map((x) => x.trim()).filter(Boolean));
    const bad = [...only].filter((x) => !SECTION_NAMES.includes(x));
    if (bad.length) throw new KvmtaxError(`unknown section "${bad[0]}" (known: ${SECTION_NAMES.join(', ')})`, undefined, undefined, undefined, undefined, 2);
  }
  progress?.done();
  const width = tableWidth(argv.wide);
  let text = render(report, out, { by, sections: only }, width);
  if (whatIfs.length) {
    // JSON: one scenario is an object (as before), several an array in the order given
    const forecasts = whatIfs.map((w) => whatIf(report, w as WhatIfScenario));
    if (out === 'json') text = JSON.stringify({ ...JSON.parse(text), what_if: forecasts.length === 1 ? forecasts[0] : forecasts }, null, 2) + '\n';
    else if (out !== 'html') for (const w of whatIfs) text += '\n' + renderWhatIf(report, w as WhatIfScenario, out, width);
  }
  await writeOutput(text, argv.output, argv.traces);
}

export const BY_KEYS = ['reason', 'vcpu', 'msr', 'port', 'mmio'];

/** What to show: breakdowns (--by) and sections (--sections). A boolean means --by vcpu (older callers). */
export interface RenderView { by?: string[]; sections?: Set<string> }

/** The sections a view shows: the default ones, or those named, plus what --by asks for. */
export function viewOf(v: RenderView | boolean): ViewOptions {
  const view: RenderView = typeof v === 'boolean' ? { by: v ? ['vcpu'] : [] } : v;
  const shown = new Set(view.sections ?? DEFAULT_SECTIONS);
  for (const b of view.by ?? []) if (b !== 'reason' && b !== 'vcpu') shown.add(b);
  return { byVcpu: (view.by ?? []).includes('vcpu'), sections: shown };
}

/** JSON keeps every section unless --sections names some. */
function jsonOf(report: Report, sectionsNamed?: Set<string>): string {
  if (!sectionsNamed) return JSON.stringify(report, null, 2) + '\n';
  const keep: Record<string, unknown> = {};
  const alwaysKept = ['kvmtax', 'unit', 'inputs', 'isa', 'notes'];
  const sectionKeys: Record<string, string[]> = { summary: ['totals'], exits: ['reasons'], vcpus: ['vms'], top: ['top'], quality: ['quality'] };
  for (const [k, val] of Object.entries(report)) {
    const named = [...sectionsNamed].some((sec) => (sectionKeys[sec] ?? [sec]).includes(k));
    if (alwaysKept.includes(k) || named) keep[k] = val;
  }
  return JSON.stringify(keep, null, 2) + '\n';
}

/** `width`: fit text tables to it (src/report/table.ts); undefined: every column. */
export function render(report: Report, format: string, v: RenderView | boolean, width?: number): string {
  const view = viewOf(v);
  const named = typeof v === 'boolean' ? undefined : v.sections;
  // CSV writes one table: --sections NAME picks a section's (halt, timers, ipi, sched, msr, port, mmio,
  // vcpus, exits), else the last --by, else the reasons
  const named1 = named && named.size === 1 ? [...named][0]! : undefined;
  const sectionTable = named1 === 'vcpus' ? 'vcpu' : named1 === 'exits' ? 'reason' : named1 && ['halt', 'timers', 'ipi', 'sched', 'msr', 'port', 'mmio'].includes(named1) ? named1 : undefined;
  const csvTable = typeof v === 'boolean' ? (v ? 'vcpu' : 'reason') : sectionTable ?? (v.by ?? []).filter((b) => b !== 'reason').pop() ?? 'reason';
  switch (format) {
    case 'json': return jsonOf(report, named);
    case 'csv': return renderCsv(report, csvTable);
    case 'md': return renderMarkdown(sections(report, view));
    case 'html': return renderHtml(report, { view });
    default: return renderTables(sections(report, view), { width });
  }
}
