/**
 * The HTML report at a narrow window: wide tables scroll inside their box (the page itself never gets
 * wider than the window), the same halt distribution is not drawn twice (blocked = halt_blocked when the
 * poll window was traced), and the timeline's legend shows values before any hover. Browser parts skip
 * without /usr/bin/chromium (scripts/install-test-tools.sh), except under CI.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { render } from '../../src/report/render.js';
import { BROWSER_REQUIRED, HAVE_CHROMIUM, openHtml } from '../support/browser.js';
import { ROOT } from '../support/paths.js';

const D = path.join(ROOT, 'traces/svm-D-small/trace.txt.xz');

describe('HTML report edges', () => {
  it('draws blocked once where it equals halt_blocked', async () => {
    const r = await analyze([D], { histograms: true });
    const c = (r.halt as unknown as { vcpus: Array<{ blocked: unknown; halt_blocked: unknown }> }).vcpus[0]!;
    expect(c.blocked).toEqual(c.halt_blocked); // the JSON keeps both (its schema); the page draws one
    const html = render(r, 'html', {});
    expect(html).toMatch(/>halt_blocked {2}pid 188 vcpu 0 \(tid 192\)</);
    expect(html).not.toMatch(/>blocked {2}pid 188 vcpu 0 \(tid 192\)</);
  });

  it.skipIf(!HAVE_CHROMIUM && !BROWSER_REQUIRED)('at 800 px: tables scroll in their box, the page is not wider, the legend has values', async () => {
    const html = render(await analyze([D], { histograms: true }), 'html', {});
    const o = await openHtml(html, 'html-edges-800', { width: 800, height: 900 });
    try {
      await o.page.waitForSelector('.u-legend');
      const got = await o.page.evaluate(() => ({
        docW: document.documentElement.scrollWidth,
        vw: window.innerWidth,
        wide: [...document.querySelectorAll('div.scroll')].filter((d) => d.scrollWidth > d.clientWidth)
          .map((d) => ({ overflow: getComputedStyle(d).overflowX, right: d.getBoundingClientRect().right })),
        legend: [...document.querySelectorAll('.u-legend .u-series:not(:first-child) .u-value')].map((v) => v.textContent),
      }));
      expect(got.docW).toBeLessThanOrEqual(got.vw);
      expect(got.wide.length).toBeGreaterThan(2); // exits, vCPUs, halt, timers are wider than 800 px
      for (const w of got.wide) {
        expect(w.overflow).toBe('auto');
        expect(w.right).toBeLessThanOrEqual(got.vw);
      }
      expect(got.legend.length).toBe(2);
      for (const v of got.legend) expect(v).toMatch(/^\d+$/);
      expect(o.errors).toEqual([]);
    } finally {
      await o.close();
    }
  });
});
