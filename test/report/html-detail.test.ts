/**
 * The HTML of the exit-detail sections (--sections handling, userspace, nested; --by rip, --by gpa) on a real
 * capture (traces/svm-D-small): every table cell is the text report's (the figures Markdown and the terminal
 * table print), every chart bar carries the JSON report's number, trace strings are escaped, and the nested
 * section shows whatever its view model holds (members added to it show up as columns).
 */
import { describe, expect, it, vi } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { render } from '../../src/report/render.js';
import { dur, sections } from '../../src/report/sections.js';
import { renderHtml } from '../../src/report/html.js';
import type { Report } from '../../src/analysis/types.js';
import { ROOT } from '../support/paths.js';
import { BROWSER_REQUIRED, HAVE_CHROMIUM, openHtml } from '../support/browser.js';
import path from 'node:path';

// the nested model as another helper may extend it: extra members (a per-reason array, a time) must show up
const extraNested = vi.hoisted(() => ({ on: false }));
vi.mock('../../src/analysis/nested.js', async (orig) => {
  const m = await orig<typeof import('../../src/analysis/nested.js')>();
  return {
    ...m,
    buildNested: (r: Report) => {
      const x = m.buildNested(r);
      if (!extraNested.on || !x.available) return x;
      return { ...x, reflected_ns: 1234567, reasons: [{ reason: 'npf<b>', handled: 3, reflected: 1, reflected_ns: 2500 }, { reason: 'vmrun', handled: 0, reflected: 5, reflected_ns: 9000 }] };
    },
  };
});

const FILE = path.join(ROOT, 'traces/svm-D-small/trace.txt.xz');
const VIEW = { by: ['rip', 'gpa'], sections: new Set(['userspace', 'handling', 'nested', 'rip', 'gpa']) };

