/**
 * kvmtax command line. Exit codes: 0 success, 1 bad input (the message says file:line:col) or a failed
 * write, 2 usage error, 3 compare --fail-if: a rule breached, 4 compare --fail-if: a rule could not be
 * evaluated (without --allow-missing), 70 internal error (a bug: printed with its stack trace).
 */
import fs from 'node:fs';
import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { KvmtaxError, EXIT_INPUT, EXIT_INTERNAL, EXIT_USAGE } from '../core/errors.js';
import { removeScratch, writeError } from '../core/output.js';
import { STDIN } from '../formats/source.js';
import { version } from '../core/package-root.js';
import { lastValueWins } from './repeat.js';
import { trailing, RUNS_COMMAND } from './trailing.js';
import { setStdoutErrorHandler, stdoutIsTerminal, stdoutStream, writeFd1 } from '../core/stdout.js';

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
  ['live', 'live', 'watch KVM exits live with tracefs: a screen or NDJSON per interval, the full report at the end', async () => (await import('./live.js')) as unknown as CommandModule],
  ['stats', 'stats', 'KVM\'s own counters as deltas per interval (debugfs per VM, QMP query-stats per vCPU), no tracing', async () => (await import('./stats.js')) as unknown as CommandModule],
  ['record', 'record', 'record KVM events with tracefs into a trace.dat (and a host manifest)', async () => (await import('./record.js')) as unknown as CommandModule],
];

/**
 * yargs' "Unknown arguments: such-option, suchOption, f" as a user typed them: an option once, with its
 * dashes ("Unknown options: --such-option, -f"); a word that is not an option stays "Unknown argument".
 */
export function unknownArguments(msg: string, args: string[]): string {
  const m = /^Unknown arguments?: (.*)$/.exec(msg);
  if (!m) return msg;
  const names = m[1]!.split(', ');
  const camel = (n: string): string => n.replace(/-([a-z])/g, (_x, c: string) => c.toUpperCase());
  const kept = names.filter((n) => !names.some((o) => o !== n && o.includes('-') && camel(o) === n));
  const typed = (n: string): string | undefined => {
    if (args.some((a) => a === `--${n}` || a.startsWith(`--${n}=`))) return `--${n}`;
    if (args.some((a) => a === `--no-${n}`)) return `--no-${n}`;
    if (n.length === 1 && args.some((a) => /^-[^-]/.test(a) && a.slice(1).includes(n))) return `-${n}`;
    return undefined;
  };
  const options = kept.map(typed).filter((o): o is string => o !== undefined);
  const words = kept.filter((n) => typed(n) === undefined);
  const parts: string[] = [];
  if (options.length) parts.push(`Unknown option${options.length > 1 ? 's' : ''}: ${options.join(', ')}`);
  if (words.length) parts.push(`Unknown argument${words.length > 1 ? 's' : ''}: ${words.join(', ')}`);
  return parts.join('; ');
}

/**
 * "Not enough non-option arguments" when the files were there: an option before them took them as its
 * value (a misspelt option takes the next word; --vs takes every file after it). Say which.
 */
export function filesTakenAsValues(msg: string, args: string[]): string {
  if (!/^Not enough non-option arguments/.test(msg)) return msg;
  for (let i = 0; i < args.length - 1; i++) {
    const o = args[i]!;
    if (!/^--?[^-]/.test(o) || o.includes('=')) continue;
    const files: string[] = [];
    for (let j = i + 1; j < args.length && !args[j]!.startsWith('-'); j++) {
      let file = false;
      try { file = fs.statSync(args[j]!).isFile(); } catch { file = false; }
      if (!file) break;
      files.push(args[j]!);
    }
    if (files.length === 0) continue;
    const what = files.length === 1 ? `${files[0]} was read as the value of ${o}` : `${files.join(', ')} were read as the values of ${o}`;
    return `${msg} (${what}: put the files before it, or check the option's name)`;
  }
  return msg;
}

/**
 * `kvmtax -f json report TRACE`: options typed before the command move after it, as npm takes
 * `npm --silent run x`. The words before the command must all be options, or the value right after an
 * option (`-f json`); anything else before it is left as it was (an unknown command is named as such).
 */
export function optionsAfterCommand(args: string[]): string[] {
  if (args.length === 0 || !args[0]!.startsWith('-') || args[0] === '--') return args;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return args;
    if (a.startsWith('-')) continue;
    if (COMMANDS.some((c) => c[0] === a)) return [a, ...args.slice(0, i), ...args.slice(i + 1)];
    // a word: the value of the option just before it, or not a place to look further
    const prev = args[i - 1]!;
    if (!(prev.startsWith('-') && prev !== '-' && !prev.includes('='))) return args;
  }
  return args;
}

