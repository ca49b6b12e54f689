#!/usr/bin/env node
// `npm test` builds once: `npm install` has just built (prepare), so pretest rebuilds only when a source
// is newer than what was built (assembly/, src/, bench/, the build configs) or an output is missing.
// `npm run build` always builds.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const inputs = ['assembly', 'src', 'bench', 'scripts/bundle.mjs', 'scripts/lazy-segmenter.mjs', 'scripts/libzstd.mjs', 'bin/kvmtax.js', 'package.json', 'tsconfig.json', 'tsconfig.build.json', 'asconfig.json'];
const outputs = ['build/kvmtax.wasm', 'dist/bundle/cli.cjs', 'dist/bundle/jobs-worker-main.js', 'dist/bench/bench.js', 'dist/src/cli/main.js'];

function newest(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
  for (const e of fs.readdirSync(p)) m = Math.max(m, newest(path.join(p, e)));
  return m;
}

let why = '';
const outTimes = outputs.map((o) => { try { return fs.statSync(path.join(root, o)).mtimeMs; } catch { why ||= `${o} is missing`; return 0; } });
if (!why) {
  const built = Math.min(...outTimes);
  for (const i of inputs) {
    const p = path.join(root, i);
    if (fs.existsSync(p) && newest(p) > built) { why = `${i} changed since the last build`; break; }
  }
}
if (!why) {
  console.log('build is up to date (npm run build forces one)');
  process.exit(0);
}
console.log(`building: ${why}`);
const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
