import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { PASSWORDS, startTestServer, type TestServer } from '../support/http-server.js';

/**
 * "Your sessions" in the browser client, in Debian's headless Chromium (the same set-up as browser.test.ts): alice
 * signs in from three browsers, the first lists them, ends one with its End button and the others with "End all
 * other sessions", confirming with the password in the page's own field; each ended browser is refused (401) on
 * its next request. The server asks for the password on every ending (reauthWindowMs 0), so the 403
 * reauthentication_required path is always taken. Screenshot: test-results/browser/06-sessions.png.
 */

const CHROMIUM = '/usr/bin/chromium';
const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SHOTS = join('test-results', 'browser');
const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';
const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

interface SessionsAnswer {
  sessions: Array<{ id: string; device: string | null; sourceIp: string | null; current: boolean }>;
}

describe('"Your sessions" in headless Chromium', { timeout: 120_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let laptop: Page;
  let windows: Page;
  let phone: Page;
  /** CSP violations, script errors and dialogs (the page must never fall back to prompt()): there must be none. */
  const pageProblems: string[] = [];

  async function openPage(userAgent?: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US', timezoneId: 'UTC', ...(userAgent ? { userAgent } : {}) });
    context.setDefaultTimeout(10_000);
    contexts.push(context);
    const page = await context.newPage();
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) pageProblems.push(message.text());
    });
    page.on('pageerror', (error) => pageProblems.push(String(error)));
    page.on('dialog', (dialog) => {
      pageProblems.push(`${dialog.type()} dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    await page.goto(`${server.url}/`);
    return page;
  }

  async function signIn(page: Page): Promise<void> {
    await page.locator('#login-card').waitFor({ state: 'visible' });
    await page.fill('#username', 'alice');
    await page.fill('#password', PASSWORDS.alice);
    const [response] = await Promise.all([page.waitForResponse(`${server.url}/auth/login`), page.click('#login-form button[type=submit]')]);
    assert.equal(response.status(), 200);
    await page.locator('#sessions-card').waitFor({ state: 'visible' });
  }

  /** Clicks "Show my sessions" and returns the server's answer. */
  async function showSessions(page: Page): Promise<SessionsAnswer> {
    const [response] = await Promise.all([page.waitForResponse(`${server.url}/auth/sessions`), page.click('#sessions-button')]);
    assert.equal(response.status(), 200);
    const body = (await response.json()) as SessionsAnswer;
    await page.locator('#sessions-rows tr').nth(body.sessions.length - 1).waitFor();
    return body;
  }

  /** The table as the user reads it: device, address, action cell (last used and created are times, checked apart). */
  const rows = (page: Page): Promise<Array<[device: string, address: string, action: string]>> => page.locator('#sessions-rows tr').evaluateAll((trs) => trs.map((tr) => {
    const cells = [...tr.children].map((td) => td.textContent ?? '');
    return [cells[0]!, cells[1]!, cells[4]!] as [string, string, string];
  }));

  /** Calls the protected resource from `page` and returns the status the page saw. */
  async function hello(page: Page): Promise<number> {
    const [response] = await Promise.all([page.waitForResponse(`${server.url}/api/hello`), page.click('#hello-button')]);
    await page.locator('#hello-result').waitFor({ state: 'visible' });
    return response.status();
  }

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`The browser test needs Debian's Chromium at ${CHROMIUM}, which is missing: run apt-get install chromium. (playwright-core never downloads a browser here.)`);
    }
    mkdirSync(SHOTS, { recursive: true });
    server = await startTestServer({ session: { reauthWindowMs: 0 } });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
    laptop = await openPage();
    windows = await openPage(FIREFOX_WINDOWS);
    phone = await openPage(SAFARI_IPHONE);
  });

  after(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
  });

  it('is hidden from a visitor and shown once signed in', async () => {
    assert.equal(await laptop.locator('#sessions-card').isHidden(), true);
    await signIn(laptop);
    await signIn(windows);
    assert.equal(await hello(windows), 200);
  });

  it('lists both sessions, this device marked, the other with its device, address and an End button', async () => {
    const { sessions } = await showSessions(laptop);
    assert.equal(sessions.length, 2);
    const table = await rows(laptop);
    const mine = sessions.findIndex((session) => session.current);
    assert.ok(mine !== -1, 'one session is this one');
    assert.equal(table[mine]![2], 'this device');
    const other = table[1 - mine]!;
    assert.deepEqual(other, ['Firefox 128 on Windows 10', '127.0.0.1', 'End']);
    assert.match(table[mine]![0], /Chrom/);
    // Last used and created are <time> elements carrying the server's instants.
    const times = await laptop.locator('#sessions-rows tr time').evaluateAll((elements) => elements.map((element) => element.getAttribute('datetime')));
    assert.equal(times.length, 4);
    for (const time of times) assert.ok(time && !Number.isNaN(Date.parse(time)), String(time));
    assert.equal(await laptop.locator('#sessions-rows tr[data-current="true"] button').count(), 0, 'no End button for this device');
    assert.match((await laptop.locator('#sessions-message').textContent()) ?? '', /^Signed in on 2 devices: this one and 1 other\.$/);
  });

  it('ends the other session after asking for the password in the page; that browser is refused on its next request', async () => {
    const endButton = laptop.locator('#sessions-rows tr[data-current="false"] button');
    const [asked] = await Promise.all([laptop.waitForResponse((r) => r.request().method() === 'DELETE'), endButton.click()]);
    assert.equal(asked.status(), 403);
    assert.equal(((await asked.json()) as { error: { code: string } }).error.code, 'reauthentication_required');
    await laptop.locator('#reauth-form').waitFor({ state: 'visible' });
    assert.equal(await laptop.locator('#reauth-message').textContent(), 'To end that session, confirm your password.');
    assert.equal(await laptop.locator('#reauth-password').getAttribute('type'), 'password');
    assert.equal(await laptop.locator('#sessions-rows tr').count(), 2, 'nothing ended yet');

    // A wrong password: still 403, the page says so and asks again, with the field emptied.
    await laptop.fill('#reauth-password', 'not alice at all');
    const [wrong] = await Promise.all([laptop.waitForResponse((r) => r.request().method() === 'DELETE'), laptop.click('#reauth-form button[type=submit]')]);
    assert.equal(wrong.status(), 403);
    await laptop.locator('#reauth-message', { hasText: 'not correct' }).waitFor();
    assert.equal(await laptop.locator('#reauth-message').textContent(), 'The password is not correct. Try again to end that session.');
    assert.equal(await laptop.locator('#reauth-password').inputValue(), '');
    await laptop.fill('#reauth-password', PASSWORDS.alice);
    await shot(laptop, '06-sessions.png');

    const [ended] = await Promise.all([laptop.waitForResponse((r) => r.request().method() === 'DELETE'), laptop.click('#reauth-form button[type=submit]')]);
    assert.equal(ended.status(), 200);
    assert.deepEqual(await ended.json(), { endedSessions: 1, current: false });
    assert.deepEqual(ended.request().postDataJSON(), { password: PASSWORDS.alice });
    await laptop.locator('#sessions-message', { hasText: 'Ended 1 session. Only this device is signed in.' }).waitFor();
    assert.equal(await laptop.locator('#reauth-form').isHidden(), true);
    assert.equal(await laptop.locator('#reauth-password').inputValue(), '', 'the password does not stay in the page');
    assert.deepEqual((await rows(laptop)).map((row) => row[2]), ['this device']);
    await shot(laptop, '07-sessions-ended.png');

    // The Firefox browser still holds its cookies, and is refused.
    assert.equal(await hello(windows), 401);
    assert.match((await windows.locator('#hello-result').textContent()) ?? '', /^401 /);
    // The laptop's own session is untouched.
    assert.equal(await hello(laptop), 200);
    assert.equal(server.eventsOf('authn_token_revoked').filter((event) => event.event.reason === 'user_ended').length, 1);
  });

  it('ends all other sessions with one button, after the password', async () => {
    await signIn(phone);
    // The ended Firefox session: a reload asks GET /auth/me, which is refused, so the page shows the sign-in form.
    await windows.reload();
    await signIn(windows);
    assert.equal((await showSessions(laptop)).sessions.length, 3);
    assert.deepEqual((await rows(laptop)).map((row) => row[0]).filter((device) => !/Chrom/.test(device)).sort(), ['Firefox 128 on Windows 10', 'Mobile Safari 17 on iOS 17.5'].sort());

    const [asked] = await Promise.all([laptop.waitForResponse((r) => r.url() === `${server.url}/auth/sessions` && r.request().method() === 'DELETE'), laptop.click('#end-others-button')]);
    assert.equal(asked.status(), 403);
    await laptop.locator('#reauth-message', { hasText: 'To end every other session, confirm your password.' }).waitFor();
    await laptop.fill('#reauth-password', PASSWORDS.alice);
    const [ended] = await Promise.all([laptop.waitForResponse((r) => r.url() === `${server.url}/auth/sessions` && r.request().method() === 'DELETE'), laptop.press('#reauth-password', 'Enter')]);
    assert.equal(ended.status(), 200);
    assert.deepEqual(await ended.json(), { endedSessions: 2 });
    await laptop.locator('#sessions-message', { hasText: 'Ended 2 sessions. Only this device is signed in.' }).waitFor();
    assert.equal(await laptop.locator('#sessions-rows tr').count(), 1);

    assert.equal(await hello(phone), 401);
    assert.equal(await hello(windows), 401);
    assert.equal(await hello(laptop), 200);
  });

  it('ran without a CSP violation, a script error or a dialog', () => {
    assert.deepEqual(pageProblems, []);
  });
});

const shot = (page: Page, name: string): Promise<Buffer> => page.screenshot({ path: join(SHOTS, name), fullPage: true });
