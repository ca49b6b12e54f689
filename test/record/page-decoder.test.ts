/**
 * live's page decoder on the real svm-D-small capture's pages (traces/svm-D-small): fed in polls of 1..7 pages
 * per CPU, as the replay tracefs gives them, it makes exactly the sink calls the trace.dat reader makes on the
 * whole file (names, events, skips, their order and record numbers), and never releases an event before one
 * that precedes it.
 */
import { describe, expect, it } from 'vitest';
import { svmDSmallTraceDat } from './svm-d-dat.js';
import { readTraceDat, traceDatParts } from '../../src/formats/tracedat/reader.js';
import { livePageDecoder } from '../../src/record/page-decoder.js';
import type { EventSink } from '../../src/core/sink.js';
import { Core, type FileCounters } from '../../src/wasm/core.js';
import { summarize } from '../../src/analysis/summary.js';
import { coreTdStats } from '../../src/formats/tracedat/core-path.js';

/** a sink that writes down every call (strings by content) */
function recorder(log: string[]): EventSink {
  const strs: string[] = [];
  return {
    beginFile: (n, c) => { log.push(`begin ${c}`); void n; },
    intern: (s) => { let i = strs.indexOf(s); if (i < 0) i = strs.push(s) - 1; return i; },
    reasonKey: (isa, code) => isa * 100000 + code,
    push: (...a) => { log.push('push ' + a.map(String).join(' ')); },
    skip: (...a) => { log.push('skip ' + a.map(String).join(' ')); },
    nameThread: (...a) => { log.push('name ' + a.join(' ')); },
  };
}

/** The file's pages handed over `per` per CPU per poll, as live mode polls trace_pipe_raw; records released after each poll. */
function feedInPolls(parts: ReturnType<typeof traceDatParts>, dec: ReturnType<typeof livePageDecoder>, per: number): number[] {
  const released: number[] = [];
  for (let i = 0; ; i += per) {
    const pages = new Map<number, Uint8Array[]>();
    const done = new Set<number>();
    for (const c of parts.cpus) {
      const got = c.pages.slice(i, i + per).map((p) => p.slice());
      if (got.length) pages.set(c.cpu, got);
      if (i + per >= c.pages.length) done.add(c.cpu);
    }
    if (pages.size === 0) break;
    dec.decode(pages, done);
    released.push(dec.records);
  }
  dec.finish();
  return released;
}

describe('live page decoder (svm-D-small pages)', () => {
  const dat = svmDSmallTraceDat();
  const parts = traceDatParts(dat);
  const whole: string[] = [];
  readTraceDat(dat, recorder(whole));
  const tgids = [...parts.tgids].map(([t, g]) => `${t} ${g}`).join('\n');
  const meta = {
    pageSize: parts.pageSize, headerPage: parts.headerPage, headerEvent: parts.headerEvent, formats: parts.formats,
    clock: parts.clock, cmdlines: () => parts.cmdlines, tgids: () => tgids,
  };

  it.each([1, 2, 3, 7])('%i pages per CPU per poll: the same calls as reading the file', (per) => {
    const log: string[] = [];
    const dec = livePageDecoder(recorder(log), meta);
    const released = feedInPolls(parts, dec, per);
    expect(parts.cpus.map((c) => c.pages.length)).toEqual([26, 7]);
    // events come out while pages still arrive, not all at the end
    expect(released[0]).toBeGreaterThan(0);
    expect(released[released.length - 2]!).toBeLessThan(2837);
    expect(dec.records).toBe(2837);
    expect(log.slice(1)).toEqual(whole.slice(1));
    expect(log[0]).toBe(whole[0]);
  });
});

describe('live page decoder through the Core (the core decodes the pages: assembly/tracedat.ts)', () => {
  const dat = svmDSmallTraceDat();
  const parts = traceDatParts(dat);
  const tgids = [...parts.tgids].map(([t, g]) => `${t} ${g}`).join('\n');
  const meta = {
    pageSize: parts.pageSize, headerPage: parts.headerPage, headerEvent: parts.headerEvent, formats: parts.formats,
    clock: parts.clock, cmdlines: () => parts.cmdlines, tgids: () => tgids,
  };
  // the report (names resolved: live interns the format names before the saved cmdlines, the file reader after)
  const tablesOf = (c: Core, e: FileCounters): string => JSON.stringify(summarize(c.tables(), [{
    file: 'x', format: 'trace.dat', clock: 'ns', bytes: 0, events: e.events, first_ts: Number(e.firstTs), last_ts: Number(e.lastTs),
    lost_markers: e.lostMarkers, lost_events: e.lostEvents,
  }], { top: 20, version: 'test' }), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  const file = new Core({ topN: 20 });
  const before = coreTdStats.files;
  readTraceDat(dat, file.sinkFor(file.nextFileIndex()));
  const fileEnd = file.endFile();
  const wholeTables = tablesOf(file, fileEnd);

  it.each([1, 2, 3, 7])('%i pages per CPU per poll: the report equals reading the file', (per) => {
    const core = new Core({ topN: 20 });
    const dec = livePageDecoder(core.sinkFor(core.nextFileIndex()), meta);
    const released = feedInPolls(parts, dec, per);
    expect(coreTdStats.files).toBeGreaterThan(before + 1); // the file and this session both went through the core
    expect(released[0]).toBeGreaterThan(0);
    expect(released[released.length - 2]!).toBeLessThan(2837);
    expect(dec.records).toBe(2837);
    const end = core.endFile();
    expect(end.events).toBe(fileEnd.events);
    expect(tablesOf(core, end)).toBe(wholeTables);
  });
});
