/**
 * `kvmtax record ... -- COMMAND ARGS`: the words after `--` are a command to run, not kvmtax's to parse.
 * main() takes them off the arguments before yargs sees them and leaves them here.
 */
export const trailing: { command: string[] | undefined } = { command: undefined };

/** Commands that run a COMMAND given after `--`. */
export const RUNS_COMMAND = new Set(['record', 'live']);
