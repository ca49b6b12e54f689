/**
 * trace.dat reader against real files and their `trace-cmd report` twins (same events, rendered by trace-cmd).
 * Needs ../shared (the project's shared captures); every test skips with a message when it is absent.
 */
import { describe, it, expect } from 'vitest';
import { HAVE_TRACE_CMD, requireTraceCmdUnderCi } from '../../support/trace-cmd.js';
import { existsSync, readFileSync, createReadStream, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHARED } from '../../support/paths.js';
import { XzReadableStream } from 'xz-decompress';
import { execFileSync } from 'node:child_process';
import { readTraceDat, isTraceDat } from '../../../src/formats/tracedat/reader.js';
import { FormatError } from '../../../src/formats/bytes.js';
import { CollectSink } from '../../support/collect-sink.js';
import { EV_EXIT, EV_ENTRY, EV_LOST, CLOCK_NS, CLOCK_RAW } from '../../../assembly/constants.js';

const CAPTURES = join(SHARED, 'captures');
const PUBLIC = join(SHARED, 'public-traces', 'hip24-masterarbeit');
const haveCaptures = existsSync(CAPTURES);
const havePublic = existsSync(PUBLIC);
if (!haveCaptures) console.warn(`tracedat tests: skipping the real-capture tests, ${CAPTURES} is absent`);
if (!havePublic) console.warn(`tracedat tests: skipping the public-trace tests, ${PUBLIC} is absent`);

// ---- the twin text ----

async function readText(path: string): Promise<string> {
  if (path.endsWith('.gz')) return gunzipSync(readFileSync(path)).toString('utf8');
  if (path.endsWith('.xz')) {
    const web = Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>;
    return await new Response(new XzReadableStream(web)).text();
  }
  return readFileSync(path, 'utf8');
}

interface Line {
  us: string; // timestamp as printed (µs, or raw counter ticks)
  tid: number;
  cpu: number;
  name: string;
  body: string;
}

// "cap:  vmm-193   [001]     7.334239: kvm_entry:   vcpu 1, rip 0x10000" (buffer prefix optional; raw clocks
// print integer timestamps right after the cpu)
const LINE = /^(?:\S+: +)?\s*(.*?)-(\d+)\s+\[(\d+)\]\s*(\d+(?:\.\d+)?): (\w+):\s*(.*)$/;

function parseReport(text: string): Line[] {
  const out: Line[] = [];
  for (const l of text.split('\n')) {
    if (l === '' || l.startsWith('cpus=')) continue;
    const m = LINE.exec(l);
    if (!m) throw new Error(`unparsed report line: ${l}`);
    out.push({ us: m[4]!, tid: Number(m[2]), cpu: Number(m[3]), name: m[5]!, body: m[6]! });
  }
  return out;
}

/** trace-cmd prints ns clocks as sec.usec rounded to the nearest µs (libtraceevent adds div/2 before dividing). */
function fmtTs(ts: bigint, raw: boolean): string {
  if (raw) return ts.toString();
  const us = (ts + 500n) / 1000n;
  const s = us / 1000000n;
  return `${s}.${(us % 1000000n).toString().padStart(6, '0')}`;
}

// ---- exit reason names, from the kernel's own kvm_exit print fmt (6.18: a superset of 6.1 and 6.5) ----

function reasonTables(): { vmx: Map<number, string>; svm: Map<number, string> } {
  const fmt = readFileSync(join(CAPTURES, 'pvm-formats', 'kvm_exit.format'), 'utf8');
  const parts = fmt.split('__print_symbolic(');
  const table = (s: string): Map<number, string> => {
    const m = new Map<number, string>();
    for (const e of s.matchAll(/\{\s*([-0-9a-fx+ ]+?)\s*,\s*"([^"]+)"\s*\}/g)) {
      const expr = e[1]!.replace(/\s/g, '');
      const v = expr.split('+').reduce((acc, t) => acc + Number(t), 0);
      m.set(v >>> 0, e[2]!);
    }
    return m;
  };
  return { vmx: table(parts[1]!), svm: table(parts[2]!) };
}

