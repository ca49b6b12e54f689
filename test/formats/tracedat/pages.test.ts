/**
 * PageDecoder fed as live mode feeds it (issue 13): the raw pages of a real trace.dat's CPUs, handed over
 * in pieces that do not follow page boundaries, CPUs interleaved, flush() after every round, must give the
 * same events in the same order as the trace.dat reader. Needs ../shared (skips with a message).
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { SHARED, HAVE_SHARED } from '../../support/paths.js';
import { CollectSink } from '../../support/collect-sink.js';
import { readTraceDat } from '../../../src/formats/tracedat/reader.js';
import { readMeta, chooseBuffer } from '../../../src/formats/tracedat/reader.js';
import { FileSrc, RawPages, ZPages } from '../../../src/formats/tracedat/file.js';
import { PageDecoder, parseHeaderPage } from '../../../src/formats/tracedat/pages.js';
import { CLOCK_NS } from '../../../assembly/constants.js';

const DAT = path.join(SHARED, 'captures', 'svm-D-small', 'trace.dat');

describe.skipIf(!HAVE_SHARED || !fs.existsSync(DAT))('PageDecoder over a real capture (../shared/captures/svm-D-small/trace.dat)', () => {
  it('pages handed over in odd pieces, CPUs interleaved, give the reader\'s events in its order', () => {
    const whole = new CollectSink();
    const info = readTraceDat(DAT, whole);
    expect(info.events).toBeGreaterThan(1000);

    // each CPU's pages, as trace_pipe_raw would yield them
    const file = new FileSrc(DAT, 1 << 30);
    const meta = readMeta(file);
    const buf = chooseBuffer(meta.buffers, undefined);
    const perCpu = new Map<number, Uint8Array>();
    for (const cd of buf.cpus) {
      const s = buf.compressed ? new ZPages(file, cd, buf.pageSize, meta.decompress!, meta.le) : new RawPages(file, cd, buf.pageSize);
      const parts: Uint8Array[] = [];
      for (let p = s.next(); p; p = s.next()) parts.push(p.bytes.slice(p.base, p.base + p.avail));
      perCpu.set(cd.cpu, Buffer.concat(parts));
    }
    file.close();
    expect(perCpu.size).toBeGreaterThan(1);

    const live = new CollectSink();
    live.beginFile('live', CLOCK_NS);
    const tgidOf = (tid: number): number => meta.tgids.get(tid) ?? -1;
    const dec = new PageDecoder(live, { layout: meta.layout, pageSize: buf.pageSize, littleEndian: meta.le, formats: meta.formats, tgidOf });
    const piece = 3001; // not a multiple of the page size
    let flushed = 0;
    for (let off = 0; ; off += piece) {
      let more = false;
      for (const [cpu, bytes] of perCpu) {
        if (off < bytes.length) {
          dec.addPages(cpu, bytes.slice(off, off + piece));
          more = true;
        }
      }
      flushed += dec.flush();
      if (!more) break;
    }
    const end = dec.finish();
    expect(flushed).toBeGreaterThan(0); // events came out before the end
    expect(end.events).toBe(info.events);
    expect(end.lost).toBe(info.lostEvents);
    // the reader converts times only with TSC2NSEC or OFFSET; this capture has neither, so times compare too
    expect(meta.tsc2nsec === undefined && meta.tsOffset === 0n).toBe(true);
    expect(live.events.length).toBe(whole.events.length);
    const key = (e: (typeof whole.events)[number], s: CollectSink): string =>
      `${e.kind} ${e.ts} ${e.tid} ${e.tgid} ${e.cpu} ${e.vcpu} ${e.a} ${e.b} ${e.c} ${s.strings[e.name]} ${e.where}`;
    for (let i = 0; i < whole.events.length; i++) expect(key(live.events[i]!, live)).toBe(key(whole.events[i]!, whole));
  });
});

describe('parseHeaderPage', () => {
  // events/header_page of this machine's tracefs (x86_64, 4 KiB sub-buffers), copied verbatim
  const HEADER_PAGE = [
    '\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;',
    '\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;',
    '\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;',
    '\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;',
  ].join('\n');
  it('takes the commit size and the data offset from the text', () => {
    expect(parseHeaderPage(HEADER_PAGE, 8)).toEqual({ tsOff: 0, tsSize: 8, commitOff: 8, commitSize: 8, dataOff: 16 });
    const l32 = HEADER_PAGE.replace('size:8;\tsigned:1', 'size:4;\tsigned:1').replace('offset:16', 'offset:12');
    expect(parseHeaderPage(l32, 4)).toEqual({ tsOff: 0, tsSize: 8, commitOff: 8, commitSize: 4, dataOff: 12 });
  });
});
