/**
 * KvmEventDecoder: raw tracepoint records (laid out by the real 6.18 tracefs formats) -> sink events.
 */
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED } from '../../support/paths.js';
import { parseEventFormat, type EventFormat } from '../../../src/formats/tracefs-format.js';
import { KvmEventDecoder } from '../../../src/formats/kvm-events.js';
import { CollectSink } from '../../support/collect-sink.js';
import {
  EV_EXIT, EV_ENTRY, EV_VCPU_WAKEUP, EV_HALT_POLL_NS, EV_WAIT_LAPIC_EXPIRE, EV_MSR, EV_PIO, EV_MMIO,
  EV_USERSPACE_EXIT, EV_SCHED_SWITCH, EV_SCHED_WAKEUP, EV_PLE_WINDOW, EV_OTHER,
  EXITF_FAILED_VMENTRY, EXITF_NO_VCPU, WAKE_WAITED, WAKE_VALID, SKIP_BAD_PAYLOAD, SKIP_UNRECOGNIZED,
} from '../../../assembly/constants.js';

const FORMATS = join(SHARED, 'captures', 'pvm-formats');
const have = existsSync(FORMATS);
if (!have) console.warn(`skipping KvmEventDecoder tests on real formats: ${FORMATS} is absent`);

function fmt(file: string, system: string): EventFormat {
  return parseEventFormat(readFileSync(join(FORMATS, `${file}.format`), 'utf8'), system);
}

/** a record laid out by a format: values by field name (numbers/bigints, strings for char arrays) */
function rec(f: EventFormat, values: Record<string, number | bigint | string>, le = true): Uint8Array {
  let size = 0;
  for (const x of [...f.commonFields, ...f.fields]) size = Math.max(size, x.offset + x.size);
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  const all = { common_type: f.id, ...values };
  for (const [k, val] of Object.entries(all)) {
    const x = f.field(k);
    if (!x) throw new Error(`no field ${k} in ${f.name}`);
    if (typeof val === 'string') {
      b.set(new TextEncoder().encode(val), x.offset);
      continue;
    }
    const n = BigInt(val);
    switch (x.size) {
      case 1: v.setUint8(x.offset, Number(n & 0xffn)); break;
      case 2: v.setUint16(x.offset, Number(n & 0xffffn), le); break;
      case 4: v.setUint32(x.offset, Number(n & 0xffffffffn), le); break;
      case 8: v.setBigUint64(x.offset, BigInt.asUintN(64, n), le); break;
    }
  }
  return b;
}

function setup(formats: EventFormat[], le = true): { sink: CollectSink; dec: KvmEventDecoder; feed: (r: Uint8Array, ts?: bigint, cpu?: number) => void } {
  const sink = new CollectSink();
  const dec = new KvmEventDecoder(sink, le);
  for (const f of formats) dec.addFormat(f);
  let n = 0;
  const tgids = new Map([[500, 400]]);
  const feed = (r: Uint8Array, ts = 1000n, cpu = 1): void => {
    // place the record inside a bigger buffer, as in a ring-buffer page
    const page = new Uint8Array(r.length + 24);
    page.set(r, 12);
    dec.decode(page, new DataView(page.buffer), 12, r.length, ts, cpu, (t) => tgids.get(t) ?? -1, ++n);
  };
  return { sink, dec, feed };
}

