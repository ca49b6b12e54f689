/**
 * One kvmtax analysis with any number of --jobs, whatever the machine's CPU count (the CLI caps --jobs at the
 * CPUs available): for the bench's memory and CPU-time figures of many workers on a small machine.
 *
 *   node dist/bench/jobs-run.js FILE --jobs N [--max-memory MB] -o OUT.json
 */
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { analyze } from '../src/pipeline/analyze.js';

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const a = process.argv.slice(2);
  const opt = (n: string): string | undefined => { const i = a.indexOf(n); return i >= 0 ? a[i + 1] : undefined; };
  const file = a[0], out = opt('-o');
  if (!file || !out) {
    process.stderr.write('usage: jobs-run FILE --jobs N -o OUT.json\n');
    process.exit(2);
  }
  // as the CLI does (src/cli/main.ts): the young generation kept at its first size
  process.getBuiltinModule('node:v8').setFlagsFromString('--semi-space-growth-factor=1');
  const mm = opt('--max-memory');
  const report = await analyze([file], { jobs: Number(opt('--jobs') ?? '1'), ...(mm ? { maxMemoryMb: Number(mm) } : {}) });
  fs.writeFileSync(out, JSON.stringify(report, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2));
}
