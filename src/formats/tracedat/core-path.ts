/**
 * Ring-buffer pages through the WebAssembly core (assembly/tracedat.ts, assembly/tdrecord.ts): the page layout,
 * the time conversion and the formats' field offsets are handed over once; each CPU's pages are read in MiB
 * pieces straight into core memory (trace.dat's flyrecord data, plain or decompressed chunk by chunk, or what
 * per_cpu/cpuN/trace_pipe_raw gave live); the core walks the pages, merges the CPUs by (time, CPU), reads the
 * fields and feeds the analysis: no object and no BigInt per event.
 *
 * Taken when the sink is the Core (rows streamed out for exports are drained when the core stops for them: TD_ROWS)
 * and every format maps without
 * TypeScript (not arm64 or RISC-V kvm_exit, whose reasons come from the format's own tables); otherwise
 * PageDecoder (pages.ts) decodes in TypeScript, with the same events (test/formats/tracedat/core-path.test.ts
 * compares the two on every trace.dat capture). KVMTAX_TRACEDAT_PATH=ts forces the TypeScript decoder.
 */
import type { EventSink } from '../../core/sink.js';
import type { PerfDataCore } from '../../wasm/core.js';
import type { EventFormat, FormatField } from '../tracefs-format.js';
import { minSize } from '../kvm-events.js';
import { eventLayout, TABLE_NAMES } from '../event-table.js';
import { FormatError } from '../bytes.js';
import type { PageLayout } from './pages.js';
import type { LazyFormat } from './formats.js';
import { readCoreSkips } from '../core-skips.js';

interface TdExports {
  tdConfig(bytes: number): number;
  tdBegin(nF: number, tyOff: number, tySize: number, swap: number, scratch: number, tO: number, tS: number, cO: number,
    cS: number, dO: number, ps: number, cv: number, m: bigint, sh: number, tOff: bigint, off: bigint): void;
  tdStream(cpu: number, live: number): number;
  tdFeedPtr(si: number, n: number): number;
  tdFed(si: number, n: number, fileOff: bigint, step: number, whole: number, ended: number): void;
  tdEnd(si: number): void;
  tdWait(si: number, on: number): void;
  tdRun(all: number, fin: number): number;
  tdNeed(): number;
  tdSetFormat(fi: number): void;
  tdErrOff(): bigint;
  tdErrVal(): bigint;
  tdEvents(): bigint;
  tdLost(): bigint;
  tdSetTgid(tid: number, tgid: number): void;
  tdClearTgids(): void;
  tdSetSaved(tid: number, id: number): void;
  tdNamed(tid: number): number;
  tdTgidOf(tid: number): number;
  tdSkipsPtr(): number;
  tdSkipCount(): number;
  tdSkipsClear(): void;
  tdLearnedCount(): number;
  tdLearnedHow(): number;
  scratchPtr(): number;
  tdWindow(lo: bigint, hi: bigint, flags: number): void;
  tdBackwards(): bigint;
  tdBackOff(): bigint;
  tdStreamInfo(si: number): number;
  tdSpec(on: number): void;
  tdLater(on: number): void;
  tdFirstsPtr(): number;
  tdFirstsCount(): number;
  tdLostLogPtr(): number;
  tdLostLogCount(): number;
  tdSeedLearned(tid: number, tgid: number): void;
  tdSeedComm(tid: number, id: number): void;
  tdLogPtr(): number;
  tdLogCount(): number;
  tdDump(which: number): number;
  tdDumpPtr(): number;
}

/** One CPU stream's walk in a --jobs slice (assembly/tracedat.ts tdStreamInfo); positions -1: none. */
export interface StreamWalk {
  cpu: number;
  /** the first page read, the last page walked, the page it stopped at (its header at or past the window) */
  firstPos: bigint; lastPos: bigint; stopPos: bigint;
  /** header time of the first page; time of the last page header or record walked */
  firstHdr: bigint; lastItem: bigint;
}

