/**
 * Bench line of the row exports: `node dist/bench/rows.js TRACE [OUTDIR]`
 * prints the Parquet and Arrow export rates (rows/s, input MB/s, output bytes) and the time of a
 * per-reason SQL query over the trace's rows in the embedded DuckDB.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportParquet } from '../src/export/parquet.js';
import { loadRows, openDuck } from '../src/export/duckdb.js';

async function main(): Promise<void> {
  const [trace, outArg] = process.argv.slice(2);
  if (!trace) throw new Error('usage: node dist/bench/rows.js TRACE [OUTDIR]');
  const mb = fs.statSync(trace).size / 1e6;
  const out = outArg ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-bench-rows-'));
  const line = (what: string, rows: number, s: number, bytes: number) =>
    console.log(`${what}: ${rows} rows in ${s.toFixed(2)} s: ${(rows / s / 1e6).toFixed(2)} M rows/s, ${(mb / s).toFixed(0)} MB/s of trace, ${(bytes / 1e6).toFixed(1)} MB written`);
  const pq = await exportParquet([trace], path.join(out, 'parquet'));
  line('export parquet', pq.rows, pq.seconds, pq.files.reduce((s, f) => s + f.bytes, 0));
  const ar = await exportParquet([trace], path.join(out, 'arrow'), { as: 'arrow' });
  line('export arrow  ', ar.rows, ar.seconds, ar.files.reduce((s, f) => s + f.bytes, 0));
  const { instance, conn } = await openDuck();
  const l = await loadRows(conn, [trace]);
  const rows = l.counts.exits + l.counts.halts + l.counts.lapic;
  line('sql load      ', rows, l.seconds, 0);
  const t0 = performance.now();
  const r = await conn.runAndReadAll('SELECT reason, count(*), sum(handling_ns), quantile_disc(handling_ns, 0.99) FROM exits GROUP BY ALL');
  const q = (performance.now() - t0) / 1000;
  console.log(`sql query: per-reason count, sum, p99 over ${l.counts.exits} exits: ${r.currentRowCount} rows in ${(q * 1000).toFixed(0)} ms`);
  const t1 = performance.now();
  const pqq = await conn.runAndReadAll(`SELECT reason, count(*), quantile_disc(handling_ns, 0.99) FROM read_parquet('${path.join(out, 'parquet', 'exits.parquet')}') GROUP BY ALL`);
  console.log(`parquet query: the same over exits.parquet: ${pqq.currentRowCount} rows in ${(performance.now() - t1).toFixed(0)} ms`);
  console.log(`rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
  conn.closeSync();
  instance.closeSync();
  if (!outArg) fs.rmSync(out, { recursive: true, force: true });
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
