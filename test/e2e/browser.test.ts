import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Cookie, type Page } from 'playwright-core';
import { freePort } from '../support/elasticsearch.js';
import { PASSWORDS, startTestServer, type TestServer } from '../support/http-server.js';

/**
 * The browser client (GET /) driven end to end in Debian's headless Chromium through playwright-core: sign in
 * through the form, use the session, refresh, sign out; then a page on another site tries to use the session.
 * Screenshots land in test-results/browser/ for a person to look at.
 */

const CHROMIUM = '/usr/bin/chromium';
const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SHOTS = join('test-results', 'browser');
const AT = '__Host-sentinel_at';
const RT = '__Secure-sentinel_rt';
const CSRF = '__Host-sentinel_csrf';
/** The signed device cookie a login leaves (device-aware throttling: its own throttle bucket). */
const DEVICE = '__Host-sentinel_device';

interface AccessRecord {
  method: string;
  path: string;
  status: number;
  user: string | undefined;
}

/** The server's access log (one ECS record per request), the ground truth of what reached it and how it ended. */
function accessLog(server: TestServer): AccessRecord[] {
  return server.records
    .filter((record) => (record.event as { dataset?: string } | undefined)?.dataset === 'sentinel.access')
    .map((record) => {
      const r = record as { http: { request: { method: string }; response: { status_code: number } }; url: { path: string }; user?: { name: string } };
      return { method: r.http.request.method, path: r.url.path, status: r.http.response.status_code, user: r.user?.name };
    });
}

