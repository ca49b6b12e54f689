/**
 * trace.dat read by --jobs (issue 15): each CPU's page stream is in time order, and each page header holds the
 * page's time, so a time T cuts every stream at once. A job of the window [lo, hi) reads each CPU's stream from
 * the last page (or compressed chunk) whose header time is before lo, and stops at the first page whose header
 * time is hi or later (assembly/tracedat.ts tdWindow); the pipeline (src/pipeline/jobs-tracedat.ts) picks the cut
 * times and checks afterwards that the streams' times never went back and that the jobs' walks covered every
 * stream.
 *
 * Here: a CPU stream's page header times at byte positions (StreamProbe: a plain page is read where it is; a
 * compressed chunk of v7 is found from any byte offset by its header (u32 compressed size, u32 size) followed by
 * the compression's magic, checked along the next chunks, and inflated), where a window's walk starts, and the
 * sample of page times the cut times are chosen from.
 */
import { FormatError } from '../bytes.js';
import type { BlockDecompress } from '../decompress.js';
import type { FileSrc } from './file.js';
import type { PageLayout } from './pages.js';
import type { CpuData } from './sections.js';

/** A page or compressed chunk start (file offset) and its first page's header time. */
export interface Probe { off: number; ts: bigint }

/**
 * The share of the bytes before time t, from page times sampled evenly over all streams' bytes: [share of the
 * samples, time], in time order (for one stream, how far it has come at a time: a guess).
 */
export function shareAt(pooled: Array<[number, bigint]>, t: bigint): number {
  if (pooled.length === 0 || t <= pooled[0]![1]) return 0;
  for (let i = 1; i < pooled.length; i++) {
    const [f1, t1] = pooled[i]!;
    if (t <= t1) {
      const [f0, t0] = pooled[i - 1]!;
      return t1 > t0 ? f0 + ((f1 - f0) * Number(t - t0)) / Number(t1 - t0) : f1;
    }
  }
  return 1;
}

/** the zstd frame magic, little-endian (RFC 8878 3.1.1) */
const ZSTD_MAGIC = 0xfd2fb528;
const ZSTD_MAGIC_BYTES = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
/** chunks checked after a candidate chunk header (each must lead exactly to the next) */
const CHAIN = 3;

/** Page header times of one CPU stream of a trace.dat (plain pages or v7 compressed chunks). */
export class StreamProbe {
  /** file offsets of the stream's first page (or chunk) and of its end */
  readonly first: number;
  readonly end: number;
  /** probes made (inflating a chunk each when compressed) */
  probes = 0;
  private readonly cache = new Map<number, bigint>();

  constructor(private readonly file: FileSrc, readonly cd: CpuData, private readonly pageSize: number, private readonly layout: PageLayout,
    private readonly le: boolean, private readonly decompress?: BlockDecompress, private readonly zlib = false) {
    this.first = cd.offset + (decompress ? 4 : 0);
    this.end = Math.min(file.size, decompress ? cd.offset + 4 + cd.size : cd.offset + cd.size);
  }

  get compressed(): boolean { return this.decompress !== undefined; }

  /** The first page (plain) or chunk start at or after file offset x and before `before`, with its time; undefined: none. */
  at(x: number, before = this.end): Probe | undefined {
    const off = this.decompress ? this.chunkAt(Math.max(x, this.first), before) : this.pageAt(x, before);
    if (off < 0) return undefined;
    return { off, ts: this.timeAt(off) };
  }

  /** The header time of the page (or the first page of the chunk) at off. */
  timeAt(off: number): bigint {
    let t = this.cache.get(off);
    if (t !== undefined) return t;
    this.probes++;
    const L = this.layout;
    const b = this.decompress ? this.chunk(off) : this.file.read(off + L.tsOff, L.tsSize, 'page').subarray(0, L.tsSize);
    if (b.length < L.tsOff + L.tsSize && this.decompress) throw new FormatError(`truncated page at offset ${off}`, off);
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const at = this.decompress ? L.tsOff : 0;
    t = L.tsSize === 8 ? v.getBigUint64(at, this.le) : BigInt(v.getUint32(at, this.le));
    this.cache.set(off, t);
    return t;
  }

  private kept: { off: number; bytes: Uint8Array } | undefined;
  /** The chunk at off, inflated (the last one kept: firstRecord reads the one timeAt read) */
  private chunk(off: number): Uint8Array {
    if (this.kept?.off === off) return this.kept.bytes;
    const h = this.file.read(off, 8, 'compressed chunk');
    const hv = new DataView(h.buffer, h.byteOffset, 8);
    const csize = hv.getUint32(0, this.le), usize = hv.getUint32(4, this.le);
    const bytes = this.decompress!(this.file.read(off + 8, csize, 'compressed chunk'), usize, off);
    this.kept = { off, bytes };
    return bytes;
  }

