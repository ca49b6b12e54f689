/**
 * Hand-made trace.dat files for tests: records of kvm_exit/kvm_entry, sched_switch/sched_wakeup,
 * task_newtask and sched_process_exec at chosen raw times, packed into ring-buffer pages (time deltas, time
 * extends where a delta does not fit 27 bits, lost-events flags) and written by kvmtax record's writers as v6
 * or v7 (plain, zstd or zlib chunks). The header texts and event formats are those of the real capture
 * traces/svm-D-small (AMD, kernel 6.1: kvm_exit has isa, the sched events their comm fields).
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { traceDatParts } from '../../src/formats/tracedat/reader.js';
import { writeTraceDatV6, type TraceDatContent } from '../../src/record/tracedat-writer.js';
import { writeTraceDatV7, loadZstd, type Compressor } from '../../src/record/tracedat-v7.js';
import { openSource } from '../../src/formats/source.js';
import { TRACES, tmpTrace } from './paths.js';

/** One record at raw time ts (and, for a page that starts with it, events lost before that page). */
export interface Rec { ts: bigint; data: Uint8Array; lostBefore?: number }

const ID = { exit: 1419, entry: 1428, sw: 319, wake: 321, newtask: 132, exec: 312, vwake: 1358, hpns: 1345 };

class B {
  private b: number[] = [];
  u8(v: number): this { this.b.push(v & 0xff); return this; }
  u16(v: number): this { return this.u8(v).u8(v >> 8); }
  u32(v: number): this { return this.u16(v & 0xffff).u16(v >>> 16); }
  u64(v: bigint): this { return this.u32(Number(v & 0xffffffffn)).u32(Number((v >> 32n) & 0xffffffffn)); }
  str(s: string, n: number): this { const e = new TextEncoder().encode(s); for (let i = 0; i < n; i++) this.u8(e[i] ?? 0); return this; }
  raw(x: Uint8Array): this { for (const v of x) this.b.push(v); return this; }
  pad4(): this { while (this.b.length % 4) this.b.push(0); return this; }
  bytes(): Uint8Array { return Uint8Array.from(this.b); }
}
const common = (id: number, pid: number): B => new B().u16(id).u8(0).u8(0).u32(pid);

/** Records, by event (SVM exit codes: 0x78 hlt, 0x7c msr, 0x7b io, 0x60 interrupt). */
export const rec = {
  exit: (pid: number, reason: number, vcpu: number): Uint8Array =>
    common(ID.exit, pid).u32(reason).u32(0).u64(0xffffffff81000000n).u32(2).u32(0).u64(0n).u64(0n).u32(0).u32(0).u32(vcpu).u32(0).bytes(),
  entry: (pid: number, vcpu: number): Uint8Array => common(ID.entry, pid).u32(vcpu).u32(0).u64(0xffffffff81000000n).u8(0).pad4().bytes(),
  /** prev_state 0 = R (preempted), 1 = S */
  switch: (prevComm: string, prev: number, prevState: number, nextComm: string, next: number): Uint8Array =>
    common(ID.sw, prev).str(prevComm, 16).u32(prev).u32(120).u64(BigInt(prevState)).str(nextComm, 16).u32(next).u32(120).bytes(),
  wakeup: (waker: number, comm: string, pid: number, cpu: number): Uint8Array => common(ID.wake, waker).str(comm, 16).u32(pid).u32(120).u32(cpu).bytes(),
  /** CLONE_THREAD = 0x10000 */
  newtask: (parent: number, child: number, comm: string, flags: number): Uint8Array =>
    common(ID.newtask, parent).u32(child).str(comm, 16).u32(0).u64(BigInt(flags)).u16(0).pad4().bytes(),
  /** kvm_vcpu_wakeup: the halt's time, waited (blocked) or polled */
  vcpuWakeup: (pid: number, ns: bigint, waited: boolean): Uint8Array => common(ID.vwake, pid).u64(ns).u8(waited ? 1 : 0).u8(1).pad4().bytes(),
  /** kvm_halt_poll_ns: the poll window grew or shrank (at the end of a halt, before its kvm_vcpu_wakeup) */
  haltPollNs: (pid: number, vcpu: number, grow: boolean, nw: number, old: number): Uint8Array =>
    common(ID.hpns, pid).u8(grow ? 1 : 0).u8(0).u16(0).u32(vcpu).u32(nw).u32(old).bytes(),
  exec: (pid: number, filename: string): Uint8Array => {
    const f = new TextEncoder().encode(`${filename}\0`);
    return common(ID.exec, pid).u32((f.length << 16) | 20).u32(pid).u32(pid).raw(f).pad4().bytes();
  },
};

