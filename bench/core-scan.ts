/**
 * The text core alone, in memory: `node dist/bench/core-scan.js FILE [--runs 5] [--format ftrace|perf|trace-cmd] [--slow]`
 * reads FILE once, then per run copies it into a fresh core's input arena chunk by chunk (as
 * src/formats/text/text.ts does) and times the core's scan calls, apart from the copies and from tables().
 * Times are CPU seconds of this process (user + system), which a loaded machine disturbs far less than wall
 * time; the first run includes V8's tier-up of the module. --slow turns the tokenizer's shortcuts off
 * (Core.textFastPaths), to see what they save. The format defaults to detection on the file's head.
 */
import fs from 'node:fs';
import * as K from '../assembly/constants.js';
import { Core } from '../src/wasm/core.js';
import { detectTextFormat } from '../src/formats/text/text.js';

function main(): void {
  const args = process.argv.slice(2);
  const file = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.match(/^--(runs|format)$/));
  const opt = (name: string): string | undefined => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
  if (!file) throw new Error('usage: node dist/bench/core-scan.js FILE [--runs 5] [--format ftrace|perf|trace-cmd] [--slow]');
  const runs = Number(opt('--runs') ?? 5);
  const data = fs.readFileSync(file);
  const named: Record<string, number> = { ftrace: K.FMT_FTRACE, perf: K.FMT_PERF, 'trace-cmd': K.FMT_TRACECMD };
  const f = opt('--format');
  const format = f ? named[f] : detectTextFormat(data.subarray(0, 65536).toString('latin1'));
  if (format === undefined) throw new Error(`${file}: not ftrace, perf script or trace-cmd report text (--format)`);
  const res: Array<{ scan: number; copy: number; tables: number }> = [];
  for (let r = 0; r < runs; r++) {
    const core = new Core({ maxMemoryMb: 4096 });
    if (args.includes('--slow')) core.textFastPaths(false);
    core.beginTextFile(core.nextFileIndex(), format, false);
    let off = 0, carry = 0, copy = 0, scan = 0;
    for (;;) {
      const a = core.arena();
      const n = Math.min(core.arenaBytes - carry, data.length - off);
      const t0 = performance.now();
      a.set(data.subarray(off, off + n), carry);
      copy += performance.now() - t0;
      off += n;
      const total = carry + n;
      const last = n === 0;
      const u0 = process.cpuUsage();
      const used = core.scan(total, last);
      const u = process.cpuUsage(u0);
      scan += (u.user + u.system) / 1000;
      if (used < 0) throw new Error(`scan error ${used} at line ${core.errorPosition().line}`);
      if (last) break;
      carry = total - used;
      if (carry > 0 && used > 0) core.arena().copyWithin(0, used, total);
    }
    core.endFile();
    const t1 = performance.now();
    core.tables();
    res.push({ scan, copy, tables: performance.now() - t1 });
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const scan = med(res.map((x) => x.scan));
  console.log(`${file}: ${(data.length / 1e6).toFixed(0)} MB, core scan ${scan.toFixed(0)} ms CPU median of ${runs} ` +
    `(min ${Math.min(...res.map((x) => x.scan)).toFixed(0)}; runs ${res.map((x) => x.scan.toFixed(0)).join(' ')}), ` +
    `${(data.length / scan / 1e3).toFixed(0)} MB/s; copies into the arena ${med(res.map((x) => x.copy)).toFixed(0)} ms, tables() ${med(res.map((x) => x.tables)).toFixed(0)} ms` +
    (args.includes('--slow') ? ' [shortcuts off]' : ''));
}

main();
