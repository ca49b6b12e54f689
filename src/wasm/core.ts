/**
 * The TypeScript side of the WebAssembly core: it owns the module's memory.
 *
 *   text:   file chunks read ahead into core buffers (or a stream into core.arena()) -> core.scanAt() ->
 *           tokenizer + analysis, all inside wasm
 *   binary: reader -> Core.push() (EventSink) -> batch columns in wasm memory -> consumeBatch(n)
 *   end:    core.tables() reads the thread, bin, histogram, top-N, skip and dictionary tables
 *
 * Memory may grow during any export call, which detaches earlier views of `memory.buffer`: every view
 * is rebuilt after calls that can allocate (intern, scan, consumeBatch).
 *
 * Over 500 lines because it is the one module that reads and writes the core's memory (the rule of the
 * wasm boundary): the export table, the batch columns, and the readers of every table the core keeps
 * (threads, bins, histogram pages, top-N, skips, rows, segments) would otherwise each need its views.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as K from '../../assembly/constants.js';
import { packageRoot } from '../core/package-root.js';
import type { EventSink } from '../core/sink.js';
import { RowBatch } from './rows.js';
import { THREAD_FIELDS, type ThreadRec } from './thread-layout.js';

export type { ThreadRec };
import { reasonName } from '../core/reasons.js';
import { KvmtaxError } from '../core/errors.js';
import { phase } from '../core/phases.js';

interface Exports {
  memory: WebAssembly.Memory;
  init(arena: number, batch: number, topN: number): void;
  inputPtr(): number;
  inputSize(): number;
  scratchPtr(): number;
  scratchSize(): number;
  batchPtrs(): number;
  batchCapacity(): number;
  beginFile(id: number, format: number, strict: number): void;
  endFile(): void;
  segmentsPtr(): number;
  ripOn(on: number): void;
  nestedOn(vmexit: number, inject: number, vmenter: number, vmrun: number): void;
  nestedRows(): number;
  nestedRowsCount(): number;
  ripBase(): number;
  ripCap(): number;
  ripDropped(): bigint;
  gpaOn(on: number): void;
  gpaReasons(ept: number, npf: number): void;
  textFastPaths(on: number): void;
  gpaBase(): number;
  gpaCap(): number;
  gpaDropped(): bigint;
  scan(len: number, last: number): number;
  scanAt(base: number, len: number, last: number, full: number): number;
  textReadBuffers(bytes: number): number;
  setRows(cap: number): void;
  rowsBase(): number;
  rowsCount(): number;
  rowsClear(): void;
  timelineBase(): number;
  timelineBytes(): number;
  setOrigin(ts: bigint): void;
  trackAllThreads(on: number): void;
  trackingAllThreads(): number;
  origin(): bigint;
  consumeBatch(from: number, n: number): number;
  intern(len: number): number;
  nameThread(tid: number, tgid: number, comm: number): void;
  skip(kind: number, where: bigint, len: number): void;
  countersPtr(): number;
  threadsBase(): number;
  preWakesPtr(): number;
  preWakesCount(): number;
  threadsCount(): number;
  kvmThreadCount(): number;
  binsBase(): number;
  binsCount(): number;
  histDir(h: number): number;
  histNew(): number;
  histAddTo(h: number, i: number, n: number): void;
  histAddPairs(h: number, p: number, n: number): void;
  histAddPairsList(p: number, n: number): void;
  histAddAll(dst: number, src: number): void;
  histClear(h: number): void;
  histScratch(bytes: number): number;
  histPack(out: number, ends: number): number;
  histSum(p: number, n: number): number;
  histRanks(p: number, n: number, r: number, nr: number, out: number): void;
  /** apply the logged histogram counts (before any histogram is read: it may grow memory) */
  histFlush(): void;
  topBase(): number;
  topSize(): number;
  skipsBase(): number;
  dictBase(): number;
  dictSize(): number;
  dictBytesBase(): number;
  dictOverflowed(): bigint;
  errorLine(): bigint;
  errorCol(): number;
  errorKind(): number;
  linesRead(): bigint;
}

/** The core's perf.data sample decoder (assembly/perfdata.ts), used by src/formats/perfdata/core-path.ts. */
export interface PerfDataCoreExports {
  pdConfig(bytes: number): number;
  pdReadBuffers(bytes: number): number;
  pdSlice(from: bigint, to: bigint): void;
  pdSliceFailed(): number;
  pdSliceTo(to: bigint): void;
  pdBegin(nAttrs: number, nIds: number, nFormats: number, typeOff: number, typeSize: number, lostName: number, maxQueued: number): void;
  pdWalk(base: number, pos: number, len: number, fileOff: bigint): number;
  pdWalkAt(base: number, pos: number, len: number, where: bigint): number;
  pdStopped(): number;
  pdQueue(rec: number, ts: bigint, hasTime: number, pid: number, tid: number, cpu: number, count: bigint, where: bigint, strLen: number): void;
  pdFinish(): void;
  pdSetAttrName(i: number, id: number): void;
  pdSamples(): bigint;
  pdGuestSamples(): bigint;
  pdLost(): bigint;
  pdAttrCount(i: number): bigint;
  pdAttrPeriod(i: number): bigint;
  pdPidOf(tid: number): number;
  pdSkipsPtr(): number;
  pdSkipCount(): number;
  pdSkipsClear(): void;
}

/** What the perf.data core path needs of the Core. */
export interface PerfDataCore {
  ex: PerfDataCoreExports;
  /** the input arena (a fresh view: take it again after any call) and its address */
  arena(): Uint8Array;
  arenaPtr(): number;
  /** a fresh DataView of the whole memory */
  view(): DataView;
  /** write a string at the scratch area; returns its byte length */
  scratch(s: string): number;
  stringOf(id: number): string;
}

let compiled: WebAssembly.Module | undefined;

/** The compiled module (compiled once per thread; --jobs hands it to its workers). */
export function wasmModule(): WebAssembly.Module { return module(); }
/** Use a module compiled elsewhere (a --jobs worker gets the main thread's). */
export function useModule(m: WebAssembly.Module): void { compiled = m; }

/**
 * V8 compiles the core twice: with Liftoff, its baseline compiler, as the module is made, and then each function
 * that runs hot again with TurboFan on background threads (dynamic tiering). The second costs a run about 3,000
 * page faults and 30-50 ms whatever its input, and only pays for itself past about 50 MB of input here (a 379 KB
 * capture: min 220 -> 198 ms with Liftoff's code alone; 32 MB: 377 -> 353 ms; 64 MB: 389 -> 397 ms; 256 MB: 555 ->
 * 637 ms; README, Performance). So a run whose inputs hold at most LIFTOFF_ONLY_MAX bytes keeps the core in
 * Liftoff's code, unless they are under LIFTOFF_ONLY_MIN: V8 never tiered the core up on those (2 lines, 2-8 KB:
 * no TurboFan page faults), and the flag would only cost the loading of node:v8. The flag is set before the
 * module is compiled (once per process; --jobs workers get the compiled module), never while bin/kvmtax.js
 * trains the CLI's code cache (V8 stamps the cache with a hash of the flags, and the cache is made and used
 * with V8's defaults), and not for live sessions.
 */
