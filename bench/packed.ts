/**
 * Bench rows of the Perfetto reader and of compressed inputs (issues 13 and 15), measured side by side in one
 * alternating run and printed as their own table after the main one:
 *
 * - Perfetto: the real capture traces/svm-D-small/trace.txt.xz (raw ftrace text of an AMD SVM run) tiled to
 *   the size (each copy's timestamps shifted past the previous copy's end), written once as ftrace text and
 *   once as a Perfetto trace of the same events, laid out as traced_probes writes it (the twin tests' builder,
 *   test/support/perfetto-build.ts: dense generic kvm events, compact sched), and again inside
 *   zstd_compressed_packets. There is no Perfetto capture of a KVM host to tile: this is the nearest real one.
 *   Check: the three reports have the same per-reason totals.
 * - Compressed text: the generator's ftrace text as .gz (gzip -6) and .xz (xz -6), kvmtax on each against
 *   `gzip -dc` / `xz -dc` alone and kvmtax on the plain file; .xz also piped into `kvmtax report -`, and with
 *   kvmtax's own decoder (KVMTAX_XZ=builtin) inline and on the unpack worker (KVMTAX_UNPACK_ASIDE=1). Check: same
 *   totals as plain.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeTrace, parseSize } from './gen.js';
import { buildPerfetto, parseFtraceText } from '../test/support/perfetto-build.js';

export interface PackedMeasure { wall: number; rssKb: number; code: number; stderr: string }
export interface PackedTotals { exits_seen: number; exits_handled: number; host_ns: number; reasons: Record<string, { exits_seen: number; exits_handled: number; total_ns: number }> }

/** What bench.ts lends this section. */
export interface PackedKit {
  tmp: string;
  root: string;
  size: number;
  runs: number;
  quick: boolean;
  want: (name: string) => boolean;
  say: (s: string) => void;
  problems: string[];
  /** node KVMTAX report FILE -f json -o OUT EXTRA... */
  kvmtax: (file: string, out: string, extra?: string[]) => string[];
  measure: (cmd: string[], stdout: string | null) => Promise<PackedMeasure>;
  median: (xs: number[]) => number;
  fmtBytes: (n: number) => string;
  totals: (jsonFile: string) => PackedTotals;
  diff: (aName: string, a: PackedTotals, bName: string, b: PackedTotals) => string[];
  has: (cmd: string) => boolean;
}

interface Row { name: string; what: string; cmd: string[]; bytes: number; env?: Record<string, string>; out?: string; ref?: string; runs: PackedMeasure[] }

const NAMES = ['kvmtax-pf-text', 'kvmtax-perfetto', 'kvmtax-perfetto-zstd', 'kvmtax-perfetto-legacy', 'kvmtax-plain', 'kvmtax-gz', 'gzip-dc', 'kvmtax-xz', 'kvmtax-xz-stdin', 'xz-dc', 'xz-dc-pipe',
  'kvmtax-xz-builtin', 'kvmtax-xz-builtin-worker'];

/** The real capture's ftrace text tiled to about `size` bytes: header once, then copies with shifted timestamps. */
function tileText(src: string, size: number): { text: string; copies: number } {
  const lines = src.split('\n');
  const header = lines.filter((l) => l.startsWith('#'));
  const body = lines.filter((l) => l.length > 0 && !l.startsWith('#'));
  const TS = /(\s)(\d+)\.(\d{6}):/;
  const usOf = (l: string): number => { const m = TS.exec(l)!; return Number(m[2]) * 1e6 + Number(m[3]); };
  const first = usOf(body[0]!), last = usOf(body[body.length - 1]!);
  const span = last - first + 1;
  const bytes = body.reduce((a, l) => a + l.length + 1, 0);
  const copies = Math.max(1, Math.round(size / bytes));
  const out: string[] = [...header];
  for (let k = 0; k < copies; k++) {
    for (const l of body) {
      out.push(k === 0 ? l : l.replace(TS, (_m, sp: string, s: string, us: string) => {
        const t = Number(s) * 1e6 + Number(us) + k * span;
        return `${sp}${Math.floor(t / 1e6)}.${String(t % 1e6).padStart(6, '0')}:`;
      }));
    }
  }
  return { text: out.join('\n') + '\n', copies };
}

