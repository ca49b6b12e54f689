/**
 * Guest RIP hotspots (--by rip): the guest instruction pointers that exit most, per exit reason
 * and per vCPU, with their handling time; the profile users ask for when the guest PMU is not virtualized.
 * Symbolized with the guest's /proc/kallsyms or System.map when given (--guest-symbols FILE).
 * Any input whose reader passes the exit's rip (text, trace.dat and perf.data do).
 */
import type { CoreTables } from '../wasm/core.js';
import type { GpaRow, GpaSection, RipRow, RipSection, Who } from './types.js';

export interface RipContext {
  tables: CoreTables;
  scale: number[];
  reasonOf: (file: number, id: number) => string;
  entries: Array<{ bin: number; rip: bigint; count: number; sum: bigint }>;
  dropped: number;
  who: (ti: number) => Who;
  symbols?: GuestSymbols;
  top: number;
}

/** A guest symbol table: sorted addresses and names (kallsyms / System.map: "ffffffff81000000 T _stext"). */
export class GuestSymbols {
  private addrs: bigint[] = [];
  private names: string[] = [];
  constructor(text: string) {
    const rows: Array<[bigint, string]> = [];
    for (const line of text.split('\n')) {
      const m = /^([0-9a-fA-F]{1,16})\s+([a-zA-Z])\s+(\S+)/.exec(line);
      if (!m) continue;
      if (!'tTwW'.includes(m[2]!)) continue; // code symbols only
      rows.push([BigInt('0x' + m[1]), m[3]!]);
    }
    rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [a, n] of rows) { this.addrs.push(a); this.names.push(n); }
  }
  get size(): number { return this.addrs.length; }
  /** "name+0xoff", or null outside the table (below its first symbol) */
  lookup(rip: bigint): string | null {
    let lo = 0, hi = this.addrs.length - 1, at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.addrs[mid]! <= rip) { at = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (at < 0 || rip - this.addrs[at]! > 0x100000n) return null;
    const off = rip - this.addrs[at]!;
    return off === 0n ? this.names[at]! : `${this.names[at]}+0x${off.toString(16)}`;
  }
}

export function buildRips(ctx: RipContext): RipSection {
  const t = ctx.tables;
  const hex = (r: bigint) => '0x' + r.toString(16);
  const byReason = new Map<string, Map<bigint, RipRow>>();
  const byVcpu = new Map<string, { who: Who; reason: string; rows: Map<bigint, RipRow> }>();
  const put = (m: Map<bigint, RipRow>, rip: bigint, n: number, ns: number) => {
    let r = m.get(rip);
    if (!r) m.set(rip, (r = { rip: hex(rip), symbol: ctx.symbols?.lookup(rip) ?? null, exits: 0, total_ns: 0 }));
    r.exits += n; r.total_ns += ns;
  };
  for (const e of ctx.entries) {
    const b = t.bins[e.bin];
    if (!b) continue;
    const th = t.threads[b.thread]!;
    const reason = ctx.reasonOf(th.file, b.reason);
    const ns = Number(e.sum) * ctx.scale[th.file]!;
    let m = byReason.get(reason);
    if (!m) byReason.set(reason, (m = new Map()));
    put(m, e.rip, e.count, ns);
    const w = ctx.who(b.thread);
    const key = `${b.thread}\u0000${reason}`;
    let v = byVcpu.get(key);
    if (!v) byVcpu.set(key, (v = { who: w, reason, rows: new Map() }));
    put(v.rows, e.rip, e.count, ns);
  }
  const topOf = (m: Map<bigint, RipRow>) => [...m.values()].sort((a, b) => b.exits - a.exits || b.total_ns - a.total_ns || (a.rip < b.rip ? -1 : 1)).slice(0, ctx.top);
  const total = (m: Map<bigint, RipRow>) => [...m.values()].reduce((s, r) => s + r.exits, 0);
  const reasons = [...byReason.entries()].map(([reason, m]) => ({ reason, exits: total(m), distinct_rips: m.size, top: topOf(m) }))
    .sort((a, b) => b.exits - a.exits || (a.reason < b.reason ? -1 : 1));
  const vcpus = [...byVcpu.values()].map((v) => ({ ...v.who, reason: v.reason, exits: total(v.rows), top: topOf(v.rows) }))
    .sort((a, b) => (a.vcpu ?? -1) - (b.vcpu ?? -1) || a.tid - b.tid || b.exits - a.exits || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0));
  return {
    available: true, symbols: ctx.symbols ? ctx.symbols.size : null, dropped: ctx.dropped,
    note: 'handled exits by the guest rip their kvm_exit names (text input); top ' + ctx.top + ' per reason and per vCPU' + (ctx.dropped ? `; ${ctx.dropped} exits left out past the table's 1M distinct (reason, rip) pairs` : ''),
    reasons, vcpus,
  };
}

/**
 * Faulting exits by guest-physical page (--by gpa): SVM's NPF by the info2 of its kvm_exit ("npf"/"EXIT_NPF"; binary
 * readers hand it over as EV_EXIT_INFO), VMX's EPT_VIOLATION by the fault_address of the kvm_page_fault that
 * handle_ept_violation emits after it (the exit's own info1 is the exit qualification, no address).
 */
export function buildGpas(ctx: Omit<RipContext, 'symbols'>): GpaSection {
  const t = ctx.tables;
  const pages = new Map<bigint, GpaRow>();
  const byVcpu = new Map<number, Map<bigint, GpaRow>>();
  const put = (m: Map<bigint, GpaRow>, page: bigint, n: number, ns: number) => {
    let r = m.get(page);
    if (!r) m.set(page, (r = { gpa: '0x' + (page << 12n).toString(16), exits: 0, total_ns: 0 }));
    r.exits += n; r.total_ns += ns;
  };
  for (const e of ctx.entries) {
    const b = t.bins[e.bin];
    if (!b) continue;
    const th = t.threads[b.thread]!;
    const ns = Number(e.sum) * ctx.scale[th.file]!;
    put(pages, e.rip, e.count, ns);
    let v = byVcpu.get(b.thread);
    if (!v) byVcpu.set(b.thread, (v = new Map()));
    put(v, e.rip, e.count, ns);
  }
  const topOf = (m: Map<bigint, GpaRow>, n: number) => [...m.values()].sort((a, b) => b.exits - a.exits || b.total_ns - a.total_ns || (a.gpa < b.gpa ? -1 : 1)).slice(0, n);
  const vcpus = [...byVcpu.entries()].map(([ti, m]) => ({ ...ctx.who(ti), exits: [...m.values()].reduce((s, r) => s + r.exits, 0), top: topOf(m, 3) }))
    .sort((a, b) => (a.vcpu ?? -1) - (b.vcpu ?? -1) || a.tid - b.tid);
  return {
    available: true, dropped: ctx.dropped, distinct_pages: pages.size,
    note: 'handled nested-page-fault exits by 4 KiB guest-physical page: SVM npf / EXIT_NPF by their info2, VMX EPT_VIOLATION by the address of the kvm_page_fault that follows it (record kvm:kvm_page_fault)' + (ctx.dropped ? `; ${ctx.dropped} exits left out past the table's cap` : ''),
    pages: topOf(pages, 2 * ctx.top), vcpus,
  };
}
