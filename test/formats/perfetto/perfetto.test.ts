/**
 * Perfetto traces: the events of a real capture (traces/svm-D-small/trace.txt.xz, raw ftrace text of an AMD SVM
 * run) written as traced_probes writes them (test/support/perfetto-build.ts) must give the report of the text:
 * generic events in both encodings, compact sched, compressed packets. The x86 typed kvm_exit (Perfetto's
 * typed proto has only arm64 fields) still gives per-vCPU exit counts and times; arm64 typed exits are named.
 * Truncated or damaged files are a FormatError / KvmtaxError with a byte offset, never another exception.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { analyze } from '../../../src/pipeline/analyze.js';
import type { Report } from '../../../src/analysis/types.js';
import { openSource } from '../../../src/formats/source.js';
import { readPerfetto, perfettoRoot, REASON_NOT_RECORDED } from '../../../src/formats/perfetto/reader.js';
import { zstdWarmup } from '../../../src/formats/decompress.js';
import { FormatError } from '../../../src/formats/bytes.js';
import { KvmtaxError } from '../../../src/core/errors.js';
import { EV_EXIT, EV_ENTRY, EV_LOST, EV_SCHED_SWITCH, EXITF_NO_VCPU } from '../../../assembly/constants.js';
import { CollectSink } from '../../support/collect-sink.js';
import { TRACES } from '../../support/paths.js';
import { buildPerfetto, parseFtraceText, type BuildOptions, type TextEvent } from '../../support/perfetto-build.js';

const TEXT = path.join(TRACES, 'svm-D-small', 'trace.txt.xz');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-perfetto-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let events: TextEvent[] = [];
let text: Report;

async function readAll(p: string): Promise<string> {
  const src = await openSource(p);
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(1 << 16);
  for (let n; (n = await src.read(buf, 0, buf.length)) > 0;) chunks.push(Buffer.from(buf.subarray(0, n)));
  src.close();
  return Buffer.concat(chunks).toString('utf8');
}

/** libzstd's compressor, for the zstd_compressed_packets cases */
let zstdc: { compress(b: Uint8Array): Uint8Array } | undefined;

beforeAll(async () => {
  zstdc = await (await import('@hpcc-js/wasm-zstd')).Zstd.load();
  events = parseFtraceText(await readAll(TEXT));
  text = await analyze([TEXT]);
});

function write(name: string, bytes: Uint8Array): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

/** The per-VM and per-vCPU figures (inputs and the file name differ by construction). */
const vmFigures = (r: Report) => r.vms.map(({ file: _f, ...rest }) => rest);

describe('Perfetto traces of a real capture give the report of its text', () => {
  const cases: Array<[string, BuildOptions]> = [
    ['generic events (GenericFtraceEvent name/value fields)', { generic: 'legacy' }],
    ['dense generic events (descriptor per bundle)', { generic: 'dense' }],
    ['compact_sched (sched_switch and sched_waking columns)', { generic: 'dense', compactSched: true }],
    ['compressed_packets (zlib), legacy generic + compact_sched', { generic: 'legacy', compactSched: true, compress: true }],
    ['zstd_compressed_packets, dense generic + compact_sched', { generic: 'dense', compactSched: true, compress: 'zstd', zstd: (b) => zstdc!.compress(b) }],
    ['short drain period (bundles of a few events)', { generic: 'dense', periodNs: 300_000n }],
    ['packets grouped by sequence (one CPU after the other, as a buffer read at the end)', { generic: 'dense', bySequence: true }],
    ['grouped by sequence inside compressed packets, compact_sched', { generic: 'legacy', compactSched: true, compress: true, bySequence: true, periodNs: 1_000_000n }],
  ];
  it.each(cases)('%s', async (_what, opts) => {
    const file = write(`svm-D-small.${Object.entries(opts).filter(([k]) => k !== 'zstd').map(([k, v]) => `${k}-${String(v)}`).join('.')}.pftrace`, buildPerfetto(events, opts));
    const r = await analyze([file]);
    expect(r.inputs[0]!.format).toBe('perfetto');
    expect(r.inputs[0]!.events).toBe(text.inputs[0]!.events);
    expect(r.inputs[0]!.first_ts).toBe(text.inputs[0]!.first_ts);
    expect(r.inputs[0]!.last_ts).toBe(text.inputs[0]!.last_ts);
    expect(r.reasons.length).toBeGreaterThan(3);
    expect(JSON.stringify(r.reasons)).toBe(JSON.stringify(text.reasons));
    expect(JSON.stringify(vmFigures(r))).toBe(JSON.stringify(vmFigures(text)));
    expect(JSON.stringify(r.totals)).toBe(JSON.stringify(text.totals));
    expect(r.quality.skipped).toEqual([]);
    const meta = r.inputs[0]!.meta!;
    if (opts.compress) expect(meta.compressed_packets).toBeGreaterThan(0);
    if (opts.compactSched) expect(meta.compact_sched_events).toBe(events.filter((e) => /^sched_(switch|wakeup)$/.test(e.name)).length);
    if (opts.generic === 'dense') expect(meta.dense_generic_events).toBeGreaterThan(0);
    else expect(meta.generic_events).toBeGreaterThan(0);
  });

  it('zstd_compressed_packets read through libzstd (loaded, as for a large file) give the same report', async () => {
    await zstdWarmup(); // no file: load it whatever the size; from now on this worker inflates zstd with libzstd
    const file = write('zstd-libzstd.pftrace', buildPerfetto(events, { generic: 'legacy', compress: 'zstd', zstd: (b) => zstdc!.compress(b) }));
    const r = await analyze([file]);
    expect(r.inputs[0]!.meta!.compressed_packets).toBeGreaterThan(0);
    expect(JSON.stringify(r.reasons)).toBe(JSON.stringify(text.reasons));
    expect(JSON.stringify(vmFigures(r))).toBe(JSON.stringify(vmFigures(text)));
  });

  it('is recognized by content without a Perfetto file name', async () => {
    const r = await analyze([write('capture.bin', buildPerfetto(events, { generic: 'dense' }))]);
    expect(r.inputs[0]!.format).toBe('perfetto');
    expect(JSON.stringify(r.reasons)).toBe(JSON.stringify(text.reasons));
  });
});

