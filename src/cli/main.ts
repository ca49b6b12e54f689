/**
 * kvmtax command line. Exit codes: 0 success, 1 bad input (the message says file:line:col),
 * 2 usage error, 70 internal error (a bug: printed with its stack trace).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import * as report from './report.js';
import * as compare from './compare.js';
import { KvmtaxError, EXIT_INTERNAL, EXIT_USAGE } from '../core/errors.js';
import { version } from '../pipeline.js';
import { STDIN } from '../formats/source.js';

export async function main(args: string[]): Promise<number> {
  let usage = false;
  try {
    // yargs drops a bare "-" positional: carry it as a token the readers know as stdin
    await yargs(args.map((a) => (a === '-' ? STDIN : a)))
      .scriptName('kvmtax')
      .command(report)
      .command(compare)
      .demandCommand(1, 'name a command: report')
      .strict()
      .version(version())
      .help()
      .wrap(Math.min(110, process.stdout.columns || 110))
      .fail((msg, err) => {
        if (err) throw err;
        usage = true;
        throw new KvmtaxError(msg, undefined, undefined, undefined, undefined, EXIT_USAGE);
      })
      .parseAsync();
    return 0;
  } catch (e) {
    if (e instanceof KvmtaxError) {
      process.stderr.write(`kvmtax: ${e.format()}\n`);
      if (usage) process.stderr.write('run "kvmtax --help" for the commands and options\n');
      return e.exitCode;
    }
    const err = e as NodeJS.ErrnoException;
    if (err && err.code === 'EPIPE') return 0;
    process.stderr.write(`kvmtax: internal error (please report it): ${err?.stack ?? String(e)}\n`);
    return EXIT_INTERNAL;
  }
}


export function run(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); });
  main(hideBin(process.argv)).then((code) => { process.exitCode = code; });
}
