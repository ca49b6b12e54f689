/**
 * Per VM and vCPU: each vCPU thread's guest, host, halted and overhead time and its exit tax, grouped
 * by VM (file and process); the vCPU threads in report order, who each is, and their exit timelines.
 */
import type { CoreTables } from '../../wasm/core.js';
import { DenseHist, Histogram as HistogramClass, type Histogram, type HistStats } from '../../core/histogram.js';
import { cmp, ratio } from '../numbers.js';
import type { InputInfo, Stats, Timeline, VcpuRow, VmRow, Who } from '../types.js';
import { threadReasonHist, type ReasonBins, type ThreadReason } from './reasons.js';

export interface VcpuRows {
  vms: VmRow[];
  /** thread index -> its row */
  vcpuRowOf: Map<number, VcpuRow>;
  guestAll: number;
  haltedAll: number;
  wallAll: number;
}

export function vcpuRows(
  t: CoreTables, inputs: InputInfo[], scale: number[], rb: Pick<ReasonBins, 'byThread' | 'haltedOfThread'>,
  perSecond: (n: number, ns: number) => number | null, stats: (h: HistStats) => Stats,
): VcpuRows {
  const { byThread, haltedOfThread } = rb;
  const vmMap = new Map<string, VmRow>();
  const str = (id: number) => (id >= 0 ? t.strings[id]! : null);
  const tgidComm = new Map<string, string>();
  for (const th of t.threads) if (th.tid === th.tgid && th.comm >= 0) tgidComm.set(`${th.file}:${th.tgid}`, t.strings[th.comm]!);
  let guestAll = 0, haltedAll = 0, wallAll = 0;
  const vcpuRowOf = new Map<number, VcpuRow>();
  // each VM's exits per reason: its threads' histograms merged (perf kvm stat report -p PID)
  const vmReasons = new Map<VmRow, Map<string, { h: Histogram; seen: number }>>();
  for (let i = 0; i < t.threads.length; i++) {
    const th = t.threads[i]!;
    if (th.exits === 0 && th.entries === 0 && th.kvmEvents === 0) continue;
    const k = scale[th.file]!;
    const tm = byThread.get(i) ?? new Map<string, ThreadReason>();
    const halted = haltedOfThread.get(i) ?? 0;
    const rs: VcpuRow['top_reasons'] = [];
    for (const [reason, r] of tm) rs.push({ reason, exits_handled: r.n, total_ns: r.sum });
    rs.sort((a, b) => b.total_ns - a.total_ns || cmp(a.reason, b.reason));
    const host = Number(th.host) * k;
    const guest = Number(th.guest) * k;
    // the sum of forward steps between its exits and entries (a second capture's jump back is not time)
    const wall = th.exits + th.entries > 0 ? Number(th.wall) * k : 0;
    const overhead = host - halted;
    const row: VcpuRow = {
      vcpu: th.vcpu >= 0 ? th.vcpu : null, tid: th.tid, comm: str(th.comm), exits_seen: th.exits, exits_handled: th.handled,
      exits_per_s: perSecond(th.exits, wall), wall_ns: wall, guest_ns: guest, host_ns: host, halted_ns: halted,
      overhead_ns: overhead, tax: ratio(overhead, wall), guest_share: ratio(guest, wall), halted_share: ratio(halted, wall),
      top_reasons: rs.slice(0, 3), kvm_events: th.kvmEvents,
      cpus: cpusOf(th.cpuMask), migrations: th.migrations,
    };
    const file = inputs[th.file]!.file;
    const vmKey = `${th.file}:${th.tgid}`;
    let vm = vmMap.get(vmKey);
    if (!vm) {
      const name = th.tgid >= 0 ? `${tgidComm.get(vmKey) ?? row.comm ?? '?'} (pid ${th.tgid})` : 'unknown VM (the trace does not say which process each thread belongs to)';
      vm = { file, fileIndex: th.file, pid: th.tgid >= 0 ? th.tgid : null, name, vcpus: [], exits_handled: 0, host_ns: 0, overhead_ns: 0, wall_ns: 0, tax: null };
      vmMap.set(vmKey, vm);
    }
    vm.vcpus.push(row);
    vcpuRowOf.set(i, row);
    let vr = vmReasons.get(vm);
    if (!vr) vmReasons.set(vm, (vr = new Map()));
    // each (thread, reason) histogram is built here, used for the row and the VM's, and let go
    const reasonRows: NonNullable<VcpuRow['reasons']> = [];
    // (one bin in ns: read in place)
    for (const [reason, r] of tm) {
      let x = vr.get(reason);
      if (!x) vr.set(reason, (x = { h: new HistogramClass(), seen: 0 }));
      x.seen += r.seen;
      const b = r.bins.length === 1 && r.k === 1 ? r.bins[0]! : undefined;
      if (b) {
        const min = b.handled > 0 ? Number(b.min) : Infinity, max = b.handled > 0 ? Number(b.max) : -Infinity;
        reasonRows.push({ reason, exits_seen: r.seen, exits_handled: b.handled, total_ns: 0 + Number(b.sum), ...stats(new DenseHist(b, b.handled, 0 + Number(b.sum), Number(b.sumsq), min, max)) });
        x.h.addBin(b, 1);
      } else {
        const h = threadReasonHist(r);
        reasonRows.push({ reason, exits_seen: r.seen, exits_handled: h.n, total_ns: h.sum, ...stats(h) });
        x.h.merge(h);
      }
    }
    row.reasons = reasonRows.sort((a, b) => b.total_ns - a.total_ns || cmp(a.reason, b.reason));
    vm.exits_handled += th.handled;
    vm.host_ns += host;
    vm.overhead_ns += overhead;
    vm.wall_ns += wall;
    guestAll += guest;
    haltedAll += halted;
    wallAll += wall;
  }
  const vms = [...vmMap.values()];
  for (const vm of vms) {
    vm.tax = ratio(vm.overhead_ns, vm.wall_ns);
    vm.reasons = [...(vmReasons.get(vm) ?? new Map<string, { h: Histogram; seen: number }>()).entries()]
      .map(([reason, r]) => ({ reason, exits_seen: r.seen, exits_handled: r.h.n, total_ns: r.h.sum, share_host: ratio(r.h.sum, vm.host_ns), ...stats(r.h) }))
      .sort((a, b) => b.total_ns - a.total_ns || cmp(a.reason, b.reason));
    vm.vcpus.sort((a, b) => (a.vcpu ?? 1e9) - (b.vcpu ?? 1e9) || a.tid - b.tid);
  }
  vms.sort((a, b) => a.fileIndex - b.fileIndex || (a.pid ?? -1) - (b.pid ?? -1));
  return { vms, vcpuRowOf, guestAll, haltedAll, wallAll };
}

