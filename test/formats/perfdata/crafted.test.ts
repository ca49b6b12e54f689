/**
 * perf.data reader on small synthetic files (test/support/perf-craft.ts): every sample_type field before RAW,
 * both byte orders, file and pipe mode, perf's ordering by rounds, lost records, unknown and payload-carrying
 * records, and malformed or truncated input (FormatError with the byte offset, never another exception).
 */
import { describe, it, expect, afterAll } from 'vitest';
import { readPerfData, isPerfData, type PerfDataOptions } from '../../../src/formats/perfdata/reader.js';
import { FormatError } from '../../../src/formats/bytes.js';
import { CollectSink } from '../../support/collect-sink.js';
import { tmpFile, removePerfTmpDir } from '../../support/perf-files.js';
import {
  PerfCraft, W, rawKvmExit, rawKvmEntry, rawSchedSwitch, ID_KVM_EXIT, ID_KVM_ENTRY, ID_SCHED_SWITCH,
  S_IP, S_TID, S_TIME, S_ADDR, S_READ, S_CALLCHAIN, S_ID, S_CPU, S_PERIOD, S_STREAM_ID, S_RAW, S_IDENTIFIER,
  RF_GROUP, RF_ID, RF_LOST, RF_TOTAL_TIME_ENABLED, RF_TOTAL_TIME_RUNNING,
} from '../../support/perf-craft.js';
import { EV_EXIT, EV_ENTRY, EV_LOST, EV_OTHER, EV_SCHED_SWITCH, CLOCK_NS, SKIP_UNRECOGNIZED, SKIP_TRUNCATED } from '../../../assembly/constants.js';


afterAll(removePerfTmpDir);
const ALL_BEFORE_RAW = S_IDENTIFIER | S_IP | S_TID | S_TIME | S_ADDR | S_ID | S_STREAM_ID | S_CPU | S_PERIOD | S_READ
  | S_CALLCHAIN | S_RAW;
const PERF_RECORD_STYLE = S_IP | S_TID | S_TIME | S_CPU | S_PERIOD | S_RAW | S_IDENTIFIER;

async function read(bytes: Uint8Array, opts: PerfDataOptions = {}): Promise<{ sink: CollectSink; info: Awaited<ReturnType<typeof readPerfData>> }> {
  const sink = new CollectSink();
  const info = await readPerfData(tmpFile('crafted.data', bytes), sink, opts);
  return { sink, info };
}

/** kvm_exit + kvm_entry attrs with the given sample_type / read_format */
function kvmCraft(le: boolean, sampleType: number, readFormat = 0): PerfCraft {
  return new PerfCraft(le)
    .attr({ config: ID_KVM_EXIT, sampleType, readFormat, ids: [11, 12], name: 'kvm:kvm_exit' })
    .attr({ config: ID_KVM_ENTRY, sampleType, readFormat, ids: [13, 14], name: 'kvm:kvm_entry' });
}

function exitsAndEntries(sink: CollectSink): string[] {
  return sink.events.map(e => {
    const r = e.kind === EV_EXIT ? sink.reasonOf(e) : undefined;
    return `${sink.nameOf(e)} ts=${e.ts} tid=${e.tid} tgid=${e.tgid} cpu=${e.cpu} vcpu=${e.vcpu}`
      + (r ? ` isa=${r.isa} code=${r.code}` : '') + ` rip=${e.b.toString(16)}`;
  });
}