export const LIFTOFF_ONLY_MAX = 32 << 20;
export const LIFTOFF_ONLY_MIN = 4 << 10;
/** Whether a run of `contentBytes` (undefined: unknown) keeps the core in Liftoff's code; never while training the code cache. */
export function liftoffOnlyFor(contentBytes: number | undefined, training: boolean): boolean {
  return contentBytes !== undefined && contentBytes >= LIFTOFF_ONLY_MIN && contentBytes <= LIFTOFF_ONLY_MAX && !training;
}
let tieringPlanned = false;
/** Before the first Core of a run: Liftoff's code alone when its inputs are small (KVMTAX_PHASES says which). */
export function planTiering(contentBytes: number | undefined): void {
  if (compiled || tieringPlanned) return;
  tieringPlanned = true;
  const liftoff = liftoffOnlyFor(contentBytes, process.env.KVMTAX_CODE_CACHE_TRAINING !== undefined);
  if (liftoff) process.getBuiltinModule('node:v8').setFlagsFromString('--liftoff-only');
  phase(liftoff ? 'core: Liftoff only' : 'core: tiered');
}

function module(): WebAssembly.Module {
  if (!compiled) {
    const file = path.join(packageRoot(), 'build', 'kvmtax.wasm');
    if (!fs.existsSync(file)) throw new Error(`kvmtax: ${file} is missing: run "npm run build" first`);
    compiled = new WebAssembly.Module(fs.readFileSync(file));
  }
  return compiled;
}

export interface CoreOptions {
  /** bytes read per scan call (default 4 MiB) */
  arenaBytes?: number;
  /** events per batch for binary readers */
  batch?: number;
  /** slowest exits kept */
  topN?: number;
  /** receive every handled exit, halt and lapic event as rows (exporters, SQL) */
  rows?: RowSink;
  /** rows held between two drains (tests use tiny values) */
  rowCapacity?: number;
  /** the run's memory budget in MiB (default DEFAULT_MAX_MEMORY_MB): past it, exit 1 naming --max-memory */
  maxMemoryMb?: number;
}

export type RowSink = (b: RowBatch, core: Core) => void;

/** Per-file counters, snapshotted when a file ends. */
export interface FileCounters {
  lines: number;
  events: number;
  comments: number;
  blank: number;
  lostMarkers: number;
  lostEvents: number;
  firstTs: bigint;
  lastTs: bigint;
  bytes: number;
  clock: number;
  /** time segments when time went back by more than a second (pasted captures): [first, last, line] */
  segments: Array<{ first_ts: number; last_ts: number; line: number }>;
  /** how many segments there were (only the first K.SEG_MAX are listed) */
  segmentCount: number;
}

const enc = new TextEncoder();
const MAX_TS = 1n << 62n;
/** A bin's core, histogram number and assigned histogram (CoreBin; wasm/merge.ts MergedBin uses the first two). */
export const BIN_CORE: unique symbol = Symbol('core');
export const BIN_HIST: unique symbol = Symbol('hist');
const BIN_OWN: unique symbol = Symbol('own');
const dec = new TextDecoder('utf-8', { fatal: false });

/**
 * A bin read from the core. Its histogram is made dense only when `hist` is read (a bin's is a few pages
 * of the core's two-level histogram, a dense copy is 10.5 KB), into the core's scratch array, valid until
 * the next bin's is read: consumers read one bin's at a time (summary, extras, merge). Assigning `hist`
 * replaces it with that array. A class with the accessor on its prototype: a per-bin closure and property
 * descriptor made each bin a dictionary-mode object of ~1.2 KB (11 MB at 9,580 bins). The core, the
 * histogram index and an assigned histogram are kept under symbols (BIN_CORE, BIN_HIST, BIN_OWN): structured
 * clone (the --jobs workers' tables) and JSON leave them out, a copy by property descriptors (analysis/filter.ts)
 * keeps them. (They were non-enumerable properties: Object.defineProperties per bin took 7.8 ms of tables() at
 * 9,580 bins, symbol-keyed fields a fifth of that.)
 */
class CoreBin implements BinRec {
  thread = 0; reason = 0; seen = 0; handled = 0; sum = 0n; min = 0n; max = 0n; sumsq = 0n; failed = 0;
  wakes = 0; wakePolls = 0; wakePollNs = 0n; wakeWaitNs = 0n; userN = 0; userNs = 0n; preemptN = 0; preemptNs = 0n;
  private [BIN_CORE]: Core;
  private [BIN_HIST]: number;
  private [BIN_OWN]: Uint32Array | undefined;
  constructor(core: Core, h: number) {
    this[BIN_CORE] = core; this[BIN_HIST] = h; this[BIN_OWN] = undefined;
  }
  private get core(): Core { return this[BIN_CORE]; }
  private get h(): number { return this[BIN_HIST]; }
  private get own(): Uint32Array | undefined { return this[BIN_OWN]; }
  get hist(): Uint32Array { return this.own ?? this.core.histDenseOf(this.h); }
  /**
   * the core and index of its histogram, none once it was replaced by a copy: the summary sums and ranks it there
   * (core/histogram.ts), and merging --jobs slices adds to it (wasm/merge.ts)
   */
  coreHist(): { core: Core; h: number } | undefined { return this.own ? undefined : { core: this.core, h: this.h }; }
  set hist(v: Uint32Array) { this[BIN_OWN] = v; }
  /** fn(page, mem, at, len) for each page of the histogram that has a count: mem[at .. at + len) (core memory: valid during the call) */
  eachHistPage(fn: (page: number, mem: Uint32Array, at: number, len: number) => void): void {
    if (this.own) { fn(0, this.own, 0, this.own.length); return; }
    this.core.eachHistPage(this.h, fn);
  }
}

/** Offsets of the record regions tables() reads (in core memory, or in a snapshot's buffer). */
interface TableOffsets { dictBase: number; dictBytes: number; tb: number; tlBase: number; pw: number; bb: number; tp: number; sb: number }
/** Where tables() reads: a memory, the regions' offsets in it and their counts. */
interface TableSource extends TableOffsets {
  m: DataView; u8: Uint8Array;
  dictN: number; threadsN: number; pwN: number; binsN: number; topN: number;
  dictOverflowed: number; laterSlice: boolean;
}
/** A core's records copied into one transferable buffer (Core.snapshot). */
export interface TableSnapshot {
  buf: ArrayBuffer; offsets: TableOffsets;
  dictN: number; threadsN: number; pwN: number; binsN: number; topN: number;
  dictOverflowed: number; laterSlice: boolean;
}

