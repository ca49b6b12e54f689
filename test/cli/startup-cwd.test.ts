/**
 * The CLI does not look through the user's working directory or the directories above it at start-up. yargs
 * reads a package.json for a default version, found upward from its "main file", and in the bundle that was
 * the working directory: a 2-line report run in /tmp (15,000 entries) read-dir'ed it for 10 ms, and a
 * package.json that is a FIFO there (nothing writing) hung every command. scripts/bundle.mjs points yargs at
 * cli.cjs instead, which finds kvmtax's own package.json.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, TRACES } from '../support/paths.js';

const BIN = path.join(ROOT, 'bin', 'kvmtax.js');
const TRACE = path.join(TRACES, 'svm-D-small/trace.txt.xz');

describe('start-up in the user\'s directory', () => {
  let dir = '';
  let fifo = false;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-cwd-test-'));
    fifo = spawnSync('mkfifo', [path.join(dir, 'package.json')]).status === 0;
  });
  afterAll(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  it('a package.json in the working directory is not read (a FIFO there with no writer: the report still runs)', (ctx) => {
    if (!fifo) { ctx.skip(); return; } // no mkfifo on this system: said plainly in the run's output
    const r = spawnSync(process.execPath, [BIN, 'report', TRACE, '-f', 'json'], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    expect(r.error, 'the CLI hung reading the FIFO').toBeUndefined();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).kvmtax.version).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  });

  it('--version is kvmtax\'s own there too', (ctx) => {
    if (!fifo) { ctx.skip(); return; }
    const r = spawnSync(process.execPath, [BIN, '--version'], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    expect(r.error).toBeUndefined();
    expect(r.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  });
});
