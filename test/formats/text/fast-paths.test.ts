/**
 * The text tokenizer's shortcuts (assembly/text.ts: the header cache, which takes a line's task, tid, tgid and
 * CPU from an earlier line with the same bytes up to its CPU column, and the timestamp read at the layout of
 * the last line) must never change a result: every case here is read with them and without them, and the
 * core's tables (threads, bins, histograms, skips with their first line and text, dictionary, counters) must
 * be identical. Cases: the real text captures (six seeds of the text fuzz suite), the bench generator's three
 * text formats, and mutations of both (fast-check, through the fuzz harness's mutations).
 */
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Core } from '../../../src/wasm/core.js';
import * as K from '../../../assembly/constants.js';
import { detectFormat, readWith } from '../../../src/formats/registry.js';
import { TRACES } from '../../support/paths.js';
import { MemSource as Mem, lineStarts, mutate, mutationArb, readAll, runs, type Mutation } from '../../support/fuzz-harness.js';
import { writeTrace } from '../../../bench/gen.js';

const SOURCES = [
  'svm-D-small/trace.txt.xz', 'svm-D-small/trace-cmd-report.txt.xz', 'svm-D-small/trace-cmd-report-N.txt.xz',
  'svm-D-small/perf-script.txt.xz', 'svm-D-small/perf-kvm-script.txt.xz', 'pvm-08-small/trace.txt.xz',
];
const RUNS = runs(800);


