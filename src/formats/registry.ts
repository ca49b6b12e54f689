/**
 * The one list of input formats. Everything that depends on which formats exist comes from here:
 * detection of an input, the --input-format choices, the "expected a trace (...)" wording, and the fuzz
 * harness's reading path.
 *
 *   bytes -> detect (each entry's detect(head, name), binary entries first) -> entry.read(input, sink, options)
 *
 * A binary entry reads a seekable file (the pipeline first writes a compressed or piped input out whole);
 * a text entry streams its ByteSource through the WebAssembly tokenizer. Each reader, and what it needs
 * (zstd, protobufjs), is loaded only when a file of its format comes.
 *
 * To add a format: a folder src/formats/<name>/ whose module exports the reader, and one entry below.
 */
import type { EventSink } from '../core/sink.js';
import type { Core } from '../wasm/core.js';
import { KvmtaxError, excerpt } from '../core/errors.js';
import type { ByteSource } from './source.js';
import { FormatError } from './bytes.js';
import { FMT_FTRACE, FMT_PERF, FMT_TRACECMD } from '../../assembly/constants.js';
import { detectTextFormat, looksLikeText, scanTextSource } from './text/text.js';
import { isPerfData } from './perfdata/header.js';
import { isTraceDat } from './tracedat/meta.js';
import type { TraceDatInfo } from './tracedat/reader.js';
import { looksLikePerfetto } from './perfetto/wire.js';
import { zstdWarmup } from './decompress.js';

/** What a reader gets: the source (text) or a path readable at offsets (binary), and a name to show. */
export interface ReaderInput {
  src: ByteSource;
  /** a plain file holding the (decompressed) content: binary readers use it */
  path: string;
  /** the name messages show */
  display: string;
}

export interface ReadOptions {
  strict?: boolean;
  /** trace.dat: the buffer (instance) to read */
  buffer?: string;
  /** tests: new bytes per scan call (text) */
  chunkBytes?: number;
  /** the core's file index of this input (text) */
  fileIndex?: number;
  onProgress?: (bytesRead: number) => void;
  /** a sampled recording (perf.data with -c N / -F N): how it sampled and its kvm_exit samples per reason key */
  onSampled?: (s: SampledRead) => void;
}

/** What a sampled recording's reader found: exits per reason key (the sink's dictionary id) as [samples, Σ PERIOD]. */
export interface SampledRead { sampling: string; samples: number; periodSum: number; exits: Map<number, [number, number]> }

/** Where a reader's events go: the Core itself (text: its tokenizer) or a file's EventSink (binary). */
export type ReadTarget = Core | EventSink;

/** Metadata a reader shows in the report's input section. */
export type ReaderMeta = Record<string, string | number>;

export interface FormatEntry {
  /** --input-format value and the report's "format" */
  name: string;
  /** how the "expected a trace (...)" message names it */
  phrase: string;
  /** text: tokenized in the core from a stream; binary: read at offsets from a file */
  text: boolean;
  /** the core's FMT_* tokenizer mode (text entries) */
  fmt?: number;
  /** does this content (its first bytes, up to HEAD_BYTES) and file name look like this format? */
  detect(head: Uint8Array, fileName: string): boolean;
  /** Read the input into the sink (the Core for text entries, an EventSink for binary ones); binary readers return their metadata. */
  read(input: ReaderInput, sink: ReadTarget, options: ReadOptions): Promise<ReaderMeta | undefined>;
}

// ---- text: the three tokenizer modes share one vote over the head (detectTextFormat) ----

