/**
 * Rows: every handled exit, every halt and every kvm_wait_lapic_expire as one record, streamed out of the
 * core while it reads (never all held in memory). Schema version 1 (the tables of docs/sql.md):
 *
 *   kind          'exit' | 'halt' | 'lapic'
 *   file          input file index
 *   pid, tid      VM process (null when the trace does not say) and host thread
 *   vcpu, comm    vCPU id and thread name, as known when the row was made (null: not yet known)
 *   ts            trace time of the exit / wake-up / event (ns, or ticks for raw-clock traces)
 *   duration      exit: handling time (exit -> next entry); halt: halt time (poll + blocked, ns);
 *                 lapic: delta in guest TSC cycles (negative: early)
 *   guest_before  exit: guest time before it (previous entry -> exit), null unknown;
 *                 halt: the poll window the halt started with (ns), null unknown
 *   reason        exit: canonical exit reason; halt: 'poll' | 'wait' (+ ' invalid'); lapic: null
 *   key           exit: MSR / port / MMIO sub-key ("msr 0x6e0 w"), null when none
 *   where         line (text) or record number (binary) of the exit
 *   host_cpu      exit: host CPU of the kvm_exit (null unknown)
 *   rip, info1, info2  exit: the guest rip and the exit's info words as unsigned 64-bit values
 *                 (null when the trace's rendering did not carry them)
 */
import * as K from '../../assembly/constants.js';
import type { Core } from '../wasm/core.js';
import type { RowBatch } from '../wasm/rows.js';
import { canonicalReason, isaOfName } from '../core/reasons.js';

export const ROWS_SCHEMA_VERSION = 1;

export interface Row {
  kind: 'exit' | 'halt' | 'lapic';
  file: number;
  pid: number | null;
  tid: number;
  vcpu: number | null;
  comm: string | null;
  ts: number;
  duration: number;
  guest_before: number | null;
  reason: string | null;
  key: string | null;
  where: number;
  host_cpu: number | null;
  rip: bigint | null;
  info1: bigint | null;
  info2: bigint | null;
}

/** Decode a row batch (valid only during the RowSink call). `isa` fixes numeric reasons (1 VMX, 2 SVM). */
export function decodeRows(b: RowBatch, core: Core, isa?: number): Row[] {
  const out: Row[] = new Array(b.count);
  const who = new Map<number, ReturnType<Core['threadIdentity']>>();
  const reason = new Map<number, string>();
  for (let i = 0; i < b.count; i++) {
    const kind = b.kind(i);
    const ti = b.thread(i);
    let w = who.get(ti);
    if (!w) who.set(ti, (w = core.threadIdentity(ti)));
    const key = b.key(i);
    const sub = b.sub(i);
    const aux = Number(b.aux(i));
    let rs: string | null = null;
    if (kind === K.ROWK_EXIT) {
      rs = reason.get(key) ?? null;
      if (rs === null) {
        const raw = core.stringOf(key);
        rs = canonicalReason(raw, isa ?? isaOfName(raw));
        reason.set(key, rs);
      }
    } else if (kind === K.ROWK_HALT) {
      rs = (key & K.WAKE_WAITED ? 'wait' : 'poll') + (key & K.WAKE_VALID ? '' : ' invalid');
    }
    out[i] = {
      kind: kind === K.ROWK_EXIT ? 'exit' : kind === K.ROWK_HALT ? 'halt' : 'lapic',
      file: w.file, pid: w.tgid >= 0 ? w.tgid : null, tid: w.tid, vcpu: w.vcpu >= 0 ? w.vcpu : null, comm: w.comm,
      ts: Number(b.ts(i)), duration: Number(b.duration(i)),
      guest_before: aux >= 0 ? aux : null, reason: rs, key: sub >= 0 ? core.stringOf(sub) : null,
      where: Number(b.where(i)),
      ...exitDetail(b, i, kind === K.ROWK_EXIT),
    };
  }
  return out;
}

/** An exit row's host CPU, rip and info words (u64), null where the trace did not carry them. */
function exitDetail(b: RowBatch, i: number, isExit: boolean): Pick<Row, 'host_cpu' | 'rip' | 'info1' | 'info2'> {
  if (!isExit) return { host_cpu: null, rip: null, info1: null, info2: null };
  const d = b.detail(i);
  const cpu = b.cpu(i);
  const u = (x: bigint) => BigInt.asUintN(64, x);
  return {
    host_cpu: cpu >= 0 ? cpu : null,
    rip: d & K.EXD_RIP ? u(b.rip(i)) : null,
    info1: d & K.EXD_INFO ? u(b.info1(i)) : null,
    info2: d & K.EXD_INFO ? u(b.info2(i)) : null,
  };
}
