/**
 * What a user's mistakes and a failing disk give: one line and exit 1 or 2 (never 70 with a stack), no
 * file that looks complete but is not, nothing replaced that kvmtax did not make, no input overwritten.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tmpTrace } from '../support/paths.js';

const BIN = path.join(ROOT, 'bin', 'kvmtax.js');
const T = path.join(ROOT, 'traces/svm-D-small/trace.txt.xz');
function kvmtax(args: string[], opts: { input?: string; stdio?: 'full' } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8', cwd: ROOT, input: opts.input,
    stdio: opts.stdio === 'full' ? ['pipe', fs.openSync('/dev/full', 'w'), 'pipe'] : undefined,
  });
  return { code: r.status, out: r.stdout ?? '', err: r.stderr };
}
/** One line on stderr, no stack, the exit code given. */
function oneLine(r: { code: number | null; err: string }, code: number, re: RegExp) {
  expect(r.err).toMatch(re);
  expect(r.err).not.toMatch(/internal error|    at /);
  expect(r.err.trim().split('\n')[0]).toMatch(/^kvmtax: /);
  expect(r.code).toBe(code);
}
const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-test-'));
/** Files in `dir` whose names kvmtax uses while writing. */
const leftovers = (dir: string) => fs.readdirSync(dir).filter((f) => /kvmtax-\d+|\.partial$|^tmp_/.test(f));