/** The section's HTML (from its opening tag to the next section). */
function sectionOf(html: string, id: string): string {
  const a = html.indexOf(`<section id="${id}">`);
  expect(a, `section #${id}`).toBeGreaterThanOrEqual(0);
  const b = html.indexOf('</section>', a);
  return html.slice(a, b);
}
const unesc = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
/** Each table of an HTML fragment as rows of cell texts (header row first). */
function tablesOf(html: string): string[][][] {
  return [...html.matchAll(/<table[^>]*>([\s\S]*?)<\/table>/g)].map((t) =>
    [...t[1]!.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((r) => [...r[1]!.matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((c) => unesc(c[1]!.replace(/<[^>]+>/g, '')))));
}

describe('HTML exit-detail sections on svm-D-small', async () => {
  const r = await analyze([FILE], { rips: true, gpas: true, userspace: true, handling: true });
  const html = render(r, 'html', VIEW);
  const text = sections(r, { sections: new Set(VIEW.sections) });

  it('each section holds the text report\'s tables, cell for cell', () => {
    const groups: Array<[string, RegExp]> = [['handling', /^Where handling time goes/], ['userspace', /^Userspace round trips/], ['rip', /^Guest RIPs/], ['gpa', /^NPF \/ EPT violation /]];
    for (const [id, re] of groups) {
      const want = text.filter((t) => re.test(t.title));
      expect(want.length, id).toBeGreaterThan(0);
      const got = tablesOf(sectionOf(html, id));
      expect(got.length, id).toBe(want.length);
      want.forEach((t, i) => {
        expect(got[i]![0], `${id} ${t.title} header`).toEqual(t.header);
        expect(got[i]!.slice(1), `${id} ${t.title}`).toEqual(t.rows);
      });
      for (const t of want) expect(sectionOf(html, id)).toContain(`<h3>${t.title.replace(/&/g, '&amp;')}</h3>`);
    }
    // the terminal table and Markdown print the same cells
    const md = render(r, 'md', VIEW);
    for (const row of text.find((t) => t.title === 'Where handling time goes, by exit reason')!.rows) expect(md).toContain(`| ${row.join(' | ')} |`);
  });

  it('the charts carry the JSON report\'s numbers', () => {
    const hs = r.handling!;
    if (!hs.available) throw new Error('handling unavailable');
    const h = sectionOf(html, 'handling');
    for (const x of hs.reasons) {
      for (const [part, v] of [['on_cpu', x.on_cpu_ns], ['preempted', x.preempted_ns], ['vmm', x.vmm_ns], ['halted', x.halted_ns]] as const) {
        const m = new RegExp(`data-key="${x.key}" data-part="${part}" data-v="([^"]+)"`).exec(h);
        if (v > 0) expect(Number(m?.[1]), `${x.key} ${part}`).toBe(v);
        else expect(m, `${x.key} ${part} has no segment`).toBeNull();
      }
    }
    // io: 28.19 ms of which 15.28 ms in the VMM (the figures the table prints), by hand from the JSON
    const us = r.userspace!;
    if (!us.available) throw new Error('userspace unavailable');
    const io = us.reasons.find((x) => x.key === 'io')!;
    const u = sectionOf(html, 'userspace');
    expect(u).toContain(`data-key="io" data-part="vmm" data-v="${io.userspace_ns}"`);
    expect(u).toContain(`data-key="io" data-part="in_kernel" data-v="${io.in_kernel_ns}"`);
    expect(io.in_kernel_ns + io.userspace_ns).toBe(io.total_ns);
    // rip bars: the exits of the hottest rip (io 0x104e5, 200 exits in this capture)
    expect(sectionOf(html, 'rip')).toContain('data-key="io 0x104e5" data-v="200"');
    const g = sectionOf(html, 'gpa');
    for (const p of r.gpas!.pages) expect(g).toContain(`data-key="${p.gpa}" data-v="${p.exits}"`);
    // every chart is an image with a label, every bar a tooltip
    for (const id of ['handling', 'userspace', 'rip', 'gpa']) {
      const s = sectionOf(html, id);
      expect(s).toMatch(/<svg [^>]*role="img" aria-label="[^"]+"/);
      expect((s.match(/<rect /g) ?? []).length).toBe((s.match(/<rect [^>]*><title>/g) ?? []).length);
    }
  });

  it('the nested section says why it is absent, in the section of that name', () => {
    expect(sectionOf(html, 'nested')).toContain('not available: the trace has no kvm_nested_vmexit');
  });

  it('nested: the model\'s members as tables, new per-reason members included; trace strings escaped', () => {
    const withNested: Report = { ...r, quality: { ...r.quality, events_by_name: { ...r.quality.events_by_name, kvm_nested_vmexit: 7, kvm_nested_vmexit_inject: 2, kvm_nested_vmrun: 6 } } };
    let s = sectionOf(renderHtml(withNested, { view: { sections: new Set(['nested']) } }), 'nested');
    const kv = tablesOf(s)[0]!;
    expect(kv).toEqual(expect.arrayContaining([['l2 exits', '7'], ['handled by l0', '5'], ['reflected to l1', '2'], ['l2 entries', '6']]));
    expect(s).toContain('data-part="handled" data-v="5"');
    expect(s).toContain('data-part="reflected" data-v="2"');
    extraNested.on = true;
    try {
      s = sectionOf(renderHtml(withNested, { view: { sections: new Set(['nested']) } }), 'nested');
    } finally {
      extraNested.on = false;
    }
    const tb = tablesOf(s);
    expect(tb[0]).toContainEqual(['reflected time', '1.23 ms']);
    expect(tb[1]).toEqual([['reason', 'handled', 'reflected', 'reflected time'], ['npf<b>', '3', '1', '2.50 us'], ['vmrun', '0', '5', '9.00 us']]);
    expect(s).toContain('npf&lt;b&gt;');
    expect(s).not.toContain('npf<b>');
  });

  it('the real nested capture (svm-L-nested): every member of each per-reason row, as JSON has it', async () => {
    const n = await analyze([path.join(ROOT, 'traces/svm-L-nested/trace.txt.xz')], { nested: true });
    const model = n.nested as unknown as { available: boolean; reasons: Array<Record<string, unknown>> };
    expect(model.available).toBe(true);
    const s = sectionOf(renderHtml(n, { view: { sections: new Set(['nested']) } }), 'nested');
    const tb = tablesOf(s).find((t) => t[0]![0] === 'reason')!;
    const cols = Object.keys(model.reasons[0]!);
    expect(tb[0]).toEqual(cols.map((k) => k.replace(/_ns$/, '_time').replace(/_/g, ' ')));
    expect(tb.length - 1).toBe(model.reasons.length);
    model.reasons.forEach((x, i) => cols.forEach((k, j) => {
      const v = x[k];
      const want = typeof v === 'number' && k.endsWith('_ns') ? dur(v, n.unit) : v === null ? '-' : String(v);
      expect(tb[i + 1]![j], `${String(x.reason)} ${k}`).toBe(want);
    }));
    // cpuid: 200 L2 exits, all reflected to L1 (the capture's README counts)
    expect(tb.find((r) => r[0] === 'cpuid')!.slice(1, 2)).toEqual(['200']);
  });

  it('a rip symbol and a reason from the trace are text, never markup', () => {
    const bad = '<img src=x onerror=alert(1)>';
    const evil: Report = { ...r, rips: { ...r.rips!, reasons: r.rips!.reasons.map((g, i) => (i ? g : { ...g, reason: bad, top: g.top.map((x) => ({ ...x, symbol: `"${bad}` })) })) } };
    const out = renderHtml(evil, { view: { sections: new Set(['rip']) } });
    const s = sectionOf(out, 'rip');
    expect(s).not.toContain('<img');
    expect(s).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it.skipIf(!HAVE_CHROMIUM && !BROWSER_REQUIRED)('in a browser: no error, no blocked style, each chart drawn with its bars, legends shown', async () => {
    const o = await openHtml(html, 'html-detail-svm-D-small');
    try {
      const got = await o.page.evaluate(() => ({
        charts: ['handling-reasons', 'handling-vcpus', 'userspace-reasons', 'userspace-keys', 'rip-top', 'gpa-top'].map((id) => {
          const el = document.getElementById(id);
          const box = el?.getBoundingClientRect();
          return [id, el ? el.querySelectorAll('rect').length : -1, box ? Math.round(box.width) > 0 && Math.round(box.height) > 0 : false];
        }),
        // the legend's swatches are coloured by the stylesheet (the page's policy allows no inline style)
        swatches: [...document.querySelectorAll('#handling ul.legend .sw')].map((x) => getComputedStyle(x).backgroundColor),
        nav: [...document.querySelectorAll('nav a')].map((a) => a.getAttribute('href')),
      }));
      expect(o.errors).toEqual([]);
      expect(o.console.filter((c) => /error|Refused|Content Security Policy/i.test(c))).toEqual([]);
      expect(o.requests).toEqual([]);
      for (const [id, rects, shown] of got.charts) {
        expect(rects, String(id)).toBeGreaterThan(0);
        expect(shown, String(id)).toBe(true);
      }
      expect(got.swatches).toEqual(['rgb(217, 72, 15)', 'rgb(156, 54, 181)', 'rgb(28, 126, 214)', 'rgb(141, 162, 181)']);
      expect(got.nav).toEqual(expect.arrayContaining(['#handling', '#userspace', '#nested', '#rip', '#gpa']));
      await o.page.screenshot({ path: path.join(ROOT, 'test/artifacts/html-detail-svm-D-small.png'), fullPage: true });
    } finally {
      await o.close();
    }
  }, 60_000);

  it('without the summary section the first table is not taken for the headline', () => {
    const out = renderHtml(r, { view: { sections: new Set(['rip']) } });
    expect(tablesOf(sectionOf(out, 'rip')).length).toBe(2);
  });
});
