/**
 * Shared machinery of the fuzz, invariant and pathological suites (issue 8):
 *
 *   - runText(): the text pipeline in memory (no file): detection, the wasm tokenizer through
 *     scanTextSource, summarize; the same steps as pipeline.ts's readOne, with a Core whose input arena is
 *     small (cheaper to create, and lines cross arena ends often). A share of the cases also goes through
 *     the real analyze() on a file and the two reports must be identical.
 *   - outcome(): runs a case and classifies it: a report (checked by checkReport) or a KvmtaxError (checked
 *     by checkError); anything else (another exception type, a wasm trap) is a failure.
 *   - checkReport(): the invariants every report must satisfy, whatever the input.
 *   - Watchdog: a per-case time limit that works even when a case loops synchronously (a worker thread
 *     watches a heartbeat in shared memory; a case over the limit is saved as a fuzz-found fixture and the
 *     process is killed, so a hang fails the run instead of stalling it).
 *   - mutations of byte strings (truncations at offset classes, bit flips, line drops/duplicates, CRLF, NUL,
 *     non-UTF-8, garbage) as fast-check arbitraries, and saveFound() for failures.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import * as K from '../../assembly/constants.js';
import { Core } from '../../src/wasm/core.js';
import { KvmtaxError, excerpt } from '../../src/core/errors.js';
import { detectFormat, detectBinary, formatNamed, readWith } from '../../src/formats/registry.js';
import type { EventSink } from '../../src/core/sink.js';
import { HEAD_BYTES, openSource, type ByteSource } from '../../src/formats/source.js';
import { summarize } from '../../src/analysis/summary.js';
import type { InputInfo, Report } from '../../src/analysis/types.js';
import { analyze, version, type AnalyzeOptions } from '../../src/pipeline/analyze.js';
import { noEventsError, segmentsOf } from '../../src/pipeline/read-input.js';
import { ROOT } from './paths.js';

export const FOUND = path.join(ROOT, 'test', 'fixtures', 'fuzz-found');
export const SEEDS = path.join(ROOT, 'test', 'fixtures', 'fuzz-seeds');
export const PATHOLOGICAL = path.join(ROOT, 'test', 'fixtures', 'pathological');

/**
 * Case counts: `ci` is a suite's count in CI; FUZZ_RUNS=N (npm run fuzz) scales every suite by N / 10000,
 * i.e. N cases per reader for the 10,000-case suites and proportionally more for the smaller ones.
 */
export function runs(ci: number): number {
  const env = Number(process.env.FUZZ_RUNS ?? 0);
  return env > 0 ? Math.max(ci, Math.round((ci * env) / 10_000)) : ci;
}
/**
 * The seed: FUZZ_SEED when given; a fixed one in CI (CI=true), so that a submission is judged on the same
 * 10,000 cases per reader every time; a new random one otherwise (local runs and `npm run fuzz` explore).
 * Whatever fails is kept as a fixture in test/fixtures/fuzz-found and runs in CI from then on.
 */
export const FUZZ_SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : process.env.CI ? 20261122 : undefined;

// ---------------------------------------------------------------------------------------------- temp files
/** A scratch directory in memory (tmpfs) when there is one. */
export function scratchDir(prefix: string): string {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  return fs.mkdtempSync(path.join(base, `kvmtax-${prefix}-`));
}

// ---------------------------------------------------------------------------------------------- in-memory text
/** A file's bytes held in memory, read as a ByteSource (the text reader reads from it as from a file). */
export class MemSource implements ByteSource {
  readonly head: Uint8Array;
  private pos = 0;
  constructor(readonly name: string, private bytes: Uint8Array) {
    this.head = bytes.subarray(0, HEAD_BYTES);
  }
  async read(dst: Uint8Array, off: number, len: number): Promise<number> {
    const n = Math.min(len, this.bytes.length - this.pos);
    dst.set(this.bytes.subarray(this.pos, this.pos + n), off);
    this.pos += n;
    return n;
  }
  close(): void {}
}

/**
 * Analyze text bytes in memory, as pipeline.ts does for one text file (same checks, same messages).
 * Content a binary reader claims goes to analyze() on a scratch file, as the pipeline would read it.
 */