/**
 * The tables of a snapshot (another thread's core), with plain bins: their histograms travel apart, as pairs
 * (Core.packHists; pipeline/jobs-worker.ts unpackSlice gives them to the bins).
 */
export function tablesOfSnapshot(s: TableSnapshot): CoreTables {
  const src: TableSource = { ...s, ...s.offsets, m: new DataView(s.buf), u8: new Uint8Array(s.buf) };
  return decodeTables(src, () => ({
    thread: 0, reason: 0, seen: 0, handled: 0, sum: 0n, min: 0n, max: 0n, sumsq: 0n, failed: 0,
    wakes: 0, wakePolls: 0, wakePollNs: 0n, wakeWaitNs: 0n, userN: 0, userNs: 0n, preemptN: 0, preemptNs: 0n,
  }) as unknown as BinRec);
}

/** The tables of the records at `src`; `makeBin(h)` makes each bin (h: its histogram's number) before its fields are set. */
function decodeTables(src: TableSource, makeBin: (h: number) => BinRec): CoreTables {
  const m = src.m;
  const u8 = src.u8;
  const strings: string[] = new Array(src.dictN);
  const nameCounts: number[] = new Array(src.dictN);
  for (let i = 0; i < src.dictN; i++) {
    const e = src.dictBase + i * 24;
    const off = m.getInt32(e, true);
    const len = m.getInt32(e + 4, true);
    strings[i] = dec.decode(u8.subarray(src.dictBytes + off, src.dictBytes + off + len));
    nameCounts[i] = Number(m.getBigInt64(e + 16, true));
  }
  const threads: ThreadRec[] = [];
  for (let i = 0; i < src.threadsN; i++) {
    const t = src.tb + i * K.TH_STRIDE;
    const rec = readThread(m, t) as unknown as Record<string, number | bigint>;
    const tlOff = m.getInt32(t + K.TH_TL_PTR, true);
    if (tlOff > 0) {
      const base = src.tlBase + tlOff - 1;
      rec.timeline = new Uint32Array(u8.buffer.slice(u8.byteOffset + base, u8.byteOffset + base + K.TL_BUCKETS * 4)) as unknown as number;
    }
    threads.push(rec as unknown as ThreadRec);
  }
  // a later slice's wake-ups before each thread's first kvm_halt_poll_ns, one by one (wasm/merge.ts settles them)
  if (src.pwN > 0) {
    const at = new Map<number, number>();
    for (let i = 0; i < src.pwN; i++) {
      const e = src.pw + i * 16;
      const ti = m.getInt32(e, true);
      let w = threads[ti]!.preWakes;
      if (!w) {
        const n = threads[ti]!.preWindowListed;
        w = threads[ti]!.preWakes = { ns: new BigInt64Array(n), flags: new Uint8Array(n) };
        at.set(ti, 0);
      }
      const k = at.get(ti)!;
      w.ns[k] = m.getBigInt64(e + 8, true);
      w.flags[k] = m.getInt32(e + 4, true);
      at.set(ti, k + 1);
    }
  }
  const bins: BinRec[] = [];
  for (let i = 0; i < src.binsN; i++) {
    const b = src.bb + i * K.BIN_STRIDE;
    const x = makeBin(m.getInt32(b + K.BIN_HIST, true));
    x.thread = m.getInt32(b + K.BIN_THREAD, true); x.reason = m.getInt32(b + K.BIN_REASON, true);
    x.seen = m.getInt32(b + K.BIN_SEEN, true); x.handled = m.getInt32(b + K.BIN_HANDLED, true);
    x.sum = m.getBigInt64(b + K.BIN_SUM, true); x.min = m.getBigInt64(b + K.BIN_MIN, true);
    x.max = m.getBigInt64(b + K.BIN_MAX, true); x.sumsq = (m.getBigUint64(b + K.BIN_SUMSQ_HI, true) << 64n) | m.getBigUint64(b + K.BIN_SUMSQ, true);
    x.failed = m.getInt32(b + K.BIN_FAILED, true); x.wakes = m.getInt32(b + K.BIN_WAKES, true);
    x.wakePolls = m.getInt32(b + K.BIN_WAKE_POLLS, true); x.wakePollNs = m.getBigInt64(b + K.BIN_WAKE_POLL_NS, true);
    x.wakeWaitNs = m.getBigInt64(b + K.BIN_WAKE_WAIT_NS, true);
    x.userNs = m.getBigInt64(b + K.BIN_USER_NS, true); x.userN = m.getInt32(b + K.BIN_USER_N, true);
    x.preemptNs = m.getBigInt64(b + K.BIN_PREEMPT_NS, true); x.preemptN = m.getInt32(b + K.BIN_PREEMPT_N, true);
    bins.push(x);
  }
  const top: TopRec[] = [];
  for (let i = 0; i < src.topN; i++) {
    const r = src.tp + i * K.TOP_STRIDE;
    top.push({
      duration: m.getBigInt64(r, true), ts: m.getBigInt64(r + 8, true), where: Number(m.getBigInt64(r + 16, true)),
      thread: m.getInt32(r + 24, true), reason: m.getInt32(r + 28, true),
    });
  }
  const skips: SkipRec[] = [];
  for (let k = 0; k < K.SKIP_KIND_COUNT; k++) {
    const r = src.sb + k * K.SK_STRIDE;
    const count = Number(m.getBigInt64(r + K.SK_COUNT, true));
    if (count === 0) continue;
    const len = m.getInt32(r + K.SK_LEN, true);
    skips.push({
      kind: k, count, file: m.getInt32(r + K.SK_FILE, true), line: Number(m.getBigInt64(r + K.SK_LINE, true)),
      col: m.getInt32(r + K.SK_COL, true), excerpt: dec.decode(u8.subarray(r + K.SK_TEXT, r + K.SK_TEXT + len)),
    });
  }
  return { strings, nameCounts, threads, bins, top, skips, dictOverflowed: src.dictOverflowed, ...(src.laterSlice ? { laterSlice: true } : {}) };
}

/**
 * A thread record read from core memory as one object literal of all THREAD_FIELDS, compiled once: filled
 * field by field with computed names, each record became a dictionary-mode object of ~7 KB.
 */
