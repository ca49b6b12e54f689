/**
 * The whole pipeline for a set of inputs:
 *   open (decompress) -> detect the format -> reader -> core -> summarize -> Report
 * Several files give one report; each keeps its own threads and VMs (file index in the core).
 * Reading one input is read-input.ts; a text file read by worker threads is jobs.ts.
 */
import { Core, planTiering, type CoreTables, type NestedRec, type RowSink } from '../wasm/core.js';
import { version } from '../core/package-root.js';
import { MergeInexact, mergeTables, type Part } from '../wasm/merge.js';
import { KvmtaxError } from '../core/errors.js';
import fs from 'node:fs';
import { compressionOf, openSource, type ByteSource } from '../formats/source.js';
import { isTraceDat } from '../formats/tracedat/meta.js';
import { UnpackSource, bigEnoughToUnpackAside } from './unpack-source.js';
import { summarize } from '../analysis/summary.js';
import { filterTables, describeFilter, type ThreadFilter } from '../analysis/filter.js';
import type { InputInfo, Report } from '../analysis/types.js';
import { readOne } from './read-input.js';
import { JobsFallback } from './jobs.js';
import { phase } from '../core/phases.js';
import { keepYoungGenerationSmall, LARGE_INPUT } from '../core/young-gen.js';

export interface AnalyzeOptions {
  /** force a format: ftrace | trace-cmd | perf | perf.data | trace.dat | perfetto */
  format?: string;
  strict?: boolean;
  tscKhz?: number;
  isa?: number;
  top?: number;
  histograms?: boolean;
  /** add the userspace round-trip section */
  userspace?: boolean;
  /** add the nested-virtualization section (per-reason L2 exits handled by L0 / reflected to L1; one thread per file) */
  nested?: boolean;
  /** add the handling-time split */
  handling?: boolean;
  /** --by rip: keep each exit's guest rip (text input; read by one thread) */
  rips?: boolean;
  /** --by gpa: keep each NPF / EPT-violation exit's guest-physical page (SVM info2, VMX kvm_page_fault; read by one thread) */
  gpas?: boolean;
  /** --guest-symbols: the guest's kallsyms / System.map */
  guestSymbols?: import('../analysis/rips.js').GuestSymbols;
  /** trace.dat: the buffer (instance) to read */
  buffer?: string;
  /** tests: new bytes per scan call, to exercise chunk boundaries */
  chunkBytes?: number;
  /** tests: the core's input arena (binary readers read chunks of this size; default 4 MiB) */
  arenaBytes?: number;
  /** stream every handled exit, halt and lapic event out as rows (src/analysis/rows.ts) */
  rows?: RowSink;
  /** tests: rows held between two drains */
  rowCapacity?: number;
  /** called as input bytes are read: (bytes of this file, its index) */
  onProgress?: (bytes: number, fileIndex: number) => void;
  /** worker threads for a plain text file (line-aligned slices) or a trace.dat (time slices), merged exactly; 1: none */
  jobs?: number;
  /** files (as named in the report) read by one thread whatever `jobs` says (set after a --jobs fallback) */
  oneThread?: string[];
  /** tests: the raw times a trace.dat is cut at with jobs > 1 (instead of where its bytes balance) */
  jobsCuts?: bigint[];
  /** files cut a seventh of a slice later than usual (set after slices whose cuts fell badly) */
  jobsShift?: string[];
  /**
   * tests: a text file's slices are cut once the main thread has read this many bytes and every worker is ready
   * (the main thread waits for them); without it they are cut as soon as the workers are ready (slice-control.ts)
   */
  jobsCutAfter?: number;
  /** tests: called with a text file's slice offsets when --jobs cuts it (slice k is [cuts[k], cuts[k + 1])) */
  onJobsCut?: (file: string, cuts: number[]) => void;
  /**
   * --jobs slices of a text file or perf.data read ahead (the next chunk on libuv's pool while the core works)
   * only when a CPU is left for the reads: fewer slices than CPUs. Tests set it to take either path.
   */
  sliceReadAhead?: boolean;
  /** files smaller than this are read by one thread even with jobs > 1, as is a text file's rest when less than this is left once the workers are ready (default 16 MiB) */
  jobsMinBytes?: number;
  /** the run's inputs, when it analyzes them in parts (compare: both sides), for the core's tiering (wasm/core.ts planTiering) */
  tieringInputs?: string[];
  /** the run's memory budget in MiB (each worker's too); default DEFAULT_MAX_MEMORY_MB (wasm/core.ts) */
  maxMemoryMb?: number;
  /** --pid / --vcpu: only these vCPU threads (perf kvm stat report's -p and --vcpu) */
  filter?: ThreadFilter;
}

