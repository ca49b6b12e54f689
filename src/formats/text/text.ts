/**
 * Text traces: raw ftrace (the kernel's tracefs `trace` / `trace_pipe` files, format defined by
 * kernel/trace/trace_output.c), `trace-cmd report` (trace-cmd's Documentation/trace-cmd/trace-cmd-report.1)
 * and `perf script` (tools/perf/builtin-script.c) default output. The tokenizing itself happens in the
 * WebAssembly core (assembly/text.ts); this module recognizes which of the three a file is and streams
 * its bytes into core memory: a plain file read ahead into two buffers, any other source through the
 * input arena.
 */
import * as K from '../../../assembly/constants.js';
import type { Core } from '../../wasm/core.js';
import { KvmtaxError, excerpt } from '../../core/errors.js';
import type { ByteSource } from '../source.js';
import { readIntoCore } from '../read-ahead.js';


// perf script:  "vmm   193 [001]     7.301836:    kvm:kvm_exit: vcpu 1 ..." (system:event)
const PERF_LINE = /\[\d+\]\s+\d+(?:\.\d+)?:\s+[\w-]+:[\w-]+:/;
// ftrace:       "vmm-193 (  188) [001] d..1.     7.334239: kvm_entry: ..." (irq-flags column, tgid column)
const FTRACE_LINE = /\[\d+\]\s+[.a-zA-Z0-9]{4,5}\s+\d+(?:\.\d+)?:(?:\s|$)/;
const TGID_COL = /-\d+\s+\(\s*(?:\d+|-+)\)\s+\[\d+\]/;
// trace-cmd:    "cap:   vmm-193   [001]     7.335242: kvm_exit:   reason EXIT_NPF ..."
const EVENT_LINE = /\[\d+\]\s*\d+(?:\.\d+)?:\s+\w+:/;
// a kvm_exit/kvm_entry body copied without its header columns ("  kvm_exit:   reason EXIT_NPF ..."): read
// as text so that its lines are counted as not understood, never as "not a trace"
const BARE_KVM_LINE = /^\s*(?:kvm:)?kvm_(?:exit|entry):(?:\s|$)/;

/** Which text format `head` is, or undefined when it is none of them. */
export function detectTextFormat(head: string): number | undefined {
  const lines = head.split('\n', 400);
  if (lines.some((l) => l.startsWith('# tracer:'))) return K.FMT_FTRACE;
  if (lines[0]?.startsWith('cpus=')) return K.FMT_TRACECMD;
  let perf = 0, ftrace = 0, plain = 0, bare = 0;
  for (const l of lines) {
    if (PERF_LINE.test(l)) perf++;
    else if (FTRACE_LINE.test(l) || TGID_COL.test(l)) ftrace++;
    else if (EVENT_LINE.test(l)) plain++;
    else if (BARE_KVM_LINE.test(l)) bare++;
  }
  if (perf === 0 && ftrace === 0 && plain === 0) return bare > 0 ? K.FMT_TRACECMD : undefined;
  if (perf >= ftrace && perf >= plain) return K.FMT_PERF;
  if (ftrace >= plain) return K.FMT_FTRACE;
  return K.FMT_TRACECMD;
}

/** Does the head look like text at all (no NUL bytes, mostly printable)? */
export function looksLikeText(head: Uint8Array): boolean {
  const n = Math.min(head.length, 8192);
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const c = head[i]!;
    if (c === 0) return false;
    if (c < 9 || (c > 13 && c < 32)) bad++;
  }
  return bad * 100 <= n;
}

const SKIP_WHAT: Record<number, string> = {
  [K.SKIP_UNRECOGNIZED]: 'expected a trace event line "<task>-<pid> [<cpu>] <timestamp>: <event>: ..."',
  [K.SKIP_BAD_TIMESTAMP]: 'expected a timestamp "<sec>.<frac>:" after the CPU field',
  [K.SKIP_EXIT_NO_REASON]: 'kvm_exit: expected "reason <name>"',
  [K.SKIP_ENTRY_BAD]: 'kvm_entry: expected "vcpu <n>"',
  [K.SKIP_TRUNCATED]: 'the file ends inside this line (truncated)',
  [K.SKIP_BAD_PAYLOAD]: 'the event\'s fields did not parse',
  [K.SKIP_MIXED_CLOCK]: 'a raw counter timestamp in a file of sec.frac timestamps (or the reverse)',
  [K.SKIP_KVM_UNREADABLE]: 'kvm_exit line not understood: a line naming kvm_exit/kvm_entry that is not a "<task>-<pid> [<cpu>] <timestamp>: <event>: ..." line',
};
export function skipDescription(kind: number): string {
  return SKIP_WHAT[kind] ?? `skipped (kind ${kind})`;
}

/**
 * Stream a text source through the core. A plain file is read ahead (scanAhead); any other source (a pipe,
 * stdin, a decompressor) fills the arena, and a line cut by the chunk end is carried to the start of the
 * arena for the next scan.
 * `chunkBytes` (tests) limits how many new bytes are read per scan, to exercise chunk boundaries.
 */
