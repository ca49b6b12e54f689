/**
 * The trace.dat v7 writer (uncompressed and zstd) on the pages of a real capture
 * (traces/svm-D-small/trace.dat, trace-cmd's own v7 zstd file of a KVM/SVM run): kvmtax's reader gives the
 * same report as for the v6 file of the same pages, and Debian's trace-cmd (when installed) reads the same
 * 2837 events (counts.txt) from each; the sections are laid out as trace-cmd.dat.v7(5) says.
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
import { writeTraceDatV7, loadZstd } from '../../src/record/tracedat-v7.js';
import { makeReplayDir, splitStats } from '../../src/record/replay.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'kvmtax.js');
const DAT = svmDSmallTraceDat();
const STATS = path.join(ROOT, 'traces/svm-D-small/ftrace-per-cpu-stats.txt');
const EVENTS = 2837;

function kvmtax(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-v7-'));

/** The JSON report without what names the input file; and its events and meta. */
function reportOf(file: string): { rest: Record<string, unknown>; events: number; meta: Record<string, unknown> } {
  const r = kvmtax(['report', '-q', '-f', 'json', file]);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const j = JSON.parse(r.out.split(file).join('FILE')) as Record<string, unknown> & { inputs: { events: number; meta: Record<string, unknown> }[] };
  const { events, meta } = j.inputs[0]!;
  delete (j as Record<string, unknown>).inputs;
  delete j.manifests;
  return { rest: j, events, meta };
}


function traceCmdEvents(file: string): number {
  const r = spawnSync('trace-cmd', ['report', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  expect(r.status).toBe(0);
  return r.stdout.split('\n').filter((l) => /\[\d{3}\]\s+\d+\.\d+:/.test(l)).length;
}

/** The section headers met walking the file from the end of the initial header (u16 id, u16 flags, u32, u64 size). */
function sections(b: Buffer, from: number): [number, number][] {
  const out: [number, number][] = [];
  for (let p = from; p < b.length;) {
    out.push([b.readUInt16LE(p), b.readUInt16LE(p + 2)]);
    p += 16 + Number(b.readBigUInt64LE(p + 8));
  }
  return out;
}

describe('trace.dat v7 writer', () => {
  requireTraceCmdUnderCi('the trace-cmd report checks of the v7 files');
  const parts = traceDatParts(DAT);
  const d = tmp();
  const v6 = path.join(d, 'v6.dat');
  writeTraceDatV6(v6, { ...parts, tgids: '', cpus: parts.cpus });
  const base = reportOf(v6);

  it('uncompressed: sections in order, page-aligned data, the same report as v6', () => {
    const out = path.join(d, 'v7.dat');
    writeTraceDatV7(out, { ...parts, tgids: '', cpus: parts.cpus });
    const b = fs.readFileSync(out);
    expect(b.subarray(3, 12).toString('latin1')).toBe('tracing7\0');
    expect([b[12], b[13], b.readUInt32LE(14)]).toEqual([0, 8, 4096]);
    expect(b.subarray(18, 24).toString('latin1')).toBe('none\0\0');
    // HEADER_INFO, FTRACE_EVENTS, EVENT_FORMATS, CMDLINES, BUFFER, OPTIONS, STRINGS, none compressed,
    // contiguous from offset 32 to the end of the file
    expect(sections(b, 32)).toEqual([[16, 0], [17, 0], [18, 0], [21, 0], [3, 0], [0, 0], [15, 0]]);
    const optAt = Number(b.readBigUInt64LE(24));
    expect(b.readUInt16LE(optAt)).toBe(0);
    const r = reportOf(out);
    expect(r.events).toBe(EVENTS);
    expect(r.meta).toMatchObject({ version: 7, cpus: 2, clock: 'local' });
    expect(r.rest).toEqual(base.rest);
    if (HAVE_TRACE_CMD) expect(traceCmdEvents(out)).toBe(EVENTS);
  });

  it('zstd: compressed sections and page chunks, the same report as v6', async () => {
    const out = path.join(d, 'v7z.dat');
    const z = await loadZstd();
    writeTraceDatV7(out, { ...parts, tgids: '', cpus: parts.cpus }, { compressor: z });
    const b = fs.readFileSync(out);
    expect(b.subarray(18, 23).toString('latin1')).toBe('zstd\0');
    const vend = b.indexOf(0, 23);
    expect(b.subarray(23, vend).toString('latin1')).toMatch(/^1\.\d+\.\d+$/);
    expect(sections(b, vend + 9)).toEqual([[16, 1], [17, 1], [18, 1], [21, 1], [3, 1], [0, 0], [15, 1]]);
    // much smaller than the plain file (33 pages of events, ~1 MB of formats)
    expect(b.length).toBeLessThan(fs.statSync(v6).size / 4);
    const r = reportOf(out);
    expect(r.events).toBe(EVENTS);
    expect(r.meta).toMatchObject({ version: 7, compression: 'zstd' });
    expect(r.rest).toEqual(base.rest);
    if (HAVE_TRACE_CMD) expect(traceCmdEvents(out)).toBe(EVENTS);
  });

  it('a failed write leaves no file behind', async () => {
    const e = tmp();
    expect(() => writeTraceDatV7(path.join(e, 'no/such/x.dat'), { ...parts, tgids: '', cpus: parts.cpus })).toThrow(/ENOENT/);
    expect(fs.readdirSync(e)).toEqual([]);
  });
});

describe('kvmtax record --format-version 7 --tracefs REPLAY', () => {
  function replay(): string {
    const t = tmp();
    expect(makeReplayDir(DAT, path.join(t, 'tracefs'), splitStats(fs.readFileSync(STATS, 'utf8')))).toEqual({ cpus: 2, pages: 33 });
    return path.join(t, 'tracefs');
  }

  it.each([[[] as string[], undefined], [['--compress', 'zstd'], 'zstd']])('%j: reports like the v6 recording', (extra, comp) => {
    const tfs = replay();
    const v6 = path.join(path.dirname(tfs), 'v6.dat');
    const v7 = path.join(path.dirname(tfs), 'v7.dat');
    expect(kvmtax(['record', '--tracefs', tfs, '-o', v6, '-q']).code).toBe(0);
    const r = kvmtax(['record', '--tracefs', tfs, '-o', v7, '--format-version', '7', ...extra]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(new RegExp(`wrote .*v7\\.dat \\(trace\\.dat v7${comp ? ', zstd' : ''}\\)`));
    const a = reportOf(v6), b = reportOf(v7);
    expect(b.events).toBe(EVENTS);
    expect(b.meta.compression).toBe(comp);
    expect(b.rest).toEqual(a.rest);
    if (HAVE_TRACE_CMD) expect(traceCmdEvents(v7)).toBe(EVENTS);
  });

  it.each([
    [['--compress', 'zstd'], /--compress needs --format-version 7/],
    [['--format-version', '5'], /--format-version must be 6 or 7, not 5/],
    [['--format-version', '7', '--compress', 'lz4'], /--compress must be none or zstd, not "lz4"/],
  ])('%j: a one-line usage error, nothing written', (args, msg) => {
    const tfs = replay();
    const out = path.join(path.dirname(tfs), 'x.dat');
    const r = kvmtax(['record', '--tracefs', tfs, '-o', out, ...args]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(msg);
    expect(r.err.trim().split('\n').length).toBe(1);
    expect(fs.existsSync(out)).toBe(false);
  });
});
