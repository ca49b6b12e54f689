/**
 * `kvmtax record --flight --trip COND`: the conditions on hand-made hist texts (hand-computed figures), and
 * the whole path on a replay directory (--tracefs DIR, pages of traces/svm-D-small/trace.dat): the test
 * writes the synthetic event's hist file that the kernel would keep, and the flight recorder must snapshot
 * (FILE.1, every page of the replay: 2837 events) when the condition holds, and not when it does not.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { svmDSmallTraceDat } from './svm-d-dat.js';
import { makeReplayDir, splitStats } from '../../src/record/replay.js';
import { parseTrip, parseSums, checkTrips } from '../../src/record/trip.js';
import { parseHist } from '../../src/record/in-kernel.js';
import { reasonName, ISA_SVM, ISA_VMX } from '../../src/core/reasons.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'kvmtax.js');
const STATS = path.join(ROOT, 'traces/svm-D-small/ftrace-per-cpu-stats.txt');

// SVM codes: 0x78 hlt, 0x7c msr, 0x400 npf. hlt: 90 exits in (2 us, 4 us], 10 in (4.19 ms, 8.39 ms];
// msr: 500 in (512 ns, 1 us]. Sums (a second trigger): msr 0.3 s, hlt 2 s, both on pid 224.
const HIST = `# event histogram
#
# trigger info: hist:keys=pid,reason,lat.log2:vals=hitcount:sort=hitcount:size=8192 [active]
#

{ pid:        224, reason:        120, lat: ~ 2^12 } hitcount:         90
{ pid:        224, reason:        120, lat: ~ 2^23 } hitcount:         10
{ pid:        224, reason:        124, lat: ~ 2^10 } hitcount:        500

Totals:
    Hits: 600
    Entries: 3
    Dropped: 0

# event histogram
#
# trigger info: hist:keys=pid,reason:vals=hitcount,lat:sort=hitcount:size=8192 [active]
#

{ pid:        224, reason:        120 } hitcount:        100  lat:  2000000000
{ pid:        224, reason:        124 } hitcount:        500  lat:   300000000

Totals:
    Hits: 600
    Entries: 2
    Dropped: 0
`;
const svm = (c: number): string => reasonName(ISA_SVM, c);
const state = (t: string) => ({ rows: parseHist(t).rows, sums: parseSums(t) });
const none = { rows: [], sums: [] };

describe('--trip conditions', () => {
  it('parses quantiles, reasons, units and tax; refuses the rest in one line', () => {
    expect(parseTrip('p99(hlt) > 5ms', ISA_SVM)).toEqual({ kind: 'quantile', text: 'p99(hlt) > 5ms', q: 0.99, reason: 'hlt', ns: 5e6 });
    expect(parseTrip('max>250us', ISA_VMX)).toEqual({ kind: 'quantile', text: 'max>250us', q: 1, ns: 250e3 });
    expect(parseTrip(' tax > 40% ', ISA_VMX)).toEqual({ kind: 'tax', text: 'tax > 40%', share: 0.4 });
    expect(() => parseTrip('p98 > 5ms', ISA_VMX)).toThrow(/--trip "p98 > 5ms": expected/);
    expect(() => parseTrip('tax > 40', ISA_VMX)).toThrow(/expected/);
  });

  it('reads both triggers of the hist file', () => {
    expect(parseHist(HIST).rows).toHaveLength(3);
    expect(parseSums(HIST)).toEqual([{ pid: 224, reason: 120, count: 100, sumNs: 2e9 }, { pid: 224, reason: 124, count: 500, sumNs: 3e8 }]);
  });

  it('quantiles are log2 bucket bounds over the window; reasons match in either case', () => {
    const s = state(HIST);
    // p99 of hlt: the 99th of 100 is in 2^23 ns = 8.389 ms
    expect(checkTrips([parseTrip('p99(hlt) > 5ms', ISA_SVM)], none, s, 1, svm)).toBe('p99(hlt) > 5ms: 8.389ms (log2 bucket bound) over 100 exits');
    expect(checkTrips([parseTrip('p99(HLT) > 5ms', ISA_SVM)], none, s, 1, svm)).toMatch(/8\.389ms/);
    expect(checkTrips([parseTrip('p99(hlt) > 10ms', ISA_SVM)], none, s, 1, svm)).toBeUndefined();
    // p50 of all 600: the 300th is msr's 2^10 = 1.024 us
    expect(checkTrips([parseTrip('p50 > 1us', ISA_SVM)], none, s, 1, svm)).toBe('p50 > 1us: 1.024us (log2 bucket bound) over 600 exits');
    expect(checkTrips([parseTrip('p99(npf) > 1ns', ISA_SVM)], none, s, 1, svm)).toBeUndefined();
    // the same histogram as the baseline: nothing new in the window, no trip
    expect(checkTrips([parseTrip('p99(hlt) > 5ms', ISA_SVM)], s, s, 1, svm)).toBeUndefined();
    // in us units (kernels that refuse ns timestamps), 2^23 us is 8.4 s
    expect(checkTrips([parseTrip('max > 8s', ISA_SVM)], none, s, 1, svm, 1000)).toMatch(/8\.388608s/);
  });

  it('tax: non-idle exit time over the window\'s vCPU thread time (hlt left out)', () => {
    const s = state(HIST);
    // msr 0.3 s in a 0.5 s window of 1 thread: 60%; hlt's 2 s is idle
    expect(checkTrips([parseTrip('tax > 40%', ISA_SVM)], none, s, 0.5, svm)).toBe('tax > 40%: 60.0% over 1 vCPU thread in 0.50 s');
    expect(checkTrips([parseTrip('tax > 40%', ISA_SVM)], none, s, 1, svm)).toBeUndefined(); // 30%
  });
});

describe('kvmtax record --flight --trip on a replay directory', () => {
  const DAT = svmDSmallTraceDat();
  function replay(): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-trip-'));
    expect(makeReplayDir(DAT, path.join(d, 'tracefs'), splitStats(fs.readFileSync(STATS, 'utf8')))).toEqual({ cpus: 2, pages: 33 });
    fs.writeFileSync(path.join(d, 'tracefs', 'synthetic_events'), '');
    return path.join(d, 'tracefs');
  }

  /** Run record until it exits, writing HIST where the kernel would keep the synthetic event's hist. */
  async function run(tfs: string, out: string, trip: string): Promise<{ code: number | null; err: string; histDir: string }> {
    const p = spawn(process.execPath, [BIN, 'record', '--tracefs', tfs, '-o', out, '--flight', '--isa', 'svm', '--trip', trip, '--', 'sleep', '2.5'], { cwd: ROOT });
    let err = '';
    p.stderr.on('data', (b: Buffer) => { err += b.toString('utf8'); });
    const done = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    let histDir = '';
    for (let i = 0; i < 200 && !histDir; i++) {
      await new Promise((r) => setTimeout(r, 25));
      for (const inst of fs.existsSync(path.join(tfs, 'instances')) ? fs.readdirSync(path.join(tfs, 'instances')) : []) {
        const s = path.join(tfs, 'instances', inst, 'events', 'synthetic');
        const syn = fs.existsSync(s) ? fs.readdirSync(s) : [];
        if (syn.length && fs.existsSync(path.join(s, syn[0]!, 'trigger'))) histDir = path.join(s, syn[0]!);
      }
    }
    expect(histDir).not.toBe('');
    fs.writeFileSync(path.join(histDir, 'hist'), HIST);
    return { code: await done, err, histDir };
  }

  const events = (f: string): number => {
    const r = spawnSync(process.execPath, [BIN, 'report', '-q', '-f', 'json', f], { encoding: 'utf8', cwd: ROOT });
    expect(r.status).toBe(0);
    return (JSON.parse(r.stdout) as { inputs: { events: number }[] }).inputs[0]!.events;
  };

  it.each([['p99(hlt) > 5ms', /trip: p99\(hlt\) > 5ms: 8\.389ms \(log2 bucket bound\) over 100 exits/], ['tax > 1%', /trip: tax > 1%: \d+\.\d% over 1 vCPU thread/]])('%s holds: one snapshot, every page', async (trip, msg) => {
    const tfs = replay();
    const out = path.join(path.dirname(tfs), 'f.dat');
    const r = await run(tfs, out, trip);
    expect(r.err).toMatch(msg);
    expect(r.code).toBe(0);
    // the histogram did not grow after the trip: it trips once
    expect(r.err.match(/trip:/g)).toHaveLength(1);
    expect(r.err).toMatch(/flight snapshot 1: 33 pages to .*f\.dat\.1/);
    expect(events(`${out}.1`)).toBe(2837);
    expect(events(out)).toBe(2837);
    // the synthetic event was made and removed, the instance is gone
    const se = fs.readFileSync(path.join(tfs, 'synthetic_events'), 'utf8');
    expect(se).toMatch(/^kvmtax_lat_\d+ .*u64 lat\n!kvmtax_lat_\d+\n$/);
    expect(fs.readdirSync(path.join(tfs, 'instances'))).toEqual([]);
  }, 20000);

  it('p99(hlt) > 10ms does not hold: no snapshot but the final one', async () => {
    const tfs = replay();
    const out = path.join(path.dirname(tfs), 'g.dat');
    const r = await run(tfs, out, 'p99(hlt) > 10ms');
    expect(r.code).toBe(0);
    expect(r.err).not.toMatch(/trip:/);
    expect(fs.existsSync(`${out}.1`)).toBe(false);
    expect(events(out)).toBe(2837);
  }, 20000);

  it('--trip without --flight, or a bad condition: a one-line usage error', () => {
    const tfs = replay();
    for (const [args, msg] of [[['--trip', 'tax > 40%'], /--trip needs --flight/], [['--flight', '--trip', 'p99 >> 5'], /--trip "p99 >> 5": expected/]] as const) {
      const r = spawnSync(process.execPath, [BIN, 'record', '--tracefs', tfs, '-o', path.join(path.dirname(tfs), 'x.dat'), ...args], { encoding: 'utf8', cwd: ROOT });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
