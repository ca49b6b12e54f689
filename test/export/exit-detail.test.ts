/**
 * The exit rows' detail columns (host_cpu, rip, info1, info2) in every SQL / export path, checked against the
 * trace text by hand: the first exits of traces/svm-D-small (the same run as ftrace text, trace-cmd report,
 * perf script, trace.dat and perf.data), and a VMX kernel address above 2^63 from a public trace-cmd report.
 *
 * From traces/svm-D-small/trace.txt (lines 181, 182, 195, 233):
 *   vmm-193 [001] 7.335242: kvm_exit: vcpu 1 reason npf rip 0x10000 info1 0x0000000200000006 info2 0x0000000000001000 ...
 *   vmm-192 [000] 7.335251: kvm_exit: vcpu 0 reason npf rip 0x10000 info1 0x0000000200000006 info2 0x0000000000001000 ...
 *   vmm-193 [001] 7.337756: kvm_exit: vcpu 1 reason msr rip 0x10050 info1 0x0000000000000000 info2 0x0000000000000000 ...
 *   vmm-192 [000] 7.341610: kvm_exit: vcpu 0 reason io rip 0x10098 info1 0x0000000005010010 info2 0x0000000000010099 ...
 * (the io exit: SVM's IOIO word for port 0x501, and info2 the next rip, 0x10098 + 1)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tableFromIPC } from 'apache-arrow';
import { runSql } from '../../src/cli/sql.js';
import { exportParquet } from '../../src/export/parquet.js';
import { TABLES } from '../../src/export/rows-schema.js';
import { openDuck } from '../../src/export/duckdb.js';
import { HAVE_SHARED, SHARED, TRACES, tmpTrace } from '../support/paths.js';

const D = (f: string) => path.join(TRACES, 'svm-D-small', f);
type Want = [tid: number, reason: string, cpu: number, rip: bigint, info1: bigint, info2: bigint];
const FIRST: Want[] = [
  [193, 'npf', 1, 0x10000n, 0x200000006n, 0x1000n],
  [192, 'npf', 0, 0x10000n, 0x200000006n, 0x1000n],
];
const MSR: Want = [193, 'msr', 1, 0x10050n, 0n, 0n];
const IO: Want = [192, 'io', 0, 0x10098n, 0x5010010n, 0x10099n];
const big = (v: unknown) => (v === null || v === undefined ? null : BigInt(v as number | bigint));
const asWant = (r: unknown[]): Want => [Number(r[0]), String(r[1]), Number(r[2]), big(r[3])!, big(r[4])!, big(r[5])!];

const Q = (where = '') => `SELECT tid, reason, host_cpu, rip, info1, info2 FROM exits ${where} ORDER BY time_ns, tid`;

describe('exit rows carry host_cpu, rip, info1 and info2', () => {
  it('the schema lists them after line, as the tables show them (UBIGINT)', async () => {
    const exits = TABLES.find((t) => t.name === 'exits')!;
    expect(exits.columns.slice(-5).map((c) => [c.name, c.type, c.nullable])).toEqual([
      ['line', 'BIGINT', false], ['host_cpu', 'INTEGER', true], ['rip', 'UBIGINT', true], ['info1', 'UBIGINT', true], ['info2', 'UBIGINT', true]]);
    const cols = await runSql("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'exits' ORDER BY ordinal_position", [D('trace.txt.xz')]);
    expect(cols.rows.map((r) => [r[0], r[1]])).toEqual(exits.columns.map((c) => [c.name, c.type]));
  });

  it.each(['trace.txt.xz', 'trace-cmd-report.txt.xz', 'perf-script.txt.xz', 'trace.dat.xz', 'perf.data.xz'])('%s: the first exits as the trace text has them', async (f) => {
    const first = await runSql(`${Q()} LIMIT 2`, [D(f)]);
    expect(first.rows.map(asWant)).toEqual(FIRST);
    const msr = await runSql(`${Q("WHERE reason = 'msr'")} LIMIT 1`, [D(f)]);
    expect(msr.rows.map(asWant)).toEqual([MSR]);
    const io = await runSql(`${Q("WHERE reason = 'io'")} LIMIT 1`, [D(f)]);
    expect(io.rows.map(asWant)).toEqual([IO]);
    // every exit of this capture carried them: no null
    const nulls = await runSql('SELECT count(*) FROM exits WHERE rip IS NULL OR info1 IS NULL OR info2 IS NULL OR host_cpu IS NULL', [D(f)]);
    expect(nulls.rows[0]![0]).toBe(0);
  });

  it('Parquet and Arrow files hold the same values', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-detail-'));
    try {
      const arrowFile = path.join(dir, 'exits.arrow');
      await exportParquet([D('trace.txt.xz')], arrowFile, { host: 'h' });
      const t = tableFromIPC(fs.readFileSync(arrowFile));
      expect(t.schema.fields.slice(-4).map((x) => [x.name, String(x.type)])).toEqual([['host_cpu', 'Int32'], ['rip', 'Uint64'], ['info1', 'Uint64'], ['info2', 'Uint64']]);
      // rows come as exits are handled (at their entry): in the order of the kvm_exit here
      const rows = t.toArray().map((r) => r.toJSON() as Record<string, unknown>)
        .sort((a, b) => Number(a.time_ns) - Number(b.time_ns) || Number(a.tid) - Number(b.tid));
      const pick = (r: Record<string, unknown>) => asWant([r.tid, r.reason, r.host_cpu, r.rip, r.info1, r.info2]);
      expect(rows.slice(0, 2).map(pick)).toEqual(FIRST);
      expect(pick(rows.find((r) => r.reason === 'io')!)).toEqual(IO);

      const pq = path.join(dir, 'exits.parquet');
      await exportParquet([D('trace.txt.xz')], pq, { host: 'h' });
      const { instance, conn } = await openDuck();
      try {
        const back = await (await conn.runAndReadAll(`SELECT tid, reason, host_cpu, rip, info1, info2, typeof(rip) FROM read_parquet('${pq}') WHERE reason = 'io' ORDER BY time_ns LIMIT 1`)).getRows();
        expect(asWant(back[0]!)).toEqual(IO);
        expect(back[0]![6]).toBe('UBIGINT');
      } finally {
        conn.closeSync();
        instance.closeSync();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a rendering without info words (kvm_exit "reason X rip Y") gives null info; rip stays', async () => {
    // crafted from the older kernels' print fmt "reason %s rip 0x%lx" (arch/x86/kvm/trace.h before info was added)
    const f = tmpTrace([
      '          qemu-7  [002]   100.000100: kvm_entry: vcpu 0',
      '          qemu-7  [002]   100.000200: kvm_exit: reason EXTERNAL_INTERRUPT rip 0xffffffff81234567',
      '          qemu-7  [003]   100.000300: kvm_entry: vcpu 0',
      '          qemu-7  [003]   100.000400: kvm_exit: reason HLT rip 0x1000 info 0 0',
      '          qemu-7  [003]   100.000500: kvm_entry: vcpu 0',
      '',
    ].join('\n'));
    const r = await runSql('SELECT host_cpu, rip, info1, info2 FROM exits ORDER BY time_ns', [f]);
    expect(r.rows.map((x) => x.map(big))).toEqual([[2n, 0xffffffff81234567n, null, null], [3n, 0x1000n, 0n, 0n]]);
  });

  it.skipIf(!HAVE_SHARED)('VMX, a public trace-cmd report (hip24): kernel rips above 2^63 and the exit qualification', async () => {
    // ../shared/public-traces/hip24-masterarbeit/host-6.5.0-18-all-kvm-events-x86tsc.report.txt.gz, lines 8 and 10:
    //   qemu-system-x86-533825 [005]303280081981165: kvm_exit: reason EXTERNAL_INTERRUPT rip 0xffffffffba200cf0 info 0 0
    //   qemu-system-x86-533825 [005]303280082013853: kvm_exit: reason APIC_WRITE rip 0xffffffffb90db918 info 380 0
    const f = path.join(SHARED, 'public-traces/hip24-masterarbeit/host-6.5.0-18-all-kvm-events-x86tsc.report.txt.gz');
    if (!fs.existsSync(f)) return void console.warn(`skipped: ${f} is absent`);
    const r = await runSql('SELECT line, reason, host_cpu, rip, info1, info2 FROM exits ORDER BY line LIMIT 2', [f]);
    expect(r.rows.map((x) => [Number(x[0]), x[1], Number(x[2]), big(x[3]), big(x[4]), big(x[5])])).toEqual([
      [8, 'EXTERNAL_INTERRUPT', 5, 0xffffffffba200cf0n, 0n, 0n],
      [10, 'APIC_WRITE', 5, 0xffffffffb90db918n, 0x380n, 0n],
    ]);
  });
});