describe('perf.data sample layouts', () => {
  for (const le of [true, false]) {
    for (const mode of ['file', 'pipe'] as const) {
      it(`every sample_type field before RAW is skipped correctly (${le ? 'little' : 'big'} endian, ${mode} mode)`, async () => {
        for (const rf of [0, RF_ID | RF_LOST, RF_GROUP | RF_ID | RF_TOTAL_TIME_ENABLED | RF_TOTAL_TIME_RUNNING,
          RF_GROUP | RF_ID | RF_LOST | RF_TOTAL_TIME_ENABLED]) {
          const c = kvmCraft(le, ALL_BEFORE_RAW, rf);
          c.comm(100, 101, 'vcpu-thread', { time: 1n });
          c.sample(0, {
            id: 12, pid: 100, tid: 101, time: 5000n, cpu: 3, addr: 0xdeadn, streamId: 77n, period: 9n,
            read: [{ value: 5n, id: 12 }, { value: 6n, id: 14 }, { value: 7n, id: 11 }],
            callchain: [0xffffffff81000001n, 0xffffffff81000002n, 0x400000n],
            raw: rawKvmExit(le, 101, 0x7c, 0xfff0n, 1),
          });
          c.sample(1, { id: 13, pid: 100, tid: 101, time: 6000n, cpu: 3, callchain: [], raw: rawKvmEntry(le, 101, 0xfff2n, 1) });
          c.round();
          const { sink, info } = await read(mode === 'file' ? c.buildFile() : c.buildPipe());
          expect(info.pipeMode).toBe(mode === 'pipe');
          expect(exitsAndEntries(sink)).toEqual([
            'kvm_exit ts=5000 tid=101 tgid=100 cpu=3 vcpu=1 isa=2 code=124 rip=fff0',
            'kvm_entry ts=6000 tid=101 tgid=100 cpu=3 vcpu=1 rip=fff2',
          ]);
          expect(info.events).toEqual({ kvm_exit: 1, kvm_entry: 1 });
          expect(info).toMatchObject({ samples: 2, lost: 0, hostname: 'crafthost', osRelease: '6.1.0-test', nrCpus: 4,
            cmdline: '/usr/bin/perf record -e kvm:kvm_exit -e kvm:kvm_entry' });
          expect(sink.threads).toEqual([{ tid: 101, tgid: 100, comm: 'vcpu-thread' }]);
          expect(sink.files).toEqual([{ name: expect.stringContaining('crafted.data'), clock: CLOCK_NS }]);
          expect(sink.skips).toEqual([]);
        }
      });
    }
  }

  it('finds the event of a sample by ID when there is no IDENTIFIER', async () => {
    const st = S_IP | S_TID | S_TIME | S_ADDR | S_ID | S_CPU | S_RAW;
    const c = kvmCraft(true, st);
    c.sample(1, { id: 14, pid: 7, tid: 8, time: 10n, cpu: 0, raw: rawKvmEntry(true, 8, 0x10n, 0) });
    c.sample(0, { id: 11, pid: 7, tid: 8, time: 20n, cpu: 0, raw: rawKvmExit(true, 8, 0x78, 0x12n, 0) });
    const { sink, info } = await read(c.buildFile());
    expect(exitsAndEntries(sink)).toEqual([
      'kvm_entry ts=10 tid=8 tgid=7 cpu=0 vcpu=0 rip=10',
      'kvm_exit ts=20 tid=8 tgid=7 cpu=0 vcpu=0 isa=2 code=120 rip=12',
    ]);
    expect(info.events).toEqual({ kvm_entry: 1, kvm_exit: 1 });
  });

  it('a sample with an id no attr has is counted as skipped', async () => {
    const c = kvmCraft(true, PERF_RECORD_STYLE);
    c.sample(0, { id: 999, pid: 1, tid: 1, time: 10n, raw: rawKvmExit(true, 1, 0x78, 0n, 0) });
    c.sample(0, { id: 11, pid: 1, tid: 1, time: 11n, raw: rawKvmExit(true, 1, 0x78, 0n, 0) });
    const { sink, info } = await read(c.buildFile());
    expect(info.samples).toBe(1);
    expect(sink.skips).toHaveLength(1);
    expect(sink.skips[0]).toMatchObject({ kind: SKIP_UNRECOGNIZED, excerpt: expect.stringContaining('unknown event id 999') });
  });

  it('a single attr without ids needs no id; a non-tracepoint event is pushed as EV_OTHER by its name', async () => {
    const c = new PerfCraft(true).attr({ type: 1, config: 9, sampleType: S_IP | S_TID | S_TIME | S_CPU, ids: [], name: 'dummy:u' });
    c.withTracing = false;
    c.sample(0, { pid: 3, tid: 4, time: 100n, cpu: 1 });
    const { sink, info } = await read(c.buildFile());
    expect(info.events).toEqual({ 'dummy:u': 1 });
    expect(sink.events).toMatchObject([{ kind: EV_OTHER, ts: 100n, tid: 4, tgid: 3, cpu: 1 }]);
    expect(sink.nameOf(sink.events[0]!)).toBe('dummy:u');
  });

  it('tgid of other threads comes from COMM/FORK records; the sample pid wins for its own thread', async () => {
    const c = new PerfCraft(true)
      .attr({ config: ID_SCHED_SWITCH, sampleType: PERF_RECORD_STYLE, ids: [1], name: 'sched:sched_switch' });
    c.comm(500, 500, 'qemu', { time: 0n });
    c.fork(500, 500, 501, 500, 0n, { time: 0n });
    c.comm(500, 501, 'CPU 0/KVM', { time: 0n });
    c.sample(0, { pid: 0, tid: 0, time: 50n, cpu: 2, raw: rawSchedSwitch(true, 0, 'swapper/2', 501, 'CPU 0/KVM') });
    const { sink } = await read(c.buildFile());
    expect(sink.events).toMatchObject([{ kind: EV_SCHED_SWITCH, ts: 50n, tid: 0, tgid: 0, cpu: 2, a: 501n }]);
    expect(sink.threads).toContainEqual({ tid: 501, tgid: 500, comm: 'CPU 0/KVM' });
    expect(sink.threads).toContainEqual({ tid: 500, tgid: 500, comm: 'qemu' });
  });
});

