/**
 * `kvmtax compare A... --vs B...`: two sides (each one or more traces, or the VMs of traces with
 * --split vm) side by side, with the spread and Welch's test over runs, and a --fail-if gate
 * (grammar in src/analysis/runs/failif.ts). Exit codes: 0 no rule breached, 1 bad input, 2 usage error (a
 * rule that does not parse, an empty --fail-if), 3 a rule breached, 4 a rule that could not be evaluated
 * (without --allow-missing), 70 internal error.
 */
import fs from 'node:fs';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { analyze, version, type AnalyzeOptions } from '../pipeline/analyze.js';
import { listOf } from './repeat.js';
import { withInputOptions, inputOptions } from './input-options.js';
import { writeOutput } from '../core/output.js';
import { tableWidth, WIDE_OPTION } from './width.js';
import { KvmtaxError } from '../core/errors.js';
import { compare, SIDES_DIFFER, viewOfReport, viewOfVm, type Comparison, type SideInput } from '../analysis/runs/compare.js';
import { breachMessage, checkRules, evaluateRules, EXIT_BREACH, EXIT_NOT_EVALUATED, parseRules } from '../analysis/runs/failif.js';
import { fmtValue, renderCompareTable } from '../report/compare-table.js';
import { renderCompareMarkdown } from '../report/compare-markdown.js';
import { renderCompareJson } from '../report/compare-json.js';
import { renderCompareCsv } from '../report/compare-csv.js';
import { withManifests } from '../record/manifest.js';
import { checkForecast, FORECAST_LEVERS, PhaseCollector, type ForecastCheck } from '../analysis/levers/index.js';
import { appendCheck } from '../report/levers.js';

export const COMPARE_FORMATS = ['table', 'md', 'json', 'csv'];

interface Args {
  traces: string[];
  vs: string[];
  labels?: string;
  split: string;
  format: string;
  failIf?: string | string[];
  inputFormat?: string;
  strict: boolean;
  tscKhz?: number;
  isa?: string;
  output?: string;
  wide?: boolean;
  allowMissing: boolean;
  forecast?: string;
}

export const command = 'compare <traces..>';
export const describe = 'compare runs: the traces before (A...) vs after (--vs B...), per exit reason and overall, with a --fail-if gate';

export function builder(y: Argv): Argv<Args> {
  return withInputOptions(y)
    .positional('traces', { type: 'string', array: true, describe: 'the "before" side: one or more traces (each a run)' })
    .option('vs', { type: 'string', array: true, demandOption: true, describe: 'the "after" side: one or more traces (each a run)' })
    .option('labels', { type: 'string', describe: 'names of the two sides, e.g. base,cpupm (default: before,after)' })
    .option('split', { type: 'string', choices: ['file', 'vm'], default: 'file', describe: 'what a run is: each trace (file) or each VM of the traces (vm)' })
    .option('format', { alias: 'f', type: 'string', choices: COMPARE_FORMATS, default: 'table', describe: 'output format' })
    .option('fail-if', {
      type: 'string',
      describe: 'exit 3 when a rule holds: FIGURE OP THRESHOLD, e.g. "tax > +5%" (relative change), "tax > +2pp", ' +
        '"p99(EXTERNAL_INTERRUPT) > +20%", "exits_per_s(hlt) > 1000", "p99(msr) > 200us", "cv(tax) > 10%", "p50(io) >= 1.2x". ' +
        'A rule is on the pooled figures (the default); significant(RULE) also needs 3+ runs a side and Welch p < 0.05 after Holm across the significant() rules',
    })
    .option('allow-missing', { type: 'boolean', default: false, describe: `a --fail-if rule that cannot be evaluated (its figure has no value on a side) is a warning; without it the gate fails with exit ${EXIT_NOT_EVALUATED}` })
    .option('wide', WIDE_OPTION)
    .option('output', { alias: 'o', type: 'string', describe: 'write to this file instead of stdout' })
    .option('forecast', { type: 'string', choices: FORECAST_LEVERS, describe: 'check a lever\'s forecast: made on the "before" side (the levers section\'s range) against the "after" side measured' })
    .example('$0 compare base.txt.xz --vs cpupm.txt.xz --labels base,cpupm', 'two single runs')
    .example('$0 compare base/*.dat --vs cpupm/*.dat -f md --fail-if "tax > +5%"', 'several runs a side, Markdown, a gate') as unknown as Argv<Args>;
}

const usage = (msg: string) => KvmtaxError.usage(msg);

export function parseLabels(s: string | undefined): [string, string] {
  if (s === undefined) return ['before', 'after'];
  const parts = s.split(',').map((x) => x.trim());
  if (parts.length !== 2 || parts.some((x) => x === '') || parts[0] === parts[1]) {
    throw usage(`--labels "${s}": expected two different names separated by a comma, e.g. --labels base,cpupm`);
  }
  return parts as [string, string];
}