describe('typed kvm_exit / kvm_entry', () => {
  it('x86 (fields lost): per-vCPU exit counts and times still come out, under one "reason not recorded"', async () => {
    const r = await analyze([write('typed-x86.pftrace', buildPerfetto(events, { generic: 'dense', typedKvm: true }))]);
    const exits = events.filter((e) => e.name === 'kvm_exit').length;
    expect(r.inputs[0]!.meta!.exits_without_reason).toBe(exits);
    expect(r.reasons.map((x) => x.reason)).toEqual([REASON_NOT_RECORDED]);
    expect(r.reasons[0]!.exits_seen).toBe(text.totals.exits_seen);
    expect(r.reasons[0]!.exits_handled).toBe(text.totals.exits_handled);
    expect(r.reasons[0]!.total_ns).toBe(text.totals.host_ns);
    const per = (x: Report) => x.vms.flatMap((v) => v.vcpus.map((c) => ({ tid: c.tid, seen: c.exits_seen, handled: c.exits_handled,
      host: c.host_ns, guest: c.guest_ns, wall: c.wall_ns })));
    expect(per(r)).toEqual(per(text));
    expect(per(r).length).toBe(2);
    // the vCPU id is lost with the exit's fields: only other events that carry one (kvm_wait_lapic_expire) tell it
    const vcpus = (x: Report) => x.vms.flatMap((v) => v.vcpus.map((c) => [c.tid, c.vcpu]));
    expect(vcpus(r)).toEqual([[192, 0], [193, null]]);
    expect(vcpus(text)).toEqual([[192, 0], [193, 1]]);
    // nothing can be told halted: every ns of host time counts as overhead
    expect(r.totals.halted_ns).toBe(0);
    expect(text.totals.halted_ns).toBeGreaterThan(0);
  });

  it('arm64: a TRAP is named by its exception class ("HVC64"), any other exit by its type ("IRQ"), as perf kvm stat names them', async () => {
    const root = perfettoRoot();
    const TP = root.lookupType('perfetto.protos.TracePacket');
    const ev = (ts: number, pid: number, body: Record<string, unknown>) => ({ timestamp: ts, pid, ...body });
    const pkt = TP.encode(TP.fromObject({
      trusted_packet_sequence_id: 2,
      ftrace_events: {
        cpu: 3,
        event: [
          ev(1000, 500, { kvm_entry: { vcpu_pc: 0x1000 } }),
          ev(2000, 500, { kvm_exit: { esr_ec: 0x16, ret: 2, vcpu_pc: 0x1004 } }),
          ev(2600, 500, { kvm_entry: { vcpu_pc: 0x1004 } }),
          ev(3000, 500, { kvm_exit: { esr_ec: 0, ret: 0, vcpu_pc: 0x1008 } }),
          ev(3100, 500, { kvm_entry: { vcpu_pc: 0x1008 } }),
          ev(4000, 500, { kvm_exit: { ret: 1 } }),
          ev(4050, 500, { kvm_entry: {} }),
        ],
      },
    })).finish();
    const w = protobuf.Writer.create();
    w.uint32(10).bytes(pkt);
    const file = write('arm64.pftrace', w.finish());
    const sink = new CollectSink();
    readPerfetto(file, sink);
    const exits = sink.events.filter((e) => e.kind === EV_EXIT);
    expect(exits.map((e) => sink.strings[Number(e.a)])).toEqual(['HVC64', 'IRQ', 'SERROR']);
    expect(exits.every((e) => e.c === EXITF_NO_VCPU && e.cpu === 3 && e.tid === 500)).toBe(true);
    expect(exits[0]!.b).toBe(0x1004n);
    const r = await analyze([file]);
    expect(r.reasons.map((x) => [x.reason, x.exits_handled, x.total_ns])).toEqual([['HVC64', 1, 600], ['IRQ', 1, 100], ['SERROR', 1, 50]]);
    expect(r.vms[0]!.vcpus.map((c) => [c.tid, c.exits_seen, c.host_ns])).toEqual([[500, 3, 750]]);
  });
});

