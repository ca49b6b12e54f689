/**
 * The kinds of input a reader or the text tokenizer skips (K.SKIP_*), described once: the report's
 * name for the kind, what was skipped (report quality section) and what was expected instead (the
 * --strict error message of text input).
 */
import * as K from '../../assembly/constants.js';

export interface SkipKind {
  /** the report's key (quality.skipped[].kind) */
  name: string;
  /** what the skipped input was, for the report */
  what: string;
  /** what was expected instead, for an error at the place (text input, --strict) */
  expected: string;
}

export const SKIP_KINDS: Record<number, SkipKind> = {
  [K.SKIP_UNRECOGNIZED]: { name: 'unrecognized', what: 'not a trace event line', expected: 'expected a trace event line "<task>-<pid> [<cpu>] <timestamp>: <event>: ..."' },
  [K.SKIP_BAD_TIMESTAMP]: { name: 'bad-timestamp', what: 'no timestamp after the CPU field', expected: 'expected a timestamp "<sec>.<frac>:" after the CPU field' },
  [K.SKIP_EXIT_NO_REASON]: { name: 'exit-without-reason', what: 'kvm_exit without "reason <name>"', expected: 'kvm_exit: expected "reason <name>"' },
  [K.SKIP_ENTRY_BAD]: { name: 'bad-entry', what: 'kvm_entry without "vcpu <n>"', expected: 'kvm_entry: expected "vcpu <n>"' },
  [K.SKIP_TRUNCATED]: { name: 'truncated', what: 'the input ends inside this line', expected: 'the file ends inside this line (truncated)' },
  [K.SKIP_BAD_PAYLOAD]: { name: 'bad-fields', what: 'an event whose fields did not parse', expected: 'the event\'s fields did not parse' },
  [K.SKIP_KVM_UNREADABLE]: { name: 'kvm-line-not-understood', what: 'kvm_exit line not understood', expected: 'kvm_exit line not understood: a line naming kvm_exit/kvm_entry that is not a "<task>-<pid> [<cpu>] <timestamp>: <event>: ..." line' },
  [K.SKIP_MIXED_CLOCK]: { name: 'mixed-clock', what: 'a timestamp of another clock than the rest of the file', expected: 'a raw counter timestamp in a file of sec.frac timestamps (or the reverse)' },
};