  /**
   * The raw time of the stream's first record: its first pages walked (time extends, absolute time stamps,
   * padding) to the first data record; undefined when they hold none.
   */
  firstRecord(): bigint | undefined {
    if (this.end <= this.first) return undefined;
    const L = this.layout, ps = this.pageSize;
    const bytes = this.decompress ? this.chunk(this.first) : this.file.readUpTo(this.first, Math.min(16 * ps, this.end - this.first));
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let pg = 0; pg + L.dataOff <= bytes.length; pg += ps) {
      let ts = L.tsSize === 8 ? v.getBigUint64(pg + L.tsOff, this.le) : BigInt(v.getUint32(pg + L.tsOff, this.le));
      const word = L.commitSize === 8 && !this.le ? v.getUint32(pg + L.commitOff + 4, false) : v.getUint32(pg + L.commitOff, this.le);
      const end = Math.min(bytes.length, pg + L.dataOff + (word & ((1 << 27) - 1)), pg + ps);
      for (let p = pg + L.dataOff; p + 4 <= end;) {
        const w = v.getUint32(p, this.le);
        const type = this.le ? w & 0x1f : w >>> 27;
        const delta = BigInt(this.le ? w >>> 5 : w & 0x7ffffff);
        if (type <= 28) return ts + delta;
        if (p + 8 > end) break;
        const arr = v.getUint32(p + 4, this.le);
        if (type === 29) { if (delta === 0n) break; ts += delta; p += 4 + arr; continue; }
        if (type === 30) ts += (BigInt(arr) << 27n) | delta;
        else return undefined; // an absolute time stamp first: leave it to the check after the read
        p += 8;
      }
    }
    return undefined;
  }

  /**
   * Where the walk of a window starting at lo begins: the last page whose header time is before lo (of a
   * compressed stream, a chunk at most about two before the last one), the stream's first page when none is.
   * Searched from the planner's probes of this stream (its first and last page or chunk, and any samples) and a
   * guess of where lo falls (between its probes, else the planner's pooled `guess`; two probes around it), then by
   * interpolation and bisection over the stream's bytes. Assumes the times grow along the stream: the
   * walk checks it (tdBackwards) and the pipeline checks the walks meet.
   */
  startFor(lo: bigint, hint: { probes?: Probe[]; guess?: number } = {}): number {
    if (this.end <= this.first) return this.first;
    let good: Probe | undefined, bad = this.end, badTs: bigint | undefined;
    const take = (p: Probe | undefined, x: number): void => {
      if (!p) { if (x < bad) { bad = x; badTs = undefined; } return; }
      if (p.ts < lo) { if (!good || p.off > good.off) good = p; } else if (p.off < bad) { bad = p.off; badTs = p.ts; }
    };
    for (const p of hint.probes ?? []) take(p, p.off);
    if (good && good.off >= bad) good = undefined; // (times that go back: the walk says so)
    const align = (x: number): number => (this.decompress ? x : this.first + Math.floor((x - this.first) / this.pageSize) * this.pageSize);
    // the guess: between this stream's own probes around lo when there are (times grow about evenly), else the pooled one
    let guess = hint.guess;
    if (good && badTs !== undefined && badTs > good.ts) guess = good.off + Math.floor(((bad - good.off) * Number(lo - good.ts)) / Number(badTs - good.ts));
    if (guess !== undefined) {
      // a probe a little before the guess and one a little after: a bracket of a few chunks when it is good
      const d = Math.max(this.decompress ? Math.ceil(1.5 * this.chunkGuess()) : 4 * this.pageSize, Math.floor((this.end - this.first) / 256));
      for (const x of [guess - d, guess + d].map(align)) {
        if (x <= (good?.off ?? this.first) || x >= bad) continue;
        take(this.at(x, bad), x);
      }
    }
    if (!good) {
      const f = this.at(this.first)!;
      if (f.ts >= lo) return this.first;
      good = f;
    }
    for (let step = 0; ; step++) {
      const next = this.after(good.off);
      if (next < 0 || next >= bad) break;
      // compressed: a probe inflates a chunk, as walking one does: two chunks or so left to walk are cheaper
      if (this.decompress && bad - good.off <= 3 * (next - good.off)) break;
      // interpolate on the bracket's times when known, bisect every other step (and when not)
      let m = next + Math.floor((bad - next) / 2);
      if (badTs !== undefined && step % 2 === 0 && badTs > good.ts) {
        const frac = Number(lo - good.ts) / Number(badTs - good.ts);
        m = good.off + Math.floor((bad - good.off) * Math.min(0.98, Math.max(0, frac)));
      }
      m = Math.max(next, align(m));
      const p = this.at(m, bad);
      take(p, m);
    }
    return good.off;
  }

  /** A compressed chunk's size, from the stream's first (probes find chunks by their headers) */
  private chunkGuess(): number {
    const n = this.after(this.first);
    return n > this.first ? n - this.first : 1 << 12;
  }

  /** The start of the page or chunk after the one at off (-1: it is the last). */
  private after(off: number): number {
    if (!this.decompress) return off + this.pageSize < this.end ? off + this.pageSize : -1;
    const h = this.file.read(off, 8, 'compressed chunk');
    const n = off + 8 + new DataView(h.buffer, h.byteOffset, 8).getUint32(0, this.le);
    return n < this.end ? n : -1;
  }

  /** The stream's last page, or a chunk near its end. */
  lastProbe(): Probe | undefined {
    const x = this.lastStart();
    return x > this.first ? this.at(x) : undefined;
  }

  /** About `n` probes spread over the stream's bytes (its first and last page or chunk among them). */
  sample(n: number): Probe[] {
    const out: Probe[] = [];
    if (this.end <= this.first) return out;
    const span = this.end - this.first;
    const seen = new Set<number>();
    for (let i = 0; i < Math.max(2, n); i++) {
      const x = i === Math.max(2, n) - 1 ? this.lastStart() : this.first + Math.floor((span * i) / Math.max(2, n));
      if (x < 0) continue;
      const p = this.at(x);
      if (p && !seen.has(p.off)) { seen.add(p.off); out.push(p); }
    }
    return out.sort((a, b) => a.off - b.off);
  }

  /** the start of the last page (or a chunk near the end) */
  private lastStart(): number {
    if (!this.decompress) {
      const n = Math.floor((this.end - this.first) / this.pageSize);
      return n > 0 ? this.first + (n - 1) * this.pageSize : this.first;
    }
    // chunks are a few KiB: one near the end
    return Math.max(this.first, this.end - (1 << 16));
  }

  private pageAt(x: number, before: number): number {
    const ps = this.pageSize;
    const i = Math.max(0, Math.ceil((x - this.first) / ps));
    const off = this.first + i * ps;
    const L = this.layout;
    return off < before && off + L.tsOff + L.tsSize <= this.end ? off : -1;
  }

  /** The first chunk that starts at or after x and before `before` (its header and the next ones check out), or -1. */
  private chunkAt(x: number, before: number): number {
    if (x <= this.first) return this.first < before ? this.first : -1;
    const W = 1 << 14;
    for (let s = x; s < before; s += W - 16) {
      const win = this.file.readUpTo(s, Math.min(W, this.end - s));
      if (this.zlib) {
        for (let i = 0; i + 12 <= win.length && s + i < before; i++) {
          if (this.magicAt(win, i + 8) && this.chain(s + i, CHAIN)) return s + i;
        }
      } else {
        // zstd: the frame magic found natively, then its chunk header checked
        const buf = Buffer.from(win.buffer, win.byteOffset, win.byteLength);
        for (let m = buf.indexOf(ZSTD_MAGIC_BYTES, 8); m >= 0 && m + 4 <= win.length && s + m - 8 < before; m = buf.indexOf(ZSTD_MAGIC_BYTES, m + 1)) {
          if (this.chain(s + m - 8, CHAIN)) return s + m - 8;
        }
      }
      if (win.length < W) break;
    }
    return -1;
  }

  private magicAt(b: Uint8Array, i: number): boolean {
    if (i + 4 > b.length) return false;
    if (this.zlib) return (b[i]! & 0x0f) === 8 && (b[i]! >> 4) <= 7 && ((b[i]! << 8) | b[i + 1]!) % 31 === 0;
    return ((b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0) === ZSTD_MAGIC;
  }

  /** whether a chunk starts at off, and `depth` more follow it exactly (or the stream ends) */
  private chain(off: number, depth: number): boolean {
    for (let k = 0; k <= depth; k++) {
      // the end: no room for another chunk header (older trace-cmd counts the leading u32 in the size)
      if (off + 8 > this.end) return off <= this.end;
      if (off + 12 > this.end) return false;
      const h = this.file.read(off, 12, 'compressed chunk');
      const v = new DataView(h.buffer, h.byteOffset, 12);
      const csize = v.getUint32(0, this.le), usize = v.getUint32(4, this.le);
      if (csize < 4 || usize === 0 || usize > 1 << 30 || off + 8 + csize > this.end || !this.magicAt(h, 8)) return false;
      if (usize % this.pageSize !== 0 && off + 8 + csize + 8 <= this.end) return false;
      off += 8 + csize;
    }
    return true;
  }
}
