/**
 * perf.data file layout: record types, sample_type / read_format / feature bits, the sample's fixed
 * fields, perf_event_attr, and the embedded tracing data (event formats, saved cmdlines).
 * Defined in tools/perf/Documentation/perf.data-file-format.txt, tools/include/uapi/linux/perf_event.h,
 * tools/perf/util/header.c and tools/perf/util/trace-event-read.c (facts taken, code written from scratch).
 */
import type { EventSink } from '../../core/sink.js';
import { FormatError, ByteCursor, u64n } from '../bytes.js';
import { parseEventFormat, type EventFormat } from '../tracefs-format.js';
import { SKIP_BAD_PAYLOAD } from '../../../assembly/constants.js';

// ---- record types (perf_event.h, perf.data-file-format.txt) ----
export const REC_LOST = 2;
export const REC_COMM = 3;
export const REC_EXIT = 4;
/** the kernel stopped sampling an event for a while: it fired faster than perf_event_max_sample_rate allows */
export const REC_THROTTLE = 5;
export const REC_FORK = 7;
export const REC_SAMPLE = 9;
export const REC_LOST_SAMPLES = 13;
export const REC_HEADER_ATTR = 64;
export const REC_HEADER_EVENT_TYPE = 65;
export const REC_HEADER_TRACING_DATA = 66;
export const REC_FINISHED_ROUND = 68;
export const REC_AUXTRACE = 71;
export const REC_EVENT_UPDATE = 78;
export const REC_HEADER_FEATURE = 80;
export const REC_COMPRESSED = 81;

// ---- sample_type bits ----
export const S_IP = 1 << 0;
export const S_TID = 1 << 1;
export const S_TIME = 1 << 2;
export const S_ADDR = 1 << 3;
export const S_READ = 1 << 4;
export const S_CALLCHAIN = 1 << 5;
export const S_ID = 1 << 6;
export const S_CPU = 1 << 7;
export const S_PERIOD = 1 << 8;
export const S_STREAM_ID = 1 << 9;
export const S_RAW = 1 << 10;
export const S_IDENTIFIER = 1 << 16;

// ---- read_format bits ----
export const RF_TOTAL_TIME_ENABLED = 1 << 0;
export const RF_TOTAL_TIME_RUNNING = 1 << 1;
export const RF_ID = 1 << 2;
export const RF_GROUP = 1 << 3;
export const RF_LOST = 1 << 4;

// ---- feature bits ----
export const FEAT_TRACING_DATA = 1;
export const FEAT_HOSTNAME = 3;
export const FEAT_OSRELEASE = 4;
export const FEAT_NRCPUS = 7;
export const FEAT_CMDLINE = 11;
export const FEAT_EVENT_DESC = 12;
/** HEADER_DIR_FORMAT: u64 version (1) of a directory recording (`perf record --threads`): data.N files beside the header file */
export const FEAT_DIR_FORMAT = 24;

// ---- header.misc ----
export const MISC_CPUMODE_MASK = 7;
export const MISC_GUEST_KERNEL = 4;
export const MISC_GUEST_USER = 5;

export const PERF_TYPE_TRACEPOINT = 2;
export const ATTR_SIZE_VER0 = 64;
export const FILE_HEADER_SIZE = 104;
export const PIPE_HEADER_SIZE = 16;
export const EVENT_UPDATE_NAME = 2;

export const MAGIC = 'PERFILE2';
export const MAGIC_SWAPPED = '2ELIFREP';

export const latin1 = new TextDecoder('latin1');
export const utf8 = new TextDecoder('utf-8', { fatal: false });

/** True when `head` (the first 8 bytes or more of a file) starts with the perf.data magic, either byte order. */
export function isPerfData(head: Uint8Array): boolean {
  if (head.length < 8) return false;
  const m = latin1.decode(head.subarray(0, 8));
  return m === MAGIC || m === MAGIC_SWAPPED;
}

