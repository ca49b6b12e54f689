/**
 * Clock steps and line endings: a backward step under 1 ms gets a note (it used to be dropped
 * silently), a jump over 1 ms keeps its own; a CRLF file gives the figures of the same file with LF
 * (span first..last, exits/s from it). Crafted from the first exit/entry lines of svm-D-small.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { ROOT, tmpTrace } from '../support/paths.js';

const D = path.join(ROOT, 'traces/svm-D-small/trace.txt.xz');
const lines = execFileSync('xz', ['-dc', D]).toString('latin1').split('\n').filter((l) => /kvm_(exit|entry):/.test(l)).slice(0, 6);

describe('clock steps', () => {
  it('an entry 0.5 ms before its exit: a note, the exit seen but not handled', async () => {
    // line 4 (0-based) is vCPU 1's entry at 7.337363 after its exit at 7.335242
    expect(lines[4]).toMatch(/7\.337363: kvm_entry: vcpu 1/);
    const back = lines.map((l, i) => (i === 4 ? l.replace('7.337363', '7.334742') : l)).join('\n') + '\n';
    const r = await analyze([tmpTrace(back)]);
    expect(r.quality.unpaired.backwards).toBe(1);
    expect(r.notes.some((n) => /^the clock stepped back \(by less than 1 ms\) between 1 exit\(s\) and their kvm_entry/.test(n))).toBe(true);
    const plain = await analyze([tmpTrace(lines.join('\n') + '\n')]);
    expect(plain.notes.some((n) => /stepped back/.test(n))).toBe(false);
    expect(plain.totals.exits_handled).toBe(r.totals.exits_handled + 1);
  });
  it('a jump of 5 ms: the jump note, not the step note', async () => {
    const jump = lines.map((l, i) => (i === 4 ? l.replace('7.337363', '7.330242') : l)).join('\n') + '\n';
    const r = await analyze([tmpTrace(jump)]);
    expect(r.notes.some((n) => /^timestamps jumped back 1 time/.test(n))).toBe(true);
    expect(r.notes.some((n) => /stepped back/.test(n))).toBe(false);
  });
});

describe('CRLF line endings', () => {
  it.each(['trace.txt.xz', 'perf-script.txt.xz', 'trace-cmd-report.txt.xz', 'perf-kvm-script.txt.xz'])('%s: CRLF gives the LF figures', async (f) => {
    const text = execFileSync('xz', ['-dc', path.join(ROOT, 'traces/svm-D-small', f)]).toString('latin1');
    const lf = await analyze([tmpTrace(text)]);
    const crlf = await analyze([tmpTrace(text.replace(/\n/g, '\r\n'))]);
    expect(crlf.quality.first_ts).toBe(lf.quality.first_ts);
    expect(crlf.quality.last_ts).toBe(lf.quality.last_ts);
    expect(crlf.quality.span_ns).toBe(lf.quality.span_ns);
    expect(crlf.totals).toEqual(lf.totals);
    expect(crlf.reasons).toEqual(lf.reasons);
    expect(crlf.quality.skipped).toEqual([]);
  });
  it('a tiny CRLF file: the span is first..last (3.2 ms here), not more', async () => {
    const crlf = await analyze([tmpTrace(lines.join('\r\n') + '\r\n')]);
    expect(crlf.quality.span_ns).toBe(7337444000 - 7334239000);
  });
});
