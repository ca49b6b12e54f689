/**
 * `kvmtax merge REPORT.json...`: per-host JSON reports (kvmtax report --format json --histograms) merged
 * exactly into one report of the same shape (src/analysis/runs/merge.ts); rendered like `kvmtax report`.
 */
import fs from 'node:fs';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { writeOutput } from '../core/output.js';
import { tableWidth, WIDE_OPTION } from './width.js';
import { KvmtaxError, EXIT_USAGE, oneLine } from '../core/errors.js';
import { STDIN } from '../formats/source.js';
import { mergeReports, MergeError } from '../analysis/runs/merge.js';
import { render, OUTPUT_FORMATS } from '../report/render.js';

interface Args {
  reports: string[];
  format: string;
  output?: string;
  wide?: boolean;
}

export const command = 'merge <reports..>';
export const describe = 'merge per-host JSON reports (made with --format json --histograms) exactly into one report';

export function builder(y: Argv): Argv<Args> {
  return y
    .positional('reports', { type: 'string', array: true, describe: 'JSON reports (- for stdin); VMs stay apart, histograms add up' })
    .option('format', { alias: 'f', type: 'string', choices: OUTPUT_FORMATS.filter((f) => f !== 'html'), default: 'json', describe: 'output format (json keeps the histograms, so merged reports merge again)' })
    .option('wide', WIDE_OPTION)
    .option('output', { alias: 'o', type: 'string', describe: 'write to this file instead of stdout' })
    .example('$0 merge hosts/*.json > fleet.json', 'a fleet\'s reports into one') as unknown as Argv<Args>;
}

export async function handler(argv: ArgumentsCamelCase<Args>): Promise<void> {
  const docs = argv.reports.map((p) => {
    let text: string;
    try {
      text = p === STDIN ? fs.readFileSync(0, 'utf8') : fs.readFileSync(p, 'utf8');
    } catch (e) {
      throw new KvmtaxError(`cannot read: ${(e as Error).message}`, { file: p });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw new KvmtaxError(`not JSON: ${oneLine((e as Error).message)}`, { file: p });
    }
  });
  let merged;
  try {
    merged = mergeReports(docs, argv.reports.map((p) => (p === STDIN ? '-' : p)));
  } catch (e) {
    if (e instanceof MergeError) throw new KvmtaxError(e.message, { exitCode: argv.reports.length ? 1 : EXIT_USAGE });
    throw e;
  }
  const text = render(merged, argv.format, { by: [] }, tableWidth(argv.wide));
  await writeOutput(text, argv.output, argv.reports);
}
