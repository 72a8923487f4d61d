import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ConfigurationError } from '../../src/errors.js';
import { createBreachedPasswordCheck } from '../../src/session/breached-passwords.js';
import { PASSWORDS, startTestServer, TestClient } from '../support/http-server.js';

const BREACHED = 'correct horse battery staple!';
const sha1 = (text: string): string => createHash('sha1').update(text, 'utf8').digest('hex').toUpperCase();

/** A local stand-in for the range API: it records what it was asked and answers the breached suffix among decoys. */
function rangeServer(): Promise<{ server: Server; url: string; asked: Array<{ path: string; padding: string | undefined }> }> {
  const asked: Array<{ path: string; padding: string | undefined }> = [];
  const hash = sha1(BREACHED);
  const server = createServer((req, res) => {
    asked.push({ path: req.url ?? '', padding: req.headers['add-padding'] as string | undefined });
    const prefix = (req.url ?? '').split('/').pop() ?? '';
    const lines = ['0018A45C4D1DEF81644B54AB7F969B88D65:1', '00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0'];
    if (prefix === hash.slice(0, 5)) lines.push(`${hash.slice(5)}:3730471`);
    res.end(lines.join('\r\n'));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/range/`, asked })));
}

describe('createBreachedPasswordCheck (k-anonymity range API)', () => {
  let range: Awaited<ReturnType<typeof rangeServer>>;
  before(async () => { range = await rangeServer(); });
  after(() => new Promise<void>((resolve) => range.server.close(() => resolve())));

  it('finds a breached password, sending only the first five hex characters of its SHA-1, with padding asked', async () => {
    const check = createBreachedPasswordCheck({ url: range.url });
    assert.equal(await check(BREACHED), true);
    const { path, padding } = range.asked.at(-1)!;
    assert.equal(path, `/range/${sha1(BREACHED).slice(0, 5)}`);
    assert.equal(padding, 'true');
    assert.ok(!path.includes(sha1(BREACHED).slice(5)), 'the rest of the hash never leaves the process');
  });

  it('says false for a password not in the answer, and respects minCount', async () => {
    assert.equal(await createBreachedPasswordCheck({ url: range.url })('a password nobody ever leaked 7Qx!'), false);
    assert.equal(await createBreachedPasswordCheck({ url: range.url, minCount: 5_000_000 })(BREACHED), false);
  });

  it('says undefined (unknown) when the service cannot be reached or fails, within its timeout', async () => {
    const down = createServer();
    await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', () => resolve()));
    const url = `http://127.0.0.1:${(down.address() as AddressInfo).port}/range/`;
    await new Promise<void>((resolve) => down.close(() => resolve()));
    assert.equal(await createBreachedPasswordCheck({ url, timeoutMs: 500 })(BREACHED), undefined);
    const failing = createBreachedPasswordCheck({ url: range.url, fetch: async () => new Response('no', { status: 503 }) });
    assert.equal(await failing(BREACHED), undefined);
  });

  it('validates its options once', () => {
    assert.throws(() => createBreachedPasswordCheck({ url: 'ftp://example.invalid/' }), ConfigurationError);
    assert.throws(() => createBreachedPasswordCheck({ timeoutMs: 0 }), ConfigurationError);
    assert.throws(() => createBreachedPasswordCheck({ minCount: 0 }), ConfigurationError);
  });

  it('refuses a breached new password at POST /auth/password (password_rejected, reason breached), logged without the password', async () => {
    const server = await startTestServer({ session: { breachedPasswords: createBreachedPasswordCheck({ url: range.url }) } });
    try {
      const client = new TestClient(server.url);
      assert.equal((await client.login('alice', PASSWORDS.alice)).status, 200);
      const refused = await client.request('POST', '/auth/password', { json: { currentPassword: PASSWORDS.alice, newPassword: BREACHED } });
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.body.error.code, 'password_rejected');
      const [event] = server.eventsOf('authn_password_change_fail');
      assert.equal(event?.event.reason, 'breached');
      assert.ok(!server.rawLog().includes(BREACHED), 'the password is never logged');
      // A strong password the service does not know goes through.
      const changed = await client.request('POST', '/auth/password', { json: { currentPassword: PASSWORDS.alice, newPassword: 'vellum orbit cactus 4417 tundra' } });
      assert.equal(changed.status, 200, changed.text);
    } finally {
      await server.close();
    }
  });
});
