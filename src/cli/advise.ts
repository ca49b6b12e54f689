/** `kvmtax advise TRACE...`: the levers section on its own, short: which lever to pull, and how. */
import fs from 'node:fs';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { analyze } from '../pipeline/analyze.js';
import { withInputOptions, inputOptions } from './input-options.js';
import { KvmtaxError } from '../core/errors.js';
import { attachPhases, buildLevers, PhaseCollector } from '../analysis/levers/index.js';
import { adviseTables, leverTables } from '../report/levers.js';
import { renderTables } from '../report/table.js';
import { renderMarkdown } from '../report/markdown.js';
import { render } from '../report/render.js';
import { tableWidth, WIDE_OPTION } from './width.js';

export const ADVISE_FORMATS = ['table', 'md', 'json', 'html'];

interface Args {
  traces: string[];
  format: string;
  inputFormat?: string;
  strict: boolean;
  tscKhz?: number;
  isa?: string;
  long: boolean;
  wide: boolean;
  output?: string;
}

export const command = 'advise <traces..>';
export const describe = 'which lever to pull: every tax-cutting lever ranked from the trace (the levers section of report, short)';

export function builder(y: Argv): Argv<Args> {
  return withInputOptions(y)
    .positional('traces', { type: 'string', array: true, describe: 'trace files (one run)' })
    .option('format', { alias: 'f', type: 'string', choices: ADVISE_FORMATS, default: 'table', describe: 'output format' })
    .option('long', { type: 'boolean', default: false, describe: 'all the evidence, preconditions and combinations (as report --sections levers)' })
    .option('wide', WIDE_OPTION)
    .option('output', { alias: 'o', type: 'string', describe: 'write to this file instead of stdout' }) as unknown as Argv<Args>;
}

export async function handler(argv: ArgumentsCamelCase<Args>): Promise<void> {
  if (!ADVISE_FORMATS.includes(argv.format)) throw KvmtaxError.usage(`unknown --format "${argv.format}" (${ADVISE_FORMATS.join(', ')})`);
  const io = inputOptions(argv, argv.inputFormat);
  // the exit rows give the phases of work (port 0x501/0x502 markers), timed
  const phases = new PhaseCollector(io.isa);
  const report = await analyze(argv.traces, { ...io, top: 10, histograms: argv.format === 'html', rows: phases.sink });
  const lv = buildLevers(report, { phases: phases.finish() });
  let text: string;
  switch (argv.format) {
    case 'json': text = JSON.stringify({ kvmtax: report.kvmtax, inputs: report.inputs, isa: report.isa, levers: lv }, null, 2) + '\n'; break;
    case 'html': attachPhases(report, lv.phases ?? null); text = render(report, 'html', { sections: new Set(['summary', 'levers']) }); break;
    case 'md': text = renderMarkdown(argv.long ? leverTables(lv) : adviseTables(lv)); break;
    default: text = renderTables(argv.long ? leverTables(lv) : adviseTables(lv), { width: argv.output ? undefined : tableWidth(argv.wide) });
  }
  if (argv.output) fs.writeFileSync(argv.output, text);
  else process.stdout.write(text);
}