export async function scanTextSource(core: Core, src: ByteSource, fileIndex: number, format: number,
  strict: boolean, chunkBytes?: number, onProgress?: (bytesRead: number) => void, origin?: bigint): Promise<void> {
  let readSoFar = 0;
  core.beginTextFile(fileIndex, format, strict);
  if (origin !== undefined) core.setTimelineOrigin(origin);
  // read ahead when there is more than one arena to read: a smaller file is one read into the arena, and the
  // read-ahead buffers (4 x 4 MiB) would only grow the core's memory past the 64 MB at which V8 starts a full
  // collection for external memory (a 2-line report: 68 -> 34 MB of core memory, no mark-compact)
  if (src.claim && !chunkBytes && !(src.size !== undefined && src.size < core.arenaBytes)) return scanAhead(core, src, onProgress);
  let carry = 0;
  for (;;) {
    const arena = core.arena();
    const room = core.arenaBytes - carry;
    const want = chunkBytes ? Math.min(chunkBytes, room) : room;
    const n = want > 0 ? await src.read(arena, carry, want) : 0;
    readSoFar += n;
    onProgress?.(readSoFar);
    const total = carry + n;
    const last = n === 0 && want > 0;
    // a full arena without a newline is an over-long line: the core skips it (and says so)
    const used = core.scan(total, last);
    if (used < 0) throw scanError(core, src.name, used);
    if (last) break;
    carry = total - used;
    if (carry > 0 && used > 0) core.arena().copyWithin(0, used, total);
  }
}

/**
 * A plain file, read ahead: the next chunk is read into one of two buffers (read-ahead.ts) while the core
 * scans the other. The core sees the same windows as through the arena: an arena's worth of bytes from the
 * first unfinished line, less only at the end; the unfinished line at a buffer's end is copied into the
 * lead before the next buffer.
 */
async function scanAhead(core: Core, src: ByteSource, onProgress?: (bytesRead: number) => void): Promise<void> {
  const CH = core.arenaBytes;
  const base = core.textReadBuffers(CH);
  const dataAt = (slot: number): number => base + slot * 2 * CH + CH;
  const issue = (slot: number): Promise<number> => {
    const c = src.claim!(CH);
    return c.n > 0 ? readIntoCore(c.fd, () => core.memoryBuffer(), dataAt(slot), c.n, c.at) : Promise.resolve(0);
  };
  let readSoFar = 0;
  let slot = 0;
  let carry = 0; // bytes of an unfinished line just before the slot's data
  // Both buffers are read at once at the start: their first reads also fault in their fresh pages (about 13 us
  // a page on this VM, 15 ms for 4 MiB), which the main thread would otherwise wait for twice. After that, a
  // buffer is read again as soon as the scan is done with it, so one read is always in flight with the scan.
  // (a read past the end, of a file of one arena, reads nothing)
  const pending: Array<Promise<number> | null> = [issue(0), issue(1)];
  try {
    for (;;) {
      const n: number = await pending[slot]!;
      pending[slot] = null;
      readSoFar += n;
      onProgress?.(readSoFar);
      const end: boolean = n < CH; // a short read: the end of the file (or of the slice)
      const d = dataAt(slot);
      let ls = d - carry;
      const stop = d + n;
      // whole windows while there is an arena's worth
      while (stop - ls >= CH) {
        const used = core.scanAt(ls, CH, false, true);
        if (used < 0) throw scanError(core, src.name, used);
        // a whole window always gives a line (or skips an over-long one): none is a bug, never a loop
        if (used === 0) throw new Error(`text read ahead: nothing consumed from a whole window at ${readSoFar - (stop - ls)}`);
        ls += used;
      }
      if (end) {
        // the rest, as the arena path scans it: its complete lines, then what is left as the last
        if (stop > ls) {
          const used = core.scanAt(ls, stop - ls, false, false);
          if (used < 0) throw scanError(core, src.name, used);
          ls += used;
        }
        const r = core.scanAt(ls, stop - ls, true, false);
        if (r < 0) throw scanError(core, src.name, r);
        return;
      }
      carry = stop - ls;
      if (carry > 0) new Uint8Array(core.memoryBuffer()).copyWithin(dataAt(slot ^ 1) - carry, ls, stop);
      // this buffer is free again: its next chunk (the other buffer's read, issued before, comes first)
      pending[slot] = issue(slot);
      slot ^= 1;
    }
  } finally {
    // stopped early (a bad line, the memory budget) or at the end: the reads in flight end before the file is closed
    for (const p of pending) if (p) await p.catch(() => 0);
  }
}

function scanError(core: Core, file: string, code: number): KvmtaxError {
  const pos = core.errorPosition();
  if (code === K.ERR_BINARY) {
    return new KvmtaxError('binary data in a text trace (a control byte; is this a perf.data or trace.dat file that lost its header?)', file, pos.line, pos.col);
  }
  if (code === K.ERR_STRICT) {
    const rec = core.skipRecord(pos.kind);
    return new KvmtaxError(`${skipDescription(pos.kind)} (got ${excerpt(rec?.excerpt.slice(pos.col - 1) ?? '')}) [--strict]`, file, pos.line, pos.col);
  }
  return new KvmtaxError(`internal scanner error ${code}`, file, pos.line, pos.col);
}
