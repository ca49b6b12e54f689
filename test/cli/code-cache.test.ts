/**
 * bin/kvmtax.js compiles dist/bundle/cli.cjs with the V8 code cache the build made (scripts/bundle.mjs): the
 * build's cache is used, and a missing cache, or one made for another cli.cjs, is not used and changes
 * nothing but the start-up time. The stale and missing cases run on a copy of the package's bin/ and
 * dist/bundle/ in a temporary directory (the suite's other tests use the real one meanwhile).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, TRACES } from '../support/paths.js';

const TRACE = path.join(TRACES, 'svm-D-small/trace.txt.xz');
const CLI = path.join(ROOT, 'dist/bundle/cli.cjs');

function run(bin: string, args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, KVMTAX_CODE_CACHE_STATUS: '1' } });
  const lines = r.stderr.split('\n');
  return { code: r.status, out: r.stdout, status: lines[0], err: lines.slice(1).join('\n') };
}

describe('the CLI\'s code cache', () => {
  let pkg = '';
  const bin = () => path.join(pkg, 'bin', 'kvmtax.js');
  const cache = () => path.join(pkg, 'dist', 'bundle', 'cli.cjs.cache');

  beforeAll(() => {
    // the package's layout: bin/ and dist/bundle/ copied, the rest linked; package.json and assembly/ mark
    // the package root
    pkg = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-code-cache-test-'));
    fs.cpSync(path.join(ROOT, 'bin'), path.join(pkg, 'bin'), { recursive: true });
    fs.cpSync(path.join(ROOT, 'dist', 'bundle'), path.join(pkg, 'dist', 'bundle'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
    for (const d of ['node_modules', 'build', 'assembly', 'src', 'schema']) {
      if (fs.existsSync(path.join(ROOT, d))) fs.symlinkSync(path.join(ROOT, d), path.join(pkg, d));
    }
  });
  afterAll(() => { if (pkg) fs.rmSync(pkg, { recursive: true, force: true }); });

  it('the build made a cache for this cli.cjs, and V8 uses it', () => {
    const build = /\/\/# kvmtaxBuild=([0-9a-f]{32})\n$/.exec(fs.readFileSync(CLI, 'utf8'))?.[1];
    expect(build).toBeDefined();
    const stamp = fs.readFileSync(`${CLI}.cache`).subarray(0, 200).toString('latin1').split('\n')[0]!;
    expect(JSON.parse(stamp)).toEqual({ build });
    const r = run(path.join(ROOT, 'bin', 'kvmtax.js'), ['report', TRACE, '-f', 'json']);
    expect(r.code).toBe(0);
    expect(r.status).toBe('code cache: used');
  });

  it('a copy (new mtimes, as npm pack gives) uses its cache too, and reports the same', () => {
    const ref = run(path.join(ROOT, 'bin', 'kvmtax.js'), ['report', TRACE, '-f', 'json']);
    const r = run(bin(), ['report', TRACE, '-f', 'json']);
    expect(r.status).toBe('code cache: used');
    expect(r.code).toBe(0);
    expect(r.out).toBe(ref.out);
  });

  it('a cache made for another cli.cjs (another build id) is not used; the report is the same', () => {
    const ref = run(bin(), ['report', TRACE, '-f', 'json']);
    const cli = path.join(pkg, 'dist', 'bundle', 'cli.cjs');
    const src = fs.readFileSync(cli, 'utf8');
    fs.writeFileSync(cli, src.replace(/kvmtaxBuild=([0-9a-f]{32})\n$/, (_m, id: string) => `kvmtaxBuild=${[...id].reverse().join('')}\n`));
    expect(fs.readFileSync(cli, 'utf8')).not.toBe(src);
    const r = run(bin(), ['report', TRACE, '-f', 'json']);
    expect(r.status).toBe('code cache: none');
    expect(r.code).toBe(0);
    expect(r.out).toBe(ref.out);
    expect(r.err).toBe('');
  });

  it('without a cache the CLI works as before, --help and a usage error included', () => {
    fs.rmSync(cache());
    const r = run(bin(), ['report', TRACE, '-f', 'json']);
    expect(r.status).toBe('code cache: none');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).totals.exits_seen).toBe(770);
    const h = run(bin(), ['--help']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/kvmtax report <traces\.\.>/);
    const u = run(bin(), ['report', TRACE, '--no-such-option']);
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/^kvmtax: Unknown option: --no-such-option\n/);
  });

  it('KVMTAX_CODE_CACHE_TRAINING writes a cache that the next run uses; a failing command writes none', () => {
    const env = (runs: string[][]) => ({ ...process.env, KVMTAX_CODE_CACHE_TRAINING: JSON.stringify(runs) });
    fs.rmSync(cache(), { force: true });
    const bad = spawnSync(process.execPath, [bin()], { cwd: ROOT, env: env([['report', path.join(pkg, 'no-such-trace.txt')]]), encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/code cache training: report .*no-such-trace\.txt exited 1/);
    expect(fs.existsSync(cache())).toBe(false);
    const good = spawnSync(process.execPath, [bin()], { cwd: ROOT, env: env([['report', TRACE, '-f', 'json']]), encoding: 'utf8' });
    expect(good.status).toBe(0);
    expect(fs.readdirSync(path.dirname(cache())).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(run(bin(), ['report', TRACE, '-f', 'json']).status).toBe('code cache: used');
  });
});
