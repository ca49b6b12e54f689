/**
 * trace.dat scale-up for the benchmark: a real trace.dat capture tiled to any size, readable by trace-cmd.
 *
 *   node dist/bench/tile-tracedat.js IN.trace.dat --size 64M --out OUT.dat [--zstd] [--cpus 192]
 *
 * The capture's parts (header_page, header_event, formats, cmdlines, tgids, clock and each CPU's ring-buffer
 * pages, decompressed) are written again by kvmtax record's own writers (v6 plain, or v7 with zstd page chunks)
 * with each CPU's pages repeated: copy k has every page's timestamp moved on by k times the capture's span
 * (last page time minus first, plus 1 ms), and so every absolute time stamp record (type 31) in its pages, so the
 * timeline goes on without overlap per CPU. Time deltas and time extends are relative and stay.
 *
 * With --cpus N (a many-core host, issue 15) the copies run side by side on N CPU streams: the capture's C CPUs
 * make one group, copy k goes to group g = k mod (N / C) (CPUs g * C + c) and is moved on in time by k / (N / C)
 * spans; each group is its own VM for the whole capture: every thread id in its records (common_pid,
 * sched_switch prev/next_pid, sched_wakeup pid, task_newtask pid, sched_process_exec pid/old_pid) and its saved
 * cmdlines and tgids are moved on by g * 65536, so no two groups share a thread. Events = copies x the capture's,
 * exits seen too (an exit pending at the end of a copy may pair with the next copy's first entry).
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
import { eventFormat } from '../src/formats/tracedat/formats.js';

export interface TraceDatTile { copies: number; bytes: number; spanTicks: bigint; cpus: number }

/** thread ids of group g are moved on by g * TID_STEP (the captures' tids are below it) */
const TID_STEP = 65536;
/** the fields that hold a thread id, besides common_pid */
const PID_FIELDS = ['prev_pid', 'next_pid', 'pid', 'old_pid', 'parent_pid', 'child_pid'];

/**
 * Tile `input` (a little-endian trace.dat) into `out`, about `size` bytes of pages (at least one copy), on the
 * capture's CPUs, or side by side on `cpus` CPU streams (a multiple of the capture's CPU count).
 */
export async function tileTraceDat(input: string, out: string, size: number, zstd = false, cpus?: number): Promise<TraceDatTile> {
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
  // side by side: groups of the capture's CPUs (its CPU numbers in order), copy k in group k mod groups
  const srcCpus = p.cpus.map((c) => c.cpu);
  const width = Math.max(...srcCpus, 0) + 1;
  const groups = cpus ? Math.max(1, Math.floor(cpus / width)) : 1;
  const pids = cpus ? pidFields(p.formats) : undefined;
  const dir = fs.mkdtempSync(path.join(path.dirname(out), '.tile-'));
  try {
    const streams: TraceDatContent['cpus'] = [];
    for (let g = 0; g < groups; g++) {
      for (const c of p.cpus) {
        const f = path.join(dir, `cpu${g * width + c.cpu}`);
        const fd = fs.openSync(f, 'w');
        for (let k = g; k < copies; k += groups) {
          const shift = span * BigInt(Math.floor(k / groups));
          const buf = Buffer.alloc(c.pages.length * ps);
          c.pages.forEach((pg, i) => {
            buf.set(pg, i * ps);
            const v = new DataView(buf.buffer, buf.byteOffset + i * ps, ps);
            if (shift > 0n) shiftPage(v, L, shift);
            if (pids && g > 0) movePids(v, L, pids, g * TID_STEP);
          });
          fs.writeSync(fd, buf);
        }
        fs.closeSync(fd);
        streams.push({ cpu: g * width + c.cpu, file: f });
      }
    }
    // each group's threads: its saved cmdlines and tgids under its own ids
    const moved = (g: number, t: number): number => (t > 0 ? t + g * TID_STEP : t);
    const lines = (text: string, f: (line: string, g: number) => string): string =>
      Array.from({ length: pids ? Math.min(groups, copies) : 1 }, (_, g) => text.split('\n').filter((l) => l.trim() !== '').map((l) => f(l, g)).join('\n')).join('\n') + '\n';
    const content: TraceDatContent = {
      pageSize: ps, headerPage: p.headerPage, headerEvent: p.headerEvent, formats: p.formats,
      cmdlines: lines(p.cmdlines, (l, g) => l.replace(/^(\s*)(\d+)/, (_m, sp: string, t: string) => `${sp}${moved(g, Number(t))}`)),
      tgids: lines([...p.tgids].map(([t, g]) => `${t} ${g}`).join('\n'), (l, g) => l.split(' ').map((x) => moved(g, Number(x))).join(' ')),
      clock: p.clock, cpus: streams,
    };
    if (zstd) writeTraceDatV7(out, content, { compressor: await loadZstd() });
    else writeTraceDatV6(out, content);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { copies, bytes: fs.statSync(out).size, spanTicks: span, cpus: groups * width };
}

/** Event type id -> offsets of its thread-id fields (common_pid and PID_FIELDS of 4 bytes). */
function pidFields(formats: { system: string; text: string }[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const t of formats) {
    const f = eventFormat(t.text, t.system);
    if (!f) continue;
    const offs = ['common_pid', ...PID_FIELDS].map((n) => f.field(n)).filter((x) => x && x.size === 4 && !x.isDynamic).map((x) => x!.offset);
    if (offs.length) out.set(f.id, offs);
  }
  return out;
}

/** Move every thread id (above 0: the idle task stays) in a page's records on by `by`. */
function movePids(v: DataView, L: ReturnType<typeof parseHeaderPage>, pids: Map<number, number[]>, by: number): void {
  const end = Math.min(v.byteLength, L.dataOff + commitOf(v, L.commitOff, L.commitSize));
  let p = L.dataOff;
  const rec = (at: number, len: number): void => {
    if (len < 2) return;
    for (const o of pids.get(v.getUint16(at, true)) ?? []) {
      if (o + 4 > len) continue;
      const t = v.getInt32(at + o, true);
      if (t > 0) v.setInt32(at + o, t + by, true);
    }
  };
  while (p + 4 <= end) {
    const w = v.getUint32(p, true);
    const type = w & 0x1f;
    if (type >= 1 && type <= 28) { rec(p + 4, type * 4); p += 4 + type * 4; }
    else if (type === 0) { const n = v.getUint32(p + 4, true); rec(p + 8, n - 4); p += 4 + n; }
    else if (type === 29) { if ((w >>> 5) === 0 || p + 8 > end) break; p += 4 + v.getUint32(p + 4, true); }
    else p += 8;
  }
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
    process.stderr.write('usage: tile-tracedat IN.trace.dat --size 64M --out OUT.dat [--zstd] [--cpus N]\n');
    process.exit(2);
  }
  const n = opt('--cpus');
  const r = await tileTraceDat(input, out, parseSize(opt('--size') ?? '64M'), a.includes('--zstd'), n ? Number(n) : undefined);
  process.stdout.write(`${out}: ${r.copies} copies on ${r.cpus} CPUs, ${r.bytes} bytes${os.EOL}`);
}
