import type { EventSink } from '../../src/core/sink.js';

/** One pushed event, as recorded by CollectSink. */
export interface PushedEvent {
  kind: number;
  ts: bigint;
  tid: number;
  tgid: number;
  cpu: number;
  vcpu: number;
  a: bigint;
  b: bigint;
  c: number;
  name: number;
  where: number;
}

/**
 * A fake EventSink for tests: records every call into arrays. reasonKey interns "isa:code" (e.g. "1:12",
 * "2:1024") so tests can recover the (isa, code) pair of a kvm_exit with reasonOf().
 */
export class CollectSink implements EventSink {
  files: { name: string; clock: number }[] = [];
  strings: string[] = [];
  private ids = new Map<string, number>();
  events: PushedEvent[] = [];
  threads: { tid: number; tgid: number; comm: string }[] = [];
  skips: { kind: number; where: number; excerpt: string }[] = [];
  reasonCalls = 0;
  internCalls = 0;
  /** when false, push() only counts (for big files) */
  keep = true;
  count = 0;
  countsByName = new Map<string, number>();
  onPush?: (e: PushedEvent) => void;

  beginFile(name: string, clock: number): void {
    this.files.push({ name, clock });
  }
  intern(s: string): number {
    this.internCalls++;
    return this.id(s);
  }
  private id(s: string): number {
    let v = this.ids.get(s);
    if (v === undefined) {
      v = this.strings.length;
      this.strings.push(s);
      this.ids.set(s, v);
    }
    return v;
  }
  reasonKey(isa: number, code: number): number {
    this.reasonCalls++;
    return this.id(`${isa}:${code}`);
  }
  push(kind: number, ts: bigint, tid: number, tgid: number, cpu: number, vcpu: number,
       a: bigint, b: bigint, c: number, name: number, where: number): void {
    this.count++;
    const n = this.strings[name] ?? `#${name}`;
    this.countsByName.set(n, (this.countsByName.get(n) ?? 0) + 1);
    if (!this.keep && !this.onPush) return;
    const e: PushedEvent = { kind, ts, tid, tgid, cpu, vcpu, a, b, c, name, where };
    if (this.onPush) this.onPush(e);
    if (this.keep) this.events.push(e);
  }
  nameThread(tid: number, tgid: number, comm: string): void {
    this.threads.push({ tid, tgid, comm });
  }
  skip(kind: number, where: number, excerpt: string): void {
    this.skips.push({ kind, where, excerpt });
  }
  nameOf(e: PushedEvent): string {
    return this.strings[e.name] ?? `#${e.name}`;
  }
  /** (isa, code) of the reason key of an EV_EXIT event */
  reasonOf(e: PushedEvent): { isa: number; code: number } {
    const s = this.strings[Number(e.a)] ?? '';
    const [isa, code] = s.split(':');
    return { isa: Number(isa), code: Number(code) };
  }
}
