/**
 * FileWindow (src/formats/tracedat/file.ts): the forward reads of a compressed CPU stream served from a window
 * that is refilled in large reads. Every read must give the file's own bytes, whatever its place against the
 * window's edges, and a read past the end must fail as FileSrc.read fails.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSrc, FileWindow } from '../../../src/formats/tracedat/file.js';

const dir = mkdtempSync(join(tmpdir(), 'kvmtax-window-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// 10,000 bytes, each the low byte of a multiplicative hash of its offset: a misplaced view shows
const bytes = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 2654435761) >>> 24);
const path = join(dir, 'f.bin');
writeFileSync(path, bytes);

describe('FileWindow', () => {
  it('gives the file bytes for reads inside, across and beyond its 256-byte window, in order and out of it', () => {
    const file = new FileSrc(path, 0); // not read whole
    expect(file.isWhole).toBe(false);
    const w = new FileWindow(file, 256);
    // forward in header + chunk steps whose chunks cross the window's end, one larger than the window, then back
    const reads: Array<[number, number]> = [[0, 8], [8, 100], [108, 8], [116, 200], [316, 8], [324, 600], [924, 8], [932, 256], [0, 16], [9_990, 10]];
    for (const [off, len] of reads) expect([off, Array.from(w.read(off, len, 'chunk'))]).toEqual([off, Array.from(bytes.subarray(off, off + len))]);
  });

  it('fails past the end as FileSrc.read does', () => {
    const file = new FileSrc(path, 0);
    const w = new FileWindow(file, 256);
    w.read(9_900, 50, 'chunk');
    expect(() => w.read(9_990, 20, 'compressed chunk')).toThrow('truncated compressed chunk at offset 9990');
    expect(() => file.read(9_990, 20, 'compressed chunk')).toThrow('truncated compressed chunk at offset 9990');
  });

  it('reads a file held whole as views of it', () => {
    const file = new FileSrc(path, 1 << 20);
    expect(file.isWhole).toBe(true);
    const w = new FileWindow(file, 256);
    const v = w.read(5_000, 1_000, 'chunk');
    expect(Array.from(v)).toEqual(Array.from(bytes.subarray(5_000, 6_000)));
    expect(v.buffer).toBe(file.read(0, 1, 'x').buffer);
  });
});