describe('browser client in headless Chromium', { timeout: 120_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** CSP violations and uncaught script errors on our page: there must be none. */
  const pageProblems: string[] = [];

  /** Every cookie the browser holds for the API's host, whatever its Path. */
  const cookies = async (): Promise<Map<string, Cookie>> => new Map((await context.cookies()).filter((c) => c.domain === '127.0.0.1').map((c) => [c.name, c]));
  const text = async (selector: string): Promise<string> => (await page.locator(selector).textContent())?.trim() ?? '';
  const visible = (selector: string): Promise<void> => page.locator(selector).waitFor({ state: 'visible' });
  const watchProblems = (target: Page): Page => {
    target.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) pageProblems.push(message.text());
    });
    target.on('pageerror', (error) => pageProblems.push(String(error)));
    return target;
  };
  const shot = (name: string, target: Page = page): Promise<Buffer> => target.screenshot({ path: join(SHOTS, name), fullPage: true });

  async function signIn(name: keyof typeof PASSWORDS): Promise<Record<string, unknown>> {
    await visible('#login-card');
    await page.fill('#username', name);
    await page.fill('#password', PASSWORDS[name]);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${server.url}/auth/login`),
      page.click('#login-form button[type=submit]'),
    ]);
    assert.equal(response.status(), 200, await response.text());
    await visible('#session-card');
    return (await response.json()) as Record<string, unknown>;
  }

  async function postNote(note: string): Promise<{ status: number; csrfHeader: string | undefined }> {
    await page.fill('#note-text', note);
    const [request] = await Promise.all([
      page.waitForRequest((r) => r.url() === `${server.url}/api/notes` && r.method() === 'POST'),
      page.click('#note-form button[type=submit]'),
    ]);
    const response = await request.response();
    await visible('#note-result');
    return { status: response!.status(), csrfHeader: request.headers()['x-csrf-token'] };
  }

  before(async () => {
    // Never skipped and never downloaded: without the system browser this suite fails and says why.
    if (!existsSync(CHROMIUM)) {
      throw new Error(`The browser test needs Debian's Chromium at ${CHROMIUM}, which is missing: run apt-get install chromium. (playwright-core never downloads a browser here.)`);
    }
    mkdirSync(SHOTS, { recursive: true });
    // The plain-http test below reaches this server as sentinel.test: an origin configured in advance, as operators
    // configure PUBLIC_ORIGIN (origins never come from the request's Host).
    const port = await freePort();
    server = await startTestServer({ port, session: { allowedOrigins: [`http://127.0.0.1:${port}`, `http://sentinel.test:${port}`] } });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'UTC' });
    context.setDefaultTimeout(10_000);
    page = watchProblems(await context.newPage());
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('shows the sign-in form to a visitor without a session', async () => {
    await page.goto(`${server.url}/`);
    await visible('#login-card');
    assert.equal(await text('#who'), 'Not signed in');
    assert.equal(await page.locator('#session-card').isHidden(), true);
    assert.match(await text('#activity'), /GET \/auth\/me → 401/);
  });

  let loginBody: Record<string, unknown>;

  it('signs in through the form and shows the user and roles', async () => {
    loginBody = await signIn('admin');
    assert.equal(await text('#user-name'), 'admin');
    assert.deepEqual(await page.locator('#user-roles span').allTextContents(), ['user', 'admin']);
    assert.equal(await text('#who'), 'Signed in as admin');
    assert.equal(await page.locator('#access-expires').getAttribute('datetime'), loginBody.accessExpiresAt);
    assert.equal(await page.locator('#session-expires').getAttribute('datetime'), loginBody.sessionExpiresAt);
    assert.equal(await page.locator('#password').inputValue(), '', 'the password field is cleared');
    await shot('01-signed-in.png');
  });

  it('keeps __Host- and Secure cookies on http://127.0.0.1 (a potentially trustworthy origin)', async () => {
    // Chromium treats http://127.0.0.1 and http://localhost as secure contexts, so it accepts Secure cookies and
    // the __Host-/__Secure- prefixes there without TLS; on any other http:// host it drops all three (the test
    // "is refused the Secure cookies on a plain-http host" shows that side).
    const jar = await cookies();
    assert.deepEqual([...jar.keys()].sort(), [RT, AT, CSRF, DEVICE].sort());
    const expected = {
      [AT]: { path: '/', httpOnly: true, sameSite: 'Lax' },
      [RT]: { path: '/auth/refresh', httpOnly: true, sameSite: 'Strict' },
      [CSRF]: { path: '/', httpOnly: false, sameSite: 'Strict' },
      [DEVICE]: { path: '/', httpOnly: true, sameSite: 'Strict' },
    };
    for (const [name, want] of Object.entries(expected)) {
      const cookie = jar.get(name)!;
      assert.deepEqual({ path: cookie.path, httpOnly: cookie.httpOnly, sameSite: cookie.sameSite, secure: cookie.secure, domain: cookie.domain }, { ...want, secure: true, domain: '127.0.0.1' }, name);
    }
    // The page sees the CSRF cookie only: the tokens are HttpOnly.
    assert.equal(await page.evaluate('document.cookie'), `${CSRF}=${jar.get(CSRF)!.value}`);
    assert.equal(loginBody.csrfToken, jar.get(CSRF)!.value);
  });

  let meToken: string;

  it('keeps the session across a reload (GET /auth/me)', async () => {
    const [me] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${server.url}/auth/me`),
      page.reload(),
    ]);
    assert.equal(me.status(), 200);
    // A fresh token for the same session (the cookie's token stays valid too); the page uses the latest it got.
    meToken = ((await me.json()) as { csrfToken: string }).csrfToken;
    await visible('#session-card');
    assert.equal(await text('#user-name'), 'admin');
    assert.match(await text('#csrf-token'), /^[A-Za-z0-9_-]{10}…$/);
  });

  it('calls the protected resource', async () => {
    await page.click('#hello-button');
    await visible('#hello-result');
    assert.equal(await text('#hello-result'), '200 OK: Hello, admin.');
  });

  it('posts a note with the CSRF token in X-CSRF-Token', async () => {
    const { status, csrfHeader } = await postNote('first note from Chromium');
    assert.equal(status, 201);
    assert.equal(csrfHeader, meToken);
    assert.match(await text('#note-result'), /^201 Created: "first note from Chromium" by admin/);
    assert.deepEqual(server.eventsOf('malicious_csrf'), []);
  });

  it('refreshes the session and shows the new expiry', async () => {
    const before = await cookies();
    const oldExpiry = await page.locator('#access-expires').getAttribute('datetime');
    // exp has one-second resolution: wait so that the new expiry is visibly later.
    await sleep(1100);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${server.url}/auth/refresh`),
      page.click('#refresh-button'),
    ]);
    assert.equal(response.status(), 200);
    const body = (await response.json()) as { accessExpiresAt: string; csrfToken: string };
    await page.locator('#notice', { hasText: 'Session refreshed' }).waitFor();
    const newExpiry = await page.locator('#access-expires').getAttribute('datetime');
    assert.equal(newExpiry, body.accessExpiresAt);
    assert.ok(Date.parse(newExpiry!) > Date.parse(oldExpiry!), `${newExpiry} after ${oldExpiry}`);
    const after = await cookies();
    for (const name of [AT, RT, CSRF]) assert.notEqual(after.get(name)!.value, before.get(name)!.value, `${name} rotated`);
    // The rotated CSRF token is the one the page sends now.
    const { status, csrfHeader } = await postNote('second note, after the refresh');
    assert.equal(status, 201);
    assert.equal(csrfHeader, body.csrfToken);
    assert.equal(csrfHeader, after.get(CSRF)!.value);
  });

  it('shows a clear message when the login history answers 503', async () => {
    // The test server has no Elasticsearch, so GET /auth/login-history answers 503 dependency_unavailable.
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().startsWith(`${server.url}/auth/login-history`)),
      page.click('#history-button'),
    ]);
    assert.equal(response.status(), 503);
    await visible('#history-message');
    assert.match(await text('#history-message'), /^Login history is unavailable right now \(503 dependency_unavailable\): .*Elasticsearch/);
    assert.equal(await page.locator('#history-table').isHidden(), true);
    await shot('02-session-in-use.png');
  });

  it('renders a login history as text only (answer stubbed in a second tab)', async () => {
    // With Elasticsearch the route answers 200 (the query is covered in test/elastic/login-history.test.ts); here a
    // second tab of the same session gets such an answer from the browser itself, to check the table, including a
    // hostile user agent that must stay text. The first tab keeps only the server's real answers.
    const hostile = '<img src=x onerror="document.title=\'pwned\'">';
    const tab = watchProblems(await context.newPage());
    try {
      await tab.route('**/auth/login-history*', (route) => route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({
          logins: [
            { time: '2026-11-20T09:15:00.000Z', outcome: 'success', action: 'authn_login_success', sourceIp: '127.0.0.1', userAgent: 'Mozilla/5.0 Chromium' },
            { time: '2026-11-20T09:14:00.000Z', outcome: 'failure', action: 'authn_login_fail', sourceIp: '203.0.113.9', userAgent: hostile },
          ],
          nextCursor: null,
        }),
      }));
      await tab.goto(`${server.url}/`);
      await tab.click('#history-button');
      await tab.locator('#history-table').waitFor({ state: 'visible' });
      const rows = await tab.locator('#history-rows tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
      assert.deepEqual(rows, [
        ['11/20/2026, 9:15:00 AM', 'success', '127.0.0.1', 'Mozilla/5.0 Chromium'],
        ['11/20/2026, 9:14:00 AM', 'failure', '203.0.113.9', hostile],
      ]);
      assert.equal(await tab.locator('#history-table img').count(), 0);
      assert.equal(await tab.title(), 'koa-sentinel');
      assert.equal(await tab.locator('#history-message').textContent(), 'Your 2 most recent logins, newest first.');
    } finally {
      await tab.close();
    }
  });

  it('signs out: the cookies are gone and the protected call answers 401', async () => {
    const oldAccess = (await cookies()).get(AT)!.value;
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${server.url}/auth/logout`),
      page.click('#logout-button'),
    ]);
    assert.equal(response.status(), 204);
    await visible('#login-card');
    assert.equal(await text('#who'), 'Not signed in');
    assert.deepEqual([...(await cookies()).keys()], []);
    assert.equal(await page.evaluate('document.cookie'), '');
    await page.click('#hello-button');
    await page.locator('#hello-result', { hasText: '401' }).waitFor();
    assert.equal(await text('#hello-result'), '401 token_invalid: Authentication is required.');
    // Revoked on the server too: the old access token, replayed outside the browser, is refused.
    const replay = await fetch(`${server.url}/api/hello`, { headers: { cookie: `${AT}=${oldAccess}` } });
    assert.equal(replay.status, 401);
    assert.equal(server.eventsOf('session_logout').length, 1);
    await shot('03-signed-out.png');
  });

  it('does not let a page on another site use the session for an unsafe request', async () => {
    await signIn('alice');
    const target = `${server.url}/api/notes`;
    const attackerServer = await startAttackerServer(target);
    // localhost and 127.0.0.1 are different sites (different hosts, no registrable domain in common), so to the
    // browser this page is cross-site to the API, exactly like evil.example would be.
    const attackerUrl = `http://localhost:${(attackerServer.address() as AddressInfo).port}`;
    const attacker = await context.newPage();
    const sentCookies = await watchCookies(attacker, target);
    const fromEvent = server.events.length;
    const fromAccess = accessLog(server).length;
    try {
      await attacker.goto(`${attackerUrl}/fetch`);
      await attacker.waitForFunction('document.title === "done"');
      await shot('04-attacker-fetch.png', attacker);
      const results = JSON.parse(await attacker.locator('#out').innerText()) as Record<string, string>;
      // The attacker's script can read nothing back: every response is opaque or blocked by CORS.
      assert.deepEqual(results, { simple: 'TypeError: Failed to fetch', text: 'TypeError: Failed to fetch', json: 'TypeError: Failed to fetch' });
      // The form posts as a top-level navigation and lands on the API's JSON error.
      await attacker.goto(`${attackerUrl}/form`);
      await attacker.waitForURL(target);
      assert.equal(JSON.parse(await attacker.locator('body').innerText()).error.code, 'unsupported_media_type');
      await shot('05-attacker-form.png', attacker);
    } finally {
      await attacker.close();
      await new Promise<void>((resolve) => attackerServer.close(() => resolve()));
    }

    // 1. What reached the server, and how it ended. No 201: no note was created, and no request was recognised as
    //    alice's (no user on any record).
    //    - simple: POST without a body (a "simple" request, sent without preflight) → 403 csrf_failed: Sec-Fetch-Site
    //      is cross-site (malicious_csrf, reason cross_site).
    //    - text: POST with a text/plain body, the JSON-in-text/plain trick → 415: only application/json is accepted,
    //      which is never a simple request. The JSON-only rule runs before the CSRF check, so no malicious_csrf.
    //    - json: POST with application/json → needs a CORS preflight; the OPTIONS answer grants nothing, so
    //      Chromium never sends the POST.
    //    - form: auto-submitted form, a top-level cross-site POST navigation → 415, like text.
    const attacks = accessLog(server).slice(fromAccess).filter((record) => record.path === '/api/notes');
    assert.deepEqual(attacks, [
      { method: 'POST', path: '/api/notes', status: 403, user: undefined },
      { method: 'POST', path: '/api/notes', status: 415, user: undefined },
      { method: 'OPTIONS', path: '/api/notes', status: 200, user: undefined },
      { method: 'POST', path: '/api/notes', status: 415, user: undefined },
    ]);
    const events = server.events.slice(fromEvent).map((event) => [event.event.action, event.event.reason, event.url?.path]);
    assert.deepEqual(events, [
      ['malicious_csrf', 'cross_site', '/api/notes'],
      ['input_validation_fail', 'unsupported_media_type', '/api/notes'],
      ['input_validation_fail', 'unsupported_media_type', '/api/notes'],
    ]);

    // 2. Why the session did not travel: Chromium withheld the cookies by their SameSite attribute (its own
    //    report, over the DevTools protocol). The access cookie is Lax, so it is sent cross-site only on
    //    top-level GET navigations, never with a POST; the CSRF and refresh cookies are Strict. (For the
    //    fetches Chromium also names its third-party-cookie setting; for the form navigation SameSite alone.)
    assert.equal(sentCookies.length, 3, `requests seen: ${JSON.stringify(sentCookies)}`);
    for (const request of sentCookies) {
      assert.equal(request.cookieHeader, undefined, `no Cookie header on ${request.kind}`);
      assert.match(request.blocked[AT]?.join() ?? '', /SameSiteLax/, `${AT} withheld by SameSite=Lax on ${request.kind}`);
      assert.match(request.blocked[CSRF]?.join() ?? '', /SameSiteStrict/, `${CSRF} withheld by SameSite=Strict on ${request.kind}`);
    }
    const navigation = sentCookies.find((request) => request.kind === 'Document');
    assert.deepEqual(navigation?.blocked[AT], ['SchemefulSameSiteLax'], 'the form navigation was refused the cookie for SameSite alone');

    // 3. The session itself is untouched: the real page still posts notes.
    const { status } = await postNote('still works after the attack');
    assert.equal(status, 201);
  });

  it('is refused the Secure cookies on a plain-http host other than localhost, and the page says so', async () => {
    // The other side of the rule above: sentinel.test over http is not a secure context, so Chromium drops every
    // Secure cookie. The host name is mapped to 127.0.0.1 inside the browser only (no DNS involved).
    const plain = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...LAUNCH_ARGS, '--host-resolver-rules=MAP sentinel.test 127.0.0.1'] });
    try {
      const tab = watchProblems(await plain.newPage());
      tab.setDefaultTimeout(10_000);
      const url = server.url.replace('127.0.0.1', 'sentinel.test');
      await tab.goto(`${url}/`);
      await tab.locator('#login-card').waitFor({ state: 'visible' });
      await tab.fill('#username', 'alice');
      await tab.fill('#password', PASSWORDS.alice);
      const [response] = await Promise.all([tab.waitForResponse(`${url}/auth/login`), tab.click('#login-form button[type=submit]')]);
      // The server did its part (200 and four Set-Cookie headers: access, refresh, CSRF, device) ...
      assert.equal(response.status(), 200);
      assert.equal((await response.headersArray()).filter((h) => h.name.toLowerCase() === 'set-cookie').length, 4);
      // ... and the browser kept none of them.
      assert.deepEqual(await tab.context().cookies(), []);
      await tab.locator('#notice.error').waitFor();
      assert.match((await tab.locator('#notice').textContent()) ?? '', /refused the session cookies/);
      await tab.click('#hello-button');
      await tab.locator('#hello-result', { hasText: '401' }).waitFor();
    } finally {
      await plain.close();
    }
  });

  it('ran without a CSP violation or a script error on our pages', () => {
    assert.deepEqual(pageProblems, []);
  });
});

