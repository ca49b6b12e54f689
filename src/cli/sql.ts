/**
 * `kvmtax sql "SELECT ..." TRACE...`: SQL over the rows of the traces in an embedded DuckDB. The traces
 * are read once by the core that makes the report; every handled exit, halt and lapic event streams into
 * DuckDB through its appender (src/export/duckdb.ts) as tables exits, halts, lapic (src/export/rows-schema.ts),
 * next to the report's own per-reason and per-vCPU figures (reasons, vcpus). `kvmtax sql --schema`
 * describes them.
 */
import fs from 'node:fs';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { withInputOptions, inputOptions } from './input-options.js';
import { KvmtaxError } from '../core/errors.js';
import { loadRows, openDuck } from '../export/duckdb.js';
import { describeSchema, schemaJson, SUMMARY_TABLES } from '../export/rows-schema.js';
import type { Report } from '../analysis/types.js';
import { csvSafe, lineSafe } from '../report/escape.js';
import { version } from '../pipeline/analyze.js';
import { commit, registerScratch, releaseScratch, target, tempBeside, writeOutput, type Target } from '../core/output.js';

export const SQL_FORMATS = ['table', 'json', 'csv'];

interface Args {
  query?: string;
  traces?: string[];
  schema: boolean;
  format: string;
  host?: string;
  db?: string;
  memoryLimit?: string;
  inputFormat?: string;
  strict: boolean;
  tscKhz?: number;
  isa?: string;
  output?: string;
  engine: string;
}

export const command = 'sql [query] [traces..]';
export const describe = 'SQL over every exit, halt and lapic event of the traces (tables exits, halts, lapic, reasons, vcpus) in an embedded DuckDB';

export function builder(y: Argv): Argv<Args> {
  return withInputOptions(y)
    .positional('query', { type: 'string', describe: 'one SQL statement (DuckDB\'s dialect)' })
    .positional('traces', { type: 'string', array: true, describe: 'trace files (as for report); several are kept apart by their file column' })
    .option('schema', { type: 'boolean', default: false, describe: 'describe the tables (names, columns, types, meaning) and exit; with -f json as JSON' })
    .option('format', { alias: 'f', type: 'string', choices: SQL_FORMATS, default: 'table', describe: 'result format' })
    .option('host', { type: 'string', describe: 'the host column (default: this host\'s name)' })
    .option('db', { type: 'string', describe: 'keep the loaded rows in this DuckDB database file (open it later with duckdb FILE)' })
    .option('memory-limit', { type: 'string', describe: 'DuckDB\'s memory limit, e.g. 4GB (past it DuckDB spills to disk)' })
    .option('output', { alias: 'o', type: 'string', describe: 'write to this file instead of stdout' })
    .option('engine', { type: 'string', choices: ['duckdb', 'perfetto'], default: 'duckdb', describe: 'duckdb: our tables (exits, halts, ...); perfetto: Perfetto\'s trace_processor (npm run trace-processor builds it) over one trace, a Perfetto file as it is, any other capture as exported by export --perfetto' })
    .example('$0 sql "SELECT reason, count(*), quantile_disc(handling_ns, 0.99) FROM exits GROUP BY ALL ORDER BY 2 DESC" trace.txt.xz', 'exits and p99 per reason')
    .example('$0 sql "SELECT * FROM exits WHERE handling_ns > 1e6 AND vcpu = 3" trace.dat', 'exits longer than 1 ms on vCPU 3')
    .example('$0 sql --engine perfetto "SELECT name, count(*), sum(dur) FROM slice GROUP BY name" trace.txt.xz', 'trace_processor\'s slice table of the export')
    .example('$0 sql --schema', 'the tables and their columns') as unknown as Argv<Args>;
}

const usage = (msg: string) => KvmtaxError.usage(msg);

export async function handler(argv: ArgumentsCamelCase<Args>): Promise<void> {
  let text: string;
  if (argv.schema) {
    if (argv.engine === 'perfetto') throw usage('--schema describes the DuckDB tables; trace_processor\'s are listed by: kvmtax sql --engine perfetto "SELECT name FROM sqlite_master" TRACE');
    text = argv.format === 'json' ? JSON.stringify(schemaJson(), null, 2) + '\n' : describeSchema();
  } else {
    if (!argv.query) throw usage('give a query: kvmtax sql "SELECT ..." TRACE... (kvmtax sql --schema lists the tables)');
    if (!argv.traces?.length) throw usage('give one or more traces after the query');
    checkMemoryLimit(argv.memoryLimit);
    target(argv.output, argv.traces, '-o');
    if (argv.engine === 'perfetto') {
      text = renderResult(await perfettoSql(argv), argv.format);
      await writeOutput(text, argv.output, argv.traces);
      return;
    }
    const res = await runSql(argv.query, argv.traces, {
      host: argv.host, db: argv.db, memoryLimit: argv.memoryLimit, ...inputOptions(argv),
    });
    text = renderResult(res, argv.format);
  }
  await writeOutput(text, argv.output, argv.traces ?? []);
}