interface Case {
  dat: string;
  report: string;
  /** the report is `trace-cmd report -N` (kernel print fmt; vcpu in kvm_exit) */
  kernelFmt: boolean;
  events: number;
  exits?: number;
  buffer?: string;
  version?: number;
  clock?: string;
  compression?: string;
}

const CAPTURE_CASES: Case[] = [
  { dat: 'svm-D-small/trace.dat', report: 'svm-D-small/trace-cmd-report-N.txt', kernelFmt: true, events: 2837, exits: 770, buffer: 'cap', compression: 'zstd' },
  { dat: 'svm-T-tracecmd-record/trace.dat', report: 'svm-T-tracecmd-record/trace-cmd-report-N.txt', kernelFmt: true, events: 12368, exits: 3645, buffer: '' },
  { dat: 'svm-A-baseline/trace.dat', report: 'svm-A-baseline/trace-cmd-report-N.txt.xz', kernelFmt: true, events: 60309, exits: 18169, buffer: 'cap' },
  { dat: 'svm-B-disable-exits/trace.dat', report: 'svm-B-disable-exits/trace-cmd-report-N.txt.xz', kernelFmt: true, events: 55208, exits: 17869, buffer: 'cap' },
  { dat: 'svm-F-haltpoll-2ms/trace.dat', report: 'svm-F-haltpoll-2ms/trace-cmd-report-N.txt.xz', kernelFmt: true, events: 56950, exits: 18140, buffer: 'cap' },
  { dat: 'pvm-08-small-ftrace-tracecmd/trace.dat', report: 'pvm-08-small-ftrace-tracecmd/trace-cmd-report.txt', kernelFmt: false, events: 25400, exits: 0, buffer: 'exittax' },
  { dat: 'pvm-01-baseline-ftrace-tracecmd/trace.dat', report: 'pvm-01-baseline-ftrace-tracecmd/trace-cmd-report.txt.xz', kernelFmt: false, events: 125948, exits: 0, buffer: 'exittax' },
  { dat: 'pvm-04-cpupm-ftrace-tracecmd/trace.dat', report: 'pvm-04-cpupm-ftrace-tracecmd/trace-cmd-report.txt.xz', kernelFmt: false, events: 125971, exits: 0, buffer: 'exittax' },
  { dat: 'pvm-05-haltpoll-off-ftrace-tracecmd/trace.dat', report: 'pvm-05-haltpoll-off-ftrace-tracecmd/trace-cmd-report.txt.xz', kernelFmt: false, events: 126806, exits: 0, buffer: 'exittax' },
];

const PUBLIC_CASES: Case[] = [
  { dat: 'host-6.5.0-21-kvm-entry-exit-5k.trace.dat', report: 'host-6.5.0-21-kvm-entry-exit-5k.report-N.txt.gz', kernelFmt: true, events: 11721, exits: 5860, clock: 'tsc2nsec', compression: 'zlib' },
  { dat: 'host-6.5.0-21-kvm-entry-exit-110k.trace.dat', report: 'host-6.5.0-21-kvm-entry-exit-110k.report-N.txt.gz', kernelFmt: true, events: 221307, exits: 110653, clock: 'tsc2nsec' },
  { dat: 'host-6.5.0-18-all-kvm-events-x86tsc.trace.dat', report: 'host-6.5.0-18-all-kvm-events-x86tsc.report-N.txt.gz', kernelFmt: true, events: 7792, exits: 1558, clock: 'x86-tsc' },
  { dat: 'host-6.5.0-18-kvm-entry-exit-9k.trace.dat', report: 'host-6.5.0-18-kvm-entry-exit-9k.report.txt.gz', kernelFmt: false, events: 18009, exits: 9005, clock: 'tsc2nsec' },
  { dat: 'host-6.5.0-21-kvm-entry-exit-22k.trace.dat', report: 'host-6.5.0-21-kvm-entry-exit-22k.report.txt.gz', kernelFmt: false, events: 45543, exits: 22772, clock: 'tsc2nsec' },
];