/** Records (in time order) into 4 KiB pages of at most `perPage` records each. */
export function pages(recs: Rec[], perPage = 1000): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < recs.length;) {
    const first = recs[i]!;
    const d = new B();
    let prev = first.ts, n = 0, len = 0;
    for (; i < recs.length && n < perPage; i++, n++) {
      const r = recs[i]!;
      if (n > 0 && r.lostBefore !== undefined) break;
      const ev = new B();
      let delta = r.ts - prev;
      if (delta >= 1n << 27n) { ev.u32(Number(((delta & 0x7ffffffn) << 5n) | 30n)).u32(Number(delta >> 27n)); delta = 0n; }
      const words = r.data.length / 4;
      if (words >= 1 && words <= 28) ev.u32(Number((delta << 5n) | BigInt(words))).raw(r.data);
      else ev.u32(Number(delta << 5n)).u32(r.data.length + 4).raw(r.data);
      const e = ev.bytes();
      if (len + e.length > 4096 - 16 - 8) break;
      d.raw(e);
      len += e.length;
      prev = r.ts;
    }
    const data = d.bytes();
    let flags = data.length;
    if (first.lostBefore !== undefined) flags = (flags | 0x80000000 | 0x40000000) >>> 0;
    const p = new B().u64(first.ts).u64(BigInt(flags)).raw(data);
    if (first.lostBefore !== undefined) p.u64(BigInt(first.lostBefore));
    const page = new Uint8Array(4096);
    page.set(p.bytes());
    out.push(page);
  }
  return out;
}

let base: ReturnType<typeof traceDatParts> | undefined;
async function baseParts(): Promise<ReturnType<typeof traceDatParts>> {
  if (!base) {
    const src = await openSource(path.join(TRACES, 'svm-D-small/trace.dat.xz'));
    const parts: Buffer[] = [];
    const buf = Buffer.alloc(1 << 20);
    for (let n; (n = await src.read(buf, 0, buf.length)) > 0;) parts.push(Buffer.from(buf.subarray(0, n)));
    src.close();
    const f = tmpTrace(Buffer.concat(parts), 'svm-D-small.dat');
    base = traceDatParts(f);
    fs.rmSync(path.dirname(f), { recursive: true, force: true });
  }
  return base;
}

export const zlibCompressor: Compressor = { name: 'zlib', version: '1.2.13', compress: (d) => zlib.deflateSync(d) };

/**
 * A trace.dat of these pages per CPU: v6 plain, or v7 (plain, 'zstd' or 'zlib' chunks of 32 pages), with saved
 * cmdlines ("pid comm" lines) and saved tgids ("tid tgid" lines).
 */
export async function craftTraceDat(cpus: Uint8Array[][], o: { version?: 6 | 7; compress?: 'zstd' | 'zlib'; cmdlines?: string; tgids?: string; name?: string } = {}): Promise<string> {
  const p = await baseParts();
  const content: TraceDatContent = {
    pageSize: 4096, headerPage: p.headerPage, headerEvent: p.headerEvent, formats: p.formats, cmdlines: o.cmdlines ?? '',
    tgids: o.tgids, clock: 'global', cpus: cpus.map((pgs, cpu) => ({ cpu, pages: pgs })),
  };
  const out = tmpTrace('', o.name ?? 'crafted.dat');
  if ((o.version ?? 6) === 6) writeTraceDatV6(out, content);
  else writeTraceDatV7(out, content, { compressor: o.compress === 'zstd' ? await loadZstd() : o.compress === 'zlib' ? zlibCompressor : undefined });
  return out;
}
