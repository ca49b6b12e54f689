/**
 * The memory budget's young-generation flag is set by the runs that grow large (src/core/young-gen.ts), not
 * at start-up: which inputs count as large (src/pipeline/analyze.ts largeInput).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { largeInput } from '../../src/pipeline/analyze.js';
import { LARGE_INPUT } from '../../src/core/young-gen.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-young-gen-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('a large input', () => {
  it('a plain file by its size', () => {
    expect(largeInput('x', { size: 1000 })).toBe(false);
    expect(largeInput('x', { size: LARGE_INPUT })).toBe(false);
    expect(largeInput('x', { size: LARGE_INPUT + 1 })).toBe(true);
  });

  it('a compressed file as 8 times its size on disk', () => {
    const small = path.join(dir, 'small.xz');
    fs.writeFileSync(small, Buffer.alloc(LARGE_INPUT / 8));
    expect(largeInput(small, { compression: 'xz' })).toBe(false);
    const big = path.join(dir, 'big.xz');
    fs.writeFileSync(big, Buffer.alloc(LARGE_INPUT / 8 + 1));
    expect(largeInput(big, { compression: 'xz' })).toBe(true);
  });

  it('standard input or a pipe: unknown size, so large', () => {
    expect(largeInput('\u0000stdin', {})).toBe(true);
    expect(largeInput('/dev/null', { compression: 'gzip' })).toBe(true); // a device, not a file
  });
});
