/**
 * `kvmtax merge`: the reports of a capture's two halves merge into the report of the whole. The halves
 * are two files (two "hosts"): their VMs stay apart, and the per-reason figures add up exactly, except
 * for the exits cut at the boundary: an exit of the first half whose kvm_entry is in the second is
 * pending at the end of one and its entry leads the other, so it is seen but not handled. There is at
 * most one such exit per vCPU thread, and the test finds them and checks the difference is exactly them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import AjvModule from 'ajv';
import { analyze } from '../../src/pipeline/analyze.js';
import { decodeRows, type Row } from '../../src/analysis/rows.js';
import { render } from '../../src/report/render.js';
import { mergeReports } from '../../src/analysis/runs/merge.js';
import { bucketOf } from '../../src/core/histogram.js';
import type { Report } from '../../src/analysis/types.js';
import { ROOT, TRACES, tmpTrace } from '../support/paths.js';

const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schema', 'report.schema.json'), 'utf8'));
const Ajv = (AjvModule as unknown as { default: typeof AjvModule }).default ?? AjvModule;
const validate = new (Ajv as unknown as new (o: object) => { compile(s: object): { (d: unknown): boolean; errors?: unknown } })({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);

const json = async (files: string[]) => JSON.parse(render(await analyze(files, { histograms: true, top: 20 }), 'json', {})) as Report;
const EV = /^\s*.+?-(\d+)\s.*?\[\d+\].*?\s(kvm_exit|kvm_entry):/;

/** Cut the text near the middle where fewest exits are pending; the lines (1-based) of the pending exits. */
function cut(lines: string[]): { at: number; pending: number[] } {
  const pend = new Map<string, number>();
  let best = { at: 0, pending: [] as number[], n: Infinity };
  for (let i = 0; i < lines.length; i++) {
    if (i > lines.length * 0.4 && i < lines.length * 0.6 && pend.size < best.n) best = { at: i, pending: [...pend.values()], n: pend.size };
    const m = EV.exec(lines[i]!);
    if (!m) continue;
    if (m[2] === 'kvm_exit') pend.set(m[1]!, i + 1);
    else pend.delete(m[1]!);
  }
  return best;
}

const histMap = (h: Array<[number, number, number]> = []) => new Map(h.map(([lo, , c]) => [bucketOf(lo), c]));

