/**
 * Rows into an embedded DuckDB (@duckdb/node-api), streamed: each column batch of src/export/columns.ts
 * goes through the appender as DuckDB data chunks (2048 rows, integers only: no per-value call into
 * the engine), into staging tables _exits, _halts, _lapic. The row tables of src/export/rows-schema.ts
 * are then views over them (views keep insertion order; host, file and the strings are put back from the
 * dictionary by list lookups). DuckDB keeps what it holds in its own compressed storage and spills to its
 * temp directory past its memory limit, so no row is held in the JS heap beyond the current batch.
 */
import os from 'node:os';
import { DuckDBInstance, DuckDBDataChunk, INTEGER, BIGINT, type DuckDBConnection, type DuckDBAppender, type DuckDBType } from '@duckdb/node-api';
import { analyze, type AnalyzeOptions } from '../pipeline/analyze.js';
import type { Report } from '../analysis/types.js';
import { RowColumns, STAGE, type ColumnBatch, type TableName } from './columns.js';

export interface DuckOptions {
  /** database file (default: in memory) */
  path?: string;
  /** DuckDB memory limit, e.g. '2GB' (default DuckDB's: 80% of RAM) */
  memoryLimit?: string;
  /** where DuckDB spills (default: its own, next to the database or .tmp) */
  tempDirectory?: string;
  threads?: number;
}

export async function openDuck(o: DuckOptions = {}): Promise<{ instance: DuckDBInstance; conn: DuckDBConnection }> {
  const cfg: Record<string, string> = {};
  if (o.memoryLimit) cfg.memory_limit = o.memoryLimit;
  if (o.tempDirectory) cfg.temp_directory = o.tempDirectory;
  if (o.threads) cfg.threads = String(o.threads);
  const instance = await DuckDBInstance.create(o.path ?? ':memory:', cfg);
  const conn = await instance.connect();
  return { instance, conn };
}

const sqlStr = (s: string) => `'${s.replace(/'/g, "''")}'`;
const sqlList = (xs: string[]) => (xs.length ? `[${xs.map(sqlStr).join(', ')}]::VARCHAR[]` : '[]::VARCHAR[]');

/** Appends column batches to the staging tables. */
export class DuckStage {
  private constructor(private readonly appenders: Partial<Record<TableName, { app: DuckDBAppender; types: DuckDBType[] }>>) {}

  static async create(conn: DuckDBConnection, tables: TableName[]): Promise<DuckStage> {
    const apps: Partial<Record<TableName, { app: DuckDBAppender; types: DuckDBType[] }>> = {};
    for (const t of tables) {
      const cols = STAGE[t].map((c) => `"${c.name}" ${c.kind === 'i32' ? 'INTEGER' : 'BIGINT'}`).join(', ');
      await conn.run(`CREATE OR REPLACE TABLE _${t} (${cols})`);
      apps[t] = { app: await conn.createAppender(`_${t}`), types: STAGE[t].map((c) => (c.kind === 'i32' ? INTEGER : BIGINT)) };
    }
    return new DuckStage(apps);
  }

  /** Synchronous: called from the core's row sink. */
  append(b: ColumnBatch): void {
    const a = this.appenders[b.table];
    if (!a) return;
    const spec = STAGE[b.table];
    for (let off = 0; off < b.n; off += 2048) {
      const n = Math.min(2048, b.n - off);
      const chunk = DuckDBDataChunk.create(a.types, n);
      for (let c = 0; c < spec.length; c++) {
        const vec = chunk.getColumnVector(c) as unknown as { setItem(i: number, v: number | bigint | null): void; flush(): void };
        const src = b.cols[c]!;
        if (spec[c]!.nullIfNegative) {
          for (let i = 0; i < n; i++) {
            const x = src[off + i]!;
            vec.setItem(i, x < 0 ? null : x);
          }
        } else {
          for (let i = 0; i < n; i++) vec.setItem(i, src[off + i]!);
        }
        vec.flush();
      }
      a.app.appendDataChunk(chunk);
    }
  }

