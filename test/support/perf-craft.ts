/**
 * Builder of small synthetic perf.data files (file mode and pipe mode, either byte order) for the crafted tests
 * of the perf.data reader. Layouts: tools/perf/Documentation/perf.data-file-format.txt and perf_event.h; the
 * event formats are the ones of the svm captures' L1 kernel (l1-info.txt), cut to the fields used.
 */

export const S_IP = 1 << 0;
export const S_TID = 1 << 1;
export const S_TIME = 1 << 2;
export const S_ADDR = 1 << 3;
export const S_READ = 1 << 4;
export const S_CALLCHAIN = 1 << 5;
export const S_ID = 1 << 6;
export const S_CPU = 1 << 7;
export const S_PERIOD = 1 << 8;
export const S_STREAM_ID = 1 << 9;
export const S_RAW = 1 << 10;
export const S_IDENTIFIER = 1 << 16;
export const RF_TOTAL_TIME_ENABLED = 1;
export const RF_TOTAL_TIME_RUNNING = 2;
export const RF_ID = 4;
export const RF_GROUP = 8;
export const RF_LOST = 16;

export const ID_KVM_EXIT = 1419;
export const ID_KVM_ENTRY = 1428;
export const ID_SCHED_SWITCH = 316;

const COMMON = `\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;
`;

export const FORMATS: { system: string; text: string }[] = [
  {
    system: 'kvm',
    text: `name: kvm_exit\nID: ${ID_KVM_EXIT}\nformat:\n${COMMON}
\tfield:unsigned int exit_reason;\toffset:8;\tsize:4;\tsigned:0;
\tfield:unsigned long guest_rip;\toffset:16;\tsize:8;\tsigned:0;
\tfield:u32 isa;\toffset:24;\tsize:4;\tsigned:0;
\tfield:u64 info1;\toffset:32;\tsize:8;\tsigned:0;
\tfield:u64 info2;\toffset:40;\tsize:8;\tsigned:0;
\tfield:u32 intr_info;\toffset:48;\tsize:4;\tsigned:0;
\tfield:u32 error_code;\toffset:52;\tsize:4;\tsigned:0;
\tfield:unsigned int vcpu_id;\toffset:56;\tsize:4;\tsigned:0;

print fmt: "vcpu %u reason %s rip 0x%lx", REC->vcpu_id, __print_symbolic(REC->exit_reason, { 0x078, "hlt" }, { 0x07c, "msr" }, { 0x400, "npf" }), REC->guest_rip
`,
  },
  {
    system: 'kvm',
    text: `name: kvm_entry\nID: ${ID_KVM_ENTRY}\nformat:\n${COMMON}
\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;
\tfield:unsigned long rip;\toffset:16;\tsize:8;\tsigned:0;
\tfield:bool immediate_exit;\toffset:24;\tsize:1;\tsigned:0;

print fmt: "vcpu %u, rip 0x%lx%s", REC->vcpu_id, REC->rip, REC->immediate_exit ? "[immediate exit]" : ""
`,
  },
  {
    system: 'sched',
    text: `name: sched_switch\nID: ${ID_SCHED_SWITCH}\nformat:\n${COMMON}
\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;
\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;
\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;
\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;
\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;
\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;

print fmt: "prev_comm=%s prev_pid=%d ==> next_comm=%s next_pid=%d", REC->prev_comm, REC->prev_pid, REC->next_comm, REC->next_pid
`,
  },
];

/** A little byte writer in one byte order. */
export class W {
  private a: number[] = [];
  constructor(readonly le: boolean) {}
  get length(): number {
    return this.a.length;
  }
  u8(v: number): this {
    this.a.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.int(BigInt(v), 2);
  }
  u32(v: number): this {
    return this.int(BigInt(v >>> 0), 4);
  }
  u64(v: number | bigint): this {
    return this.int(BigInt.asUintN(64, BigInt(v)), 8);
  }
  private int(v: bigint, n: number): this {
    const bytes: number[] = [];
    for (let i = 0; i < n; i++) bytes.push(Number((v >> BigInt(8 * i)) & 0xffn));
    if (!this.le) bytes.reverse();
    this.a.push(...bytes);
    return this;
  }
  bytes(b: Uint8Array | number[]): this {
    for (const x of b) this.a.push(x);
    return this;
  }
  str(s: string, nul = true): this {
    this.bytes(new TextEncoder().encode(s));
    if (nul) this.a.push(0);
    return this;
  }
  pad(to: number): this {
    while (this.a.length % to) this.a.push(0);
    return this;
  }
  zeros(n: number): this {
    for (let i = 0; i < n; i++) this.a.push(0);
    return this;
  }
  /** overwrite an integer at a position */
  setU16(at: number, v: number): this {
    const b = [v & 0xff, (v >> 8) & 0xff];
    if (!this.le) b.reverse();
    this.a[at] = b[0]!;
    this.a[at + 1] = b[1]!;
    return this;
  }
  out(): Uint8Array {
    return Uint8Array.from(this.a);
  }
}

