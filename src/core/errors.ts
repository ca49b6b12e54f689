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

export class KvmtaxError extends Error {
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
    readonly col?: number,
    readonly offset?: number,
    readonly exitCode: number = EXIT_INPUT,
  ) {
    super(message);
    this.name = 'KvmtaxError';
  }

  /** "file:line:col: message", "file: byte N: message" or "file: message". */
  format(): string {
    if (this.file === undefined) return this.message;
    if (this.line !== undefined) return `${this.file}:${this.line}:${this.col ?? 1}: ${this.message}`;
    if (this.offset !== undefined) return `${this.file}: byte ${this.offset}: ${this.message}`;
    return `${this.file}: ${this.message}`;
  }
}

/** Quote a piece of input for an error message: at most 60 characters, control bytes escaped. */
export function excerpt(s: string, max = 60): string {
  let t = s.length > max ? s.slice(0, max) + '...' : s;
  t = t.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return JSON.stringify(t);
}