export async function runText(bytes: Uint8Array, name: string, opts: AnalyzeOptions & { arenaBytes?: number } = {}): Promise<Report> {
  // a small arena and batch: a core per case is cheaper to create and zero (the batch columns were 512 KiB of
  // the case's allocation at the default 8192), and lines and batches cross their ends more often
  const core = new Core({ topN: Math.max(opts.top ?? 10, 10), arenaBytes: opts.arenaBytes ?? 64 * 1024, batch: 1024 });
  const src = new MemSource(name, bytes);
  const idx = core.nextFileIndex();
  // detection and reading through the registry, as the pipeline does
  const entry = detectFormat(src.head, src.name);
  if (!entry.text) {
    // content a binary reader claims (a mutation can make one): the pipeline reads it from a file
    const dir = scratchDir('runtext');
    try {
      const file = path.join(dir, path.basename(name) || 'input');
      fs.writeFileSync(file, bytes);
      return await analyze([file], opts);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  await readWith(entry, { src, path: '', display: src.name }, core, { fileIndex: idx, strict: opts.strict, chunkBytes: opts.chunkBytes });
  const c = core.endFile();
  if (c.events === 0 && c.lines > 0 && c.comments + c.blank < c.lines) throw noEventsError(core.tables().skips.filter((s) => s.file === idx), src.name);
  const info: InputInfo = {
    file: src.name, format: entry.name, compression: undefined, clock: c.clock === K.CLOCK_RAW ? 'raw' : 'ns',
    lines: c.lines, bytes: c.bytes, events: c.events, first_ts: c.events ? Number(c.firstTs) : null,
    last_ts: c.events ? Number(c.lastTs) : null, lost_markers: c.lostMarkers, lost_events: c.lostEvents,
    ...segmentsOf(c),
  };
  return summarize(core.tables(), [info], { tscKhz: opts.tscKhz, isa: opts.isa, top: opts.top ?? 10, histograms: opts.histograms, version: version() });
}

/** The decompressed content of a file (.xz/.gz through the project's own sources). */
export async function readAll(file: string): Promise<Buffer> {
  const src = await openSource(file);
  const parts: Buffer[] = [];
  try {
    for (;;) {
      const b = Buffer.alloc(1 << 20);
      const n = await src.read(b, 0, b.length);
      if (n === 0) break;
      parts.push(b.subarray(0, n));
    }
  } finally {
    src.close();
  }
  return Buffer.concat(parts);
}

export function isBinary(bytes: Uint8Array, name: string): boolean {
  return detectBinary(bytes.subarray(0, HEAD_BYTES), name) !== undefined;
}

// ---------------------------------------------------------------------------------------------- outcomes
export type Outcome = { kind: 'report'; report: Report } | { kind: 'error'; error: KvmtaxError };

/** Classify what `run` did; throws (a fuzz failure) when it is neither a valid report nor a clear error. */
export async function outcome(run: () => Promise<Report>, size?: number): Promise<Outcome> {
  let report: Report;
  try {
    report = await run();
  } catch (e) {
    if (!(e instanceof KvmtaxError)) {
      const err = e as Error;
      throw new Error(`not a KvmtaxError: ${err?.name}: ${err?.message}\n${err?.stack ?? ''}`);
    }
    checkError(e, size);
    return { kind: 'error', error: e };
  }
  checkReport(report);
  return { kind: 'report', report };
}

/** A clear error: one line, naming the file and the place (line:col or byte offset inside the file). */
export function checkError(e: KvmtaxError, size?: number): void {
  const msg = e.format();
  if (/[\n\r]/.test(msg)) throw new Error(`KvmtaxError message spans lines: ${JSON.stringify(msg)}`);
  if (msg.length > 400) throw new Error(`KvmtaxError message too long (${msg.length}): ${msg.slice(0, 200)}...`);
  if (e.file === undefined) throw new Error(`KvmtaxError without a file: ${msg}`);
  if (e.line === undefined && e.offset === undefined) throw new Error(`KvmtaxError without line:col or byte offset: ${msg}`);
  if (e.line !== undefined && (!Number.isInteger(e.line) || e.line < 1 || !Number.isInteger(e.col ?? 1) || (e.col ?? 1) < 1)) {
    throw new Error(`KvmtaxError with a bad position ${e.line}:${e.col}: ${msg}`);
  }
  if (e.offset !== undefined && (!Number.isInteger(e.offset) || e.offset < 0 || (size !== undefined && e.offset > size))) {
    throw new Error(`KvmtaxError with a byte offset outside the file (${e.offset} of ${size}): ${msg}`);
  }
  if (e.exitCode !== 1) throw new Error(`KvmtaxError for bad input with exit code ${e.exitCode}: ${msg}`);
}

function fail(what: string): never {
  throw new Error(`report invariant: ${what}`);
}
function eq(a: number, b: number, what: string, tol = 0): void {
  if (!(Math.abs(a - b) <= tol + 1e-9 * Math.max(Math.abs(a), Math.abs(b)))) fail(`${what}: ${a} != ${b}`);
}

/** Every number of the report is finite (no NaN or Infinity hidden behind JSON's null). */
function finite(x: unknown, at: string): void {
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) fail(`${at} is ${x}`);
  } else if (Array.isArray(x)) {
    x.forEach((v, i) => finite(v, `${at}[${i}]`));
  } else if (x && typeof x === 'object') {
    for (const [k, v] of Object.entries(x)) finite(v, `${at}.${k}`);
  }
}

