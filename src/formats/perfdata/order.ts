/**
 * perf's ordering of the records of a perf.data (tools/perf/util/ordered-events.c), for the TypeScript path:
 * records with a timestamp wait in a queue; at each FINISHED_ROUND the ones not later than the newest time
 * seen before the PREVIOUS round are delivered sorted by (time, file order); without rounds the queue is
 * half-flushed by time at its bound, as perf does at its memory limit; the rest comes at the end. The RAW
 * data of queued samples is kept in an arena that is compacted after each flush.
 * (The core path does the same inside the WebAssembly core: assembly/perfdata.ts.)
 */
import type { Attr } from './header.js';

/** A queued record: what delivery needs, decoded when the record was read. */
export interface Entry {
  ts: bigint;
  /** ts as a number, for a fast sort while every time in the file is below 2^53 ns (104 days of uptime) */
  tsn: number;
  seq: number;
  rec: number; // REC_* type
  attr: Attr | null;
  pid: number;
  tid: number;
  cpu: number;
  /** RAW data: offset in the queue arena (-1 = none) and size; LOST: the count */
  off: number;
  len: number;
  where: number;
  str: string;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export class RoundQueue {
  private queue: Entry[] = [];
  private bigTimes = false;
  private seq = 0;
  private maxTs = 0n;
  private nextFlush = 0n;
  arena = new Uint8Array(1 << 16);
  arenaView = new DataView(this.arena.buffer);
  private arenaUsed = 0;
  private spare = new Uint8Array(1 << 16);

  constructor(private readonly maxQueued: number, private readonly deliver: (e: Entry) => void) {}

  /** The file-order number of the next record. */
  nextSeq(): number {
    return this.seq++;
  }

  /** End of the data: everything still queued, in time order. */
  flushAll(): void {
    if (this.queue.length > 0) this.flushUpTo(0xffffffffffffffffn);
  }


  /** Room for `n` bytes of RAW data in the arena; returns its offset. */
  alloc(n: number): number {
    if (this.arenaUsed + n > this.arena.length) {
      let cap = this.arena.length * 2;
      while (cap < this.arenaUsed + n) cap *= 2;
      const na = new Uint8Array(cap);
      na.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = na;
      this.arenaView = new DataView(na.buffer);
    }
    const o = this.arenaUsed;
    this.arenaUsed += n;
    return o;
  }

  /** Queue a record with a usable time. */
  push(e: Entry): void {
    e.tsn = Number(e.ts);
    if (e.ts > MAX_SAFE) this.bigTimes = true;
    this.queue.push(e);
    if (e.ts > this.maxTs) this.maxTs = e.ts;
    if (this.queue.length >= this.maxQueued) this.flushHalf();
  }

  /** FINISHED_ROUND: deliver what is not later than the newest time seen before the previous round. */
  round(): void {
    const limit = this.nextFlush;
    if (limit !== 0n) this.flushUpTo(limit);
    this.nextFlush = this.maxTs;
  }

  /** The queue is full (no rounds in the file): deliver its older half by time, as perf does at its memory limit. */
  private flushHalf(): void {
    let lo = this.queue[0]!.ts;
    let hi = lo;
    for (const e of this.queue) {
      if (e.ts < lo) lo = e.ts;
      if (e.ts > hi) hi = e.ts;
    }
    this.flushUpTo(lo + (hi - lo) / 2n);
  }

  private flushUpTo(limit: bigint): void {
    const q = this.queue;
    if (q.length === 0) return;
    if (this.bigTimes) q.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.seq - b.seq));
    else q.sort((a, b) => a.tsn - b.tsn || a.seq - b.seq);
    let k = 0;
    while (k < q.length && q[k]!.ts <= limit) {
      this.deliver(q[k]!);
      k++;
    }
    if (k === 0) return;
    const rest = q.slice(k);
    this.queue = rest;
    // compact the arena: copy the raw data of the records still waiting
    let need = 0;
    for (const e of rest) if (e.off >= 0) need += e.len;
    if (this.spare.length < need) this.spare = new Uint8Array(Math.max(need, this.spare.length * 2));
    let o = 0;
    for (const e of rest) {
      if (e.off < 0) continue;
      this.spare.set(this.arena.subarray(e.off, e.off + e.len), o);
      e.off = o;
      o += e.len;
    }
    const t = this.arena;
    this.arena = this.spare;
    this.spare = t;
    this.arenaView = new DataView(this.arena.buffer);
    this.arenaUsed = o;
  }
}