async function checkAgainstReport(dir: string, c: Case): Promise<void> {
  const sink = new CollectSink();
  const info = readTraceDat(join(dir, c.dat), sink);
  const lines = parseReport(await readText(join(dir, c.report)));
  const raw = info.clock === 'x86-tsc';

  expect(info.version).toBe(c.version ?? 7);
  if (c.buffer !== undefined) expect(info.buffer).toBe(c.buffer);
  if (c.clock !== undefined) expect(info.clock).toBe(c.clock);
  if (c.compression !== undefined) expect(info.compression).toBe(c.compression);
  expect(sink.files).toEqual([{ name: join(dir, c.dat), clock: raw ? CLOCK_RAW : CLOCK_NS }]);
  expect(info.lostEvents).toBe(0);

  const evs = sink.events.filter((e) => e.kind !== EV_LOST);
  expect(info.events).toBe(c.events);
  expect(evs.length).toBe(c.events);
  expect(lines.length).toBe(c.events);

  // events per name
  const want = new Map<string, number>();
  for (const l of lines) want.set(l.name, (want.get(l.name) ?? 0) + 1);
  expect(new Map(sink.countsByName)).toEqual(want);
  if (c.exits !== undefined) expect(evs.filter((e) => e.kind === EV_EXIT).length).toBe(c.exits);

  // every event in order: timestamp as printed, tid, cpu, name; and for kvm_exit/kvm_entry reason and vcpu
  const { vmx, svm } = reasonTables();
  let mismatches = 0;
  const firstBad: string[] = [];
  let exitsChecked = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const e = evs[i]!;
    const got: Record<string, unknown> = { us: fmtTs(e.ts, raw), tid: e.tid, cpu: e.cpu, name: sink.nameOf(e) };
    const exp: Record<string, unknown> = { us: l.us, tid: l.tid, cpu: l.cpu, name: l.name };
    if (e.kind === EV_EXIT) {
      const { isa, code } = sink.reasonOf(e);
      got.reason = (isa === 1 ? vmx : svm).get(code) ?? `${isa}:${code}`;
      exp.reason = /reason (\S+)/.exec(l.body)?.[1];
      const v = /^vcpu (\d+)/.exec(l.body);
      if (v && c.kernelFmt) {
        got.vcpu = e.vcpu;
        exp.vcpu = Number(v[1]);
      }
      exitsChecked++;
    } else if (e.kind === EV_ENTRY) {
      const v = /^vcpu (\d+)/.exec(l.body);
      got.vcpu = e.vcpu;
      exp.vcpu = v ? Number(v[1]) : undefined;
      const rip = /rip 0x([0-9a-f]+)/.exec(l.body);
      got.rip = e.b.toString(16);
      exp.rip = rip?.[1];
    }
    if (JSON.stringify(got) !== JSON.stringify(exp)) {
      mismatches++;
      if (firstBad.length < 5) firstBad.push(`#${i}: got ${JSON.stringify(got)} want ${JSON.stringify(exp)}`);
    }
  }
  expect(firstBad).toEqual([]);
  expect(mismatches).toBe(0);
  expect(exitsChecked).toBe(c.exits ?? exitsChecked);
}

describe('isTraceDat', () => {
  it('recognises the magic', () => {
    expect(isTraceDat(new Uint8Array([0x17, 0x08, 0x44, 0x74, 0x72, 0x61, 0x63, 0x69, 0x6e, 0x67, 0x37, 0]))).toBe(true);
    expect(isTraceDat(new TextEncoder().encode('# tracer: nop\n'))).toBe(false);
    expect(isTraceDat(new Uint8Array([0x17, 0x08]))).toBe(false);
  });
});