describe('perf.data ordering (ordered-events.c)', () => {
  const tsOf = (sink: CollectSink): bigint[] => sink.events.map(e => e.ts);

  it('flushes at each round what is not later than the newest time of the round before, then the rest at the end', async () => {
    const c = kvmCraft(true, PERF_RECORD_STYLE);
    const s = (t: bigint, tid: number): void => {
      c.sample(0, { pid: 1, tid, time: t, cpu: 0, raw: rawKvmExit(true, tid, 0x78, t, 0) });
    };
    s(10n, 1); s(5n, 2); c.round(); // round 1: limit 0 -> nothing; next limit 10
    s(7n, 3); s(20n, 4); c.round(); // round 2: flush <= 10: 5 7 10; next limit 20
    s(3n, 5); s(15n, 6); s(10n, 7); // late 3 comes after the flushed 10 (perf delivers it out of order)
    const { sink } = await read(c.buildFile());
    expect(tsOf(sink)).toEqual([5n, 7n, 10n, 3n, 10n, 15n, 20n]);
    expect(sink.events.map(e => e.tid)).toEqual([2, 3, 1, 5, 7, 6, 4]);
  });

  it('keeps file order for equal timestamps, and delivers records without a time at once', async () => {
    const c = kvmCraft(true, PERF_RECORD_STYLE);
    for (let i = 0; i < 5; i++) c.sample(i % 2, { pid: 1, tid: 10 + i, time: 100n, cpu: i, raw: rawKvmEntry(true, 10 + i, 0n, 0) });
    c.sample(0, { pid: 1, tid: 99, time: 0n, cpu: 0, raw: rawKvmEntry(true, 99, 0n, 0) });
    const { sink } = await read(c.buildFile());
    expect(sink.events.map(e => e.tid)).toEqual([99, 10, 11, 12, 13, 14]);
  });

  it('bounds the queue of a file without rounds (half flush) and still delivers everything', async () => {
    const c = kvmCraft(true, PERF_RECORD_STYLE);
    for (let i = 0; i < 200; i++) c.sample(0, { pid: 1, tid: 1, time: BigInt(1000 + i * 10 + (i % 3)), cpu: 0, raw: rawKvmEntry(true, 1, 0n, 0) });
    const all = await read(c.buildFile());
    const bounded = await read(c.buildFile(), { maxQueued: 8 });
    expect(bounded.sink.events.length).toBe(200);
    expect(tsOf(bounded.sink)).toEqual(tsOf(all.sink));
  });
});

