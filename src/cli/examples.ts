/**
 * The examples `kvmtax report --help` prints: the same lines as the README's "kvmtax report" examples
 * (test/cli/help.test.ts keeps the two equal).
 */
export const REPORT_EXAMPLES: Array<[cmd: string, what: string]> = [
  ['kvmtax report traces/svm-D-small/trace.txt.xz', 'the exit tax of a bundled capture, fitted to the terminal'],
  ['kvmtax report trace.dat -f json -o report.json', 'JSON (schema/report.schema.json) into a file'],
  ['kvmtax report perf.data --by vcpu --by msr', 'add the vCPU x reason matrix and the per-MSR table'],
  ['kvmtax report trace.txt.xz --pid 4242 --vcpu 0', 'one VM\'s vCPU 0, as perf kvm stat report -p 4242 --vcpu 0'],
  ['xz -dc trace.txt.xz | kvmtax report - -f md', 'read stdin; Markdown for a PR comment'],
  ['kvmtax report trace.dat --what-if cpu-pm --what-if exitless-ipi', 'forecast two changes'],
];

/** How `report --help` words the input formats (text and binary), as the README's Inputs list. */
export const INPUT_FORMATS_HELP = 'inputs (detected from the content): ftrace text, trace-cmd report text, perf script text, perf.data, ' +
  'trace-cmd trace.dat, Perfetto protobuf; .gz and .xz decompressed; - (or a FIFO, /dev/stdin) reads stdin';
