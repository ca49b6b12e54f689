/**
 * kvmtax record without tracing: replay directories laid out like tracefs, built from the pages of a real
 * trace.dat (traces/svm-D-small/trace.dat, trace-cmd's own v7 zstd file of a KVM/SVM run). The written
 * trace.dat must give the same report as the original, read in trace-cmd report with the same event count,
 * and leave the replay directory exactly as it was.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HAVE_TRACE_CMD, requireTraceCmdUnderCi } from '../support/trace-cmd.js';
import { svmDSmallTraceDat } from './svm-d-dat.js';
import { traceDatParts } from '../../src/formats/tracedat/reader.js';
import { writeTraceDatV6 } from '../../src/record/tracedat-writer.js';
import { makeReplayDir, splitStats } from '../../src/record/replay.js';
import { lostOf } from '../../src/record/tracefs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'kvmtax.js');
const DAT = svmDSmallTraceDat();
const STATS = path.join(ROOT, 'traces/svm-D-small/ftrace-per-cpu-stats.txt');

function kvmtax(args: string[], opts: { cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: opts.cwd ?? ROOT });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-rec-'));

/** The JSON report without what names the input file (path, size, version). */
function reportOf(file: string): Record<string, unknown> {
  const r = kvmtax(['report', '-q', '-f', 'json', file]);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const j = JSON.parse(r.out.split(file).join('FILE')) as Record<string, unknown>;
  // what names the input, and the host manifest record writes beside its file (checked on its own)
  delete j.inputs;
  delete j.manifests;
  return j;
}

/** Every file and folder under dir, with its content (to check a replay dir is left as it was). */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      if (fs.statSync(p).isDirectory()) { out.push(`${path.relative(dir, p)}/`); walk(p); } else out.push(`${path.relative(dir, p)} ${fs.statSync(p).size}`);
    }
  };
  walk(dir);
  return out;
}