export async function main(args: string[]): Promise<number> {
  let usage = false;
  args = optionsAfterCommand(args);
  try {
    const dd = args.indexOf('--');
    if (dd >= 0 && RUNS_COMMAND.has(args.find((a) => !a.startsWith('-')) ?? '')) {
      trailing.command = args.slice(dd + 1);
      args = args.slice(0, dd);
    }
    // yargs drops a bare "-" positional: carry it as a token the readers know as stdin
    const y = yargs(positionalsAfterDashDash(args).map((a) => (a === '-' ? STDIN : a))).scriptName('kvmtax');
    skipHelpCache(y);
    const wanted = args.find((a) => !a.startsWith('-'));
    if (wanted !== undefined && !COMMANDS.some((c) => c[0] === wanted)) {
      const near = COMMANDS.map((c) => c[0]).filter((c) => editDistance(c, wanted) <= 2 || (wanted.length >= 3 && c.startsWith(wanted)));
      usage = true;
      throw new KvmtaxError(`unknown command "${wanted}"` + (near.length ? `: did you mean ${near.join(' or ')}?` : ` (commands: ${COMMANDS.map((c) => c[0]).join(', ')})`),
        undefined, undefined, undefined, undefined, EXIT_USAGE);
    }
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
      // the help's width: only a terminal's is asked for (core/stdout.ts)
      .wrap(Number(process.env.COLUMNS) > 0 ? Number(process.env.COLUMNS) : Math.min(110, (stdoutIsTerminal() && stdoutStream().columns) || 110))
      .fail((msg, err) => {
        // yargs' own validation errors (YError) are usage errors like the messages it gives without one
        if (err && err.name !== 'YError') throw err;
        if (err && !msg) msg = err.message;
        usage = true;
        throw KvmtaxError.usage(filesTakenAsValues(unknownArguments(msg, args), args));
      })
      .parseAsync();
    return 0;
  } catch (e) {
    removeScratch();
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
 * Before it runs a command's handler, yargs renders that command's whole help text and keeps it, in case
 * the handler later asks for it (showHelp); that rendering (cliui, string widths, wrapping) was 20-25 ms
 * of every `report`. kvmtax never shows help from inside a handler: usage errors go through .fail() and
 * print one line, and `--help` is answered before any handler runs (and renders the text then). So the
 * cache is skipped. It is yargs' usage instance, reached through its internal methods (no public option).
 */
function skipHelpCache(y: unknown): void {
  const usage = (y as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } })
    .getInternalMethods?.().getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
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

/** Levenshtein distance (for "did you mean report?"). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** A report that asks for no help or version (which yargs prints on the stream). */
function reportOnly(args: string[]): boolean {
  return args.find((a) => !a.startsWith('-')) === 'report' && !args.some((a) => a === '--help' || a === '-h' || a === '--version');
}

/** Asks for help or the version (yargs prints them with console.log, then exits). */
function helpOrVersion(args: string[]): boolean {
  return args.some((a) => a === '--help' || a === '-h' || a === '--version');
}

/**
 * console.log straight to fd 1 (a file, a pipe, /dev/null: not a terminal, whose width the help needs), for
 * --help and --version: console.log builds process.stdout, 3-6 ms. Write errors go to stdoutFailed, as the
 * stream's do.
 */
function logToFd1(): void {
  const format = process.getBuiltinModule('node:util').format;
  console.log = (...a: unknown[]): void => {
    try {
      writeFd1(Buffer.from(format(...a) + '\n'));
    } catch (e) {
      stdoutFailed(e as NodeJS.ErrnoException);
    }
  };
}

/**
 * A write to standard output failed: a reader that went away (| head) ends the run quietly; any other error
 * (a full disk under > file) is one line and exit 1, never a silent success with half the output.
 */
function stdoutFailed(e: NodeJS.ErrnoException): never {
  if (e.code === 'EPIPE') process.exit(0);
  removeScratch();
  process.stderr.write(`kvmtax: ${writeError(e, 'standard output').format()}\n`);
  process.exit(EXIT_INPUT);
}

export function run(): void {
  // the young generation is kept small by the runs that grow large (core/young-gen.ts), not here
  setStdoutErrorHandler(stdoutFailed);
  const args = optionsAfterCommand(hideBin(process.argv));
  // process.stdout is built only when needed (core/stdout.ts): a report writes its output once, to fd 1;
  // every other command, help and the version use the stream as before, built now with the handler
  if (helpOrVersion(args) && !stdoutIsTerminal()) logToFd1();
  else if (!reportOnly(args)) stdoutStream();
  main(args).then((code) => { process.exitCode = code; });
}