let threadReader: ((m: DataView, t: number) => ThreadRec) | undefined;
function readThread(m: DataView, t: number): ThreadRec {
  if (!threadReader) {
    const get = (off: number, type: string): string =>
      type === 'i32' ? `m.getInt32(t + ${off}, true)` : type === 'i64' ? `m.getBigInt64(t + ${off}, true)` : `m.getFloat64(t + ${off}, true)`;
    const fields = THREAD_FIELDS.map(([name, off, type]) => `${JSON.stringify(name)}: ${get(off, type)}`).join(', ');
    threadReader = new Function('m', 't', `return { ${fields}, timeline: undefined };`) as (m: DataView, t: number) => ThreadRec;
  }
  return threadReader(m, t);
}

/**
 * A run's memory budget by default (MiB, peak RSS). The core checks its estimate whenever its memory
 * grows: Node itself (BASE_BYTES), the core's linear memory, and what the JS side builds per thread
 * after the scan: for a vCPU thread (tables, summary, per-vCPU tables: PER_VCPU_THREAD_BYTES, measured at
 * 20,000 vCPU threads), for any other (a host thread seen in sched events: its record, PER_HOST_THREAD_BYTES;
 * 2.2 KB of peak RSS each, measured from 2,200 to 80,000 such threads).
 */
export const DEFAULT_MAX_MEMORY_MB = 150;
const BASE_BYTES = 48 << 20;
const PER_VCPU_THREAD_BYTES = 24 << 10;
const PER_HOST_THREAD_BYTES = 3 << 10;

export class Core {
  private readonly maxBytes: number;
  private readonly ex: Exports;
  private mem!: DataView;
  private u8!: Uint8Array;
  readonly arenaBytes: number;
  private reasonCache = new Map<number, number>();
  private rowSink: RowSink | undefined;
  private rowCap = 0;
  // batch columns
  private bn = 0;
  private bcap = 0;
  private cols!: {
    kind: Int32Array; ts: BigInt64Array; tid: Int32Array; tgid: Int32Array; cpu: Int32Array; vcpu: Int32Array;
    a: BigInt64Array; b: BigInt64Array; c: Int32Array; name: Int32Array; where: BigInt64Array;
    /** the where column as 32-bit halves: written without a BigInt per event */
    where32: Int32Array;
  };
  private colPtrs: number[] = [];

  constructor(opts: CoreOptions = {}) {
    const inst = new WebAssembly.Instance(module(), {
      env: {
        abort: (_m: number, _f: number, line: number, col: number) => {
          throw new Error(`kvmtax core aborted at assembly line ${line}:${col}`);
        },
        // the perf.data decoder (assembly/perfdata.ts) asks for an exit reason's name the first time it meets it
        reasonName: (isa: number, code: number): number => this.writeScratch(reasonName(isa, code >>> 0)),
      },
    });
    this.ex = inst.exports as unknown as Exports;
    this.maxBytes = (opts.maxMemoryMb ?? DEFAULT_MAX_MEMORY_MB) * 1024 * 1024;
    this.arenaBytes = opts.arenaBytes ?? 4 << 20;
    this.ex.init(this.arenaBytes, opts.batch ?? 8192, opts.topN ?? 100);
    if (opts.rows) {
      this.rowSink = opts.rows;
      this.rowCap = opts.rowCapacity ?? Math.max(opts.batch ?? 8192, 65536);
      this.ex.setRows(this.rowCap);
    }
    this.bcap = this.ex.batchCapacity();
    const p = this.ex.batchPtrs();
    this.refresh();
    this.colPtrs = Array.from({ length: 11 }, (_, i) => this.mem.getUint32(p + 4 * i, true));
    this.refreshCols();
  }

  private refresh(): void {
    const buf = this.ex.memory.buffer;
    if (!this.u8 || this.u8.buffer !== buf) {
      // memory grew: within the budget, or stop with the limit and the option that raises it
      const vcpus = this.u8 ? this.ex.kvmThreadCount() : 0;
      if (this.u8 && BASE_BYTES + buf.byteLength - this.unbudgeted + vcpus * PER_VCPU_THREAD_BYTES + (this.ex.threadsCount() - vcpus) * PER_HOST_THREAD_BYTES > this.maxBytes) {
        throw new KvmtaxError(`the analysis would need more than ${Math.round(this.maxBytes / 1048576)} MiB of memory (${this.ex.threadsCount()} threads, ${this.ex.binsCount()} thread x reason bins so far); --max-memory MB raises the limit`);
      }
      this.mem = new DataView(buf);
      this.u8 = new Uint8Array(buf);
      if (this.colPtrs.length) this.refreshCols();
    }
  }

  private refreshCols(): void {
    const buf = this.ex.memory.buffer;
    const [k, ts, tid, tgid, cpu, vcpu, a, b, c, name, where] = this.colPtrs as [number, number, number, number, number, number, number, number, number, number, number];
    const n = this.bcap;
    this.cols = {
      kind: new Int32Array(buf, k, n), ts: new BigInt64Array(buf, ts, n), tid: new Int32Array(buf, tid, n),
      tgid: new Int32Array(buf, tgid, n), cpu: new Int32Array(buf, cpu, n), vcpu: new Int32Array(buf, vcpu, n),
      a: new BigInt64Array(buf, a, n), b: new BigInt64Array(buf, b, n), c: new Int32Array(buf, c, n),
      name: new Int32Array(buf, name, n), where: new BigInt64Array(buf, where, n), where32: new Int32Array(buf, where, 2 * n),
    };
  }

  // ---------------------------------------------------------------- text input
  /** Start a text file: its lines go through scan(). */
  beginTextFile(fileIndex: number, format: number, strict: boolean): void {
    this.flush();
    this.ex.beginFile(fileIndex, format, strict ? 1 : 0);
  }

  /** A view of the input arena: read file bytes straight into it. */
  arena(): Uint8Array {
    this.refresh();
    return new Uint8Array(this.ex.memory.buffer, this.ex.inputPtr(), this.arenaBytes);
  }

  /** Tokenize the first `len` arena bytes; returns the bytes consumed, or a negative K.ERR_* code. */
  scan(len: number, last: boolean): number {
    return this.scanAt(this.ex.inputPtr(), len, last, len >= this.arenaBytes);
  }

  /**
   * Tokenize [base, base + len) of core memory (the arena, or a text read buffer); `full`: the window is a
   * whole arena's worth (a line with no newline in it is over-long). Returns the bytes consumed, or a
   * negative K.ERR_* code.
   */
  scanAt(base: number, len: number, last: boolean, full: boolean): number {
    if (!this.rowSink) {
      const r = this.ex.scanAt(base, len, last ? 1 : 0, full ? 1 : 0);
      this.refresh();
      return r;
    }
    // with rows on, the core stops when its row buffer is full: drain it and go on
    let off = 0;
    for (;;) {
      const r = this.ex.scanAt(base + off, len - off, last ? 1 : 0, off === 0 && full ? 1 : 0);
      this.refresh();
      if (r < 0) return r;
      const rowsFull = this.ex.rowsCount() >= this.rowCap;
      this.drainRows();
      off += r;
      if (!rowsFull || off >= len) return off;
    }
  }

