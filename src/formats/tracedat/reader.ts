/**
 * trace-cmd trace.dat reader (file versions 6 and 7), written from trace-cmd's file-format documentation
 * (trace-cmd.dat.v6(5), trace-cmd.dat.v7(5)) and the kernel's ring-buffer page layout (events/header_page,
 * events/header_event).
 *
 *  v6: magic, "6\0", endian, long size, page size; header_page/header_event; ftrace formats; event formats;
 *      kallsyms; printk formats; saved cmdlines; cpu count; "options  \0" + options (id 0 ends);
 *      "flyrecord\0" + per cpu (offset, size) + trace clock. A BUFFER option (offset, name) points at another
 *      "flyrecord\0" block of the same shape for an instance.
 *  v7: magic, "7\0", endian, long size, page size, compression "name\0version\0", offset of the first options
 *      section; then sections (u16 id, u16 flags (1 = compressed), u32 string id, u64 size), located by the
 *      options (HEADER_INFO 16 .. CMDLINES 21, BUFFER 3 per instance, DONE 0 = offset of the next options
 *      section). Compressed sections carry (u32 compressed size, u32 size) + data; compressed flyrecord data is
 *      a u32 chunk count followed by (u32 compressed size, u32 size, data) chunks of whole pages.
 *
 * Ring-buffer page: u64 timestamp, local_t commit (kernel long: data size in the low 27 bits, bit 31 = events
 * were lost before this page, bit 30 = their count is stored after the data), data. Each event starts with a
 * u32 (type_len:5, time_delta:27; type_len in the low bits on little-endian machines): 29 padding, 30 time
 * extend (delta = array[0] << 27 | time_delta), 31 absolute time stamp, 1..28 data of type_len*4 bytes,
 * 0 data whose length (+4) is in array[0].
 *
 * The per-CPU streams are merged in timestamp order (ties: lower CPU first). When the sink is the Core, the core
 * decodes the pages, merges and reads the fields (core-path.ts, assembly/tracedat.ts); otherwise PageDecoder
 * (pages.ts) hands every record to a KvmEventDecoder, which pushes one sink event per record. Both give the same
 * events.
 */
import type { EventSink } from '../../core/sink.js';
import { CLOCK_NS, CLOCK_RAW } from '../../../assembly/constants.js';
import { FormatError } from '../bytes.js';
import { isTraceDat } from './meta.js';
import { Cur, FileSrc, RawPages, ZPages, pieceBytes, rawFeed, zFeed } from './file.js';
import { CorePages, type SliceState, type StreamWalk } from './core-path.js';
import { StreamProbe, shareAt, type Probe } from './slices.js';
import { readV6, readV7, captureParts, type BufferDesc, type Meta } from './sections.js';
import { PageDecoder, type PageStream } from './pages.js';
import type { TgidLookup } from '../kvm-events.js';

export { isTraceDat };


export interface TraceDatInfo {
  version: number;
  cpus: number;
  clock: string;
  buffers: string[];
  compression?: string;
  events: number;
  lostEvents: number;
  /** name of the buffer (instance) that was decoded; "" is the top instance */
  buffer: string;
  /**
   * where the threads' processes (VMs) came from, when the file says: "saved tgids (N threads)" and/or
   * "sched events (task_newtask, sched_process_exec: N threads)"; undefined when nothing in the file does
   */
  processes?: string;
}

export interface TraceDatOptions {
  /** instance to decode; default: the top instance, or the first instance with data when the top one is empty */
  buffer?: string;
  /** files up to this size are read whole; larger ones page by page (default 4 MiB, WHOLE_FILE_LIMIT) */
  wholeFileLimit?: number;
  /** --jobs: read one time slice of the file (src/pipeline/jobs-tracedat.ts); needs the core path */
  slice?: TraceDatSlice;
}

/** One time slice of a trace.dat for --jobs: the records whose raw page time is in [lo, hi). */
export interface TraceDatSlice {
  lo?: bigint;
  hi?: bigint;
  /**
   * A slice after the first: threads are not named from the saved cmdlines again, and the decoder logs what it
   * assumes of the state the slices before it leave (processes learned, sched comm names), or starts from `seed`.
   */
  later?: { seed?: { learned: Array<[number, number]>; comms: Array<[number, string]> } };
  /** called right after the file begins in the sink (a later slice sets its file's timeline origin there) */
  onBegin?: () => void;
  /** per CPU: page times the planner probed, where the walks start is searched between */
  hints?: Map<number, Probe[]>;
  /** page times of all streams pooled ([share of the stream's bytes, time]): where lo falls in each, a guess */
  pooled?: Array<[number, bigint]>;
  /** filled in by the read */
  result?: TraceDatSliceResult;
}

