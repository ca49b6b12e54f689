/**
 * Feed a whole ftrace text to a Core through its input arena, a chunk at a time with the unfinished line carried
 * over, as the text reader does (tests of the core's tables on crafted text).
 */
import { expect } from 'vitest';
import * as K from '../../assembly/constants.js';
import type { Core } from '../../src/wasm/core.js';

export function scanTextIntoCore(core: Core, text: string, format = K.FMT_FTRACE): void {
  core.beginTextFile(core.nextFileIndex(), format, true);
  const bytes = Buffer.from(text, 'latin1');
  let off = 0, carry = 0;
  for (;;) {
    const a = core.arena();
    const n = Math.min(core.arenaBytes - carry, bytes.length - off);
    a.set(bytes.subarray(off, off + n), carry);
    off += n;
    const total = carry + n;
    const last = off >= bytes.length;
    const used = core.scan(total, last);
    expect(used).toBeGreaterThanOrEqual(0);
    if (last) break;
    carry = total - used;
    if (carry > 0) a.copyWithin(0, used, total);
  }
  core.endFile();
}