  /**
   * The text read buffers (assembly/index.ts textReadBuffers): two of (lead, data), `bytes` each, from the
   * returned address. Their leads hold only a line's tail: the memory budget leaves them out.
   */
  textReadBuffers(bytes: number): number {
    const p = this.ex.textReadBuffers(bytes);
    this.unbudgeted = Math.max(this.unbudgeted, 2 * bytes);
    this.refresh();
    return p;
  }
  private unbudgeted = 0;

  /** The core's memory now (it is replaced when memory grows). */
  memoryBuffer(): ArrayBuffer { return this.ex.memory.buffer as ArrayBuffer; }

  private drainRows(): void {
    const n = this.ex.rowsCount();
    if (!this.rowSink || n === 0) return;
    this.refresh();
    this.rowSink(new RowBatch(this.mem, this.ex.rowsBase(), n), this);
    this.ex.rowsClear();
  }

  errorPosition(): { line: number; col: number; kind: number } {
    return { line: Number(this.ex.errorLine()), col: this.ex.errorCol(), kind: this.ex.errorKind() };
  }

  /** End the current file and return its counters. */
  endFile(): FileCounters {
    this.flush();
    this.ex.endFile();
    this.refresh(); // the perf.data core path grows memory outside the batch calls
    const p = this.ex.countersPtr();
    const g = (i: number) => this.mem.getBigInt64(p + 8 * i, true);
    return {
      lines: Number(g(K.C_LINES)), events: Number(g(K.C_EVENTS)), comments: Number(g(K.C_COMMENTS)),
      blank: Number(g(K.C_BLANK)), lostMarkers: Number(g(K.C_LOST_MARKERS)), lostEvents: Number(g(K.C_LOST_EVENTS)),
      firstTs: g(K.C_FIRST_TS), lastTs: g(K.C_LAST_TS), bytes: Number(g(K.C_BYTES)), clock: Number(g(K.C_CLOCK)),
      segments: this.segments(Number(g(K.C_SEGMENTS))), segmentCount: Number(g(K.C_SEGMENTS)),
    };
  }

  private segments(n: number): FileCounters['segments'] {
    if (n < 1) return [];
    const sp = this.ex.segmentsPtr();
    const out: FileCounters['segments'] = [];
    for (let i = 0; i < Math.min(n, K.SEG_MAX); i++) {
      const r = sp + i * K.SEG_STRIDE;
      out.push({ first_ts: Number(this.mem.getBigInt64(r, true)), last_ts: Number(this.mem.getBigInt64(r + 8, true)), line: Number(this.mem.getBigInt64(r + 16, true)) });
    }
    return out;
  }

  /** The current file's clock (K.CLOCK_*; 0 while a text file has not shown it yet) and lines read (0 for binary input). */
  fileCounters(): { clock: number; lines: number } {
    this.refresh();
    const p = this.ex.countersPtr();
    return { clock: Number(this.mem.getBigInt64(p + 8 * K.C_CLOCK, true)), lines: Number(this.mem.getBigInt64(p + 8 * K.C_LINES, true)) };
  }

  // ---------------------------------------------------------------- binary input (the EventSink calls)
  private fileCount = 0;
  /** Number the next file gets; the caller keeps file metadata by this index. */
  nextFileIndex(): number { return this.fileCount++; }

  /** Start binary file `index` (from nextFileIndex()); `clock` is K.CLOCK_NS or K.CLOCK_RAW. Events follow through push(). */
  beginFile(index: number, clock: number): void {
    this.flush();
    this.ex.beginFile(index, K.FMT_BINARY, 0);
    const p = this.ex.countersPtr();
    this.mem.setBigInt64(p + 8 * K.C_CLOCK, BigInt(clock), true);
  }

  /** The EventSink a binary reader fills file `index` through (its beginFile(name, clock) starts that file). */
  sinkFor(index: number): EventSink { return new FileSink(this, index); }

  /**
   * The perf.data decoder of the core, or undefined when rows are streamed out (its events go straight to the
   * analysis, without the row-buffer stops consumeBatch makes) or exits' info words are wanted (exitDetail: it
   * does not read them). Pending batch events are handed over first.
   */
  perfDataCore(): PerfDataCore | undefined {
    if (this.exitDetail) return undefined;
    this.flush();
    return this.binaryCore();
  }

  /** What a binary decoder in the core (perf.data, trace.dat) needs of this Core. */
  private binaryCore(): PerfDataCore {
    return {
      ex: this.ex as unknown as PerfDataCoreExports,
      arena: () => this.arena(),
      arenaPtr: () => this.ex.inputPtr(),
      view: () => { this.refresh(); return this.mem; },
      scratch: (s) => this.writeScratch(s),
      stringOf: (id) => this.stringOf(id),
    };
  }

  /**
   * The trace.dat page decoder of the core (src/formats/tracedat/core-path.ts). With rows streamed out, the core
   * stops when its row buffer is nearly full and the caller drains it (drainRows) before going on.
   */
  traceDatCore(): PerfDataCore & { drainRows(): void } {
    this.flush();
    return { ...this.binaryCore(), drainRows: () => this.drainRows() };
  }

  private writeScratch(s: string): number {
    this.refresh();
    const max = this.ex.scratchSize();
    const bytes = enc.encode(s);
    const n = Math.min(bytes.length, max);
    this.u8.set(bytes.subarray(0, n), this.ex.scratchPtr());
    return n;
  }

  intern(s: string): number {
    const n = this.writeScratch(s);
    const id = this.ex.intern(n);
    this.refresh();
    return id;
  }

  reasonKey(isa: number, code: number): number {
    const k = isa * 0x1_0000_0000 + (code >>> 0);
    let id = this.reasonCache.get(k);
    if (id === undefined) {
      id = this.intern(reasonName(isa, code));
      this.reasonCache.set(k, id);
    }
    return id;
  }

  push(kind: number, ts: bigint, tid: number, tgid: number, cpu: number, vcpu: number,
       a: bigint, b: bigint, c: number, name: number, where: number): void {
    // a time below 0 or beyond 2^62 ns (146 years) is damage, and would overflow the core's differences
    if ((ts < 0n || ts >= MAX_TS) && kind !== K.EV_LOST) {
      this.skip(K.SKIP_BAD_TIMESTAMP, where, `${name >= 0 ? this.stringOf(name) : "event"}: timestamp ${ts} out of range`);
      return;
    }
    const i = this.bn;
    const cl = this.cols;
    cl.kind[i] = kind; cl.ts[i] = ts; cl.tid[i] = tid; cl.tgid[i] = tgid; cl.cpu[i] = cpu; cl.vcpu[i] = vcpu;
    cl.a[i] = a; cl.b[i] = b; cl.c[i] = c; cl.name[i] = name;
    cl.where32[2 * i] = where >>> 0; cl.where32[2 * i + 1] = Math.floor(where / 4294967296); // little-endian i64
    if (++this.bn === this.bcap) this.flush();
  }