/** What readPerfData learned about the file besides the events it pushed. */
export interface PerfDataInfo {
  pipeMode: boolean;
  /** PERF_RECORD_SAMPLE records processed */
  samples: number;
  /** samples per event name (tracepoints by their bare name, e.g. "kvm_exit"; others as perf names them) */
  events: Record<string, number>;
  /** events the kernel reported as lost (PERF_RECORD_LOST + PERF_RECORD_LOST_SAMPLES) */
  lost: number;
  /**
   * samples whose cpumode says "guest" (misc GUEST_KERNEL/GUEST_USER): host tracepoints that fired while a vCPU
   * was in guest mode, e.g. a sched_wakeup from an interrupt (real capture svm-B: 12). They are real host events
   * and are pushed like the others; `perf script` hides them unless run with --guest (see skipGuestSamples).
   */
  guestSamples: number;
  hostname?: string;
  osRelease?: string;
  cmdline?: string;
  nrCpus?: number;
  /** a directory recording (perf record --threads): the data files read after the header file's data section */
  dataFiles?: number;
  /** a slice (PerfDataOptions.slice) that could not be read exactly: why (assembly/perfdata.ts SLF_*, 100: not the core path) */
  sliceFailed?: number;
  /** PERF_RECORD_THROTTLE records: times the kernel stopped sampling an event that fired too often */
  throttled?: number;
  /**
   * Σ PERIOD of the samples read, per event name (like `events`): what `perf report` calls "Event count
   * (approx.)". Set when the file's samples carry PERIOD.
   */
  periodSums?: Record<string, number>;
  /**
   * How a sampled recording sampled (undefined when every event was recorded: sample_period 1 without freq):
   * "-F N" (attr.freq: a frequency, the period adapts and ramps up at the start) or "-c N" (every Nth event).
   */
  sampling?: string;
  /**
   * A sampled recording's kvm_exit samples per exit-reason key (the sink's dictionary id): [samples, Σ PERIOD].
   * Σ PERIOD is the estimate of that reason's exits.
   */
  exitPeriods?: Map<number, [number, number]>;
}

/** Tuning knobs (tests use small values to exercise chunk boundaries and the queue bound). */
export interface PerfDataOptions {
  /** bytes read from the data section per read (default 16 MiB) */
  chunkSize?: number;
  /**
   * upper bound of records held by the reorder queue; when a file has no FINISHED_ROUND records the queue
   * is half-flushed by time beyond this, as perf does when it reaches its memory limit (default 4 M)
   */
  maxQueued?: number;
  /** drop guest-mode samples as `perf script` does by default (default false: keep them, see guestSamples) */
  skipGuestSamples?: boolean;
  /**
   * --jobs: read one slice of the delivered event stream: from the FINISHED_ROUND record at file offset `from`
   * (-1: the data's start) to the one at `to` (-1: the end); see assembly/perfdata.ts pdSlice. Only the core
   * path can; `sliceFailed` in the info says when the file does not allow it (then read it with one job).
   */
  slice?: import('./core-path.js').SliceSpec;
}

/** One perf_event_attr of the file, with what the reader needs of it. */
export interface Attr {
  index: number;
  type: number;
  config: bigint;
  sampleType: number;
  readFormat: number;
  sampleIdAll: boolean;
  /** perf's name, e.g. "kvm:kvm_exit" (EVENT_UPDATE > EVENT_DESC > tracing data > EVENT_TYPE) */
  name: string;
  /** the name an EVENT_UPDATE record gave (pipe mode), or "" */
  updName: string;
  /** the key of PerfDataInfo.events and the name pushed for non-tracepoint samples */
  key: string;
  nameId: number;
  ids: number[];
  /** byte offsets in a PERF_RECORD_SAMPLE of this attr (from the record start; -1 = absent) */
  layout: SampleLayout;
  /** sample_period, or sample_freq when `freq` */
  period: number;
  /** attr.freq: `period` is a frequency (perf record -F) */
  freq: boolean;
  /** Σ PERIOD of the samples read */
  periodSum: number;
}