describe('perf.data records', () => {
  it('LOST and LOST_SAMPLES push EV_LOST with the count, in time order', async () => {
    const c = kvmCraft(true, PERF_RECORD_STYLE);
    c.sample(0, { pid: 1, tid: 2, time: 10n, cpu: 1, raw: rawKvmExit(true, 2, 0x78, 0n, 0) });
    c.lost(11, 42, { time: 15n, cpu: 1, pid: 1, tid: 2 });
    c.lostSamples(7, { time: 12n, cpu: 0 });
    c.sample(1, { pid: 1, tid: 2, time: 20n, cpu: 1, raw: rawKvmEntry(true, 2, 0n, 0) });
    const { sink, info } = await read(c.buildFile());
    expect(info.lost).toBe(49);
    expect(sink.events.map(e => [e.kind, e.ts, e.cpu, e.a])).toEqual([
      [EV_EXIT, 10n, 1, expect.any(BigInt)], [EV_LOST, 12n, 0, 7n], [EV_LOST, 15n, 1, 42n], [EV_ENTRY, 20n, 1, 0n],
    ]);
    expect(sink.nameOf(sink.events[1]!)).toBe('lost');
  });

  it('skips unknown records by their size and AUXTRACE records with their payload', async () => {
    const c = kvmCraft(true, PERF_RECORD_STYLE);
    c.sample(0, { pid: 1, tid: 2, time: 10n, raw: rawKvmExit(true, 2, 0x78, 0n, 0) });
    c.record(200, new Uint8Array(20).fill(0xff));
    c.record(1, new Uint8Array(64).fill(0x09)); // MMAP
    // AUXTRACE: u64 size, offset, reference, u32 idx, tid, cpu, reserved; then `size` bytes of AUX data
    const aux = new W(true).u64(24).u64(0).u64(0).u32(0).u32(0).u32(0).u32(0).out();
    c.record(71, aux);
    c.records.push(new Uint8Array(24).fill(0x09)); // the AUX data: garbage if parsed as records
    c.sample(1, { pid: 1, tid: 2, time: 20n, raw: rawKvmEntry(true, 2, 0n, 0) });
    const { sink, info } = await read(c.buildFile());
    expect(info.samples).toBe(2);
    expect(sink.events.map(e => e.kind)).toEqual([EV_EXIT, EV_ENTRY]);
  });

  it('names events from the tracing formats when EVENT_DESC has no name', async () => {
    const c = kvmCraft(true, PERF_RECORD_STYLE);
    for (const a of c.attrs) a.name = '';
    c.sample(0, { pid: 1, tid: 2, time: 10n, raw: rawKvmExit(true, 2, 0x78, 0n, 0) });
    expect((await read(c.buildFile())).info.events).toEqual({ kvm_exit: 1 });
    expect((await read(c.buildPipe())).info.events).toEqual({ kvm_exit: 1 });
  });

  it('names threads from the saved cmdlines of the tracing data when no COMM named them', async () => {
    const c = kvmCraft(true, PERF_RECORD_STYLE);
    c.savedCmdlines = '77 worker\n78 other\n';
    c.comm(78, 78, 'renamed', { time: 0n });
    c.sample(0, { pid: 77, tid: 77, time: 10n, raw: rawKvmExit(true, 77, 0x78, 0n, 0) });
    const { sink } = await read(c.buildFile());
    expect(sink.threads).toContainEqual({ tid: 77, tgid: 77, comm: 'worker' });
    expect(sink.threads.filter(t => t.tid === 78)).toEqual([{ tid: 78, tgid: 78, comm: 'renamed' }]);
  });
});

