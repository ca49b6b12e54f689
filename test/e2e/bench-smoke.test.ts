// The bench's smoke run (issue 7): `node dist/bench/bench.js --quick` completes, every correctness
// check passes (kvmtax = the generator's expected totals = the baseline parser, and perf kvm stat /
// trace-cmd where they are installed) and the table is printed. Not a timed test: no speed assertions.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const benchJs = path.join(root, 'dist', 'bench', 'bench.js');

describe('bench --quick (smoke run)', () => {
  it('completes, checks correctness and prints the table', () => {
    expect(fs.existsSync(benchJs), 'dist/bench/bench.js is built by npm run build').toBe(true);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-bench-smoke-'));
    try {
      const r = spawnSync(process.execPath, [benchJs, '--quick', '--dir', dir], { cwd: root, encoding: 'utf8', timeout: 120_000 });
      const out = r.stdout;
      expect(r.status, `${out}\n${r.stderr}`).toBe(0);
      expect(out).toMatch(/^cpu: /m);
      expect(out).toMatch(/^node: /m);
      // the table: its header and the kvmtax and baseline rows on the same generated file
      expect(out).toMatch(/^\| contender +\| input +\| median s \| MB\/s \| peak RSS MB \|/m);
      expect(out).toMatch(/^\| kvmtax-ftrace +\|/m);
      expect(out).toMatch(/^\| baseline-ftrace +\|/m);
      expect(out).toMatch(/^\| kvmtax-perf +\|/m);
      expect(out).toMatch(/^\| kvmtax-trace-cmd +\|/m);
      expect(out).toMatch(/^\| startup +\|/m);
      expect(out).toMatch(/^\| startup tiny +\|/m);
      // issue 15: the simple file, the memory shapes, and the native reference where there is a C compiler
      expect(out).toMatch(/^\| kvmtax-simple +\|/m);
      expect(out).toMatch(/^\| kvmtax-256vcpu +\|/m);
      expect(out).toMatch(/^\| kvmtax-150k-threads +\|/m);
      if (/built the native reference scanner/.test(out)) {
        expect(out).toMatch(/^\| native-simple +\|/m);
        expect(out).toContain("ok   native scanner on ftrace text = generator's expected totals");
      } else expect(out).toMatch(/^note: native-\*: /m);
      // correctness: the three text formats and the baseline agree with the generator's sidecar
      expect(out).toContain("ok   kvmtax on ftrace text = generator's expected totals");
      expect(out).toContain("ok   kvmtax on perf text = generator's expected totals");
      expect(out).toContain("ok   kvmtax on trace-cmd text = generator's expected totals");
      expect(out).toContain("ok   baseline on ftrace text = generator's expected totals");
      expect(out).toContain('ok   kvmtax on ftrace text = baseline');
      expect(out).not.toMatch(/FAIL|MISMATCH/);
      // the inputs were deleted
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
