/**
 * The Perfetto reader's hand decoder (src/formats/perfetto/fast.ts) must give exactly what the protobufjs path
 * gives, or decline: on the traces the builder writes from the real svm-D-small capture (every encoding) and on
 * mutations of them (bit flips, overwritten integers, insertions, deletions, truncations), the sink receives the
 * same events, thread names, interned strings and skips, and a damaged file the same error, with the fast
 * path on and off. Plus hand-made payloads for the integer kinds the builder does not write (sint, fixed,
 * 10-byte and over-long varints, wrong wire types).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { afterAll, describe, expect, it } from 'vitest';
import { readPerfetto } from '../../../src/formats/perfetto/reader.js';
import { perfettoFastPath, fastCounts } from '../../../src/formats/perfetto/bundles.js';
import { payloadFields, planOf, SLOW } from '../../../src/formats/perfetto/fast.js';
import { genericEvent } from '../../../src/formats/perfetto/fast-tables.js';
import { perfettoRoot } from '../../../src/formats/perfetto/reader.js';
import { conv } from '../../../src/formats/perfetto/schema.js';
import { CollectSink } from '../../support/collect-sink.js';
import { TRACES } from '../../support/paths.js';
import { buildPerfetto, packetShape, parseFtraceText, type BuildOptions } from '../../support/perfetto-build.js';
import { mutate, mutationArb, readAll, runs, FUZZ_SEED } from '../../support/fuzz-harness.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-pf-fast-'));
afterAll(() => { perfettoFastPath(true); fs.rmSync(dir, { recursive: true, force: true }); });

/** Everything the reader gave the sink, or its error. */
function run(file: string, fast: boolean): string {
  perfettoFastPath(fast);
  const sink = new CollectSink();
  let out: unknown;
  try {
    const info = readPerfetto(file, sink);
    out = { info, events: sink.events, threads: sink.threads, strings: sink.strings, skips: sink.skips };
  } catch (e) {
    out = { error: String(e), at: (e as { offset?: unknown }).offset, events: sink.events.length, strings: sink.strings, skips: sink.skips };
  } finally {
    perfettoFastPath(true);
  }
  return JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
}


describe('Perfetto: the hand decoder gives what protobufjs gives', () => {
  const variants: Array<[string, BuildOptions]> = [
    ['legacy', { generic: 'legacy' }],
    ['dense', { generic: 'dense' }],
    ['dense-compact', { generic: 'dense', compactSched: true }],
    ['typed-kvm', { generic: 'dense', typedKvm: true }],
    ['compact-sched', { generic: 'legacy', compactSched: true }],
    ['compressed', { generic: 'dense', compactSched: true, compress: true }],
    ['by-sequence-lost', { generic: 'dense', bySequence: true, lostOn: [[1, 1]], periodNs: 2_000_000n }],
  ];

  it('on the real capture in every encoding, whole', async () => {
    const events = parseFtraceText((await readAll(path.join(TRACES, 'svm-D-small', 'trace.txt.xz'))).toString('utf8'));
    for (const [name, o] of variants) {
      const f = path.join(dir, `${name}.pftrace`);
      fs.writeFileSync(f, buildPerfetto(events, o));
      Object.assign(fastCounts, { events: 0, compact: 0, declined: 0 });
      const fast = run(f, true);
      const { ftraceEvents } = (JSON.parse(fast) as { info: { ftraceEvents: number } }).info;
      // the hand decoder did the work, in every encoding
      expect(fastCounts.events + fastCounts.declined, name).toBe(ftraceEvents);
      expect(fastCounts.events / ftraceEvents, name).toBeGreaterThan(0.95);
      if (o.compactSched) expect(fastCounts.compact, name).toBeGreaterThan(0);
      expect(fast, name).toBe(run(f, false));
    }
  });

  it('on mutated traces: the same events, names, skips and errors', async () => {
    const events = parseFtraceText((await readAll(path.join(TRACES, 'svm-D-small', 'trace.txt.xz'))).toString('utf8'));
    const seeds = variants.map(([, o]) => packetShape(buildPerfetto(events.slice(400, 700), o)));
    const f = path.join(dir, 'mutated.pftrace');
    let errors = 0, clean = 0;
    fc.assert(fc.property(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(mutationArb(false), { minLength: 1, maxLength: 3 }), (si, muts) => {
      fs.writeFileSync(f, mutate(seeds[si]!, muts));
      const fast = run(f, true);
      if (fast.startsWith('{"error"')) errors++; else clean++;
      expect(fast).toBe(run(f, false));
    }), { numRuns: runs(1500), seed: FUZZ_SEED });
    // both outcomes were exercised
    expect(errors).toBeGreaterThan(50);
    expect(clean).toBeGreaterThan(50);
  }, 300_000);
});