  /** Hand the pending batch to the core. */
  flush(): void {
    if (this.bn > 0) {
      const n = this.bn;
      this.bn = 0;
      for (let done = 0; done < n;) {
        done = this.ex.consumeBatch(done, n);
        this.refresh();
        this.drainRows();
      }
    }
  }

  nameThread(tid: number, tgid: number, comm: string): void {
    this.flush();
    const id = this.intern(comm);
    this.ex.nameThread(tid, tgid, id);
    this.refresh();
  }

  skip(kind: number, where: number, excerpt: string): void {
    this.flush();
    const n = this.writeScratch(excerpt);
    this.ex.skip(kind, BigInt(where), n);
    this.refresh();
  }

  // ---------------------------------------------------------------- results
  /** Raw result tables, copied out of wasm memory. */
  tables(): CoreTables {
    this.flush();
    this.refresh();
    this.lastHist = -1;
    return decodeTables(this.tableSource(), (h) => new CoreBin(this, h));
  }

  /** Where the core's records are in its memory. */
  private tableSource(): TableSource {
    const ex = this.ex;
    return {
      m: this.mem, u8: this.u8, dictN: ex.dictSize(), dictBase: ex.dictBase(), dictBytes: ex.dictBytesBase(),
      tb: ex.threadsBase(), threadsN: ex.threadsCount(), tlBase: ex.timelineBase(), pw: ex.preWakesPtr(), pwN: ex.preWakesCount(),
      bb: ex.binsBase(), binsN: ex.binsCount(), tp: ex.topBase(), topN: ex.topSize(), sb: ex.skipsBase(),
      dictOverflowed: Number(ex.dictOverflowed()), laterSlice: ex.trackingAllThreads() !== 0,
    };
  }

  /**
   * The records tables() reads, copied out of core memory into one buffer that can be transferred to another
   * thread (a --jobs worker's to the main thread, which decodes them with tablesOfSnapshot): structured clone of
   * the tables' objects took 13 ms to serialize and 17-25 to deserialize at 256 vCPUs' 9,765 bins, besides the
   * worker's own tables() (17 ms).
   */
  snapshot(): TableSnapshot {
    this.flush();
    this.refresh();
    const src = this.tableSource();
    const m = src.m;
    // the dictionary's string bytes in use: up to the end of its last string
    let dictEnd = 0;
    for (let i = 0; i < src.dictN; i++) {
      const e = src.dictBase + i * 24;
      dictEnd = Math.max(dictEnd, m.getInt32(e, true) + m.getInt32(e + 4, true));
    }
    const regions: Array<[keyof TableOffsets, number, number]> = [
      ['dictBase', src.dictBase, src.dictN * 24], ['dictBytes', src.dictBytes, dictEnd],
      ['tb', src.tb, src.threadsN * K.TH_STRIDE], ['tlBase', src.tlBase, this.ex.timelineBytes()], ['pw', src.pw, src.pwN * 16],
      ['bb', src.bb, src.binsN * K.BIN_STRIDE], ['tp', src.tp, src.topN * K.TOP_STRIDE], ['sb', src.sb, K.SKIP_KIND_COUNT * K.SK_STRIDE],
    ];
    const at = (n: number) => Math.ceil(n / 16) * 16;
    const buf = new ArrayBuffer(regions.reduce((s, [, , n]) => s + at(n), 0));
    const out = new Uint8Array(buf);
    const offsets = {} as TableOffsets;
    let o = 0;
    for (const [name, from, n] of regions) {
      out.set(src.u8.subarray(from, from + n), o);
      offsets[name] = o;
      o += at(n);
    }
    return {
      buf, offsets, dictN: src.dictN, threadsN: src.threadsN, pwN: src.pwN, binsN: src.binsN, topN: src.topN,
      dictOverflowed: src.dictOverflowed, laterSlice: src.laterSlice,
    };
  }

  /**
   * Histogram h as HIST_BUCKETS dense counts, in one scratch array reused by every read (a copy per
   * read of thousands of bins is hundreds of MB of garbage): valid until the next bin's hist is read.
   */
  /** Bins in the core (tables().bins has one per bin, in order). */
  binsCount(): number { return this.ex.binsCount(); }

  /**
   * Every bin's histogram (bins in tables() order) as [bucket, count] pairs of its non-zero buckets, in one array:
   * bin i's are pairs[histAt[i] .. histAt[i + 1]) (u32 indices). Two core calls (a count, then the pairs): a
   * JavaScript walk of each bin's pages took 14-20 ms of a worker's tail at 2,462 bins.
   */
  packHists(): { pairs: Uint32Array; histAt: Uint32Array } {
    const nb = this.ex.binsCount();
    const n = this.ex.histPack(0, 0);
    const p = this.ex.histScratch(n * 8 + nb * 4);
    this.ex.histPack(p, p + n * 8);
    this.refresh();
    const buf = this.ex.memory.buffer;
    const pairs = new Uint32Array(buf.slice(p, p + n * 8));
    const histAt = new Uint32Array(nb + 1);
    histAt.set(new Uint32Array(buf, p + n * 8, nb), 1);
    for (let i = 1; i <= nb; i++) histAt[i] = histAt[i]! * 2;
    return { pairs, histAt };
  }

  /** fn(page, mem, at) for each page of histogram h that has a count: its counts are mem[at .. at + 64) */
  eachHistPage(h: number, fn: (page: number, mem: Uint32Array, at: number, len: number) => void): void {
    const page = 64;
    const d = this.ex.histDir(h) >>> 2; // one call: the logged counts applied, the page addresses read here
    const buf = this.ex.memory.buffer;
    if (!this.u32 || this.u32.buffer !== buf) this.u32 = new Uint32Array(buf);
    const u32 = this.u32;
    for (let pg = 0; pg * page < K.HIST_BUCKETS; pg++) {
      const p = u32[d + pg]!;
      if (p) fn(pg, u32, p >>> 2, Math.min(page, K.HIST_BUCKETS - pg * page));
    }
  }
  private u32: Uint32Array | undefined;

