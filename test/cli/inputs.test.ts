/**
 * Inputs that are not plain files (a FIFO, /dev/stdin, bash's <(xz -dc ...)) are read as a stream, as
 * "-" is; the progress of a compressed input is its compressed position against its size on disk.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/paths.js';
import { analyze } from '../../src/pipeline/analyze.js';

const BIN = path.join(ROOT, 'bin', 'kvmtax.js');
const T = path.join(ROOT, 'traces/svm-D-small/trace.txt.xz');
const DATA = path.join(ROOT, 'test/support/perf-fixtures/pvm-file.data.xz');
const json = (out: string) => JSON.parse(out) as { totals: { exits_seen: number; exits_handled: number } };
const viaStdin = json(spawnSync(process.execPath, [BIN, 'report', '-f', 'json', '-'], { input: fs.readFileSync(T), encoding: 'utf8' }).stdout);

describe('non-seekable inputs read like -', () => {
  it('stdin gives the figures of the file', () => {
    expect(viaStdin.totals.exits_seen).toBe(770);
  });
  it('a FIFO', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-test-'));
    const fifo = path.join(dir, 'trace.fifo');
    spawnSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', `cat "${T}" > "${fifo}"`]);
    const r = spawnSync(process.execPath, [BIN, 'report', '-f', 'json', fifo], { encoding: 'utf8' });
    writer.kill();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(json(r.stdout).totals).toEqual(viaStdin.totals);
  });
  it('stdin redirected from a file is read as that file, from where the shell left it', () => {
    if (spawnSync('sh', ['-c', 'command -v xz']).status !== 0) { console.warn('skipped: needs xz'); return; }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-test-'));
    try {
      const text = spawnSync('xz', ['-dc', T], { maxBuffer: 1 << 26 }).stdout as Buffer;
      const f = path.join(dir, 'trace.txt');
      fs.writeFileSync(f, text);
      const run = (stdin: number | 'pipe', args: string[]): { status: number | null; stdout: string; stderr: string } =>
        spawnSync(process.execPath, [BIN, 'report', '-f', 'json', ...args], { stdio: [stdin, 'pipe', 'pipe'], encoding: 'utf8' });
      const fd = fs.openSync(f, 'r');
      try {
        const a = run(fd, ['-']);
        expect(a.stderr).toBe('');
        expect(json(a.stdout).totals).toEqual(viaStdin.totals);
        // the shell read part of it first (as `{ head -n 1000 > /dev/null; kvmtax report -; } < f` does): the rest
        const cut = text.indexOf('\n', text.length >> 1) + 1;
        fs.readSync(fd, Buffer.alloc(cut), 0, cut, null);
        const rest = path.join(dir, 'rest.txt');
        fs.writeFileSync(rest, text.subarray(cut));
        const b = run(fd, ['-']);
        expect(b.stderr).toBe('');
        const c = run('pipe', [rest]);
        expect(json(b.stdout).totals).toEqual(json(c.stdout).totals);
        expect(json(b.stdout).totals.exits_seen).toBeLessThan(viaStdin.totals.exits_seen);
      } finally { fs.closeSync(fd); }
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });
  it('a pipe that pauses (a writer with gaps, as a live producer): every byte is read, after each gap', () => {
    if (spawnSync('sh', ['-c', 'command -v xz && command -v dd']).status !== 0) { console.warn('skipped: needs xz and dd'); return; }
    // the text in three pieces, 0.3 s apart, the first ending inside a line
    const sh = `xz -dc "${T}" | { dd bs=1000 count=77 2>/dev/null; sleep 0.3; dd bs=1000 count=100 2>/dev/null; sleep 0.3; cat; } | "${process.execPath}" "${BIN}" report -f json -`;
    const r = spawnSync('sh', ['-c', sh], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(json(r.stdout).totals).toEqual(viaStdin.totals);
  });
  it('/dev/stdin and <(xz -dc ...)', () => {
    const a = spawnSync(process.execPath, [BIN, 'report', '-f', 'json', '/dev/stdin'], { input: fs.readFileSync(T), encoding: 'utf8' });
    expect(a.stderr).toBe('');
    expect(json(a.stdout).totals).toEqual(viaStdin.totals);
    const have = spawnSync('sh', ['-c', 'command -v bash && command -v xz']).status === 0;
    if (!have) { console.warn('skipped: <(xz -dc ...) needs bash and xz'); return; }
    const b = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" report -f json <(xz -dc "${T}")`], { encoding: 'utf8' });
    expect(b.stderr).toBe('');
    expect(json(b.stdout).totals).toEqual(viaStdin.totals);
  });
  it('a binary capture (perf.data) through a FIFO is spooled and read', () => {
    const file = spawnSync(process.execPath, [BIN, 'report', '-f', 'json', DATA], { encoding: 'utf8' });
    expect(file.status).toBe(0);
    const piped = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" report -f json <(cat "${DATA}")`], { encoding: 'utf8' });
    expect(piped.stderr).toBe('');
    expect(json(piped.stdout).totals).toEqual(json(file.stdout).totals);
  });
});

describe('progress of a compressed input', () => {
  it('counts compressed bytes, ending at the file size (never past it)', async () => {
    const size = fs.statSync(T).size;
    const seen: number[] = [];
    await analyze([T], { onProgress: (n) => seen.push(n), chunkBytes: 16 << 10 });
    expect(seen.length).toBeGreaterThan(1);
    expect(Math.max(...seen)).toBeLessThanOrEqual(size);
    expect(seen[seen.length - 1]).toBe(size);
    // monotone
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
  });
});

describe('a .xz file read by the system xz', () => {
  it('ends at once when its text turns bad early: xz is stopped, not left blocked on a full pipe', () => {
    if (spawnSync('sh', ['-c', 'command -v xz']).status !== 0) { console.warn('skipped: needs the system xz'); return; }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-test-'));
    try {
      // the capture's first 1,000 lines, a control byte, then 24 MB more of its text: when the scan stops at the
      // control byte, xz has more to write than a pipe holds (and than the 16 MiB an earlier stream reader queued)
      const text = spawnSync('xz', ['-dc', T], { maxBuffer: 1 << 26 }).stdout as Buffer;
      const head = text.subarray(0, text.indexOf('\n', 200_000) + 1);
      const lines = head.toString('latin1').split('\n').slice(0, 1000);
      const bad = Buffer.concat([Buffer.from(lines.join('\n') + '\n\u0001\n', 'latin1'), ...Array(120).fill(head)]);
      const f = path.join(dir, 'bad.txt.xz');
      fs.writeFileSync(f, spawnSync('xz', ['-0', '-c'], { input: bad, maxBuffer: 1 << 26 }).stdout as Buffer);
      const t0 = Date.now();
      const r = spawnSync(process.execPath, [BIN, 'report', f], { encoding: 'utf8', timeout: 20_000 });
      expect(r.signal).toBeNull(); // not killed by the timeout: it had hung here, xz blocked and kvmtax waiting for it
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/bad\.txt\.xz:1001:1: binary data in a text trace/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(Date.now() - t0).toBeLessThan(20_000);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });
});