describe.skipIf(!haveCaptures)('trace.dat: real captures vs their trace-cmd report twins', () => {
  for (const c of CAPTURE_CASES) {
    it(c.dat, async () => {
      if (!existsSync(join(CAPTURES, c.dat))) return console.warn(`skip: ${c.dat} absent`);
      await checkAgainstReport(CAPTURES, c);
    }, 60_000);
  }

  it('names threads from the saved cmdlines and decodes the SVM exit fields', () => {
    const sink = new CollectSink();
    readTraceDat(join(CAPTURES, 'svm-D-small/trace.dat'), sink);
    expect(sink.threads.some((t) => t.comm === 'vmm')).toBe(true);
    const exits = sink.events.filter((e) => e.kind === EV_EXIT);
    const reasons = new Map<string, number>();
    for (const e of exits) {
      const r = sink.reasonOf(e);
      expect(r.isa).toBe(2);
      reasons.set(r.code.toString(16), (reasons.get(r.code.toString(16)) ?? 0) + 1);
      expect(e.c).toBe(0); // vcpu_id present, no failed vmentry
      expect(e.vcpu === 0 || e.vcpu === 1).toBe(true);
    }
    // README: msr=248 io=218 cpuid=200 hlt=66 vintr=20 npf=13 interrupt=5
    expect(Object.fromEntries(reasons)).toEqual({ '7c': 248, '7b': 218, '72': 200, '78': 66, '64': 20, '400': 13, '60': 5 });
    // reasonKey is asked once per distinct (isa, code), not per record
    expect(sink.reasonCalls).toBe(7);
  });

  it('selects a buffer by name, and rejects an unknown one', () => {
    const p = join(CAPTURES, 'svm-D-small/trace.dat');
    const top = new CollectSink();
    const info = readTraceDat(p, top, { buffer: '' });
    expect(info.buffer).toBe('');
    expect(info.buffers).toEqual(['', 'cap']);
    expect(info.events).toBe(0);
    expect(() => readTraceDat(p, new CollectSink(), { buffer: 'nope' })).toThrow(FormatError);
  });

  it('gives the same events when reading page by page instead of the whole file', () => {
    const p = join(CAPTURES, 'svm-T-tracecmd-record/trace.dat');
    const a = new CollectSink();
    const b = new CollectSink();
    readTraceDat(p, a);
    readTraceDat(p, b, { wholeFileLimit: 0 });
    expect(b.events).toEqual(a.events);
  });
});

const traceCmd = haveCaptures && HAVE_TRACE_CMD;
if (haveCaptures) requireTraceCmdUnderCi('the v6 / uncompressed v7 conversions');

