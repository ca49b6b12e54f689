/**
 * Fuzzing the Perfetto reader (src/formats/perfetto.ts) with mutations of traces built by
 * test/support/perfetto-build.ts from a window of the svm-D-small raw ftrace capture: generic events
 * (legacy and dense), typed x86 kvm_exit/kvm_entry (fields lost), compact_sched, compressed packets, packets
 * by sequence. Truncation at packet starts and inside packets, bit flips (varints, tags, lengths),
 * interesting integers, insertions and deletions.
 * Outcome of each case: readBinary() returns or throws a KvmtaxError with a byte offset inside the file;
 * every 10th case also runs the whole pipeline.
 */
import path from 'node:path';
import { describe, it } from 'vitest';
import { TRACES } from '../../support/paths.js';
import { buildPerfetto, packetShape, parseFtraceText, type BuildOptions } from '../../support/perfetto-build.js';
import { binaryFuzz, readAll, runs, type BinarySeed } from '../../support/fuzz-harness.js';


describe('fuzz: Perfetto reader', () => {
  it(`mutated built traces: ${runs(10_000)} cases`, async () => {
    const events = parseFtraceText((await readAll(path.join(TRACES, 'svm-D-small', 'trace.txt.xz'))).toString('utf8'));
    // a window with both vCPUs running and halting
    const win = events.slice(400, 900);
    const variants: Array<[string, BuildOptions]> = [
      ['legacy', { generic: 'legacy' }],
      ['dense', { generic: 'dense' }],
      ['typed-kvm', { generic: 'dense', typedKvm: true }],
      ['compact-sched', { generic: 'legacy', compactSched: true }],
      ['compressed', { generic: 'dense', compress: true }],
      ['by-sequence-lost', { generic: 'legacy', bySequence: true, lostOn: [[1, 1]], periodNs: 2_000_000n }],
    ];
    const seeds: BinarySeed[] = variants.map(([n, o]) => ({ name: `svm-D-small.${n}.pftrace`, shape: packetShape(buildPerfetto(win, o)) }));
    console.log(await binaryFuzz({ reader: 'perfetto', format: 'perfetto', seeds, numRuns: runs(10_000), fullEvery: 10 }));
  }, 900_000);
});
