import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { renderReviewHtml } from '../../src/anomaly/review-html.js';
import { decodePng } from '../support/png.js';
import { HOSTILE_AGENT, HOSTILE_USER, sampleReview } from '../support/review-fixture.js';

/**
 * The daily review page opened from disk in Debian's headless Chromium (playwright-core, as the browser client's
 * test does): the charts render, nothing is loaded from anywhere, nothing runs, the CSP lets the page's own style
 * in and keeps the attacker's markup out. The screenshot lands in a temporary folder for a person to look at; it is
 * checked for size and content, not compared pixel by pixel.
 */

const CHROMIUM = '/usr/bin/chromium';
const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WIDTH = 1280;

describe('the review page in headless Chromium', { timeout: 120_000 }, () => {
  let browser: Browser;
  let page: Page;
  let url: string;
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-review-shot-'));
  const requests: string[] = [];
  const problems: string[] = [];
  const dialogs: string[] = [];

  before(async () => {
    // Never skipped and never downloaded: without the system browser this suite fails and says why.
    if (!existsSync(CHROMIUM)) throw new Error(`The review screenshot test needs Debian's Chromium at ${CHROMIUM}: run apt-get install chromium.`);
    const file = join(dir, 'review.html');
    writeFileSync(file, renderReviewHtml(sampleReview()));
    url = pathToFileURL(file).href;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
    const context = await browser.newContext({ viewport: { width: WIDTH, height: 900 }, locale: 'en-US', timezoneId: 'UTC' });
    context.setDefaultTimeout(10_000);
    page = await context.newPage();
    page.on('request', (request) => requests.push(request.url()));
    page.on('console', (message) => {
      if (['error', 'warning'].includes(message.type())) problems.push(`${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(String(error)));
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(url, { waitUntil: 'load' });
  });

  after(async () => {
    await browser?.close();
  });

  it('renders every chart as SVG with a real size', async () => {
    const charts = await page.$$eval('svg.chart', (svgs) => svgs.map((svg) => {
      const box = svg.getBoundingClientRect();
      return { width: box.width, height: box.height, bars: [...svg.querySelectorAll('rect.bar')].filter((bar) => bar.getBoundingClientRect().height > 0 && bar.getBoundingClientRect().width > 0).length };
    }));
    assert.equal(charts.length, 6, 'hours, sources, countries, users, rules, severities');
    for (const chart of charts) assert.ok(chart.width > 100 && chart.height > 30, JSON.stringify(chart));
    // The hourly chart: a bar for every hour and outcome that has logins, and it fills its card's width.
    const nonZero = sampleReview().hourly.flatMap((h) => [h.success, h.failure]).filter((n) => n > 0).length;
    assert.equal(charts[0]!.bars, nonZero);
    assert.ok(charts[0]!.width > WIDTH * 0.6, `${charts[0]!.width} px wide`);
    assert.deepEqual(charts.slice(1).map((c) => c.bars), [3, 3, 3, 2, 2]);
  });

  it('loads nothing but the file itself, and logs no error (a CSP violation would be one)', () => {
    assert.deepEqual(requests, [url]);
    assert.deepEqual(problems, []);
  });

  it('applies its own style under the CSP', async () => {
    const csp = await page.$eval('meta[http-equiv="Content-Security-Policy"]', (meta) => meta.getAttribute('content'));
    assert.match(csp ?? '', /^default-src 'none'; style-src 'sha256-/);
    // The stylesheet's background: the style element was allowed by its hash.
    assert.equal(await page.$eval('body', (body) => body.ownerDocument.defaultView!.getComputedStyle(body).backgroundColor), 'rgb(244, 245, 247)');
  });

  it('shows the attacker\'s user name and user agent as text: no element, no script, no dialog', async () => {
    assert.equal(await page.$$eval('img, script, iframe, object, embed, a', (elements) => elements.length), 0);
    const text = await page.$eval('body', (body) => body.innerText);
    assert.ok(text.includes(HOSTILE_USER), 'the name as typed');
    assert.ok(text.includes(HOSTILE_AGENT), 'the user agent as sent');
    assert.deepEqual(dialogs, []);
  });

  it('takes a screenshot that is neither blank nor cut', async (t) => {
    const path = join(dir, 'review.png');
    await page.screenshot({ path, fullPage: true });
    t.diagnostic(`screenshot: ${path}`);
    const png = decodePng(readFileSync(path));
    assert.equal(png.width, WIDTH);
    const contentHeight = await page.$eval('html', (html) => html.scrollHeight);
    assert.equal(png.height, contentHeight);
    assert.ok(png.height > 900, `the whole page, taller than the window: ${png.height}`);
    // Not blank: many colours, and a fair share of ink: pixels that are neither the page's grey nor the cards' white.
    const colours = new Set<number>();
    let ink = 0;
    for (let i = 0; i < png.pixels.length; i += 4) {
      const [r, g, b] = [png.pixels[i]!, png.pixels[i + 1]!, png.pixels[i + 2]!];
      colours.add((r << 16) | (g << 8) | b);
      if (Math.abs(r - 244) + Math.abs(g - 245) + Math.abs(b - 247) > 30 && r + g + b < 700) ink += 1;
    }
    assert.ok(colours.size > 50, `${colours.size} colours`);
    const share = ink / (png.width * png.height);
    t.diagnostic(`${png.width}×${png.height}, ${colours.size} colours, ${(share * 100).toFixed(1)}% ink`);
    assert.ok(share > 0.02, `${(share * 100).toFixed(1)}% of the pixels are ink`);
    // The failure bars are drawn in their red somewhere.
    assert.ok([...colours].includes(0xc62828), 'the failed-login red');
  });
});
