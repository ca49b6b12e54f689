/**
 * Fuzzing the perf.data reader (src/formats/perfdata.ts), file and pipe mode, with mutations of real
 * captures: test/fixtures/fuzz-seeds/svm-D-small.perf.data (perf record -e kvm:* -e sched:*) and
 * svm-D-small.perf-kvm.data (perf kvm stat record), cut to their first 400 samples (fuzz/make-seeds.mjs),
 * the same two converted to pipe mode (test/support/perf-pipe.ts), and the full captures of ../shared for a
 * few hundred cases. Truncation at record starts and inside records, at header fields and feature sections;
 * bit flips, interesting integers over sizes and offsets, insertions and deletions.
 * Outcome of each case: readBinary() returns or throws a KvmtaxError with a byte offset inside the file;
 * every 10th case also runs the whole pipeline.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'vitest';
import { HAVE_SHARED, SHARED } from '../../support/paths.js';
import { perfFileToPipe } from '../../support/perf-pipe.js';
import { binaryFuzz, runs, SEEDS, type BinarySeed, type Shape } from '../../support/fuzz-harness.js';

/** Structure of a perf.data file: header fields, attrs, every record start, the feature table and sections. */
function perfShape(bytes: Uint8Array): Shape {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u = (o: number) => Number(v.getBigUint64(o, true));
  const pts = new Set<number>([0, 8, 16, 24, 40, 48, 72, 104]);
  let dataOff: number, dataEnd: number;
  if (u(8) === 16) { // pipe mode: records from offset 16
    dataOff = 16;
    dataEnd = bytes.length;
  } else {
    dataOff = u(40);
    dataEnd = dataOff + u(48);
    for (let o = u(24); o < u(24) + u(32); o += u(16)) pts.add(o);
    let t = dataEnd;
    for (let bit = 0; bit < 256; bit++) {
      if ((v.getBigUint64(72 + Math.floor(bit / 64) * 8, true) >> BigInt(bit % 64)) & 1n) { pts.add(t); pts.add(u(t)); t += 16; }
    }
  }
  for (let o = dataOff; o + 8 <= dataEnd;) {
    pts.add(o);
    const size = v.getUint16(o + 6, true);
    // pipe mode: HEADER_TRACING_DATA (66) is followed by the tracing data itself
    o += size + (v.getUint32(o, true) === 66 ? v.getUint32(o + 8, true) : 0);
    if (size === 0) break;
  }
  return { bytes, points: [...pts].filter((p) => p <= bytes.length).sort((a, b) => a - b) };
}

describe('fuzz: perf.data reader', () => {
  it(`mutated small captures (file and pipe mode): ${runs(10_000)} cases`, async () => {
    const seeds: BinarySeed[] = [];
    for (const f of ['svm-D-small.perf.data', 'svm-D-small.perf-kvm.data']) {
      const p = path.join(SEEDS, f);
      seeds.push({ name: f, shape: perfShape(fs.readFileSync(p)) });
      seeds.push({ name: f.replace('.data', '.pipe.data'), shape: perfShape(perfFileToPipe(p)) });
    }
    console.log(await binaryFuzz({ reader: 'perfdata', format: 'perf.data', seeds, numRuns: runs(10_000), fullEvery: 10 }));
  }, 900_000);

  it.skipIf(!HAVE_SHARED)(`mutated full captures of ../shared/captures/svm-D-small: ${runs(200)} cases`, async () => {
    const seeds = ['perf.data', 'perf-kvm.data'].map((f) => ({ name: `svm-D-small.${f}`, shape: perfShape(fs.readFileSync(path.join(SHARED, 'captures', 'svm-D-small', f))) }));
    console.log(await binaryFuzz({ reader: 'perfdata-full', format: 'perf.data', seeds, numRuns: runs(200), fullEvery: 10 }));
  }, 900_000);
});