export interface SqlResult { columns: string[]; types: string[]; rows: unknown[][] }

export interface SqlOptions {
  host?: string;
  db?: string;
  memoryLimit?: string;
  format?: string;
  strict?: boolean;
  tscKhz?: number;
  isa?: number;
}

/**
 * --memory-limit as DuckDB takes it: a number and a unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), at
 * least 16 MB (below that DuckDB cannot hold one batch of rows), checked before anything is read.
 */
export function checkMemoryLimit(v: string | undefined): void {
  if (v === undefined) return;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$/i.exec(v);
  const unit = m?.[2]?.toUpperCase();
  const mult: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40 };
  if (!m || !unit) throw usage(`--memory-limit "${v}": expected a size such as 512MB or 4GB`);
  if (Number(m[1]) * mult[unit]! < 16e6) throw usage(`--memory-limit "${v}": at least 16MB (DuckDB needs room for a batch of rows)`);
}

/** The marker table that tells a database kvmtax made (and may replace) from anyone else's file. */
const MARKER = 'kvmtax_db';

/**
 * May --db replace `file`? Only a DuckDB database that kvmtax made (it holds the marker table): any other
 * file, an input trace included, is left alone with a one-line error.
 */
async function checkDbTarget(file: string, traces: string[]): Promise<void> {
  const t = target(file, traces, '--db', false);
  if (t.kind !== 'file' || !fs.existsSync(t.path)) return;
  const head = Buffer.alloc(12);
  const fd = fs.openSync(t.path, 'r');
  try { fs.readSync(fd, head, 0, 12, 0); } finally { fs.closeSync(fd); }
  const notOurs = () => new KvmtaxError('exists and is not a database kvmtax made: refusing to replace it (name a new file)', file);
  if (head.subarray(8, 12).toString('latin1') !== 'DUCK') throw notOurs();
  let ours = false;
  try {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const inst = await DuckDBInstance.create(t.path, { access_mode: 'READ_ONLY' });
    const c = await inst.connect();
    try {
      const r = await c.runAndReadAll(`SELECT count(*) FROM information_schema.tables WHERE table_name = '${MARKER}'`);
      ours = Number(r.getRows()[0]?.[0]) === 1;
    } finally { c.closeSync(); inst.closeSync(); }
  } catch (e) {
    throw new KvmtaxError(`cannot open the existing database: ${duckMessage(e)}`, file);
  }
  if (!ours) throw notOurs();
}

/** DuckDB's message on one line ("IO Error: Could not set lock on file ..."). */
export function duckMessage(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!.trim();
}

/** `--engine perfetto`: the query in trace_processor (src/export/trace-processor.ts) over one trace. */
async function perfettoSql(argv: ArgumentsCamelCase<Args>): Promise<SqlResult> {
  if (argv.traces!.length !== 1) throw usage('--engine perfetto: give one trace (merge several first with kvmtax export --perfetto)');
  for (const [o, v] of [['--db', argv.db], ['--memory-limit', argv.memoryLimit], ['--host', argv.host]] as const) {
    if (v !== undefined) throw usage(`${o} applies to --engine duckdb only`);
  }
  const { runPerfettoSql } = await import('../export/trace-processor.js');
  return runPerfettoSql(argv.query!, argv.traces![0]!, { exportOptions: { ...inputOptions(argv) } });
}

