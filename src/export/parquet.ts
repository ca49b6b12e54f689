/**
 * `kvmtax export --parquet DIR|FILE` and `--arrow DIR|FILE`: the row tables (src/export/rows-schema.ts)
 * of one or more traces as files that DuckDB, Spark, Trino, Polars or pandas read as they are.
 *
 *   DIR            exits.parquet, halts.parquet, lapic.parquet (or .arrow with format 'arrow')
 *   FILE.parquet   the exits table alone
 *   FILE.arrow     the exits table alone, as an Arrow IPC file
 *
 * Parquet is written by DuckDB's own writer (@duckdb/node-api, the engine `kvmtax sql` embeds): the rows
 * stream out of the core, batch by batch, through DuckDB's appender into a scratch database on disk
 * (compressed, spilled past a memory limit: never all in memory), and one COPY per table writes row
 * groups of 64k rows, zstd-compressed, with the row-schema version in the file's key-value metadata.
 * Arrow IPC is written by apache-arrow, one record batch per 64k rows as they arrive.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KvmtaxError } from '../core/errors.js';
import { analyze, type AnalyzeOptions } from '../pipeline/analyze.js';
import type { Report } from '../analysis/types.js';
import { RowColumns, type TableName } from './columns.js';
import { loadRows, openDuck, selectOf } from './duckdb.js';
import { ArrowTableWriter } from './arrow.js';
import { ROW_TABLES_VERSION } from './rows-schema.js';

export interface ExportOptions extends AnalyzeOptions {
  /** host column (default: os.hostname()) */
  host?: string;
  /** 'parquet' | 'arrow' (default: from the name: .arrow/.ipc/.feather is Arrow, anything else Parquet) */
  as?: 'parquet' | 'arrow';
  /** Parquet: rows per row group (default 65536) */
  rowGroupRows?: number;
  /** Parquet: 'zstd' (default), 'snappy', 'uncompressed' */
  compression?: 'zstd' | 'snappy' | 'uncompressed';
  /** Parquet: DuckDB's memory limit while staging (default '1GB') */
  memoryLimit?: string;
}

export interface ExportResult {
  files: Array<{ table: TableName; path: string; rows: number; bytes: number }>;
  report: Report;
  rows: number;
  seconds: number;
}

const ARROW_EXT = /\.(arrow|ipc|feather)$/i;

/** Where each table goes for an output path: a directory (all tables) or a file (exits). */
export function targets(out: string, as?: 'parquet' | 'arrow'): { kind: 'parquet' | 'arrow'; files: Partial<Record<TableName, string>> } {
  const isFile = /\.(parquet|arrow|ipc|feather)$/i.test(out) && !(fs.existsSync(out) && fs.statSync(out).isDirectory());
  const kind = as ?? (isFile && ARROW_EXT.test(out) ? 'arrow' : 'parquet');
  if (isFile) return { kind, files: { exits: out } };
  fs.mkdirSync(out, { recursive: true });
  const ext = kind === 'arrow' ? 'arrow' : 'parquet';
  return { kind, files: { exits: path.join(out, `exits.${ext}`), halts: path.join(out, `halts.${ext}`), lapic: path.join(out, `lapic.${ext}`) } };
}

export async function exportParquet(files: string[], out: string, opts: ExportOptions = {}): Promise<ExportResult> {
  const t0 = performance.now();
  const { kind, files: dest } = targets(out, opts.as);
  const tables = Object.keys(dest) as TableName[];
  const host = opts.host ?? os.hostname();
  const { host: _h, as: _a, rowGroupRows, compression, memoryLimit, ...analyzeOpts } = opts;
  void _h; void _a;
  let report: Report;
  const counts: Partial<Record<TableName, number>> = {};
  if (kind === 'arrow') {
    let inputs: string[] = [];
    const strings: string[] = [];
    // file names are known when each file ends: until then a batch names files by the command line
    const writers = new Map<TableName, ArrowTableWriter>();
    const ctx = { host, files: () => (inputs.length ? inputs : files), strings };
    for (const t of tables) writers.set(t, new ArrowTableWriter(t, dest[t]!, ctx));
    const cols = new RowColumns((b) => writers.get(b.table)!.write(b), { isa: opts.isa, tables });
    // share the dictionary: the writer looks strings up in the same array the columns intern into
    ctx.strings = cols.strings;
    report = await analyze(files, { ...analyzeOpts, rows: cols.sink });
    inputs = report.inputs.map((f) => f.file);
    cols.finish();
    for (const w of writers.values()) await w.close();
    Object.assign(counts, cols.counts);
  } else {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-parquet-'));
    const { instance, conn } = await openDuck({ path: path.join(scratch, 'rows.duckdb'), memoryLimit: memoryLimit ?? '1GB', tempDirectory: scratch });
    try {
      const loaded = await loadRows(conn, files, { ...analyzeOpts, host, tables });
      report = loaded.report;
      Object.assign(counts, loaded.counts);
      for (const t of tables) {
        const p = dest[t]!;
        await conn.run(`COPY (${selectOf(t, loaded.context)}) TO '${p.replace(/'/g, "''")}' (FORMAT parquet, COMPRESSION ${compression ?? 'zstd'}, ` +
          `ROW_GROUP_SIZE ${rowGroupRows ?? 65536}, KV_METADATA {'kvmtax.rows_schema': '${ROW_TABLES_VERSION}', 'kvmtax.table': '${t}'})`);
      }
    } finally {
      conn.closeSync();
      instance.closeSync();
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }
  const written = tables.map((t) => ({ table: t, path: dest[t]!, rows: counts[t] ?? 0, bytes: fs.statSync(dest[t]!).size }));
  if (!written.length) throw new KvmtaxError(`nothing to write to ${out}`);
  return { files: written, report, rows: written.reduce((s, f) => s + f.rows, 0), seconds: (performance.now() - t0) / 1000 };
}