/**
 * The other site: /fetch tries three credentialed POSTs with fetch() and keeps what its script could observe;
 * /form auto-submits an ordinary HTML form. Inline scripts are fine here: this is the attacker's own page.
 */
async function startAttackerServer(target: string): Promise<Server> {
  const fetchPage = `<!doctype html><title>attacker</title>
<h1>Another site: <code id="origin"></code></h1>
<p>Trying credentialed POSTs to <code>${target}</code>. What this page's script could observe:</p><pre id="out">running…</pre>
<script>
const target = ${JSON.stringify(target)};
document.getElementById('origin').textContent = location.origin;
const results = {};
async function attempt(name, init) {
  try {
    const response = await fetch(target, { method: 'POST', credentials: 'include', ...init });
    results[name] = response.type + ' ' + response.status;
  } catch (error) {
    results[name] = String(error);
  }
}
(async () => {
  await attempt('simple', {});
  await attempt('text', { headers: { 'content-type': 'text/plain' }, body: '{"text":"pwned (text/plain)"}' });
  await attempt('json', { headers: { 'content-type': 'application/json' }, body: '{"text":"pwned (json)"}' });
  document.getElementById('out').textContent = JSON.stringify(results, null, 2);
  document.title = 'done';
})();
</script>`;
  const formPage = `<!doctype html><title>attacker form</title>
<form id="f" method="post" action="${target}"><input name="text" value="pwned (form)"></form>
<script>document.getElementById('f').submit();</script>`;
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(req.url === '/form' ? formPage : fetchPage);
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return server;
}