describe('user mistakes are one line with exit 1 or 2', () => {
  it('-o into a directory that does not exist', () => {
    oneLine(kvmtax(['report', T, '-o', '/nonexistent-kvmtax/dir/x']), 1, /no such directory \/nonexistent-kvmtax\/dir/);
  });
  it('-o - is stdout', () => {
    const r = kvmtax(['report', T, '-o', '-', '-f', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).totals.exits_seen).toBe(770);
  });
  it('-o naming an input trace is refused, and the trace is untouched', () => {
    const copy = tmpTrace(fs.readFileSync(T), 'trace.txt.xz');
    const before = fs.readFileSync(copy);
    oneLine(kvmtax(['report', copy, '-o', copy]), 2, /is the input .*refusing to overwrite a trace/);
    // the same file by another name (a symlink) too
    const link = path.join(path.dirname(copy), 'link');
    fs.symlinkSync(copy, link);
    oneLine(kvmtax(['report', copy, '-o', link]), 2, /refusing to overwrite a trace/);
    expect(fs.readFileSync(copy).equals(before)).toBe(true);
  });
  it('--top 1e8 and --top 1.5 are usage errors; --top 10 --top 5 is 5', () => {
    oneLine(kvmtax(['report', T, '--top', '1e8']), 2, /--top must be a whole number from 0 to 100000/);
    oneLine(kvmtax(['report', T, '--top', '1.5']), 2, /--top must be a whole number/);
    expect(JSON.parse(kvmtax(['report', T, '--top', '10', '--top', '5', '-f', 'json']).out).top).toHaveLength(5);
  });
  it('several --what-if: each forecast rendered, in the order given', () => {
    const r = kvmtax(['report', T, '--what-if', 'cpu-pm', '--what-if', 'exitless-ipi', '-f', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).what_if.map((w: { scenario: string }) => w.scenario)).toEqual(['cpu-pm', 'exitless-ipi']);
    const one = JSON.parse(kvmtax(['report', T, '--what-if', 'cpu-pm', '-f', 'json']).out);
    expect(one.what_if.scenario).toBe('cpu-pm');
    const table = kvmtax(['report', '--what-if', 'exitless-ipi', T, '--what-if', 'cpu-pm']).out;
    expect(table.indexOf('exitless IPI')).toBeGreaterThan(0);
    expect(table.indexOf('cpu-pm')).toBeGreaterThan(table.indexOf('exitless IPI'));
    oneLine(kvmtax(['report', T, '--what-if', 'nope']), 2, /--what-if: unknown scenario "nope"/);
  });
  it('a mistyped command: did you mean report?', () => {
    oneLine(kvmtax(['reprot', T]), 2, /unknown command "reprot": did you mean report\?/);
    oneLine(kvmtax(['comapre', T]), 2, /did you mean compare\?/);
    oneLine(kvmtax(['frobnicate', T]), 2, /unknown command "frobnicate" \(commands: report, compare/);
  });
  it('a bad --memory-limit: 0, abc, 1KB', () => {
    for (const v of ['0', 'abc', '1KB']) oneLine(kvmtax(['sql', 'SELECT 1', T, '--memory-limit', v]), 2, /--memory-limit/);
  });
});

describe('write errors', () => {
  it('stdout on a full disk: exit 1, one line (not a silent success)', () => {
    oneLine(kvmtax(['report', T, '-f', 'json'], { stdio: 'full' }), 1, /standard output: cannot write: no space left on device/);
  });
  it('-o on a full disk (/dev/full): exit 1', () => {
    oneLine(kvmtax(['report', T, '-o', '/dev/full']), 1, /\/dev\/full: cannot write: no space left on device/);
  });
  it('-o replaces a file only once the new one is complete, through a temporary beside it', () => {
    const dir = tmpDir();
    const out = path.join(dir, 'r.json');
    fs.writeFileSync(out, 'old');
    fs.chmodSync(out, 0o640);
    expect(kvmtax(['report', T, '-f', 'json', '-o', out]).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(out, 'utf8')).totals.exits_seen).toBe(770);
    expect(fs.statSync(out).mode & 0o777).toBe(0o640);
    expect(leftovers(dir)).toEqual([]);
  });
  it('-o into a FIFO writes into it (never replaces it)', async () => {
    const dir = tmpDir();
    const fifo = path.join(dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    const reader = spawn('cat', [fifo]);
    let got = '';
    reader.stdout.on('data', (d) => { got += d; });
    const done = new Promise((r) => reader.on('close', r));
    expect(kvmtax(['report', T, '-f', 'json', '-o', fifo]).code).toBe(0);
    await done;
    expect(JSON.parse(got).totals.exits_seen).toBe(770);
    expect(fs.lstatSync(fifo).isFIFO()).toBe(true);
  });
});

describe('sql --db never deletes what it did not make', () => {
  it('--db naming the input trace is refused', () => {
    const copy = tmpTrace(fs.readFileSync(T), 'trace.txt.xz');
    oneLine(kvmtax(['sql', 'SELECT 1', copy, '--db', copy]), 2, /refusing to overwrite a trace/);
    expect(fs.readFileSync(copy).equals(fs.readFileSync(T))).toBe(true);
  });
  it('--db naming a directory or a file that is not kvmtax\'s database', () => {
    const dir = tmpDir();
    oneLine(kvmtax(['sql', 'SELECT 1', T, '--db', dir]), 1, /is a directory/);
    const notes = path.join(dir, 'notes.txt');
    fs.writeFileSync(notes, 'my notes');
    oneLine(kvmtax(['sql', 'SELECT 1', T, '--db', notes]), 1, /not a database kvmtax made: refusing to replace it/);
    expect(fs.readFileSync(notes, 'utf8')).toBe('my notes');
  });
  it('a database kvmtax made is replaced; rows are there; no temporary left', () => {
    const dir = tmpDir();
    const db = path.join(dir, 'rows.duckdb');
    expect(kvmtax(['sql', 'SELECT count(*) AS n FROM exits', T, '--db', db, '-f', 'json']).code).toBe(0);
    const r = kvmtax(['sql', 'SELECT count(*) AS n FROM exits', T, '--db', db, '-f', 'json']);
    expect(r.err).toBe('');
    expect(JSON.parse(r.out)[0].n).toBe(768);
    expect(fs.readdirSync(dir)).toEqual(['rows.duckdb']);
  });
});

describe('sql runs the query without file access', () => {
  it('COPY TO, read_csv and turning access back on are refused, one line, exit 1', () => {
    const dir = tmpDir();
    const out = path.join(dir, 'x.csv');
    oneLine(kvmtax(['sql', `COPY (SELECT 1) TO '${out}'`, T]), 1, /file system operations are disabled/);
    expect(fs.existsSync(out)).toBe(false);
    oneLine(kvmtax(['sql', "SELECT * FROM read_csv('/etc/passwd')", T]), 1, /file system operations are disabled/);
    oneLine(kvmtax(['sql', 'SET enable_external_access = true', T]), 1, /Cannot enable external access/);
    expect(kvmtax(['sql', 'SELECT count(*) AS n FROM exits', T, '-f', 'json']).out).toMatch(/"n": 768/);
  });
});

describe('export outputs', () => {
  it('--perfetto - writes the trace to stdout', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'a.pftrace');
    expect(kvmtax(['export', T, '-q', '--perfetto', file]).code).toBe(0);
    const r = spawnSync(process.execPath, [BIN, 'export', T, '-q', '--perfetto', '-'], { cwd: ROOT });
    expect(r.status).toBe(0);
    expect(r.stderr.toString()).toBe('');
    expect(Buffer.compare(r.stdout, fs.readFileSync(file))).toBe(0);
  });
  it('--perfetto never replaces a FIFO, a device or an input', () => {
    const dir = tmpDir();
    const fifo = path.join(dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    oneLine(kvmtax(['export', T, '--perfetto', fifo]), 1, /not a regular file/);
    expect(fs.lstatSync(fifo).isFIFO()).toBe(true);
    oneLine(kvmtax(['export', T, '--perfetto', '/dev/null']), 1, /not a regular file/);
    expect(fs.statSync('/dev/null').isCharacterDevice()).toBe(true);
    const copy = tmpTrace(fs.readFileSync(T), 'trace.txt.xz');
    oneLine(kvmtax(['export', copy, '--perfetto', copy]), 2, /refusing to overwrite a trace/);
  });
  it('--perfetto through a symlink replaces the link\'s target, keeping the link', () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'real.pftrace'), 'old');
    fs.symlinkSync('real.pftrace', path.join(dir, 'link.pftrace'));
    expect(kvmtax(['export', T, '-q', '--perfetto', path.join(dir, 'link.pftrace')]).code).toBe(0);
    expect(fs.lstatSync(path.join(dir, 'link.pftrace')).isSymbolicLink()).toBe(true);
    expect(fs.statSync(path.join(dir, 'real.pftrace')).size).toBeGreaterThan(1000);
  });
  it('--parquet naming an existing file without .parquet replaces it whole', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'out');
    fs.writeFileSync(f, 'old');
    expect(kvmtax(['export', T, '-q', '--parquet', f]).code).toBe(0);
    expect(fs.readFileSync(f).subarray(0, 4).toString()).toBe('PAR1');
    expect(fs.readdirSync(dir)).toEqual(['out']);
  });
  it('--parquet DIR: the directory appears whole; a rerun swaps it; a directory of other files is refused', () => {
    const dir = tmpDir();
    const out = path.join(dir, 'pq');
    expect(kvmtax(['export', T, '-q', '--parquet', out]).code).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(['exits.parquet', 'halts.parquet', 'lapic.parquet']);
    const ino = fs.statSync(out).ino;
    expect(kvmtax(['export', T, '-q', '--parquet', out]).code).toBe(0);
    expect(fs.statSync(out).ino).not.toBe(ino); // a new directory took the name
    expect(fs.readdirSync(dir)).toEqual(['pq']);
    const mine = path.join(dir, 'mine');
    fs.mkdirSync(mine);
    fs.writeFileSync(path.join(mine, 'data.csv'), 'x');
    oneLine(kvmtax(['export', T, '--parquet', mine]), 1, /holds other files than kvmtax's tables \(data\.csv\)/);
    expect(fs.readdirSync(mine)).toEqual(['data.csv']);
  });
  it('two exports into the same directory at once: both succeed (no DuckDB lock), the directory is whole', async () => {
    const dir = tmpDir();
    const out = path.join(dir, 'pq');
    const run = () => new Promise<{ code: number | null; err: string }>((resolve) => {
      const p = spawn(process.execPath, [BIN, 'export', T, '-q', '--parquet', out], { cwd: ROOT });
      let err = '';
      p.stderr.on('data', (d) => { err += d; });
      p.on('close', (code) => resolve({ code, err }));
    });
    const [a, b] = await Promise.all([run(), run()]);
    expect([a.err, b.err]).toEqual(['', '']);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(fs.readdirSync(out).sort()).toEqual(['exits.parquet', 'halts.parquet', 'lapic.parquet']);
    expect(fs.readdirSync(dir)).toEqual(['pq']);
  });
  it('SIGTERM midway leaves no staging directory, no partial file and no scratch directory', async () => {
    const dir = tmpDir();
    const out = path.join(dir, 'pq');
    const before = new Set(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('kvmtax-parquet-')));
    // a FIFO as input that is never written to: kvmtax waits with its staging directory made
    const fifo = path.join(dir, 'in.fifo');
    spawnSync('mkfifo', [fifo]);
    const p = spawn(process.execPath, [BIN, 'export', fifo, '-q', '--parquet', out], { cwd: ROOT });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    await new Promise((r) => setTimeout(r, 1500));
    const during = fs.readdirSync(dir);
    p.kill('SIGTERM');
    const sig = await new Promise((r) => p.on('close', (_c, s) => r(s)));
    expect(during.some((f) => f.startsWith('.pq.kvmtax-'))).toBe(true);
    expect(sig).toBe('SIGTERM');
    expect(err).toMatch(/interrupted \(SIGTERM\): temporary files removed/);
    expect(fs.readdirSync(dir).sort()).toEqual(['in.fifo']);
    const after = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('kvmtax-parquet-') && !before.has(f));
    expect(after).toEqual([]);
  });
});