export interface TraceDatSliceResult {
  /** each CPU stream's walk; atStart: it began at the stream's first page */
  walks: Array<StreamWalk & { atStart: boolean; start: number }>;
  backwards: { count: number; at: number };
  state: SliceState;
  learnedHow: string[];
  /** page times read to find where the walks start */
  probes: number;
}


/** clocks whose page times are raw counter ticks, not ns */
export const RAW_CLOCKS: ReadonlySet<string> = new Set(['x86-tsc', 'counter', 'uptime', 'ppc-tb']);

// ---------------------------------------------------------------------------------------------------------
// byte sources




// ---------------------------------------------------------------------------------------------------------
// entry point

export function chooseBuffer(buffers: BufferDesc[], want: string | undefined): BufferDesc {
  if (want !== undefined) {
    const b = buffers.find((x) => x.name === want);
    if (!b) {
      const names = buffers.map((x) => JSON.stringify(x.name)).join(', ');
      throw new FormatError(`no buffer named "${want}" in this trace.dat (buffers: ${names})`, 0);
    }
    return b;
  }
  const top = buffers.find((x) => x.name === '');
  if (top && top.cpus.length > 0) return top;
  return buffers.find((x) => x.cpus.length > 0) ?? top ?? buffers[0] ?? { name: '', clock: 'local', cpus: [], compressed: false, pageSize: 4096 };
}

/** Read the metadata of a trace.dat (everything but the per-CPU data). */
export function readMeta(file: FileSrc): Meta {
  const head = file.readUpTo(0, 64);
  if (!isTraceDat(head)) throw new FormatError('not a trace.dat file (bad magic) at offset 0', 0);
  const cur0 = Cur.overFile(file, 10, true);
  const vs = cur0.cstr('version', 16);
  if (vs !== '6' && vs !== '7') throw new FormatError(`unknown trace.dat version ${vs} at offset 10`, 10);
  const endian = cur0.u8('endianness');
  if (endian > 1) throw new FormatError(`bad endianness flag ${endian} at offset ${cur0.pos - 1}`, cur0.pos - 1);
  const le = endian === 0;
  const longSize = cur0.u8('long size');
  if (longSize !== 4 && longSize !== 8) throw new FormatError(`bad long size ${longSize} at offset ${cur0.pos - 1}`, cur0.pos - 1);
  const cur = Cur.overFile(file, cur0.pos, le);
  const pageSize = cur.u32('page size');
  if (pageSize < 64 || pageSize > 1 << 24 || (pageSize & (pageSize - 1)) !== 0) {
    throw new FormatError(`bad page size ${pageSize} at offset ${cur.pos - 4}`, cur.pos - 4);
  }
  const meta: Meta = {
    version: Number(vs), le, longSize, pageSize,
    layout: { tsOff: 0, tsSize: 8, commitOff: 8, commitSize: longSize, dataOff: 8 + longSize },
    formats: [], cmdlines: '', tgids: new Map(), cpuCount: 0, topClock: 'local', buffers: [], tsOffset: 0n,
  };
  if (meta.version === 6) readV6(file, cur, meta);
  else readV7(file, cur, meta);
  // the top instance's clock comes from TRACECLOCK when its buffer did not carry one
  for (const b of meta.buffers) if (b.clock === '') b.clock = meta.topClock;
  if (meta.buffers.length === 0) meta.buffers.push({ name: '', clock: meta.topClock, cpus: [], compressed: false, pageSize });
  return meta;
}

/**
 * Decode one buffer (instance) of a trace.dat into `sink`: beginFile once, nameThread for every saved cmdline,
 * then one push per record in global time order (CPUs merged; equal timestamps: lower CPU first), preceded by an
 * EV_LOST push (a = count, 0 = unknown) on the CPU whose next page says events were lost. `where` is the
 * 1-based number of the record in that merged order (the line number among the events of `trace-cmd report`
 * for the same buffer). Timestamps are ns (TSC2NSEC and OFFSET options applied) unless the clock is a raw
 * counter (x86-tsc without TSC2NSEC, counter, uptime), then CLOCK_RAW ticks.
 * Throws FormatError (message and byte offset) on a truncated or malformed file; events decoded before the
 * damage have already been pushed.
 */