/** A raw tracepoint record of kvm_exit (SVM, isa 2). */
export function rawKvmExit(le: boolean, pid: number, reason: number, rip: bigint, vcpu: number): Uint8Array {
  return new W(le).u16(ID_KVM_EXIT).u8(0).u8(0).u32(pid).u32(reason).u32(0).u64(rip).u32(2).u32(0)
    .u64(0).u64(0).u32(0).u32(0).u32(vcpu).u32(0).out();
}

export function rawKvmEntry(le: boolean, pid: number, rip: bigint, vcpu: number): Uint8Array {
  return new W(le).u16(ID_KVM_ENTRY).u8(0).u8(0).u32(pid).u32(vcpu).u32(0).u64(rip).u8(0).zeros(7).out();
}

function comm16(s: string): number[] {
  const b = Array.from(new TextEncoder().encode(s)).slice(0, 15);
  while (b.length < 16) b.push(0);
  return b;
}

export function rawSchedSwitch(le: boolean, prev: number, prevComm: string, next: number, nextComm: string): Uint8Array {
  return new W(le).u16(ID_SCHED_SWITCH).u8(0).u8(0).u32(prev).bytes(comm16(prevComm)).u32(prev).u32(120).u64(1)
    .bytes(comm16(nextComm)).u32(next).u32(120).out();
}

export interface CraftAttr {
  type?: number;
  config: number;
  sampleType: number;
  readFormat?: number;
  sampleIdAll?: boolean;
  ids: number[];
  name?: string;
  /** sample_period (sample_freq with `freq`); default 1 */
  period?: number;
  /** attr.freq: perf record -F */
  freq?: boolean;
}

export interface CraftSample {
  id?: number;
  ip?: bigint;
  pid?: number;
  tid?: number;
  time?: bigint;
  addr?: bigint;
  streamId?: bigint;
  cpu?: number;
  period?: bigint;
  /** READ values: one (non-group) or several (group) */
  read?: { value: bigint; id?: number; lost?: bigint }[];
  callchain?: bigint[];
  raw?: Uint8Array;
  misc?: number;
}

/** sample_id trailer values of non-sample records */
export interface SampleId {
  pid?: number;
  tid?: number;
  time?: bigint;
  id?: number;
  cpu?: number;
}

export class PerfCraft {
  attrs: CraftAttr[] = [];
  records: Uint8Array[] = [];
  hostname = 'crafthost';
  osRelease = '6.1.0-test';
  cmdline = ['/usr/bin/perf', 'record', '-e', 'kvm:kvm_exit', '-e', 'kvm:kvm_entry'];
  nrCpus = 4;
  withTracing = true;
  savedCmdlines = '';
  /** HEADER_DIR_FORMAT (feature 24, u64 version): the header file of a directory recording (perf record --threads) */
  dirVersion = 0;

  constructor(readonly le = true) {}

  attr(a: CraftAttr): this {
    this.attrs.push(a);
    return this;
  }

  /** the perf_event_attr (128 bytes, PERF_ATTR_SIZE_VER7) */
  attrBytes(a: CraftAttr): Uint8Array {
    const w = new W(this.le);
    w.u32(a.type ?? 2).u32(128).u64(a.config).u64(BigInt(a.period ?? 1)).u64(a.sampleType).u64(a.readFormat ?? 0);
    const flagsAt = w.length;
    w.u64(0).zeros(128 - 48);
    const b = w.out();
    // bitfields: sample_id_all = bit 18; LE: byte 2 bit 2, BE: byte 2 bit 5 (bits allocated from the MSB)
    if (a.sampleIdAll ?? true) b[flagsAt + 2]! |= this.le ? 1 << 2 : 1 << 5;
    // freq = bit 10: byte 1, bit 2 (LE) or bit 5 (BE)
    if (a.freq) b[flagsAt + 1]! |= this.le ? 1 << 2 : 1 << 5;
    return b;
  }

  /** append a record with the given payload (header added here) */
  record(type: number, payload: Uint8Array, misc = 0): this {
    const w = new W(this.le).u32(type).u16(misc).u16(8 + payload.length).bytes(payload);
    this.records.push(w.out());
    return this;
  }

