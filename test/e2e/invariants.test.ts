/**
 * Invariants (issue 8), on every real capture of traces/ and ../shared/captures (text and binary) and on
 * generated traces:
 *   - checkReport() (test/support/fuzz-harness.ts): per-reason and per-vCPU sums equal the totals (exits seen,
 *     handled, host/guest/halted time, wall), each VM's sums, ordered statistics, finite numbers;
 *   - counts equal the events read minus those reported as skipped or unpaired: kvm_exit events read =
 *     exits seen = handled + exits followed by an exit + pending at the end + backwards; kvm_entry events
 *     read = handled + entries after an entry + leading entries + backwards (exactly when nothing was lost);
 *   - halves: a text trace cut at a line boundary into two files: per-reason exits seen of the halves add up
 *     to the whole's, handled exits differ by at most the number of vCPU threads (the pairs cut at the
 *     boundary), events read add up;
 *   - truncation: a text file cut inside a line gives the report of its prefix up to the last full line,
 *     plus one "truncated" skip;
 *   - CRLF line ends give the same report as LF;
 *   - generated traces (fast-check): the exact per-reason counts and times of a model.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Report } from '../../src/analysis/types.js';
import { analyze } from '../../src/pipeline/analyze.js';
import { HAVE_SHARED, SHARED, TRACES } from '../support/paths.js';
import { checkReport, FUZZ_SEED, lineStarts, readAll, runs, runText } from '../support/fuzz-harness.js';

function captures(root: string): string[] {
  const out: string[] = [];
  if (!fs.existsSync(root)) return out;
  for (const d of fs.readdirSync(root).sort()) {
    const dir = path.join(root, d);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const f of fs.readdirSync(dir).sort()) {
      if (/^(trace(-cmd-report(-N)?)?\.txt|perf(-kvm)?-script\.txt|trace\.dat|perf(-kvm)?\.data)(\.xz)?$/.test(f)) out.push(path.join(dir, f));
    }
  }
  return out;
}

/** The count identities of a report (exact when no events were lost). */
function checkCounts(r: Report, label: string): void {
  checkReport(r);
  const q = r.quality;
  const u = q.unpaired;
  const exitsRead = q.events_by_name.kvm_exit ?? 0;
  const entriesRead = q.events_by_name.kvm_entry ?? 0;
  // every kvm_exit read is an exit seen
  expect(r.totals.exits_seen, `${label}: exits seen vs kvm_exit events read`).toBe(exitsRead);
  const exitsAccounted = r.totals.exits_handled + u.exits_without_entry + u.exits_pending_at_end + u.backwards;
  const entriesAccounted = r.totals.exits_handled + u.entries_without_exit + u.leading_entries + u.backwards;
  if (q.lost.markers === 0) {
    expect(exitsAccounted, `${label}: exits = handled + unpaired`).toBe(exitsRead);
    expect(entriesAccounted, `${label}: entries = handled + unpaired`).toBe(entriesRead);
  } else {
    // a lost-events marker drops the pairing state of the threads of its CPU: at most one exit or entry each
    expect(exitsRead - exitsAccounted).toBeGreaterThanOrEqual(0);
    expect(exitsRead - exitsAccounted).toBeLessThanOrEqual(u.lost_resets);
    expect(entriesRead - entriesAccounted).toBeGreaterThanOrEqual(0);
    expect(entriesRead - entriesAccounted).toBeLessThanOrEqual(u.lost_resets);
  }
  const skipped = q.skipped.reduce((n, s) => n + s.count, 0);
  if (q.lines_read !== null) {
    // every line is an event, a comment/blank line, a lost marker or a skipped line
    expect(q.events_read + skipped, `${label}: events + skipped <= lines`).toBeLessThanOrEqual(q.lines_read);
  }
}

const ALL = [...captures(TRACES), ...(HAVE_SHARED ? captures(path.join(SHARED, 'captures')) : [])];

describe('invariants on every real capture', () => {
  it.each(ALL.map((f) => [path.relative(path.dirname(TRACES), f), f]))('%s', async (_name, file) => {
    const r = await analyze([file]);
    checkCounts(r, file);
  }, 120_000);
});

