/** Reads the VM-EXIT table of a `perf kvm stat report` text (the independent count in the captures). */
export interface PerfRow { reason: string; samples: number; minUs: number; maxUs: number; avgUs: number }

export function perfVmexitTable(text: string, which = 0): { rows: PerfRow[]; totalSamples: number; totalUs: number } {
  const tables = text.split(/^\s*VM-EXIT\s+Samples.*$/m).slice(1);
  const t = tables[which];
  if (!t) throw new Error('no VM-EXIT table');
  const rows: PerfRow[] = [];
  for (const l of t.split('\n')) {
    if (l.startsWith('Total Samples')) break;
    const m = /^\s*(\S+)\s+(\d+)\s+[\d.]+%\s+[\d.]+%\s+([\d.]+)us\s+([\d.]+)us\s+([\d.]+)us/.exec(l);
    if (m) rows.push({ reason: m[1]!, samples: +m[2]!, minUs: +m[3]!, maxUs: +m[4]!, avgUs: +m[5]! });
  }
  const tot = /Total Samples:(\d+), Total events handled time:([\d.]+)us/.exec(t);
  return { rows, totalSamples: tot ? +tot[1]! : NaN, totalUs: tot ? +tot[2]! : NaN };
}

/** counts.txt "kvm_exit reasons (all vcpus)" of the first text file listed. */
export function countsReasons(text: string): Record<string, number> {
  const sec = text.split('kvm_exit reasons (all vcpus):')[1];
  if (!sec) return {};
  const out: Record<string, number> = {};
  for (const l of sec.split('\n').slice(1)) {
    const m = /^\s+(\d+)\s+(\S+)\s*$/.exec(l);
    if (!m) break;
    out[m[2]!] = +m[1]!;
  }
  return out;
}