/** The host CPUs set in a thread's 64-bit mask (bit 63: CPU 63 or above), ascending. */
function cpusOf(mask: bigint): number[] {
  const m = BigInt.asUintN(64, mask);
  const words = [Number(m & 0xffffffffn), Number(m >> 32n)];
  const out: number[] = [];
  for (let c = 0; c < 64; c++) if ((words[c >> 5]! >>> (c & 31)) & 1) out.push(c);
  return out;
}

/** The vCPU threads (indexes into t.threads) in the order the report lists them. */
export function reportOrder(vms: VmRow[], vcpuRowOf: Map<number, VcpuRow>): number[] {
  // each row's thread, looked up once (a search of every row for each vCPU grew with the square of the vCPUs)
  const threadOf = new Map<VcpuRow, number>();
  for (const [ti, row] of vcpuRowOf) threadOf.set(row, ti);
  const order: number[] = [];
  for (const vm of vms) for (const c of vm.vcpus) { const ti = threadOf.get(c); if (ti !== undefined) order.push(ti); }
  return order;
}

/** Who a thread is: VM process, vCPU id, thread id and name. */
export function whoOf(t: CoreTables): (ti: number) => Who {
  const str = (id: number) => (id >= 0 ? t.strings[id]! : null);
  return (ti: number): Who => {
    const th = t.threads[ti]!;
    return { pid: th.tgid >= 0 ? th.tgid : null, vcpu: th.vcpu >= 0 ? th.vcpu : null, tid: th.tid, comm: str(th.comm) };
  };
}

/** Exits per time bucket of each vCPU: each file's buckets, regrouped to the widest bucket of all files. */
export function timeline(t: CoreTables, order: number[], scale: number[], who: (ti: number) => Who): Timeline {
  let bucketNs = 0;
  for (const ti of order) {
    const th = t.threads[ti]!;
    if (th.timeline) bucketNs = Math.max(bucketNs, Number(th.tlWidth) * scale[th.file]!);
  }
  const timeline: Timeline = { bucket_ns: bucketNs, vcpus: [] };
  let pairs = new Float64Array(0); // a thread's [t, exits, ...], copied out at its length
  for (const ti of order) {
    const th = t.threads[ti]!;
    if (!th.timeline || bucketNs === 0) continue;
    const k = scale[th.file]!;
    const origin = Number(th.tlOrigin);
    const width = Number(th.tlWidth);
    // a file bucket's widest bucket b never goes back as i grows (each step of the float arithmetic is
    // monotonic), so each b's exits are one run of consecutive file buckets: summed in place, in order
    const tl = th.timeline;
    if (pairs.length < 2 * tl.length) pairs = new Float64Array(2 * tl.length);
    let m = 0;
    let lastB = NaN, sum = 0;
    for (let i = 0; i < tl.length; i++) {
      const n = tl[i]!;
      if (!n) continue;
      const t0 = (origin + i * width) * k;
      const b = Math.floor((t0 - origin * k) / bucketNs);
      if (b !== lastB) {
        if (sum) { pairs[m++] = Math.round(origin * k + lastB * bucketNs); pairs[m++] = sum; }
        lastB = b;
        sum = 0;
      }
      sum += n;
    }
    if (sum) { pairs[m++] = Math.round(origin * k + lastB * bucketNs); pairs[m++] = sum; }
    const w = who(ti);
    timeline.vcpus.push(vcpuTimeline(th.file, w, pairs.slice(0, m)));
  }
  return timeline;
}

/**
 * A vCPU's timeline entry. Its buckets are kept as numbers in one array and made into [t, exits] pairs each time
 * they are read (by JSON.stringify, the HTML report, a spread): built up front, a report's pairs were tens of
 * thousands of small arrays (39,236 at 256 vCPUs, 19,950 in the realistic 1 GB file) that lived to the end, and the
 * summary's young-generation collections copied them again and again.
 */
function vcpuTimeline(file: number, w: Who, pairs: Float64Array): Timeline['vcpus'][number] {
  return {
    file_index: file, pid: w.pid, vcpu: w.vcpu, tid: w.tid,
    get buckets(): Array<[number, number]> {
      const out = new Array<[number, number]>(pairs.length >> 1);
      for (let i = 0; i < out.length; i++) out[i] = [pairs[2 * i]!, pairs[2 * i + 1]!];
      return out;
    },
  };
}