/** Event lines of `trace-cmd report` (each event line has "[CPU] TIME:"). */
function traceCmdEvents(file: string): number {
  const r = spawnSync('trace-cmd', ['report', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  expect(r.status).toBe(0);
  return r.stdout.split('\n').filter((l) => /\[\d{3}\]\s+\d+\.\d+:/.test(l)).length;
}

describe('trace.dat v6 writer', () => {
  const parts = traceDatParts(DAT);

  it('the parts of the real capture are what the tracefs files held', () => {
    expect(parts.version).toBe(7);
    expect(parts.pageSize).toBe(4096);
    expect(parts.cpus.map((c) => [c.cpu, c.pages.length])).toEqual([[0, 26], [1, 7]]);
    expect(parts.headerPage).toMatch(/field: u64 timestamp;\toffset:0;\tsize:8;/);
    expect(parts.formats.some((f) => f.system === 'kvm' && /name: kvm_exit\n/.test(f.text))).toBe(true);
  });

  it('rewritten as v6, the pages give the same report', () => {
    const d = tmp();
    const out = path.join(d, 'v6.dat');
    writeTraceDatV6(out, { ...parts, tgids: '', cpus: parts.cpus });
    const b = fs.readFileSync(out);
    // magic, version "6", little-endian, long size 8, page size 4096
    expect([...b.subarray(0, 10)]).toEqual([0x17, 0x08, 0x44, ...Buffer.from('tracing')]);
    expect(b.subarray(10, 12).toString('latin1')).toBe('6\0');
    expect([b[12], b[13], b.readUInt32LE(14)]).toEqual([0, 8, 4096]);
    // data is whole pages, page-aligned: 33 pages after the page-aligned header
    expect(b.length % 4096).toBe(0);
    expect(reportOf(out)).toEqual(reportOf(DAT));
    if (HAVE_TRACE_CMD) expect(traceCmdEvents(out)).toBe(traceCmdEvents(DAT));
  });

  it('a failed write leaves no file behind and says why', () => {
    const d = tmp();
    expect(() => writeTraceDatV6(path.join(d, 'no/such/dir/x.dat'), { ...parts, tgids: '', cpus: parts.cpus })).toThrow(/ENOENT/);
    expect(fs.readdirSync(d)).toEqual([]);
  });
});

describe('kvmtax record --tracefs REPLAY', () => {
  requireTraceCmdUnderCi('the trace-cmd report checks of recorded files');
  function replay(): string {
    const d = tmp();
    const r = makeReplayDir(DAT, path.join(d, 'tracefs'), splitStats(fs.readFileSync(STATS, 'utf8')));
    expect(r).toEqual({ cpus: 2, pages: 33 });
    return path.join(d, 'tracefs');
  }

  it('records the replayed pages into a trace.dat that reports like the original', () => {
    const tfs = replay();
    // a kernel without kvm_mmio (the capture's kernel has it, but it never fired in this run)
    fs.rmSync(path.join(tfs, 'events/kvm/kvm_mmio'), { recursive: true });
    const before = listing(tfs);
    const out = path.join(path.dirname(tfs), 'rec.dat');
    const r = kvmtax(['record', '--tracefs', tfs, '-o', out]);
    expect(r.code).toBe(0);
    // kvm_mmio is not among the capture's formats: reported and skipped
    expect(r.err).toMatch(/^kvmtax: event missing: kvm:kvm_mmio \(this kernel has no such tracepoint\), skipped$/m);
    expect(r.err).toMatch(/13 events enabled \(1 missing: kvm:kvm_mmio\), 2 CPUs, 33 pages/);
    expect(r.err).toMatch(/lost events: 0 \(overrun 0, dropped 0/);
    expect(listing(tfs)).toEqual(before);
    expect(fs.readdirSync(path.dirname(tfs)).sort()).toEqual(['rec.dat', 'rec.dat.manifest.json', 'tracefs']);
    expect(reportOf(out)).toEqual(reportOf(DAT));
    // 2837 events in the capture (counts.txt), the same in trace-cmd report
    const j = JSON.parse(kvmtax(['report', '-q', '-f', 'json', out]).out) as { inputs: { events: number }[] };
    expect(j.inputs[0]!.events).toBe(2837);
    if (HAVE_TRACE_CMD) expect(traceCmdEvents(out)).toBe(2837);
    const m = JSON.parse(fs.readFileSync(`${out}.manifest.json`, 'utf8')) as { kvmtax_manifest: number; recording: { pages: number; lost: { overrun: number } } };
    expect(m.kvmtax_manifest).toBe(1);
    expect(m.recording.pages).toBe(33);
    expect(m.recording.lost.overrun).toBe(0);
  });

  it('--flight on a replay: the one snapshot at the end holds every page', () => {
    const tfs = replay();
    const out = path.join(path.dirname(tfs), 'flight.dat');
    const r = kvmtax(['record', '--tracefs', tfs, '-o', out, '--flight', '--duration', '0.3']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/, 33 pages /);
    expect(reportOf(out)).toEqual(reportOf(DAT));
  });

  it.skipIf(!HAVE_TRACE_CMD)('stores per_cpu/cpuN/stats in the file (trace-cmd report --stat shows them)', () => {
    const tfs = replay();
    fs.writeFileSync(path.join(tfs, 'per_cpu/cpu1/stats'), fs.readFileSync(path.join(tfs, 'per_cpu/cpu1/stats'), 'utf8').replace('overrun: 0', 'overrun: 17'));
    const out = path.join(path.dirname(tfs), 'rec.dat');
    const r = kvmtax(['record', '--tracefs', tfs, '-o', out, '-e', 'kvm_exit,kvm_entry']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/lost events: 17 \(overrun 17, dropped 0/);
    const s = spawnSync('trace-cmd', ['report', '--stat', out], { encoding: 'utf8' });
    expect(s.stdout).toMatch(/CPU: 1\nentries: 521\noverrun: 17\n/);
  });

  it.each([
    [['--tracefs', '/no/such/dir'], /^kvmtax: no tracefs at \/no\/such\/dir: no such directory\n$/],
    [['-e', 'kvm:no_such_event'], /event missing: the kernel has none of kvm:no_such_event\n$/],
    [['surplus'], /^kvmtax: Unknown argument: surplus\n/],
  ])('%j: a one-line error', (args, msg) => {
    const tfs = replay();
    const before = listing(tfs);
    const r = kvmtax(['record', '--tracefs', tfs, '-o', path.join(path.dirname(tfs), 'x.dat'), ...args]);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBe(70);
    expect(r.err).toMatch(msg);
    expect(listing(tfs)).toEqual(before);
    expect(fs.existsSync(path.join(path.dirname(tfs), 'x.dat'))).toBe(false);
  });

  it('does not replace a file it did not write', () => {
    const tfs = replay();
    const out = path.join(path.dirname(tfs), 'mine.dat');
    fs.writeFileSync(out, 'precious');
    const r = kvmtax(['record', '--tracefs', tfs, '-o', out]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/mine\.dat exists: kvmtax does not replace a file it did not write/);
    expect(fs.readFileSync(out, 'utf8')).toBe('precious');
  });

  it('runs a command after -- and stops when it exits', () => {
    const tfs = replay();
    const out = path.join(path.dirname(tfs), 'cmd.dat');
    const r = kvmtax(['record', '--tracefs', tfs, '-o', out, '--', process.execPath, '-e', 'process.stdout.write("ran " + process.argv.length)']);
    expect(r.code).toBe(0);
    expect(r.out).toBe('ran 1');
    expect(r.err).toMatch(/stopped by command/);
  });

  it('says "no space" in one line when the disk is full, and leaves nothing behind', () => {
    if (process.getuid?.() !== 0) { console.warn('skipped: mounting a tiny tmpfs needs root'); return; }
    const tfs = replay();
    const small = path.join(path.dirname(tfs), 'small');
    fs.mkdirSync(small);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'kvmtax-test', small]);
    if (m.status !== 0) { console.warn(`skipped: cannot mount a tmpfs here (${m.stderr})`); return; }
    try {
      const r = kvmtax(['record', '--tracefs', tfs, '-o', path.join(small, 'x.dat')]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^kvmtax: no space left on device writing .*\n$/);
      expect(fs.readdirSync(small)).toEqual([]);
    } finally {
      spawnSync('umount', [small]);
    }
  });
});

describe('lost events from per_cpu/cpuN/stats', () => {
  it('sums overrun and dropped events per CPU', () => {
    const l = lostOf(new Map([[0, 'entries: 5\noverrun: 12\ncommit overrun: 0\ndropped events: 3\n'], [1, 'overrun: 1\ndropped events: 0\n']]));
    expect(l.overrun).toBe(13);
    expect(l.dropped).toBe(3);
    expect(l.perCpu.get(0)).toEqual({ overrun: 12, dropped: 3 });
  });
});
