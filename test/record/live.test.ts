/**
 * kvmtax live on a replay directory (the pages of traces/svm-D-small/trace.dat) with a fixed interval and a
 * few pages per CPU per poll, so that batches end at different times on each CPU: the report at the end
 * must equal `kvmtax report` of the original file, figure for figure (record numbers included).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { svmDSmallTraceDat } from './svm-d-dat.js';
import { makeReplayDir } from '../../src/record/replay.js';
import { parseInterval, screenOf, type IntervalSummary } from '../../src/record/live.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'kvmtax.js');
const DAT = svmDSmallTraceDat();

function kvmtax(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 26 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function replay(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-live-'));
  makeReplayDir(DAT, path.join(d, 'tracefs'));
  return path.join(d, 'tracefs');
}
/** a report without its inputs, the input's name replaced */
function figures(r: Record<string, unknown>, name: string): string {
  const c = { ...r };
  delete c.inputs;
  return JSON.stringify(c).split(JSON.stringify(name).slice(1, -1)).join('FILE');
}

describe('kvmtax live --tracefs REPLAY', () => {
  const want = JSON.parse(kvmtax(['report', '-q', '-f', 'json', DAT]).out) as Record<string, unknown>;

  it.each([1, 3])('NDJSON per interval, then a report equal to report\'s (%i pages per CPU per poll)', (pages) => {
    const tfs = replay();
    const r = kvmtax(['live', '--tracefs', tfs, '--interval', '20ms', '-f', 'json', '--replay-pages', String(pages)]);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as { type: string } & Record<string, unknown>);
    const intervals = lines.filter((l) => l.type === 'interval') as unknown as IntervalSummary[];
    const last = lines[lines.length - 1]! as unknown as { type: string; report: Record<string, unknown>; cost: { events: number; cpu_s_per_million_events: number } };
    expect(last.type).toBe('report');
    expect(intervals.length).toBeGreaterThan(2);
    // counts only grow, and never pass the whole run's 770 exits
    for (let i = 1; i < intervals.length; i++) expect(intervals[i]!.exits).toBeGreaterThanOrEqual(intervals[i - 1]!.exits);
    expect(intervals[intervals.length - 1]!.exits).toBeLessThanOrEqual(770);
    expect(figures(last.report, 'live')).toBe(figures(want, DAT));
    expect(last.cost.events).toBe(2837);
    expect(last.cost.cpu_s_per_million_events).toBeGreaterThan(0);
    expect(fs.readdirSync(path.join(tfs, 'instances'))).toEqual([]);
  });

  it('table: a screen per interval, the report and kvmtax\'s own CPU cost at the end', () => {
    const r = kvmtax(['live', '--tracefs', replay(), '--interval', '20ms', '--replay-pages', '2']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^kvmtax live {2}t=\d+\.\ds {2}events \d+ {2}exits \d+ /);
    expect(r.out).toMatch(/\nkvmtax \d+\.\d+\.\d+ report\n/);
    expect(r.out).toMatch(/\nhlt \(idle\)\s+66\s+66 /);
    expect(r.out).toMatch(/\nkvmtax live: 2837 events in [\d.]+ s; kvmtax's own CPU time [\d.]+ s = [\d.]+ s per million events, [\d.]+% of one CPU\n$/);
  });

  it('parses intervals and sorts the screen by tax', () => {
    expect([parseInterval('1s'), parseInterval('500ms'), parseInterval('2'), parseInterval('x'), parseInterval('0s')]).toEqual([1000, 500, 2000, undefined, undefined]);
    const s: IntervalSummary = {
      type: 'interval', t_s: 1, interval_s: 1, events: 10, exits: 5, exits_per_s: 5, tax: 0.5, halt_poll: null, run_delay_p99_ns: null, reasons: [],
      vcpus: [
        { pid: 1, vm: 'a', vcpu: 0, tid: 11, exits: 4, exits_per_s: 4, tax: 0.1, host_share: 0.2 },
        { pid: 1, vm: 'a', vcpu: 1, tid: 12, exits: 1, exits_per_s: 1, tax: 0.9, host_share: 0.1 },
      ],
    };
    const byTax = screenOf(s, 'tax', 10, 100).split('\n').filter((l) => /^1 /.test(l));
    expect(byTax.map((l) => l.split(/\s+/)[2])).toEqual(['12', '11']);
    const byExits = screenOf(s, 'exits', 1, 100).split('\n').filter((l) => /^1 /.test(l));
    expect(byExits.map((l) => l.split(/\s+/)[2])).toEqual(['11']);
  });
});
