/**
 * The thread record is generated from one list (scripts/gen-thread-layout.mjs) into both sides: the
 * committed assembly/constants.ts block and src/wasm/thread-layout.ts must be what the list gives, and
 * every field TypeScript reads must lie inside the record, aligned to its size, without overlap.
 */
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import * as K from '../../assembly/constants.js';
import { THREAD_FIELDS } from '../../src/wasm/thread-layout.js';
import { ROOT } from '../support/paths.js';

describe('thread record layout', () => {
  it('the generated files are up to date with the list', () => {
    expect(() => execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'gen-thread-layout.mjs'), '--check'], { stdio: 'pipe' })).not.toThrow();
  });
  it('fields are aligned, inside the stride and do not overlap', () => {
    const size = { i32: 4, i64: 8, f64: 8 } as const;
    const spans = THREAD_FIELDS.map(([name, off, type]) => ({ name, off, end: off + size[type], type }));
    for (const s of spans) {
      expect(s.off % size[s.type], s.name).toBe(0);
      expect(s.end, s.name).toBeLessThanOrEqual(K.TH_STRIDE);
    }
    const sorted = [...spans].sort((a, b) => a.off - b.off);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.off, sorted[i]!.name).toBeGreaterThanOrEqual(sorted[i - 1]!.end);
  });
});