  // ---- --jobs: slices' histograms merged into this core's (wasm/merge.ts), after the input has ended
  /** A new, empty histogram. */
  histNew(): number { const h = this.ex.histNew(); this.refresh(); return h; }
  /** Add n to bucket i of histogram h. */
  histAdd(h: number, i: number, n: number): void { this.ex.histAddTo(h, i, n); this.lastHist = -1; this.refresh(); }
  /** Add [bucket, count] pairs (a worker's, transferred) to histogram h, through the input arena. */
  histAddPairs(h: number, pairs: Uint32Array): void {
    const room = (this.arenaBytes >> 3) << 1;
    for (let k = 0; k < pairs.length; k += room) {
      const part = pairs.subarray(k, Math.min(pairs.length, k + room));
      new Uint32Array(this.ex.memory.buffer, this.ex.inputPtr(), part.length).set(part);
      this.ex.histAddPairs(h, this.ex.inputPtr(), part.length >> 1);
      this.refresh();
    }
    this.lastHist = -1;
  }
  /**
   * [bucket, count] pairs added to several histograms, in as few calls as the input arena allows: each call
   * takes (histogram, pair count) for its items, then their pairs (a --jobs merge adds a worker's every bin).
   */
  histAddPairsMany(items: ReadonlyArray<{ h: number; pairs: Uint32Array }>): void {
    const words = this.arenaBytes >> 2;
    let k = 0;
    while (k < items.length) {
      // one item alone too big for the arena: the chunked single call
      if (2 + items[k]!.pairs.length > words) { this.histAddPairs(items[k]!.h, items[k]!.pairs); k++; continue; }
      let end = k, used = 0;
      while (end < items.length && used + 2 + items[end]!.pairs.length <= words) { used += 2 + items[end]!.pairs.length; end++; }
      const n = end - k;
      const u32 = new Uint32Array(this.ex.memory.buffer, this.ex.inputPtr(), words);
      let q = 2 * n;
      for (let i = 0; i < n; i++) {
        const it = items[k + i]!;
        u32[2 * i] = it.h; u32[2 * i + 1] = it.pairs.length >> 1;
        u32.set(it.pairs, q);
        q += it.pairs.length;
      }
      this.ex.histAddPairsList(this.ex.inputPtr(), n);
      this.refresh();
      k = end;
    }
    this.lastHist = -1;
  }
  /** Histogram src added to histogram dst. */
  histAddAll(dst: number, src: number): void { this.ex.histAddAll(dst, src); this.lastHist = -1; this.refresh(); }
  histClear(h: number): void { this.ex.histClear(h); this.lastHist = -1; }

  // ---- the summary's reads of summed histograms (core/histogram.ts HistCore) ----
  /** For each rank (ascending), the first bucket where the histograms `ids` summed reach it; -1 when their counts end first. */
  histRanks(ids: readonly number[], ranks: readonly number[]): Int32Array {
    const n = ids.length, nr = ranks.length;
    const at = (n * 4 + 7) & ~7;
    const p = this.ex.histScratch(at + nr * 12);
    this.refresh();
    // written through the core's own views (the summary makes thousands of these calls, one per bin)
    const m = this.mem;
    for (let i = 0; i < n; i++) m.setInt32(p + 4 * i, ids[i]!, true);
    for (let i = 0; i < nr; i++) m.setFloat64(p + at + 8 * i, ranks[i]!, true);
    this.ex.histRanks(p, n, p + at, nr, p + at + nr * 8);
    this.refresh();
    const out = new Int32Array(nr);
    for (let i = 0; i < nr; i++) out[i] = this.mem.getInt32(p + at + nr * 8 + 4 * i, true);
    return out;
  }
  /** fn(bucket, count) for each non-empty bucket of the histograms `ids` summed, in bucket order. */
  histEach(ids: readonly number[], fn: (bucket: number, count: number) => void): void {
    const p = this.ex.histScratch(ids.length * 4);
    this.refresh();
    new Int32Array(this.ex.memory.buffer, p, ids.length).set(ids);
    const s = this.ex.histSum(p, ids.length) >>> 2;
    this.refresh();
    const u32 = new Uint32Array(this.ex.memory.buffer);
    for (let i = 0; i < K.HIST_BUCKETS; i++) {
      const lo = u32[s + 2 * i]!, hi = u32[s + 2 * i + 1]!;
      if (lo || hi) fn(i, lo + hi * 4294967296);
    }
  }

  histDenseOf(h: number): Uint32Array {
    if (this.lastHist === h) return this.scratch;
    const d = this.ex.histDir(h) >>> 2;
    const out = this.scratch;
    out.fill(0);
    const page = 64;
    const u32 = new Uint32Array(this.ex.memory.buffer);
    for (let pg = 0; pg * page < K.HIST_BUCKETS; pg++) {
      const p = u32[d + pg]!;
      if (p) out.set(u32.subarray(p >>> 2, (p >>> 2) + Math.min(page, K.HIST_BUCKETS - pg * page)), pg * page);
    }
    this.lastHist = h;
    return out;
  }
  private lastHist = -1;
  private readonly scratch = new Uint32Array(K.HIST_BUCKETS);

  private strCache = new Map<number, string>();
  /** A dictionary string by id (cached; for streaming consumers of rows). */
  stringOf(id: number): string {
    let v = this.strCache.get(id);
    if (v === undefined) {
      this.refresh();
      const e = this.ex.dictBase() + id * 24;
      const off = this.mem.getInt32(e, true);
      const len = this.mem.getInt32(e + 4, true);
      const b = this.ex.dictBytesBase() + off;
      v = dec.decode(this.u8.subarray(b, b + len));
      this.strCache.set(id, v);
    }
    return v;
  }

  /** Who a thread record is, as known so far (for streaming consumers of rows). */
  threadIdentity(idx: number): { file: number; tid: number; tgid: number; vcpu: number; comm: string | null } {
    this.refresh();
    const t = this.ex.threadsBase() + idx * K.TH_STRIDE;
    const comm = this.mem.getInt32(t + K.TH_COMM, true);
    return {
      file: this.mem.getInt32(t + K.TH_FILE, true), tid: this.mem.getInt32(t + K.TH_TID, true), tgid: this.mem.getInt32(t + K.TH_TGID, true),
      vcpu: this.mem.getInt32(t + K.TH_VCPU, true), comm: comm >= 0 ? this.stringOf(comm) : null,
    };
  }

  /** A slice of a file starts the timeline at the whole file's first event. */
  setTimelineOrigin(ts: bigint): void { this.ex.setOrigin(ts); }
  timelineOrigin(): bigint { return this.ex.origin(); }
  /** A later slice of a file: follow the scheduling of every thread (which are vCPUs is known only later). */
  trackAllThreads(on: boolean): void { this.ex.trackAllThreads(on ? 1 : 0); }

  /** Keep each handled exit's guest rip (text input): --by rip. */
  trackRips(on: boolean): void { this.ex.ripOn(on ? 1 : 0); }

  /** (bin index, rip) -> handled exits and their total handling time, and the pairs left out past the table's cap. */
  rips(): { entries: Array<{ bin: number; rip: bigint; count: number; sum: bigint }>; dropped: number } {
    return this.keyTable(this.ex.ripBase(), this.ex.ripCap(), this.ex.ripDropped());
  }