/**
 * Invariants of any report:
 *  - every number is finite; counts are non-negative integers; handled <= seen;
 *  - per-reason sums equal the totals (exits seen, handled, host time);
 *  - per-vCPU sums equal the totals (exits seen, handled, host, guest, halted, wall) and each VM's sums;
 *  - percentiles are ordered and inside [min, max] (up to the histogram's 0.78% bucket error);
 *  - the unpaired counters account for every exit: seen = handled + exits followed by an exit + pending at
 *    the end + entries earlier than their exit (backwards), up to the pairings dropped at lost events;
 *  - every skip has a count >= 1 and a place; events_read >= the events counted by name.
 */
export function checkReport(r: Report): void {
  finite(r, 'report');
  JSON.parse(JSON.stringify(r));
  const t = r.totals;
  const nonneg = (x: number, what: string) => { if (!(x >= 0) || !Number.isInteger(x)) fail(`${what} = ${x}`); };
  nonneg(t.exits_seen, 'exits_seen');
  nonneg(t.exits_handled, 'exits_handled');
  if (t.exits_handled > t.exits_seen) fail(`handled ${t.exits_handled} > seen ${t.exits_seen}`);
  if (t.host_ns < 0 || t.guest_ns < 0 || t.wall_ns < 0 || t.halted_ns < 0) fail(`negative time in totals ${JSON.stringify(t)}`);
  let seen = 0, handled = 0, host = 0;
  for (const x of r.reasons) {
    nonneg(x.exits_seen, `${x.reason}.exits_seen`);
    nonneg(x.exits_handled, `${x.reason}.exits_handled`);
    if (x.exits_handled > x.exits_seen) fail(`${x.reason}: handled ${x.exits_handled} > seen ${x.exits_seen}`);
    if (x.total_ns < 0) fail(`${x.reason}: total_ns ${x.total_ns}`);
    seen += x.exits_seen; handled += x.exits_handled; host += x.total_ns;
    if (x.exits_handled > 0) {
      const q = [x.min_ns!, x.p50_ns!, x.p90_ns!, x.p99_ns!, x.p999_ns!, x.max_ns!];
      if (q.some((v) => v === null)) fail(`${x.reason}: null statistic with ${x.exits_handled} handled`);
      const slack = (v: number) => Math.abs(v) * 0.008 + 1;
      for (let i = 1; i < q.length; i++) if (q[i]! + slack(q[i]!) < q[i - 1]!) fail(`${x.reason}: statistics out of order ${q.join(' ')}`);
      if (x.mean_ns! + slack(x.mean_ns!) < x.min_ns! || x.mean_ns! > x.max_ns! + slack(x.max_ns!)) fail(`${x.reason}: mean ${x.mean_ns} outside [${x.min_ns}, ${x.max_ns}]`);
    } else if (x.total_ns !== 0) {
      fail(`${x.reason}: total_ns ${x.total_ns} without handled exits`);
    }
  }
  eq(seen, t.exits_seen, 'sum of reasons exits_seen vs totals');
  eq(handled, t.exits_handled, 'sum of reasons exits_handled vs totals');
  eq(host, t.host_ns, 'sum of reasons total_ns vs totals.host_ns', 1);
  let vs = 0, vh = 0, vhost = 0, vguest = 0, vhalted = 0, vwall = 0;
  for (const vm of r.vms) {
    let mh = 0, mhost = 0, mwall = 0, mover = 0;
    for (const c of vm.vcpus) {
      nonneg(c.exits_seen, 'vcpu exits_seen');
      nonneg(c.exits_handled, 'vcpu exits_handled');
      if (c.exits_handled > c.exits_seen) fail(`vcpu tid ${c.tid}: handled ${c.exits_handled} > seen ${c.exits_seen}`);
      if (c.host_ns < 0 || c.guest_ns < 0 || c.wall_ns < 0 || c.halted_ns < 0) fail(`vcpu tid ${c.tid}: negative time ${JSON.stringify(c)}`);
      if (c.halted_ns > c.host_ns + 1) fail(`vcpu tid ${c.tid}: halted ${c.halted_ns} > host ${c.host_ns}`);
      let rs = 0, rh = 0, rt = 0;
      for (const x of c.reasons ?? []) { rs += x.exits_seen; rh += x.exits_handled; rt += x.total_ns; }
      eq(rs, c.exits_seen, `vcpu tid ${c.tid}: sum of its reasons' exits_seen`);
      eq(rh, c.exits_handled, `vcpu tid ${c.tid}: sum of its reasons' exits_handled`);
      eq(rt, c.host_ns, `vcpu tid ${c.tid}: sum of its reasons' total_ns vs host_ns`, 1);
      vs += c.exits_seen; vh += c.exits_handled; vhost += c.host_ns; vguest += c.guest_ns; vhalted += c.halted_ns; vwall += c.wall_ns;
      mh += c.exits_handled; mhost += c.host_ns; mwall += c.wall_ns; mover += c.overhead_ns;
    }
    eq(mh, vm.exits_handled, `vm ${vm.name}: exits_handled`);
    eq(mhost, vm.host_ns, `vm ${vm.name}: host_ns`, 1);
    eq(mwall, vm.wall_ns, `vm ${vm.name}: wall_ns`, 1);
    eq(mover, vm.overhead_ns, `vm ${vm.name}: overhead_ns`, 1);
  }
  // a sampled recording's totals are estimates (Σ PERIOD) and its per-vCPU tables are withheld
  if (!r.sampled) eq(vs, t.exits_seen, 'sum of vCPU exits_seen vs totals');
  eq(vh, t.exits_handled, 'sum of vCPU exits_handled vs totals');
  eq(vhost, t.host_ns, 'sum of vCPU host_ns vs totals', 1);
  eq(vguest, t.guest_ns, 'sum of vCPU guest_ns vs totals', 1);
  eq(vhalted, t.halted_ns, 'sum of vCPU halted_ns vs totals', 1);
  if (!r.sampled) eq(vwall, t.wall_ns, 'sum of vCPU wall_ns vs totals', 1);
  eq(t.overhead_ns, t.host_ns - t.halted_ns, 'overhead = host - halted', 1);
  const q = r.quality;
  const u = q.unpaired;
  for (const [k, v] of Object.entries(u)) nonneg(v, `unpaired.${k}`);
  const accounted = t.exits_handled + u.exits_without_entry + u.exits_pending_at_end + u.backwards + (u.jump_resets ?? 0);
  if (!r.sampled && accounted > t.exits_seen) fail(`handled + unpaired exits ${accounted} > exits seen ${t.exits_seen} (${JSON.stringify(u)})`);
  // a sampled recording: exits_seen is Σ PERIOD (an estimate), not the exit events paired
  if (!r.sampled && t.exits_seen - accounted > u.lost_resets) {
    fail(`${t.exits_seen - accounted} exits neither handled nor reported unpaired (seen ${t.exits_seen}, ${JSON.stringify(u)}, handled ${t.exits_handled})`);
  }
  const byName = Object.values(q.events_by_name).reduce((a, b) => a + b, 0);
  if (byName > q.events_read) fail(`events by name ${byName} > events read ${q.events_read}`);
  for (const s of q.skipped) {
    if (!(s.count >= 1)) fail(`skip ${s.kind} with count ${s.count}`);
    if (!s.first) fail(`skip ${s.kind} without a place`);
  }
  for (const x of r.top) if (x.duration_ns < 0) fail(`top exit with a negative duration ${x.duration_ns}`);
}