  sample(attrIndex: number, s: CraftSample): this {
    const a = this.attrs[attrIndex]!;
    const st = a.sampleType;
    const rf = a.readFormat ?? 0;
    const id = s.id ?? a.ids[0] ?? 0;
    const w = new W(this.le);
    if (st & S_IDENTIFIER) w.u64(id);
    if (st & S_IP) w.u64(s.ip ?? 0xffffffff81000000n);
    if (st & S_TID) w.u32(s.pid ?? 0).u32(s.tid ?? 0);
    if (st & S_TIME) w.u64(s.time ?? 0n);
    if (st & S_ADDR) w.u64(s.addr ?? 0n);
    if (st & S_ID) w.u64(id);
    if (st & S_STREAM_ID) w.u64(s.streamId ?? 0n);
    if (st & S_CPU) w.u32(s.cpu ?? 0).u32(0);
    if (st & S_PERIOD) w.u64(s.period ?? 1n);
    if (st & S_READ) {
      const vals = s.read ?? [{ value: 1n }];
      if (rf & RF_GROUP) {
        w.u64(vals.length);
        if (rf & RF_TOTAL_TIME_ENABLED) w.u64(111);
        if (rf & RF_TOTAL_TIME_RUNNING) w.u64(222);
        for (const v of vals) {
          w.u64(v.value);
          if (rf & RF_ID) w.u64(v.id ?? id);
          if (rf & RF_LOST) w.u64(v.lost ?? 0n);
        }
      } else {
        w.u64(vals[0]!.value);
        if (rf & RF_TOTAL_TIME_ENABLED) w.u64(111);
        if (rf & RF_TOTAL_TIME_RUNNING) w.u64(222);
        if (rf & RF_ID) w.u64(id);
        if (rf & RF_LOST) w.u64(vals[0]!.lost ?? 0n);
      }
    }
    if (st & S_CALLCHAIN) {
      const cc = s.callchain ?? [];
      w.u64(cc.length);
      for (const ip of cc) w.u64(ip);
    }
    if (st & S_RAW) {
      const raw = s.raw ?? new Uint8Array(0);
      // the kernel pads the raw data so that u32 size + data keep the record 8-byte aligned
      const padded = ((raw.length + 4 + 7) & ~7) - 4;
      w.u32(padded).bytes(raw).zeros(padded - raw.length);
    }
    return this.record(9, w.out(), s.misc ?? 2);
  }

  private trailer(w: W, sid: SampleId): void {
    const a = this.attrs[0];
    if (!a || !(a.sampleIdAll ?? true)) return;
    const st = a.sampleType;
    if (st & S_TID) w.u32(sid.pid ?? 0).u32(sid.tid ?? 0);
    if (st & S_TIME) w.u64(sid.time ?? 0n);
    if (st & S_ID) w.u64(sid.id ?? a.ids[0] ?? 0);
    if (st & S_STREAM_ID) w.u64(0);
    if (st & S_CPU) w.u32(sid.cpu ?? 0).u32(0);
    if (st & S_IDENTIFIER) w.u64(sid.id ?? a.ids[0] ?? 0);
  }

  comm(pid: number, tid: number, comm: string, sid: SampleId = {}): this {
    const w = new W(this.le).u32(pid).u32(tid).str(comm).pad(8);
    this.trailer(w, { pid, tid, ...sid });
    return this.record(3, w.out());
  }

  fork(pid: number, ppid: number, tid: number, ptid: number, time: bigint, sid: SampleId = {}): this {
    const w = new W(this.le).u32(pid).u32(ppid).u32(tid).u32(ptid).u64(time);
    this.trailer(w, { pid, tid, time, ...sid });
    return this.record(7, w.out());
  }

  lost(id: number, count: number, sid: SampleId = {}): this {
    const w = new W(this.le).u64(id).u64(count);
    this.trailer(w, sid);
    return this.record(2, w.out());
  }

  lostSamples(count: number, sid: SampleId = {}): this {
    const w = new W(this.le).u64(count);
    this.trailer(w, sid);
    return this.record(13, w.out());
  }

  round(): this {
    return this.record(68, new Uint8Array(0));
  }

  tracingData(): Uint8Array {
    const w = new W(this.le);
    w.bytes([0x17, 0x08, 0x44]).str('tracing', false).str('0.6').u8(this.le ? 0 : 1).u8(8).u32(4096);
    const hp = '\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n';
    w.str('header_page').u64(hp.length).str(hp, false);
    const he = '# compressed entry header\n';
    w.str('header_event').u64(he.length).str(he, false);
    w.u32(0); // ftrace formats
    const systems = [...new Set(FORMATS.map(f => f.system))];
    w.u32(systems.length);
    for (const sys of systems) {
      const fs = FORMATS.filter(f => f.system === sys);
      w.str(sys).u32(fs.length);
      for (const f of fs) {
        const b = new TextEncoder().encode(f.text);
        w.u64(b.length).bytes(b);
      }
    }
    w.u32(0); // kallsyms
    w.u32(0); // printk
    const sc = new TextEncoder().encode(this.savedCmdlines);
    w.u64(sc.length).bytes(sc);
    return w.out();
  }