describe.skipIf(!traceCmd)('trace.dat: the same capture converted by trace-cmd to v6 and to uncompressed v7', () => {
  for (const name of ['svm-D-small', 'svm-T-tracecmd-record']) {
    it(name, () => {
      const src = join(CAPTURES, name, 'trace.dat');
      const dir = mkdtempSync(join(tmpdir(), 'kvmtax-conv-'));
      try {
        const ref = new CollectSink();
        const refInfo = readTraceDat(src, ref);
        for (const [args, version] of [[['--file-version', '6'], 6], [['--file-version', '7', '--compression', 'none'], 7]] as const) {
          const out = join(dir, `${version}.dat`);
          execFileSync('trace-cmd', ['convert', '-i', src, ...args, '-o', out], { stdio: 'ignore' });
          for (const wholeFileLimit of [undefined, 0]) {
            const sink = new CollectSink();
            const info = readTraceDat(out, sink, wholeFileLimit === undefined ? {} : { wholeFileLimit });
            expect(info.version).toBe(version);
            expect(info.compression).toBeUndefined();
            expect(info.buffer).toBe(refInfo.buffer);
            expect(info.events).toBe(refInfo.events);
            expect(sink.events).toEqual(ref.events);
            expect(sink.threads).toEqual(ref.threads);
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  }
});

describe.skipIf(!havePublic)('trace.dat: public Intel VMX traces (v7, zlib) vs trace-cmd report', () => {
  for (const c of PUBLIC_CASES) {
    it(c.dat, async () => {
      await checkAgainstReport(PUBLIC, c);
    }, 60_000);
  }
});

describe.skipIf(!haveCaptures)('trace.dat: truncated and damaged files', () => {
  const src = join(CAPTURES, 'svm-D-small/trace.dat');
  const tmp = haveCaptures ? mkdtempSync(join(tmpdir(), 'kvmtax-tracedat-')) : '';

  function outcome(bytes: Uint8Array): { ok: true; events: number } | { ok: false; err: FormatError } {
    const p = join(tmp, 'cut.dat');
    writeFileSync(p, bytes);
    try {
      const info = readTraceDat(p, new CollectSink());
      return { ok: true, events: info.events };
    } catch (e) {
      if (!(e instanceof FormatError)) throw e; // anything else fails the test
      return { ok: false, err: e };
    }
  }

  it('throws FormatError with an offset when cut anywhere', () => {
    const full = readFileSync(src);
    const cuts = [0, 3, 10, 11, 12, 13, 17, 20, 29, 36, 40, 100, 400, 2100, 80000, 1030000, 1032179, 1032200,
      1033088, 1033100, 1036288, 1036300, 1040000, 1046000, 1048576, 1049000, 1051607, 1051700];
    for (let i = 0; i < 40; i++) cuts.push(Math.floor((((i * 7919) % 1000) / 1000) * 1051700));
    for (const cut of cuts) {
      const r = outcome(full.subarray(0, cut));
      expect(r.ok, `cut at ${cut}`).toBe(false);
      if (!r.ok) {
        expect(r.err.offset, `cut at ${cut}: ${r.err.message}`).toBeGreaterThanOrEqual(0);
        expect(r.err.offset, `cut at ${cut}: ${r.err.message}`).toBeLessThanOrEqual(full.length);
        expect(r.err.message).toMatch(/offset \d+/);
      }
    }
    // the file ends with the strings section (section descriptions), which the reader does not need
    expect(outcome(full.subarray(0, full.length - 1))).toEqual({ ok: true, events: 2837 });
    rmSync(join(tmp, 'cut.dat'), { force: true });
  });

  it('reports the version at offset 10', () => {
    const b = Buffer.from(readFileSync(src));
    b[10] = 0x39; // "9"
    const r = outcome(b);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.err.message).toBe('unknown trace.dat version 9 at offset 10');
      expect(r.err.offset).toBe(10);
    }
    const notDat = outcome(new TextEncoder().encode('hello, world'));
    expect(notDat.ok).toBe(false);
  });

  it('never throws anything but FormatError on damaged bytes', () => {
    const full = readFileSync(src);
    let seed = 12345;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 60; i++) {
      const b = Buffer.from(full);
      // damage the metadata (first 80 KB), the options sections or the compressed cpu data
      const region = i % 3 === 0 ? [0, 80000] : i % 3 === 1 ? [1032179, 1033200] : [1036288, 1051830];
      for (let k = 0; k < 4; k++) b[region[0]! + (rnd() % (region[1]! - region[0]!))] = rnd() & 0xff;
      outcome(b); // asserts inside: only FormatError may escape
    }
    rmSync(join(tmp, 'cut.dat'), { force: true });
  });
});

// ---- the process (VM) of each thread: only from what the file says ----

describe.skipIf(!haveCaptures && !havePublic)('trace.dat: threads\' processes on the real files', () => {
  const files = [
    ...['svm-A-baseline', 'svm-B-disable-exits', 'svm-D-small', 'svm-F-haltpoll-2ms', 'svm-T-tracecmd-record']
      .map((d) => join(CAPTURES, d, 'trace.dat')),
    ...(havePublic ? ['host-6.5.0-18-kvm-entry-exit-9k.trace.dat', 'host-6.5.0-21-kvm-entry-exit-5k.trace.dat'].map((f) => join(PUBLIC, f)) : []),
  ].filter((f) => existsSync(f));
  for (const f of files) {
    it(`${f.slice(SHARED.length + 1)}: no saved tgids and no task_newtask/sched_process_exec, so every VM stays unknown`, () => {
      const sink = new CollectSink();
      sink.keep = false;
      const info = readTraceDat(f, sink);
      // what the file holds: sched_switch/sched_wakeup give tids and comms, the saved cmdlines tid -> comm;
      // none of them says a thread's process (checked with trace-cmd dump --options and report on 2026-12-04)
      expect(sink.countsByName.get('task_newtask') ?? 0).toBe(0);
      expect(sink.countsByName.get('sched_process_exec') ?? 0).toBe(0);
      expect(sink.countsByName.get('kvm_exit') ?? 0).toBeGreaterThan(0);
      expect(info.processes).toBeUndefined();
      expect(sink.threads.length).toBeGreaterThan(0);
      expect(sink.threads.filter((t) => t.tgid >= 0)).toEqual([]);
    }, 60_000);
  }
});
