/**
 * --pid PID and --vcpu N, with perf kvm stat report's meaning (-p: the events of that VM process;
 * --vcpu: the events of that vCPU id): the core's tables keep only the vCPU threads that match, before
 * the report is made, so every figure (reasons, tax, percentiles, sections) is of those threads alone.
 */
import { KvmtaxError } from '../core/errors.js';
import type { CoreTables } from '../wasm/core.js';

export interface ThreadFilter {
  pid?: number;
  vcpu?: number;
}

export function describeFilter(f: ThreadFilter): string {
  return [f.pid !== undefined ? `--pid ${f.pid}` : '', f.vcpu !== undefined ? `--vcpu ${f.vcpu}` : ''].filter(Boolean).join(' ');
}

/**
 * A copy of a bin with another thread index. Its properties are copied as they are defined, not read: a
 * bin's `hist` is an accessor that fills the core's scratch array when read (wasm/core.ts), so a spread
 * would leave every copy holding the one scratch array.
 */
function renumbered<T extends { thread: number }>(b: T, thread: number): T {
  const copy = Object.defineProperties(Object.create(Object.getPrototypeOf(b)) as T, Object.getOwnPropertyDescriptors(b));
  copy.thread = thread;
  return copy;
}

/** The tables of the matching threads (thread indices renumbered); an error when none matches. */
export function filterTables(t: CoreTables, f: ThreadFilter): { tables: CoreTables; kept: number; of: number } {
  const isVcpu = (th: CoreTables['threads'][number]) => th.exits > 0 || th.entries > 0 || th.kvmEvents > 0;
  const vcpuThreads = t.threads.filter(isVcpu);
  if (f.pid === undefined && f.vcpu === undefined) return { tables: t, kept: vcpuThreads.length, of: vcpuThreads.length };
  const match = (th: CoreTables['threads'][number]) => (f.pid === undefined || th.tgid === f.pid) && (f.vcpu === undefined || th.vcpu === f.vcpu);
  const map = new Map<number, number>();
  const threads: CoreTables['threads'] = [];
  t.threads.forEach((th, i) => {
    if (match(th)) { map.set(i, threads.length); threads.push(th); }
  });
  const kept = threads.filter(isVcpu).length;
  if (!kept) {
    const pids = [...new Set(vcpuThreads.map((th) => th.tgid))].sort((a, b) => a - b);
    const vcpus = [...new Set(vcpuThreads.filter((th) => f.pid === undefined || th.tgid === f.pid).map((th) => th.vcpu))].filter((v) => v >= 0).sort((a, b) => a - b);
    const what = f.pid !== undefined && !pids.includes(f.pid)
      ? (pids.every((p) => p < 0) ? 'the trace has no tgids: it does not say which VM process each thread belongs to' : `VM processes in the trace: ${pids.filter((p) => p >= 0).join(', ')}`)
      : `vCPU ids${f.pid !== undefined ? ` of pid ${f.pid}` : ''} in the trace: ${vcpus.join(', ') || 'none'}`;
    throw new KvmtaxError(`${describeFilter(f)}: no vCPU thread matches (${what})`);
  }
  return {
    tables: {
      ...t, threads,
      bins: t.bins.filter((b) => map.has(b.thread)).map((b) => renumbered(b, map.get(b.thread)!)),
      top: t.top.filter((r) => map.has(r.thread)).map((r) => ({ ...r, thread: map.get(r.thread)! })),
    },
    kept, of: vcpuThreads.length,
  };
}