/** What a slice's decoder assumed of the state before it, and what it changed (assembly/tdrecord.ts, LG_*). */
export interface SliceState {
  /** tids whose process came from saved_tgids, with no learned entry of the slice at the time */
  initReads: number[];
  /** LG_* entries in order: [kind, tid, v1, v2]; LG_DEFER's v1 a comm name */
  log: Array<[number, number, number | string, number]>;
  /** the sched comm names of threads at the end of the slice */
  comms: Array<[number, string]>;
  /**
   * a later slice: each thread's first event of those the analysis places on a CPU ([tid, its CPU, its record,
   * the record of the thread's first exit/entry or -1]), and the lost-events markers ([CPU, record])
   */
  firsts: Array<[number, number, number, number]>;
  lost: Array<[number, number]>;
}

const TF_STRIDE = 144;
const TD_NEED = 1, TD_FORMAT = 2, TD_ROWS = 3;
/** assembly/tdrecord.ts LG_*: the log of a --jobs slice */
export const LG_WRITE = 1, LG_REF = 2, LG_FIRST = 3, LG_COMM = 4, LG_DEFER = 5, LG_OVERRIDDEN = 0x100;
type TdCore = PerfDataCore & { drainRows(): void };
/** a format not parsed yet (formats.ts) */
const isLazy = (f: EventFormat): f is LazyFormat => (f as Partial<LazyFormat>).lazy === true && !(f as LazyFormat).parsed();
/** bytes of a file stream read per call (whole pages) */
const PIECE = 1 << 20;

type Row = { kind: number; flags: number; fields: (FormatField | undefined)[] };

/**
 * The core's view of one format (event-table.ts eventLayout: the kinds, fields and flags KvmEventDecoder reads;
 * task_newtask and sched_process_exec as the core's TK_* kinds), or undefined for an arm64 / RISC-V kvm_exit,
 * whose reasons TypeScript names from the format's own tables.
 */
function rowOf(fmt: EventFormat): Row | undefined {
  const L = eventLayout(fmt);
  if ((L.spec.variant ?? 'x86') !== 'x86') return undefined;
  return { kind: L.spec.learn ?? L.kind, flags: L.flags, fields: L.fields };
}

/** formats kvmtax maps are parsed now (their row); the others (EV_OTHER by name) when their first record comes (null) */
const rowFor = (f: EventFormat): Row | null | undefined => (isLazy(f) && !TABLE_NAMES.has(f.name) ? null : rowOf(f));

function putRow(v: DataView, p: number, f: EventFormat, r: Row, nameId: number): void {
  v.setInt32(p, r.kind, true);
  v.setInt32(p + 4, nameId, true);
  v.setInt32(p + 8, minSize(f), true);
  v.setInt32(p + 12, r.flags, true);
  v.setInt32(p + 16, f.id, true);
  putField(v, p + 24, f.field('common_pid'));
  putField(v, p + 36, f.field('vcpu_id'));
  for (let k = 0; k < 8; k++) putField(v, p + 48 + 12 * k, r.fields[k]);
}

function putField(v: DataView, at: number, f: FormatField | undefined): void {
  v.setInt32(at, f ? f.offset : 0, true);
  v.setInt32(at + 4, f && Number.isInteger(f.size) ? f.size : 0, true);
  v.setInt32(at + 8, f ? (f.signed ? 1 : 0) | (f.isDynamic ? 2 : 0) | (f.type.startsWith('__rel_loc') ? 4 : 0) : 0, true);
}

export interface CorePagesOptions {
  layout: PageLayout;
  pageSize: number;
  littleEndian: boolean;
  formats: EventFormat[];
  /** raw page time -> sink time: TSC2NSEC ((t - offset) * mult >> shift) and/or + tsOffset */
  tsc2nsec?: { mult: bigint; shift: bigint; offset: bigint };
  tsOffset?: bigint;
}

/** One file stream's next piece: bytes written into the core by `write`; null at its end. */
export type Feed = (write: (n: number, fileOff: number, step: boolean, fill: (dst: Uint8Array) => void) => void) => boolean;

/** Files (and live sessions) decoded by the core so far in this process (tests check which path a capture took). */
export const coreTdStats = { files: 0 };

export class CorePages {
  private readonly feeds: (Feed | undefined)[] = [];
  private readonly live = new Map<number, number>();
  private constructor(private readonly pd: TdCore, private readonly ex: TdExports, private readonly sink: EventSink,
    private readonly formats: EventFormat[], private readonly nameIds: number[]) {}