describe('reader details', () => {
  it('pushes in time order across CPUs, a lost-events marker first on the CPU whose bundle lost events', () => {
    const sink = new CollectSink();
    readPerfetto(write('lost.pftrace', buildPerfetto(events, { generic: 'legacy', lostOn: [[1, 2]] })), sink);
    const ts = sink.events.map((e) => e.ts);
    expect(ts.every((t, i) => i === 0 || t >= ts[i - 1]!)).toBe(true);
    const lost = sink.events.filter((e) => e.kind === EV_LOST);
    expect(lost.length).toBe(1);
    expect(lost[0]!.cpu).toBe(1);
    const i = sink.events.indexOf(lost[0]!);
    expect(sink.events[i + 1]!.cpu).toBe(1);
    expect(sink.events[i + 1]!.ts).toBe(lost[0]!.ts);
    // the text's thread names and processes
    expect(sink.threads.find((t) => t.tid === 193)).toEqual({ tid: 193, tgid: 188, comm: 'vmm' });
    expect(sink.events.filter((e) => e.kind !== EV_LOST).length).toBe(events.length);
  });

  it('compact sched_switch: the previous task is the one the CPU ran', () => {
    const sink = new CollectSink();
    readPerfetto(write('compact.pftrace', buildPerfetto(events, { generic: 'dense', compactSched: true })), sink);
    const sw = sink.events.filter((e) => e.kind === EV_SCHED_SWITCH);
    const tsw = events.filter((e) => e.name === 'sched_switch');
    expect(sw.length).toBe(tsw.length);
    // all but the first switch of each CPU (no earlier event there) get their prev_pid back
    const prevOf = (e: TextEvent) => Number(/prev_pid=(\d+)/.exec(e.body)![1]);
    const firstOnCpu = new Set<number>();
    let known = 0;
    for (const cpu of [0, 1]) {
      const a = sw.filter((e) => e.cpu === cpu);
      const b = tsw.filter((e) => e.cpu === cpu);
      a.forEach((e, k) => {
        if (e.c === -1 && !firstOnCpu.has(cpu)) { firstOnCpu.add(cpu); return; }
        expect([e.c, e.tid, Number(e.a), e.ts]).toEqual([prevOf(b[k]!), prevOf(b[k]!), Number(/next_pid=(\d+)/.exec(b[k]!.body)![1]), b[k]!.ts]);
        known++;
      });
    }
    expect(known).toBeGreaterThanOrEqual(tsw.length - 2);
  });

  it('dense generic events keep signed values and strings; an event without its descriptor is skipped and counted', () => {
    const sink = new CollectSink();
    readPerfetto(write('dense.pftrace', buildPerfetto(events, { generic: 'dense' })), sink);
    const lapic = sink.events.filter((e) => sink.nameOf(e) === 'kvm_wait_lapic_expire');
    const tl = events.filter((e) => e.name === 'kvm_wait_lapic_expire');
    expect(lapic.map((e) => e.a)).toEqual(tl.map((e) => BigInt(/delta (-?\d+)/.exec(e.body)![1]!)));
    expect(lapic.map((e) => e.vcpu)).toEqual(tl.map((e) => Number(/vcpu (\d+)/.exec(e.body)![1])));
    // an event whose field id has no descriptor anywhere
    const w = protobuf.Writer.create();
    const ev = protobuf.Writer.create().uint32(8).uint64(5).uint32(16).uint32(7).uint32((70000 << 3) | 2).bytes(new Uint8Array([8, 1])).finish();
    const bundle = protobuf.Writer.create().uint32(8).uint32(0).uint32(18).bytes(ev).finish();
    w.uint32(10).bytes(protobuf.Writer.create().uint32(10).bytes(bundle).finish());
    const s2 = new CollectSink();
    readPerfetto(write('nodesc.pftrace', w.finish()), s2);
    expect(s2.events.length).toBe(0);
    expect(s2.skips.length).toBe(1);
    expect(s2.skips[0]!.excerpt).toMatch(/70000 without a descriptor/);
  });

  it('an x86 kvm_entry without fields pairs with its exit; EV_ENTRY has no vCPU id', () => {
    const sink = new CollectSink();
    readPerfetto(write('typed.pftrace', buildPerfetto(events, { generic: 'legacy', typedKvm: true })), sink);
    const entries = sink.events.filter((e) => e.kind === EV_ENTRY);
    expect(entries.length).toBe(events.filter((e) => e.name === 'kvm_entry').length);
    expect(entries.every((e) => e.vcpu === -1)).toBe(true);
  });
});