describe.skipIf(!have)('KvmEventDecoder on the 6.18 formats', () => {
  const names = ['kvm_exit', 'kvm_entry', 'kvm_vcpu_wakeup', 'kvm_halt_poll_ns', 'kvm_wait_lapic_expire', 'kvm_msr', 'kvm_pio',
    'kvm_mmio', 'kvm_userspace_exit', 'kvm_ple_window_update', 'kvm_cpuid'];
  const F = have ? Object.fromEntries(names.map((n) => [n, fmt(n, 'kvm')])) as Record<string, EventFormat> : {};
  if (have) {
    F.sched_switch = fmt('sched_sched_switch', 'sched');
    F.sched_wakeup = fmt('sched_sched_wakeup', 'sched');
  }
  const all = (): EventFormat[] => Object.values(F);

  it('interns each event name once, at addFormat', () => {
    const { sink, feed } = setup(all());
    const before = sink.internCalls;
    expect(before).toBe(all().length);
    for (let i = 0; i < 10; i++) feed(rec(F.kvm_cpuid!, { common_pid: 500 }));
    expect(sink.internCalls).toBe(before);
    expect(sink.events.map((e) => e.kind)).toEqual(new Array(10).fill(EV_OTHER));
    expect(sink.nameOf(sink.events[0]!)).toBe('kvm_cpuid');
  });

  it('kvm_exit: VMX reasons, FAILED_VMENTRY, SVM codes, vcpu and rip', () => {
    const { sink, feed } = setup(all());
    feed(rec(F.kvm_exit!, { common_pid: 500, exit_reason: 12, guest_rip: 0xffffffff81000000n, isa: 1, vcpu_id: 3 }), 5n, 2);
    feed(rec(F.kvm_exit!, { common_pid: 500, exit_reason: 0x80000021, guest_rip: 1n, isa: 1, vcpu_id: 3 }));
    feed(rec(F.kvm_exit!, { common_pid: 501, exit_reason: 0x400, guest_rip: 2n, isa: 2, vcpu_id: 0 }));
    feed(rec(F.kvm_exit!, { common_pid: 501, exit_reason: 0x80000001, guest_rip: 2n, isa: 2, vcpu_id: 0 }));
    feed(rec(F.kvm_exit!, { common_pid: 501, exit_reason: 0xffffffff, guest_rip: 2n, isa: 2, vcpu_id: 0 }));
    const [a, b, c, d, e] = sink.events;
    expect(a).toMatchObject({ kind: EV_EXIT, ts: 5n, tid: 500, tgid: 400, cpu: 2, vcpu: 3, b: 0xffffffff81000000n, c: 0, where: 1 });
    expect(sink.reasonOf(a!)).toEqual({ isa: 1, code: 12 });
    expect(sink.reasonOf(b!)).toEqual({ isa: 1, code: 0x21 });
    expect(b!.c).toBe(EXITF_FAILED_VMENTRY);
    expect(c).toMatchObject({ tid: 501, tgid: -1, vcpu: 0, c: 0 });
    expect(sink.reasonOf(c!)).toEqual({ isa: 2, code: 0x400 });
    expect(sink.reasonOf(d!)).toEqual({ isa: 2, code: 0x80000001 });
    expect(sink.reasonOf(e!)).toEqual({ isa: 2, code: 0xffffffff });
    expect(e!.c).toBe(0);
  });

  it('every other mapped event', () => {
    const { sink, feed } = setup(all());
    feed(rec(F.kvm_entry!, { common_pid: 500, vcpu_id: 1, rip: 0x1234n }));
    feed(rec(F.kvm_vcpu_wakeup!, { common_pid: 500, ns: 123456n, waited: 1, valid: 1 }));
    feed(rec(F.kvm_vcpu_wakeup!, { common_pid: 500, ns: 7n, waited: 0, valid: 0 }));
    feed(rec(F.kvm_halt_poll_ns!, { common_pid: 500, vcpu_id: 1, new: 20000, old: 10000, grow: 1 }));
    feed(rec(F.kvm_wait_lapic_expire!, { common_pid: 500, vcpu_id: 1, delta: -250n }));
    feed(rec(F.kvm_wait_lapic_expire!, { common_pid: 500, vcpu_id: 1, delta: 80n }));
    feed(rec(F.kvm_msr!, { common_pid: 500, write: 1, ecx: 0x6e0, data: 0xabcdefn, exception: 0 }));
    feed(rec(F.kvm_msr!, { common_pid: 500, write: 0, ecx: 0x1b, data: 0n, exception: 1 }));
    feed(rec(F.kvm_pio!, { common_pid: 500, rw: 1, port: 0x3f8, size: 1, count: 1, val: 0x41 }));
    feed(rec(F.kvm_mmio!, { common_pid: 500, type: 2, len: 4, gpa: 0xfee000b0n, val: 0n }));
    feed(rec(F.kvm_mmio!, { common_pid: 500, type: 1, len: 4, gpa: 0xfee00030n, val: 0x50014n }));
    feed(rec(F.kvm_mmio!, { common_pid: 500, type: 0, len: 4, gpa: 0xfed00000n, val: 0n }));
    feed(rec(F.kvm_userspace_exit!, { common_pid: 500, reason: 2, errno: 0 }));
    feed(rec(F.kvm_ple_window_update!, { common_pid: 500, vcpu_id: 1, new: 8192, old: 4096 }));
    feed(rec(F.sched_switch!, { common_pid: 500, prev_comm: 'CPU 0/KVM', prev_pid: 500, prev_state: 1n, next_comm: 'swapper/1', next_pid: 0 }));
    feed(rec(F.sched_wakeup!, { common_pid: 0, comm: 'CPU 0/KVM', pid: 500, target_cpu: 3 }));
    const got = sink.events.map((e) => [e.kind, e.vcpu, e.a, e.b, e.c, e.tid]);
    expect(got).toEqual([
      [EV_ENTRY, 1, 0n, 0x1234n, 0, 500],
      [EV_VCPU_WAKEUP, -1, 123456n, 0n, WAKE_WAITED | WAKE_VALID, 500],
      [EV_VCPU_WAKEUP, -1, 7n, 0n, 0, 500],
      [EV_HALT_POLL_NS, 1, 20000n, 10000n, 1, 500],
      [EV_WAIT_LAPIC_EXPIRE, 1, -250n, 0n, 1, 500],
      [EV_WAIT_LAPIC_EXPIRE, 1, 80n, 0n, 0, 500],
      [EV_MSR, -1, 0x6e0n, 0xabcdefn, 1, 500],
      [EV_MSR, -1, 0x1bn, 0n, 2, 500],
      [EV_PIO, -1, 0x3f8n, 0x41n, 1, 500],
      [EV_MMIO, -1, 0xfee000b0n, 0n, 1, 500], // "mmio write": 1, as the text tokenizer gives it
      [EV_MMIO, -1, 0xfee00030n, 0x50014n, 0, 500], // "mmio read"
      [EV_MMIO, -1, 0xfed00000n, 0n, 0, 500], // "mmio unsatisfied-read"
      [EV_USERSPACE_EXIT, -1, 2n, 0n, 0, 500],
      [EV_PLE_WINDOW, 1, 8192n, 4096n, 0, 500],
      [EV_SCHED_SWITCH, -1, 0n, 83n, 500, 500], // prev_state 1 (TASK_INTERRUPTIBLE) is "S", as the text prints it
      [EV_SCHED_WAKEUP, -1, 500n, 0n, 3, 0],
    ]);
    // comms seen in sched events name their threads, once per change
    expect(sink.threads).toEqual([{ tid: 500, tgid: 400, comm: 'CPU 0/KVM' }]);
  });

  it('counts short records and unknown ids as skips, not exceptions', () => {
    const { sink, feed } = setup(all());
    const r = rec(F.kvm_exit!, { common_pid: 500, exit_reason: 1, isa: 1 });
    feed(r.subarray(0, 40));
    const unk = new Uint8Array(16);
    unk[0] = 0xee;
    unk[1] = 0xee;
    feed(unk);
    feed(new Uint8Array(1));
    expect(sink.events).toEqual([]);
    expect(sink.skips.map((s) => s.kind)).toEqual([SKIP_BAD_PAYLOAD, SKIP_UNRECOGNIZED, SKIP_UNRECOGNIZED]);
    expect(sink.skips[1]!.excerpt).toBe('unknown event type id 61166');
  });

  it('big-endian records', () => {
    const { sink, feed } = setup(all(), false);
    feed(rec(F.kvm_exit!, { common_pid: 500, exit_reason: 48, guest_rip: 0x10n, isa: 1, vcpu_id: 2 }, false));
    expect(sink.events[0]).toMatchObject({ kind: EV_EXIT, tid: 500, vcpu: 2, b: 0x10n });
    expect(sink.reasonOf(sink.events[0]!)).toEqual({ isa: 1, code: 48 });
  });
});

