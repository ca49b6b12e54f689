/**
 * Bench rows of trace.dat read by --jobs (issue 15), their own table after the main one: a real capture
 * (svm-A-baseline's trace.dat, 2 CPUs) tiled side by side on 192 CPU streams (tile-tracedat.ts --cpus 192: 96
 * VMs, each group of 2 CPUs its own threads, its copies one after the other in time), to min(--size, 1 GiB) of
 * pages (8 MiB with --quick), as v7 with zstd chunks (trace-cmd's default) and as plain v6, within the default
 * memory budget (its 2,200 threads, 192 of them vCPUs, read at 115 MB with one job); the 16-job row, whose workers
 * each keep their own budget, runs with --max-memory 1024.
 *
 *   kvmtax-td192-zstd, -jobs2       kvmtax report at 1 and 2 jobs (the CLI caps --jobs at the CPUs available)
 *   kvmtax-td192-zstd-jobs16        16 jobs through bench/jobs-run.js (no cap): on a 2-core machine its wall time
 *                                   only waits, but its CPU time and peak RSS are those of 16 workers at once
 *   kvmtax-td192-plain, -jobs2      the v6 file at 1 and 2 jobs
 *
 * Wall and CPU time (user + system, GNU time) and peak RSS, medians of alternating runs. Checked: events and
 * exits seen = copies x the capture's, and the sliced reports = the one-job report, without a one-thread note.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseSize } from './gen.js';
import { tileTraceDat } from './tile-tracedat.js';
import type { PackedKit } from './packed.js';

export interface CpusKit extends Omit<PackedKit, 'measure'> {
  measure: (cmd: string[], stdout: string | null) => Promise<{ wall: number; rssKb: number; code: number; stderr: string; cpu: number }>;
  src: string | undefined;
}

const NAMES = ['kvmtax-td192-zstd', 'kvmtax-td192-zstd-jobs2', 'kvmtax-td192-zstd-jobs16', 'kvmtax-td192-plain', 'kvmtax-td192-plain-jobs2'];

interface Report { inputs: Array<{ events: number }>; totals: { exits_seen: number }; notes: string[] }

/** Every leaf that differs. */
function differences(a: unknown, b: unknown, p = ''): string[] {
  if (typeof a !== 'object' || a === null) return a === b ? [] : [`${p}: ${String(a)} != ${String(b)}`];
  const keys = new Set([...Object.keys(a), ...Object.keys((b ?? {}) as object)]);
  return [...keys].flatMap((k) => differences((a as Record<string, unknown>)[k], (b as Record<string, unknown> | undefined)?.[k], `${p}.${k}`));
}