  private headerString(w: W, s: string): void {
    const b = new TextEncoder().encode(s);
    const len = (b.length + 1 + 7) & ~7;
    w.u32(len).bytes(b).zeros(len - b.length);
  }

  /** feature payloads, by feature bit */
  features(): Map<number, Uint8Array> {
    const f = new Map<number, Uint8Array>();
    if (this.withTracing) f.set(1, this.tracingData());
    let w = new W(this.le);
    this.headerString(w, this.hostname);
    f.set(3, w.out());
    w = new W(this.le);
    this.headerString(w, this.osRelease);
    f.set(4, w.out());
    f.set(7, new W(this.le).u32(this.nrCpus).u32(this.nrCpus - 1).out());
    w = new W(this.le).u32(this.cmdline.length);
    for (const s of this.cmdline) this.headerString(w, s);
    f.set(11, w.out());
    w = new W(this.le).u32(this.attrs.length).u32(128);
    for (const a of this.attrs) {
      w.bytes(this.attrBytes(a)).u32(a.ids.length);
      this.headerString(w, a.name ?? '');
      for (const id of a.ids) w.u64(id);
    }
    f.set(12, w.out());
    if (this.dirVersion) f.set(24, new W(this.le).u64(BigInt(this.dirVersion)).out());
    return f;
  }

  /** The records only, concatenated: a data.N file of a directory recording. */
  buildRecords(): Uint8Array {
    const out = new Uint8Array(this.records.reduce((n, r) => n + r.length, 0));
    let o = 0;
    for (const r of this.records) { out.set(r, o); o += r.length; }
    return out;
  }

  buildFile(): Uint8Array {
    const feats = this.features();
    // the magic is the u64 0x32454c4946524550 in the writer's byte order: "PERFILE2" or "2ELIFREP"
    const magic = new TextEncoder().encode('PERFILE2');
    const w = new W(this.le).bytes(this.le ? magic : magic.slice().reverse());
    const HEADER = 104;
    const idsStart = HEADER;
    const idsOffsets: number[] = [];
    let o = idsStart;
    for (const a of this.attrs) {
      idsOffsets.push(o);
      o += a.ids.length * 8;
    }
    const attrsOff = o;
    const attrSize = 128 + 16;
    const attrsSize = this.attrs.length * attrSize;
    const dataOff = attrsOff + attrsSize;
    const data = this.records.reduce((n, r) => n + r.length, 0);
    const bits = [...feats.keys()].sort((x, y) => x - y);
    w.u64(HEADER).u64(attrSize).u64(attrsOff).u64(attrsSize).u64(dataOff).u64(data).u64(0).u64(0);
    const words = [0n, 0n, 0n, 0n];
    for (const b of bits) words[b >> 6]! |= 1n << BigInt(b & 63);
    for (const x of words) w.u64(x);
    for (const a of this.attrs) for (const id of a.ids) w.u64(id);
    this.attrs.forEach((a, i) => {
      w.bytes(this.attrBytes(a)).u64(idsOffsets[i]!).u64(a.ids.length * 8);
    });
    for (const r of this.records) w.bytes(r);
    const featTable = dataOff + data;
    let payloadOff = featTable + bits.length * 16;
    for (const b of bits) {
      w.u64(payloadOff).u64(feats.get(b)!.length);
      payloadOff += feats.get(b)!.length;
    }
    for (const b of bits) w.bytes(feats.get(b)!);
    return w.out();
  }

  buildPipe(): Uint8Array {
    const le = this.le;
    const w = new W(le);
    const magic = new TextEncoder().encode('PERFILE2');
    w.bytes(le ? magic : magic.slice().reverse()).u64(16);
    const rec = (type: number, body: Uint8Array): void => {
      w.u32(type).u16(0).u16(8 + body.length).bytes(body);
    };
    for (const a of this.attrs) {
      const b = new W(le).bytes(this.attrBytes(a));
      for (const id of a.ids) b.u64(id);
      rec(64, b.out());
    }
    const feats = this.features();
    for (const [bit, payload] of feats) {
      if (bit === 1) continue;
      rec(80, new W(le).u64(bit).bytes(payload).out());
    }
    if (feats.has(1)) {
      const td = feats.get(1)!;
      const padded = (td.length + 7) & ~7;
      rec(66, new W(le).u32(padded).u32(0).out());
      w.bytes(td).zeros(padded - td.length);
    }
    for (const r of this.records) w.bytes(r);
    return w.out();
  }
}
