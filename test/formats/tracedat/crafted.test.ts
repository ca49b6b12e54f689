/**
 * trace.dat reader on hand-made v6 files: ring-buffer page decoding (time extend, absolute time stamps,
 * padding, long records, lost events), the CPU merge, endianness, clock options and malformed pages.
 * Self-contained: needs nothing outside the repository.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTraceDat, type TraceDatInfo, type TraceDatOptions } from '../../../src/formats/tracedat/reader.js';
import { FormatError } from '../../../src/formats/bytes.js';
import { CollectSink } from '../../support/collect-sink.js';
import { Core } from '../../../src/wasm/core.js';
import { coreTdStats } from '../../../src/formats/tracedat/core-path.js';
import { EV_EXIT, EV_ENTRY, EV_LOST, EV_OTHER, CLOCK_NS, CLOCK_RAW, EXITF_FAILED_VMENTRY } from '../../../assembly/constants.js';

const HEADER_PAGE = `\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;
\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;
\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;
\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;
`;
const HEADER_EVENT = `# compressed entry header
\ttype_len    :    5 bits
\ttime_delta  :   27 bits
\tarray       :   32 bits

\tpadding     : type == 29
\ttime_extend : type == 30
\ttime_stamp : type == 31
\tdata max type_len  == 28
`;
const COMMON = `\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;
`;
const KVM_EXIT = `name: kvm_exit
ID: 103
format:
${COMMON}
\tfield:unsigned int exit_reason;\toffset:8;\tsize:4;\tsigned:0;
\tfield:unsigned long guest_rip;\toffset:16;\tsize:8;\tsigned:0;
\tfield:u32 isa;\toffset:24;\tsize:4;\tsigned:0;
\tfield:u64 info1;\toffset:32;\tsize:8;\tsigned:0;
\tfield:u64 info2;\toffset:40;\tsize:8;\tsigned:0;
\tfield:u32 intr_info;\toffset:48;\tsize:4;\tsigned:0;
\tfield:u32 error_code;\toffset:52;\tsize:4;\tsigned:0;
\tfield:unsigned int vcpu_id;\toffset:56;\tsize:4;\tsigned:0;
\tfield:u64 requests;\toffset:64;\tsize:8;\tsigned:0;

print fmt: "vcpu %u reason %s", REC->vcpu_id, __print_symbolic(REC->exit_reason & 0xffff, { 0, "EXCEPTION_NMI" })
`;
const KVM_ENTRY = `name: kvm_entry
ID: 115
format:
${COMMON}
\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;
\tfield:unsigned long rip;\toffset:16;\tsize:8;\tsigned:0;
\tfield:bool immediate_exit;\toffset:24;\tsize:1;\tsigned:0;
\tfield:u32 intr_info;\toffset:28;\tsize:4;\tsigned:0;
\tfield:u32 error_code;\toffset:32;\tsize:4;\tsigned:0;

print fmt: "vcpu %u, rip 0x%lx", REC->vcpu_id, REC->rip
`;
const PRINT = `name: print
ID: 5
format:
${COMMON}
\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;
\tfield:char buf[];\toffset:16;\tsize:0;\tsigned:0;

print fmt: "%ps: %s", (void *)REC->ip, REC->buf
`;

// ---- a little binary writer ----

class W {
  private b: number[] = [];
  constructor(readonly le: boolean) {}
  get length(): number {
    return this.b.length;
  }
  u8(v: number): this {
    this.b.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.int(BigInt(v), 2);
  }
  u32(v: number): this {
    return this.int(BigInt(v >>> 0), 4);
  }
  u64(v: number | bigint): this {
    return this.int(BigInt(v), 8);
  }
  private int(v: bigint, n: number): this {
    const bytes: number[] = [];
    for (let i = 0; i < n; i++) bytes.push(Number((v >> BigInt(8 * i)) & 0xffn));
    if (!this.le) bytes.reverse();
    this.b.push(...bytes);
    return this;
  }
  raw(x: Uint8Array | number[]): this {
    for (const v of x) this.b.push(v);
    return this;
  }
  str(s: string): this {
    return this.raw(new TextEncoder().encode(s));
  }
  cstr(s: string): this {
    return this.str(s).u8(0);
  }
  padTo(align: number): this {
    while (this.b.length % align) this.b.push(0);
    return this;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.b);
  }
}

// ---- ring-buffer pages ----

type Ev =
  | { t: 'data'; delta: number; payload: Uint8Array }
  | { t: 'extend'; delta: bigint }
  | { t: 'abs'; ts: bigint }
  | { t: 'pad'; delta: number; len: number }
  | { t: 'raw'; word: number; extra?: number[] };

function header(le: boolean, type: number, delta: number): number {
  return le ? ((delta << 5) | type) >>> 0 : ((type << 27) | delta) >>> 0;
}

function page(le: boolean, ts: bigint, evs: Ev[], opts: { lost?: number; missing?: boolean; commit?: number } = {}): Uint8Array {
  const d = new W(le);
  for (const e of evs) {
    switch (e.t) {
      case 'data': {
        const len = e.payload.length;
        if (len % 4) throw new Error('payload must be 4-aligned');
        if (len / 4 <= 28 && len > 0) {
          d.u32(header(le, len / 4, e.delta)).raw(e.payload);
        } else {
          d.u32(header(le, 0, e.delta)).u32(len + 4).raw(e.payload);
        }
        break;
      }
      case 'extend':
        d.u32(header(le, 30, Number(e.delta & 0x7ffffffn))).u32(Number(e.delta >> 27n));
        break;
      case 'abs':
        d.u32(header(le, 31, Number(e.ts & 0x7ffffffn))).u32(Number(e.ts >> 27n));
        break;
      case 'pad':
        d.u32(header(le, 29, e.delta)).u32(e.len).raw(new Array(e.len - 4).fill(0xee));
        break;
      case 'raw':
        d.u32(e.word).raw(e.extra ?? []);
        break;
    }
  }
  const data = d.bytes();
  let flags = opts.commit ?? data.length;
  if (opts.missing || opts.lost !== undefined) flags |= 0x80000000;
  if (opts.lost !== undefined) flags |= 0x40000000;
  const p = new W(le).u64(ts).u64(flags >>> 0).raw(data);
  if (opts.lost !== undefined) p.u64(opts.lost);
  const out = new Uint8Array(4096);
  out.set(p.bytes().subarray(0, 4096));
  return out;
}

function exitRec(le: boolean, pid: number, reason: number, rip: bigint, vcpu: number, isa = 1): Uint8Array {
  return new W(le).u16(103).u8(0).u8(0).u32(pid).u32(reason).u32(0).u64(rip).u32(isa).u32(0)
    .u64(0).u64(0).u32(0).u32(0).u32(vcpu).u32(0).u64(0).bytes();
}
function entryRec(le: boolean, pid: number, rip: bigint, vcpu: number): Uint8Array {
  return new W(le).u16(115).u8(0).u8(0).u32(pid).u32(vcpu).u32(0).u64(rip).u8(0).u8(0).u8(0).u8(0).u32(0).u32(0).bytes();
}
function printRec(le: boolean, pid: number, text: string): Uint8Array {
  const w = new W(le).u16(5).u8(0).u8(0).u32(pid).u64(0).cstr(text);
  return w.padTo(4).bytes();
}

interface FileSpec {
  le?: boolean;
  /** pages per cpu */
  cpus: Uint8Array[][];
  clock?: string;
  options?: { id: number; data: Uint8Array }[];
  cmdlines?: string;
  version?: string;
  /** more event systems: name and format texts */
  systems?: { name: string; formats: string[] }[];
}