  /** The core path for these pages, or undefined when PageDecoder must decode them. */
  static open(sink: EventSink, o: CorePagesOptions): CorePages | undefined {
    // rows and --by gpa want each exit's info words (EV_EXIT_INFO): only the TypeScript decoder hands them over
    if (sink.exitDetail) return undefined;
    const core = sink as EventSink & { traceDatCore?: () => TdCore };
    if (typeof core.traceDatCore !== 'function') return undefined;
    if (!CorePages.takes(o.formats)) return undefined;
    const rows = o.formats.map(rowFor);
    const pd = core.traceDatCore.call(sink);
    const ex = pd.ex as unknown as TdExports;
    let typeOff = 0, typeSize = 2;
    for (const f of o.formats) {
      const ct = isLazy(f) ? f.commonType : f.field('common_type');
      if (ct) { typeOff = ct.offset; typeSize = ct.size; }
    }
    // names interned in the formats' order, as KvmEventDecoder does
    const nameIds = o.formats.map((f) => sink.intern(f.name));
    const base = ex.tdConfig(o.formats.length * TF_STRIDE + 16);
    const v = pd.view();
    o.formats.forEach((f, i) => {
      const r = rows[i];
      if (r) putRow(v, base + i * TF_STRIDE, f, r, nameIds[i]!);
      else { v.setInt32(base + i * TF_STRIDE, -1, true); v.setInt32(base + i * TF_STRIDE + 16, f.id, true); }
    });
    const L = o.layout;
    const conv = o.tsc2nsec;
    const off = o.tsOffset ?? 0n;
    const cv = conv ? 2 : off !== 0n ? 1 : 0;
    ex.tdBegin(o.formats.length, typeOff, typeSize, o.littleEndian ? 0 : 1, ex.scratchPtr(), L.tsOff, L.tsSize, L.commitOff,
      L.commitSize, L.dataOff, o.pageSize, cv, BigInt.asUintN(64, conv?.mult ?? 1n), Number(conv?.shift ?? 0n),
      BigInt.asUintN(64, conv?.offset ?? 0n), BigInt.asIntN(64, off));
    coreTdStats.files++;
    return new CorePages(pd, ex, sink, o.formats, nameIds);
  }

  /** Whether the core decodes records of these formats for a sink that is the Core (else PageDecoder does). */
  static takes(formats: EventFormat[]): boolean {
    if (process.env.KVMTAX_TRACEDAT_PATH === 'ts') return false;
    if (formats.some((f) => f.id < 0 || f.id >= 65536)) return false;
    return formats.every((f) => rowFor(f) !== undefined);
  }

  /** saved_tgids (replaces what was set) */
  setTgids(tgids: Map<number, number>): void {
    this.ex.tdClearTgids();
    for (const [tid, tgid] of tgids) this.ex.tdSetTgid(tid, tgid);
  }
  /** a saved cmdline: the name a thread whose process an event states gets when the event names none */
  setSaved(tid: number, comm: string): void {
    this.ex.tdSetSaved(tid, this.sink.intern(comm));
  }
  /** tid's process: stated by an event, else saved_tgids, else -1 */
  tgidOf(tid: number): number { return this.ex.tdTgidOf(tid); }
  /** whether an event (sched comm field, task_newtask, sched_process_exec) named this thread */
  named(tid: number): boolean { return this.ex.tdNamed(tid) !== 0; }
  /** threads whose process events stated, and which events ("sched_process_exec", "task_newtask") */
  learned(): { count: number; how: string[] } {
    const h = this.ex.tdLearnedHow();
    return { count: this.ex.tdLearnedCount(), how: [...(h & 1 ? ['sched_process_exec'] : []), ...(h & 2 ? ['task_newtask'] : [])] };
  }
  get events(): number { return Number(this.ex.tdEvents()); }
  get lost(): number { return Number(this.ex.tdLost()); }

  /** A CPU's whole page stream (trace.dat), read piece by piece as the merge needs it; returns its index. */
  addStream(cpu: number, feed: Feed): number {
    const si = this.ex.tdStream(cpu, 0);
    this.feeds[si] = feed;
    return si;
  }