export async function benchPacked(k: PackedKit): Promise<number> {
  if (!NAMES.some(k.want)) return 0;
  const { tmp, say } = k;
  const rows: Row[] = [];
  const add = (r: Omit<Row, 'runs'>): void => { if (k.want(r.name)) rows.push({ ...r, runs: [] }); };
  const checks: string[] = [];

  // ---- Perfetto: the real capture, tiled
  const pfSize = Math.min(k.size, k.quick ? parseSize('4M') : parseSize('64M'));
  if (['kvmtax-pf-text', 'kvmtax-perfetto', 'kvmtax-perfetto-zstd', 'kvmtax-perfetto-legacy'].some(k.want)) {
    const src = path.join(k.root, 'traces/svm-D-small/trace.txt.xz');
    const t0 = Date.now();
    const { text, copies } = tileText(execFileSync('xz', ['-dc', src], { maxBuffer: 1 << 26 }).toString('utf8'), pfSize);
    const txt = path.join(tmp, 'pf.tiled.txt');
    fs.writeFileSync(txt, text);
    const events = parseFtraceText(text);
    const pf = path.join(tmp, 'pf.tiled.pftrace');
    fs.writeFileSync(pf, buildPerfetto(events, { generic: 'dense', compactSched: true }));
    let pfz: string | undefined;
    if (k.want('kvmtax-perfetto-zstd')) {
      const zstd = await (await import('@hpcc-js/wasm-zstd')).Zstd.load();
      pfz = path.join(tmp, 'pf.tiled.zstd.pftrace');
      fs.writeFileSync(pfz, buildPerfetto(events, { generic: 'dense', compactSched: true, compress: 'zstd', zstd: (b) => zstd.compress(b) }));
    }
    // older Perfetto writes events it has no proto for as GenericFtraceEvent (name, value) pairs
    let pfl: string | undefined;
    if (k.want('kvmtax-perfetto-legacy')) {
      pfl = path.join(tmp, 'pf.tiled.legacy.pftrace');
      fs.writeFileSync(pfl, buildPerfetto(events, { generic: 'legacy', compactSched: true }));
    }
    const tb = fs.statSync(txt).size, pb = fs.statSync(pf).size;
    say(`tiled traces/svm-D-small/trace.txt.xz x ${copies}: ${events.length} events, text ${k.fmtBytes(tb)}, Perfetto ${k.fmtBytes(pb)}` +
      `${pfz ? `, Perfetto zstd ${k.fmtBytes(fs.statSync(pfz).size)}` : ''} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    add({ name: 'kvmtax-pf-text', what: 'kvmtax report, the tiled real capture as ftrace text', cmd: k.kvmtax(txt, path.join(tmp, 'pf-text.json')), bytes: tb, out: path.join(tmp, 'pf-text.json') });
    add({ name: 'kvmtax-perfetto', what: 'kvmtax report, the same events as a Perfetto trace (dense generic, compact sched)', cmd: k.kvmtax(pf, path.join(tmp, 'pf.json')), bytes: pb, out: path.join(tmp, 'pf.json'), ref: 'kvmtax-pf-text' });
    if (pfl) add({ name: 'kvmtax-perfetto-legacy', what: 'kvmtax report, the same events as older Perfetto writes them (GenericFtraceEvent, compact sched)', cmd: k.kvmtax(pfl, path.join(tmp, 'pfl.json')), bytes: fs.statSync(pfl).size, out: path.join(tmp, 'pfl.json'), ref: 'kvmtax-pf-text' });
    if (pfz) add({ name: 'kvmtax-perfetto-zstd', what: 'kvmtax report, the same in zstd_compressed_packets', cmd: k.kvmtax(pfz, path.join(tmp, 'pfz.json')), bytes: fs.statSync(pfz).size, out: path.join(tmp, 'pfz.json'), ref: 'kvmtax-pf-text' });
  }

  // ---- compressed text: generator output, .gz and .xz
  const packSize = Math.min(k.size, k.quick ? parseSize('4M') : parseSize('256M'));
  if (['kvmtax-plain', 'kvmtax-gz', 'gzip-dc', 'kvmtax-xz', 'kvmtax-xz-stdin', 'xz-dc', 'xz-dc-pipe', 'kvmtax-xz-builtin', 'kvmtax-xz-builtin-worker'].some(k.want)) {
    const plain = path.join(tmp, 'pack.ftrace.txt');
    const t0 = Date.now();
    const exp = await writeTrace({ format: 'ftrace', size: packSize, seed: 7 }, plain);
    const haveGz = k.has('gzip'), haveXz = k.has('xz');
    if (haveGz) spawnSync('sh', ['-c', `gzip -6 -c "${plain}" > "${plain}.gz"`]);
    if (haveXz) spawnSync('xz', ['-6', '-T1', '-k', '-f', plain]);
    say(`generated ${path.basename(plain)}: ${k.fmtBytes(exp.bytes)}${haveGz ? `, .gz ${k.fmtBytes(fs.statSync(`${plain}.gz`).size)}` : ''}` +
      `${haveXz ? `, .xz ${k.fmtBytes(fs.statSync(`${plain}.xz`).size)}` : ''} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    add({ name: 'kvmtax-plain', what: 'kvmtax report, generated ftrace text, uncompressed', cmd: k.kvmtax(plain, path.join(tmp, 'plain.json')), bytes: exp.bytes, out: path.join(tmp, 'plain.json') });
    if (haveGz) {
      add({ name: 'kvmtax-gz', what: 'kvmtax report, the same .gz (node:zlib)', cmd: k.kvmtax(`${plain}.gz`, path.join(tmp, 'gz.json')), bytes: exp.bytes, out: path.join(tmp, 'gz.json'), ref: 'kvmtax-plain' });
      add({ name: 'gzip-dc', what: 'gzip -dc FILE.gz > /dev/null (decompression alone)', cmd: ['gzip', '-dc', `${plain}.gz`], bytes: exp.bytes });
    } else k.problems.push('packed: gzip is not installed: the .gz rows are skipped');
    if (haveXz) {
      add({ name: 'kvmtax-xz', what: 'kvmtax report, the same .xz (the system xz -dc beside the scan)', cmd: k.kvmtax(`${plain}.xz`, path.join(tmp, 'xz.json')), bytes: exp.bytes, out: path.join(tmp, 'xz.json'), ref: 'kvmtax-plain' });
      add({ name: 'kvmtax-xz-stdin', what: 'xz -dc FILE.xz | kvmtax report - (the same through a pipe into stdin)', cmd: ['sh', '-c', 'f=$1; shift; xz -dc "$f" | "$@"', 'sh', `${plain}.xz`, ...k.kvmtax('-', path.join(tmp, 'xzs.json'))], bytes: exp.bytes, out: path.join(tmp, 'xzs.json'), ref: 'kvmtax-plain' });
      add({ name: 'xz-dc', what: 'xz -dc FILE.xz > /dev/null (decompression alone)', cmd: ['xz', '-dc', `${plain}.xz`], bytes: exp.bytes });
      // kvmtax reads xz's output through a pipe: what the pipe alone costs, with a reader that does nothing
      add({ name: 'xz-dc-pipe', what: 'xz -dc FILE.xz | cat > /dev/null (the same through a pipe, as kvmtax reads it)', cmd: ['sh', '-c', 'xz -dc "$1" | cat > /dev/null', 'sh', `${plain}.xz`], bytes: exp.bytes });
      add({ name: 'kvmtax-xz-builtin', what: 'kvmtax report .xz, its own decoder (xz-decompress, wasm) inline', cmd: k.kvmtax(`${plain}.xz`, path.join(tmp, 'xzb.json')), bytes: exp.bytes, env: { KVMTAX_XZ: 'builtin' }, out: path.join(tmp, 'xzb.json'), ref: 'kvmtax-plain' });
      add({ name: 'kvmtax-xz-builtin-worker', what: 'the same on the unpack worker thread (KVMTAX_UNPACK_ASIDE=1)', cmd: k.kvmtax(`${plain}.xz`, path.join(tmp, 'xzbw.json')), bytes: exp.bytes, env: { KVMTAX_XZ: 'builtin', KVMTAX_UNPACK_ASIDE: '1' }, out: path.join(tmp, 'xzbw.json'), ref: 'kvmtax-plain' });
    } else k.problems.push('packed: xz is not installed: the .xz rows are skipped');
  }
  say('');

  // ---- runs, alternating
  for (let run = 0; run < k.runs; run++) {
    for (const r of rows) {
      const cmd = r.env ? ['env', ...Object.entries(r.env).map(([a, b]) => `${a}=${b}`), ...r.cmd] : r.cmd;
      const m = await k.measure(cmd, null);
      if (m.code !== 0) k.problems.push(`${r.name}: exit code ${m.code}: ${m.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      r.runs.push(m);
      process.stderr.write(`  run ${run + 1}/${k.runs} ${r.name}: ${m.wall.toFixed(3)} s, ${(m.rssKb / 1024).toFixed(0)} MB\n`);
    }
  }

  // ---- correctness: each report has its reference's totals
  const ok = (r: Row | undefined): boolean => !!r && r.runs.length > 0 && r.runs.every((m) => m.code === 0);
  for (const r of rows) {
    const ref = rows.find((x) => x.name === r.ref);
    if (!r.out || !ok(r) || !ok(ref)) continue;
    const d = k.diff(r.name, k.totals(r.out), ref!.name, k.totals(ref!.out!));
    checks.push(`${d.length ? 'FAIL' : 'ok  '} ${r.name} = ${ref!.name} (per-reason exits and times)`);
    for (const x of d.slice(0, 10)) checks.push(`       ${x}`);
    if (d.length) k.problems.push(`MISMATCH: ${r.name} != ${ref!.name}`);
  }

  // ---- the table
  const med = (r: Row): { wall: number; rate: number; rss: number } => {
    const wall = k.median(r.runs.map((m) => m.wall));
    return { wall, rate: r.bytes / wall / 1e6, rss: k.median(r.runs.map((m) => m.rssKb)) / 1024 };
  };
  const byName = (n: string): Row | undefined => rows.find((x) => x.name === n && x.runs.length > 0);
  const vsOf = (r: Row): string => {
    const m = med(r);
    const other = (n: string): number | undefined => { const x = byName(n); return x ? med(x).wall : undefined; };
    switch (r.name) {
      case 'kvmtax-perfetto': case 'kvmtax-perfetto-zstd': case 'kvmtax-perfetto-legacy': {
        const t = byName('kvmtax-pf-text');
        return t ? `${(m.wall / med(t).wall).toFixed(2)}x the text's time, ${(med(t).rate).toFixed(0)} MB/s text` : '';
      }
      // the cost of decompressing: the time over the plain file's, against the system tool's time alone
      case 'kvmtax-gz': case 'kvmtax-xz': case 'kvmtax-xz-stdin': case 'kvmtax-xz-builtin': case 'kvmtax-xz-builtin-worker': {
        const tool = r.name === 'kvmtax-gz' ? 'gzip -dc' : 'xz -dc';
        const x = other(r.name === 'kvmtax-gz' ? 'gzip-dc' : 'xz-dc'), p = other('kvmtax-plain');
        if (p === undefined) return '';
        const over = m.wall - p;
        const pipe = r.name === 'kvmtax-xz' ? other('xz-dc-pipe') : undefined;
        return `plain + ${over.toFixed(3)} s${x ? ` = ${(over / x).toFixed(2)}x ${tool} alone` : ''}${pipe !== undefined ? ` (${tool} into a pipe: ${pipe.toFixed(3)} s)` : ''}`;
      }
      default: return '';
    }
  };
  const header = ['contender', 'input', 'median s', 'MB/s', 'peak RSS MB', 'time vs'];
  const table = rows.filter((r) => r.runs.length > 0).map((r) => {
    const m = med(r);
    return [r.name, k.fmtBytes(r.bytes), m.wall.toFixed(3), m.rate.toFixed(0), m.rss.toFixed(0), vsOf(r)];
  });
  if (table.length) {
    const w = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
    const line = (cells: string[]): string => `| ${cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join(' | ')} |`;
    say('## Perfetto and compressed inputs');
    say('');
    say(line(header));
    say(`|${w.map((n, i) => (i >= 2 && i <= 4 ? `${'-'.repeat(n + 1)}:` : '-'.repeat(n + 2))).join('|')}|`);
    for (const r of table) say(line(r));
    say('');
    say('MB/s = input bytes (uncompressed for the .gz/.xz rows, the Perfetto file for Perfetto) per second of wall time;');
    say('"plain + s" = the time over kvmtax on the uncompressed file, the cost of decompressing, against the tool alone.');
    for (const r of rows) say(`  ${r.name}: ${r.what}`);
    say('');
    say('correctness:');
    for (const c of checks) say(`  ${c}`);
    say('');
  }
  return 0;
}
