/** The progress line: only on a terminal, not with --quiet, not before a second has passed, erased at the end. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Progress } from '../../src/cli/progress.js';

function fakeStream(tty: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY: tty, write: (s: string) => { out.push(s); return true; } } as unknown as NodeJS.WriteStream };
}

describe('Progress', () => {
  afterEach(() => { vi.useRealTimers(); });
  it('is off when stderr is not a terminal or with --quiet', () => {
    expect(Progress.enabled(false, fakeStream(false).stream)).toBe(false);
    expect(Progress.enabled(true, fakeStream(true).stream)).toBe(false);
    expect(Progress.enabled(false, fakeStream(true).stream)).toBe(true);
  });
  it('says nothing in the first second, then bytes, rate and ETA, and erases itself', () => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
    const f = fakeStream(true);
    const p = new Progress(1e9, f.stream);
    vi.setSystemTime(500);
    p.update(1e8);
    expect(f.out).toEqual([]);
    vi.setSystemTime(2000);
    p.update(4e8);
    expect(f.out).toEqual(['\rkvmtax: 400.0 MB of 1.00 GB (40%), 200.0 MB/s, ETA 3 s\x1b[K']);
    p.done();
    expect(f.out[1]).toBe('\r\x1b[K');
  });
});
