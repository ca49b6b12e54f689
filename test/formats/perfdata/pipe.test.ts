/**
 * perf.data in pipe mode (`perf record -o -`): a real pipe recording against perf's own rendering of it, against
 * a file-mode recording of the same run, and the real captures converted to pipe mode (same events exactly);
 * chunk boundaries; truncated real files.
 */
import { describe, it, expect, afterAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { readPerfData, type PerfDataInfo, type PerfDataOptions } from '../../../src/formats/perfdata/reader.js';
import { FormatError } from '../../../src/formats/bytes.js';
import { CollectSink, type PushedEvent } from '../../support/collect-sink.js';
import { SHARED, HAVE_SHARED } from '../../support/paths.js';
import { FIXTURES, materialize, readTextFile, tmpFile, perfTmpDir, removePerfTmpDir } from '../../support/perf-files.js';
import { perfFileToPipe } from '../../support/perf-pipe.js';
import { SKIP_TRUNCATED } from '../../../assembly/constants.js';


afterAll(removePerfTmpDir);
const CAPTURES = path.join(SHARED, 'captures');

async function read(file: string, opts: PerfDataOptions = {}): Promise<{ sink: CollectSink; info: PerfDataInfo }> {
  const sink = new CollectSink();
  const info = await readPerfData(file, sink, opts);
  return { sink, info };
}

/** `perf script --ns` lines: comm tid [cpu] sec.nsec: system:event: payload */
const LINE_RE = /^\s*(.*?)\s+(-?\d+)\s+\[(\d+)\]\s+(\d+)\.(\d{9}):\s+(\w+):(\w+):\s?(.*)$/;

function script(text: string): { tid: number; cpu: number; ts: bigint; name: string; body: string }[] {
  return text.split('\n').filter(l => l.trim() !== '').map(l => {
    const m = LINE_RE.exec(l);
    if (!m) throw new Error(`unparsed: ${l}`);
    let tid = +m[2]!;
    // "            :-1    -1 [000] ... sched:sched_switch: prev_comm=vmm prev_pid=16133": perf could not resolve the
    // sample's pid/tid (an exiting thread); the reader takes the tracepoint's common_pid, i.e. prev_pid here
    if (tid === -1 && m[7] === 'sched_switch') tid = +/prev_pid=(\d+)/.exec(m[8]!)![1]!;
    return { tid, cpu: +m[3]!, ts: BigInt(m[4]!) * 1000000000n + BigInt(m[5]!), name: m[7]!, body: m[8]! };
  });
}

/** everything but `where` (the byte offsets differ between the two layouts) */
function strip(e: PushedEvent): Omit<PushedEvent, 'where'> {
  const { where: _w, ...rest } = e;
  return rest;
}

function named(sink: CollectSink): (Omit<PushedEvent, 'where' | 'name'> & { n: string })[] {
  return sink.events.map(e => {
    const { name: _n, ...rest } = strip(e);
    return { ...rest, n: sink.nameOf(e) };
  });
}

describe('perf.data pipe mode: a real `perf record -o -` recording (perf-fixtures/)', () => {
  it('gives every event perf script shows for it, with its exact timestamp', async () => {
    const { sink, info } = await read(await materialize(path.join(FIXTURES, 'pvm-pipe.data.xz')));
    const lines = script(await readTextFile(path.join(FIXTURES, 'pvm-pipe-script.txt.xz')));
    expect(info.pipeMode).toBe(true);
    expect(info.samples).toBe(1437);
    expect(info.events).toEqual({ kvm_msr: 453, kvm_pio: 410, kvm_userspace_exit: 410, kvm_vcpu_wakeup: 121,
      kvm_halt_poll_ns: 10, sched_switch: 33 });
    expect(info).toMatchObject({ hostname: 'vm', osRelease: '6.18.44-fc-v669', nrCpus: 2, lost: 0 });
    expect(info.cmdline).toMatch(/^\/usr\/bin\/perf record -a -e kvm:kvm_pio .* -o -$/);
    expect(sink.events.length).toBe(lines.length);
    const got = sink.events.map(e => `${e.ts} ${e.tid} ${e.cpu} ${sink.nameOf(e)}`);
    expect(got).toEqual(lines.map(l => `${l.ts} ${l.tid} ${l.cpu} ${l.name}`));
    // field values: kvm_pio "pio_write at 0x80 size 1 count 1 val 0x0", kvm_msr "msr_write 6e0 = 0x..."
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      const e = sink.events[i]!;
      const pio = /^pio_(read|write) at 0x([0-9a-f]+) size \d+ count \d+ val 0x([0-9a-f]+)/.exec(l.body);
      if (l.name === 'kvm_pio' && pio) {
        expect([e.a.toString(16), e.b.toString(16), e.c]).toEqual([pio[2], pio[3], pio[1] === 'write' ? 1 : 0]);
      }
      const msr = /^msr_(read|write) ([0-9a-f]+) = 0x([0-9a-f]+)/.exec(l.body);
      if (l.name === 'kvm_msr' && msr) expect([e.a.toString(16), e.b.toString(16), e.c & 1]).toEqual([msr[2], msr[3], msr[1] === 'write' ? 1 : 0]);
    }
    // the VM: the vCPU threads' process
    const tids = new Set(sink.events.filter(e => sink.nameOf(e) === 'kvm_pio').map(e => e.tid));
    const tgids = new Set(sink.events.filter(e => tids.has(e.tid)).map(e => e.tgid));
    expect(tids.size).toBe(2);
    expect(tgids.size).toBe(1);
    expect([...tgids][0]).toBeGreaterThan(0);
  });

  it('gives the same events as the file-mode recording of the same run (each perf stamps its own time)', async () => {
    const pipe = await read(await materialize(path.join(FIXTURES, 'pvm-pipe.data.xz')));
    const file = await read(await materialize(path.join(FIXTURES, 'pvm-file.data.xz')));
    const fileLines = script(await readTextFile(path.join(FIXTURES, 'pvm-file-script.txt.xz')));
    expect(file.info.pipeMode).toBe(false);
    expect(file.sink.events.map(e => `${e.ts} ${e.tid} ${e.cpu} ${file.sink.nameOf(e)}`))
      .toEqual(fileLines.map(l => `${l.ts} ${l.tid} ${l.cpu} ${l.name}`));
    expect(file.info.events).toEqual(pipe.info.events);
    // per thread, the same sequence of events with the same fields; timestamps within 100 µs of each other
    const byTid = (s: CollectSink): Map<number, PushedEvent[]> => {
      const m = new Map<number, PushedEvent[]>();
      for (const e of s.events) m.set(e.tid, [...(m.get(e.tid) ?? []), e]);
      return m;
    };
    const a = byTid(pipe.sink);
    const b = byTid(file.sink);
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [tid, ea] of a) {
      const eb = b.get(tid)!;
      const key = (s: CollectSink, e: PushedEvent): string => `${s.nameOf(e)} ${e.kind} ${e.tgid} ${e.cpu} ${e.vcpu} ${e.a} ${e.b} ${e.c}`;
      expect(ea.map(e => key(pipe.sink, e))).toEqual(eb.map(e => key(file.sink, e)));
      for (let i = 0; i < ea.length; i++) {
        const d = ea[i]!.ts - eb[i]!.ts;
        expect(d < 0n ? -d : d).toBeLessThan(100000n);
      }
    }
  });

  it('reads the same with tiny chunks (records and the tracing data across chunk boundaries)', async () => {
    for (const f of ['pvm-pipe.data.xz', 'pvm-file.data.xz']) {
      const p = await materialize(path.join(FIXTURES, f));
      const big = await read(p);
      for (const chunkSize of [64, 100, 4093]) {
        const small = await read(p, { chunkSize });
        expect(small.info).toEqual(big.info);
        expect(small.sink.events).toEqual(big.sink.events);
        expect(small.sink.threads).toEqual(big.sink.threads);
      }
    }
  });
});

