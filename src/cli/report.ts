/** `kvmtax report TRACE...`: the exit-tax report of one or more traces. */
import fs from 'node:fs';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { analyze } from '../pipeline.js';
import { KvmtaxError } from '../core/errors.js';
import { TEXT_FORMATS } from '../formats/text.js';
import { BINARY_FORMATS } from '../formats/binary.js';
import { sections } from '../report/sections.js';
import { renderTables } from '../report/table.js';
import { renderMarkdown } from '../report/markdown.js';
import { renderCsv } from '../report/csv.js';
import type { Report } from '../analysis/summary.js';

export const OUTPUT_FORMATS = ['table', 'json', 'csv', 'md'];
const INPUT_FORMATS = [...Object.keys(TEXT_FORMATS), ...BINARY_FORMATS];

interface Args {
  traces: string[];
  format?: string[];
  inputFormat?: string;
  strict: boolean;
  tscKhz?: number;
  isa?: string;
  top: number;
  by?: string;
  histograms: boolean;
  output?: string;
}

export const command = 'report <traces..>';
export const describe = 'exit-tax report of KVM host traces (ftrace text, trace-cmd report, perf script; .gz/.xz; - for stdin)';

export function builder(y: Argv): Argv<Args> {
  return y
    .positional('traces', { type: 'string', array: true, describe: 'trace files; several give one report with their VMs kept apart' })
    .option('format', { alias: 'f', type: 'string', array: true, describe: `output: ${OUTPUT_FORMATS.join('|')} (an input format name here sets --input-format)` })
    .option('input-format', { alias: 'from', type: 'string', choices: INPUT_FORMATS, describe: 'input format (default: detected from the content)' })
    .option('strict', { type: 'boolean', default: false, describe: 'any skipped line is an error' })
    .option('tsc-khz', { type: 'number', describe: 'TSC rate for trace_clock=x86-tsc timestamps (raw cycles)' })
    .option('isa', { type: 'string', choices: ['vmx', 'svm'], describe: 'exit-reason table for numeric reasons (default: from the names in the trace)' })
    .option('top', { type: 'number', default: 10, describe: 'how many of the slowest exits to list' })
    .option('by', { type: 'string', choices: ['reason', 'vcpu'], describe: 'vcpu: add the vCPU x reason matrix' })
    .option('histograms', { type: 'boolean', default: false, describe: 'JSON: include each reason\'s histogram buckets' })
    .option('output', { alias: 'o', type: 'string', describe: 'write to this file instead of stdout' }) as unknown as Argv<Args>;
}

export async function handler(argv: ArgumentsCamelCase<Args>): Promise<void> {
  let out = 'table';
  let inputFormat = argv.inputFormat;
  for (const f of argv.format ?? []) {
    if (OUTPUT_FORMATS.includes(f)) out = f;
    else if (INPUT_FORMATS.includes(f)) inputFormat = f;
    else throw new KvmtaxError(`unknown --format "${f}" (output: ${OUTPUT_FORMATS.join(', ')}; input: ${INPUT_FORMATS.join(', ')})`, undefined, undefined, undefined, undefined, 2);
  }
  if (argv.tscKhz !== undefined && !(argv.tscKhz > 0)) throw new KvmtaxError('--tsc-khz must be a positive number', undefined, undefined, undefined, undefined, 2);
  if (!(argv.top >= 0)) throw new KvmtaxError('--top must be 0 or more', undefined, undefined, undefined, undefined, 2);
  const report = await analyze(argv.traces, {
    format: inputFormat, strict: argv.strict, tscKhz: argv.tscKhz, isa: argv.isa === 'vmx' ? 1 : argv.isa === 'svm' ? 2 : undefined,
    top: argv.top, histograms: argv.histograms,
  });
  const text = render(report, out, argv.by === 'vcpu');
  if (argv.output) fs.writeFileSync(argv.output, text);
  else process.stdout.write(text);
}

export function render(report: Report, format: string, byVcpu: boolean): string {
  switch (format) {
    case 'json': return JSON.stringify(report, null, 2) + '\n';
    case 'csv': return renderCsv(report, byVcpu);
    case 'md': return renderMarkdown(sections(report, { byVcpu }));
    default: return renderTables(sections(report, { byVcpu }));
  }
}