  close(): void {
    for (const a of Object.values(this.appenders)) if (a) a.app.closeSync();
  }
}

/** What the views need to put host, file and strings back. */
export interface ViewContext {
  host: string;
  files: string[];
  strings: string[];
  /** ns per tick of each file (raw-clock traces with --tsc-khz); omitted: 1 */
  scale?: number[];
}

/** A staged 64-bit pattern as UBIGINT, null unless the row's `detail` has `bit` (K.EXD_RIP 1, K.EXD_INFO 2). */
const u64 = (col: string, bit: number) =>
  `CASE WHEN (detail & ${bit}) <> 0 THEN CAST(CASE WHEN ${col} < 0 THEN ${col}::HUGEINT + 18446744073709551616 ELSE ${col}::HUGEINT END AS UBIGINT) END`;

/** The SELECT that gives a row table (rows-schema.ts) from its staging table, in insertion order. */
export function selectOf(t: TableName, v: ViewContext): string {
  const strs = sqlList(v.strings);
  const s = (col: string) => `(${strs})[${col} + 1]`;
  const scaled = v.scale && v.scale.some((k) => k !== 1);
  const time = (col: string) => (scaled ? `CAST(round(${col} * ([${v.scale!.join(', ')}]::DOUBLE[])[file_index + 1]) AS BIGINT)` : col);
  const head = `${sqlStr(v.host)} AS host, (${sqlList(v.files)})[file_index + 1] AS file, pid, tid, vcpu, ${s('comm_id')} AS comm, ${time('time')} AS time_ns`;
  switch (t) {
    case 'exits':
      return `SELECT ${head}, ${s('reason_id')} AS reason, ${time('handling')} AS handling_ns, ${time('guest_before')} AS guest_before_ns, ${s('key_id')} AS "key", line, ` +
        `host_cpu, ${u64('rip', 1)} AS rip, ${u64('info1', 2)} AS info1, ${u64('info2', 2)} AS info2 FROM _exits`;
    case 'halts':
      return `SELECT ${head}, CASE WHEN (flags & 1) <> 0 THEN 'wait' ELSE 'poll' END AS state, (flags & 2) <> 0 AS valid, ${time('halt')} AS halt_ns, ${time('"window"')} AS window_ns, line FROM _halts`;
    case 'lapic':
      return `SELECT ${head}, delta AS delta_cycles, line FROM _lapic`;
  }
}

export interface LoadOptions extends AnalyzeOptions {
  host?: string;
  tables?: TableName[];
  /** rows per column batch (default 65536) */
  batchRows?: number;
}

export interface Loaded {
  report: Report;
  context: ViewContext;
  counts: Record<TableName, number>;
  /** seconds spent reading and loading */
  seconds: number;
}

/**
 * Read the traces once: the report, and every row into the staging tables of `conn`, then the row
 * tables as views (exits, halts, lapic).
 */
export async function loadRows(conn: DuckDBConnection, files: string[], o: LoadOptions = {}): Promise<Loaded> {
  const tables = o.tables ?? (['exits', 'halts', 'lapic'] as TableName[]);
  const t0 = performance.now();
  const stage = await DuckStage.create(conn, tables);
  const cols = new RowColumns((b) => stage.append(b), { isa: o.isa, batchRows: o.batchRows, tables });
  let report: Report;
  try {
    report = await analyze(files, { ...o, rows: cols.sink });
    cols.finish();
  } finally {
    stage.close();
  }
  const context: ViewContext = {
    host: o.host ?? os.hostname(), files: report.inputs.map((f) => f.file), strings: cols.strings,
    scale: report.inputs.map((f) => (f.clock === 'raw' && o.tscKhz ? 1e6 / o.tscKhz : 1)),
  };
  for (const t of tables) await conn.run(`CREATE OR REPLACE VIEW ${t} AS ${selectOf(t, context)}`);
  return { report, context, counts: { ...cols.counts }, seconds: (performance.now() - t0) / 1000 };
}
