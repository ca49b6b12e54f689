/**
 * Fuzzing the trace.dat reader (src/formats/tracedat.ts) with mutations of real captures:
 *   - test/fixtures/fuzz-seeds/svm-D-small.{v6,v7,v7-zstd}.dat: the svm-D-small recording cut to 6 pages per
 *     CPU of its "cap" instance, as trace-cmd v6, v7 and v7 with zstd sections (fuzz/make-seeds.mjs);
 *   - ../shared/captures/svm-D-small/trace.dat itself (1 MiB, zstd v7) for a few hundred cases, when present.
 * Truncation at offset classes (header tags, section and page starts, inside pages), bit flips, random runs,
 * interesting integers (0, -1, 2^31, page sizes) over size and offset fields, insertions and deletions.
 * Outcome of each case: readBinary() returns (the events it could decode, skips reported) or throws a
 * KvmtaxError with a byte offset inside the file; every 10th case also runs the whole pipeline.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'vitest';
import { HAVE_SHARED, SHARED } from '../../support/paths.js';
import { binaryFuzz, binaryShape, runs, SEEDS, type BinarySeed } from '../../support/fuzz-harness.js';

const TAGS = ['header_page', 'header_event', 'flyrecord', 'options', 'name: ', 'ID: ', 'format:', 'print fmt', 'kvm', 'sched', '[local]', 'cap'];
const seed = (file: string, name = path.basename(file)): BinarySeed => ({ name, shape: binaryShape(fs.readFileSync(file), TAGS) });

describe('fuzz: trace.dat reader', () => {
  it(`mutated small captures (v6, v7, v7+zstd): ${runs(10_000)} cases`, async () => {
    const seeds = ['svm-D-small.v6.dat', 'svm-D-small.v7.dat', 'svm-D-small.v7-zstd.dat'].map((f) => seed(path.join(SEEDS, f)));
    console.log(await binaryFuzz({ reader: 'tracedat', format: 'trace.dat', seeds, numRuns: runs(10_000), fullEvery: 10 }));
  }, 900_000);

  it.skipIf(!HAVE_SHARED)(`mutated full capture ../shared/captures/svm-D-small/trace.dat: ${runs(150)} cases`, async () => {
    const seeds = [seed(path.join(SHARED, 'captures', 'svm-D-small', 'trace.dat'), 'svm-D-small.trace.dat')];
    console.log(await binaryFuzz({ reader: 'tracedat-full', format: 'trace.dat', seeds, numRuns: runs(150), fullEvery: 10 }));
  }, 900_000);
});
