/**
 * Ring-buffer pages -> sink events, continuously, for `kvmtax live`. The one place that knows how pages are
 * decoded: today through the JS trace.dat reader (src/formats/tracedat.ts: each batch of pages is written as
 * a small v6 trace.dat and read back); when the wasm page decoder of the readers redesign lands
 * (/work/coord/page-decoder-api.md), only this file changes.
 *
 * Pages of one poll do not end at the same time on every CPU, so events are held back until every CPU that
 * is still producing has passed them (the watermark: the least of the newest times of the CPUs that gave
 * pages in this batch), then released in (time, CPU) order: the order one reading of the whole recording
 * gives, with the same record numbers. finish() releases the rest.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EventSink } from '../core/sink.js';
import { readTraceDat } from '../formats/tracedat/reader.js';
import { writeTraceDatV6, type TraceDatContent } from './tracedat-writer.js';

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

type Call =
  | { k: 'push'; args: Parameters<EventSink['push']> }
  | { k: 'skip'; args: Parameters<EventSink['skip']> }
  | { k: 'name'; args: Parameters<EventSink['nameThread']> };

/** One trace record: the sink calls its decoding made, its time and CPU. */
interface Rec { ts: bigint; cpu: number; seq: number; calls: Call[] }

export function jsPageDecoder(sink: EventSink, meta: PageMeta, displayName = 'live'): PageDecoder {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-live-'));
  const file = path.join(dir, 'batch.dat');
  let begun = false;
  let held: Rec[] = [];
  let seq = 0;
  let released = 0;
  const names = new Map<number, string>();

  // collects one batch's sink calls grouped by record (their `where`)
  let batch: Rec[] = [];
  let pending: Call[] = [];
  let curWhere = -1;
  let lastTs = 0n;
  let lastCpu = 0;
  const group = (where: number, call: Call, ts?: bigint, cpu?: number): void => {
    if (ts !== undefined) { lastTs = ts; lastCpu = cpu ?? lastCpu; }
    if (where !== curWhere || batch.length === 0) {
      batch.push({ ts: lastTs, cpu: lastCpu, seq: seq++, calls: pending });
      pending = [];
      curWhere = where;
    }
    const r = batch[batch.length - 1]!;
    if (ts !== undefined && r.calls.every((c) => c.k !== 'push')) { r.ts = ts; r.cpu = cpu ?? r.cpu; }
    r.calls.push(call);
  };
  const collector: EventSink = {
    beginFile: (_n, clock) => { if (!begun) { begun = true; sink.beginFile(displayName, clock); } },
    intern: (s) => sink.intern(s),
    reasonKey: (isa, code) => sink.reasonKey(isa, code),
    push: (...args) => group(args[10], { k: 'push', args }, args[1], args[4]),
    skip: (...args) => group(args[1], { k: 'skip', args }),
    nameThread: (...args) => {
      // saved cmdlines come again with every batch: only threads not named yet (a sched event's comm wins)
      if (curWhere < 0 && names.has(args[0])) return;
      names.set(args[0], args[2]);
      pending.push({ k: 'name', args });
    },
  };

  const emit = (r: Rec): void => {
    let counted = false;
    for (const c of r.calls) {
      if (c.k === 'name') { sink.nameThread(...c.args); continue; }
      if (!counted) { released++; counted = true; }
      if (c.k === 'push') {
        const a = c.args;
        sink.push(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], released);
      } else {
        sink.skip(c.args[0], released, c.args[2]);
      }
    }
  };
  const order = (a: Rec, b: Rec): number => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.cpu - b.cpu || a.seq - b.seq);

  return {
    get records() { return released; },
    decode(pages, exhausted = new Set()) {
      if (pages.size === 0) return;
      const content: TraceDatContent = {
        pageSize: meta.pageSize, headerPage: meta.headerPage, headerEvent: meta.headerEvent, formats: meta.formats,
        cmdlines: meta.cmdlines(), tgids: meta.tgids(), clock: meta.clock,
        cpus: [...pages].map(([cpu, p]) => ({ cpu, pages: p })),
      };
      // a scratch file read back at once: no fsync
      writeTraceDatV6(file, content, { fsync: false });
      batch = [];
      pending = [];
      curWhere = -1;
      readTraceDat(file, collector);
      // names that came with no record (saved cmdlines) go first
      if (pending.length) { batch.unshift({ ts: -1n, cpu: -1, seq: seq++, calls: pending }); pending = []; }
      // watermark: every CPU that gave pages and may give more has passed it
      let mark: bigint | undefined;
      for (const [cpu] of pages) {
        if (exhausted.has(cpu)) continue;
        let newest: bigint | undefined;
        for (const r of batch) if (r.cpu === cpu && (newest === undefined || r.ts > newest)) newest = r.ts;
        if (newest !== undefined && (mark === undefined || newest < mark)) mark = newest;
      }
      const all = held.concat(batch).sort(order);
      if (mark === undefined) { held = []; all.forEach(emit); return; }
      let i = 0;
      while (i < all.length && all[i]!.ts <= mark) i++;
      // a record at the mark may have a same-time follower on a lower CPU still to come: hold the equal ones too
      while (i > 0 && all[i - 1]!.ts === mark) i--;
      all.slice(0, i).forEach(emit);
      held = all.slice(i);
    },
    finish() {
      const all = held.sort(order);
      held = [];
      all.forEach(emit);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