let lastHead: Uint8Array | undefined;
let lastVote: number | undefined;
function textVote(head: Uint8Array): number | undefined {
  if (head !== lastHead) {
    lastHead = head;
    lastVote = looksLikeText(head) ? detectTextFormat(Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1')) : undefined;
  }
  return lastVote;
}

function textEntry(name: string, phrase: string, fmt: number): FormatEntry {
  return {
    name, phrase, text: true, fmt,
    detect: (head) => textVote(head) === fmt,
    async read(input, sink, o) {
      await scanTextSource(sink as Core, input.src, o.fileIndex ?? 0, fmt, o.strict ?? false, o.chunkBytes, o.onProgress);
      return undefined;
    },
  };
}

/** The entries that say something (not undefined, empty or zero): metadata shows only what a file has. */
function present(o: Record<string, string | number | undefined>): ReaderMeta {
  const out: ReaderMeta = {};
  for (const [k, v] of Object.entries(o)) if (v) out[k] = v;
  return out;
}

/** What the report says of a perf.data besides its events (its reader's PerfDataInfo). */
export function perfDataMeta(i: import('./perfdata/header.js').PerfDataInfo): ReaderMeta {
  return {
    pipe_mode: i.pipeMode ? 'yes' : 'no', samples: i.samples,
    ...present({ hostname: i.hostname, os_release: i.osRelease, cmdline: i.cmdline, nr_cpus: i.nrCpus, lost: i.lost, guest_samples: i.guestSamples, throttled: i.throttled, data_files: i.dataFiles }),
    // a sampled recording: each sample stands for PERIOD events; Σ PERIOD is perf report's "Event count (approx.)"
    ...present({ sampling: i.sampling, period_sum: i.sampling && i.periodSums ? Object.values(i.periodSums).reduce((x, y) => x + y, 0) : undefined }),
  };
}

/** What a report says of a trace.dat input (read by one thread, or in --jobs slices: pipeline/jobs-tracedat.ts). */
export function traceDatMeta(i: TraceDatInfo): ReaderMeta {
  return {
    version: i.version, cpus: i.cpus, clock: i.clock, buffer: i.buffer || '(top)', buffers: i.buffers.map((b) => b || '(top)').join(','),
    ...present({ compression: i.compression, lost_events: i.lostEvents, processes_from: i.processes }),
  };
}

/** Every format, in the order --input-format lists them (text first). */
export const FORMATS: readonly FormatEntry[] = [
  textEntry('ftrace', 'ftrace', FMT_FTRACE),
  textEntry('trace-cmd', 'trace-cmd report', FMT_TRACECMD),
  textEntry('perf', 'perf script', FMT_PERF),
  {
    name: 'perf.data', phrase: 'perf.data', text: false,
    detect: (head) => isPerfData(head),
    async read(input, sink, o) {
      const { readPerfData } = await import('./perfdata/reader.js');
      const i = await readPerfData(input.path, sink as EventSink);
      if (i.sampling && o.onSampled) {
        o.onSampled({ sampling: i.sampling, samples: i.samples, exits: i.exitPeriods ?? new Map(),
          periodSum: Object.values(i.periodSums ?? {}).reduce((x, y) => x + y, 0) });
      }
      return perfDataMeta(i);
    },
  },
  {
    name: 'trace.dat', phrase: 'trace.dat', text: false,
    detect: (head) => isTraceDat(head),
    async read(input, sink, o) {
      const { readTraceDat } = await import('./tracedat/reader.js');
      await zstdWarmup(input.path, 'zstd'); // libzstd for the zstd sections of a large v7 file (decompress.ts)
      return traceDatMeta(readTraceDat(input.path, sink as EventSink, { buffer: o.buffer }));
    },
  },
  {
    name: 'perfetto', phrase: 'Perfetto', text: false,
    // a Perfetto trace is a sequence of `TracePacket packet = 1` fields: tag 0x0a, then a length varint
    detect: (head, name) => /\.(pftrace|perfetto-trace|perfetto)$/.test(name.replace(/\.(gz|xz)$/, '')) ||
      (head[0] === 0x0a && head.length > 2 && looksLikePerfetto(head)),
    async read(input, sink) {
      const { readPerfetto } = await import('./perfetto/reader.js');
      await zstdWarmup(input.path); // libzstd for zstd_compressed_packets of a large file (decompress.ts)
      const i = readPerfetto(input.path, sink as EventSink);
      return {
        packets: i.packets, ftrace_bundles: i.bundles, cpus: i.cpus, ftrace_events: i.ftraceEvents,
        ...present({
          compressed_packets: i.compressedPackets, compact_sched_events: i.compactSched, generic_events: i.genericEvents,
          dense_generic_events: i.denseGenericEvents, lost_bundles: i.lostBundles, ftrace_overrun: i.overrun,
          exits_without_reason: i.exitsWithoutReason,
        }),
      };
    },
  },
];

/** The --input-format choices. */
export const FORMAT_NAMES: readonly string[] = FORMATS.map((f) => f.name);

function orList(xs: string[]): string {
  return xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`;
}
/** "ftrace, trace-cmd report or perf script text, perf.data, trace.dat or Perfetto" */
export const EXPECTED = `expected a trace (${orList(FORMATS.filter((f) => f.text).map((f) => f.phrase))} text, ` +
  `${orList(FORMATS.filter((f) => !f.text).map((f) => f.phrase))})`;

/** The entry of a --input-format name. */
export function formatNamed(name: string): FormatEntry {
  const f = FORMATS.find((x) => x.name === name);
  if (!f) throw new KvmtaxError(`unknown format "${name}" (known: ${FORMAT_NAMES.join(', ')})`);
  return f;
}

/**
 * The format of an input from its first bytes and name: binary entries are asked first (their magic is
 * exact), then the text vote. Content that is none of them is a one-line error quoting what it holds.
 */
export function detectFormat(head: Uint8Array, name: string): FormatEntry {
  for (const f of FORMATS) if (!f.text && f.detect(head, name)) return f;
  if (head.length === 0) throw new KvmtaxError('empty file: expected a trace', { file: name, line: 1, col: 1 });
  if (!looksLikeText(head)) throw new KvmtaxError(`${EXPECTED} (got binary data ${hexHead(head)})`, { file: name, offset: 0 });
  for (const f of FORMATS) if (f.text && f.detect(head, name)) return f;
  const first = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1').split('\n').find((l) => l.trim() !== '') ?? '';
  throw new KvmtaxError(`${EXPECTED} (got ${excerpt(first)})`, { file: name, line: 1, col: 1 });
}

/** The binary format of a head, if one of the binary readers accepts it. */
export function detectBinary(head: Uint8Array, name: string): FormatEntry | undefined {
  return FORMATS.find((f) => !f.text && f.detect(head, name));
}

/**
 * Read one input with its entry; a reader's FormatError becomes the one error shape
 * `file: byte N: what`, its control bytes escaped so the message stays one line
 * (fuzz-found: perfdata-4779bdf818, tracedat-085c3b9d98).
 */
export async function readWith(entry: FormatEntry, input: ReaderInput, sink: ReadTarget, options: ReadOptions = {}): Promise<ReaderMeta | undefined> {
  try {
    return await entry.read(input, sink, options);
  } catch (e) {
    if (e instanceof FormatError) throw new KvmtaxError(oneLine(e.message), { file: input.display, offset: e.offset });
    // a limit met while reading this file (the memory budget) names the file it was reading
    if (e instanceof KvmtaxError && e.file === undefined) throw new KvmtaxError(e.message, { file: input.display, exitCode: e.exitCode });
    throw e;
  }
}

/** A message with its control bytes (newlines, CR, NUL...) escaped as \xNN. */
export function oneLine(msg: string): string {
  return msg.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function hexHead(b: Uint8Array): string {
  return `"${[...b.subarray(0, 8)].map((x) => x.toString(16).padStart(2, '0')).join(' ')}..."`;
}
