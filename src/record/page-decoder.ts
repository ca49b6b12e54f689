/**
 * Ring-buffer pages -> sink events, continuously, for `kvmtax live`: the pages per_cpu/cpuN/trace_pipe_raw
 * gave go straight into the trace.dat format's own page decoder (src/formats/tracedat/pages.ts), the one the
 * trace.dat reader uses, so live decodes exactly as `kvmtax report` does on the recorded file, with no scratch
 * file in between.
 *
 * Pages of one poll do not end at the same time on every CPU, so events are held back until every CPU that
 * gave pages in this poll and may give more has passed them (the decoder's flush, limited to those CPUs),
 * then released in (time, CPU) order: the order one reading of the whole recording gives, with the same
 * record numbers. finish() releases the rest, partial last pages included.
 */
import os from 'node:os';
import type { EventSink } from '../core/sink.js';
import type { TgidLookup } from '../formats/kvm-events.js';
import { parseEventFormat, type EventFormat } from '../formats/tracefs-format.js';
import { FormatError } from '../formats/bytes.js';
import { PageDecoder as RingPages, parseHeaderPage } from '../formats/tracedat/pages.js';
import { RAW_CLOCKS } from '../formats/tracedat/reader.js';
import { fallbackFormat, parseTgids } from '../formats/tracedat/sections.js';
import { CorePages } from '../formats/tracedat/core-path.js';
import { CLOCK_NS, CLOCK_RAW } from '../../assembly/constants.js';

export interface PageMeta {
  pageSize: number;
  headerPage: string;
  headerEvent: string;
  formats: { system: string; text: string }[];
  clock: string;
  /** current saved_cmdlines and saved_tgids texts (re-read between batches) */
  cmdlines: () => string;
  tgids: () => string;
}

export interface PageDecoder {
  /** decode one poll's pages (by CPU); `exhausted`: CPUs that will give no more pages */
  decode(pages: Map<number, Uint8Array[]>, exhausted?: Set<number>): void;
  /** release every held event */
  finish(): void;
  /** records decoded so far (released) */
  readonly records: number;
}

/** tracefs' format texts -> formats, as the trace.dat reader takes them (an unparsable one counts as other) */
function parseFormats(texts: { system: string; text: string }[]): EventFormat[] {
  const out: EventFormat[] = [];
  for (const { system, text } of texts) {
    try {
      out.push(parseEventFormat(text, system));
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      const f = fallbackFormat(text, system);
      if (f) out.push(f);
    }
  }
  return out;
}

export function livePageDecoder(sink: EventSink, meta: PageMeta, displayName = 'live'): PageDecoder {
  // tracefs pages are in the host's order; a 64-bit host's long (what `kvmtax record` writes in its files)
  const layout = parseHeaderPage(meta.headerPage, 8);
  const formats = parseFormats(meta.formats);
  const raw = RAW_CLOCKS.has(meta.clock);

  // threads: their process from saved_tgids (re-read each batch), or from events that state it (learned in
  // time order and preferred, as the trace.dat reader does)
  let tgids = new Map<number, number>();
  const learned = new Map<number, number>();
  const saved = new Map<number, string>(); // saved cmdlines
  const named = new Set<number>();
  const nameThread = (tid: number, tgid: number, comm: string): void => {
    named.add(tid);
    sink.nameThread(tid, tgid, comm);
  };
  const tgidOf: TgidLookup = (tid: number): number => learned.get(tid) ?? tgids.get(tid) ?? -1;
  tgidOf.learn = (tid: number, tgid: number, comm: string): void => {
    if (learned.get(tid) === tgid) return;
    learned.set(tid, tgid);
    nameThread(tid, tgid, comm || (saved.get(tid) ?? ''));
  };
  // a sched event's comm reaches the sink through the decoder: note the thread as named
  const fed: EventSink = {
    beginFile: (n, c) => sink.beginFile(n, c),
    intern: (s) => sink.intern(s),
    reasonKey: (isa, code) => sink.reasonKey(isa, code),
    push: (...a) => sink.push(...a),
    skip: (...a) => sink.skip(...a),
    nameThread,
  };

  // the Core decodes the pages itself (formats/tracedat/core-path.ts); other sinks get PageDecoder's calls
  let dec: RingPages | undefined;
  let cp: CorePages | undefined;
  let started = false;
  return {
    get records() { return cp ? cp.events : dec?.events ?? 0; },
    decode(pages, exhausted = new Set()) {
      if (pages.size === 0) return;
      if (!started) {
        started = true;
        sink.beginFile(displayName, raw ? CLOCK_RAW : CLOCK_NS);
        const o = { layout, pageSize: meta.pageSize, littleEndian: os.endianness() === 'LE', formats };
        cp = CorePages.open(sink, o);
        if (!cp) dec = new RingPages(fed, { ...o, tgidOf });
      }
      tgids = new Map();
      parseTgids(meta.tgids(), tgids);
      cp?.setTgids(tgids);
      // saved cmdlines come again with every batch: only threads not named yet (a sched event's comm wins)
      for (const line of meta.cmdlines().split('\n')) {
        const m = /^\s*(\d+)\s(.*)$/.exec(line);
        if (!m) continue;
        const tid = Number(m[1]);
        const comm = m[2]!.replace(/\0+$/, '');
        saved.set(tid, comm);
        if (cp) {
          cp.setSaved(tid, comm);
          if (!named.has(tid) && !cp.named(tid)) nameThread(tid, cp.tgidOf(tid), comm);
        } else if (!named.has(tid)) nameThread(tid, tgidOf(tid), comm);
      }
      const waitFor = new Set<number>();
      for (const [cpu, list] of pages) {
        for (const p of list) (cp ?? dec!).addPages(cpu, p);
        if (!exhausted.has(cpu)) waitFor.add(cpu);
      }
      (cp ?? dec!).flush(waitFor.size === 0, waitFor);
    },
    finish() {
      (cp ?? dec)?.finish();
    },
  };
}
