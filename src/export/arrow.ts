/**
 * Rows to Arrow IPC (the file format, `.arrow`), streamed with apache-arrow: one record batch per column
 * batch (64k rows) written as it fills, so memory stays flat whatever the trace's size. The columns are
 * those of src/export/rows-schema.ts; the schema's metadata carries kvmtax.rows_schema.
 */
import fs from 'node:fs';
import { once } from 'node:events';
import {
  Bool, Field, Int32, Int64, Uint64, RecordBatch, RecordBatchFileWriter, Schema, Struct, Utf8, makeData, makeVector, vectorFromArray,
  type DataType, type Vector,
} from 'apache-arrow';
import { tableDef, ROW_TABLES_VERSION, type ColumnType } from './rows-schema.js';
import type { ColumnBatch, TableName } from './columns.js';

const arrowType = (t: ColumnType): DataType =>
  (t === 'VARCHAR' ? new Utf8() : t === 'INTEGER' ? new Int32() : t === 'BIGINT' ? new Int64() : t === 'UBIGINT' ? new Uint64() : new Bool());

export function arrowSchema(t: TableName): Schema {
  const def = tableDef(t);
  return new Schema(def.columns.map((c) => new Field(c.name, arrowType(c.type), c.nullable)), new Map([['kvmtax.rows_schema', String(ROW_TABLES_VERSION)], ['kvmtax.table', t]]));
}

/** Streams one table's batches into an Arrow IPC file. */
export class ArrowTableWriter {
  private readonly writer: RecordBatchFileWriter;
  private readonly out: fs.WriteStream;
  private readonly schema: Schema;
  private readonly done: Promise<unknown>;

  constructor(readonly table: TableName, file: string, private readonly ctx: { host: string; files: () => string[]; strings: string[] }) {
    this.schema = arrowSchema(table);
    this.writer = new RecordBatchFileWriter();
    this.out = fs.createWriteStream(file);
    this.writer.pipe(this.out);
    this.done = once(this.out, 'close');
    this.writer.reset(undefined, this.schema);
  }

  /** Synchronous: called from the core's row sink. */
  write(b: ColumnBatch): void {
    const n = b.n;
    const strs = this.ctx.strings;
    const files = this.ctx.files();
    const i32 = (c: number, nullable: boolean): Vector => {
      const src = b.i32(c).slice(0, n);
      if (!nullable) return makeVector(src);
      return vectorFromArray(Array.from(src, (x) => (x < 0 ? null : x)), new Int32());
    };
    const i64 = (c: number, nullable: boolean): Vector => {
      const src = b.i64(c).slice(0, n);
      if (!nullable) return makeVector(src);
      return vectorFromArray(Array.from(src, (x) => (x < 0n ? null : x)), new Int64());
    };
    const str = (c: number): Vector => vectorFromArray(Array.from(b.i32(c).subarray(0, n), (x) => (x < 0 ? null : strs[x]!)), new Utf8());
    const cols: Record<string, Vector> = {
      host: vectorFromArray(new Array<string>(n).fill(this.ctx.host), new Utf8()),
      file: vectorFromArray(Array.from(b.i32(0).subarray(0, n), (x) => files[x] ?? String(x)), new Utf8()),
      pid: i32(1, true), tid: i32(2, false), vcpu: i32(3, true), comm: str(4), time_ns: i64(5, false),
    };
    if (this.table === 'exits') {
      // rip / info1 / info2: unsigned, null unless the row's detail bits (12) say the trace carried them
      const detail = b.i32(12).subarray(0, n);
      const u64 = (c: number, bit: number): Vector =>
        vectorFromArray(Array.from(b.i64(c).subarray(0, n), (x, k) => (detail[k]! & bit ? BigInt.asUintN(64, x) : null)), new Uint64());
      Object.assign(cols, {
        reason: str(6), handling_ns: i64(7, false), guest_before_ns: i64(8, true), key: str(9), line: i64(10, false),
        host_cpu: i32(11, true), rip: u64(13, 1), info1: u64(14, 2), info2: u64(15, 2),
      });
    } else if (this.table === 'halts') {
      const flags = b.i32(6).subarray(0, n);
      Object.assign(cols, {
        state: vectorFromArray(Array.from(flags, (f) => (f & 1 ? 'wait' : 'poll')), new Utf8()),
        valid: vectorFromArray(Array.from(flags, (f) => (f & 2) !== 0), new Bool()),
        halt_ns: i64(7, false), window_ns: i64(8, true), line: i64(9, false),
      });
    } else {
      Object.assign(cols, { delta_cycles: i64(6, false), line: i64(7, false) });
    }
    const children = this.schema.fields.map((f) => cols[f.name]!.data[0]!);
    this.writer.write(new RecordBatch(this.schema, makeData({ type: new Struct(this.schema.fields), length: n, nullCount: 0, children })));
  }

  async close(): Promise<void> {
    this.writer.finish();
    this.writer.close();
    await this.done;
  }
}