/** kvmtax's version (core/package-root.ts), re-exported for the commands that put it in their output. */
export { version };

export async function analyze(files: string[], opts: AnalyzeOptions = {}): Promise<Report> {
  planTiering(contentEstimate(opts.tieringInputs ?? files));
  // a file --jobs could not read in exact slices is read again by one thread, and the report says so
  const notes: string[] = [];
  for (;;) {
    try {
      const report = await analyzeOnce(files, opts);
      report.notes.push(...notes);
      return report;
    } catch (e) {
      if (!(e instanceof JobsFallback) || opts.oneThread?.includes(e.file)) throw e;
      if (e.retry && !opts.jobsShift?.includes(e.file)) {
        // where the cuts fell: cut it elsewhere once
        opts = { ...opts, jobsShift: [...(opts.jobsShift ?? []), e.file] };
        continue;
      }
      notes.push(`--jobs: ${e.file} was read by one thread: ${e.why}`);
      opts = { ...opts, oneThread: [...(opts.oneThread ?? []), e.file] };
    }
  }
}

/**
 * The content of the files in bytes, as far as they tell before they are read (the core's tiering: wasm/core.ts
 * planTiering): a .gz or .xz file, or a trace.dat whose header names zstd or zlib, counts 16 times its size (the
 * bundled captures' .xz hold 20-30 times theirs, a trace.dat's zstd sections about 12); undefined when an input
 * is not a regular file (standard input, a FIFO: never opened here) or cannot be opened (its error comes later,
 * from the reader).
 */
export function contentEstimate(files: string[]): number | undefined {
  let total = 0;
  const head = Buffer.alloc(4096);
  for (const f of files) {
    // stat first: opening a FIFO would wait for its writer, and reading it would take the reader's bytes
    let st: fs.Stats;
    try {
      st = fs.statSync(f);
    } catch {
      return undefined;
    }
    if (!st.isFile()) return undefined;
    let fd: number;
    try {
      fd = fs.openSync(f, 'r');
    } catch {
      return undefined;
    }
    try {
      const h = head.subarray(0, fs.readSync(fd, head, 0, head.length, 0));
      const packed = compressionOf(h) !== undefined || (isTraceDat(h) && (h.includes('zstd', 0, 'latin1') || h.includes('zlib', 0, 'latin1')));
      total += st.size * (packed ? 16 : 1);
    } catch {
      return undefined;
    } finally {
      fs.closeSync(fd);
    }
  }
  return total;
}

/** Will this input make a large run (core/young-gen.ts)? A compressed file counts as 8 times its size. */
export function largeInput(file: string, src: Pick<ByteSource, 'size' | 'compression'>): boolean {
  let bytes = src.size;
  if (bytes === undefined) {
    try {
      const st = fs.statSync(file);
      bytes = st.isFile() ? st.size * (src.compression ? 8 : 1) : undefined;
    } catch {
      bytes = undefined;
    }
  }
  return bytes === undefined || bytes > LARGE_INPUT;
}