/** Read one side: its traces together (the pooled figures) and its runs (per trace, or per VM). */
export async function loadSide(files: string[], label: string, split: 'file' | 'vm', opts: AnalyzeOptions, phases?: PhaseCollector): Promise<SideInput> {
  const o = { ...opts, histograms: true };
  const pooled = await analyze(files, phases ? { ...o, rows: phases.sink } : o);
  let runs;
  if (split === 'vm') runs = pooled.vms.filter((vm) => vm.vcpus.some((c) => c.exits_seen > 0)).map((vm) => viewOfVm(vm, pooled));
  else if (files.length === 1) runs = [viewOfReport(pooled)];
  else runs = await Promise.all(files.map(async (f) => viewOfReport(await analyze([f], o))));
  return { label, pooled, runs };
}

export interface CompareArgs {
  before: string[];
  after: string[];
  labels?: string;
  split?: 'file' | 'vm';
  failIf?: string[];
  analyze?: AnalyzeOptions;
  /** a lever whose forecast on the before side is checked against the after side */
  forecast?: string;
}

/** The whole command without the output: parse the rules first (usage errors before any reading). */
export async function runCompare(a: CompareArgs): Promise<{ comparison: Comparison; breach: string | null; warnings: string[]; notEvaluated: string[]; check?: ForecastCheck }> {
  const labels = parseLabels(a.labels);
  const rules = parseRules(a.failIf ?? []);
  const split = a.split ?? 'file';
  // --forecast: the phases of work on each side, timed from the exit rows (absolute figures per unit of work)
  const pa = a.forecast ? new PhaseCollector(a.analyze?.isa) : undefined;
  const pb = a.forecast ? new PhaseCollector(a.analyze?.isa) : undefined;
  // the core's tiering is chosen once for the run: by both sides' inputs
  const ao = { ...a.analyze, tieringInputs: [...a.before, ...a.after] };
  const sa = await loadSide(a.before, labels[0], split, ao, pa);
  const sb = await loadSide(a.after, labels[1], split, ao, pb);
  const comparison = compare(sa, sb, { split, version: version() });
  checkRules(rules, comparison);
  const results = evaluateRules(rules, comparison, (v, u) => fmtValue(v, u, comparison.unit));
  const notEvaluated = results.filter((r) => r.status === 'not evaluated').map((r) => `--fail-if "${r.rule}" not evaluated: ${r.detail}`);
  const check = a.forecast ? checkForecast(a.forecast, sa.pooled, sb.pooled, { before: pa!.finish(), after: pb!.finish() }) : undefined;
  return { comparison, breach: breachMessage(results), warnings: notEvaluated, notEvaluated, check };
}

export function renderComparison(c: Comparison, format: string, width?: number): string {
  switch (format) {
    case 'json': return renderCompareJson(c);
    case 'csv': return renderCompareCsv(c);
    case 'md': return renderCompareMarkdown(c);
    default: return renderCompareTable(c, width);
  }
}

export async function handler(argv: ArgumentsCamelCase<Args>): Promise<void> {
  if (!argv.vs?.length) throw usage('--vs needs at least one trace: kvmtax compare A... --vs B...');
  const { comparison, breach, notEvaluated, check } = await runCompare({
    before: argv.traces, after: argv.vs, labels: argv.labels, split: argv.split as 'file' | 'vm', failIf: listOf(argv.failIf),
    analyze: inputOptions(argv), forecast: argv.forecast,
  });
  let text = renderComparison(comparison, argv.format, tableWidth(argv.wide));
  if (check) text = appendCheck(text, check, argv.format);
  // kvmtax record's host manifests of both sides (table and Markdown)
  if (argv.format !== 'json') text = withManifests(text, [...argv.traces, ...argv.vs], argv.format);
  // loudly: a difference of host, kernel or recording between the sides can explain any delta
  for (const n of comparison.notes) if (n.startsWith(SIDES_DIFFER)) process.stderr.write(`kvmtax: warning: ${n}\n`);
  await writeOutput(text, argv.output, [...argv.traces, ...argv.vs]);
  if (breach) {
    for (const w of notEvaluated) process.stderr.write(`kvmtax: warning: ${w}\n`);
    throw new KvmtaxError(breach, { exitCode: EXIT_BREACH });
  }
  if (notEvaluated.length && !argv.allowMissing) {
    throw new KvmtaxError(`${notEvaluated.join('\n')}\n  (the gate fails on a rule it cannot check: exit ${EXIT_NOT_EVALUATED}; --allow-missing makes this a warning)`, { exitCode: EXIT_NOT_EVALUATED });
  }
  for (const w of notEvaluated) process.stderr.write(`kvmtax: warning: ${w}\n`);
}