/** The core's tables after reading `bytes` as text, or the error, as one string. */
async function tables(bytes: Uint8Array, name: string, fast: boolean, chunkBytes?: number): Promise<string> {
  const core = new Core({ arenaBytes: 64 * 1024, batch: 1024 });
  core.textFastPaths(fast);
  const src = new Mem(name, bytes);
  let out: string;
  try {
    const entry = detectFormat(src.head, name);
    if (!entry.text) return 'binary';
    await readWith(entry, { src, path: '', display: name }, core, { fileIndex: core.nextFileIndex(), chunkBytes });
    const c = core.endFile();
    out = JSON.stringify({ c, t: core.tables() }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch (e) {
    out = `error: ${(e as Error).message}`;
  }
  return out;
}

async function same(bytes: Uint8Array, name: string, chunkBytes?: number): Promise<void> {
  const a = await tables(bytes, name, true, chunkBytes);
  const b = await tables(bytes, name, false, chunkBytes);
  if (a !== b) {
    const at = [...a].findIndex((ch, i) => ch !== b[i]);
    expect.fail(`${name}: the shortcuts changed the result near ${JSON.stringify(a.slice(Math.max(0, at - 120), at + 80))}\n vs ${JSON.stringify(b.slice(Math.max(0, at - 120), at + 80))}`);
  }
}

interface Seed { name: string; bytes: Buffer; lines: Buffer[]; header: Buffer }
const seeds: Seed[] = [];

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-fast-'));
  try {
    const all: Array<[string, Buffer]> = [];
    for (const s of SOURCES) all.push([s.replace(/\//g, '_').replace('.xz', ''), await readAll(path.join(TRACES, s))]);
    for (const format of ['ftrace', 'perf', 'trace-cmd'] as const) {
      const f = path.join(dir, `gen.${format}.txt`);
      await writeTrace({ format, size: 300_000, seed: 7 }, f);
      all.push([`gen.${format}.txt`, fs.readFileSync(f)]);
    }
    for (const [name, bytes] of all) {
      const ls = lineStarts(bytes);
      const lines = ls.map((st, i) => bytes.subarray(st, ls[i + 1] ?? bytes.length));
      let h = 0;
      while (h < lines.length && (lines[h]![0] === 0x23 || lines[h]!.toString('latin1').startsWith('cpus='))) h++;
      seeds.push({ name, bytes, header: Buffer.concat(lines.slice(0, h)), lines: lines.slice(h, h + 3000) });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

// Crafted surprises for the kvm_exit/kvm_entry fast path (assembly/text.ts hotEvent): each line after the first
// few repeats a cached header, so the fast path sees it first and must hand every odd one to the general path.
const EXIT_TAIL = 'info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000';
const T = '       CPU 0/KVM-3148    (   3127) [000]';
const U = '       CPU 1/KVM-3149    (   3127) [001]';
const FTRACE_SURPRISES = [
  '# tracer: nop',
  `${T} d..1. 24006.249290: kvm_entry: vcpu 0, rip 0xffffffffa00db918`,
  `${T} ..... 24006.249299: kvm_exit: vcpu 0 reason HLT rip 0xffffffffa13f2e2f ${EXIT_TAIL}`,
  `${T} d..1. 24006.249310: kvm_entry: vcpu 0, rip 0xffffffffa13f2e2f`, // ends with a hex letter
  `${T} ..... 24006.249320: kvm_exit: vcpu 0 reason INVALID_STATE FAILED_VMENTRY rip 0x1 ${EXIT_TAIL}`, // two-token reason
  `${T} d..1. 24006.249330: kvm_entry: vcpu 0, rip 0x1`,
  `${T} ..... 24006.249340: kvm_exit: vcpu 0  reason  MSR_WRITE rip 0x2 ${EXIT_TAIL}`, // double spaces
  `${T} d..1. 24006.249350: kvm_entry: vcpu 0, rip 0x2`,
  `${T} ..... 24006.249360: kvm_exit: vcpu 0 reason EXIT_FAILED_VMENTRY rip 0x3 ${EXIT_TAIL}`, // one token, failed flag
  `${T} d..1. 24006.249370: kvm_entry: vcpu 0, rip 0x3`,
  `${T} d..2. 24006.249380: sched_switch: prev_comm=CPU 0/KVM prev_pid=3148 prev_prio=120 prev_state=S ==> next_comm=swapper/0 next_pid=0 next_prio=120`,
  '          <idle>-0       (-------) [000] dNh2. 24006.249385: sched_wakeup: comm=CPU 0/KVM pid=3148 prio=120 target_cpu=000',
  '          <idle>-0       (-------) [000] d..2. 24006.249390: sched_switch: prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=CPU 0/KVM next_pid=3148 next_prio=120',
  `${T} ..... 24006.249400: kvm_exit: vcpu 0 reason EPT_VIOLATION rip 0x4 ${EXIT_TAIL}`,
  `${T} ..... 24006.249401: kvm_page_fault: vcpu 0 rip 0x4 address 0x00000000fee00000 error_code 0x182`,
  `${T} ..... 24006.249402: kvm_hv_timer_state: vcpu_id 0 hv_timer 1`,
  `${T} d..1. 24006.249410: kvm_entry: vcpu 0, rip 0x4`,
  `${T} ..... 24007.000001: kvm_exit: vcpu 0 reason HLT rip 0x4 ${EXIT_TAIL}`, // the next second
  `${T} d..1. 24007.000002: kvm_entry: vcpu 0, rip 0x4`,
  `${T} ..... 2400x.000003: kvm_exit: vcpu 0 reason HLT rip 0x4 ${EXIT_TAIL}`, // a damaged second
  `${T} d..1. 24007.000004: kvm_entry: vcpu 0, rip 0x4`,
  `${T} ..... 24007.00000x: kvm_exit: vcpu 0 reason HLT rip 0x4 ${EXIT_TAIL}`, // a damaged fraction
  `${T} d..1. 24007.000006: kvm_entry: vcpu 0, rip 0x4`,
  `${T} ..... 04007.000007: kvm_exit: vcpu 0 reason HLT rip 0x4 ${EXIT_TAIL}`, // time going back
  `${T} d..1. 04007.000008: kvm_entry: vcpu 0, rip 0x4`,
  `${T} ..... 24007.000009: kvm_exit: vcpu 0 reason HLT rip 0x4 ${EXIT_TAIL}`,
  `${T} d..1. 24007.000010: kvm_entry: vcpu 0, rip 0x4`,
  `${T} ..... 124006.249420: kvm_exit: vcpu 0 reason HLT rip 0x5 ${EXIT_TAIL}`, // the seconds one digit wider
  `${T} d..1. 124006.249430: kvm_entry: vcpu 0, rip 0x5`,
  `${T} d..1. 124006.249431: kvm_entry: vcpu 0, rip 0x5`, // entry after entry
  ` qemu [vm] 1/KVM-3149  (   3127) [001] ..... 124006.249440: kvm_exit: vcpu 1 reason HLT rip 0x6 ${EXIT_TAIL}`, // comm with a space and brackets
  ` qemu [vm] 1/KVM-3149  (   3127) [001] d..1. 124006.249450: kvm_entry: vcpu 1, rip 0x6`,
  `${U} ..... 124006.249460: kvm_exits: vcpu 1 reason HLT rip 0x7 ${EXIT_TAIL}`, // a longer name
  `${U} ..... 124006.249461: kvm_entryx: vcpu 1, rip 0x7`,
  `${U} ..... 124006.249470: kvm_exit: vcpu 1 reason HLT rip`, // mail-wrapped after a field name
  `0x7 ${EXIT_TAIL}`,
  `${U} d..1. 124006.249480: kvm_entry: vcpu 1,`,
  ' rip 0x7',
  `${U} ..... 124006.249490: kvm_exit: vcpu 12345678 reason HLT rip 0x8 ${EXIT_TAIL}`, // a vcpu id too long to take
  `${U} d..1. 124006.249500: kvm_entry: vcpu 12345678, rip 0x8`,
  `${U} ..... 124006.249510: kvm_exit: vcpu 1 reason HLT\trip 0x9 ${EXIT_TAIL}`, // a tab after the reason
  `${U} d..1. 124006.249520: kvm_entry: vcpu 1, rip 0x9`,
  `${U} ..... 124006.249530: kvm_exit: reason EXTERNAL_INTERRUPT rip 0x100 info 0 800000f6`, // no vcpu (older kernels)
  `${U} d..1. 124006.249540: kvm_entry: PC: 0x0000000040000000`, // no vcpu (arm64)
  `${U} ..... 124006.249550: kvm_exit: <CANT FIND FIELD exit_reason>TRAP: HSR_EC: 0x0016 (HVC64), PC: 0x000000004000008c`,
  `${U} d..1. 124006.249560: kvm_entry: vcpu x, rip 0x1`, // a bad vcpu
  `${U} ..... 124006.249570: kvm_exit: vcpu 1 reason HLT rip 0xa ${EXIT_TAIL}\r`, // CRLF
  `${U} d..1. 124006.249580: kvm_entry: vcpu 1, rip 0xa\r`,
  `${U} ..... 124006.249590123: kvm_exit: vcpu 1 reason HLT rip 0xb ${EXIT_TAIL}`, // nanoseconds
  `${U} d..1. 124006.2496: kvm_entry: vcpu 1, rip 0xb`, // a short fraction
  `${U} d..1. 303280081900681: kvm_entry: vcpu 1, rip 0xb`, // a raw counter: another clock
  `${U} 1.... 124006.249610: kvm_exit: vcpu 1 reason HLT rip 0xc ${EXIT_TAIL}`, // a flags column that starts with a digit
  `${U} d..1. 124006.249620: kvm_entry: vcpu 1, rip 0xc`,
  '       CPU 1/KVM-3149    (   4000) [001] ..... 124006.249630: kvm_exit: vcpu 1 reason HLT rip 0xd ' + EXIT_TAIL, // the tid in another process
  '       CPU 1/KVM-3149    (   4000) [001] d..1. 124006.249640: kvm_entry: vcpu 1, rip 0xd',
  `${U} ..... 124006.249650: kvm_exit: vcpu 1 reason HLT rip 0xe ${EXIT_TAIL}`,
  '       CPU 1/KVM-3149    (   3127) [003] d..1. 124006.249660: kvm_entry: vcpu 1, rip 0xe', // another CPU
  '   CPU 1/KVM-3149    (   3127) [001] ..... 124006.249670: kvm_exit: vcpu 1 reason HLT rip 0xf ' + EXIT_TAIL, // narrower: the '[' moved
  '   CPU 1/KVM-3149    (   3127) [001] d..1. 124006.249680: kvm_entry: vcpu 1, rip 0xf',
  `${U} ..... 124006.249690: kvm_exit: vcpu 1 reason HLT rip 0x10 info 0 0`,
  `${U} d..1. 124006.249700: kvm_entry: vcpu 1, rip 0x10 gpa`, // ends with a field name
  '',
].join('\n');
const PERF_SURPRISES = [
  '       CPU 1/KVM  3149 [001] 24006.249294:                      kvm:kvm_entry: vcpu 1, rip 0xffffffffa00db918',
  `       CPU 1/KVM  3149 [001] 24006.249296:                       kvm:kvm_exit: vcpu 1 reason MSR_WRITE rip 0xffffffffa00a6f84 ${EXIT_TAIL}`,
  '       CPU 1/KVM  3149 [001] 24006.249297:                      kvm:kvm_entry: vcpu 1, rip 0xffffffffa00a6f8a',
  '       CPU 1/KVM  3149 [001] 24006.249298:                        kvm:kvm_msr: msr_write 6e0 = 0x2dd9b851d3cd',
  `       CPU 1/KVM  3149 [001] 24006.249299:                       kvm:kvm_exit: vcpu 1 reason npf rip 0x1 ${EXIT_TAIL}`,
  '       CPU 1/KVM  3149 [001] 24006.249300:                         kvm_entry: vcpu 1, rip 0x1', // no system prefix
  `       CPU 1/KVM  3149 [001] 24006.249301:                       kvm:kvm_exit: vcpu 1 reason npf rip 0x1 ${EXIT_TAIL}`,
  '       CPU 1/KVM  3149 [001] 24006.249302:                      kvm:kvm_entry: vcpu 1, rip 0x1',
  `       CPU 1/KVM  3149 [001] 24006.249303:                kvm:kvm_exit: vcpu 1 reason npf rip 0x2 ${EXIT_TAIL}`, // 16 spaces
  '       CPU 1/KVM  3149 [001] 24006.249304:               kvm:kvm_entry: vcpu 1, rip 0x2', // 15
  `       CPU 1/KVM  3149 [001] 24006.249305: \t              kvm:kvm_exit: vcpu 1 reason npf rip 0x3 ${EXIT_TAIL}`, // a tab
  '       CPU 1/KVM  3149 [001] 24006.249306:                      kvm:kvm_entry: vcpu 1, rip 0x3',
  '',
].join('\n');
const TRACECMD_SURPRISES = [
  'cpus=2',
  '       CPU 1/KVM-3149  [001] 24006.249294: kvm_entry:            vcpu 1 rip 0xffffffffa00db918',
  '       CPU 1/KVM-3149  [001] 24006.249296: kvm_exit:             reason MSR_WRITE rip 0xffffffffa00a6f84 info 0 0',
  '       CPU 1/KVM-3149  [001] 24006.249297: kvm_entry:            vcpu 1 rip 0xffffffffa00a6f8a',
  '       CPU 1/KVM-3149  [001] 24006.249298: kvm_exit:             reason UNKNOWN (123) rip 0x1 info 0 0',
  '       CPU 1/KVM-3149  [001] 24006.249299: kvm_entry:            vcpu 1 rip 0x1',
  '       CPU 1/KVM-3149  [001] 24006.249300: kvm_exit:             reason EXIT_NPF rip 0x10000 info 200000006 1000',
  '       CPU 1/KVM-3149  [001] 24006.249301: kvm_entry:            vcpu 1 rip 0x1',
  '       CPU 1/KVM-3149  [001] 24006.249302: kvm_exit:\t \treason EXIT_NPF rip 0x10000 info 200000006 1000', // tabs in the padding
  '       CPU 1/KVM-3149  [001] 24006.249303: kvm_entry:                vcpu 1 rip 0x1', // 16 spaces
  '       CPU 1/KVM-3149  [001] 24006.249304: kvm_exit:                 reason HLT rip 0x2 info 0 0', // 17
  '       CPU 1/KVM-3149  [001] 24006.249305: kvm_entry:                                 vcpu 1 rip 0x2', // 33
  '       CPU 1/KVM-3149  [001] 24006.249306: kvm_exit:                ', // only padding
  '',
].join('\n');

/** Scan `bytes` as one last chunk of ftrace text: the code, the error position and the lines read. */
function scanOnce(bytes: Uint8Array): { code: number; line: number; col: number; lines: number } {
  const core = new Core({ arenaBytes: 64 * 1024, batch: 1024 });
  core.beginTextFile(core.nextFileIndex(), K.FMT_FTRACE, false);
  core.arena().set(bytes);
  const code = core.scan(bytes.length, true);
  const pos = core.errorPosition();
  return { code, line: code < 0 ? pos.line : 0, col: code < 0 ? pos.col : 0, lines: core.fileCounters().lines };
}

describe('the line scan (32 bytes a step)', () => {
  // tabs and bytes from 0x80 are text in the same step as the newline; a control byte anywhere is binary, at
  // its own line and column, whatever its place in a 32-byte step
  const line = `${T} d..1. 24006.249290: kvm_entry: vcpu 0, rip 0xffffffffa00db918`;
  it('finds each newline past tabs and bytes from 0x80', () => {
    for (let k = 0; k < 40; k++) {
      const odd = Buffer.from(line, 'latin1');
      odd[k] = k % 2 ? 0x09 : 0xc3;
      const text = Buffer.concat([Buffer.from(line + '\n'), odd, Buffer.from('\n' + line + '\n')]);
      expect(scanOnce(text)).toEqual({ code: text.length, line: 0, col: 0, lines: 3 });
    }
  });
  it('stops at a control byte with its line and column', () => {
    for (let k = 0; k < 70; k++) {
      const bad = Buffer.from(line, 'latin1');
      bad[k] = 0x01;
      if (k > 3) bad[k - 3] = 0x09; // a tab just before it in the same step
      const text = Buffer.concat([Buffer.from(line + '\n' + line + '\n'), bad, Buffer.from('\n' + line + '\n')]);
      expect(scanOnce(text)).toMatchObject({ code: K.ERR_BINARY, line: 3, col: k + 1 });
    }
  });
});

/** The core's tables after one scan of `rests` (event name and payload), each after the header T and a timestamp. */
function tablesOfEvents(rests: string[], flags = 'd..1.'): ReturnType<Core['tables']> {
  const lines = rests.map((r, i) => `${T} ${flags} 24006.${String(249290 + i).padStart(6, '0')}: ${r}`);
  const core = new Core({ arenaBytes: 64 * 1024, batch: 1024 });
  core.beginTextFile(core.nextFileIndex(), K.FMT_FTRACE, false);
  const bytes = Buffer.from(lines.join('\n') + '\n', 'latin1');
  core.arena().set(bytes);
  expect(core.scan(bytes.length, true)).toBe(bytes.length);
  core.endFile();
  return core.tables();
}

describe('the event name (found 16 bytes a step)', () => {
  // the rule: up to the first ':' followed by a space, a tab or the line end, or up to the first space or
  // tab; a ':' followed by anything else ends a system prefix ("kvm:kvm_exit")
  function nameOf(rest: string): string {
    let start = 0;
    for (let i = 0; i < rest.length; i++) {
      const c = rest[i];
      if (c === ':') {
        if (i + 1 === rest.length || rest[i + 1] === ' ' || rest[i + 1] === '\t') return rest.slice(start, i);
        start = i + 1;
      } else if (c === ' ' || c === '\t') return rest.slice(start, i);
    }
    return rest.slice(start);
  }
  it('is read as the byte-at-a-time rule reads it (names of skipped lines are not counted: the payloads are good)', () => {
    const rests = [
      'kvm_msr: msr_write 6e0 = 0x1', 'kvm:kvm_msr: msr_read 10 = 0x0', 'sched_switch:\tprev_comm=a prev_pid=1 prev_prio=120 prev_state=S ==> next_comm=b next_pid=2 next_prio=120', 'kvm_wait_lapic_expire: vcpu 0: delta 1',
      'a:b:c: x', 'a:b:c:', 'x_23456789_123456789_123456789_123456789: y', 'sys:x_23456789_123456789_1234567: z',
      'name_with_no_colon rest', 'kvm_hv_timer_state:', 'q:', 'kvm:kvm_pio:x: pio_read at 0x1', 'kvm_userspace_exit:\treason KVM_EXIT_IO (2)',
    ];
    const t = tablesOfEvents(rests);
    const got = new Map<string, number>();
    t.strings.forEach((s, i) => { if (t.nameCounts[i]! > 0) got.set(s, t.nameCounts[i]!); });
    const want = new Map<string, number>();
    for (const r of rests) { const n = nameOf(r); if (n) want.set(n, (want.get(n) ?? 0) + 1); }
    expect(Object.fromEntries([...got].sort())).toEqual(Object.fromEntries([...want].sort()));
  });
});

describe('payload fields (found by their first two bytes, 16 positions a step)', () => {
  /** The sub-key names ("pio 0x101 w") and skip counts of `rests` read after one header. */
  function subKeys(rests: string[]): { keys: string[]; skipped: number } {
    const t = tablesOfEvents(rests, '.....');
    return {
      keys: t.strings.filter((s) => /^(pio|mmio|msr) /.test(s)).sort(),
      skipped: t.skips.reduce((n, k) => n + Number(k.count), 0),
    };
  }
  it('at every offset from the payload start and after look-alikes', () => {
    const rests: string[] = [];
    const want: string[] = [];
    for (let k = 0; k < 40; k++) {
      // "at " after k spaces and a look-alike "a" / "att": every alignment of the needle in a 16-byte step
      rests.push(`kvm_pio: pio_write${' '.repeat(k)}${k % 3 === 0 ? 'att ' : k % 3 === 1 ? 'a ' : ''}at 0x${(0x100 + k).toString(16)} size 1 count 1 val 0x5`);
      want.push(`pio 0x${(0x100 + k).toString(16)} w`);
      // "gpa " as the line's last field
      rests.push(`kvm_mmio: mmio read len 4${' '.repeat(k)}gp gpa 0x${(0xfee00000 + k).toString(16)}`);
      want.push(`mmio 0x${(0xfee00000 + k).toString(16)} r`);
    }
    const got = subKeys(rests);
    expect(got.keys).toEqual([...new Set(want)].sort());
    expect(got.skipped).toBe(0);
  });
  it('as the last bytes of the line', () => {
    // "invalid" ends the kvm_vcpu_wakeup line: its last possible place
    const rests = ['kvm_vcpu_wakeup: wait time 100 ns, polling invalid', 'kvm_vcpu_wakeup: wait time 100 ns, polling valid',
      'kvm_vcpu_wakeup: poll time 10 ns, polling invalid', 'kvm_vcpu_wakeup: poll time 10 ns, polling invali'];
    expect(tablesOfEvents(rests, '.....').threads.map((t) => t.wakeInvalid)).toEqual([2]);
  });
  it('absent, or cut by the line end, is a bad payload', () => {
    expect(subKeys(['kvm_pio: pio_write a', 'kvm_pio: pio_write at', 'kvm_mmio: mmio read len 4 gpa', 'kvm_mmio: mmio read len 4 gp'])).toEqual({ keys: [], skipped: 4 });
  });
});

describe('the header cache', () => {
  it('keeps the idle task of each CPU apart (the same bytes before the CPU column)', async () => {
    const cpus = ['000', '001', '017', '063', '1', '12'];
    const lines: string[] = [];
    for (let i = 0; i < 60; i++) {
      const c = cpus[i % cpus.length]!;
      lines.push(`          <idle>-0       (-------) [${c}] dNh2. 24006.${String(249290 + i).padStart(6, '0')}: sched_wakeup: comm=CPU ${i % 4}/KVM pid=${3148 + (i % 4)} prio=120 target_cpu=${c}`);
      lines.push(`${T} ..... 24006.${String(249290 + i).padStart(6, '0')}: kvm_exit: vcpu 0 reason HLT rip 0x1 ${EXIT_TAIL}`);
    }
    await same(Buffer.from(lines.join('\n') + '\n', 'latin1'), 'idle.txt');
  });
});

describe('text tokenizer shortcuts change nothing', () => {
  it('on crafted surprises for the kvm_exit/kvm_entry fast path, whole and in 100-byte chunks', async () => {
    for (const [name, text] of [['ftrace.txt', FTRACE_SURPRISES], ['perf.txt', PERF_SURPRISES], ['trace-cmd.txt', TRACECMD_SURPRISES]] as const) {
      const bytes = Buffer.from(text, 'latin1');
      await same(bytes, name);
      await same(bytes, name, 100);
      // every line, and the same line repeated, so that each odd line meets a cached header
      const lines = text.split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith('cpus='));
      await same(Buffer.from(lines.flatMap((l) => [l, l]).join('\n') + '\n', 'latin1'), name);
    }
  }, 60_000);

  it('on the real captures and the generated traces, whole and in 100-byte chunks', async () => {
    for (const s of seeds) {
      await same(s.bytes, s.name);
      await same(Buffer.concat([s.header, ...s.lines.slice(0, 400)]), s.name, 100);
    }
  }, 300_000);

  it(`on ${RUNS} mutations of them`, async () => {
    const arb = fc.record({
      seed: fc.nat({ max: 1000 }), start: fc.double({ min: 0, max: 1, noNaN: true }), len: fc.integer({ min: 1, max: 300 }),
      muts: fc.array(mutationArb(true), { maxLength: 5 }),
    });
    await fc.assert(fc.asyncProperty(arb, async (c: { seed: number; start: number; len: number; muts: Mutation[] }) => {
      const s = seeds[c.seed % seeds.length]!;
      const from = Math.floor(c.start * s.lines.length);
      const base = Buffer.concat([s.header, ...s.lines.slice(from, from + c.len)]);
      await same(mutate({ bytes: base, points: lineStarts(base) }, c.muts), s.name);
    }), { numRuns: RUNS, seed: 15 });
  }, 600_000);
});
