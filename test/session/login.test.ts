import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PASSWORDS, parseSetCookie, startTestServer, type TestServer } from '../support/http-server.js';

describe('POST /auth/login', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('logs a user in with hardened cookies, a CSRF token and no-store', async () => {
    const client = server.client();
    const res = await client.login('alice', PASSWORDS.alice);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.user, { id: 'u_alice', name: 'alice', roles: ['user'] });
    assert.match(res.body.csrfToken, /^[\w-]+\.[\w-]+$/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const cookies = Object.fromEntries(res.setCookies.map((line) => { const c = parseSetCookie(line); return [c.name, c]; }));
    const access = cookies['__Host-sentinel_at']!;
    assert.equal(access.attributes.path, '/');
    assert.equal(access.attributes.httponly, true);
    assert.equal(access.attributes.secure, true);
    assert.equal(access.attributes.samesite, 'Lax');
    assert.equal(access.attributes.domain, undefined);
    const refresh = cookies['__Secure-sentinel_rt']!;
    assert.equal(refresh.attributes.path, '/auth/refresh');
    assert.equal(refresh.attributes.httponly, true);
    assert.equal(refresh.attributes.secure, true);
    assert.equal(refresh.attributes.samesite, 'Strict');
    const me = await client.request('GET', '/auth/me');
    assert.equal(me.status, 200);
    assert.equal(me.body.user.name, 'alice');
    assert.equal(server.eventsOf('authn_login_success').length, 1);
  });

  it('gives the same 401 for unknown user, wrong password, disabled user and malformed fields', async () => {
    const client = server.client();
    const attempts = [
      { username: 'nobody', password: 'whatever-password' },
      { username: 'admin', password: 'wrong' },
      { username: 'bob', password: PASSWORDS.bob },
      { username: 42, password: ['x'] },
      { username: 'alice' },
      {},
    ];
    const bodies = new Set<string>();
    for (const json of attempts) {
      const res = await client.request('POST', '/auth/login', { json });
      assert.equal(res.status, 401, JSON.stringify(json));
      assert.equal(res.headers.get('cache-control'), 'no-store');
      bodies.add(res.text);
    }
    assert.deepEqual([...bodies], ['{"error":{"code":"login_failed","message":"Invalid username or password."}}']);
    const reasons = server.eventsOf('authn_login_fail').map((e) => e.event.reason);
    assert.deepEqual(reasons, ['unknown_user', 'bad_password', 'disabled', 'malformed', 'malformed', 'malformed']);
  });
});