describe('perf.data errors', () => {
  const good = (): PerfCraft => {
    const c = kvmCraft(true, PERF_RECORD_STYLE);
    c.comm(1, 2, 'vmm', { time: 0n });
    c.sample(0, { pid: 1, tid: 2, time: 10n, raw: rawKvmExit(true, 2, 0x78, 0n, 0) });
    c.round();
    c.sample(1, { pid: 1, tid: 2, time: 20n, raw: rawKvmEntry(true, 2, 0n, 0) });
    c.lost(11, 3, { time: 25n });
    c.round(); // perf ends each pass over its buffers with a round
    return c;
  };

  async function expectFormatError(bytes: Uint8Array, msg: RegExp, offset?: number): Promise<FormatError> {
    let err: unknown;
    try {
      await read(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FormatError);
    const fe = err as FormatError;
    expect(fe.message).toMatch(msg);
    if (offset !== undefined) expect(fe.offset).toBe(offset);
    return fe;
  }

  it('a record of size 0 (or below the 8-byte header) is an error, not an endless loop', async () => {
    for (const size of [0, 4, 7]) {
      const c = good();
      const rec = new W(true).u32(9).u16(0).u16(size).out();
      c.records.splice(1, 0, rec);
      const bytes = c.buildPipe();
      // the offset points at the bad record (after the header, attr, feature and tracing records and a COMM)
      const fe = await expectFormatError(bytes, new RegExp(`bad record size ${size} \\(type 9\\) at offset \\d+`));
      expect(new DataView(bytes.buffer).getUint16(fe.offset + 6, true)).toBe(size);
      await expectFormatError(c.buildFile(), /bad record size/);
    }
  });

  it('a sample whose fields run past its record is an error with its offset', async () => {
    const c = good();
    // a sample of the kvm_exit attr cut after its TIME field
    c.record(9, new W(true).u64(11).u64(0).u32(1).u32(2).u64(30).out());
    const fe = await expectFormatError(c.buildFile(), /perf\.data: sample at offset \d+: CPU runs past the end of its 40-byte record/);
    expect(fe.offset).toBeGreaterThan(104);
  });

  it('a RAW size beyond the record is an error', async () => {
    const c = good();
    c.record(9, new W(true).u64(11).u64(0).u32(1).u32(2).u64(30).u32(0).u32(0).u64(1).u32(1000).u32(0).out());
    await expectFormatError(c.buildFile(), /RAW data runs past the end/);
  });

  it('a compressed record (perf record -z) that is not zstd data is an error, not misread', async () => {
    const c = good();
    c.record(81, new Uint8Array(16));
    await expectFormatError(c.buildFile(), /corrupt zstd data in the compressed record at offset \d+/);
  });

  it('not a perf.data file', async () => {
    await expectFormatError(new TextEncoder().encode('# tracer: nop\n#\n'), /not a perf\.data file/, 0);
    expect(isPerfData(new TextEncoder().encode('# tracer: nop'))).toBe(false);
  });

  for (const mode of ['file', 'pipe'] as const) {
    it(`truncation at every byte offset (${mode} mode): a FormatError with an offset, or the events before the cut`, async () => {
      const full = mode === 'file' ? good().buildFile() : good().buildPipe();
      const complete = await read(full);
      expect(complete.info.samples).toBe(2);
      let errors = 0;
      for (let n = 0; n < full.length; n++) {
        const cut = full.slice(0, n);
        try {
          const r = await read(cut);
          // only a pipe can end before its end without an error, between two records: then fewer events, never
          // wrong ones, and a SKIP_TRUNCATED note unless the cut follows a FINISHED_ROUND
          expect(mode).toBe('pipe');
          expect(r.sink.events).toEqual(complete.sink.events.slice(0, r.sink.events.length));
          if (r.sink.events.length < complete.sink.events.length) {
            const afterRound = n >= 8 && cut[n - 8] === 68 && cut[n - 2] === 8;
            if (!afterRound) expect(r.sink.skips.map(s => s.kind)).toContain(SKIP_TRUNCATED);
          }
        } catch (e) {
          if (!(e instanceof FormatError)) throw new Error(`cut at ${n}: ${String(e)}`);
          expect(e.offset).toBeGreaterThanOrEqual(0);
          expect(e.offset).toBeLessThanOrEqual(n);
          expect(e.message).toMatch(/^perf\.data: /);
          errors++;
        }
      }
      expect(errors).toBeGreaterThan(full.length / 2);
    });
  }

  it('a file-mode header whose sections lie beyond the end of the file says so', async () => {
    const full = good().buildFile();
    const fe = await expectFormatError(full.slice(0, full.length - 10), /beyond the end of the file|truncated/);
    expect(fe.offset).toBeLessThanOrEqual(full.length - 10);
    // cut inside the data section
    await expectFormatError(full.slice(0, 400), /truncated file: the data section ends at \d+ but the file has 400 bytes/, 400);
  });
});
