/**
 * kvmtax command line. Exit codes: 0 success, 1 bad input (the message says file:line:col),
 * 2 usage error, 70 internal error (a bug: printed with its stack trace).
 */
import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { KvmtaxError, EXIT_INTERNAL } from '../core/errors.js';
import { STDIN } from '../formats/source.js';
import { version } from '../core/package-root.js';
import { lastValueWins } from './repeat.js';

/**
 * The commands, each loaded only when it runs: `sql` and the Parquet export pull in DuckDB (a native
 * module that takes a third of a second to load), which `report` must not pay for at start-up.
 */
const COMMANDS: Array<[name: string, usage: string, describe: string, load: () => Promise<CommandModule>]> = [
  ['report', 'report <traces..>', 'exit-tax report of KVM host traces', async () => (await import('./report.js')) as unknown as CommandModule],
  ['compare', 'compare <traces..>', 'compare runs before and after a change (e.g. cpu-pm off vs on) and gate regressions', async () => (await import('./compare.js')) as unknown as CommandModule],
  ['export', 'export <traces..>', 'export a trace as a Perfetto timeline, Parquet or Arrow', async () => (await import('./export.js')) as unknown as CommandModule],
  ['sql', 'sql [query] [traces..]', 'SQL over every exit, halt and timer event (embedded DuckDB)', async () => (await import('./sql.js')) as unknown as CommandModule],
  ['advise', 'advise <traces..>', 'which lever to pull: the tax-cutting levers ranked from a trace, with evidence and ranges', async () => (await import('./advise.js')) as unknown as CommandModule],
  ['merge', 'merge <reports..>', 'merge per-host JSON reports exactly', async () => (await import('./merge.js')) as unknown as CommandModule],
];

export async function main(args: string[]): Promise<number> {
  let usage = false;
  try {
    // yargs drops a bare "-" positional: carry it as a token the readers know as stdin
    const y = yargs(positionalsAfterDashDash(args).map((a) => (a === '-' ? STDIN : a))).scriptName('kvmtax');
    const wanted = args.find((a) => !a.startsWith('-'));
    for (const [name, usage, describe, load] of COMMANDS) {
      if (name === wanted) y.command(await load());
      else y.command(usage, describe, () => {}, () => {});
    }
    await y
      .demandCommand(1, `name a command: ${COMMANDS.map((c) => c[0]).join(', ')}`)
      .middleware(lastValueWins, true)
      .strict()
      .version(version())
      .help()
      .wrap(Math.min(110, process.stdout.columns || 110))
      .fail((msg, err) => {
        // yargs' own validation errors (YError) are usage errors like the messages it gives without one
        if (err && err.name !== 'YError') throw err;
        if (err && !msg) msg = err.message;
        usage = true;
        throw KvmtaxError.usage(msg);
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


/**
 * `kvmtax report -f json -- TRACE`: yargs leaves what follows `--` out of the command's positionals, so
 * those words move in front of the options, right after the command; a path that starts with "-" is
 * written as "./-name" (the same file), so that it cannot be taken for an option.
 */
export function positionalsAfterDashDash(args: string[]): string[] {
  const i = args.indexOf('--');
  if (i < 0) return args;
  const cmd = args.findIndex((a) => !a.startsWith('-'));
  const tail = args.slice(i + 1).map((a) => (a !== '-' && a.startsWith('-') ? `./${a}` : a));
  if (cmd < 0 || cmd > i) return [...args.slice(0, i), ...tail];
  return [...args.slice(0, cmd + 1), ...tail, ...args.slice(cmd + 1, i)];
}

export function run(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); });
  main(hideBin(process.argv)).then((code) => { process.exitCode = code; });
}