export async function benchTraceDatCpus(k: CpusKit): Promise<void> {
  if (!k.want('trace.dat-192cpu') && !NAMES.some((n) => k.want(n))) return;
  if (!k.src) { k.say('note: trace.dat-192cpu: no capture to tile: skipped'); return; }
  const size = k.quick ? parseSize('8M') : Math.min(k.size, parseSize('1G'));
  const node = process.execPath;
  const files: Record<string, { file: string; copies: number }> = {};
  for (const zstd of [true, false]) {
    if (!NAMES.filter((n) => n.includes(zstd ? 'zstd' : 'plain')).some((n) => k.want(n)) && !k.want('trace.dat-192cpu')) continue;
    const file = path.join(k.tmp, `td192-${zstd ? 'zstd' : 'plain'}.trace.dat`);
    const r = await tileTraceDat(k.src, file, size, zstd, 192);
    files[zstd ? 'zstd' : 'plain'] = { file, copies: r.copies };
    k.say(`tiled ${path.relative(k.root, k.src)} x ${r.copies} on ${r.cpus} CPUs${zstd ? ' (v7, zstd)' : ' (v6)'} -> ${k.fmtBytes(r.bytes)}`);
  }
  const jobsRun = path.join(k.root, 'dist', 'bench', 'jobs-run.js');
  const cs: Array<{ name: string; file: string; jobs: number; cmd: string[]; out: string; runs: Awaited<ReturnType<CpusKit['measure']>>[] }> = [];
  for (const [tag, f] of Object.entries(files)) {
    for (const jobs of tag === 'zstd' ? [1, 2, 16] : [1, 2]) {
      const name = `kvmtax-td192-${tag}${jobs > 1 ? `-jobs${jobs}` : ''}`;
      if (!k.want(name) && !k.want('trace.dat-192cpu')) continue;
      const out = path.join(k.tmp, `${name}.json`);
      const cmd = jobs > 2 ? [node, jobsRun, f.file, '--jobs', String(jobs), '--max-memory', '1024', '-o', out]
        : k.kvmtax(f.file, out, jobs > 1 ? ['--jobs', String(jobs)] : []);
      cs.push({ name, file: f.file, jobs, cmd, out, runs: [] });
    }
  }
  for (let run = 0; run < k.runs; run++) {
    for (const c of cs) {
      const m = await k.measure(c.cmd, null);
      if (m.code !== 0) k.problems.push(`${c.name}: exit code ${m.code}: ${m.stderr.trim().split('\n').slice(-2).join(' | ')}`);
      c.runs.push(m);
      process.stderr.write(`  run ${run + 1}/${k.runs} ${c.name}: ${m.wall.toFixed(3)} s, cpu ${m.cpu.toFixed(3)} s\n`);
    }
  }
  // the table
  const med = (c: (typeof cs)[number], f: (m: (typeof cs)[number]['runs'][number]) => number): number => k.median(c.runs.map(f));
  const rows: string[][] = [['contender', 'input', 'jobs', 'wall s', 'cpu s', 'peak RSS MB', 'vs one job']];
  for (const c of cs) {
    const one = cs.find((x) => x.file === c.file && x.jobs === 1);
    const w = med(c, (m) => m.wall), cpu = med(c, (m) => m.cpu), rss = med(c, (m) => m.rssKb) / 1024;
    let vs = '';
    if (one && one !== c) {
      const w1 = med(one, (m) => m.wall), c1 = med(one, (m) => m.cpu), r1 = med(one, (m) => m.rssKb) / 1024;
      vs = `wall ${(w1 / w).toFixed(2)}x faster, cpu +${(cpu - c1).toFixed(3)} s, RSS +${((rss - r1) / (c.jobs - 1)).toFixed(0)} MB per worker`;
    }
    rows.push([c.name, k.fmtBytes(fs.statSync(c.file).size), String(c.jobs), w.toFixed(3), cpu.toFixed(3), rss.toFixed(0), vs]);
  }
  const wd = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  k.say('');
  k.say('### trace.dat on 192 CPU streams, by --jobs');
  for (const [i, r] of rows.entries()) {
    k.say(`| ${r.map((x, j) => x.padEnd(wd[j]!)).join(' | ')} |`);
    if (i === 0) k.say(`|${wd.map((n) => '-'.repeat(n + 2)).join('|')}|`);
  }
  // the checks
  const srcRep = JSON.parse(spawnSync(node, [path.join(k.root, 'bin', 'kvmtax.js'), 'report', k.src, '-f', 'json'], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout) as Report;
  for (const [tag, f] of Object.entries(files)) {
    const read = (c: (typeof cs)[number]): Report | undefined => (fs.existsSync(c.out) ? JSON.parse(fs.readFileSync(c.out, 'utf8')) as Report : undefined);
    const one = cs.find((c) => c.file === f.file && c.jobs === 1);
    const r1 = one && read(one);
    if (r1) {
      const d: string[] = [];
      if (r1.inputs[0]!.events !== f.copies * srcRep.inputs[0]!.events) d.push(`events ${r1.inputs[0]!.events} != ${f.copies} x ${srcRep.inputs[0]!.events}`);
      if (r1.totals.exits_seen !== f.copies * srcRep.totals.exits_seen) d.push(`exits seen ${r1.totals.exits_seen} != ${f.copies} x ${srcRep.totals.exits_seen}`);
      const what = `kvmtax on the 192-CPU trace.dat (${tag}): events and exits seen = copies x the capture's`;
      k.say(d.length ? `FAIL ${what}: ${d.join('; ')}` : `ok   ${what}`);
      if (d.length) k.problems.push(`MISMATCH: ${what}`);
    }
    for (const c of cs.filter((x) => x.file === f.file && x.jobs > 1)) {
      const r = read(c);
      if (!r1 || !r) continue;
      const d = [...differences(r1, r), ...r.notes.filter((n) => /--jobs/.test(n))];
      const what = `kvmtax --jobs ${c.jobs} on the 192-CPU trace.dat (${tag}) = one job's report${fs.statSync(c.file).size < 16 << 20 ? ': under 16 MiB, one thread' : ''}`;
      k.say(d.length ? `FAIL ${what}: ${d.slice(0, 5).join('; ')}` : `ok   ${what}`);
      if (d.length) k.problems.push(`MISMATCH: ${what}`);
    }
  }
}
