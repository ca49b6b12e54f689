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
import { commit, registerScratch, releaseScratch, target, tempBeside, writeError, type Target } from '../core/output.js';

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

const TABLE_FILE = /^(exits|halts|lapic)\.(parquet|arrow)$/;

/**
 * Where each table goes for an output path: a directory (all tables) or a file (exits). Nothing is
 * written at the final names until every table is complete: the tables go to a staging directory (or
 * file) beside the output, which `commit` then renames into place, so the output appears whole or not
 * at all. An existing directory is replaced only when it holds nothing but kvmtax's table files; an
 * input trace, a FIFO, a device or anything else is never replaced.
 */
export function targets(out: string, as?: 'parquet' | 'arrow', inputs: string[] = []): {
  kind: 'parquet' | 'arrow'; files: Partial<Record<TableName, string>>; final: Partial<Record<TableName, string>>; commit: () => void; abort: () => void;
} {
  let st: fs.Stats | undefined;
  try { st = fs.statSync(out); } catch { st = undefined; }
  const isFile = st ? !st.isDirectory() : /\.(parquet|arrow|ipc|feather)$/i.test(out);
  const kind = as ?? (isFile && ARROW_EXT.test(out) ? 'arrow' : 'parquet');
  const flag = `--${as ?? kind}`;
  if (isFile) {
    const t = target(out, inputs, flag, false) as Extract<Target, { kind: 'file' }>;
    const tmp = tempBeside(t.path);
    return {
      kind, files: { exits: tmp }, final: { exits: out },
      commit: () => commit(tmp, t.path, t.mode),
      abort: () => { fs.rmSync(tmp, { force: true }); releaseScratch(tmp); },
    };
  }
  if (st) {
    const foreign = fs.readdirSync(out).filter((f) => !TABLE_FILE.test(f));
    if (foreign.length) throw new KvmtaxError(`${flag}: the directory holds other files than kvmtax's tables (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}): name a new or empty directory`, out);
  } else {
    try { fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true }); } catch (e) { throw writeError(e, out); }
  }
  const stage = tempBeside(path.resolve(out), '.dir');
  try { fs.mkdirSync(stage); } catch (e) { throw writeError(e, out); }
  const ext = kind === 'arrow' ? 'arrow' : 'parquet';
  const names: TableName[] = ['exits', 'halts', 'lapic'];
  return {
    kind,
    files: Object.fromEntries(names.map((n) => [n, path.join(stage, `${n}.${ext}`)])),
    final: Object.fromEntries(names.map((n) => [n, path.join(out, `${n}.${ext}`)])),
    commit: () => {
      // swap: the old directory (kvmtax's tables only) steps aside, the complete new one takes its name;
      // a directory another run put there meanwhile (two exports at once) is swapped the same way
      const olds: string[] = [];
      const retry = (e: unknown) => ['ENOTEMPTY', 'EEXIST', 'ENOENT'].includes((e as NodeJS.ErrnoException).code ?? '');
      try {
        for (let attempt = 0; ; attempt++) {
          try {
            if (fs.existsSync(out)) {
              const foreign = fs.readdirSync(out).filter((f) => !TABLE_FILE.test(f));
              if (foreign.length) throw new KvmtaxError(`${flag}: the directory now holds other files than kvmtax's tables (${foreign.slice(0, 3).join(', ')})`, out);
              const old = tempBeside(path.resolve(out), '.old');
              fs.renameSync(out, old);
              olds.push(old);
            }
            fs.renameSync(stage, out);
            break;
          } catch (e) {
            if (e instanceof KvmtaxError || !retry(e) || attempt >= 5) throw e;
          }
        }
      } catch (e) {
        // nothing took the name: the last old copy goes back
        if (!fs.existsSync(out) && olds.length) { try { fs.renameSync(olds.pop()!, out); } catch { /* best effort */ } }
        fs.rmSync(stage, { recursive: true, force: true });
        throw writeError(e, out);
      } finally {
        releaseScratch(stage);
        for (const o of olds) { fs.rmSync(o, { recursive: true, force: true }); releaseScratch(o); }
      }
    },
    abort: () => { fs.rmSync(stage, { recursive: true, force: true }); releaseScratch(stage); },
  };
}

export async function exportParquet(files: string[], out: string, opts: ExportOptions = {}): Promise<ExportResult> {
  const t0 = performance.now();
  const { kind, files: dest, final, commit: commitOut, abort } = targets(out, opts.as, files);
  const tables = Object.keys(dest) as TableName[];
  try {
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
      registerScratch(scratch);
      const { instance, conn } = await openDuck({ path: path.join(scratch, 'rows.duckdb'), memoryLimit: memoryLimit ?? '1GB', tempDirectory: scratch });
      try {
        const loaded = await loadRows(conn, files, { ...analyzeOpts, host, tables });
        report = loaded.report;
        Object.assign(counts, loaded.counts);
        for (const t of tables) {
          const p = dest[t]!;
          try {
            await conn.run(`COPY (${selectOf(t, loaded.context)}) TO '${p.replace(/'/g, "''")}' (FORMAT parquet, COMPRESSION ${compression ?? 'zstd'}, ` +
              `ROW_GROUP_SIZE ${rowGroupRows ?? 65536}, KV_METADATA {'kvmtax.rows_schema': '${ROW_TABLES_VERSION}', 'kvmtax.table': '${t}'})`);
          } catch (e) {
            throw new KvmtaxError(`cannot write: ${String((e as Error).message).split('\n')[0]}`, out);
          }
        }
      } finally {
        conn.closeSync();
        instance.closeSync();
        fs.rmSync(scratch, { recursive: true, force: true });
        releaseScratch(scratch);
      }
    }
    const sizes = tables.map((t) => fs.statSync(dest[t]!).size);
    commitOut();
    const written = tables.map((t, i) => ({ table: t, path: final[t]!, rows: counts[t] ?? 0, bytes: sizes[i]! }));
    return { files: written, report, rows: written.reduce((s, f) => s + f.rows, 0), seconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    abort();
    throw e;
  }
}