/** Text captures small enough to cut up many times (decompressed once). */
const TEXT = ['svm-D-small/trace.txt.xz', 'svm-D-small/trace-cmd-report.txt.xz', 'svm-D-small/trace-cmd-report-N.txt.xz',
  'svm-D-small/perf-script.txt.xz', 'svm-D-small/perf-kvm-script.txt.xz', 'svm-B-disable-exits/perf-kvm-script.txt.xz'];

function headerLen(b: Buffer): number {
  let p = 0;
  for (const s of lineStarts(b)) {
    if (b[s] === 0x23 || b.subarray(s, s + 5).toString('latin1') === 'cpus=') p = b.indexOf(10, s) + 1;
    else break;
  }
  return p;
}

/** A report without what differs between two files of the same events (names, sizes, places). */
function core(r: Report): unknown {
  return { totals: r.totals, reasons: r.reasons, vms: r.vms.map((v) => ({ ...v, file: '' })), unpaired: r.quality.unpaired, events: r.quality.events_by_name, top: r.top.map((t) => ({ ...t, file: '', where: '' })) };
}

describe('halves, truncation and line ends of text captures', () => {
  for (const t of TEXT) {
    it(`${t}: halves add up`, async () => {
      const all = await readAll(path.join(TRACES, t));
      const h = headerLen(all);
      const whole = await runText(all, 'whole');
      const ls = lineStarts(all).filter((s) => s > h);
      for (const k of [0.25, 0.5, 0.8]) {
        const cut = ls[Math.floor(ls.length * k)]!;
        const a = await runText(all.subarray(0, cut), 'a');
        const b = await runText(Buffer.concat([all.subarray(0, h), all.subarray(cut)]), 'b');
        for (const x of [a, b]) checkCounts(x, `${t} half`);
        const seen = (r: Report) => Object.fromEntries(r.reasons.map((x) => [x.reason, x.exits_seen]));
        const sum: Record<string, number> = { ...seen(a) };
        for (const [k2, v] of Object.entries(seen(b))) sum[k2] = (sum[k2] ?? 0) + v;
        expect(sum).toEqual(seen(whole));
        expect(a.quality.events_read + b.quality.events_read).toBe(whole.quality.events_read);
        const threads = whole.vms.reduce((n, v) => n + v.vcpus.length, 0);
        const dh = whole.totals.exits_handled - (a.totals.exits_handled + b.totals.exits_handled);
        expect(dh).toBeGreaterThanOrEqual(0);
        expect(dh).toBeLessThanOrEqual(threads);
      }
    });

    /** Cut `all` inside lines (`where` picks the byte of line [s, e) where the file ends) and compare with the prefix. */
    async function cutInside(where: (s: number, e: number, all: Buffer) => number): Promise<void> {
      const all = await readAll(path.join(TRACES, t));
      const ls = lineStarts(all);
      for (const k of [0.1, 0.37, 0.5, 0.93]) {
        const i = Math.floor(ls.length * k);
        const s = ls[i]!;
        const e = (ls[i + 1] ?? all.length) - 1; // the newline
        const at = where(s, e, all);
        const cut = await runText(all.subarray(0, at), 'cut');
        const prefix = await runText(all.subarray(0, s), 'prefix');
        expect(core(cut), `cut at ${at - s} of ${e - s}: ${JSON.stringify(all.subarray(s, at).toString('latin1'))}`).toEqual(core(prefix));
        expect(cut.quality.skipped.map((x) => [x.kind, x.count])).toEqual([...prefix.quality.skipped.map((x) => [x.kind, x.count]), ['truncated', 1]]);
      }
    }

    // (a cut inside the leading blanks of a line leaves a blank line: nothing to skip)
    it(`${t}: a file cut one byte into a line's text reads as its prefix plus one truncated skip`, async () => {
      await cutInside((s, _e, all) => { let p = s; while (all[p] === 0x20) p++; return p + 1; });
    });

    // Was a DEFECT (fixed in assembly/text.ts: a last line without its newline is skipped as truncated): the last line of a file that ends without a newline is read as an
    // event whenever its cut prefix still parses, so a file cut inside an exit's reason counts an exit of a
    // reason that does not exist ("reason n" of a cut "reason npf"), and reports no skip. Minimal input:
    //   "# tracer: nop\n#\n" +
    //   "  vmm-193 (  188) [001] d..1.  7.301836: kvm_entry: vcpu 1, rip 0x10000\n" +
    //   "  vmm-193 (  188) [001] d..1.  7.301900: kvm_exit: vcpu 1 reason n"          <- no newline
    // gives reasons [["n", seen 1]] and quality.skipped []; expected: the exit skipped as "truncated".
    // (A cut just before the newline is a whole line and reads as one: not tested here.)
    it(`${t}: a file cut in the middle of a line reads as its prefix plus one truncated skip`, async () => {
      await cutInside((s, e) => Math.floor((s + e) / 2));
    });

    it(`${t}: CRLF line ends read as LF`, async () => {
      const all = await readAll(path.join(TRACES, t));
      const lf = await runText(all, 'x');
      const crlf = await runText(Buffer.from(all.toString('latin1').replace(/\n/g, '\r\n'), 'latin1'), 'x');
      expect(core(crlf)).toEqual(core(lf));
      expect(crlf.quality.skipped).toEqual(lf.quality.skipped);
    });
  }
});

