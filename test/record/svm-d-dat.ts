/**
 * traces/svm-D-small/trace.dat.xz (trace-cmd's own v7 zstd file of the svm-D run, xz-compressed) as a plain
 * file, for the tests that replay its pages: decompressed once per test process with kvmtax's own .xz source.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let plain: string | undefined;

export function svmDSmallTraceDat(): string {
  if (plain) return plain;
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-svmd-')), 'trace.dat');
  const src = path.join(ROOT, 'traces/svm-D-small/trace.dat.xz');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
    import fs from 'node:fs';
    import { openSource } from ${JSON.stringify(path.join(ROOT, 'dist/src/formats/source.js'))};
    const s = await openSource(${JSON.stringify(src)});
    const fd = fs.openSync(${JSON.stringify(out)}, 'w');
    const b = Buffer.alloc(1 << 20);
    for (let n; (n = await s.read(b, 0, b.length)) > 0;) fs.writeSync(fd, b, 0, n);
    fs.closeSync(fd); s.close();`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot decompress ${src}: ${r.stderr}`);
  plain = out;
  return out;
}
