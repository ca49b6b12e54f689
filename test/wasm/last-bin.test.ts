/**
 * A thread keeps the bin of its last exit reason and of its last sub-key (msr, pio) so that a repeated key skips
 * the bin table's hash lookup (assembly/analysis.ts lastBin). The bins are made all along the run here (a thread
 * joins in each round, with keys of its own), so that the bin table is regrown while such a lookup makes a bin:
 * every bin's seen and handled counts must be those counted here from the crafted lines.
 */
import { describe, expect, it } from 'vitest';
import * as K from '../../assembly/constants.js';
import { Core } from '../../src/wasm/core.js';
import { scanTextIntoCore } from '../support/scan-text.js';

const line = (tid: number, us: number, ev: string): string =>
  `             vmm-${tid}     (    100) [001] d..1.  ${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}: ${ev}\n`;

/** Per "tid key" (key: an exit reason, or "msr 0x... w" / "pio 0x... w"): [seen, handled]. */
function craft(threads: number, rounds: number): { text: string; want: Map<string, [number, number]> } {
  const want = new Map<string, [number, number]>();
  const add = (k: string, handled: number): void => {
    const v = want.get(k) ?? [0, 0];
    v[0]++; v[1] += handled;
    want.set(k, v);
  };
  let us = 1_000_000;
  let text = '# tracer: nop\n#\n';
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < Math.min(threads, r + 1); k++) {
      const tid = 1000 + k;
      // the same key twice in a row (the kept bin), then another (a lookup), per thread its own MSR and port
      for (const [reason, sub] of [['msr', `msr 0x${(0x800 + k).toString(16)} w`], ['msr', `msr 0x${(0x800 + k).toString(16)} w`],
        ['io', `pio 0x${(0x100 + (r % 3) * 0x40 + k).toString(16)} w`], ['hlt', '']] as const) {
        text += line(tid, us, `kvm_exit: vcpu 0 reason ${reason} rip 0x1000 info1 0x0 info2 0x0 intr_info 0x00000000 error_code 0x00000000`);
        us += 2;
        if (sub.startsWith('msr')) text += line(tid, us, `kvm_msr: msr_write ${sub.split(' ')[1]!.slice(2)} = 0x1234`);
        if (sub.startsWith('pio')) text += line(tid, us, `kvm_pio: pio_write at ${sub.split(' ')[1]} size 1 count 1 val 0x5`);
        us += 5;
        text += line(tid, us, 'kvm_entry: vcpu 0, rip 0x1000');
        us += 3;
        add(`${tid} ${reason}`, 1);
        if (sub) add(`${tid} ${sub}`, 1);
      }
    }
  }
  return { text, want };
}

function binsOf(text: string): Map<string, [number, number]> {
  const core = new Core({ arenaBytes: 1 << 16 });
  scanTextIntoCore(core, text);
  const t = core.tables();
  const got = new Map<string, [number, number]>();
  for (const b of t.bins) {
    if (b.reason < 0) continue; // metrics
    const key = t.strings[b.reason & ~K.SUBKEY_FLAG];
    got.set(`${t.threads[b.thread]!.tid} ${key}`, [b.seen, b.handled]);
  }
  return got;
}

describe('the bins a thread keeps (exit reason, sub-key)', () => {
  it('count every exit and every msr and pio event in its own bin while the bin table grows', () => {
    // 150 threads x (3 reasons + an MSR + 3 ports) = 1050 bins, made over the run
    const { text, want } = craft(150, 160);
    expect(want.size).toBe(150 * 7);
    expect(binsOf(text)).toEqual(want);
  });
});
