/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * `--format html`: the self-contained report. Node-side checks of its safety rules, then the reports of
 * real captures opened in a real headless browser (test/support/browser.ts): no console errors, every
 * chart drawn with the report's data, the tables' numbers equal to the JSON report's, and a screenshot
 * in test/artifacts/. Skipped with a message when /usr/bin/chromium is absent, except under CI=true.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { render } from '../../src/report/render.js';
import { openSource } from '../../src/formats/source.js';
import { sections } from '../../src/report/sections.js';
import { esc, jsonForScript, renderHtml, type Timeline } from '../../src/report/html.js';
import type { Report } from '../../src/analysis/types.js';
import { ROOT } from '../support/paths.js';
import { ARTIFACTS, BROWSER_REQUIRED, CHROMIUM, HAVE_CHROMIUM, openHtml } from '../support/browser.js';

const MAX_BYTES = 1.5 * 1024 * 1024;

async function reportOf(rel: string, top = 10): Promise<Report> {
  const prev = process.cwd();
  process.chdir(ROOT);
  try {
    return await analyze([rel], { top, histograms: true });
  } finally {
    process.chdir(prev);
  }
}

/**
 * Exits per vCPU thread in 10 ms buckets, counted straight from the trace text: what report.timeline
 * will carry once the analysis provides it (the renderer draws it when present).
 */
async function timelineOf(file: string, report: Report, bucketNs = 10_000_000): Promise<Timeline> {
  const src = await openSource(file);
  const chunks: Buffer[] = [];
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let n; (n = await src.read(buf, 0, buf.length)) > 0;) chunks.push(Buffer.from(buf.subarray(0, n)));
  } finally {
    src.close();
  }
  const per = new Map<number, Map<number, number>>();
  for (const line of Buffer.concat(chunks).toString('latin1').split('\n')) {
    const m = /-(\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[\d+\][^:]*?\s(\d+)\.(\d+): kvm_exit:/.exec(line);
    if (!m) continue;
    const ns = Number(m[2]) * 1e9 + Number(m[3]!.padEnd(9, '0'));
    const t = Math.floor(ns / bucketNs) * bucketNs;
    const tid = Number(m[1]);
    let b = per.get(tid);
    if (!b) per.set(tid, (b = new Map()));
    b.set(t, (b.get(t) ?? 0) + 1);
  }
  const vcpus = report.vms.flatMap((vm) => vm.vcpus.map((c) => ({
    file_index: vm.fileIndex, pid: vm.pid, vcpu: c.vcpu, tid: c.tid,
    buckets: [...(per.get(c.tid) ?? new Map<number, number>())].sort((a, b) => a[0] - b[0]) as Array<[number, number]>,
  })));
  // the counting above is only a test's: it must agree with the analysis
  for (const vm of report.vms) {
    for (const c of vm.vcpus) {
      expect(vcpus.find((v) => v.tid === c.tid)!.buckets.reduce((s, b) => s + b[1], 0), `exits of tid ${c.tid}`).toBe(c.exits_seen);
    }
  }
  return { bucket_ns: bucketNs, vcpus };
}

const scriptsOf = (html: string) => [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
const cspOf = (html: string) => /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)?.[1]?.replace(/&#39;/g, "'") ?? '';
const hash = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

describe('html report: built safely', () => {
  it('escapes text and attributes', () => {
    expect(esc('<img src=x onerror="a(1)">&\'')).toBe('&lt;img src=x onerror=&quot;a(1)&quot;&gt;&amp;&#39;');
  });

  it('embeds data so that nothing in it can close the script element', () => {
    const v = { comm: '</script><script>alert(2)</script>', s: '<!-- x -->', amp: 'a&b', ls: 'a\u2028b\u2029' };
    const j = jsonForScript(v);
    expect(j).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(j)).toEqual(v);
  });

  it('has a policy that allows exactly its own scripts and stylesheet, and no handlers or style attributes', async () => {
    const r = await reportOf('traces/svm-D-small/trace.txt.xz');
    for (const withTimeline of [false, true]) {
      // the report carries its own timeline now; the variant without one drops it
      const rr = withTimeline ? ({ ...r, timeline: await timelineOf(path.join(ROOT, 'traces/svm-D-small/trace.txt.xz'), r) } as unknown as typeof r) : ({ ...r, timeline: undefined } as unknown as typeof r);
      const html = renderHtml(rr);
      const csp = cspOf(html);
      expect(csp).toMatch(/default-src 'none'/);
      const scripts = scriptsOf(html);
      expect(scripts.length).toBe(withTimeline ? 2 : 1);
      const allowed = /script-src ([^;]*)/.exec(csp)![1]!.trim().split(/\s+/);
      expect(allowed.sort()).toEqual(scripts.map(hash).sort());
      const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
      expect(/style-src ([^;]*)/.exec(csp)![1]!.trim()).toBe(hash(style));
      expect(html).not.toMatch(/\son[a-z]+=/i);
      expect(html).not.toMatch(/\sstyle=/i);
      expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
      // the static script holds no data of the report
      const app = scripts[scripts.length - 1]!;
      expect(app).not.toContain('svm-D-small');
      expect(app).toBe(scriptsOf(renderHtml({ ...r, vms: [], timeline: undefined } as unknown as typeof r))[0]);
    }
  });

  it('embeds the chart library as generated from the uplot package', () => {
    if (!fs.existsSync(path.join(ROOT, 'node_modules', 'uplot', 'package.json'))) return;
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'gen-html-assets.mjs'), '--check'], { stdio: 'pipe' });
  });
});