export interface SampleLayout {
  tid: number;
  time: number;
  cpu: number;
  period: number;
  /** where the fields after PERIOD (READ, CALLCHAIN, RAW, ...) start */
  fixedEnd: number;
}

/** The fixed part of a sample: IDENTIFIER IP TID TIME ADDR ID STREAM_ID CPU PERIOD, 8 bytes each when present. */
export function sampleLayout(st: number): SampleLayout {
  let o = 8;
  let tid = -1;
  let time = -1;
  let cpu = -1;
  let period = -1;
  if (st & S_IDENTIFIER) o += 8;
  if (st & S_IP) o += 8;
  if (st & S_TID) { tid = o; o += 8; }
  if (st & S_TIME) { time = o; o += 8; }
  if (st & S_ADDR) o += 8;
  if (st & S_ID) o += 8;
  if (st & S_STREAM_ID) o += 8;
  if (st & S_CPU) { cpu = o; o += 8; }
  if (st & S_PERIOD) { period = o; o += 8; }
  return { tid, time, cpu, period, fixedEnd: o };
}

/** The name of the fixed sample field that does not fit a record of `size` bytes. */
export function fieldAt(st: number, size: number): string {
  const names: [number, string][] = [[S_IDENTIFIER, 'IDENTIFIER'], [S_IP, 'IP'], [S_TID, 'TID'], [S_TIME, 'TIME'],
    [S_ADDR, 'ADDR'], [S_ID, 'ID'], [S_STREAM_ID, 'STREAM_ID'], [S_CPU, 'CPU'], [S_PERIOD, 'PERIOD']];
  let o = 8;
  for (const [bit, name] of names) {
    if (!(st & bit)) continue;
    if (o + 8 > size) return name;
    o += 8;
  }
  return 'sample';
}

export function overrun(where: number, size: number, what: string): never {
  throw new FormatError(`perf.data: sample at offset ${where}: ${what} runs past the end of its ${size}-byte record`, where);
}

/** The embedded tracing data (trace-event-read.c). */
export interface TracingData {
  littleEndian: boolean;
  formats: EventFormat[];
  savedCmdlines: Map<number, string>;
}

// ---- small byte helpers ----

export function hex(n: number): string {
  return '0x' + n.toString(16);
}

export function truncated(what: string, off: number): FormatError {
  return new FormatError(`perf.data: truncated ${what} at offset ${off}`, off);
}

/** A cursor over a file region whose errors read "perf.data: truncated <what> at offset N". */
export function cursor(bytes: Uint8Array, pos: number, end: number, le: boolean, fileBase: number, what: string): ByteCursor {
  return new ByteCursor(bytes, pos, end, le, fileBase, what, 'perf.data: ');
}

// ---- perf_event_attr ----

/** Decode the fields the reader needs from a perf_event_attr at bytes[off..off+size). */
export function parseAttr(bytes: Uint8Array, off: number, size: number, le: boolean, fileOff: number, index: number): Attr {
  if (size < ATTR_SIZE_VER0 || off + size > bytes.length) throw truncated('perf_event_attr', fileOff);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = v.getUint32(off, le);
  const config = v.getBigUint64(off + 8, le);
  const sampleType = u64n(v, off + 24, le);
  const readFormat = u64n(v, off + 32, le);
  // bitfield word at offset 40; sample_id_all is bit 18 in declaration order. Bitfields are allocated from
  // the least significant bit on little-endian machines, from the most significant bit on big-endian ones
  // (perf swaps them by reversing the bits of each byte), so the bit is in byte 2 either way.
  const flagsByte = bytes[off + 40 + 2]!;
  const sampleIdAll = le ? (flagsByte & (1 << 2)) !== 0 : (flagsByte & (1 << 5)) !== 0;
  // freq is bit 10: byte 1, bit 2 (little-endian) or bit 5 (big-endian); the union sample_period/sample_freq at 16
  const freqByte = bytes[off + 40 + 1]!;
  const freq = le ? (freqByte & (1 << 2)) !== 0 : (freqByte & (1 << 5)) !== 0;
  const period = u64n(v, off + 16, le);
  return { index, type, config, sampleType, readFormat, sampleIdAll, name: '', updName: '', key: '', nameId: -1, ids: [],
    layout: sampleLayout(sampleType), period, freq, periodSum: 0 };
}

