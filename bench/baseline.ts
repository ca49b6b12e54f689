/**
 * The baseline of the benchmark: the straightforward line-by-line JavaScript parser a user
 * would otherwise write. `readline` over a file stream, one regular expression per line shape, a Map of
 * pending exits per host thread, sums per exit reason.
 *
 *   node dist/bench/baseline.js FILE [-o OUT.json]
 *
 * Reads raw ftrace text, `trace-cmd report` text and `perf script` text (uncompressed). Prints the
 * totals as JSON in the shape of the generator's sidecar (bench/gen.ts Expected): exits per reason,
 * exits handled (followed by the thread's next kvm_entry, as perf kvm stat counts them) and the sum of
 * handling times.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';

export interface BaselineTotals {
  lines: number;
  exits_seen: number;
  exits_handled: number;
  host_ns: number;
  reasons: Record<string, { exits_seen: number; exits_handled: number; total_ns: number }>;
}

// ftrace:    "       CPU 1/KVM-3149    (   3127) [001] d..1. 24006.249294: kvm_entry: vcpu 1, rip 0x..."
// trace-cmd: "       CPU 1/KVM-3149  [001] 24006.249294: kvm_entry:             vcpu 1 rip 0x..."
const FTRACE = /^\s*(.+?)-(\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(\d+)\]\s+(?:[.\w]{4,5}\s+)?(\d+)\.(\d+):\s+(\w+):\s*(.*)$/;
// perf:      "       CPU 1/KVM  3149 [001] 24006.249294:    kvm:kvm_entry: vcpu 1, rip 0x..."
const PERF = /^\s*(.*?)\s+(\d+)(?:\/(\d+))?\s+\[(\d+)\]\s+(\d+)\.(\d+):\s+\w+:(\w+):\s*(.*)$/;
const REASON = /reason (\S+)/;

// trace-cmd's kvm plugin prints SVM exit codes by their own names: back to the kernel's
const PLUGIN_SVM: Record<string, string> = {
  EXIT_MSR: 'msr', EXIT_IOIO: 'io', EXIT_HLT: 'hlt', EXIT_CPUID: 'cpuid', EXIT_INTR: 'interrupt', EXIT_NPF: 'npf',
  EXIT_VINTR: 'vintr', EXIT_PAUSE: 'pause', EXIT_NMI: 'nmi', EXIT_SMI: 'smi', EXIT_INIT: 'init', EXIT_VMMCALL: 'vmmcall',
};

export async function baseline(file: string): Promise<BaselineTotals> {
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  const pending = new Map<string, { reason: string; ts: number }>();
  const reasons = new Map<string, { exits_seen: number; exits_handled: number; total_ns: number }>();
  let lines = 0, perf: boolean | undefined;
  for await (const line of rl) {
    lines++;
    if (line.startsWith('#') || line.startsWith('cpus=')) continue;
    let tid: string, sec: string, frac: string, event: string, body: string;
    if (perf === undefined) perf = !FTRACE.test(line) && PERF.test(line);
    if (perf) {
      const m = PERF.exec(line);
      if (!m) continue;
      tid = m[3] ?? m[2]!; sec = m[5]!; frac = m[6]!; event = m[7]!; body = m[8]!;
    } else {
      const m = FTRACE.exec(line);
      if (!m) continue;
      tid = m[2]!; sec = m[4]!; frac = m[5]!; event = m[6]!; body = m[7]!;
    }
    const ts = Number(sec) * 1e9 + Number(frac) * 10 ** (9 - frac.length);
    if (event === 'kvm_exit') {
      const r = REASON.exec(body);
      if (!r) continue;
      const reason = PLUGIN_SVM[r[1]!] ?? r[1]!;
      let t = reasons.get(reason);
      if (!t) reasons.set(reason, (t = { exits_seen: 0, exits_handled: 0, total_ns: 0 }));
      t.exits_seen++;
      pending.set(tid, { reason, ts });
    } else if (event === 'kvm_entry') {
      const p = pending.get(tid);
      if (p) {
        const t = reasons.get(p.reason)!;
        t.exits_handled++;
        t.total_ns += ts - p.ts;
        pending.delete(tid);
      }
    }
  }
  const out: BaselineTotals = { lines, exits_seen: 0, exits_handled: 0, host_ns: 0, reasons: {} };
  for (const [name, t] of [...reasons].sort((a, b) => b[1].total_ns - a[1].total_ns)) {
    out.reasons[name] = t;
    out.exits_seen += t.exits_seen; out.exits_handled += t.exits_handled; out.host_ns += t.total_ns;
  }
  return out;
}

async function main(argv: string[]): Promise<void> {
  let file: string | undefined, out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '-o') out = argv[++i];
    else file = argv[i];
  }
  if (!file) { process.stderr.write('usage: node dist/bench/baseline.js FILE [-o OUT.json]\n'); process.exit(2); }
  const json = `${JSON.stringify(await baseline(file), null, 2)}\n`;
  if (out) fs.writeFileSync(out, json);
  else process.stdout.write(json);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv.slice(2));
