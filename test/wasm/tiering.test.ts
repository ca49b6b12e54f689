/**
 * The core's tiering (wasm/core.ts planTiering): a run whose inputs hold at most LIFTOFF_ONLY_MAX bytes keeps
 * the core in Liftoff's code; the inputs' content is estimated before they are read (pipeline/analyze.ts
 * contentEstimate). Sizes here are of crafted files, so the expectations are their byte counts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { LIFTOFF_ONLY_MAX, LIFTOFF_ONLY_MIN, liftoffOnlyFor } from '../../src/wasm/core.js';
import { contentEstimate } from '../../src/pipeline/analyze.js';
import { STDIN } from '../../src/formats/source.js';
import { ROOT, TRACES } from '../support/paths.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-tiering-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string, bytes: Uint8Array | string): string => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
};
// 10 bytes of magic; the headers below are 500 bytes each (10 + 11 + 479, 10 + 2 + 488)
const TRACE_DAT_MAGIC = [0x17, 0x08, 0x44, ...Buffer.from('tracing')];

describe('liftoffOnlyFor', () => {
  it('keeps small runs in Liftoff, never tiny, unknown or large ones, never while training the code cache', () => {
    expect(liftoffOnlyFor(0, false)).toBe(false);
    expect(liftoffOnlyFor(LIFTOFF_ONLY_MIN - 1, false)).toBe(false);
    expect(liftoffOnlyFor(LIFTOFF_ONLY_MIN, false)).toBe(true);
    expect(liftoffOnlyFor(LIFTOFF_ONLY_MAX, false)).toBe(true);
    expect(liftoffOnlyFor(LIFTOFF_ONLY_MAX + 1, false)).toBe(false);
    expect(liftoffOnlyFor(undefined, false)).toBe(false);
    expect(liftoffOnlyFor(1000, true)).toBe(false);
  });
});

describe('contentEstimate', () => {
  it('counts a plain file at its size, and several files summed', () => {
    const a = file('a.txt', 'x'.repeat(1000));
    const b = file('b.txt', 'y'.repeat(234));
    expect(contentEstimate([a])).toBe(1000);
    expect(contentEstimate([a, b])).toBe(1234);
  });

  it('counts a .gz or .xz file (by its magic, whatever its name) and a trace.dat naming zstd or zlib at 16 times its size', () => {
    const gz = file('g.bin', new Uint8Array([0x1f, 0x8b, ...new Uint8Array(98)]));
    const xz = file('x.bin', new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, ...new Uint8Array(94)]));
    const v7 = file('v7.dat', new Uint8Array([...TRACE_DAT_MAGIC, ...Buffer.from('7\0\0\0\0\0zstd\0'), ...new Uint8Array(479)]));
    const v7z = file('v7z.dat', new Uint8Array([...TRACE_DAT_MAGIC, ...Buffer.from('7\0\0\0\0\0zlib\0'), ...new Uint8Array(479)]));
    const v6 = file('v6.dat', new Uint8Array([...TRACE_DAT_MAGIC, ...Buffer.from('6\0'), ...new Uint8Array(488)]));
    expect(contentEstimate([gz])).toBe(1600);
    expect(contentEstimate([xz])).toBe(1600);
    expect(contentEstimate([v7])).toBe(16 * 500);
    expect(contentEstimate([v7z])).toBe(16 * 500);
    expect(contentEstimate([v6])).toBe(500);
  });

  it('is unknown for standard input, a directory or a missing file (their errors come from the reader)', () => {
    expect(contentEstimate([STDIN])).toBeUndefined();
    expect(contentEstimate([dir])).toBeUndefined();
    expect(contentEstimate([path.join(dir, 'missing.txt')])).toBeUndefined();
    expect(contentEstimate([file('c.txt', 'z'), path.join(dir, 'missing.txt')])).toBeUndefined();
  });

  it('never opens a FIFO (that would wait for its writer and take the reader\'s bytes)', () => {
    const fifo = path.join(dir, 'trace.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expect(contentEstimate([fifo])).toBeUndefined(); // (opening it here would block the test until it times out)
  });
});

describe('the CLI', () => {
  const BIN = path.join(ROOT, 'bin', 'kvmtax.js');
  const phases = (trace: string): string[] => {
    const r = spawnSync(process.execPath, [BIN, 'report', trace, '-f', 'json', '-o', path.join(dir, 'out.json')], {
      encoding: 'utf8', cwd: ROOT, env: { ...process.env, KVMTAX_PHASES: '1' },
    });
    return r.stderr.split('\n').filter((l) => l.includes(' core: '));
  };

  it('reads a small capture with Liftoff\'s code alone', () => {
    // svm-D-small's trace.txt.xz: 13,692 bytes, counted as 219,072
    const p = phases(path.join(TRACES, 'svm-D-small/trace.txt.xz'));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/ main core: Liftoff only /);
  });

  it('leaves V8\'s tiering as it is for a 2-line trace, which it never tiers up', () => {
    const tiny = file('tiny.txt', '             vmm-193     (    188) [001] d..1.     7.334239: kvm_entry: vcpu 1, rip 0x1000\n' +
      '             vmm-193     (    188) [001] .....     7.335242: kvm_exit: vcpu 1 reason npf rip 0x10000 info1 0x0000000200000006 info2 0x0000000000001000 intr_info 0x00000000 error_code 0x00000000\n');
    const p = phases(tiny);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/ main core: tiered /);
  });

  it('leaves V8\'s tiering as it is for inputs over the limit', () => {
    // 33 MiB of comment lines: the decision is made from the size before anything is read
    const line = '# ' + 'x'.repeat(1021) + '\n';
    const big = path.join(dir, 'big.txt');
    fs.writeFileSync(big, line.repeat((LIFTOFF_ONLY_MAX + (1 << 20)) / line.length));
    const p = phases(big);
    fs.rmSync(big);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/ main core: tiered /);
  });
});
