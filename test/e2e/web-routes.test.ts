import assert from 'node:assert/strict';
import { get } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Script } from 'node:vm';
import { PAGE_CSP, WEB_ASSETS } from '../../src/service/web-routes.js';

const APP_JS = WEB_ASSETS['/app.js']!.body;
import { startTestServer, type TestServer } from '../support/http-server.js';

/** A GET with If-None-Match as a browser sends it (fetch() adds Cache-Control: no-cache, which forbids a 304). */
function conditionalGet(url: string, etag: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { 'if-none-match': etag } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** The browser client's files over HTTP, without a browser: types, caching, the page's own CSP. */
describe('web routes', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('serves the page with its strict CSP, no-store and the usual security headers', async () => {
    const res = await fetch(`${server.url}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('content-security-policy'),
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    assert.equal(res.headers.get('content-security-policy'), PAGE_CSP);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    const html = await res.text();
    // Nothing inline: no <script> with a body, no <style>, no style= or on*= attributes.
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i);
    assert.match(html, /<script type="module" src="\/app\.js"><\/script>/);
    assert.match(html, /<link rel="stylesheet" href="\/app\.css">/);
  });

  it('serves the script, style and icon revalidated by ETag, under the API CSP', async () => {
    const types: Array<[string, string]> = [['/app.js', 'text/javascript; charset=utf-8'], ['/app.css', 'text/css; charset=utf-8'], ['/favicon.svg', 'image/svg+xml']];
    for (const [path, type] of types) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-type'), type, path);
      assert.equal(res.headers.get('cache-control'), 'no-cache', path);
      assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'", path);
      assert.equal(await res.text(), WEB_ASSETS[path]!.body, path);
      const etag = res.headers.get('etag');
      assert.match(etag ?? '', /^"[A-Za-z0-9_-]{27}"$/, path);
      const again = await conditionalGet(`${server.url}${path}`, etag!);
      assert.equal(again.status, 304, path);
      assert.equal(again.body, '', path);
    }
  });

  it('answers HEAD, leaves other methods and the API alone', async () => {
    const head = await fetch(`${server.url}/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-security-policy'), PAGE_CSP);
    const api = await fetch(`${server.url}/api/hello`);
    assert.equal(api.status, 401);
    assert.equal(api.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
    // The login form's no-script fallback (method="post", a form body) is refused before any route sees it.
    const form = await fetch(`${server.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url }, body: 'username=a&password=b' });
    assert.equal(form.status, 415);
  });

  it('ships a script that parses as a module and never writes HTML', () => {
    // The e2e test runs it; this catches a broken string (a stray backtick or dollar-brace) without a browser.
    assert.doesNotThrow(() => new Script(`(async () => {\n${APP_JS}\n})`));
    assert.doesNotMatch(APP_JS, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
  });
});
