// The console's browser tests: Debian's chromium driven by playwright-core (no browser download:
// .ci/run installs the chromium package when it is missing, tools/testing/install-chromium.sh),
// a screenshot of every page a journey visits (kept under .data/screenshots/, CI's artifacts),
// an axe-core accessibility check of each, and every error the page logs collected.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AxeBuilder } from '@axe-core/playwright';
import { type Browser, type Page, chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SCREENSHOT_DIR = resolve(root, '.data/screenshots');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A phone and a desktop: every journey runs at one of them, and some pages are checked at both. */
export const PHONE = { width: 375, height: 740 };
export const DESKTOP = { width: 1280, height: 900 };

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: run 'bash tools/testing/install-chromium.sh' (CI does), or set CHROMIUM_PATH`);
  return chromium.launch({
    executablePath: CHROMIUM,
    // As root on a closed network: no sandbox, and none of Chromium's own calls home.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface ConsolePage {
  page: Page;
  /** Errors the page threw or logged (a failed request the journey meant to make is logged too: filter by text). */
  errors: string[];
  /** Waits until the page for the current address is shown (the shell marks what it rendered). */
  settled(): Promise<void>;
  /** Screenshot (full page) to .data/screenshots/<journey>-<step>.png, an axe check and a width check; returns the serious or critical violations, and a page wider than the screen. */
  capture(step: string): Promise<string[]>;
  /** For an afterEach: a screenshot of the page as a failed test left it (.data/screenshots/<journey>-failed-….png). */
  afterFailure(test: Mocha.Test | undefined): Promise<void>;
  close(): Promise<void>;
}

export async function openConsole(browser: Browser, baseUrl: string, journey: string, viewport = DESKTOP): Promise<ConsolePage> {
  const context = await browser.newContext({ viewport, baseURL: baseUrl });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  let shots = 0;
  const settled = async () => {
    const hash = new URL(page.url()).hash;
    await page.locator(`main#view[data-rendered=${JSON.stringify(hash)}]:not([aria-busy])`).waitFor();
  };
  return {
    page,
    errors,
    settled,
    async capture(step) {
      await settled();
      const name = `${journey}-${String(++shots).padStart(2, '0')}-${step}`.replace(/[^a-z0-9-]+/gi, '-');
      await page.screenshot({ path: resolve(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
      const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
      // Nothing may make the page itself scroll sideways (wide tables scroll inside their own box).
      const widths = await page.evaluate(() => {
        const { document, innerWidth } = globalThis as unknown as { document: { documentElement: { scrollWidth: number } }; innerWidth: number };
        return { page: document.documentElement.scrollWidth, screen: innerWidth };
      });
      return [
        ...violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => `${step}: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
        ...(widths.page > widths.screen ? [`${step}: the page is ${widths.page}px wide on a ${widths.screen}px screen`] : []),
      ];
    },
    async afterFailure(test) {
      if (test?.state !== 'failed') return;
      const name = `${journey}-failed-${test.title}`.replace(/[^a-z0-9-]+/gi, '-').slice(0, 120);
      await page.screenshot({ path: resolve(SCREENSHOT_DIR, `${name}.png`), fullPage: true }).catch(() => undefined);
    },
    close: () => context.close(),
  };
}