/** A complete v6 trace.dat. */
function buildV6(spec: FileSpec): Uint8Array {
  const le = spec.le ?? true;
  const head = (offsets: number[]): W => {
    const w = new W(le);
    w.raw([0x17, 0x08, 0x44]).str('tracing').cstr(spec.version ?? '6').u8(le ? 0 : 1).u8(8).u32(4096);
    w.cstr('header_page').u64(HEADER_PAGE.length).str(HEADER_PAGE);
    w.cstr('header_event').u64(HEADER_EVENT.length).str(HEADER_EVENT);
    w.u32(1).u64(PRINT.length).str(PRINT); // ftrace formats
    w.u32(1 + (spec.systems?.length ?? 0)).cstr('kvm').u32(2).u64(KVM_EXIT.length).str(KVM_EXIT).u64(KVM_ENTRY.length).str(KVM_ENTRY);
    for (const sys of spec.systems ?? []) {
      w.cstr(sys.name).u32(sys.formats.length);
      for (const f of sys.formats) w.u64(f.length).str(f);
    }
    w.u32(5).str('kall\n'); // kallsyms
    w.u32(0); // printk
    const cmd = spec.cmdlines ?? '100 CPU 0/KVM\n101 CPU 1/KVM\n';
    w.u64(cmd.length).str(cmd);
    w.u32(spec.cpus.length);
    w.str('options  ').u8(0);
    const clock = `[${spec.clock ?? 'local'}] global counter x86-tsc\0`;
    w.u16(4).u32(clock.length).str(clock);
    for (const o of spec.options ?? []) w.u16(o.id).u32(o.data.length).raw(o.data);
    w.u16(0);
    w.str('flyrecord').u8(0);
    for (let i = 0; i < spec.cpus.length; i++) w.u64(offsets[i] ?? 0).u64(spec.cpus[i]!.length * 4096);
    const c = `[${spec.clock ?? 'local'}]`;
    w.u64(c.length).str(c);
    return w;
  };
  const probe = head([]).length;
  const start = Math.ceil(probe / 4096) * 4096;
  const offsets: number[] = [];
  let at = start;
  for (const pages of spec.cpus) {
    offsets.push(at);
    at += pages.length * 4096;
  }
  const w = head(offsets).padTo(4096);
  for (const pages of spec.cpus) for (const p of pages) w.raw(p);
  return w.bytes();
}

