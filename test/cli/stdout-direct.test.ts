/**
 * A report writes its output straight to fd 1 without building process.stdout (src/core/stdout.ts). What the
 * stream did must still hold: the bytes are the same to a file and to a pipe, a reader that goes away ends
 * the run quietly, a full device is one line and exit 1, and a standard output that another process left
 * non-blocking (EAGAIN on a full pipe) still gets every byte.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, TRACES } from '../support/paths.js';

const BIN = path.join(ROOT, 'bin', 'kvmtax.js');
// its JSON with histograms is about 90 KB: more than a pipe holds (64 KiB)
const ARGS = ['report', path.join(TRACES, 'svm-J-busy-mix/trace.txt.xz'), '-f', 'json', '--histograms'];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-stdout-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const viaFile = (): Buffer => {
  const f = path.join(dir, 'out.json');
  const fd = fs.openSync(f, 'w');
  try {
    expect(spawnSync(process.execPath, [BIN, ...ARGS], { stdio: ['ignore', fd, 'pipe'] }).status).toBe(0);
  } finally { fs.closeSync(fd); }
  return fs.readFileSync(f);
};

/**
 * The built-in modules a run of `args` loaded (stdout a file, stderr a pipe, as in the bench), through a
 * preload that writes process.moduleLoadList at exit (each built-in module is named once).
 */
function modulesLoaded(args: string[]): string[] {
  const probe = path.join(dir, 'probe.cjs');
  fs.writeFileSync(probe, "process.on('exit', () => require('fs').writeSync(3, process.moduleLoadList.join('\\n')));\n");
  const out = fs.openSync(path.join(dir, 'probe-out.txt'), 'w');
  const list = path.join(dir, 'modules.txt');
  const fd3 = fs.openSync(list, 'w');
  try {
    const r = spawnSync(process.execPath, ['-r', probe, BIN, ...args], { stdio: ['ignore', out, 'pipe', fd3], encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  } finally { fs.closeSync(out); fs.closeSync(fd3); }
  const loaded = fs.readFileSync(list, 'utf8').split('\n');
  expect(loaded.length).toBeGreaterThan(50);
  return loaded;
}

describe('a report on standard output, without the stream', () => {
  it('the same bytes to a file and to a pipe', () => {
    const file = viaFile();
    expect(file.length).toBeGreaterThan(65536);
    const pipe = spawnSync(process.execPath, [BIN, ...ARGS], { maxBuffer: 1 << 24 });
    expect(pipe.status).toBe(0);
    expect(pipe.stdout.equals(file)).toBe(true);
  });

  it('a reader that goes away: exit 0, nothing on stderr', () => {
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" ${ARGS.map((a) => `"${a}"`).join(' ')} | head -c 10 >/dev/null`], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('a full device: one line, exit 1', () => {
    const full = fs.openSync('/dev/full', 'w');
    try {
      const r = spawnSync(process.execPath, [BIN, ...ARGS], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^kvmtax: standard output: cannot write: no space left on device\n$/);
    } finally { fs.closeSync(full); }
  });

  it('a non-blocking pipe that fills: every byte, waited for', async () => {
    if (spawnSync('mkfifo', ['--version']).status !== 0) return expect.fail('mkfifo is needed for this test');
    const fifo = path.join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // both ends non-blocking: the child's fd 1 is then non-blocking too, and a write beyond 64 KiB gets EAGAIN
    // until this side reads, which it does only after a pause
    const rd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const wr = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    const child = spawn(process.execPath, [BIN, ...ARGS], { stdio: ['ignore', wr, 'pipe'] });
    fs.closeSync(wr);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    await new Promise((r) => setTimeout(r, 1500));
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(1 << 16);
    let exited = false;
    const done = new Promise<number | null>((res) => child.on('close', (code) => { exited = true; res(code); }));
    for (;;) {
      let n = 0;
      try { n = fs.readSync(rd, buf, 0, buf.length, null); } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        if (exited) break;
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
    fs.closeSync(rd);
    expect(await done).toBe(0);
    expect(err).toBe('');
    expect(Buffer.concat(chunks).equals(viaFile())).toBe(true);
  });

  it('neither standard stream is built, nor node:assert loaded (yargs\' shim, progress: scripts/bundle.mjs)', () => {
    // a file that is not compressed (reading through a stream pipe asks process.stdout whether it is the destination)
    const loaded = modulesLoaded(['report', path.join(TRACES, 'arm64-D-small/trace.dat'), '-f', 'json']);
    // a file on fd 1 would be a sync write stream, a pipe on fd 2 a net socket; node:assert loads its colours
    for (const m of ['NativeModule internal/fs/sync_write_stream', 'NativeModule net', 'NativeModule assert', 'NativeModule internal/util/colors']) {
      expect(loaded, m).not.toContain(m);
    }
  });
});

describe('--help and --version on standard output that is not a terminal (console.log to fd 1)', () => {
  it('the same text to a file and to a pipe; a full device is one line and exit 1; | head exits 0', () => {
    for (const args of [['--help'], ['report', '--help'], ['--version']]) {
      const f = path.join(dir, 'help.txt');
      const fd = fs.openSync(f, 'w');
      try {
        expect(spawnSync(process.execPath, [BIN, ...args], { stdio: ['ignore', fd, 'pipe'] }).status).toBe(0);
      } finally { fs.closeSync(fd); }
      const pipe = spawnSync(process.execPath, [BIN, ...args]);
      expect(pipe.status).toBe(0);
      expect(pipe.stdout.equals(fs.readFileSync(f))).toBe(true);
      expect(pipe.stdout.length).toBeGreaterThan(5);
    }
    const full = fs.openSync('/dev/full', 'w');
    try {
      const r = spawnSync(process.execPath, [BIN, '--help'], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8' });
      expect(r.stderr).toMatch(/^kvmtax: standard output: cannot write: no space left on device\n$/);
      expect(r.status).toBe(1);
    } finally { fs.closeSync(full); }
    const h = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" report --help | head -c 10 >/dev/null`], { encoding: 'utf8' });
    expect(h.stderr).toBe('');
    expect(h.status).toBe(0);
  });

  it('--help builds no standard stream (yargs\' setBlocking looks at the descriptors first: scripts/bundle.mjs)', () => {
    const loaded = modulesLoaded(['--help']);
    for (const m of ['NativeModule internal/fs/sync_write_stream', 'NativeModule net']) expect(loaded, m).not.toContain(m);
  });
});