// ---------------------------------------------------------------------------------------------- watchdog
const WATCHDOG_SRC = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const state = new Int32Array(workerData.sab, 0, 4);
const pathBytes = new Uint8Array(workerData.sab, 16);
let last = -1, since = Date.now();
setInterval(() => {
  const n = Atomics.load(state, 0), busy = Atomics.load(state, 1);
  if (n !== last || !busy) { last = n; since = Date.now(); return; }
  if (Date.now() - since < workerData.limitMs) return;
  let p = new TextDecoder().decode(pathBytes.subarray(0, Atomics.load(state, 2)));
  let saved = '';
  try {
    if (p && fs.existsSync(p)) {
      fs.mkdirSync(workerData.found, { recursive: true });
      const dst = path.join(workerData.found, 'hang-' + workerData.reader + '-' + Date.now() + path.extname(p));
      fs.copyFileSync(p, dst);
      saved = ' (input saved as ' + dst + ')';
    }
  } catch {}
  process.stderr.write('\\nFUZZ HANG: case ' + n + ' of the ' + workerData.reader + ' fuzzer ran for more than ' + workerData.limitMs + ' ms' + saved + '\\n');
  process.kill(process.pid, 'SIGKILL');
}, 200).unref();
`;

/**
 * Per-case time limit for synchronous code: begin() before a case (with the file holding its input, if
 * any), end() after. A case still running after `limitMs` is saved to fuzz-found/ and the process killed.
 */
export class Watchdog {
  private sab = new SharedArrayBuffer(16 + 4096);
  private state = new Int32Array(this.sab, 0, 4);
  private worker: Worker;
  private n = 0;
  constructor(readonly reader: string, readonly limitMs = 20_000) {
    this.worker = new Worker(WATCHDOG_SRC, { eval: true, workerData: { sab: this.sab, limitMs, reader, found: FOUND } });
    this.worker.unref();
  }
  begin(file?: string): void {
    const b = new TextEncoder().encode(file ?? '');
    new Uint8Array(this.sab, 16).set(b.subarray(0, 4096));
    Atomics.store(this.state, 2, Math.min(b.length, 4096));
    Atomics.store(this.state, 0, ++this.n);
    Atomics.store(this.state, 1, 1);
  }
  end(): void {
    Atomics.store(this.state, 1, 0);
  }
  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

// ---------------------------------------------------------------------------------------------- mutations
export type Mutation =
  | { op: 'truncate'; at: number } // at: a structure point index (+ fraction below) or a raw fraction
  | { op: 'truncateMid'; at: number; frac: number }
  | { op: 'flip'; pos: number; bit: number }
  | { op: 'flipRun'; pos: number; len: number; seed: number }
  | { op: 'dropLine'; line: number }
  | { op: 'dupLine'; line: number }
  | { op: 'swapLines'; line: number }
  | { op: 'crlf' }
  | { op: 'crlfSome'; line: number }
  | { op: 'nul'; pos: number }
  | { op: 'nonUtf8'; pos: number; bytes: number[] }
  | { op: 'insert'; pos: number; bytes: number[] }
  | { op: 'delete'; pos: number; len: number }
  | { op: 'interesting'; pos: number; value: number; width: number };

/** Points of structure in an input (line starts for text; headers, pages, records for binary). */
export interface Shape {
  bytes: Uint8Array;
  /** offsets where a unit (line, record, page, packet) starts */
  points: number[];
}

export function lineStarts(b: Uint8Array): number[] {
  const out = [0];
  for (let i = 0; i < b.length; i++) if (b[i] === 10 && i + 1 < b.length) out.push(i + 1);
  return out;
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 4096, 4095, 65536];

/** fast-check arbitrary of one mutation; positions are fractions mapped onto the input when applied. */
/**
 * A position in [0, 1): mostly uniform (fast-check's own doubles crowd at 0 and 1, i.e. the magic bytes and
 * the very end), sometimes biased to the edges.
 */
export const frac: fc.Arbitrary<number> = fc.oneof(
  { weight: 30, arbitrary: fc.noBias(fc.integer({ min: 0, max: 2 ** 24 - 1 })).map((x) => x / 2 ** 24) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1 - 2 ** -24) },
);

export function mutationArb(text: boolean): fc.Arbitrary<Mutation> {
  const w = (weight: number, arbitrary: fc.Arbitrary<Mutation>) => ({ weight, arbitrary });
  // in-place changes keep a binary file's sizes and offsets valid: they reach deeper than size changes
  const inPlace = text ? 1 : 4;
  const common = [
    w(2, fc.record({ op: fc.constant('truncate' as const), at: frac })),
    w(2, fc.record({ op: fc.constant('truncateMid' as const), at: frac, frac })),
    w(inPlace, fc.record({ op: fc.constant('flip' as const), pos: frac, bit: fc.integer({ min: 0, max: 7 }) })),
    w(inPlace, fc.record({ op: fc.constant('flipRun' as const), pos: frac, len: fc.integer({ min: 1, max: 64 }), seed: fc.integer() })),
    w(1, fc.record({ op: fc.constant('nul' as const), pos: frac })),
    w(1, fc.record({ op: fc.constant('nonUtf8' as const), pos: frac, bytes: fc.array(fc.integer({ min: 0x80, max: 0xff }), { minLength: 1, maxLength: 6 }) })),
    w(1, fc.record({ op: fc.constant('insert' as const), pos: frac, bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 48 }) })),
    w(1, fc.record({ op: fc.constant('delete' as const), pos: frac, len: fc.integer({ min: 1, max: 256 }) })),
    w(inPlace, fc.record({ op: fc.constant('interesting' as const), pos: frac, value: fc.constantFrom(...INTERESTING), width: fc.constantFrom(1, 2, 4, 8) })),
  ];
  const lines = [
    w(2, fc.record({ op: fc.constant('dropLine' as const), line: frac })),
    w(2, fc.record({ op: fc.constant('dupLine' as const), line: frac })),
    w(2, fc.record({ op: fc.constant('swapLines' as const), line: frac })),
    w(1, fc.constant({ op: 'crlf' as const })),
    w(2, fc.record({ op: fc.constant('crlfSome' as const), line: frac })),
    // printable insertions hit the tokenizer's field parsing rather than its binary check
    w(2, fc.record({ op: fc.constant('insert' as const), pos: frac, bytes: fc.array(fc.integer({ min: 0x20, max: 0x7e }), { minLength: 1, maxLength: 24 }) })),
  ];
  return text ? fc.oneof(...lines, ...common) : fc.oneof(...common);
}

function idx(f: number, n: number): number {
  return Math.min(n - 1, Math.max(0, Math.floor(f * n)));
}

/** Apply mutations in order; structure points (line starts, records) give the offset classes of truncations. */
export function mutate(shape: Shape, muts: Mutation[]): Uint8Array {
  let b = Buffer.from(shape.bytes.buffer, shape.bytes.byteOffset, shape.bytes.byteLength);
  let points = shape.points;
  // in-place changes write into a copy made once per case (the seed is shared), not once per mutation
  let owned = false;
  const own = (): Buffer => {
    if (!owned) { b = Buffer.from(b); owned = true; }
    return b;
  };
  for (const m of muts) {
    const n = b.length;
    if (n === 0) break;
    const pos = 'pos' in m ? idx(m.pos, n) : 0;
    switch (m.op) {
      case 'truncate': // exactly at a structure point (line boundary, record/page start)
        b = b.subarray(0, points.length ? points[idx(m.at, points.length)]! : idx(m.at, n));
        break;
      case 'truncateMid': { // inside a unit: between two structure points
        const i = idx(m.at, points.length || 1);
        const s = points[i] ?? 0;
        const e = points[i + 1] ?? n;
        b = b.subarray(0, Math.min(n, s + 1 + Math.floor(m.frac * Math.max(0, e - s - 1))));
        break;
      }
      case 'flip':
        own();
        b[pos]! ^= 1 << m.bit;
        break;
      case 'flipRun': {
        own();
        let x = m.seed >>> 0 || 1;
        for (let i = pos; i < Math.min(n, pos + m.len); i++) {
          x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
          b[i] = x & 0xff;
        }
        break;
      }
      case 'nul':
        own();
        b[pos] = 0;
        break;
      case 'nonUtf8':
      case 'insert':
        b = Buffer.concat([b.subarray(0, pos), Buffer.from(m.bytes), b.subarray(pos)]);
        points = lineStarts(b);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, pos), b.subarray(Math.min(n, pos + m.len))]);
        points = lineStarts(b);
        break;
      case 'interesting': {
        own();
        const at = Math.min(pos, Math.max(0, n - m.width));
        for (let i = 0; i < m.width && at + i < n; i++) b[at + i] = Math.floor(m.value / 2 ** (8 * i)) & 0xff;
        break;
      }
      case 'dropLine':
      case 'dupLine':
      case 'swapLines':
      case 'crlfSome': {
        const ls = lineStarts(b);
        const i = idx(m.line, ls.length);
        const s = ls[i]!;
        const e = ls[i + 1] ?? n;
        if (m.op === 'dropLine') b = Buffer.concat([b.subarray(0, s), b.subarray(e)]);
        else if (m.op === 'dupLine') b = Buffer.concat([b.subarray(0, e), b[e - 1] === 10 ? b.subarray(s, e) : Buffer.concat([Buffer.from('\n'), b.subarray(s, e)]), b.subarray(e)]);
        else if (m.op === 'swapLines') {
          const e2 = ls[i + 2] ?? n;
          if (e < n && b[e - 1] === 10 && b[e2 - 1] === 10) b = Buffer.concat([b.subarray(0, s), b.subarray(e, e2), b.subarray(s, e), b.subarray(e2)]);
        } else if (b[e - 1] === 10 && b[e - 2] !== 13) b = Buffer.concat([b.subarray(0, e - 1), Buffer.from('\r\n'), b.subarray(e)]);
        points = lineStarts(b);
        break;
      }
      case 'crlf':
        b = Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
        points = lineStarts(b);
        break;
    }
  }
  return b;
}

// ---------------------------------------------------------------------------------------------- failures
/** Save a failing input as a fixture of fuzz-found/ (content-addressed) with the failure beside it. */
export function saveFound(reader: string, ext: string, bytes: Uint8Array, why: string): string {
  fs.mkdirSync(FOUND, { recursive: true });
  const h = crypto.createHash('sha1').update(bytes).digest('hex').slice(0, 10);
  const p = path.join(FOUND, `${reader}-${h}${ext}`);
  fs.writeFileSync(p, bytes);
  fs.writeFileSync(`${p}.txt`, `${why}\n`);
  return p;
}

/** Measure and report: "name: N cases in T s (x ms/case)". */
export function timing(name: string, n: number, t0: number): string {
  const ms = performance.now() - t0;
  return `${name}: ${n} cases in ${(ms / 1000).toFixed(1)} s (${(ms / Math.max(1, n)).toFixed(2)} ms/case)`;
}

// ---------------------------------------------------------------------------------------------- the runner
export interface FuzzSpec<X> {
  /** reader name: fixture prefix and report label */
  reader: string;
  /** fixture extension of a failing input */
  ext: (x: X) => string;
  arb: fc.Arbitrary<X>;
  bytesOf: (x: X) => Uint8Array;
  /** one case (its bytes are already in `file`, the copy the watchdog keeps); throws on a contract violation */
  run: (bytes: Uint8Array, x: X, i: number, file: string) => Promise<void>;
  numRuns: number;
  /** a case slower than this fails (a hang that ends) */
  slowMs?: number;
  /** the resident set may not grow past this */
  maxRssMb?: number;
}

/**
 * Run a fuzz property; a failure is shrunk by fast-check, saved under fuzz-found/ and reported with the
 * path of the fixture. Returns a timing line.
 */
export async function fuzz<X>(spec: FuzzSpec<X>): Promise<string> {
  const dog = new Watchdog(spec.reader);
  const dir = scratchDir(`fuzz-${spec.reader}`);
  const slow = spec.slowMs ?? 5000;
  const maxRss = (spec.maxRssMb ?? 1500) * 1024 * 1024;
  let i = 0;
  const t0 = performance.now();
  try {
    const res = await fc.check(
      fc.asyncProperty(spec.arb, async (x) => {
        const bytes = spec.bytesOf(x);
        const n = i++;
        // the watchdog saves this file when the case hangs
        const file = path.join(dir, `case${spec.ext(x)}`);
        fs.writeFileSync(file, bytes);
        dog.begin(file);
        const t = performance.now();
        try {
          await spec.run(bytes, x, n, file);
        } finally {
          dog.end();
        }
        const ms = performance.now() - t;
        if (ms > slow) throw new Error(`case took ${ms.toFixed(0)} ms (limit ${slow} ms)`);
        const rss = process.memoryUsage.rss();
        if (rss > maxRss) throw new Error(`resident set ${(rss / 2 ** 20).toFixed(0)} MB after this case (limit ${maxRss / 2 ** 20} MB)`);
      }),
      { numRuns: spec.numRuns, seed: FUZZ_SEED, endOnFailure: false, interruptAfterTimeLimit: undefined },
    );
    if (res.failed) {
      const x = res.counterexample![0] as X;
      const bytes = spec.bytesOf(x);
      const why = String((res.errorInstance as Error)?.message ?? res.errorInstance);
      const p = saveFound(spec.reader, spec.ext(x), bytes, `${why}\nfast-check seed ${res.seed} path ${res.counterexamplePath}\n${JSON.stringify(x, (_k, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v))}`);
      throw new Error(`${spec.reader} fuzzer: ${why}\n  input saved as ${p} (seed ${res.seed}, path ${res.counterexamplePath}, after ${res.numRuns} runs)`);
    }
    return timing(spec.reader, res.numRuns, t0);
  } finally {
    await dog.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Two outcomes are the same: the same error message, or reports equal as JSON. */
export function sameOutcome(a: Outcome, b: Outcome, what: string): void {
  const s = (o: Outcome) => (o.kind === 'error' ? `error: ${o.error.format()}` : JSON.stringify(o.report));
  const x = s(a);
  const y = s(b);
  if (x !== y) {
    let k = 0;
    while (k < x.length && x[k] === y[k]) k++;
    throw new Error(`${what}: outcomes differ at char ${k}:\n  ${x.slice(Math.max(0, k - 80), k + 120)}\n  ${y.slice(Math.max(0, k - 80), k + 120)}`);
  }
}

// ---------------------------------------------------------------------------------------------- binary readers

/** An EventSink that checks what readers push (the core trusts it) and keeps nothing. */
export class CheckSink implements EventSink {
  events = 0;
  private names: string[] = [];
  beginFile(_name: string, clock: number): void {
    if (clock !== K.CLOCK_NS && clock !== K.CLOCK_RAW) throw new Error(`beginFile with clock ${clock}`);
  }
  intern(s: string): number {
    if (typeof s !== 'string') throw new Error(`intern(${typeof s})`);
    this.names.push(s);
    return this.names.length - 1;
  }
  reasonKey(isa: number, code: number): number {
    if (!Number.isInteger(code)) throw new Error(`reasonKey(${isa}, ${code})`);
    return this.intern(`${isa}:${code}`);
  }
  push(kind: number, ts: bigint, tid: number, tgid: number, cpu: number, vcpu: number, a: bigint, b: bigint, c: number, name: number, where: number): void {
    // the core reads 32-bit fields as i32 and 64-bit ones as i64: u32 and u64 bit patterns (a u32 cpu, a
    // kernel rip) wrap, which is their meaning; NaN, fractions and wider values would not
    const i32 = (x: number) => Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 32;
    const i64 = (x: bigint) => typeof x === 'bigint' && x >= -(2n ** 63n) && x < 2n ** 64n;
    if (!(kind >= 1 && kind < K.EV_KIND_COUNT && Number.isInteger(kind))) throw new Error(`push: bad kind ${kind}`);
    if (!i64(ts) || !i64(a) || !i64(b)) throw new Error(`push: a 64-bit field out of range (ts ${ts}, a ${a}, b ${b})`);
    if (![tid, tgid, cpu, vcpu, c, name].every(i32)) throw new Error(`push: a 32-bit field out of range (${[tid, tgid, cpu, vcpu, c, name].join(' ')})`);
    if (!(Number.isSafeInteger(where) && where >= 0)) throw new Error(`push: bad where ${where}`);
    if (name >= this.names.length) throw new Error(`push: name id ${name} was never interned`);
    if (kind === K.EV_EXIT && !(a >= 0n && a < BigInt(this.names.length))) throw new Error(`push: exit reason key ${a} is not a dictionary id`);
    this.events++;
  }
  nameThread(tid: number, _tgid: number, comm: string): void {
    if (!Number.isInteger(tid) || typeof comm !== 'string') throw new Error(`nameThread(${tid}, ${comm})`);
  }
  skip(kind: number, where: number, excerpt: string): void {
    if (!(kind >= 0 && kind < K.SKIP_KIND_COUNT) || !Number.isSafeInteger(where) || typeof excerpt !== 'string') {
      throw new Error(`skip(${kind}, ${where}, ...)`);
    }
  }
}

/**
 * One binary case at the reader level: the registry's readWith() (the pipeline's own FormatError -> KvmtaxError
 * conversion) into a CheckSink must return its metadata or throw a clear KvmtaxError.
 */
export async function runBinaryReader(format: string, file: string, size: number): Promise<{ kind: 'ok' | 'error'; events: number }> {
  const sink = new CheckSink();
  try {
    await readWith(formatNamed(format), { src: undefined as never, path: file, display: file }, sink);
    return { kind: 'ok', events: sink.events };
  } catch (e) {
    if (!(e instanceof KvmtaxError)) {
      const err = e as Error;
      throw new Error(`not a KvmtaxError: ${err?.name}: ${err?.message}\n${err?.stack ?? ''}`);
    }
    checkError(e, size);
    return { kind: 'error', events: sink.events };
  }
}

/** Points of structure of a binary capture: ASCII tags of its header, page (4 KiB) starts, and `extra`. */
export function binaryShape(bytes: Uint8Array, tags: string[], extra: number[] = []): Shape {
  const s = new Set<number>([0, 1, 8, 10, 16, ...extra]);
  const text = Buffer.from(bytes).toString('latin1');
  for (const t of tags) for (let i = text.indexOf(t); i >= 0; i = text.indexOf(t, i + 1)) { s.add(i); s.add(i + t.length); }
  for (let p = 4096; p < bytes.length; p += 4096) s.add(p);
  return { bytes, points: [...s].filter((p) => p <= bytes.length).sort((a, b) => a - b) };
}

export interface BinarySeed { name: string; shape: Shape }

/**
 * The binary fuzz property: a seed, up to four mutations; the reader alone (readWith into a CheckSink) on
 * every case, and every `fullEvery`-th case also the whole pipeline (analyze() on the file: detection, the
 * core, the summary) with its report checked.
 */
export async function binaryFuzz(opts: { reader: string; format: string; seeds: BinarySeed[]; numRuns: number; fullEvery: number; maxMuts?: number }): Promise<string> {
  const { seeds } = opts;
  const arb = fc.record({
    seed: fc.nat({ max: seeds.length - 1 }),
    muts: fc.array(mutationArb(false), { minLength: 1, maxLength: opts.maxMuts ?? 3 }),
  });
  const tally = { ok: 0, error: 0, events: 0, full: 0, fullReports: 0 };
  const line = await fuzz({
    reader: opts.reader, ext: (x) => `.${seeds[x.seed]!.name}`, arb, numRuns: opts.numRuns,
    bytesOf: (x) => mutate(seeds[x.seed]!.shape, x.muts),
    // the case file the fuzz runner wrote for the watchdog is read as it is (one write per case, not two)
    run: async (bytes, _x, i, file) => {
      const r = await runBinaryReader(opts.format, file, bytes.length);
      tally[r.kind]++;
      tally.events += r.events;
      if (i % opts.fullEvery === 0) {
        tally.full++;
        if ((await outcome(() => analyze([file]), bytes.length)).kind === 'report') tally.fullReports++;
      }
    },
  });
  return `${line}: reader ${tally.ok} read, ${tally.error} errors, ${tally.events} events pushed; pipeline ${tally.fullReports} reports of ${tally.full}`;
}