const tmp = mkdtempSync(join(tmpdir(), 'kvmtax-crafted-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let nfile = 0;

/**
 * The file read into a Core through the core's page decoder (core-path.ts) and through PageDecoder
 * (KVMTAX_TRACEDAT_PATH=ts): the same error (message and offset) or none, and the same tables.
 */
let coreTaken = 0;
let coreTwins = 0;
afterAll(() => { if (coreTwins > 300) expect(coreTaken).toBeGreaterThan(100); });
function coreTwin(p: string, opts?: TraceDatOptions): void {
  const readOn = (path: 'core' | 'ts'): unknown => {
    if (path === 'ts') process.env.KVMTAX_TRACEDAT_PATH = 'ts';
    const before = coreTdStats.files;
    const core = new Core({ topN: 10 });
    let error: string | undefined;
    let info: TraceDatInfo | undefined;
    try {
      info = readTraceDat(p, core.sinkFor(core.nextFileIndex()), opts);
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      error = `${e.message} @${e.offset}`;
    } finally {
      delete process.env.KVMTAX_TRACEDAT_PATH;
    }
    const took = coreTdStats.files > before;
    const end = core.endFile();
    return { took, error, info, end, tables: JSON.stringify(core.tables(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint32Array ? [...v] : v)) };
  };
  const c = readOn('core') as { took: boolean; error?: string };
  const t = readOn('ts') as { took: boolean };
  expect(t.took).toBe(false);
  if (c.error === undefined) expect(c.took).toBe(true);
  coreTaken += c.took ? 1 : 0;
  coreTwins++;
  expect({ ...c, took: undefined }).toEqual({ ...t, took: undefined });
}

function run(bytes: Uint8Array, opts?: TraceDatOptions): { sink: CollectSink; info: TraceDatInfo } {
  const p = join(tmp, `t${nfile++}.dat`);
  writeFileSync(p, bytes);
  coreTwin(p, opts);
  const sink = new CollectSink();
  const info = readTraceDat(p, sink, opts);
  return { sink, info };
}

function fails(bytes: Uint8Array): FormatError {
  try {
    run(bytes);
  } catch (e) {
    if (e instanceof FormatError) return e;
    throw e;
  }
  throw new Error('expected a FormatError');
}

const data = (_le: boolean, delta: number, payload: Uint8Array): Ev => ({ t: 'data', delta, payload });

describe('ring-buffer page decoding (crafted v6 files)', () => {
  for (const le of [true, false]) {
    const E = le ? 'little endian' : 'big endian';

    it(`time extend and absolute time stamps (${E})`, () => {
      const p = page(le, 1_000_000n, [
        data(le, 5, entryRec(le, 100, 0x1000n, 0)), // 1_000_005
        { t: 'extend', delta: (3n << 27n) | 17n }, // + 402653201
        data(le, 2, exitRec(le, 100, 12, 0x1003n, 0)), // 1_000_005 + 402653201 + 2
        { t: 'abs', ts: 0x123456789abn }, // absolute
        data(le, 7, entryRec(le, 100, 0x1003n, 0)), // 0x123456789ab + 7
        data(le, 0, exitRec(le, 100, 30, 0x2000n, 0)), // same time
      ]);
      const { sink, info } = run(buildV6({ le, cpus: [[p]] }));
      expect(info).toMatchObject({ version: 6, cpus: 1, clock: 'local', events: 4, lostEvents: 0, buffer: '', buffers: [''] });
      expect(sink.files[0]!.clock).toBe(CLOCK_NS);
      expect(sink.events.map((e) => e.ts)).toEqual([
        1_000_005n,
        1_000_005n + 402_653_201n + 2n,
        0x123456789abn + 7n,
        0x123456789abn + 7n,
      ]);
      expect(sink.events.map((e) => e.kind)).toEqual([EV_ENTRY, EV_EXIT, EV_ENTRY, EV_EXIT]);
      expect(sink.events.map((e) => e.b)).toEqual([0x1000n, 0x1003n, 0x1003n, 0x2000n]);
      expect(sink.events.map((e) => e.where)).toEqual([1, 2, 3, 4]);
      expect(sink.reasonOf(sink.events[1]!)).toEqual({ isa: 1, code: 12 });
      expect(sink.threads).toEqual([{ tid: 100, tgid: -1, comm: 'CPU 0/KVM' }, { tid: 101, tgid: -1, comm: 'CPU 1/KVM' }]);
    });

    it(`padding, long records and the end-of-page null event (${E})`, () => {
      const long = printRec(le, 7, 'x'.repeat(200)); // > 112 bytes: type_len 0 with a length word
      const p = page(le, 10_000n, [
        data(le, 1, entryRec(le, 100, 1n, 0)), // 10_001
        { t: 'pad', delta: 4, len: 40 }, // a discarded event: its delta still counts (as in libtraceevent)
        data(le, 3, long), // 10_008
        data(le, 2, exitRec(le, 100, 1, 2n, 0)), // 10_010
        { t: 'raw', word: header(le, 29, 0) }, // null padding: nothing more on this page
        data(le, 1, exitRec(le, 100, 1, 3n, 0)), // never read
      ]);
      const { sink, info } = run(buildV6({ le, cpus: [[p]] }));
      expect(info.events).toBe(3);
      expect(sink.events.map((e) => [e.ts, sink.nameOf(e), e.tid])).toEqual([
        [10_001n, 'kvm_entry', 100],
        [10_008n, 'print', 7],
        [10_010n, 'kvm_exit', 100],
      ]);
      expect(sink.events[1]!.kind).toBe(EV_OTHER);
    });

    it(`merges CPUs in time order, ties to the lower CPU, across pages (${E})`, () => {
      const cpu0 = [
        page(le, 100n, [data(le, 0, entryRec(le, 100, 1n, 0)), data(le, 50, exitRec(le, 100, 1, 1n, 0))]), // 100, 150
        page(le, 300n, [data(le, 0, entryRec(le, 100, 2n, 0))]), // 300
      ];
      const cpu1 = [
        page(le, 150n, [data(le, 0, entryRec(le, 101, 3n, 1)), data(le, 100, exitRec(le, 101, 1, 3n, 1))]), // 150, 250
        page(le, 300n, [data(le, 0, exitRec(le, 101, 12, 4n, 1))]), // 300
      ];
      const { sink, info } = run(buildV6({ le, cpus: [cpu0, cpu1] }));
      expect(info.cpus).toBe(2);
      expect(sink.events.map((e) => `${e.ts}/${e.cpu}/${e.vcpu}`)).toEqual([
        '100/0/0', '150/0/0', '150/1/1', '250/1/1', '300/0/0', '300/1/1',
      ]);
    });

    it(`lost events are reported before the first record of their page (${E})`, () => {
      const p1 = page(le, 100n, [data(le, 0, entryRec(le, 100, 1n, 0))]);
      const p2 = page(le, 200n, [data(le, 5, exitRec(le, 100, 1, 1n, 0))], { lost: 42 });
      const p3 = page(le, 300n, [data(le, 5, entryRec(le, 100, 1n, 0))], { missing: true });
      const { sink, info } = run(buildV6({ le, cpus: [[p1, p2, p3]] }));
      expect(sink.events.map((e) => [e.kind, e.ts, e.a, e.cpu])).toEqual([
        [EV_ENTRY, 100n, 0n, 0],
        [EV_LOST, 205n, 42n, 0],
        [EV_EXIT, 205n, sink.events[2]!.a, 0],
        [EV_LOST, 305n, 0n, 0],
        [EV_ENTRY, 305n, 0n, 0],
      ]);
      expect(info.lostEvents).toBe(42);
      expect(info.events).toBe(3);
    });
  }

  it('reads page by page (small window) with the same result', () => {
    const pages = [];
    for (let i = 0; i < 40; i++) {
      pages.push(page(true, BigInt(i * 1000), [data(true, 1, entryRec(true, 100, BigInt(i), 0)), data(true, 1, exitRec(true, 100, 1, BigInt(i), 0))]));
    }
    const f = buildV6({ cpus: [pages, pages.slice(0, 10)] });
    const a = run(f);
    const b = run(f, { wholeFileLimit: 0 });
    expect(a.info.events).toBe(100);
    expect(b.sink.events).toEqual(a.sink.events);
  });

  it('applies TSC2NSEC to x86-tsc timestamps and the OFFSET option', () => {
    const p = page(true, 3_000_000_000n, [data(true, 0, entryRec(true, 100, 1n, 0))]);
    const tsc = new W(true).u32(1 << 22).u32(23).u64(0).bytes(); // ns = tsc * 2^22 >> 23 = tsc / 2
    const t1 = run(buildV6({ cpus: [[p]], clock: 'x86-tsc', options: [{ id: 14, data: tsc }] }));
    expect(t1.info.clock).toBe('tsc2nsec');
    expect(t1.sink.files[0]!.clock).toBe(CLOCK_NS);
    expect(t1.sink.events[0]!.ts).toBe(1_500_000_000n);

    const tscOff = new W(true).u32(1 << 22).u32(23).u64(1_000_000_000).bytes(); // the offset is subtracted first
    expect(run(buildV6({ cpus: [[p]], clock: 'x86-tsc', options: [{ id: 14, data: tscOff }] })).sink.events[0]!.ts).toBe(1_000_000_000n);

    const t2 = run(buildV6({ cpus: [[p]], clock: 'x86-tsc' }));
    expect(t2.info.clock).toBe('x86-tsc');
    expect(t2.sink.files[0]!.clock).toBe(CLOCK_RAW);
    expect(t2.sink.events[0]!.ts).toBe(3_000_000_000n);

    const off = new TextEncoder().encode('-1000000000\0');
    const t3 = run(buildV6({ cpus: [[p]], options: [{ id: 7, data: off }] }));
    expect(t3.sink.events[0]!.ts).toBe(2_000_000_000n);
  });

  it('uses saved tgids for tgidOf, and decodes VMX FAILED_VMENTRY', () => {
    const p = page(true, 100n, [data(true, 0, exitRec(true, 100, 0x80000021, 0x10n, 3))]);
    const tg = new TextEncoder().encode('100 99\n101 99\n\0');
    const { sink } = run(buildV6({ cpus: [[p]], options: [{ id: 32, data: tg }] }));
    const e = sink.events[0]!;
    expect(e.tgid).toBe(99);
    expect(e.vcpu).toBe(3);
    expect(sink.reasonOf(e)).toEqual({ isa: 1, code: 0x21 });
    expect(e.c & EXITF_FAILED_VMENTRY).toBe(EXITF_FAILED_VMENTRY);
    expect(sink.threads[0]).toEqual({ tid: 100, tgid: 99, comm: 'CPU 0/KVM' });
  });

  it('says the VM came from saved tgids', () => {
    const p = page(true, 100n, [data(true, 0, exitRec(true, 100, 1, 0x10n, 0))]);
    const tg = new TextEncoder().encode('100 99\n101 99\n\0');
    expect(run(buildV6({ cpus: [[p]], options: [{ id: 32, data: tg }] })).info.processes).toBe('saved tgids (2 threads)');
    // nothing in the file says: no source, and the cmdline comm "CPU 0/KVM" alone gives no process
    const { info, sink } = run(buildV6({ cpus: [[p]] }));
    expect(info.processes).toBeUndefined();
    expect(sink.events[0]!.tgid).toBe(-1);
  });

  it('learns processes from task_newtask (clone flags) and sched_process_exec, never from comm alone', () => {
    const le = true;
    const newtask = (creator: number, pid: number, comm: string, flags: bigint): Uint8Array => {
      const c = new Uint8Array(16);
      c.set(new TextEncoder().encode(comm));
      return new W(le).u16(300).u8(0).u8(0).u32(creator).u32(pid).raw(c).u32(0).u64(flags).u16(0).u16(0).u32(0).bytes();
    };
    const exec = (pid: number, file: string): Uint8Array => {
      const f = new TextEncoder().encode(file + '\0');
      return new W(le).u16(301).u8(0).u8(0).u32(pid).u32((f.length << 16) | 20).u32(pid).u32(pid).raw(f).padTo(4).bytes();
    };
    const CLONE_THREAD_VM = 0x3d0f00n; // what glibc's pthread_create passes (CLONE_VM|CLONE_FS|...|CLONE_THREAD|...)
    const p = page(le, 100n, [
      data(le, 0, exec(500, '/usr/bin/qemu-system-x86_64')), // 500 leads its process, comm = basename (15 bytes)
      data(le, 10, newtask(500, 501, 'CPU 0/KVM', CLONE_THREAD_VM)), // a thread of 500's process
      data(le, 10, newtask(77, 600, 'vmm', 0x11n)), // fork (SIGCHLD only): a process of its own
      data(le, 10, newtask(900, 901, 'CPU 1/KVM', CLONE_THREAD_VM)), // a thread of 900, whose process nothing says
      data(le, 10, exitRec(le, 501, 1, 0x10n, 0)),
      data(le, 10, exitRec(le, 901, 1, 0x10n, 1)),
      data(le, 10, exitRec(le, 100, 1, 0x10n, 0)),
    ]);
    const TASK = `name: task_newtask
ID: 300
format:
${COMMON}
\tfield:pid_t pid;\toffset:8;\tsize:4;\tsigned:1;
\tfield:char comm[16];\toffset:12;\tsize:16;\tsigned:0;
\tfield:unsigned long clone_flags;\toffset:32;\tsize:8;\tsigned:0;
\tfield:short oom_score_adj;\toffset:40;\tsize:2;\tsigned:1;

print fmt: "pid=%d comm=%s clone_flags=%lx oom_score_adj=%hd", REC->pid, REC->comm, REC->clone_flags, REC->oom_score_adj
`;
    const EXEC = `name: sched_process_exec
ID: 301
format:
${COMMON}
\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:1;
\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;
\tfield:pid_t old_pid;\toffset:16;\tsize:4;\tsigned:1;

print fmt: "filename=%s pid=%d old_pid=%d", __get_str(filename), REC->pid, REC->old_pid
`;
    const { sink, info } = run(buildV6({ cpus: [[p]], systems: [{ name: 'task', formats: [TASK] }, { name: 'sched', formats: [EXEC] }] }));
    const exits = sink.events.filter((e) => e.kind === EV_EXIT);
    expect(exits.map((e) => [e.tid, e.tgid])).toEqual([[501, 500], [901, -1], [100, -1]]);
    const named = sink.threads.filter((t) => t.tgid >= 0);
    expect(named).toEqual([
      { tid: 500, tgid: 500, comm: 'qemu-system-x86' },
      { tid: 501, tgid: 500, comm: 'CPU 0/KVM' },
      { tid: 600, tgid: 600, comm: 'vmm' },
    ]);
    expect(info.processes).toBe('sched events (sched_process_exec, task_newtask: 3 threads)');
  });
});

describe('malformed crafted files', () => {
  const good = (): Uint8Array => buildV6({ cpus: [[page(true, 100n, [data(true, 0, entryRec(true, 100, 1n, 0))])]] });

  it('unknown version', () => {
    const e = fails(buildV6({ cpus: [[]], version: '9' }));
    expect(e.message).toBe('unknown trace.dat version 9 at offset 10');
    expect(e.offset).toBe(10);
  });

  it('a commit larger than the page', () => {
    const f = buildV6({ cpus: [[page(true, 100n, [data(true, 0, entryRec(true, 100, 1n, 0))], { commit: 5000 })]] });
    const e = fails(f);
    expect(e.message).toMatch(/^bad page commit 5000 at offset \d+$/);
    expect(e.offset % 4096).toBe(0);
  });

  it('an event length past the commit', () => {
    const f = buildV6({ cpus: [[page(true, 100n, [{ t: 'raw', word: header(true, 0, 1), extra: [0xff, 0xff, 0, 0] }])]] });
    expect(fails(f).message).toMatch(/bad event length 65535 in page at offset \d+/);
  });

  it('a file cut inside the cpu data: "truncated page at offset N"', () => {
    const f = good();
    const e = fails(f.subarray(0, f.length - 4000));
    expect(e.message).toBe(`truncated page at offset ${f.length - 4096}`);
    expect(e.offset).toBe(f.length - 4096);
    const f2 = buildV6({ cpus: [[page(true, 1n, []), page(true, 2n, [])]] });
    expect(fails(f2.subarray(0, f2.length - 4096)).message).toBe(`truncated page at offset ${f2.length - 4096}`);
  });

  it('cuts anywhere in the metadata throw FormatError', () => {
    const f = good();
    for (let cut = 0; cut < f.length - 4096; cut += 97) {
      const e = fails(f.subarray(0, cut));
      expect(e.offset).toBeGreaterThanOrEqual(0);
      expect(e.offset).toBeLessThanOrEqual(cut);
    }
  });

  it('random damage to pages gives FormatError or a result, never another exception', () => {
    const pages = [];
    for (let i = 0; i < 4; i++) {
      pages.push(page(true, BigInt(i * 1000), [
        data(true, 1, entryRec(true, 100, 1n, 0)), { t: 'extend', delta: 1n << 30n }, data(true, 1, exitRec(true, 100, 1, 1n, 0)),
        { t: 'pad', delta: 3, len: 12 }, data(true, 1, printRec(true, 5, 'y'.repeat(150))), { t: 'abs', ts: 99999n },
      ]));
    }
    const f = buildV6({ cpus: [pages] });
    const dataStart = f.length - 4 * 4096;
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    let ok = 0;
    let bad = 0;
    for (let i = 0; i < 300; i++) {
      const b = Uint8Array.from(f);
      for (let k = 0; k < 3; k++) b[dataStart + (rnd() % (4 * 4096)) % 400 + (rnd() % 4) * 4096] = rnd() & 0xff;
      try {
        run(b);
        ok++;
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        bad++;
      }
    }
    expect(ok + bad).toBe(300);
  });
});

describe('byte order through the registry and the pipeline', () => {
  it('a big-endian trace.dat is detected and gives the report of its little-endian twin', async () => {
    const { analyze } = await import('../../../src/pipeline/analyze.js');
    const { detectFormat } = await import('../../../src/formats/registry.js');
    const reports = [];
    for (const le of [true, false]) {
      const p = page(le, 1_000_000n, [
        data(le, 5, exitRec(le, 100, 12, 0x1000n, 0)),
        data(le, 40, entryRec(le, 100, 0x1000n, 0)),
        data(le, 300, exitRec(le, 100, 30, 0x1003n, 0)),
        data(le, 25, entryRec(le, 100, 0x1003n, 0)),
      ]);
      const bytes = buildV6({ le, cpus: [[p]] });
      expect(detectFormat(bytes.subarray(0, 65536), 'x').name).toBe('trace.dat');
      const file = join(tmp, `byte-order-${le ? 'le' : 'be'}.dat`);
      writeFileSync(file, bytes);
      const r = await analyze([file]);
      reports.push({ totals: r.totals, reasons: r.reasons, events: r.inputs[0]!.events });
    }
    expect(reports[0]!.events).toBe(4);
    expect(reports[0]!.totals.exits_handled).toBe(2);
    expect(reports[1]).toEqual(reports[0]);
  });
});

describe('64 KiB sub-buffers with a 4-byte commit word (arm64 64K pages, 32-bit longs), fed as live mode feeds pages', () => {
  const HP32 = HEADER_PAGE.replace('size:8;\tsigned:1;', 'size:4;\tsigned:1;').replace('offset:16;\tsize:4080', 'offset:12;\tsize:65524');
  const PS = 65536;
  /** data records (type_len 1..28) with a u32 commit at 8 and data at 12, in a 64 KiB page */
  const page64 = (ts: bigint, evs: { delta: number; payload: Uint8Array }[], opts: { lost?: number; cut?: number } = {}): Uint8Array => {
    const d = new W(true);
    for (const e of evs) d.u32(header(true, e.payload.length / 4, e.delta)).raw(e.payload);
    const data = d.bytes();
    const commit = data.length;
    let flags = commit;
    if (opts.lost !== undefined) flags = (flags | 0xc0000000) >>> 0;
    const out = new Uint8Array(PS);
    const v = new DataView(out.buffer);
    v.setBigUint64(0, ts, true);
    v.setUint32(8, flags, true);
    out.set(data, 12);
    if (opts.lost !== undefined) v.setUint32(12 + commit, opts.lost, true);
    return opts.cut ? out.subarray(0, opts.cut) : out;
  };
  const pairs = (n: number, pid: number, vcpu: number): { delta: number; payload: Uint8Array }[] => Array.from({ length: n }, (_, i) => [
    { delta: 1000, payload: exitRec(true, pid, 30 + (i % 3), 0x1000n + BigInt(i), vcpu) },
    { delta: 400 + i, payload: entryRec(true, pid, 0x1000n + BigInt(i), vcpu) },
  ]).flat();
  const cpus = new Map<number, Uint8Array[]>([
    [0, [page64(1_000_000n, pairs(500, 100, 0)), page64(9_000_000n, pairs(400, 100, 0))]],
    [1, [page64(1_500_000n, pairs(100, 101, 1), { lost: 7 }), page64(2_500_000n, pairs(10, 101, 1), { cut: 2000 })]],
  ]);
  const meta = {
    pageSize: PS, headerPage: HP32, headerEvent: HEADER_EVENT, formats: [{ system: 'kvm', text: KVM_EXIT }, { system: 'kvm', text: KVM_ENTRY }],
    clock: 'local', cmdlines: () => '100 CPU 0/KVM\n101 CPU 1/KVM\n', tgids: () => '100 90\n101 90\n',
  };
  const readLive = async (ts: boolean): Promise<{ events: number; lost: number; tables: string; took: boolean }> => {
    const { livePageDecoder } = await import('../../../src/record/page-decoder.js');
    if (ts) process.env.KVMTAX_TRACEDAT_PATH = 'ts';
    try {
      const before = coreTdStats.files;
      const core = new Core({ topN: 10 });
      const dec = livePageDecoder(core.sinkFor(core.nextFileIndex()), meta);
      // one page per CPU per poll, the cut page last
      for (let i = 0; i < 2; i++) dec.decode(new Map([...cpus].map(([c, p]) => [c, [p[i]!.slice()]])), i === 1 ? new Set([0, 1]) : new Set());
      dec.finish();
      const end = core.endFile();
      return { events: end.events, lost: end.lostEvents, took: coreTdStats.files > before, tables: JSON.stringify(core.tables(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint32Array ? [...v] : v)) };
    } finally {
      delete process.env.KVMTAX_TRACEDAT_PATH;
    }
  };
  it('the core and PageDecoder read every pair, the stored lost count and the short last page alike', async () => {
    const core = await readLive(false);
    const ts = await readLive(true);
    expect(core.took).toBe(true);
    expect(ts.took).toBe(false);
    // 500 + 400 + 100 pairs, the 10 of the short last page (2000 bytes of 65536), and the lost-events marker
    expect(core.events).toBe(2 * 1010 + 1);
    expect(core.lost).toBe(7);
    expect(ts.lost).toBe(7);
    expect(core.tables).toBe(ts.tables);
    const t = JSON.parse(core.tables) as { bins: { handled: number }[] };
    expect(t.bins.reduce((s, b) => s + b.handled, 0)).toBe(1010);
  });
});