/** The size of a perf_event_attr from its own size field (0 = the first ABI, 64 bytes). */
export function attrSizeOf(view: DataView, off: number, le: boolean): number {
  const s = view.getUint32(off + 4, le);
  return s === 0 ? ATTR_SIZE_VER0 : s;
}

// ---- tracing data (HEADER_TRACING_DATA) ----

/**
 * Parse the tracing data perf embeds (trace-event-read.c trace_report):
 *   "\x17\x08\x44tracing" | version "0.6\0" | u8 big_endian | u8 long_size | u32 page_size
 *   "header_page\0" u64 size + text | "header_event\0" u64 size + text
 *   u32 count { u64 size + ftrace format text }
 *   u32 systems { system "\0" | u32 count { u64 size + format text } }
 *   u32 size + kallsyms | u32 size + printk formats | (version >= 0.6) u64 size + saved cmdlines
 * Integers use the byte order of the big_endian byte.
 */
export function parseTracingData(bytes: Uint8Array, fileOff: number, sink: EventSink): TracingData {
  const what = 'tracing data';
  const c0 = cursor(bytes, 0, bytes.length, true, fileOff, what);
  const magic = c0.take(10);
  if (magic[0] !== 0x17 || magic[1] !== 0x08 || magic[2] !== 0x44 || latin1.decode(magic.subarray(3)) !== 'tracing') {
    throw new FormatError('perf.data: tracing data without its "\\x17\\x08\\x44tracing" magic', fileOff);
  }
  const version = c0.cstring();
  const bigEndian = c0.u8() !== 0;
  const le = !bigEndian;
  const c = cursor(bytes, c0.pos, bytes.length, le, fileOff, what);
  c.u8(); // long size
  c.u32(); // page size
  const tag1 = c.cstring();
  if (tag1 !== 'header_page') throw new FormatError(`perf.data: tracing data: expected "header_page", got "${tag1.slice(0, 20)}"`, fileOff + c.pos);
  c.skip(c.u64());
  const tag2 = c.cstring();
  if (tag2 !== 'header_event') throw new FormatError(`perf.data: tracing data: expected "header_event", got "${tag2.slice(0, 20)}"`, fileOff + c.pos);
  c.skip(c.u64());
  const formats: EventFormat[] = [];
  const addFormat = (system: string, at: number, text: string): void => {
    try {
      formats.push(parseEventFormat(text, system));
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      // perf itself goes on when one format does not parse; its events are then reported as unknown
      sink.skip(SKIP_BAD_PAYLOAD, fileOff + at, `event format of ${system}: ${e.message}`.slice(0, 200));
    }
  };
  const nFtrace = c.u32();
  for (let i = 0; i < nFtrace; i++) {
    const size = c.u64();
    const at = c.pos;
    addFormat('ftrace', at, latin1.decode(c.take(size)));
  }
  const nSystems = c.u32();
  for (let i = 0; i < nSystems; i++) {
    const system = c.cstring();
    const count = c.u32();
    for (let j = 0; j < count; j++) {
      const size = c.u64();
      const at = c.pos;
      addFormat(system, at, utf8.decode(c.take(size)));
    }
  }
  c.skip(c.u32()); // kallsyms
  c.skip(c.u32()); // ftrace_printk
  const savedCmdlines = new Map<number, string>();
  if (parseFloat(version) >= 0.6 && c.remaining >= 8) {
    const text = utf8.decode(c.take(c.u64()));
    for (const line of text.split('\n')) {
      const m = /^\s*(\d+)\s+(.*)$/.exec(line);
      if (m) savedCmdlines.set(Number(m[1]), m[2]!);
    }
  }
  return { littleEndian: le, formats, savedCmdlines };
}

