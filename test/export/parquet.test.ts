/** `exportParquet`: the rows of a real capture as Parquet (DuckDB's writer) and Arrow IPC, read back by DuckDB, hyparquet and apache-arrow. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tableFromIPC } from 'apache-arrow';
import { parquetReadObjects, parquetMetadata } from 'hyparquet';
import { decompress as zstd } from 'fzstd';
import { analyze } from '../../src/pipeline/analyze.js';
import { decodeRows, type Row } from '../../src/analysis/rows.js';
import { exportParquet } from '../../src/export/parquet.js';
import { openDuck } from '../../src/export/duckdb.js';
import { TABLES } from '../../src/export/rows-schema.js';
import { TRACES } from '../support/paths.js';

const FILE = path.join(TRACES, 'svm-D-small/trace.txt.xz');
const HOST = 'host-a';

type Obj = Record<string, unknown>;
/** The rows of the pipeline, shaped as the tables' columns (bigint for BIGINT). */
async function expected(file: string): Promise<Record<'exits' | 'halts' | 'lapic', Obj[]>> {
  const rows: Row[] = [];
  await analyze([file], { rows: (b, core) => { rows.push(...decodeRows(b, core)); } });
  const who = (r: Row) => ({ host: HOST, file, pid: r.pid, tid: r.tid, vcpu: r.vcpu, comm: r.comm, time_ns: BigInt(r.ts) });
  const n = (x: number | null) => (x === null ? null : BigInt(x));
  return {
    exits: rows.filter((r) => r.kind === 'exit').map((r) => ({ ...who(r), reason: r.reason, handling_ns: BigInt(r.duration), guest_before_ns: n(r.guest_before), key: r.key, line: BigInt(r.where),
      host_cpu: r.host_cpu, rip: r.rip, info1: r.info1, info2: r.info2 })),
    halts: rows.filter((r) => r.kind === 'halt').map((r) => ({
      ...who(r), state: r.reason!.split(' ')[0], valid: !r.reason!.includes('invalid'), halt_ns: BigInt(r.duration), window_ns: n(r.guest_before), line: BigInt(r.where),
    })),
    lapic: rows.filter((r) => r.kind === 'lapic').map((r) => ({ ...who(r), delta_cycles: BigInt(r.duration), line: BigInt(r.where) })),
  };
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-pq-'));
const arrayBuffer = (p: string) => { const b = fs.readFileSync(p); return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer; };

async function duckRead(p: string): Promise<Obj[]> {
  const { instance, conn } = await openDuck();
  try {
    const r = await conn.runAndReadAll(`SELECT * FROM read_parquet('${p}')`);
    return r.getRowObjectsJS() as Obj[];
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

describe('export to Parquet and Arrow', () => {
  it('a directory: exits, halts and lapic Parquet files; DuckDB and hyparquet read back the pipeline\'s rows, in order', async () => {
    const want = await expected(FILE);
    expect(want.exits.length).toBe(768);
    const dir = tmp();
    const res = await exportParquet([FILE], dir, { host: HOST });
    expect(res.files.map((f) => [f.table, path.basename(f.path), f.rows])).toEqual([
      ['exits', 'exits.parquet', want.exits.length], ['halts', 'halts.parquet', want.halts.length], ['lapic', 'lapic.parquet', want.lapic.length]]);
    expect(res.report.totals.exits_handled).toBe(want.exits.length);
    for (const t of TABLES) {
      const p = path.join(dir, `${t.name}.parquet`);
      const duck = await duckRead(p);
      expect(duck, `${t.name} via DuckDB`).toEqual(want[t.name]);
      const meta = parquetMetadata(arrayBuffer(p));
      expect(meta.key_value_metadata?.find((kv) => kv.key === 'kvmtax.rows_schema')?.value).toBe('1');
      const hy = await parquetReadObjects({ file: arrayBuffer(p), compressors: { ZSTD: (input: Uint8Array) => zstd(input) } });
      // hyparquet gives INT32 as number, INT64 as bigint, and names the columns as written
      expect(hy, `${t.name} via hyparquet`).toEqual(want[t.name]);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('row groups of the given size (svm-A-baseline: 18k exits, groups of 4096)', async () => {
    const file = path.join(TRACES, 'svm-A-baseline/trace.txt.xz');
    const dir = tmp();
    const res = await exportParquet([file], path.join(dir, 'e.parquet'), { rowGroupRows: 4096 });
    const meta = parquetMetadata(arrayBuffer(path.join(dir, 'e.parquet')));
    const sizes = meta.row_groups.map((g) => Number(g.num_rows));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(res.report.totals.exits_handled);
    expect(sizes.length).toBe(Math.ceil(res.report.totals.exits_handled / 4096));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a .parquet file holds the exits; a .arrow file holds the same rows for apache-arrow', async () => {
    const want = await expected(FILE);
    const dir = tmp();
    const pq = await exportParquet([FILE], path.join(dir, 'x.parquet'), { host: HOST });
    expect(pq.files.map((f) => f.table)).toEqual(['exits']);
    expect(await duckRead(path.join(dir, 'x.parquet'))).toEqual(want.exits);
    const ar = await exportParquet([FILE], path.join(dir, 'x.arrow'), { host: HOST });
    expect(ar.files).toMatchObject([{ table: 'exits', rows: want.exits.length }]);
    const t = tableFromIPC(fs.readFileSync(path.join(dir, 'x.arrow')));
    expect(t.schema.fields.map((f) => f.name)).toEqual(TABLES[0]!.columns.map((c) => c.name));
    expect(t.schema.metadata.get('kvmtax.rows_schema')).toBe('1');
    expect(t.toArray().map((r) => ({ ...r.toJSON() }))).toEqual(want.exits);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('Arrow into a directory: one file per table, batches of the given size', async () => {
    const want = await expected(FILE);
    const dir = tmp();
    await exportParquet([FILE], dir, { host: HOST, as: 'arrow' });
    for (const t of TABLES) {
      const tab = tableFromIPC(fs.readFileSync(path.join(dir, `${t.name}.arrow`)));
      expect(tab.toArray().map((r) => ({ ...r.toJSON() })), t.name).toEqual(want[t.name]);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