const CAPTURES = ['svm-D-small', 'svm-A-baseline'];
const browserSuite = HAVE_CHROMIUM ? describe : describe.skip;

browserSuite('html report in a real browser (chromium)', () => {
  it.each(CAPTURES)('%s: renders every chart with the report\'s data, and the JSON report\'s numbers', async (name) => {
    const rel = `traces/${name}/trace.txt.xz`;
    const r = await reportOf(rel);
    const plain = renderHtml(r);
    const timeline = await timelineOf(path.join(ROOT, rel), r);
    const html = renderHtml({ ...r, timeline } as Report);
    const sizes = { without_timeline: Buffer.byteLength(plain), with_timeline: Buffer.byteLength(html) };
    console.log(`${name}: html report ${sizes.without_timeline} bytes, ${sizes.with_timeline} with the timeline (uPlot embedded)`);
    expect(sizes.with_timeline).toBeLessThan(MAX_BYTES);

    const o = await openHtml(html, `html-${name}`);
    try {
      const p = o.page;
      // ---- the data the page carries is the JSON report ----
      const embedded = await p.evaluate(() => JSON.parse(document.getElementById('kvmtax-data')!.textContent!));
      expect(embedded).toEqual(JSON.parse(JSON.stringify({ ...r, timeline })));
      expect(JSON.parse(render(r, 'json', {}))).toEqual(JSON.parse(JSON.stringify(r)));

      // ---- headline cards ----
      const cards = await p.$$eval('.card', (els) => els.map((e) => [e.getAttribute('data-key'), e.getAttribute('data-v')]));
      for (const [k, v] of cards) expect(Number(v), k!).toBe((r.totals as Record<string, number | null>)[k!]);
      expect(cards.length).toBe(6);

      // ---- bars: one per reason, in the report's order, lengths ordered like total_ns ----
      const bars = await p.$$eval('svg.bars rect.bar', (els) => els.map((e) => ({
        reason: e.getAttribute('data-reason'), total: Number(e.getAttribute('data-total-ns')), w: (e as SVGGraphicsElement).getBBox().width,
      })));
      expect(bars.map((b) => b.reason)).toEqual(r.reasons.map((x) => x.reason));
      expect(bars.map((b) => b.total)).toEqual(r.reasons.map((x) => x.total_ns));
      for (let i = 1; i < bars.length; i++) expect(bars[i]!.w).toBeLessThanOrEqual(bars[i - 1]!.w + 0.2);
      expect(bars[0]!.w).toBeGreaterThan(100);
      const segs = await p.$$eval('svg.wall rect.seg', (els) => els.map((e) => e.getAttribute('data-key')));
      expect(segs.slice(0, 3)).toEqual(['guest', 'halted', 'overhead']);

      // ---- heat map: a cell per (vCPU, reason) that has exits, with its total ----
      const cells = await p.$$eval('svg.heat rect.cell:not(.empty)', (els) => els.map((e) =>
        `${e.getAttribute('data-tid')}|${e.getAttribute('data-reason')}|${e.getAttribute('data-total-ns')}`));
      const want = r.vms.flatMap((vm) => vm.vcpus.flatMap((c) => (c.reasons ?? []).filter((x) => x.exits_seen > 0).map((x) => `${c.tid}|${x.reason}|${x.total_ns}`)));
      expect(cells.sort()).toEqual(want.sort());
      const allCells = await p.$$eval('svg.heat rect.cell', (els) => els.length);
      expect(allCells).toBe(r.reasons.length * r.vms.reduce((s, vm) => s + vm.vcpus.length, 0));

      // ---- histograms: one per reason, its non-empty buckets as bars, p50/p99 at the report's values ----
      for (let i = 0; i < r.reasons.length; i++) {
        const x = r.reasons[i]!;
        const h = await p.$eval(`#hist-${i}`, (f) => ({
          bars: f.querySelectorAll('rect.hbar').length,
          q: [...f.querySelectorAll('line[data-q]')].map((l) => [l.getAttribute('data-q'), Number(l.getAttribute('data-v'))]),
          marks: f.querySelectorAll('path.mark').length,
        }));
        expect(h.bars, x.reason).toBe(x.histogram!.filter((b) => b[2] > 0).length);
        expect(h.bars).toBeGreaterThan(0);
        expect(h.q).toEqual([['p50', x.p50_ns], ['p99', x.p99_ns]]);
        expect(h.marks).toBe(r.top.filter((t) => t.reason === x.reason).length);
      }

      // ---- distributions of the halt / timer / sched sections, when the report has them ----
      for (const key of ['halt', 'timers', 'sched']) {
        const sec = (r as unknown as Record<string, { available?: boolean } | undefined>)[key];
        if (!sec || sec.available === false) continue;
        const strips = await p.$$eval(`#${key} g.strip`, (els) => els.length);
        expect(strips, key).toBeGreaterThan(0);
      }

      // ---- exits/s over time: uPlot drew one series per vCPU on a canvas that is not blank ----
      const tl = await p.evaluate(() => {
        const c = document.querySelector('#timeline-chart canvas') as HTMLCanvasElement | null;
        if (!c) return null;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let ink = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) ink++;
        return { w: c.width, h: c.height, ink, series: document.querySelectorAll('#timeline-chart .u-legend .u-series').length };
      });
      expect(tl).not.toBeNull();
      expect(tl!.w).toBeGreaterThan(300);
      expect(tl!.ink).toBeGreaterThan(1000);
      expect(tl!.series).toBe(1 + timeline.vcpus.length);

      // ---- the tables are the text report's, cell for cell ----
      const want2 = sections(r, { byVcpu: true }).slice(1).filter((t) => t.header.length);
      const got = await p.$$eval('main section table.sortable', (ts) => ts.map((t) => ({
        header: [...t.querySelectorAll('thead th')].map((th) => th.textContent),
        rows: [...t.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
      })));
      for (const t of want2) {
        const g = got.find((x) => JSON.stringify(x.header) === JSON.stringify(t.header));
        expect(g, t.title).toBeDefined();
        expect(g!.rows, t.title).toEqual(t.rows);
      }
      // and its counts are the JSON's, read back as numbers
      const reasonRows = got.find((x) => x.header[0] === 'reason' && x.header[1] === 'seen')!.rows;
      expect(reasonRows.map((row) => [row[0]!.replace(/ \(idle\)$/, ''), Number(row[1]), Number(row[2])]))
        .toEqual(r.reasons.map((x) => [x.reason, x.exits_seen, x.exits_handled]));

      // ---- sorting by a header: descending first for numbers, then ascending ----
      const reasonTable = p.locator('#t-exit-reasons table.sortable');
      const seen = async () => (await reasonTable.locator('tbody tr td:nth-child(2)').allTextContents()).map(Number);
      await reasonTable.locator('thead th', { hasText: /^seen$/ }).click();
      const desc = await seen();
      expect(desc).toEqual([...desc].sort((a, b) => b - a));
      await reasonTable.locator('thead th', { hasText: /^seen$/ }).click();
      const asc = await seen();
      expect(asc).toEqual([...asc].sort((a, b) => a - b));

      // ---- a slow exit: its reason links to the histogram, a histogram mark back to the row ----
      const first = p.locator('#t-slowest-exits tbody tr').first();
      await first.locator('td').nth(4).locator('a').click();
      expect(new URL(p.url()).hash).toBe(`#hist-${r.reasons.findIndex((x) => x.reason === r.top[0]!.reason)}`);
      await p.locator(`#hist-${r.reasons.findIndex((x) => x.reason === r.top[0]!.reason)} a`).first().click();
      await expect.poll(() => p.$$eval('tr.hl', (els) => els.length)).toBe(1);
      await first.locator('td').nth(0).locator('a.tl-link').click();
      await p.evaluate(() => window.scrollTo(0, 0));
      await p.goto(p.url().replace(/#.*$/, ''));

      await p.screenshot({ path: path.join(ARTIFACTS, `html-${name}.png`), fullPage: true });
      expect(o.errors).toEqual([]);
      expect(o.console.filter((m) => /^(error|warning)/.test(m))).toEqual([]);
      expect(o.dialogs).toEqual([]);
      expect(o.requests).toEqual([]);
    } finally {
      await o.close();
    }
  });

  it('shows a trace\'s HTML/JS payloads (comm, reason, file name, skipped text) as text and runs none of them', async () => {
    const dir = fs.mkdtempSync(path.join(ARTIFACTS, 'xss-'));
    const file = path.join(dir, '"><img src=x onerror=alert(4)>.txt');
    const comms = ['<img src=x onerror=alert(1)>', '</script><script>alert(2)</script>'];
    const reason = '<svg/onload=alert(3)>';
    const L = (comm: string, tid: number, ts: string, ev: string) => `${comm.padStart(16)}-${tid}     (    100) [001] d..1.  ${ts}: ${ev}\n`;
    let text = '# tracer: nop\n#\n';
    comms.forEach((c, i) => {
      const tid = 101 + i;
      const at = (us: number) => `1.${String(i * 100 + us).padStart(6, '0')}`;
      text += L(c, tid, at(0), `kvm_entry: vcpu ${i}, rip 0x1000`) +
        L(c, tid, at(10), `kvm_exit: vcpu ${i} reason ${reason} rip 0x1000 info1 0x0 info2 0x0 intr_info 0x00000000 error_code 0x00000000`) +
        L(c, tid, at(15), `kvm_entry: vcpu ${i}, rip 0x1002`) +
        L(c, tid, at(20), `kvm_exit: vcpu ${i} reason hlt rip 0x1000 info1 0x0 info2 0x0 intr_info 0x00000000 error_code 0x00000000`) +
        L(c, tid, at(70), `kvm_entry: vcpu ${i}, rip 0x1002`);
    });
    text += '<script>alert(5)</script> <b onmouseover=alert(6)>x</b>\n';
    fs.writeFileSync(file, text);
    let r: Report;
    try {
      r = await analyze([file], { top: 10, histograms: true });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // the payloads did reach the report: the test would prove nothing otherwise
    expect(r.vms[0]!.vcpus.map((c) => c.comm)).toEqual(comms);
    expect(r.reasons.map((x) => x.reason)).toContain(reason);
    expect(r.quality.skipped[0]!.excerpt).toContain('<script>');
    const timeline: Timeline = { bucket_ns: 10_000, vcpus: r.vms[0]!.vcpus.map((c) => ({ pid: 100, vcpu: c.vcpu, tid: c.tid, buckets: [[1_000_000_000, 1], [1_000_010_000, 1]] })) };
    const html = renderHtml({ ...r, timeline } as Report);
    // escaping alone must hold: the page without its Content-Security-Policy runs nothing either
    const variants: Array<[string, string]> = [['html-xss', html], ['html-xss-no-csp', html.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, '')]];
    expect(variants[1]![1]).not.toContain('Content-Security-Policy');
    for (const [name, page] of variants) {
      const o = await openHtml(page, name);
      try {
        const p = o.page;
        await p.mouse.move(10, 10);
        await p.hover('main');
        const seen = await p.evaluate(() => ({
          imgs: document.querySelectorAll('img').length,
          scripts: document.querySelectorAll('script').length,
          handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name))).length,
          b: document.querySelectorAll('main b').length,
          svgInHeat: document.querySelectorAll('svg svg').length,
          text: document.body.innerText,
          svgText: [...document.querySelectorAll('svg text')].map((t) => t.textContent).join('\n'),
          legend: document.querySelector('#timeline-chart .u-legend')?.textContent ?? '',
          data: JSON.parse(document.getElementById('kvmtax-data')!.textContent!),
          title: document.title,
        }));
        expect(seen.imgs, name).toBe(0);
        expect(seen.scripts, name).toBe(3); // the data block, uPlot, the page's script
        expect(seen.handlers, name).toBe(0);
        expect(seen.b, name).toBe(0);
        expect(seen.svgInHeat, name).toBe(0);
        for (const s of [...comms, reason, '<script>alert(5)</script>', '"><img src=x onerror=alert(4)>.txt']) expect(seen.text, `${name}: ${s}`).toContain(s);
        expect(seen.svgText).toContain(reason);
        expect(seen.legend).toContain('vcpu 0');
        expect(seen.title).toContain('"><img src=x onerror=alert(4)>.txt');
        expect(seen.data).toEqual(JSON.parse(JSON.stringify({ ...r, timeline })));
        expect(o.dialogs, name).toEqual([]);
        expect(o.errors, name).toEqual([]);
        expect(o.console, name).toEqual([]);
        expect(o.requests, name).toEqual([]);
        await p.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
      } finally {
        await o.close();
      }
    }
  });
});

if (!HAVE_CHROMIUM) {
  describe('html report in a real browser (chromium)', () => {
    if (BROWSER_REQUIRED) {
      it('needs /usr/bin/chromium under CI', () => {
        throw new Error(`${CHROMIUM} is absent and CI=true: the browser tests must run in CI (call scripts/install-test-tools.sh from .ci/run)`);
      });
    } else {
      it.skip(`skipped: ${CHROMIUM} is absent (scripts/install-test-tools.sh installs it)`, () => {});
    }
  });
}
