/**
 * The two ways a handling time reaches its bin's histogram (assembly/analysis.ts histLog): straight to the
 * bucket while the core has at most HLOG_DIRECT_BLOCKS blocks of histograms (128), through the log (applied in
 * batches grouped by histogram) once it has more. A run that starts with few bins and ends with many changes
 * way in the middle. Every bin's histogram must hold exactly the buckets of its handling times, worked out here
 * from the crafted durations with the JavaScript bucketOf.
 */
import { describe, expect, it } from 'vitest';
import * as K from '../../assembly/constants.js';
import { Core } from '../../src/wasm/core.js';
import { bucketOf } from '../../src/core/histogram.js';
import { scanTextIntoCore } from '../support/scan-text.js';

const REASONS = ['msr', 'io', 'cpuid', 'hlt', 'npf'];

/** raw ftrace with the tgid column; `us` is the time in microseconds */
const line = (tid: number, us: number, ev: string): string =>
  `             vmm-${tid}     (    100) [001] d..1.  ${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}: ${ev}\n`;

/**
 * `threads` vCPU threads, each with exits of every reason in turn (each followed by its entry), `rounds` times:
 * thread k appears only from round k on, so that bins are made all along the run. Durations in whole microseconds from a fixed LCG.
 * Returns the text and, per "tid reason", the bucket counts expected.
 */
function craft(threads: number, rounds: number): { text: string; want: Map<string, Map<number, number>> } {
  let seed = 12345;
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed; };
  const want = new Map<string, Map<number, number>>();
  let us = 1_000_000;
  let text = '# tracer: nop\n#\n';
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < Math.min(threads, r + 1); k++) {
      const tid = 1000 + k;
      for (const reason of REASONS) {
        text += line(tid, us, `kvm_exit: vcpu 0 reason ${reason} rip 0x1000 info1 0x0 info2 0x0 intr_info 0x00000000 error_code 0x00000000`);
        // 1 us to about 16 ms: buckets on many histogram pages
        const d = 1 + (rnd() % (1 << (rnd() % 15)));
        us += d;
        text += line(tid, us, 'kvm_entry: vcpu 0, rip 0x1000');
        us += 3;
        const key = `${tid} ${reason}`;
        const m = want.get(key) ?? new Map<number, number>();
        const b = bucketOf(d * 1000);
        m.set(b, (m.get(b) ?? 0) + 1);
        want.set(key, m);
      }
    }
  }
  return { text, want };
}

function binsOf(text: string): Map<string, Map<number, number>> {
  const core = new Core({ arenaBytes: 1 << 16 });
  scanTextIntoCore(core, text);
  const t = core.tables();
  const got = new Map<string, Map<number, number>>();
  for (const b of t.bins) {
    const reason = t.strings[b.reason];
    if (reason === undefined || !REASONS.includes(reason)) continue; // metrics and sub-keys have negative or flagged keys
    const m = new Map<number, number>();
    b.hist.forEach((c, i) => { if (c) m.set(i, c); });
    got.set(`${t.threads[b.thread]!.tid} ${reason}`, m);
  }
  return got;
}

describe('histogram updates, direct and logged', () => {
  it('gives every bin the buckets of its handling times with few bins (direct)', () => {
    const { text, want } = craft(4, 40);
    expect(want.size).toBe(20);
    expect(binsOf(text)).toEqual(want);
  });

  it('gives the same when the bins outgrow the direct way mid-run (direct, then logged)', () => {
    // 60 threads x 5 reasons = 300 bins (5 blocks): the first 128 made while updates go straight to buckets
    const { text, want } = craft(60, 120);
    expect(want.size).toBe(300);
    expect(binsOf(text)).toEqual(want);
  });
});
