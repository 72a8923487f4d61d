import assert from 'node:assert/strict';
import { PASSWORDS, parseSetCookie, type TestClient, type TestServer } from './http-server.js';

/** Our cookie names, as the tests address them. */
export const AT = '__Host-sentinel_at';
export const RT = '__Secure-sentinel_rt';
export const CSRF = '__Host-sentinel_csrf';

/**
 * Every token and cookie value the watched clients have received, to prove none of them ever reaches a security
 * event or a log line (ASVS 16.2.5). One per test file: `const secrets = new SecretWatch()`.
 */
export class SecretWatch {
  readonly values = new Set<string>();

  /** Records every Set-Cookie value and csrfToken `client` receives from now on. */
  watch(client: TestClient): TestClient {
    const request = client.request.bind(client);
    client.request = async (method, path, options) => {
      const res = await request(method, path, options);
      for (const line of res.setCookies) {
        const { value } = parseSetCookie(line);
        if (value) this.values.add(value);
      }
      if (typeof res.body?.csrfToken === 'string') this.values.add(res.body.csrfToken);
      return res;
    };
    return client;
  }

  /** A second, watched browser holding a copy of `from`'s cookies as they are now (two tabs, or a thief). */
  cloneOf(server: TestServer, from: TestClient): TestClient {
    const copy = this.watch(server.client());
    for (const [name, cookie] of from.jar) copy.jar.set(name, { ...cookie });
    copy.csrfToken = from.csrfToken;
    return copy;
  }

  assertNoneLogged(server: TestServer): void {
    const events = JSON.stringify(server.events);
    const log = server.rawLog();
    assert.ok(this.values.size > 0);
    for (const secret of this.values) {
      // The whole value and its signature part (the last dot-separated segment of a JWT or a CSRF token).
      for (const needle of [secret, secret.slice(secret.lastIndexOf('.') + 1)]) {
        assert.equal(events.includes(needle), false, 'a token or cookie value is in a security event');
        assert.equal(log.includes(needle), false, 'a token or cookie value is in the log');
      }
    }
    for (const password of Object.values(PASSWORDS)) assert.equal(log.includes(password), false, 'a password is in the log');
  }
}