describe('hand-decoded payload fields', () => {
  const root = protobuf.parse(`syntax = "proto2";
    enum E { A = 0; B = 1; }
    message WithEnum { optional E e = 1; }
    message WithRequired { required uint32 a = 1; }
    message M {
      optional int32 i32 = 1; optional uint32 u32 = 2; optional sint32 s32 = 3; optional bool b = 4;
      optional int64 i64 = 5; optional uint64 u64 = 6; optional sint64 s64 = 7; optional fixed32 f32 = 8;
      optional sfixed32 sf32 = 9; optional fixed64 f64 = 10; optional sfixed64 sf64 = 11; optional string s = 12;
      optional bytes by = 13;
    }`, { keepCase: true }).root;
  const M = root.lookupType('M');
  const plan = planOf(M, (f) => f.name)!;
  /** what the protobufjs path gives (bundles.ts: decode, then schema.ts conv) */
  const viaProtobufjs = (b: Uint8Array): Record<string, string> => {
    const m = M.decode(b) as unknown as Record<string, unknown>;
    const o: Record<string, string> = {};
    for (const fd of M.fieldsArray) {
      if (!Object.prototype.hasOwnProperty.call(m, fd.name)) continue;
      const v = m[fd.name];
      if (v instanceof Uint8Array) continue;
      if (typeof v === 'object' && v) {
        const l = v as { low: number; high: number; unsigned: boolean };
        const u = (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
        o[fd.name] = String(l.unsigned ? u : BigInt.asIntN(64, u));
      } else o[fd.name] = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
    }
    return o;
  };
  const viaHand = (b: Uint8Array): Record<string, string> | typeof SLOW => {
    const f = payloadFields(b, 0, b.length, plan);
    return f === SLOW ? SLOW : Object.fromEntries([...f].map(([k, v]) => [k, String(v)]));
  };

  it('every scalar kind at its edges, as protobufjs reads it', () => {
    const values = [0, 1, -1, 127, 128, 2 ** 31 - 1, -(2 ** 31), 2 ** 32 - 1, 2 ** 53 - 1];
    const longs = ['0', '1', '-1', '9223372036854775807', '-9223372036854775808', '18446744073709551615', '9007199254740993'];
    let n = 0;
    for (const v of values) {
      for (const k of ['i32', 's32', 'sf32']) {
        if (v < -(2 ** 31) || v > 2 ** 31 - 1) continue;
        const b = M.encode(M.fromObject({ [k]: v })).finish();
        expect(viaHand(b), `${k} ${v}`).toEqual(viaProtobufjs(b)); n++;
      }
      for (const k of ['u32', 'f32']) {
        if (v < 0 || v > 2 ** 32 - 1) continue;
        const b = M.encode(M.fromObject({ [k]: v })).finish();
        expect(viaHand(b), `${k} ${v}`).toEqual(viaProtobufjs(b)); n++;
      }
    }
    for (const v of longs) {
      for (const k of ['i64', 'u64', 's64', 'f64', 'sf64']) {
        const big = BigInt(v);
        const unsigned = k === 'u64' || k === 'f64';
        if (unsigned ? big < 0n || big >= 2n ** 64n : big < -(2n ** 63n) || big >= 2n ** 63n) continue;
        const b = M.encode(M.fromObject({ [k]: v })).finish();
        expect(viaHand(b), `${k} ${v}`).toEqual(viaProtobufjs(b)); n++;
      }
    }
    for (const b of [M.encode(M.fromObject({ b: true, s: 'CPU 0/KVM', by: Buffer.from([1, 2]) })).finish()]) {
      expect(viaHand(b)).toEqual(viaProtobufjs(b)); n++;
    }
    expect(n).toBeGreaterThan(60);
  });

  it('a 32-bit kind takes the low 32 bits of a longer varint; a field twice keeps the last', () => {
    // i32 = 2^35 + 5 (6 bytes), u32 = 2^40 - 1, bool whose low 32 bits are 0; then i32 again
    const b = Uint8Array.from([0x08, 0x85, 0x80, 0x80, 0x80, 0x80, 0x01, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f,
      0x20, 0x80, 0x80, 0x80, 0x80, 0x10, 0x08, 0x07]);
    expect(viaHand(b)).toEqual(viaProtobufjs(b));
    // protobufjs' bool is true when any bit of the varint is (here bit 32)
    expect(viaHand(b)).toEqual({ i32: '7', u32: '4294967295', b: '1' });
  });

  it('declines what it does not reproduce: wrong wire types, over-long varints, non-ASCII strings, groups', () => {
    const cases = [
      [0x09, 1, 2, 3, 4, 5, 6, 7, 8], // i32 as a fixed64
      [0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // 11-byte varint
      [0x62, 0x02, 0xc3, 0xa9], // s = "é"
      [0x7b, 0x7c], // field 15 as a group
      [0x08], // truncated
      [0x00, 0x01], // field 0: protobufjs throws
      [0x88, 0x80, 0x80, 0x80, 0x00, 0x01], // a tag in 5 bytes
    ];
    for (const c of cases) expect(viaHand(Uint8Array.from(c)), JSON.stringify(c)).toBe(SLOW);
    // types whose values protobufjs keeps or drops by rules of their own are left to it
    expect(planOf(root.lookupType('WithEnum'), (f) => f.name)).toBeUndefined();
    expect(planOf(root.lookupType('WithRequired'), (f) => f.name)).toBeUndefined();
  });
});

describe('hand-decoded GenericFtraceEvent (field 327, older Perfetto)', () => {
  const G = perfettoRoot().lookupType('perfetto.protos.GenericFtraceEvent');
  /** bundles.ts's reading of protobufjs' decoding */
  const viaProtobufjs = (b: Uint8Array): { name: string; fields: Record<string, string> } => {
    const g = G.decode(b) as unknown as { event_name?: string; field?: Array<Record<string, unknown>> };
    const fields: Record<string, string> = {};
    for (const x of g.field ?? []) {
      const n = x.name as string | undefined;
      if (!n) continue;
      const has = (k: string) => Object.prototype.hasOwnProperty.call(x, k);
      const v = has('str_value') ? conv(x.str_value) : has('int_value') ? conv(x.int_value) : has('uint_value') ? conv(x.uint_value) : undefined;
      if (v !== undefined) fields[n] = String(v);
    }
    return { name: g.event_name || 'generic', fields };
  };
  const all = new Set<string>(['a', 'b', 'c', 'd', 'comm', 'exit_reason']);
  const viaHand = (b: Uint8Array) => {
    const g = genericEvent(b, 0, b.length, () => all);
    if (g === SLOW) return SLOW;
    return { name: g.name || 'generic', fields: Object.fromEntries([...g.fields].map(([k, v]) => [k, String(v)])) };
  };
  const str = (field: number, v: string): number[] => [(field << 3) | 2, v.length, ...Buffer.from(v)];
  const vint = (field: number, v: bigint): number[] => {
    const out = [field << 3];
    let x = BigInt.asUintN(64, v);
    do { const b = Number(x & 0x7fn); x >>= 7n; out.push(x ? b | 0x80 : b); } while (x);
    return out;
  };
  const fieldMsg = (...parts: number[][]): number[] => { const body = parts.flat(); return [0x12, body.length, ...body]; };

  it('values, their precedence, unnamed and repeated fields, as protobufjs gives them', () => {
    const cases: number[][] = [
      [...str(1, 'kvm_exit'), ...fieldMsg(str(1, 'exit_reason'), vint(5, 0xffffffffa00db918n)), ...fieldMsg(str(1, 'a'), vint(4, -5n))],
      // str_value and int_value both present: the string; int then uint: the int
      [...fieldMsg(str(1, 'a'), vint(4, 7n), str(3, 'x')), ...fieldMsg(str(1, 'b'), vint(5, 9n), vint(4, -1n)), ...str(1, 'ev')],
      // a later field of the same name wins; one without a value leaves the earlier; one without a name is dropped
      [...fieldMsg(str(1, 'c'), vint(4, 1n)), ...fieldMsg(str(1, 'c'), vint(4, 2n)), ...fieldMsg(str(1, 'c')), ...fieldMsg(vint(4, 3n))],
      // no event name: "generic"; an empty one too
      [...fieldMsg(str(1, 'd'), str(3, 'CPU 0/KVM'))],
      [...str(1, ''), ...fieldMsg(str(1, 'comm'), str(3, ''))],
    ];
    for (const c of cases) {
      const b = Uint8Array.from(c);
      expect(viaHand(b), JSON.stringify(c)).toEqual(viaProtobufjs(b));
    }
    expect(viaHand(Uint8Array.from(cases[1]!))).toEqual({ name: 'ev', fields: { a: 'x', b: '-1' } });
    expect(viaHand(Uint8Array.from(cases[2]!))).toEqual({ name: 'generic', fields: { c: '2' } });
  });

  it('keeps only the wanted names, and declines what it does not reproduce', () => {
    const b = Uint8Array.from([...str(1, 'kvm_exit'), ...fieldMsg(str(1, 'exit_reason'), vint(4, 3n)), ...fieldMsg(str(1, 'info1'), vint(5, 1n))]);
    const g = genericEvent(b, 0, b.length, (n) => (n === 'kvm_exit' ? new Set(['exit_reason']) : new Set()));
    expect(g === SLOW ? g : [...g.fields]).toEqual([['exit_reason', 3n]]);
    for (const c of [
      [0x0a, 0x02, 0xc3, 0xa9], // a non-ASCII event name
      [0x12, 0x02, 0x20, 0x01, 0x00, 0x01], // field 0 after a Field
      [0x12, 0x03, 0x1a, 0x02, 0x41], // a str_value past its Field
      [0x10, 0x01], // Field as a varint
    ]) expect(genericEvent(Uint8Array.from(c), 0, c.length, () => all), JSON.stringify(c)).toBe(SLOW);
  });
});