async function analyzeOnce(files: string[], opts: AnalyzeOptions): Promise<Report> {
  if (files.length === 0) throw new KvmtaxError('no input files');
  const filtered = opts.filter && (opts.filter.pid !== undefined || opts.filter.vcpu !== undefined);
  // a filter keeps some threads' slowest exits only: the core keeps more of them to choose from
  const topN = Math.max(opts.top ?? 10, 10) * (filtered ? 20 : 1);
  const core = new Core({ topN, rows: opts.rows, rowCapacity: opts.rowCapacity, maxMemoryMb: opts.maxMemoryMb, arenaBytes: opts.arenaBytes });
  if (opts.rips) core.trackRips(true);
  if (opts.gpas) core.trackGpas(true);
  if (opts.nested) core.trackNested();
  const inputs: InputInfo[] = [];
  const sliced: Part[] = [];
  // the core's own tables when the last file's --jobs slices read them while the workers finished
  let own: CoreTables | undefined;
  for (const [k, file] of files.entries()) {
    let src = await openSource(file);
    if (largeInput(file, src)) keepYoungGenerationSmall();
    // opt-in (KVMTAX_UNPACK_ASIDE=1): a large compressed file decompressed on a worker thread beside the
    // scan (formats/source.ts opens it there as here). Off by default: .gz inflates on libuv's pool and .xz in
    // the system's xz process, beside the scan already; with the builtin xz decoder it measured slower than
    // inline on the loaded 2-core machine (128 MiB: 6.03 vs 5.21 s, 183 vs 134 MB RSS: README, Performance)
    if (src.compression && !src.path && process.env.KVMTAX_UNPACK_ASIDE === '1' && bigEnoughToUnpackAside(file)) {
      src.close();
      src = await UnpackSource.open(file);
    }
    try {
      inputs.push(await readOne(core, src, opts, sliced, topN, k === files.length - 1 ? (t) => { own = t; } : undefined));
    } finally {
      src.close();
    }
  }
  phase('inputs read');
  let all: CoreTables;
  try {
    all = sliced.length ? mergeTables([{ tables: own ?? core.tables(), lineOffset: 0 }, ...sliced], topN, core) : own ?? core.tables();
  } catch (e) {
    if (e instanceof MergeInexact) throw new JobsFallback(inputs[e.file]!.file, e.why, true);
    throw e;
  }
  phase('tables merged');
  sliced.length = 0; // the workers' tables are merged: let them go before the summary
  const { tables, kept, of } = filterTables(all, opts.filter ?? {});
  const report = summarize(tables, inputs, {
    tscKhz: opts.tscKhz, isa: opts.isa, top: opts.top ?? 10, histograms: opts.histograms, userspace: opts.userspace, handling: opts.handling,
    rips: opts.rips ? { ...ripsOf(core.rips(), all, tables), symbols: opts.guestSymbols } : undefined,
    gpas: opts.gpas ? ripsOf(core.gpas(), all, tables) : undefined, version: version(),
    nested: opts.nested ? nestedOf(core.nested(), all, tables) : undefined,
  });
  phase('summarized');
  if (filtered) {
    report.notes.unshift(`${describeFilter(opts.filter!)}: the figures are of ${kept} of the trace's ${of} vCPU threads (as perf kvm stat report -p/--vcpu); events by name, lost events and skipped lines are the whole trace's`);
  }
  return report;
}

/** The core's nested table with its thread indices in the (filtered) tables' numbering. */
function nestedOf(rows: NestedRec[], all: CoreTables, tables: CoreTables): NestedRec[] {
  if (tables === all) return rows;
  const key = (th: CoreTables['threads'][number]) => `${th.file}:${th.tid}:${th.tgid}`;
  const at = new Map(tables.threads.map((th, i) => [key(th), i]));
  return rows.flatMap((r) => {
    const i = at.get(key(all.threads[r.thread]!));
    return i === undefined ? [] : [{ ...r, thread: i }];
  });
}

/** The core's guest-rip table with its bin indices in the (filtered) tables' numbering. */
function ripsOf(r: ReturnType<Core['rips']>, all: CoreTables, tables: CoreTables): ReturnType<Core['rips']> {
  if (tables === all) return r;
  const keptThreads = new Set(tables.threads.map((th) => `${th.file}:${th.tid}:${th.tgid}`));
  const at = new Map<number, number>();
  all.bins.forEach((b, i) => {
    const th = all.threads[b.thread]!;
    if (keptThreads.has(`${th.file}:${th.tid}:${th.tgid}`)) at.set(i, at.size);
  });
  return { entries: r.entries.filter((e) => at.has(e.bin)).map((e) => ({ ...e, bin: at.get(e.bin)! })), dropped: r.dropped };
}