  /** --jobs: deliver only records whose raw time is in [lo, hi) (undefined: unbounded); streams stop at hi. */
  setWindow(lo: bigint | undefined, hi: bigint | undefined): void {
    this.ex.tdWindow(BigInt.asUintN(64, lo ?? 0n), BigInt.asUintN(64, hi ?? 0n), (lo !== undefined ? 1 : 0) | (hi !== undefined ? 2 : 0));
  }
  /**
   * --jobs: this is a later slice of its file. Without `seed` it logs what it assumes of the state before it
   * (speculative); with it, it starts from that state (learned processes, sched comm names) as one job would.
   */
  beginSlice(seed?: { learned: Array<[number, number]>; comms: Array<[number, string]> }): void {
    this.ex.tdLater(1);
    if (!seed) { this.ex.tdSpec(1); return; }
    for (const [tid, tgid] of seed.learned) this.ex.tdSeedLearned(tid, tgid);
    for (const [tid, comm] of seed.comms) this.ex.tdSeedComm(tid, this.sink.intern(comm));
  }
  /** Times that went back within a CPU stream (page headers and records), and the page offset of the first. */
  backwards(): { count: number; at: number } { return { count: Number(this.ex.tdBackwards()), at: Number(this.ex.tdBackOff()) }; }
  /** Stream si's walk. */
  walk(si: number, cpu: number): StreamWalk {
    const p = this.ex.tdStreamInfo(si);
    const v = this.pd.view();
    return {
      cpu, firstPos: v.getBigInt64(p, true), lastPos: v.getBigInt64(p + 8, true), stopPos: v.getBigInt64(p + 16, true),
      firstHdr: v.getBigUint64(p + 24, true), lastItem: v.getBigUint64(p + 32, true),
    };
  }
  /** What the decoder assumed and changed (for the slices after it, or to check this one). */
  sliceState(): SliceState {
    const ex = this.ex;
    const pairs = (which: number): Array<[number, number]> => {
      const n = ex.tdDump(which);
      const v = this.pd.view();
      const p = ex.tdDumpPtr();
      return Array.from({ length: n }, (_, i) => [v.getInt32(p + 8 * i, true), v.getInt32(p + 8 * i + 4, true)] as [number, number]);
    };
    const initReads = pairs(0).map(([tid]) => tid);
    const comms = pairs(1).map(([tid, id]) => [tid, this.pd.stringOf(id)] as [number, string]);
    const n = ex.tdLogCount();
    const v = this.pd.view();
    const p = ex.tdLogPtr();
    const log: SliceState['log'] = [];
    for (let i = 0; i < n; i++) {
      const e = p + 16 * i;
      const kind = v.getInt32(e, true);
      const v1 = v.getInt32(e + 8, true);
      log.push([kind, v.getInt32(e + 4, true), (kind & 0xff) === LG_DEFER ? this.pd.stringOf(v1) : v1, v.getInt32(e + 12, true)]);
    }
    const firsts: SliceState['firsts'] = [];
    const lost: SliceState['lost'] = [];
    const fp = ex.tdFirstsPtr(), fn = ex.tdFirstsCount(), lp = ex.tdLostLogPtr(), ln = ex.tdLostLogCount();
    for (let i = 0; i < fn; i++) {
      const e = fp + 24 * i;
      firsts.push([v.getInt32(e, true), v.getInt32(e + 4, true), Number(v.getBigInt64(e + 8, true)), Number(v.getBigInt64(e + 16, true))]);
    }
    for (let i = 0; i < ln; i++) lost.push([v.getInt32(lp + 16 * i, true), Number(v.getBigInt64(lp + 16 * i + 8, true))]);
    return { initReads, log, comms, firsts, lost };
  }

  /** Raw pages of one CPU as trace_pipe_raw gave them (copied into the core). */
  addPages(cpu: number, bytes: Uint8Array): void {
    let si = this.live.get(cpu);
    if (si === undefined) { si = this.ex.tdStream(cpu, 1); this.live.set(cpu, si); }
    if (bytes.length === 0) return;
    const p = this.ex.tdFeedPtr(si, bytes.length);
    new Uint8Array(this.pd.view().buffer, p, bytes.length).set(bytes);
    this.ex.tdFed(si, bytes.length, 0n, 1, 0, 0);
  }