/**
 * Files up to this size are read whole (one read; the sections and pages are views of it). Larger ones are read
 * where they are needed: reading a 21 MB zstd file whole into a fresh buffer cost about 70 ms here, a page fault
 * per 4 KiB, where its CPU streams read through windows of 1 MiB (FileWindow) touch 2 MiB.
 */
const WHOLE_FILE_LIMIT = 4 << 20;

export function readTraceDat(path: string, sink: EventSink, opts: TraceDatOptions = {}): TraceDatInfo {
  const file = new FileSrc(path, opts.wholeFileLimit ?? WHOLE_FILE_LIMIT);
  try {
    return decodeFile(file, path, sink, opts);
  } finally {
    file.close();
  }
}

function decodeFile(file: FileSrc, path: string, sink: EventSink, opts: TraceDatOptions): TraceDatInfo {
  const meta = readMeta(file);
  const buf = chooseBuffer(meta.buffers, opts.buffer);

  // clock and timestamp conversion
  let clock = buf.clock || meta.topClock || 'local';
  const conv = meta.tsc2nsec && (clock === 'x86-tsc' || clock === 'tsc2nsec') ? meta.tsc2nsec : undefined;
  if (conv) clock = 'tsc2nsec';
  const raw = !conv && RAW_CLOCKS.has(clock);
  const tsOffset = meta.tsOffset;
  const mult = conv?.mult ?? 1n;
  const shift = conv?.shift ?? 0n;
  // TSC2NSEC: ns = (tsc - offset) * mult >> shift (trace-cmd's mul_u64_u32_shr); the offset is 0 in every file seen
  const tscOff = conv?.offset ?? 0n;
  const convert = conv
    ? (t: bigint): bigint => (((t - tscOff) * mult) >> shift) + tsOffset
    : tsOffset !== 0n ? (t: bigint): bigint => t + tsOffset : undefined;

  sink.beginFile(path, raw ? CLOCK_RAW : CLOCK_NS);
  const slice = opts.slice;
  slice?.onBegin?.();

  // threads: their process from saved tgids, or from events that state it (task_newtask, sched_process_exec),
  // learned in time order and then preferred over the saved table (a snapshot taken at the end)
  const tgids = meta.tgids;
  const learned = new Map<number, number>();
  const learnedBy = new Set<string>();
  const saved = new Map<number, string>(); // saved cmdlines
  const tgidOf: TgidLookup = (tid: number): number => learned.get(tid) ?? tgids.get(tid) ?? -1;
  tgidOf.learn = (tid: number, tgid: number, comm: string, how: string): void => {
    if (learned.get(tid) === tgid) return;
    learned.set(tid, tgid);
    learnedBy.add(how);
    sink.nameThread(tid, tgid, comm || (saved.get(tid) ?? ''));
  };
  for (const line of meta.cmdlines.split('\n')) {
    const m = /^\s*(\d+)\s(.*)$/.exec(line);
    if (!m) continue;
    const comm = m[2]!.replace(/\0+$/, '');
    saved.set(Number(m[1]), comm);
    // (a later --jobs slice: the first slice named them, as one job does before any event)
    if (!slice?.later) sink.nameThread(Number(m[1]), tgidOf(Number(m[1])), comm);
  }

  // per-CPU page streams merged by (time, cpu), as trace-cmd does: in the core when the sink is the Core
  let events: number, lostEvents: number;
  let nLearned = 0;
  const cp = CorePages.open(sink, { layout: meta.layout, pageSize: buf.pageSize, littleEndian: meta.le, formats: meta.formats, tsc2nsec: conv, tsOffset });
  if (slice && !cp) throw new Error('internal: a trace.dat slice needs the core path');
  if (cp) {
    cp.setTgids(tgids);
    for (const [tid, comm] of saved) cp.setSaved(tid, comm);
    const streams: Array<{ si: number; cpu: number; start: number; atStart: boolean }> = [];
    let probes = 0;
    if (slice) {
      cp.setWindow(slice.lo, slice.hi);
      if (slice.later) cp.beginSlice(slice.later.seed);
    }
    for (const cd of buf.cpus) {
      let start: number | undefined;
      let atStart = true;
      if (slice?.lo !== undefined) {
        // the walk starts at the last page (chunk) before lo: the stream's pages before it are an earlier slice's
        const probe = new StreamProbe(file, cd, buf.pageSize, meta.layout, meta.le, buf.compressed ? meta.decompress : undefined, meta.compression === 'zlib');
        const guess = slice.pooled ? probe.first + Math.floor(shareAt(slice.pooled, slice.lo) * (probe.end - probe.first)) : undefined;
        start = probe.startFor(slice.lo, { probes: slice.hints?.get(cd.cpu), guess });
        atStart = start === probe.first;
        probes += probe.probes;
      }
      const si = cp.addStream(cd.cpu, buf.compressed ? zFeed(file, cd, meta.decompress!, meta.le, start, pieceBytes(buf.cpus.length, buf.pageSize)) : rawFeed(file, cd, buf.pageSize, start, pieceBytes(buf.cpus.length, buf.pageSize)));
      streams.push({ si, cpu: cd.cpu, start: start ?? cd.offset, atStart });
    }
    ({ events, lost: lostEvents } = cp.finish());
    const l = cp.learned();
    nLearned = l.count;
    for (const h of l.how) learnedBy.add(h);
    if (slice) {
      slice.result = {
        walks: streams.map((x) => ({ ...cp.walk(x.si, x.cpu), atStart: x.atStart, start: x.start })), backwards: cp.backwards(),
        state: cp.sliceState(), learnedHow: l.how, probes,
      };
    }
  } else {
    const pages = new PageDecoder(sink, { layout: meta.layout, pageSize: buf.pageSize, littleEndian: meta.le, formats: meta.formats, tgidOf, convert });
    for (const cd of buf.cpus) {
      pages.addStream(cd.cpu, buf.compressed
        ? new ZPages(file, cd, buf.pageSize, meta.decompress!, meta.le)
        : new RawPages(file, cd, buf.pageSize));
    }
    ({ events, lost: lostEvents } = pages.finish());
    nLearned = learned.size;
  }

  const info: TraceDatInfo = {
    version: meta.version,
    cpus: meta.cpuCount || buf.cpus.length,
    clock,
    buffers: meta.buffers.map((b) => b.name),
    events,
    lostEvents,
    buffer: buf.name,
  };
  if (meta.compression) info.compression = meta.compression;
  const from: string[] = [];
  if (tgids.size > 0) from.push(`saved tgids (${tgids.size} threads)`);
  if (nLearned > 0) from.push(`sched events (${[...learnedBy].sort().join(', ')}: ${nLearned} threads)`);
  if (from.length) info.processes = from.join('; ');
  return info;
}

