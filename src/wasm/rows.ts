/**
 * The row reader: one batch of rows (every handled exit, halt and lapic event) as the core wrote them
 * into its row buffer, read field by field. It is the only code outside core.ts that reads wasm memory;
 * analysis/rows.ts, export/columns.ts and export/perfetto.ts read rows through it.
 * A batch is valid only during the RowSink call that hands it over (the core reuses the buffer).
 */
import * as K from '../../assembly/constants.js';

export class RowBatch {
  constructor(private readonly view: DataView, private readonly base: number, readonly count: number) {}

  /** K.ROWK_EXIT, K.ROWK_HALT or K.ROWK_LAPIC */
  kind(i: number): number { return this.view.getInt32(this.base + i * K.ROW_STRIDE + K.ROW_KIND, true); }
  /** index of the thread record (Core.threadIdentity) */
  thread(i: number): number { return this.view.getInt32(this.base + i * K.ROW_STRIDE + K.ROW_THREAD, true); }
  /** exit: dictionary id of the reason name; halt: WAKE_* flags */
  key(i: number): number { return this.view.getInt32(this.base + i * K.ROW_STRIDE + K.ROW_KEY, true); }
  /** exit: dictionary id of the MSR / port / MMIO sub-key, -1 when none */
  sub(i: number): number { return this.view.getInt32(this.base + i * K.ROW_STRIDE + K.ROW_SUB, true); }
  ts(i: number): bigint { return this.view.getBigInt64(this.base + i * K.ROW_STRIDE + K.ROW_TS, true); }
  /** exit: handling time; halt: halt time; lapic: delta in guest TSC cycles */
  duration(i: number): bigint { return this.view.getBigInt64(this.base + i * K.ROW_STRIDE + K.ROW_DUR, true); }
  /** exit: guest time before it; halt: the poll window it started with; negative when unknown */
  aux(i: number): bigint { return this.view.getBigInt64(this.base + i * K.ROW_STRIDE + K.ROW_AUX, true); }
  /** exit: the guest rip (meaningful when detail() has K.EXD_RIP) */
  rip(i: number): bigint { return this.view.getBigInt64(this.base + i * K.ROW_STRIDE + K.ROW_RIP, true); }
  /** exit: info1 / info2 (meaningful when detail() has K.EXD_INFO) */
  info1(i: number): bigint { return this.view.getBigInt64(this.base + i * K.ROW_STRIDE + K.ROW_INFO1, true); }
  info2(i: number): bigint { return this.view.getBigInt64(this.base + i * K.ROW_STRIDE + K.ROW_INFO2, true); }
  /** exit: host CPU of the kvm_exit, -1 unknown */
  cpu(i: number): number { return this.view.getInt32(this.base + i * K.ROW_STRIDE + K.ROW_CPU, true); }
  /** exit: K.EXD_* bits, what the exit's rendering carried */
  detail(i: number): number { return this.view.getInt32(this.base + i * K.ROW_STRIDE + K.ROW_DETAIL, true); }
  /** line (text) or record number (binary) */
  where(i: number): bigint { return this.view.getBigInt64(this.base + i * K.ROW_STRIDE + K.ROW_WHERE, true); }
}
