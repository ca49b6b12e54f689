/**
 * Bounds (issue 8): garbage cannot grow the name dictionaries without limit, very large inputs stream in
 * bounded memory, and a 10 MB line (longer than the core's 4 MiB input arena) is skipped and said so.
 *   - 200k distinct garbage event names: the core caps its dictionary at 65536 names; the report carries
 *     quality.dictionary_overflow and a note, and the process's peak RSS stays small;
 *   - a generated 200 MB trace: peak RSS of a child process within 64 MB of a 20 MB trace's;
 *   - a 10 MB line in the middle or at the end of a text trace: a report, the line counted as skipped,
 *     the events around it read and paired.
 * The child process (fuzz/rss-child.mjs) runs the built pipeline (dist/, built by `npm test`'s pretest).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { ROOT } from '../support/paths.js';
import { checkReport, scratchDir } from '../support/fuzz-harness.js';

const dir = scratchDir('bounds');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface ChildOut {
  bytes: number; lines: number; maxRssMb: number; events: number; exits: number; handled: number;
  skipped: unknown[]; overflow: number; names: number; notes: string[];
}
function child(mode: 'events' | 'names', mb: number): ChildOut {
  const out = execFileSync(process.execPath, [path.join(ROOT, 'fuzz', 'rss-child.mjs'), mode, String(mb), path.join(dir, `${mode}-${mb}.txt`)],
    { encoding: 'utf8', maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split('\n').pop()!) as ChildOut;
}

describe('bounds', () => {
  it('200k distinct garbage event names: dictionary capped, overflow reported, memory bounded', () => {
    const r = child('names', 17);
    expect(r.lines).toBeGreaterThanOrEqual(200_000);
    expect(r.events).toBe(r.lines);
    expect(r.names).toBeLessThanOrEqual(65536);
    expect(r.overflow).toBeGreaterThanOrEqual(r.lines - 65536);
    expect(r.notes.join('\n')).toMatch(/beyond the 65536-name dictionary limit/);
    expect(r.maxRssMb).toBeLessThan(400);
  }, 120_000);

  it('a generated 200 MB trace streams: peak RSS within 64 MB of a 20 MB trace\'s', () => {
    const small = child('events', 20);
    const big = child('events', 200);
    expect(big.bytes).toBeGreaterThan(200 * 2 ** 20);
    expect(big.exits).toBe(Math.ceil(big.lines / 2));
    expect(big.handled).toBe(big.exits - 1); // the last exit of one thread waits for its entry at the end
    expect(big.skipped).toEqual([]);
    expect(big.maxRssMb - small.maxRssMb).toBeLessThan(64);
  }, 300_000);

  const HDR = '# tracer: nop\n#\n';
  const L = (ts: string, ev: string) => `             vmm-7     (    100) [001] d..1.  ${ts}: ${ev}\n`;
  const before = L('1.000000', 'kvm_entry: vcpu 0, rip 0x1') + L('1.000010', 'kvm_exit: vcpu 0 reason msr rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0') + L('1.000015', 'kvm_entry: vcpu 0, rip 0x1');
  const after = L('1.000020', 'kvm_exit: vcpu 0 reason io rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0') + L('1.000024', 'kvm_entry: vcpu 0, rip 0x1');
  const TEN_MB = 10 * 2 ** 20;

  it('a 10 MB line in the middle: skipped and said so, the events around it read', async () => {
    for (const [what, line] of [
      ['garbage', 'x'.repeat(TEN_MB)],
      // a real event line whose payload runs on for 10 MB
      ['event', L('1.000017', `kvm_msr: msr_write 6e0 = 0x1234 ${'y'.repeat(TEN_MB)}`).slice(0, -1)],
    ] as const) {
      const p = path.join(dir, `long-${what}.txt`);
      fs.writeFileSync(p, HDR + before + line + '\n' + after);
      const r = await analyze([p]);
      checkReport(r);
      expect(Object.fromEntries(r.reasons.map((x) => [x.reason, [x.exits_handled, x.total_ns]])), what).toEqual({ msr: [1, 5000], io: [1, 4000] });
      expect(r.quality.skipped.reduce((n, s) => n + s.count, 0), what).toBe(1);
      expect(r.quality.skipped[0]!.first, what).toMatch(/:6:1$/);
      expect(r.quality.skipped[0]!.excerpt.length).toBeLessThan(1000);
    }
  }, 120_000);

  it('a 10 MB line at the end without a newline: skipped, the events before it read', async () => {
    const p = path.join(dir, 'long-end.txt');
    fs.writeFileSync(p, HDR + before + 'z'.repeat(TEN_MB));
    const r = await analyze([p]);
    checkReport(r);
    expect(r.reasons.map((x) => [x.reason, x.exits_handled])).toEqual([['msr', 1]]);
    expect(r.quality.skipped.reduce((n, s) => n + s.count, 0)).toBe(1);
  }, 120_000);
});
