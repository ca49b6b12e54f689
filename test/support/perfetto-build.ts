/**
 * Builds Perfetto traces for the tests from the events of a real raw ftrace capture (its text lines), the way
 * traced_probes writes them (src/traced/probes/ftrace/cpu_reader.cc):
 *   - one process_tree packet first (every thread of the capture: tid, tgid, comm),
 *   - then, per drain period, one FtraceEventBundle per CPU with that CPU's events of the period, each CPU
 *     on its own packet sequence; bundles of different CPUs overlap in time;
 *   - typed payloads where Perfetto has a proto whose fields match the kernel's (sched_switch, sched_wakeup,
 *     print, kvm_userspace_exit, kvm_vcpu_wakeup), the other events as generic events: the older
 *     GenericFtraceEvent (field 327) with (name, value) pairs, or the dense encoding (FtraceEvent field id
 *     >= 65536, laid out by a DescriptorProto the bundle carries after its events);
 *   - or kvm_exit / kvm_entry typed: Perfetto's typed messages have arm64's fields, so an arm64 capture keeps
 *     them (ret, esr_ec, vcpu_pc) and an x86 one comes out empty;
 *   - optionally sched_switch / sched_waking as compact_sched, and everything inside compressed_packets.
 * Encoded with protobufjs and src/formats/perfetto/perfetto.proto (the reader's own schema).
 */
import { deflateSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { perfettoRoot } from '../../src/formats/perfetto/reader.js';
import { SVM_REASONS, VMX_REASONS, ARM64_EXCEPTION_TYPES } from '../../src/core/reason-tables.js';

/** One event line of raw ftrace text. */
export interface TextEvent {
  comm: string;
  tid: number;
  tgid: number;
  cpu: number;
  ts: bigint;
  name: string;
  body: string;
  line: number;
}

type FieldKind = 'str' | 'int' | 'uint';
type GenericField = [name: string, kind: FieldKind, value: string | bigint];

export interface BuildOptions {
  /** how events without a usable typed proto are written */
  generic: 'legacy' | 'dense';
  /** kvm_exit / kvm_entry typed as on x86 (their fields lost) instead of generic */
  typedKvm?: boolean;
  /** sched_switch (and sched_wakeup, written as sched_waking) as compact_sched */
  compactSched?: boolean;
  /** every packet inside compressed_packets (zlib), or zstd_compressed_packets with 'zstd' */
  compress?: boolean | 'zstd';
  /** the zstd compressor for compress: 'zstd' (the test loads one: Node 20 has none) */
  zstd?: (b: Uint8Array) => Uint8Array;
  /** drain period (default 10 ms) */
  periodNs?: bigint;
  /**
   * packets grouped by sequence (all of CPU 0's bundles, then CPU 1's...), as the tracing service returns its
   * buffer when the trace is read at the end, instead of in drain order
   */
  bySequence?: boolean;
  /** CPUs whose bundles set lost_events, by bundle index of that CPU (tests) */
  lostOn?: Array<[cpu: number, bundle: number]>;
}

const LINE = /^\s*(.*?)-(\d+)\s+\(\s*(\S+)\)\s+\[(\d+)\]\s+\S+\s+(\d+)\.(\d+):\s+(\w+):\s?(.*)$/;

/** The event lines of raw ftrace text (with the tgid column). */
export function parseFtraceText(text: string): TextEvent[] {
  const out: TextEvent[] = [];
  text.split('\n').forEach((l, i) => {
    const m = LINE.exec(l);
    if (!m) return;
    const frac = m[6]!.padEnd(9, '0');
    out.push({
      comm: m[1]!, tid: Number(m[2]), tgid: /^\d+$/.test(m[3]!) ? Number(m[3]) : -1, cpu: Number(m[4]),
      ts: BigInt(m[5]!) * 1_000_000_000n + BigInt(frac), name: m[7]!, body: m[8]!, line: i + 1,
    });
  });
  return out;
}

const svmCode = new Map(SVM_REASONS.map(([c, n]) => [n, c >>> 0]));
const vmxCode = new Map(VMX_REASONS.map(([c, n]) => [n, c]));
const hex = (s: string | undefined): bigint => (s === undefined ? 0n : BigInt(s.startsWith('0x') ? s : `0x${s}`));
const dec = (s: string | undefined): bigint => (s === undefined ? 0n : BigInt(s));
const STATE_BITS: Record<string, number> = { R: 0, S: 1, D: 2, T: 4, t: 8, X: 0x10, Z: 0x20, P: 0x40, I: 0x80 };

/** Kernel fields (names as in tracefs formats) of an event, from its text rendering. */
export function kernelFields(e: TextEvent): GenericField[] {
  const b = e.body;
  const num = (re: RegExp, f: (s: string | undefined) => bigint = dec): bigint => f(re.exec(b)?.[1]);
  switch (e.name) {
    case 'kvm_exit': {
      // arm64 (trace_arm.h): "TRAP: HSR_EC: 0x0016 (HVC64), PC: 0x000000004000008c"
      const arm = /^(\w+): HSR_EC: 0x([0-9a-fA-F]+) \(.*\), PC: 0x([0-9a-fA-F]+)/.exec(b);
      if (arm) {
        const ret = ARM64_EXCEPTION_TYPES.find(([, n]) => n === arm[1])?.[0];
        if (ret === undefined) throw new Error(`line ${e.line}: unknown arm64 exception type ${arm[1]}`);
        return [['ret', 'int', BigInt(ret)], ['esr_ec', 'uint', hex(arm[2])], ['vcpu_pc', 'uint', hex(arm[3])]];
      }
      const reason = /reason (\S+)/.exec(b)?.[1] ?? '';
      const isa = svmCode.has(reason) ? 2n : 1n;
      const code = isa === 2n ? svmCode.get(reason) : vmxCode.get(reason);
      if (code === undefined) throw new Error(`line ${e.line}: unknown exit reason ${reason}`);
      return [
        ['exit_reason', 'uint', BigInt(code)], ['guest_rip', 'uint', num(/rip (0x[0-9a-f]+)/, hex)], ['isa', 'uint', isa],
        ['info1', 'uint', num(/info1 (0x[0-9a-f]+)/, hex)], ['info2', 'uint', num(/info2 (0x[0-9a-f]+)/, hex)],
        ['intr_info', 'uint', num(/intr_info (0x[0-9a-f]+)/, hex)], ['error_code', 'uint', num(/error_code (0x[0-9a-f]+)/, hex)],
        ['vcpu_id', 'uint', num(/vcpu (\d+)/)],
      ];
    }
    case 'kvm_entry':
      if (/^PC: 0x/.test(b)) return [['vcpu_pc', 'uint', num(/^PC: (0x[0-9a-fA-F]+)/, hex)]]; // arm64
      return [['vcpu_id', 'uint', num(/vcpu (\d+)/)], ['rip', 'uint', num(/rip (0x[0-9a-f]+)/, hex)]];
    case 'kvm_msr': {
      const m = /msr_(read|write) ([0-9a-f]+) = (0x[0-9a-f]+)/.exec(b)!;
      return [['write', 'uint', m[1] === 'write' ? 1n : 0n], ['ecx', 'uint', hex(m[2])], ['data', 'uint', hex(m[3])],
        ['exception', 'uint', /#GP/.test(b) ? 1n : 0n]];
    }
    case 'kvm_pio':
      return [['rw', 'uint', /pio_write/.test(b) ? 1n : 0n], ['port', 'uint', num(/at (0x[0-9a-f]+)/, hex)],
        ['size', 'uint', num(/size (\d+)/)], ['count', 'uint', num(/count (\d+)/)], ['val', 'uint', num(/val (0x[0-9a-f]+)/, hex)]];
    case 'kvm_userspace_exit':
      return [['reason', 'uint', num(/\((\d+)\)/)], ['errno', 'int', 0n]];
    case 'kvm_vcpu_wakeup':
      return [['ns', 'uint', num(/time (\d+)/)], ['waited', 'uint', /^wait/.test(b) ? 1n : 0n],
        ['valid', 'uint', /invalid/.test(b) ? 0n : 1n]];
    case 'kvm_wait_lapic_expire':
      return [['vcpu_id', 'uint', num(/vcpu (\d+)/)], ['delta', 'int', num(/delta (-?\d+)/)]];
    case 'kvm_apic_ipi':
      return [['icr_low', 'uint', num(/vec (\d+)/)], ['dest_id', 'uint', num(/dst (\d+)/)]];
    case 'kvm_inj_virq':
      return [['vector', 'uint', num(/IRQ (0x[0-9a-f]+)/, hex)], ['soft', 'uint', 0n], ['reinjected', 'uint', /reinjected/.test(b) ? 1n : 0n]];
    case 'sched_switch': {
      const m = /prev_comm=(.*) prev_pid=(\d+) prev_prio=(\d+) prev_state=(\S+) ==> next_comm=(.*) next_pid=(\d+) next_prio=(\d+)/.exec(b)!;
      let st = 0;
      for (const ch of m[4]!.split(/[|+]/)) st |= STATE_BITS[ch] ?? 0;
      if (m[4]!.endsWith('+')) st |= 0x100; // TASK_REPORT_MAX: preempted
      return [['prev_comm', 'str', m[1]!], ['prev_pid', 'int', BigInt(m[2]!)], ['prev_prio', 'int', BigInt(m[3]!)],
        ['prev_state', 'int', BigInt(st)], ['next_comm', 'str', m[5]!], ['next_pid', 'int', BigInt(m[6]!)], ['next_prio', 'int', BigInt(m[7]!)]];
    }
    case 'sched_wakeup':
    case 'sched_waking': {
      const m = /comm=(.*) pid=(\d+) prio=(\d+) target_cpu=(\d+)/.exec(b)!;
      return [['comm', 'str', m[1]!], ['pid', 'int', BigInt(m[2]!)], ['prio', 'int', BigInt(m[3]!)], ['success', 'int', 1n],
        ['target_cpu', 'int', BigInt(m[4]!)]];
    }
    default:
      return [['text', 'str', b]];
  }
}

/** FtraceEvent oneof fields whose typed proto keeps the kernel's fields (on x86 too). */
const TYPED: Record<string, number> = {
  sched_switch: 4, sched_wakeup: 17, sched_waking: 20, kvm_userspace_exit: 399, kvm_vcpu_wakeup: 400,
};
const TYPE_NAME: Record<number, string> = {
  4: 'SchedSwitchFtraceEvent', 17: 'SchedWakeupFtraceEvent', 20: 'SchedWakingFtraceEvent', 399: 'KvmUserspaceExitFtraceEvent',
  400: 'KvmVcpuWakeupFtraceEvent',
};

function objOf(fields: GenericField[], keep?: Set<string>): Record<string, string | number> {
  const o: Record<string, string | number> = {};
  for (const [n, , v] of fields) if (!keep || keep.has(n)) o[n] = typeof v === 'bigint' ? v.toString() : v;
  return o;
}

/** A tag + length-delimited payload. */
function ld(w: protobuf.Writer, field: number, bytes: Uint8Array): void {
  w.uint32(((field << 3) | 2) >>> 0).bytes(bytes);
}

/** Dense generic events: descriptor per event name, field ids from 65536. */
class DenseRegistry {
  private next = 65536;
  readonly byName = new Map<string, { id: number; kinds: FieldKind[]; names: string[]; descriptor: Uint8Array }>();
  get(name: string, fields: GenericField[]): { id: number; descriptor: Uint8Array } {
    let d = this.byName.get(name);
    if (!d) {
      const root = perfettoRoot();
      const DP = root.lookupType('perfetto.protos.DescriptorProto');
      const GED = root.lookupType('perfetto.protos.FtraceEventBundle.GenericEventDescriptor');
      const id = this.next++;
      const desc = DP.encode(DP.fromObject({
        name, field: fields.map(([n, k], i) => ({ name: n, number: i + 1, type: k === 'str' ? 9 : k === 'int' ? 3 : 4 })),
      })).finish();
      d = { id, kinds: fields.map((f) => f[1]), names: fields.map((f) => f[0]), descriptor: GED.encode(GED.fromObject({ field_id: id, event_descriptor: desc })).finish() };
      this.byName.set(name, d);
    }
    return d;
  }
  payload(fields: GenericField[]): Uint8Array {
    const w = protobuf.Writer.create();
    fields.forEach(([, k, v], i) => {
      const n = i + 1;
      if (k === 'str') w.uint32((n << 3) | 2).string(v as string);
      else if (k === 'int') w.uint32(n << 3).int64((v as bigint).toString());
      else w.uint32(n << 3).uint64((v as bigint).toString());
    });
    return w.finish();
  }
}

/** Encode events (in time order, as the text lists them) as a Perfetto trace. */
export function buildPerfetto(events: TextEvent[], opts: BuildOptions): Uint8Array {
  const root = perfettoRoot();
  const TP = root.lookupType('perfetto.protos.TracePacket');
  const CS = root.lookupType('perfetto.protos.FtraceEventBundle.CompactSched');
  const GEN = root.lookupType('perfetto.protos.GenericFtraceEvent');
  const PRINT = root.lookupType('perfetto.protos.PrintFtraceEvent');
  const T = (n: number): protobuf.Type => root.lookupType(`perfetto.protos.${TYPE_NAME[n]}`);
  const dense = new DenseRegistry();
  const packets: Uint8Array[] = [];

  // ---- process tree: every thread, named by its first comm of a decoded event (as the text readers name it) ----
  const KNOWN = new Set(['kvm_exit', 'kvm_entry', 'kvm_vcpu_wakeup', 'kvm_halt_poll_ns', 'kvm_wait_lapic_expire', 'kvm_msr',
    'kvm_pio', 'kvm_mmio', 'kvm_userspace_exit', 'sched_switch', 'sched_wakeup', 'sched_waking', 'kvm_ple_window_update']);
  const comm = new Map<number, string>();
  const tgid = new Map<number, number>();
  for (const e of events) {
    if (e.tid <= 0) continue;
    if (e.tgid > 0) tgid.set(e.tid, e.tgid);
    if (KNOWN.has(e.name) && !comm.has(e.tid)) comm.set(e.tid, e.comm);
  }
  for (const e of events) if (e.tid > 0 && !comm.has(e.tid)) comm.set(e.tid, e.comm);
  const pids = [...new Set([...tgid.values()])].sort((a, b) => a - b);
  packets.push(TP.encode(TP.fromObject({
    trusted_packet_sequence_id: 1,
    process_tree: {
      processes: pids.map((p) => ({ pid: p, ppid: 1, cmdline: [comm.get(p) ?? `pid${p}`] })),
      threads: [...comm.keys()].sort((a, b) => a - b).map((t) => ({ tid: t, tgid: tgid.get(t) ?? t, name: comm.get(t) })),
    },
  })).finish());

  // ---- bundles per drain period ----
  const seqOf: number[] = [1];
  const period = opts.periodNs ?? 10_000_000n;
  const bundleCount = new Map<number, number>();
  const flush = (pending: Map<number, TextEvent[]>): void => {
    for (const cpu of [...pending.keys()].sort((a, b) => a - b)) {
      const evs = pending.get(cpu)!;
      if (evs.length === 0) continue;
      const idx = bundleCount.get(cpu) ?? 0;
      bundleCount.set(cpu, idx + 1);
      const bw = protobuf.Writer.create();
      bw.uint32(1 << 3).uint32(cpu);
      if (opts.lostOn?.some(([c, i]) => c === cpu && i === idx)) bw.uint32(3 << 3).bool(true);
      const cs = { switch_timestamp: [] as string[], switch_prev_state: [] as string[], switch_next_pid: [] as number[],
        switch_next_prio: [] as number[], intern_table: [] as string[], switch_next_comm_index: [] as number[],
        waking_timestamp: [] as string[], waking_pid: [] as number[], waking_target_cpu: [] as number[], waking_prio: [] as number[],
        waking_comm_index: [] as number[], waking_common_flags: [] as number[] };
      const intern = (s: string): number => {
        let i = cs.intern_table.indexOf(s);
        if (i < 0) i = cs.intern_table.push(s) - 1;
        return i;
      };
      let lastSwitch = 0n, lastWaking = 0n;
      const descs = new Map<number, Uint8Array>();
      for (const e of evs) {
        const fields = kernelFields(e);
        const f = new Map(fields.map(([n, , v]) => [n, v]));
        if (opts.compactSched && e.name === 'sched_switch') {
          cs.switch_timestamp.push((e.ts - lastSwitch).toString());
          lastSwitch = e.ts;
          cs.switch_prev_state.push((f.get('prev_state') as bigint).toString());
          cs.switch_next_pid.push(Number(f.get('next_pid')));
          cs.switch_next_prio.push(Number(f.get('next_prio')));
          cs.switch_next_comm_index.push(intern(f.get('next_comm') as string));
          continue;
        }
        if (opts.compactSched && (e.name === 'sched_wakeup' || e.name === 'sched_waking')) {
          cs.waking_timestamp.push((e.ts - lastWaking).toString());
          lastWaking = e.ts;
          cs.waking_pid.push(Number(f.get('pid')));
          cs.waking_target_cpu.push(Number(f.get('target_cpu')));
          cs.waking_prio.push(Number(f.get('prio')));
          cs.waking_comm_index.push(intern(f.get('comm') as string));
          cs.waking_common_flags.push(1);
          continue;
        }
        const ew = protobuf.Writer.create();
        ew.uint32(1 << 3).uint64(e.ts.toString());
        ew.uint32(2 << 3).uint32(e.tid);
        if (e.name === 'tracing_mark_write') {
          ld(ew, 3, PRINT.encode(PRINT.fromObject({ ip: 0, buf: `${e.body}\n` })).finish());
        } else if (TYPED[e.name] !== undefined) {
          const n = TYPED[e.name]!;
          const t = T(n);
          ld(ew, n, t.encode(t.fromObject(objOf(fields, new Set(t.fieldsArray.map((x) => x.name))))).finish());
        } else if (opts.typedKvm && (e.name === 'kvm_exit' || e.name === 'kvm_entry')) {
          // Perfetto's KvmExitFtraceEvent / KvmEntryFtraceEvent have arm64's fields (ret, esr_ec, vcpu_pc): an arm64
          // event keeps them all, an x86 one none
          const n = e.name === 'kvm_exit' ? 377 : 376;
          const t = root.lookupType(`perfetto.protos.${n === 377 ? 'KvmExitFtraceEvent' : 'KvmEntryFtraceEvent'}`);
          ld(ew, n, t.encode(t.fromObject(objOf(fields, new Set(t.fieldsArray.map((x) => x.name))))).finish());
        } else if (opts.generic === 'dense') {
          const d = dense.get(e.name, fields);
          descs.set(d.id, d.descriptor);
          ld(ew, d.id, dense.payload(fields));
        } else {
          ld(ew, 327, GEN.encode(GEN.fromObject({
            event_name: e.name,
            field: fields.map(([n, k, v]) => (k === 'str' ? { name: n, str_value: v } : k === 'int' ? { name: n, int_value: String(v) } : { name: n, uint_value: String(v) })),
          })).finish());
        }
        ld(bw, 2, ew.finish());
      }
      if (cs.switch_timestamp.length > 0 || cs.waking_timestamp.length > 0) ld(bw, 4, CS.encode(CS.fromObject(cs)).finish());
      for (const d of descs.values()) ld(bw, 11, d);
      const pw = protobuf.Writer.create();
      ld(pw, 1, bw.finish());
      pw.uint32(10 << 3).uint32(cpu + 2);
      packets.push(pw.finish());
      seqOf.push(cpu + 2);
    }
    pending.clear();
  };
  const pending = new Map<number, TextEvent[]>();
  let windowEnd = events.length > 0 ? events[0]!.ts + period : 0n;
  for (const e of events) {
    while (e.ts >= windowEnd) {
      flush(pending);
      windowEnd += period;
    }
    let l = pending.get(e.cpu);
    if (!l) pending.set(e.cpu, (l = []));
    l.push(e);
  }
  flush(pending);
  if (opts.bySequence) {
    const order = packets.map((_, i) => i).sort((a, b) => seqOf[a]! - seqOf[b]! || a - b);
    const copy = order.map((i) => packets[i]!);
    packets.splice(0, packets.length, ...copy);
  }

  // ---- the Trace: packets (field 1), or compressed groups of them ----
  const trace = (pk: Uint8Array[]): Uint8Array => {
    const w = protobuf.Writer.create();
    for (const p of pk) ld(w, 1, p);
    return w.finish();
  };
  if (!opts.compress) return trace(packets);
  const outer: Uint8Array[] = [];
  for (let i = 0; i < packets.length; i += 8) {
    const pw = protobuf.Writer.create();
    const inner = trace(packets.slice(i, i + 8));
    if (opts.compress === 'zstd') {
      if (!opts.zstd) throw new Error('compress: zstd needs a zstd compressor');
      ld(pw, 133, opts.zstd(inner));
    } else ld(pw, 50, deflateSync(inner));
    outer.push(pw.finish());
  }
  return trace(outer);
}

/** Top-level packet starts (field 1, length-delimited) and the start of each packet's payload: the fuzzers' structure points. */
export function packetShape(bytes: Uint8Array): { bytes: Uint8Array; points: number[] } {
  const pts: number[] = [];
  let p = 0;
  while (p < bytes.length && bytes[p] === 0x0a) {
    pts.push(p);
    let q = p + 1, len = 0, shift = 0;
    for (;;) {
      const c = bytes[q++]!;
      len += (c & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(c & 0x80) || q >= bytes.length) break;
    }
    pts.push(q);
    p = q + len;
  }
  return { bytes, points: pts };
}