const haveMkfifo = process.platform !== 'win32' && spawnSync('sh', ['-c', 'command -v mkfifo']).status === 0;

describe.skipIf(!haveMkfifo)('perf.data pipe mode from a real pipe (not seekable)', () => {
  it('reads a pipe-mode stream from a FIFO, as from `perf record -o - | kvmtax ...`', async () => {
    const src = await materialize(path.join(FIXTURES, 'pvm-pipe.data.xz'));
    const fifo = path.join(perfTmpDir(), 'perf.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', src, fifo], { stdio: 'ignore' });
    const done = new Promise(r => writer.on('exit', r));
    const viaFifo = await read(fifo, { chunkSize: 4096 });
    await done;
    const viaFile = await read(src);
    expect(viaFifo.info).toEqual(viaFile.info);
    expect(viaFifo.sink.events).toEqual(viaFile.sink.events);
    fs.rmSync(fifo);
  });

  it('a file-mode perf.data cannot be read from a pipe: it says so', async () => {
    const src = await materialize(path.join(FIXTURES, 'pvm-file.data.xz'));
    const fifo = path.join(perfTmpDir(), 'perf2.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const writer = spawn('sh', ['-c', 'cat "$1" > "$2" 2>/dev/null', 'sh', src, fifo], { stdio: 'ignore' });
    const done = new Promise(r => writer.on('exit', r));
    await expect(read(fifo)).rejects.toThrow(/a file-mode perf\.data must be read from a regular file/);
    await done;
    fs.rmSync(fifo);
  });
});

