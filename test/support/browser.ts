/**
 * A real headless browser for the HTML report tests: Debian's chromium (scripts/install-test-tools.sh)
 * driven by playwright-core, which never downloads a browser of its own. Without /usr/bin/chromium the
 * browser tests skip with a message, except under CI=true, where they fail: CI must run them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from './paths.js';

export const CHROMIUM = process.env.KVMTAX_CHROMIUM || '/usr/bin/chromium';
export const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
/** CI must run the browser tests: there a missing browser is a failure, not a skip. */
export const BROWSER_REQUIRED = process.env.CI === 'true' || process.env.CI === '1';
export const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');

if (!HAVE_CHROMIUM) {
  const msg = `${CHROMIUM} is absent: the HTML report browser tests are skipped (install it with scripts/install-test-tools.sh)`;
  if (BROWSER_REQUIRED) console.error(`error: ${msg.replace('are skipped', 'cannot run')}; CI=true requires them`);
  else console.warn(`note: ${msg}`);
}

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

export interface Opened {
  page: Page;
  /** every console message, as "type: text" */
  console: string[];
  /** uncaught exceptions in the page */
  errors: string[];
  /** dialogs (alert, confirm, prompt) the page opened: dismissed, and recorded */
  dialogs: string[];
  /** requests for anything but the file itself (the report must need no network) */
  requests: string[];
  close(): Promise<void>;
}

/** Write the HTML to test/artifacts/NAME.html and open it from there in a fresh browser profile. */
export async function openHtml(html: string, name: string, viewport = { width: 1280, height: 900 }): Promise<Opened> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.html`);
  fs.writeFileSync(file, html);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-chromium-'));
  let ctx: BrowserContext | undefined;
  try {
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: ARGS, viewport, offline: true, timeout: 30_000,
    });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const o: Opened = {
      page, console: [], errors: [], dialogs: [], requests: [],
      close: async () => {
        await ctx!.close();
        fs.rmSync(profile, { recursive: true, force: true });
      },
    };
    page.on('console', (m) => o.console.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => o.errors.push(String(e)));
    page.on('dialog', (d) => { o.dialogs.push(`${d.type()}: ${d.message()}`); void d.dismiss(); });
    page.on('request', (r) => { if (r.url() !== `file://${file}` && !r.url().startsWith('data:')) o.requests.push(r.url()); });
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    return o;
  } catch (e) {
    await ctx?.close();
    fs.rmSync(profile, { recursive: true, force: true });
    throw e;
  }
}