interface SentRequest {
  kind: string;
  cookieHeader: string | undefined;
  /** Cookie name → why Chromium did not attach it. */
  blocked: Record<string, string[]>;
}

/**
 * What Chromium actually put on the wire for POSTs to `target` from this page, and which cookies it withheld
 * and why (DevTools protocol: Network.requestWillBeSentExtraInfo). Only requests that were sent are listed.
 */
async function watchCookies(page: Page, target: string): Promise<SentRequest[]> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const posts = new Map<string, string>();
  const extras = new Map<string, Omit<SentRequest, 'kind'>>();
  const sent: SentRequest[] = [];
  const settle = (requestId: string): void => {
    const kind = posts.get(requestId);
    const extra = extras.get(requestId);
    if (kind === undefined || extra === undefined) return;
    posts.delete(requestId);
    sent.push({ kind, ...extra });
  };
  cdp.on('Network.requestWillBeSent', (event) => {
    if (event.request.url !== target || event.request.method !== 'POST') return;
    posts.set(event.requestId, event.type ?? 'Other');
    settle(event.requestId);
  });
  cdp.on('Network.requestWillBeSentExtraInfo', (event) => {
    const blocked: Record<string, string[]> = {};
    for (const { cookie, blockedReasons } of event.associatedCookies) {
      if (blockedReasons.length > 0) blocked[cookie.name] = blockedReasons;
    }
    const header = Object.entries(event.headers).find(([name]) => name.toLowerCase() === 'cookie');
    extras.set(event.requestId, { cookieHeader: header?.[1] as string | undefined, blocked });
    settle(event.requestId);
  });
  return sent;
}
