/**
 * trace.dat scale-up for the benchmark: a real trace.dat capture tiled to any size, readable by trace-cmd.
 *
 *   node dist/bench/tile-tracedat.js IN.trace.dat --size 64M --out OUT.dat [--zstd]
 *
 * The capture's parts (header_page, header_event, formats, cmdlines, tgids, clock and each CPU's ring-buffer
 * pages, decompressed) are written again by kvmtax record's own writers (v6 plain, or v7 with zstd page chunks)
 * with each CPU's pages repeated: copy k has every page's timestamp moved on by k times the capture's span
 * (last page time minus first, plus 1 ms), and so every absolute time stamp record (type 31) in its pages, so the
 * timeline goes on without overlap per CPU. Time deltas and time extends are relative and stay.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { traceDatParts } from '../src/formats/tracedat/reader.js';
import { parseHeaderPage } from '../src/formats/tracedat/pages.js';
import { writeTraceDatV6, type TraceDatContent } from '../src/record/tracedat-writer.js';
import { writeTraceDatV7, loadZstd } from '../src/record/tracedat-v7.js';
import { parseSize } from './gen.js';

export interface TraceDatTile { copies: number; bytes: number; spanTicks: bigint }

/** Tile `input` (a little-endian trace.dat) into `out`, about `size` bytes of pages (at least one copy). */
export async function tileTraceDat(input: string, out: string, size: number, zstd = false): Promise<TraceDatTile> {
  const p = traceDatParts(input);
  if (!p.littleEndian) throw new Error('tile-tracedat: only little-endian captures');
  const L = parseHeaderPage(p.headerPage, p.longSize);
  const ps = p.pageSize;
  let first = -1n, last = 0n, bytes = 0;
  for (const c of p.cpus) {
    for (const pg of c.pages) {
      const v = new DataView(pg.buffer, pg.byteOffset, pg.byteLength);
      const ts = v.getBigUint64(L.tsOff, true);
      if (first < 0n || ts < first) first = ts;
      // the page's last time: its start plus the deltas of its events
      const end = pageEnd(v, L.dataOff, commitOf(v, L.commitOff, L.commitSize), ts);
      if (end > last) last = end;
      bytes += ps;
    }
  }
  // 1 ms of gap (in the clock's units: ns, or TSC ticks at a few GHz: more gap, never less)
  const span = last - first + 1_000_000n * (p.clock === 'x86-tsc' ? 4n : 1n);
  const copies = Math.max(1, Math.round(size / Math.max(1, bytes)));
  const dir = fs.mkdtempSync(path.join(path.dirname(out), '.tile-'));
  try {
    const cpus: TraceDatContent['cpus'] = [];
    for (const c of p.cpus) {
      const f = path.join(dir, `cpu${c.cpu}`);
      const fd = fs.openSync(f, 'w');
      for (let k = 0; k < copies; k++) {
        const shift = span * BigInt(k);
        const buf = Buffer.alloc(c.pages.length * ps);
        c.pages.forEach((pg, i) => {
          buf.set(pg, i * ps);
          if (k > 0) shiftPage(new DataView(buf.buffer, buf.byteOffset + i * ps, ps), L, shift);
        });
        fs.writeSync(fd, buf);
      }
      fs.closeSync(fd);
      cpus.push({ cpu: c.cpu, file: f });
    }
    const content: TraceDatContent = {
      pageSize: ps, headerPage: p.headerPage, headerEvent: p.headerEvent, formats: p.formats, cmdlines: p.cmdlines,
      tgids: [...p.tgids].map(([t, g]) => `${t} ${g}`).join('\n') + '\n', clock: p.clock, cpus,
    };
    if (zstd) writeTraceDatV7(out, content, { compressor: await loadZstd() });
    else writeTraceDatV6(out, content);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { copies, bytes: fs.statSync(out).size, spanTicks: span };
}

function commitOf(v: DataView, off: number, size: number): number {
  void size; // the flags and size are in the low 32 bits of the (long) commit word
  return v.getUint32(off, true) & ((1 << 27) - 1);
}

/** Walk a page's events (little-endian): the time of its last one. */
function pageEnd(v: DataView, dataOff: number, commit: number, ts: bigint): bigint {
  let p = dataOff;
  const end = Math.min(v.byteLength, dataOff + commit);
  while (p + 4 <= end) {
    const w = v.getUint32(p, true);
    const type = w & 0x1f, delta = BigInt(w >>> 5);
    if (type >= 1 && type <= 28) { ts += delta; p += 4 + type * 4; }
    else if (type === 0) { ts += delta; p += 4 + v.getUint32(p + 4, true); }
    else if (type === 29) { if (delta === 0n || p + 8 > end) break; ts += delta; p += 4 + v.getUint32(p + 4, true); }
    else if (type === 30) { ts += (BigInt(v.getUint32(p + 4, true)) << 27n) | delta; p += 8; }
    else { ts = (BigInt(v.getUint32(p + 4, true)) << 27n) | delta; p += 8; }
  }
  return ts;
}

/** Move a page's time on by `shift`: its header timestamp and its absolute time stamp records. */
function shiftPage(v: DataView, L: ReturnType<typeof parseHeaderPage>, shift: bigint): void {
  v.setBigUint64(L.tsOff, v.getBigUint64(L.tsOff, true) + shift, true);
  const end = Math.min(v.byteLength, L.dataOff + commitOf(v, L.commitOff, L.commitSize));
  let p = L.dataOff;
  while (p + 4 <= end) {
    const w = v.getUint32(p, true);
    const type = w & 0x1f;
    if (type >= 1 && type <= 28) p += 4 + type * 4;
    else if (type === 0) p += 4 + v.getUint32(p + 4, true);
    else if (type === 29) { if ((w >>> 5) === 0 || p + 8 > end) break; p += 4 + v.getUint32(p + 4, true); }
    else if (type === 30) p += 8;
    else {
      const abs = ((BigInt(v.getUint32(p + 4, true)) << 27n) | BigInt(w >>> 5)) + shift;
      v.setUint32(p, (Number(abs & 0x7ffffffn) << 5 | 31) >>> 0, true);
      v.setUint32(p + 4, Number((abs >> 27n) & 0xffffffffn), true);
      p += 8;
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const a = process.argv.slice(2);
  const opt = (n: string): string | undefined => { const i = a.indexOf(n); return i >= 0 ? a[i + 1] : undefined; };
  const input = a[0];
  const out = opt('--out');
  if (!input || !out) {
    process.stderr.write('usage: tile-tracedat IN.trace.dat --size 64M --out OUT.dat [--zstd]\n');
    process.exit(2);
  }
  const r = await tileTraceDat(input, out, parseSize(opt('--size') ?? '64M'), a.includes('--zstd'));
  process.stdout.write(`${out}: ${r.copies} copies, ${r.bytes} bytes${os.EOL}`);
}