  /** As PageDecoder.flush: deliver what no page still to come can precede; returns the events delivered. */
  flush(all = false, waitFor?: ReadonlySet<number>): number {
    for (const [cpu, si] of this.live) this.ex.tdWait(si, !waitFor || waitFor.has(cpu) ? 1 : 0);
    return this.run(all, false);
  }

  /** End of input: deliver everything, short last pages included. */
  finish(): { events: number; lost: number } {
    for (const si of this.live.values()) this.ex.tdEnd(si);
    this.run(true, true);
    return { events: this.events, lost: this.lost };
  }

  private run(all: boolean, fin: boolean): number {
    const before = this.events;
    const ex = this.ex;
    for (;;) {
      const r = ex.tdRun(all ? 1 : 0, fin ? 1 : 0);
      this.pd.view();
      this.drainSkips();
      if (r === 0) { this.pd.drainRows(); break; }
      if (r === TD_ROWS) { this.pd.drainRows(); continue; }
      if (r === TD_FORMAT) {
        // the first record of a format not parsed yet: an EV_OTHER row (rowOf of an unmapped name)
        const fi = ex.tdNeed();
        const f = this.formats[fi]!;
        const base = ex.tdConfig(TF_STRIDE);
        putRow(this.pd.view(), base, f, rowOf(f)!, this.nameIds[fi]!);
        ex.tdSetFormat(fi);
        continue;
      }
      if (r !== TD_NEED) this.fail(r);
      const si = ex.tdNeed();
      const feed = this.feeds[si]!;
      let wrote = false;
      const more = feed((n, fileOff, step, fill) => {
        const p = ex.tdFeedPtr(si, n);
        fill(new Uint8Array(this.pd.view().buffer, p, n));
        ex.tdFed(si, n, BigInt(fileOff), step ? 1 : 0, 1, 0);
        wrote = wrote || n > 0;
      });
      if (!more && !wrote) ex.tdEnd(si);
    }
    return this.events - before;
  }

  private fail(code: number): never {
    const off = Number(this.ex.tdErrOff());
    const val = this.ex.tdErrVal();
    const what: Record<number, string> = {
      [-3]: 'truncated event header', [-4]: 'event past the page commit', [-5]: 'truncated event length',
      [-6]: `bad event length ${val}`, [-7]: `bad padding length ${val}`, [-8]: 'truncated time extend',
      [-9]: 'truncated time stamp', [-20]: 'string field outside the record',
    };
    if (code === -1) throw new FormatError(`truncated page at offset ${off}`, off);
    if (code === -2) throw new FormatError(`bad page commit ${val} at offset ${off}`, off);
    throw new FormatError(`${what[code] ?? `page error ${code}`} in page at offset ${off}`, off);
  }

  /** The skips the core kept, worded as KvmEventDecoder and Core.push word them. */
  private drainSkips(): void {
    const ex = this.ex;
    const n = ex.tdSkipCount();
    if (n === 0) return;
    const items = readCoreSkips(this.pd.view(), ex.tdSkipsPtr(), n);
    ex.tdSkipsClear();
    for (const s of items) {
      let msg: string;
      switch (s.code) {
        case 1: { const f = this.formats[Number(s.v1)]!; msg = `${f.name}: record of ${s.v2} bytes, format needs ${minSize(f)}`; break; }
        case 2: msg = `unknown event type id ${s.v1}`; break;
        case 3: msg = `record of ${s.v2} bytes without an event type`; break;
        case 4: {
          const name = Number(s.v1 & 0xffffffffn) | 0;
          const ts = s.v1 >> 32n ? s.v2 : BigInt.asUintN(64, s.v2);
          msg = `${name >= 0 ? this.pd.stringOf(name) : 'event'}: timestamp ${ts} out of range`;
          break;
        }
        case 5: msg = `kvm_vcpu_wakeup: time ${s.v1 ? s.v2 : BigInt.asUintN(64, s.v2)} ns`; break;
        default: msg = `skipped (code ${s.code})`;
      }
      this.sink.skip(s.kind, s.where, msg);
    }
  }
}