describe('damaged files: FormatError / KvmtaxError with a byte offset, never another exception', () => {
  let whole: Uint8Array;
  let zwhole: Uint8Array;
  beforeAll(() => {
    whole = buildPerfetto(events, { generic: 'dense', compactSched: true });
    zwhole = buildPerfetto(events, { generic: 'legacy', compress: true });
  });

  const read = (bytes: Uint8Array, name = 'x.pftrace'): unknown => {
    try {
      readPerfetto(write(name, bytes), new CollectSink());
      return undefined;
    } catch (e) {
      return e;
    }
  };

  it('truncated anywhere: "truncated ..." with the offset of the packet', () => {
    for (const frac of [0.001, 0.1, 0.33, 0.5, 0.77, 0.999]) {
      for (const src of [whole, zwhole]) {
        const cut = Math.floor(src.length * frac);
        const e = read(src.subarray(0, cut));
        expect(e, `cut at ${cut}`).toBeInstanceOf(FormatError);
        const fe = e as FormatError;
        expect(fe.message).toMatch(/truncated|past the end/);
        expect(fe.offset).toBeGreaterThanOrEqual(0);
        expect(fe.offset).toBeLessThan(cut);
        expect(fe.message).toContain(`offset ${fe.offset}`);
      }
    }
  });

  it('through the pipeline: exit-code-1 error naming the file and the byte', async () => {
    const p = write('cut.pftrace', whole.subarray(0, Math.floor(whole.length / 2)));
    const e = await analyze([p]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KvmtaxError);
    expect((e as KvmtaxError).format()).toMatch(/cut\.pftrace: byte \d+: truncated/);
    const g = write('garbage.pftrace', new Uint8Array(4096).map((_, i) => (i * 7919 + 13) & 0xff));
    const e2 = await analyze([g]).catch((x: unknown) => x);
    expect(e2).toBeInstanceOf(KvmtaxError);
    expect((e2 as KvmtaxError).format()).toMatch(/garbage\.pftrace: byte \d+: /);
    const z = write('empty.pftrace', new Uint8Array(0));
    const e3 = await analyze([z]).catch((x: unknown) => x);
    expect(e3).toBeInstanceOf(KvmtaxError);
  });

  it('bytes flipped or overwritten inside packets (compressed too): a clean result or a FormatError', () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let errors = 0;
    for (let k = 0; k < 300; k++) {
      const src = k % 3 === 0 ? zwhole : whole;
      const b = Uint8Array.from(src);
      const n = 1 + rnd(4);
      for (let j = 0; j < n; j++) b[rnd(b.length)] = rnd(256);
      const e = read(b, `fuzz${k % 4}.pftrace`);
      if (e !== undefined) {
        errors++;
        expect(e, String(e)).toBeInstanceOf(FormatError);
        expect((e as FormatError).offset).toBeGreaterThanOrEqual(0);
      }
    }
    expect(errors).toBeGreaterThan(10);
  });

  it('a corrupt compressed_packets payload names the compressed packet', () => {
    const b = Uint8Array.from(zwhole);
    // the first outer packet: tag, length varint, then TracePacket field 50 (tag 0x92 0x03), length, zlib data
    let p = 1;
    while (b[p]! & 0x80) p++;
    const at = 0;
    p++;
    expect([b[p], b[p + 1]]).toEqual([0x92, 0x03]);
    p += 2;
    while (b[p]! & 0x80) p++;
    p++;
    for (const k of [2, 3, 4]) b[p + k] = b[p + k]! ^ 0xff;
    const e = read(b);
    expect(e).toBeInstanceOf(FormatError);
    expect((e as FormatError).offset).toBe(at);
  });
});