// ---------------------------------------------------------------------------------------------------------
// the parts of a trace.dat as tracefs gives them (for kvmtax record's replay directories and its tests)

/** What tracefs held when the file was recorded: texts of header_page/header_event and formats, cmdlines, pages. */
export interface TraceDatParts {
  version: number;
  littleEndian: boolean;
  longSize: number;
  pageSize: number;
  clock: string;
  headerPage: string;
  headerEvent: string;
  formats: { system: string; text: string }[];
  cmdlines: string;
  tgids: Map<number, number>;
  /** per CPU: its pages, each pageSize bytes, exactly as per_cpu/cpuN/trace_pipe_raw yields them */
  cpus: { cpu: number; pages: Uint8Array[] }[];
}

/** The parts of one buffer (default: as readTraceDat chooses) of a trace.dat, decompressed. */
export function traceDatParts(path: string, buffer?: string): TraceDatParts {
  const file = new FileSrc(path, 1 << 30);
  const p: TraceDatParts = {
    version: 0, littleEndian: true, longSize: 8, pageSize: 4096, clock: 'local', headerPage: '', headerEvent: '',
    formats: [], cmdlines: '', tgids: new Map(), cpus: [],
  };
  captureParts(p);
  try {
    const meta = readMeta(file);
    captureParts(undefined);
    const buf = chooseBuffer(meta.buffers, buffer);
    Object.assign(p, {
      version: meta.version, littleEndian: meta.le, longSize: meta.longSize, pageSize: buf.pageSize,
      clock: buf.clock || meta.topClock || 'local', cmdlines: meta.cmdlines, tgids: meta.tgids,
    });
    for (const cd of [...buf.cpus].sort((a, b) => a.cpu - b.cpu)) {
      const stream: PageStream = buf.compressed
        ? new ZPages(file, cd, buf.pageSize, meta.decompress!, meta.le)
        : new RawPages(file, cd, buf.pageSize);
      const pages: Uint8Array[] = [];
      for (let pg = stream.next(); pg; pg = stream.next()) {
        const out = new Uint8Array(buf.pageSize);
        out.set(pg.bytes.subarray(pg.base, pg.base + pg.avail));
        pages.push(out);
      }
      p.cpus.push({ cpu: cd.cpu, pages });
    }
    return p;
  } finally {
    captureParts(undefined);
    file.close();
  }
}