/** Load the traces and run one query. */
export async function runSql(query: string, traces: string[], o: SqlOptions = {}): Promise<SqlResult> {
  checkMemoryLimit(o.memoryLimit);
  // --db: built under a temporary name beside the file and renamed over it when complete; an existing
  // file is replaced only when kvmtax made it
  let db: { tmp: string; file: string; mode?: number } | undefined;
  if (o.db) {
    await checkDbTarget(o.db, traces);
    const t = target(o.db, traces, '--db', false) as Extract<Target, { kind: 'file' }>;
    db = { tmp: tempBeside(t.path, '.duckdb'), file: t.path, mode: t.mode };
    registerScratch(db.tmp + '.wal');
  }
  let duck;
  try {
    duck = await openDuck({ path: db?.tmp, memoryLimit: o.memoryLimit });
  } catch (e) {
    throw new KvmtaxError(`cannot open DuckDB: ${duckMessage(e)}`, o.db);
  }
  const { instance, conn } = duck;
  let ok = false;
  try {
    const { report, context } = await loadRows(conn, traces, { ...o, histograms: false });
    await summaryTables(conn, report, context.host);
    if (db) await conn.run(`CREATE TABLE ${MARKER} AS SELECT '${version()}' AS kvmtax_version`);
    // the query runs without file or network access (no COPY TO, read_csv, ATTACH, httpfs): a query
    // pasted from elsewhere cannot read or overwrite files; DuckDB cannot turn this back on in a session
    await conn.run('SET enable_external_access = false');
    let reader;
    try {
      reader = await conn.runAndReadAll(query);
    } catch (e) {
      throw new KvmtaxError(`SQL: ${(e as Error).message.split('\n').join(' ')}`);
    }
    const rows = reader.getRowsJS().map((r) => r.map(plain));
    ok = true;
    return { columns: reader.columnNames(), types: reader.columnTypes().map((t) => t.toString()), rows };
  } catch (e) {
    if (e instanceof KvmtaxError) throw e;
    // DuckDB's own errors (out of memory under --memory-limit, disk full while spilling) are one line
    if (/^(Failed to |[A-Z][A-Za-z]* Error: |Out of Memory)/.test(duckMessage(e))) throw new KvmtaxError(`DuckDB: ${duckMessage(e)}`, o.db);
    throw e;
  } finally {
    conn.closeSync();
    instance.closeSync();
    if (db) {
      fs.rmSync(db.tmp + '.wal', { force: true });
      releaseScratch(db.tmp + '.wal');
      if (ok) commit(db.tmp, db.file, db.mode);
      else { fs.rmSync(db.tmp, { force: true }); releaseScratch(db.tmp); }
    }
  }
}

/** The report's reasons and vCPUs as tables. */
export async function summaryTables(conn: DuckDBConnection, r: Report, host: string): Promise<void> {
  const [reasons, vcpus] = SUMMARY_TABLES;
  const rrows = r.reasons.map((x) => [x.reason, x.idle, x.exits_seen, x.exits_handled, x.total_ns, x.mean_ns, x.p50_ns, x.p90_ns, x.p99_ns, x.p999_ns, x.min_ns, x.max_ns]);
  const vrows = r.vms.flatMap((vm) => vm.vcpus.map((c) => [host, vm.file, vm.pid, vm.name, c.vcpu, c.tid, c.comm, c.exits_seen, c.exits_handled,
    c.wall_ns, c.guest_ns, c.host_ns, c.halted_ns, c.overhead_ns, c.tax]));
  await createTable(conn, reasons!.name, reasons!.columns, rrows);
  await createTable(conn, vcpus!.name, vcpus!.columns, vrows);
}

async function createTable(conn: DuckDBConnection, name: string, cols: Array<[string, string, string]>, rows: unknown[][]): Promise<void> {
  await conn.run(`CREATE OR REPLACE TABLE ${name} (${cols.map(([n, t]) => `"${n}" ${t}`).join(', ')})`);
  const lit = (v: unknown) => (v === null || v === undefined ? 'NULL' : typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : String(v));
  for (let i = 0; i < rows.length; i += 500) {
    const part = rows.slice(i, i + 500);
    await conn.run(`INSERT INTO ${name} VALUES ${part.map((r) => `(${r.map(lit).join(', ')})`).join(', ')}`);
  }
}

/** A DuckDB value as plain JSON-able data: integers as numbers while exact, else strings. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

export function renderResult(r: SqlResult, format: string): string {
  switch (format) {
    case 'json':
      return JSON.stringify(r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]]))), null, 2) + '\n';
    case 'csv': {
      const cell = (v: unknown) => {
        if (v === null || v === undefined) return '';
        const s = typeof v === 'object' ? JSON.stringify(v) : typeof v === 'string' ? csvSafe(v) : String(v);
        return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
      };
      return [r.columns.map(cell).join(','), ...r.rows.map((row) => row.map(cell).join(','))].join('\n') + '\n';
    }
    default: {
      // values are data: control characters in a comm are shown escaped, never sent to the terminal
      const str = (v: unknown) => lineSafe(v === null || v === undefined ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v));
      const cells = r.rows.map((row) => row.map(str));
      const num = r.columns.map((_, i) => r.rows.length > 0 && r.rows.every((row) => row[i] === null || typeof row[i] === 'number'));
      const cols = r.columns.map(lineSafe);
      const w = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
      const line = (cs: string[]) => cs.map((c, i) => (num[i] ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ').trimEnd();
      const out = [line(cols), w.map((x) => '-'.repeat(x)).join('  '), ...cells.map(line)];
      out.push(`(${r.rows.length} row${r.rows.length === 1 ? '' : 's'})`);
      return out.join('\n') + '\n';
    }
  }
}