  /** Follow L2 exits per L1 vCPU thread (assembly/nested.ts): kvm_nested_vmexit, _inject, _vmenter / _vmrun. */
  trackNested(): void {
    this.ex.nestedOn(this.intern('kvm_nested_vmexit'), this.intern('kvm_nested_vmexit_inject'), this.intern('kvm_nested_vmenter'), this.intern('kvm_nested_vmrun'));
  }

  /** The nested table: one row per (thread index, exit reason id; -1 no kvm_exit, -2 L2 entries, -3 inject with no L2 exit). */
  nested(): NestedRec[] {
    this.refresh();
    const m = this.mem, base = this.ex.nestedRows(), n = this.ex.nestedRowsCount();
    const out: NestedRec[] = [];
    for (let i = 0; i < n; i++) {
      const p = base + i * 80;
      out.push({
        thread: m.getInt32(p, true), reason: m.getInt32(p + 4, true), l2: m.getInt32(p + 8, true), handled: m.getInt32(p + 12, true),
        handledSum: m.getBigInt64(p + 16, true), reflected: m.getInt32(p + 24, true), closed: m.getInt32(p + 28, true),
        reflectedSum: m.getBigInt64(p + 32, true), l1Exits: m.getInt32(p + 40, true), cut: m.getInt32(p + 44, true),
        toL1Sum: m.getBigInt64(p + 48, true), inL1Sum: m.getBigInt64(p + 56, true), backSum: m.getBigInt64(p + 64, true), parts: m.getInt32(p + 72, true),
      });
    }
    return out;
  }

  /** Keep each handled NPF exit's guest-physical page (text input, SVM info2): --by gpa. */
  private gpas_ = false;
  trackGpas(on: boolean): void {
    this.ex.gpaOn(on ? 1 : 0);
    this.gpas_ = on;
    // VMX EPT violations take their GPA from the kvm_page_fault that follows them; binary SVM NPFs from info2
    if (on) this.ex.gpaReasons(this.intern('EPT_VIOLATION'), this.intern('npf'));
  }

  /** Rows are streamed, or --by gpa: readers hand over each exit's info1/info2 (EV_EXIT_INFO after its EV_EXIT). */
  get exitDetail(): boolean { return this.rowSink !== undefined || this.gpas_; }
  /** The text tokenizer's shortcuts (header cache, timestamp layout): tests compare a run without them. */
  textFastPaths(on: boolean): void { this.ex.textFastPaths(on ? 1 : 0); }

  /** (bin index, guest-physical page number) -> handled exits and their time; `rip` holds the page number. */
  gpas(): { entries: Array<{ bin: number; rip: bigint; count: number; sum: bigint }>; dropped: number } {
    return this.keyTable(this.ex.gpaBase(), this.ex.gpaCap(), this.ex.gpaDropped());
  }

  private keyTable(base: number, cap: number, droppedN: bigint): { entries: Array<{ bin: number; rip: bigint; count: number; sum: bigint }>; dropped: number } {
    this.refresh();
    const m = this.mem;
    const entries: Array<{ bin: number; rip: bigint; count: number; sum: bigint }> = [];
    for (let i = 0; i < cap; i++) {
      const e = base + i * 24;
      const b = m.getInt32(e, true);
      if (b === 0) continue;
      entries.push({ bin: b - 1, count: m.getInt32(e + 4, true), rip: m.getBigUint64(e + 8, true), sum: m.getBigInt64(e + 16, true) });
    }
    return { entries, dropped: Number(droppedN) };
  }

  /** The skip record of one kind (for strict-mode errors). */
  skipRecord(kind: number): SkipRec | undefined {
    return this.tables().skips.find((s) => s.kind === kind);
  }
}

/** One binary file's EventSink: the reader names the clock, the caller has already numbered the file. */
class FileSink implements EventSink {
  constructor(private readonly core: Core, private readonly index: number) {}
  beginFile(_name: string, clock: number): void { this.core.beginFile(this.index, clock); }
  intern(s: string): number { return this.core.intern(s); }
  reasonKey(isa: number, code: number): number { return this.core.reasonKey(isa, code); }
  get exitDetail(): boolean { return this.core.exitDetail; }
  push(kind: number, ts: bigint, tid: number, tgid: number, cpu: number, vcpu: number,
       a: bigint, b: bigint, c: number, name: number, where: number): void {
    this.core.push(kind, ts, tid, tgid, cpu, vcpu, a, b, c, name, where);
  }
  nameThread(tid: number, tgid: number, comm: string): void { this.core.nameThread(tid, tgid, comm); }
  skip(kind: number, where: number, excerpt: string): void { this.core.skip(kind, where, excerpt); }
  /** perf.data's core path (src/formats/perfdata/core-path.ts) */
  perfDataCore(): PerfDataCore | undefined { return this.core.perfDataCore(); }
  /** trace.dat's core path (src/formats/tracedat/core-path.ts) */
  traceDatCore(): PerfDataCore & { drainRows(): void } { return this.core.traceDatCore(); }
}

export interface BinRec {
  thread: number; reason: number; seen: number; handled: number; sum: bigint; min: bigint; max: bigint;
  /** the sum of the squared durations, exact (so that merged parts give what one read gives) */
  sumsq: bigint; failed: number; hist: Uint32Array;
  wakes: number; wakePolls: number; wakePollNs: bigint; wakeWaitNs: bigint;
  /** handled exits that went to userspace (kvm_userspace_exit before their entry), and their time from it to the entry */
  userN: number; userNs: bigint;
  /** handled exits preempted (switched out runnable) in their kernel part, and that time */
  preemptN: number; preemptNs: bigint;
}
export interface TopRec { duration: bigint; ts: bigint; where: number; thread: number; reason: number }
export interface SkipRec { kind: number; count: number; file: number; line: number; col: number; excerpt: string }
/** One row of the core's nested table (assembly/nested.ts NB_*); sums in ticks. */
export interface NestedRec { thread: number; reason: number; l2: number; handled: number; handledSum: bigint; reflected: number; closed: number; reflectedSum: bigint; l1Exits: number; cut: number; toL1Sum: bigint; inL1Sum: bigint; backSum: bigint; parts: number }

export interface CoreTables {
  strings: string[];
  nameCounts: number[];
  threads: ThreadRec[];
  /**
   * read by a core that followed every thread (a later --jobs slice): its threads' wake-ups before their first
   * kvm_halt_poll_ns are not settled (ThreadRec.preWakes, M_PRE_POLL, M_PRE_WAIT): the merge does it
   */
  laterSlice?: boolean;
  bins: BinRec[];
  top: TopRec[];
  skips: SkipRec[];
  dictOverflowed: number;
}