// ---------------------------------------------------------------------------------------------- generated
interface GenThread { tid: number; vcpu: number; steps: Array<{ reason: number; guest: number; host: number }> }
const REASONS = ['msr', 'io', 'hlt', 'npf', 'cpuid', 'interrupt', 'vintr', 'pause'];

describe('generated traces', () => {
  it(`match a model of their pairing (${runs(300)} traces)`, async () => {
    const thread = fc.record({
      vcpu: fc.integer({ min: 0, max: 63 }),
      steps: fc.array(fc.record({ reason: fc.nat({ max: REASONS.length - 1 }), guest: fc.integer({ min: 0, max: 5000 }), host: fc.integer({ min: 0, max: 100000 }) }), { maxLength: 60 }),
    });
    const arb = fc.record({
      threads: fc.array(thread, { minLength: 1, maxLength: 6 }),
      pendingAtEnd: fc.boolean(),
      leadingEntry: fc.boolean(),
    });
    await fc.assert(fc.asyncProperty(arb, async (g) => {
      type Ev = { ts: number; line: string };
      const evs: Ev[] = [];
      const expSeen = new Map<string, number>(), expHandled = new Map<string, number>(), expNs = new Map<string, number>();
      const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
      const ths: GenThread[] = g.threads.map((t, i) => ({ tid: 1000 + i, ...t }));
      for (const t of ths) {
        let ts = 1_000_000_000 + t.tid; // distinct start per thread, 1 us grid below
        const L = (at: number, ev: string) => evs.push({ ts: at, line: `      vmm-${t.tid}     (    900) [00${t.tid % 4}] d..1. ${Math.floor(at / 1e9)}.${String(at % 1e9).padStart(9, '0')}: ${ev}\n` });
        if (g.leadingEntry) { L(ts, `kvm_entry: vcpu ${t.vcpu}, rip 0x1`); }
        t.steps.forEach((s, k) => {
          ts += s.guest + 1;
          const reason = REASONS[s.reason]!;
          L(ts, `kvm_exit: vcpu ${t.vcpu} reason ${reason} rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0`);
          add(expSeen, reason, 1);
          if (g.pendingAtEnd && k === t.steps.length - 1) return;
          ts += s.host;
          L(ts, `kvm_entry: vcpu ${t.vcpu}, rip 0x1`);
          add(expHandled, reason, 1);
          add(expNs, reason, s.host);
        });
      }
      evs.sort((a, b) => a.ts - b.ts);
      const text = '# tracer: nop\n#\n' + evs.map((e) => e.line).join('');
      if (evs.length === 0) return;
      const r = await runText(Buffer.from(text), 'gen.txt');
      checkCounts(r, 'generated');
      const got = (f: (x: Report['reasons'][number]) => number) => Object.fromEntries(r.reasons.filter((x) => f(x) > 0).map((x) => [x.reason, f(x)]));
      const want = (m: Map<string, number>) => Object.fromEntries([...m].filter(([, v]) => v > 0));
      expect(got((x) => x.exits_seen)).toEqual(want(expSeen));
      expect(got((x) => x.exits_handled)).toEqual(want(expHandled));
      expect(got((x) => x.total_ns)).toEqual(want(expNs));
      expect(r.quality.unpaired.exits_pending_at_end).toBe(g.pendingAtEnd ? ths.filter((t) => t.steps.length > 0).length : 0);
      expect(r.quality.skipped).toEqual([]);
    }), { numRuns: runs(300), seed: FUZZ_SEED });
  }, 300_000);
});
