/**
 * The one error type of kvmtax. It carries where the bad input is (file and line:col for text, byte
 * offset for binary input) and prints GNU-style:  trace.txt:1234:17: kvm_exit: expected "reason <name>" (got "...")
 */
export const EXIT_OK = 0;
/** bad input or bad usage: nothing (or not everything, with --strict) could be read */
export const EXIT_INPUT = 1;
/** command-line usage error (unknown option, missing argument) */
export const EXIT_USAGE = 2;
/** an internal error: a bug in kvmtax (with a stack trace) */
export const EXIT_INTERNAL = 70;

/** Where the bad input is, and the exit code (EXIT_INPUT unless said). */
export interface ErrorAt {
  file?: string;
  /** 1-based line and column of text input */
  line?: number;
  col?: number;
  /** byte offset in binary input */
  offset?: number;
  exitCode?: number;
}

export class KvmtaxError extends Error {
  readonly file?: string;
  readonly line?: number;
  readonly col?: number;
  readonly offset?: number;
  readonly exitCode: number;

  constructor(message: string, at?: ErrorAt);
  /** @deprecated the positional form: src/formats still uses it until its readers take `at` */
  constructor(message: string, file?: string, line?: number, col?: number, offset?: number, exitCode?: number);
  constructor(message: string, at?: ErrorAt | string, line?: number, col?: number, offset?: number, exitCode?: number) {
    super(message);
    this.name = 'KvmtaxError';
    const a: ErrorAt = typeof at === 'object' ? at : { file: at, line, col, offset, exitCode };
    this.file = a.file;
    this.line = a.line;
    this.col = a.col;
    this.offset = a.offset;
    this.exitCode = a.exitCode ?? EXIT_INPUT;
  }

  /** A command-line usage error (exit EXIT_USAGE): a bad option value, a missing argument. */
  static usage(message: string): KvmtaxError {
    return new KvmtaxError(message, { exitCode: EXIT_USAGE });
  }

  /** "file:line:col: message", "file: byte N: message" or "file: message". */
  format(): string {
    if (this.file === undefined) return this.message;
    if (this.line !== undefined) return `${this.file}:${this.line}:${this.col ?? 1}: ${this.message}`;
    if (this.offset !== undefined) return `${this.file}: byte ${this.offset}: ${this.message}`;
    return `${this.file}: ${this.message}`;
  }
}

/** The characters `which` matches (a global regular expression of control bytes) as \xNN. */
function escapeControls(s: string, which: RegExp): string {
  return s.replace(which, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Quote a piece of input for an error message: at most 60 characters, control bytes escaped. */
export function excerpt(s: string, max = 60): string {
  return JSON.stringify(escapeControls(s.length > max ? s.slice(0, max) + '...' : s, /[\x00-\x08\x0b-\x1f\x7f]/g));
}

/**
 * Another library's message made fit for a one-line error: its control bytes, newlines too, as \xNN (JSON.parse
 * quotes the input it failed on, newlines and terminal escapes included).
 */
export function oneLine(message: string): string {
  return escapeControls(message, /[\x00-\x1f\x7f]/g);
}