describe('kvmtax merge', () => {
  it.each(['svm-D-small/trace.txt.xz', 'svm-A-baseline/trace.txt.xz'])('%s: the merged halves equal the whole, but for the exits cut at the boundary', async (f) => {
    const file = path.join(TRACES, f);
    const text = execFileSync('xz', ['-dc', file], { maxBuffer: 1 << 30 }).toString('latin1');
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const { at, pending } = cut(lines);
    const a = tmpTrace(lines.slice(0, at).join('\n') + '\n', 'first.txt');
    const b = tmpTrace(lines.slice(at).join('\n') + '\n', 'second.txt');
    const whole = await json([file]);
    const merged = mergeReports([await json([a]), await json([b])], [a, b]);
    expect(validate(JSON.parse(JSON.stringify(merged)))).toBe(true);
    expect(validate.errors ?? []).toEqual([]);

    // the exits cut at the boundary, from the whole's rows (by their line)
    const rows: Row[] = [];
    await analyze([file], { rows: (bt, core) => { rows.push(...decodeRows(bt, core)); } });
    const cutRows = rows.filter((r) => r.kind === 'exit' && pending.includes(r.where));
    const threads = new Set(rows.filter((r) => r.kind === 'exit').map((r) => r.tid)).size;
    expect(cutRows.length).toBe(pending.length);
    expect(cutRows.length).toBeLessThanOrEqual(threads);

    expect(merged.reasons.map((r) => r.reason).sort()).toEqual(whole.reasons.map((r) => r.reason).sort());
    for (const w of whole.reasons) {
      const m = merged.reasons.find((x) => x.reason === w.reason)!;
      const mine = cutRows.filter((r) => r.reason === w.reason);
      expect(m.exits_seen, w.reason).toBe(w.exits_seen);
      expect(m.exits_handled + mine.length, w.reason).toBe(w.exits_handled);
      expect(m.total_ns + mine.reduce((s, r) => s + r.duration, 0), w.reason).toBe(w.total_ns);
      const hm = histMap(m.histogram);
      for (const r of mine) hm.set(bucketOf(r.duration), (hm.get(bucketOf(r.duration)) ?? 0) + 1);
      expect(hm, w.reason).toEqual(histMap(w.histogram));
      if (mine.length === 0) {
        // nothing cut: the same histogram gives the same percentiles, min, max and mean
        for (const k of ['min_ns', 'max_ns', 'mean_ns', 'p50_ns', 'p90_ns', 'p99_ns', 'p999_ns'] as const) expect(m[k], `${w.reason} ${k}`).toBe(w[k]);
        // the stddev is rebuilt from the halves' (0.1 ns-rounded) stddevs and means
        expect(Math.abs(m.stddev_ns! - w.stddev_ns!)).toBeLessThanOrEqual(0.2);
      }
    }
    expect(merged.totals.exits_seen).toBe(whole.totals.exits_seen);
    expect(whole.totals.exits_handled - merged.totals.exits_handled).toBe(cutRows.length);
    expect(merged.totals.host_ns + cutRows.reduce((s, r) => s + r.duration, 0)).toBe(whole.totals.host_ns);
    // VMs kept apart: each half's VM, with its file
    expect(merged.vms.map((v) => [v.file, v.fileIndex])).toEqual([[a, 0], [b, 1]].slice(0, merged.vms.length));
    expect(merged.inputs.map((i) => i.file)).toEqual([a, b]);
    expect(merged.quality.events_read).toBe(whole.quality.events_read);
  });

  it('merging is associative: (a + b) + c = a + (b + c) = a + b + c for reasons and totals', async () => {
    const [a, b, c] = await Promise.all(['svm-D-small/trace.txt.xz', 'svm-A-baseline/trace.txt.xz', 'svm-B-disable-exits/trace.txt.xz'].map((f) => json([path.join(TRACES, f)])));
    const all = mergeReports([a, b, c]);
    const left = mergeReports([JSON.parse(JSON.stringify(mergeReports([a, b]))), c]);
    const right = mergeReports([a, JSON.parse(JSON.stringify(mergeReports([b, c])))]);
    // exact but for the standard deviation, rebuilt from a 0.1 ns-rounded one at each step
    const exact = (r: Report) => r.reasons.map(({ stddev_ns: _s, rsd_mean_pct: _r, ...rest }) => rest);
    for (const x of [left, right]) {
      expect(exact(x)).toEqual(exact(all));
      x.reasons.forEach((r, i) => expect(Math.abs(r.stddev_ns! - all.reasons[i]!.stddev_ns!)).toBeLessThanOrEqual(0.2));
      expect(x.totals).toEqual(all.totals);
      expect(x.vms.length).toBe(all.vms.length);
    }
    // and a merge of one report is that report's figures
    const one = mergeReports([a!]);
    expect(one.reasons).toEqual(a!.reasons);
    expect(one.totals).toEqual(a!.totals);
  });

  it('refuses another schema version, and reports without histograms', async () => {
    const r = await json([path.join(TRACES, 'svm-D-small/trace.txt.xz')]);
    expect(() => mergeReports([r, { ...r, kvmtax: { version: '9', schema: 99 } }], ['a.json', 'b.json'])).toThrow(/b\.json: report schema 99/);
    const plain = JSON.parse(render(await analyze([path.join(TRACES, 'svm-D-small/trace.txt.xz')]), 'json', {}));
    expect(() => mergeReports([r, plain], ['a.json', 'b.json'])).toThrow(/b\.json: .*--histograms/);
    expect(() => mergeReports([{ hello: 1 }], ['x.json'])).toThrow(/not a kvmtax JSON report/);
  });

  it('refuses the same trace twice (the same report given twice): its counts would double', async () => {
    const r = await json([path.join(TRACES, 'svm-D-small/trace.txt.xz')]);
    expect(() => mergeReports([r, JSON.parse(JSON.stringify(r))], ['a.json', 'b.json']))
      .toThrow(/a\.json and b\.json both hold the trace .*svm-D-small\/trace\.txt\.xz \(2837 events, the same size and time span\): merging would count it twice/);
    // through the CLI: one line, exit 1
    const f = tmpTrace(JSON.stringify(r), 'a.json');
    const out = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'kvmtax.js'), 'merge', f, f], { encoding: 'utf8' });
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/^kvmtax: .*merging would count it twice\n$/);
  });

  it('a file that is not JSON: one line naming it, its quoted bytes escaped, exit 1', () => {
    // JSON.parse's message quotes the text it failed on: here a Markdown title, blank lines and a terminal escape
    const f = tmpTrace('# notes\n\n\x1b[2Jhello\n', 'notes.json');
    const out = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'kvmtax.js'), 'merge', f], { encoding: 'utf8' });
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/^kvmtax: .*notes\.json: not JSON: .*\n$/);
    expect(out.stderr.trimEnd()).not.toMatch(/[\x00-\x1f\x7f]/);
    expect(out.stderr).toContain('# notes\\x0a\\x0a');
  });

  it('refuses negative counts, naming where', async () => {
    const r = await json([path.join(TRACES, 'svm-D-small/trace.txt.xz')]);
    const b = await json([path.join(TRACES, 'svm-A-baseline/trace.txt.xz')]);
    const neg = JSON.parse(JSON.stringify(b)) as Report;
    neg.reasons[1]!.exits_handled = -5;
    expect(() => mergeReports([r, neg], ['a.json', 'b.json'])).toThrow(/b\.json: reasons\[1\] \(\w+\)\.exits_handled is negative/);
    const negHist = JSON.parse(JSON.stringify(b)) as Report;
    negHist.reasons[0]!.histogram![0]![2] = -1;
    expect(() => mergeReports([r, negHist], ['a.json', 'b.json'])).toThrow(/histogram\[0\] count is negative/);
    const negVcpu = JSON.parse(JSON.stringify(b)) as Report;
    negVcpu.vms[0]!.vcpus[0]!.exits_seen = -1;
    expect(() => mergeReports([r, negVcpu], ['a.json', 'b.json'])).toThrow(/vms\[0\]\.vcpus\[0\]\.exits_seen is negative/);
    // the untouched pair merges
    expect(mergeReports([r, b]).totals.exits_seen).toBe(r.totals.exits_seen + b.totals.exits_seen);
  });
});
