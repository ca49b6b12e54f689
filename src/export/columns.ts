/**
 * Rows straight out of the core (RowBatch, src/wasm/rows.ts) into column batches of the three row tables
 * (src/export/rows-schema.ts), ready for DuckDB's appender or an Arrow record batch: integers in typed
 * arrays, strings (reason, sub-key, comm) as ids into one dictionary, host and file by file index. No
 * object is made per row; a batch is handed on when it is full (64k rows), so memory stays flat.
 */
import * as K from '../../assembly/constants.js';
import type { Core, RowSink } from '../wasm/core.js';
import type { RowBatch } from '../wasm/rows.js';
import { canonicalReason, isaOfName } from '../core/reasons.js';

/** A staging column: i32 or i64, and whether a negative value means null. */
export interface StageColumn { name: string; kind: 'i32' | 'i64'; nullIfNegative: boolean; str?: boolean }

const who: StageColumn[] = [
  { name: 'file_index', kind: 'i32', nullIfNegative: false },
  { name: 'pid', kind: 'i32', nullIfNegative: true },
  { name: 'tid', kind: 'i32', nullIfNegative: false },
  { name: 'vcpu', kind: 'i32', nullIfNegative: true },
  { name: 'comm_id', kind: 'i32', nullIfNegative: true, str: true },
  { name: 'time', kind: 'i64', nullIfNegative: false },
];

/** Staging layouts: what the core gives, before host/file/strings are put back (see SELECTS). */
export const STAGE: Record<'exits' | 'halts' | 'lapic', StageColumn[]> = {
  exits: [...who,
    { name: 'reason_id', kind: 'i32', nullIfNegative: false, str: true }, { name: 'handling', kind: 'i64', nullIfNegative: false },
    { name: 'guest_before', kind: 'i64', nullIfNegative: true }, { name: 'key_id', kind: 'i32', nullIfNegative: true, str: true },
    { name: 'line', kind: 'i64', nullIfNegative: false },
    // the exit's detail: host CPU, and rip / info1 / info2 as 64-bit patterns (unsigned in the row tables),
    // each valid when `detail` has its EXD_* bit
    { name: 'host_cpu', kind: 'i32', nullIfNegative: true }, { name: 'detail', kind: 'i32', nullIfNegative: false },
    { name: 'rip', kind: 'i64', nullIfNegative: false }, { name: 'info1', kind: 'i64', nullIfNegative: false },
    { name: 'info2', kind: 'i64', nullIfNegative: false }],
  halts: [...who,
    { name: 'flags', kind: 'i32', nullIfNegative: false }, { name: 'halt', kind: 'i64', nullIfNegative: false },
    { name: 'window', kind: 'i64', nullIfNegative: true }, { name: 'line', kind: 'i64', nullIfNegative: false }],
  lapic: [...who, { name: 'delta', kind: 'i64', nullIfNegative: false }, { name: 'line', kind: 'i64', nullIfNegative: false }],
};

export type TableName = keyof typeof STAGE;

export class ColumnBatch {
  n = 0;
  readonly cols: Array<Int32Array | BigInt64Array>;
  constructor(readonly table: TableName, readonly capacity: number) {
    this.cols = STAGE[table].map((c) => (c.kind === 'i32' ? new Int32Array(capacity) : new BigInt64Array(capacity)));
  }
  i32(c: number): Int32Array { return this.cols[c] as Int32Array; }
  i64(c: number): BigInt64Array { return this.cols[c] as BigInt64Array; }
}

/** Where full batches go. Called synchronously from the core's row sink. */
export type BatchSink = (b: ColumnBatch) => void;

export interface RowColumnsOptions {
  /** exit-reason table for bare numeric reasons: 1 VMX, 2 SVM (default: from each name) */
  isa?: number;
  /** rows per batch (default 65536) */
  batchRows?: number;
  /** tables wanted (default all) */
  tables?: TableName[];
}

/**
 * Turns the core's row stream into column batches. `sink` is the RowSink to give analyze(); call
 * `finish()` after it to hand on the last, partial batches. `strings` is the dictionary of every
 * string id in the batches.
 */
