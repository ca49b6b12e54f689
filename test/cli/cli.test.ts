/** The command line as a user meets it: exit codes, one-line errors without stack traces, stdin, -o. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, TRACES, tmpTrace } from '../support/paths.js';

const BIN = path.join(ROOT, 'bin', 'kvmtax.js');
function kvmtax(args: string[], input?: Buffer | string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', cwd: ROOT });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('kvmtax CLI', () => {
  it('reports a bundled trace (exit 0)', () => {
    const r = kvmtax(['report', 'traces/svm-D-small/trace.txt.xz', '--wide']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^kvmtax \d+\.\d+\.\d+ report/);
    expect(r.out).toMatch(/\nhlt \(idle\)\s+66\s+66 /);
  });
  it('reads stdin with -', () => {
    const r = kvmtax(['report', '-', '--format', 'json'], fs.readFileSync(path.join(TRACES, 'svm-D-small/trace.txt.xz')));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).totals.exits_seen).toBe(770);
  });
  it('writes -o FILE', () => {
    const out = tmpTrace('', 'out.md');
    const r = kvmtax(['report', 'traces/svm-D-small/trace.txt.xz', '-f', 'md', '-o', out]);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toMatch(/^# kvmtax/);
  });
  it.each([
    [['report', 'no/such/file.txt'], /^kvmtax: no\/such\/file\.txt: no such file\n$/],
    [['report', 'README.md'], /^kvmtax: README\.md:1:1: expected a trace .*\(got "# kvmtax"\)\n$/],
    [['report', 'package-lock.json', '--strict'], /^kvmtax: package-lock\.json:1:1: expected a trace/],
  ])('bad input %j: one line, exit 1, no stack trace', (args, msg) => {
    const r = kvmtax(args);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(msg);
    expect(r.err.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.err).not.toMatch(/\n\s+at /);
  });
  it('binary garbage: byte offset, exit 1', () => {
    const p = tmpTrace(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0]), 'a.out');
    const r = kvmtax(['report', p]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`kvmtax: ${p}: byte 0: expected a trace (ftrace, trace-cmd report or perf script text, perf.data, trace.dat or Perfetto) (got binary data "7f 45 4c 46 02 01 01 00...")\n`);
  });
  it('--strict stops at the first skipped line with file:line:col', () => {
    const p = tmpTrace('# tracer: nop\n  vmm-1 [000] d..1.  1.000000: kvm_entry: vcpu 0, rip 0x1\nnot a line\n');
    const r = kvmtax(['report', p, '--strict']);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`kvmtax: ${p}:3:1: expected a trace event line "<task>-<pid> [<cpu>] <timestamp>: <event>: ..." (got "not a line") [--strict]\n`);
  });
  it('usage errors exit 2', () => {
    expect(kvmtax(['report', 'x', '--format', 'pdf']).code).toBe(2);
    expect(kvmtax(['report']).code).toBe(2);
    expect(kvmtax(['frobnicate']).code).toBe(2);
  });
  it('an unknown option is named once, as typed (yargs lists "such-option, suchOption"); files taken as an option\'s value are named', () => {
    const t = path.join(TRACES, 'svm-D-small/trace.txt.xz');
    const cases: [string[], string][] = [
      [['report', t, '--such-option'], 'Unknown option: --such-option'],
      [['report', t, '--such-option=3', '-Z'], 'Unknown options: --such-option, -Z'],
      [['report', t, '--no-such-option'], 'Unknown option: --no-such-option'],
      [['export', '-f', 'csv', t, '-o', 'x.csv'], 'Unknown options: -f, -o'],
      [['record', 'surplus'], 'Unknown argument: surplus'],
      // before the files, an option takes the next word as its value: the message says which file went
      [['report', '--such-option', t], `Not enough non-option arguments: got 0, need at least 1 (${t} was read as the value of --such-option: put the files before it, or check the option's name)`],
      [['compare', '-f', 'json', '--vs', t, t], `Not enough non-option arguments: got 0, need at least 1 (${t}, ${t} were read as the values of --vs: put the files before it, or check the option's name)`],
      [['report', '-f', 'json'], 'Not enough non-option arguments: got 0, need at least 1'],
    ];
    for (const [args, line] of cases) {
      const r = kvmtax(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toBe(`kvmtax: ${line}\nrun "kvmtax --help" for the commands and options\n`);
    }
  });
});