describe.skipIf(!HAVE_SHARED)('perf.data pipe mode: the real captures converted to pipe mode', () => {
  const files = [
    'svm-D-small/perf.data', 'svm-D-small/perf-kvm.data', 'svm-A-baseline/perf-kvm.data.xz',
    'pvm-03-baseline-perf-kvm-stat/perf-kvm.data',
  ];
  for (const f of files) {
    it(`${f}: the same events, threads and info as the file`, async () => {
      const src = await materialize(path.join(CAPTURES, f));
      const pipePath = tmpFile('pipe.data', perfFileToPipe(src));
      const file = await read(src);
      const pipe = await read(pipePath, { chunkSize: 1 << 16 });
      expect(pipe.info.pipeMode).toBe(true);
      expect({ ...pipe.info, pipeMode: false }).toEqual(file.info);
      expect(named(pipe.sink)).toEqual(named(file.sink));
      expect(pipe.sink.threads).toEqual(file.sink.threads);
      expect(pipe.sink.skips).toEqual(file.sink.skips);
      expect(file.info.samples).toBeGreaterThan(1000);
    });
  }
});

describe.skipIf(!HAVE_SHARED)('perf.data truncated real files', () => {
  const check = async (bytes: Uint8Array, cuts: number[], pipe: boolean): Promise<{ errors: number; ok: number }> => {
    let errors = 0;
    let ok = 0;
    for (const n of cuts) {
      const p = tmpFile('cut.data', bytes.subarray(0, n));
      try {
        const { info, sink } = await read(p);
        expect(pipe, `cut at ${n} read without error`).toBe(true);
        ok++;
        expect(info.samples).toBeGreaterThanOrEqual(0);
        // a pipe cut between two records: said so, unless the cut follows a FINISHED_ROUND
        const afterRound = bytes[n - 8] === 68 && bytes[n - 2] === 8;
        if (!afterRound && n < bytes.length) expect(sink.skips.map(s => s.kind)).toContain(SKIP_TRUNCATED);
      } catch (e) {
        if (!(e instanceof FormatError)) throw new Error(`cut at ${n}: ${String(e)}`);
        expect(e.message).toMatch(/^perf\.data: /);
        expect(e.offset).toBeGreaterThanOrEqual(0);
        expect(e.offset).toBeLessThanOrEqual(n);
        errors++;
      } finally {
        fs.rmSync(p);
      }
    }
    return { errors, ok };
  };

  it('svm-D-small/perf-kvm.data cut anywhere (file mode): FormatError with the offset', async () => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(CAPTURES, 'svm-D-small', 'perf-kvm.data')));
    const cuts = [0, 1, 7, 8, 15, 16, 50, 103, 104, 200, 1063, 1064, 1065, 5000, 100000, 237391, 237392, 237400,
      bytes.length - 100, bytes.length - 1];
    const r = await check(bytes, cuts, false);
    expect(r.errors).toBe(cuts.length);
  });

  it('svm-D-small/perf-kvm.data in pipe mode cut anywhere: FormatError at the cut record, or the events before it', async () => {
    const full = perfFileToPipe(path.join(CAPTURES, 'svm-D-small', 'perf-kvm.data'));
    const complete = await read(tmpFile('full.data', full));
    const cuts: number[] = [];
    for (let i = 1; i <= 40; i++) cuts.push(Math.floor((full.length * i) / 41) + (i % 7));
    const r = await check(full, cuts, true);
    expect(r.errors).toBeGreaterThan(30);
    // a cut inside a record names that record's offset
    const n = Math.floor(full.length / 2);
    try {
      await read(tmpFile('half.data', full.subarray(0, n)));
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(FormatError);
      const fe = e as FormatError;
      expect(fe.message).toBe(`perf.data: truncated record at offset ${fe.offset}`);
      const size = new DataView(full.buffer, full.byteOffset).getUint16(fe.offset + 6, true);
      expect(fe.offset).toBeLessThan(n);
      expect(fe.offset + size).toBeGreaterThan(n);
    }
    expect(complete.info.samples).toBe(2006);
  });
});