export class RowColumns {
  readonly strings: string[] = [];
  private readonly ids = new Map<string, number>();
  private readonly batches: Partial<Record<TableName, ColumnBatch>> = {};
  private readonly reasonIds = new Map<number, number>();
  private readonly subIds = new Map<number, number>();
  readonly counts: Record<TableName, number> = { exits: 0, halts: 0, lapic: 0 };

  constructor(private readonly out: BatchSink, private readonly opts: RowColumnsOptions = {}) {
    const cap = opts.batchRows ?? 65536;
    for (const t of opts.tables ?? (['exits', 'halts', 'lapic'] as TableName[])) this.batches[t] = new ColumnBatch(t, cap);
  }

  intern(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(s);
      this.ids.set(s, id);
    }
    return id;
  }

  readonly sink: RowSink = (b: RowBatch, core: Core) => this.take(b, core);

  private take(b: RowBatch, core: Core): void {
    // who each thread is, as known now (comm and vCPU can become known later in the trace)
    const thr = new Map<number, { file: number; pid: number; tid: number; vcpu: number; comm: number }>();
    for (let i = 0; i < b.count; i++) {
      const kind = b.kind(i);
      const t = kind === K.ROWK_EXIT ? 'exits' : kind === K.ROWK_HALT ? 'halts' : 'lapic';
      const batch = this.batches[t];
      if (!batch) continue;
      const ti = b.thread(i);
      let w = thr.get(ti);
      if (!w) {
        const id = core.threadIdentity(ti);
        w = { file: id.file, pid: id.tgid, tid: id.tid, vcpu: id.vcpu, comm: id.comm === null ? -1 : this.intern(id.comm) };
        thr.set(ti, w);
      }
      const j = batch.n++;
      batch.i32(0)[j] = w.file;
      batch.i32(1)[j] = w.pid;
      batch.i32(2)[j] = w.tid;
      batch.i32(3)[j] = w.vcpu;
      batch.i32(4)[j] = w.comm;
      batch.i64(5)[j] = b.ts(i);
      const dur = b.duration(i);
      const aux = b.aux(i);
      const where = b.where(i);
      const key = b.key(i);
      if (t === 'exits') {
        let rid = this.reasonIds.get(key);
        if (rid === undefined) {
          const raw = core.stringOf(key);
          rid = this.intern(canonicalReason(raw, this.opts.isa ?? isaOfName(raw)));
          this.reasonIds.set(key, rid);
        }
        const sub = b.sub(i);
        let sid = -1;
        if (sub >= 0) {
          sid = this.subIds.get(sub) ?? -1;
          if (sid < 0) {
            sid = this.intern(core.stringOf(sub));
            this.subIds.set(sub, sid);
          }
        }
        batch.i32(6)[j] = rid;
        batch.i64(7)[j] = dur;
        batch.i64(8)[j] = aux;
        batch.i32(9)[j] = sid;
        batch.i64(10)[j] = where;
        batch.i32(11)[j] = b.cpu(i);
        batch.i32(12)[j] = b.detail(i);
        batch.i64(13)[j] = b.rip(i);
        batch.i64(14)[j] = b.info1(i);
        batch.i64(15)[j] = b.info2(i);
      } else if (t === 'halts') {
        batch.i32(6)[j] = key;
        batch.i64(7)[j] = dur;
        batch.i64(8)[j] = aux;
        batch.i64(9)[j] = where;
      } else {
        batch.i64(6)[j] = dur;
        batch.i64(7)[j] = where;
      }
      if (batch.n === batch.capacity) this.emit(batch);
    }
  }

  private emit(b: ColumnBatch): void {
    if (b.n === 0) return;
    this.counts[b.table] += b.n;
    this.out(b);
    b.n = 0;
  }

  /** Hand on the partial batches (call once, after analyze()). */
  finish(): void {
    for (const b of Object.values(this.batches)) if (b) this.emit(b);
  }
}