describe('KvmEventDecoder on old-kernel formats', () => {
  const COMMON = `\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;
`;
  it('kvm_exit without vcpu_id and isa (VMX by default; SVM when the print fmt shows SVM names)', () => {
    const vmx = parseEventFormat(`name: kvm_exit\nID: 900\nformat:\n${COMMON}\n\tfield:unsigned int exit_reason;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:unsigned long guest_rip;\toffset:16;\tsize:8;\tsigned:0;\n\nprint fmt: "reason %s rip 0x%lx", __print_symbolic(REC->exit_reason, { 0, "EXCEPTION_NMI" }, { 1, "EXTERNAL_INTERRUPT" }), REC->guest_rip\n`, 'kvm');
    const svm = parseEventFormat(`name: kvm_exit\nID: 901\nformat:\n${COMMON}\n\tfield:unsigned int exit_reason;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:unsigned long guest_rip;\toffset:16;\tsize:8;\tsigned:0;\n\nprint fmt: "reason %s rip 0x%lx", __print_symbolic(REC->exit_reason, { 0x000, "read_cr0" }, { 0x400, "npf" }), REC->guest_rip\n`, 'kvm');
    const { sink, feed } = setup([vmx, svm]);
    const r = new Uint8Array(24);
    const v = new DataView(r.buffer);
    v.setUint16(0, 900, true);
    v.setInt32(4, 77, true);
    v.setUint32(8, 30, true);
    feed(r);
    v.setUint16(0, 901, true);
    v.setUint32(8, 0x400, true);
    feed(r);
    expect(sink.events.map((e) => [e.kind, e.vcpu, e.c, sink.reasonOf(e)])).toEqual([
      [EV_EXIT, -1, EXITF_NO_VCPU, { isa: 1, code: 30 }],
      [EV_EXIT, -1, EXITF_NO_VCPU, { isa: 2, code: 0x400 }],
    ]);
  });
});
