/** The input options every command that reads traces shares (report, compare, export, sql). */
import type { Argv } from 'yargs';
import { KvmtaxError } from '../core/errors.js';
import { FORMAT_NAMES } from '../formats/registry.js';
import type { AnalyzeOptions } from '../pipeline/analyze.js';
import { DEFAULT_MAX_MEMORY_MB } from '../wasm/core.js';

export const INPUT_FORMATS = [...FORMAT_NAMES];

export interface InputArgs {
  inputFormat?: string;
  strict: boolean;
  tscKhz?: number;
  isa?: string;
  maxMemory?: number;
}

/** --input-format, --strict, --tsc-khz and --isa. */
export function withInputOptions<T>(y: Argv<T>, tscNote = ''): Argv<T> {
  return y
    .option('input-format', { alias: 'from', type: 'string', choices: INPUT_FORMATS, describe: 'input format (default: detected from the content)' })
    .option('strict', { type: 'boolean', default: false, describe: 'any skipped line is an error' })
    .option('tsc-khz', { type: 'number', describe: `TSC rate for trace_clock=x86-tsc timestamps (raw cycles)${tscNote}` })
    .option('isa', { type: 'string', choices: ['vmx', 'svm'], describe: 'exit-reason table for numeric reasons (default: from the names in the trace)' })
    .option('max-memory', { type: 'number', describe: `memory budget in MiB (default ${DEFAULT_MAX_MEMORY_MB}): past it kvmtax stops (exit 1); a trace of thousands of threads needs more` }) as unknown as Argv<T>;
}

/** The analyze() options they give; a bad --tsc-khz is a usage error. */
export function inputOptions(argv: InputArgs, format = argv.inputFormat): Pick<AnalyzeOptions, 'format' | 'strict' | 'tscKhz' | 'isa' | 'maxMemoryMb'> {
  if (argv.tscKhz !== undefined && !(argv.tscKhz > 0)) throw KvmtaxError.usage('--tsc-khz must be a positive number');
  if (argv.maxMemory !== undefined && !(argv.maxMemory >= 64 && argv.maxMemory <= 65536)) throw KvmtaxError.usage('--max-memory must be a number of MiB from 64 to 65536');
  return { format, strict: argv.strict, tscKhz: argv.tscKhz, isa: argv.isa === 'vmx' ? 1 : argv.isa === 'svm' ? 2 : undefined, maxMemoryMb: argv.maxMemory };
}
