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
    .example('$0 sql "SELECT reason, count(*), quantile_disc(handling_ns, 0.99) FROM exits GROUP BY ALL ORDER BY 2 DESC" trace.txt.xz', 'exits and p99 per reason')
    .example('$0 sql "SELECT * FROM exits WHERE handling_ns > 1e6 AND vcpu = 3" trace.dat', 'exits longer than 1 ms on vCPU 3')
    .example('$0 sql --schema', 'the tables and their columns') as unknown as Argv<Args>;
}

const usage = (msg: string) => KvmtaxError.usage(msg);

export async function handler(argv: ArgumentsCamelCase<Args>): Promise<void> {
  let text: string;
  if (argv.schema) {
    text = argv.format === 'json' ? JSON.stringify(schemaJson(), null, 2) + '\n' : describeSchema();
  } else {
    if (!argv.query) throw usage('give a query: kvmtax sql "SELECT ..." TRACE... (kvmtax sql --schema lists the tables)');
    if (!argv.traces?.length) throw usage('give one or more traces after the query');
    const res = await runSql(argv.query, argv.traces, {
      host: argv.host, db: argv.db, memoryLimit: argv.memoryLimit, ...inputOptions(argv),
    });
    text = renderResult(res, argv.format);
  }
  if (argv.output) fs.writeFileSync(argv.output, text);
  else process.stdout.write(text);
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

/** Load the traces and run one query. */
export async function runSql(query: string, traces: string[], o: SqlOptions = {}): Promise<SqlResult> {
  if (o.db && fs.existsSync(o.db)) fs.rmSync(o.db);
  const { instance, conn } = await openDuck({ path: o.db, memoryLimit: o.memoryLimit });
  try {
    const { report, context } = await loadRows(conn, traces, { ...o, histograms: false });
    await summaryTables(conn, report, context.host);
    let reader;
    try {
      reader = await conn.runAndReadAll(query);
    } catch (e) {
      throw new KvmtaxError(`SQL: ${(e as Error).message.split('\n').join(' ')}`);
    }
    const rows = reader.getRowsJS().map((r) => r.map(plain));
    return { columns: reader.columnNames(), types: reader.columnTypes().map((t) => t.toString()), rows };
  } finally {
    conn.closeSync();
    instance.closeSync();
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
        const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
        return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
      };
      return [r.columns.map(cell).join(','), ...r.rows.map((row) => row.map(cell).join(','))].join('\n') + '\n';
    }
    default: {
      const str = (v: unknown) => (v === null || v === undefined ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v));
      const cells = r.rows.map((row) => row.map(str));
      const num = r.columns.map((_, i) => r.rows.length > 0 && r.rows.every((row) => row[i] === null || typeof row[i] === 'number'));
      const w = r.columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
      const line = (cs: string[]) => cs.map((c, i) => (num[i] ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ').trimEnd();
      const out = [line(r.columns), w.map((x) => '-'.repeat(x)).join('  '), ...cells.map(line)];
      out.push(`(${r.rows.length} row${r.rows.length === 1 ? '' : 's'})`);
      return out.join('\n') + '\n';
    }
  }
}
