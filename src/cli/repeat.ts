/**
 * Repeated options, as users type them. An option given twice takes its last value (`--top 10 --top 5`
 * is 5), except the few that collect a list (`--by vcpu --by msr`). None is declared `array: true`:
 * yargs lets an array option swallow the trace paths after it (`report -f json TRACE`).
 */

/** Options that collect every value given (yargs' camel-case and alias keys included). */
const LISTS = new Set(['_', '$0', 'traces', 'reports', 'vs', 'by', 'fail-if', 'failIf', 'what-if', 'whatIf']);
/** report's --format takes an output format and an input format name (`-f perf-script -f json`). */
const REPORT_LISTS = new Set([...LISTS, 'format', 'f']);

/** yargs middleware, before validation: a repeated single-valued option keeps its last value. */
export function lastValueWins(argv: Record<string, unknown>): void {
  const lists = (argv._ as unknown[])[0] === 'report' ? REPORT_LISTS : LISTS;
  for (const [k, v] of Object.entries(argv)) {
    if (Array.isArray(v) && !lists.has(k)) argv[k] = v[v.length - 1];
  }
}

/** An option given zero, one or several times, as a list. */
export function listOf<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
