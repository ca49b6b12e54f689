/**
 * Binary scale-up for the benchmark: a real perf.data capture tiled to any size, readable by
 * perf itself.
 *
 *   node dist/bench/tile.js IN.perf.data[.xz] --size 1G --out OUT.perf.data
 *
 * perf.data (file mode; tools/perf/Documentation/perf.data-file-format.txt):
 *   header (PERFILE2, 104 bytes) | attrs and their id arrays | data section (records) |
 *   feature index (one {offset, size} per feature bit set, at data.offset + data.size) | feature bodies
 * The copy keeps the header, the attrs (with their embedded tracepoint formats in the tracing-data
 * feature) and every record of the original once; then it appends N-1 copies of the data section's
 * PERF_RECORD_SAMPLE and PERF_RECORD_FINISHED_ROUND records, each copy's PERF_SAMPLE_TIME shifted by the
 * capture's span (last minus first sample time, plus 1 us) times the copy's number, so the timeline
 * goes on without overlap and perf's round-ordered reading stays correct. The header's data size, the
 * feature index offsets and the HEADER_SAMPLE_TIME feature (first/last sample time) are fixed up.
 */
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import { parseSize } from './gen.js';

const PERF_RECORD_SAMPLE = 9;
const PERF_RECORD_FINISHED_ROUND = 68;
const SAMPLE_IDENTIFIER = 1n << 16n, SAMPLE_IP = 1n, SAMPLE_TID = 2n, SAMPLE_TIME = 4n;
const HEADER_SAMPLE_TIME = 21;
const FEAT_BITS = 256;

export interface TileResult { copies: number; samples: number; samplesPerCopy: number; bytes: number; spanNs: number; firstNs: number; lastNs: number }

/** read a file, decompressing .xz with the xz tool */
export function readMaybeXz(file: string): Buffer {
  if (file.endsWith('.xz')) return execFileSync('xz', ['-dc', file], { maxBuffer: 1 << 30 });
  return fs.readFileSync(file);
}

/** Tile `input` (a perf.data) into `out` of about `size` bytes (at least one copy). */
export function tilePerfData(input: Buffer, out: string, size: number): TileResult {
  const b = input;
  if (b.toString('latin1', 0, 8) !== 'PERFILE2') throw new Error('not a perf.data file (magic PERFILE2)');
  const hdrSize = Number(b.readBigUInt64LE(8));
  const attrSize = Number(b.readBigUInt64LE(16));
  const attrsOff = Number(b.readBigUInt64LE(24)), attrsSize = Number(b.readBigUInt64LE(32));
  const dataOff = Number(b.readBigUInt64LE(40)), dataSize = Number(b.readBigUInt64LE(48));
  if (hdrSize !== 104) throw new Error(`unexpected perf.data header size ${hdrSize}`);
  // PERF_SAMPLE_TIME follows IDENTIFIER, IP and TID (each one u64) in a sample: all attrs must agree
  let timeAt = -1;
  for (let off = attrsOff; off < attrsOff + attrsSize; off += attrSize) {
    const st = b.readBigUInt64LE(off + 24); // perf_event_attr.sample_type
    if (!(st & SAMPLE_TIME)) throw new Error('an event without PERF_SAMPLE_TIME: cannot shift its copies');
    const at = 8 + 8 * [SAMPLE_IDENTIFIER, SAMPLE_IP, SAMPLE_TID].filter((f) => st & f).length;
    if (timeAt >= 0 && at !== timeAt) throw new Error('events with different sample layouts before PERF_SAMPLE_TIME');
    timeAt = at;
  }
  // the records to repeat: samples and round ends, concatenated once; where their times are
  const keep: Buffer[] = [];
  const timePos: number[] = [], times: number[] = [];
  let keepLen = 0, samples = 0, first = Infinity, last = -Infinity;
  for (let p = dataOff; p < dataOff + dataSize;) {
    const type = b.readUInt32LE(p), sz = b.readUInt16LE(p + 6);
    if (sz < 8) throw new Error(`bad record size ${sz} at ${p}`);
    if (type === PERF_RECORD_SAMPLE) {
      const t = Number(b.readBigUInt64LE(p + timeAt));
      timePos.push(keepLen + timeAt); times.push(t);
      if (t < first) first = t;
      if (t > last) last = t;
      samples++;
    }
    if (type === PERF_RECORD_SAMPLE || type === PERF_RECORD_FINISHED_ROUND) { keep.push(b.subarray(p, p + sz)); keepLen += sz; }
    p += sz;
  }
  if (samples === 0) throw new Error('no samples to tile');
  const span = last - first + 1000;
  const copies = Math.max(1, Math.ceil((size - b.length) / keepLen) + 1);
  const block = Buffer.concat(keep);
  const newDataSize = dataSize + (copies - 1) * keepLen;
  const delta = newDataSize - dataSize;

  // header and attrs; the new data size
  const fd = fs.openSync(out, 'w');
  const head = Buffer.from(b.subarray(0, dataOff));
  head.writeBigUInt64LE(BigInt(newDataSize), 48);
  fs.writeSync(fd, head);
  fs.writeSync(fd, b, dataOff, dataSize);
  for (let k = 1; k < copies; k++) {
    const shift = k * span;
    for (let i = 0; i < timePos.length; i++) {
      const t = times[i]! + shift, pos = timePos[i]!;
      block.writeUInt32LE(t % 4294967296, pos);
      block.writeUInt32LE(Math.floor(t / 4294967296), pos + 4);
    }
    fs.writeSync(fd, block);
  }
  // the feature index (offsets move by delta) and the features themselves
  const featIdx = dataOff + dataSize;
  const bits: number[] = [];
  for (let i = 0; i < FEAT_BITS; i++) if (b[72 + (i >> 3)]! & (1 << (i & 7))) bits.push(i);
  const idx = Buffer.from(b.subarray(featIdx, featIdx + 16 * bits.length));
  const tail = Buffer.from(b.subarray(featIdx + 16 * bits.length));
  bits.forEach((bit, i) => {
    const off = Number(idx.readBigUInt64LE(16 * i));
    idx.writeBigUInt64LE(BigInt(off + delta), 16 * i);
    if (bit === HEADER_SAMPLE_TIME) {
      const at = off - (featIdx + 16 * bits.length);
      tail.writeBigUInt64LE(BigInt(first), at);
      tail.writeBigUInt64LE(BigInt(last + (copies - 1) * span), at + 8);
    }
  });
  fs.writeSync(fd, idx);
  fs.writeSync(fd, tail);
  fs.closeSync(fd);
  return {
    copies, samples: samples * copies, samplesPerCopy: samples, bytes: fs.statSync(out).size, spanNs: span,
    firstNs: first, lastNs: last + (copies - 1) * span,
  };
}

function main(argv: string[]): void {
  let input: string | undefined, out: string | undefined, size = parseSize('1G');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--size') size = parseSize(argv[++i] ?? '');
    else if (a === '--out' || a === '-o') out = argv[++i];
    else input = a;
  }
  if (!input || !out) {
    process.stderr.write('usage: node dist/bench/tile.js IN.perf.data[.xz] --size 1G --out OUT.perf.data\n');
    process.exit(2);
  }
  const r = tilePerfData(readMaybeXz(input), out, size);
  process.stderr.write(`tile: ${out}: ${r.bytes} bytes, ${r.copies} copies of ${r.samplesPerCopy} samples (${r.samples} samples), span ${(r.spanNs / 1e6).toFixed(3)} ms per copy\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main(process.argv.slice(2));
