import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PASSWORDS, startTestServer, TestClient, type TestServer } from '../support/http-server.js';

/** Found by schemathesis: DELETE /auth/sessions with the JSON body `[null, null]` answered 200 and ended sessions. */
describe('session routes refuse a JSON body that is not an object', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(() => server.close());

  for (const body of ['[null, null]', 'null', '42', '"password"']) {
    it(`DELETE /auth/sessions with ${body}: 400 invalid_request, no session ended`, async () => {
      const laptop = new TestClient(server.url);
      const phone = new TestClient(server.url);
      assert.equal((await laptop.login('alice', PASSWORDS.alice)).status, 200);
      assert.equal((await phone.login('alice', PASSWORDS.alice)).status, 200);
      const refused = await laptop.request('DELETE', '/auth/sessions', { body, headers: { 'content-type': 'application/json' } });
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.body.error.code, 'invalid_request');
      assert.equal((await phone.request('GET', '/auth/me')).status, 200, 'the other session lives on');
      const password = await laptop.request('POST', '/auth/password', { body, headers: { 'content-type': 'application/json' } });
      assert.equal(password.status, 400, password.text);
    });
  }
});
