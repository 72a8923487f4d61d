import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/http-server.js';

describe('requestContext: the client address behind a trusted proxy', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ trustProxy: true });
  });
  after(() => server.close());

  /** The source.ip of the event a signed-out GET /api/hello produces, sent with this X-Forwarded-For. */
  const sourceOf = async (forwardedFor: string, requestId: string): Promise<string | undefined> => {
    const res = await fetch(`${server.url}/api/hello`, { headers: { 'x-forwarded-for': forwardedFor, 'x-request-id': requestId } });
    assert.equal(res.status, 401);
    const events = server.events.filter((event) => event.http?.request?.id === requestId && event.event.action === 'authn_token_invalid');
    assert.equal(events.length, 1, requestId);
    return events[0]!.source?.ip;
  };

  it('takes an address from X-Forwarded-For', async () => {
    assert.equal(await sourceOf('203.0.113.7', 'xff-v4'), '203.0.113.7');
    assert.equal(await sourceOf('2001:db8::7', 'xff-v6'), '2001:db8::7');
  });

  // Found by the fuzzer (docs/api.md): source.ip is an `ip` field, and Elasticsearch refused every event and access
  // record of a request whose header was not an address, sending them to the dead letters instead of the index.
  it('ignores X-Forwarded-For text that is not an address and keeps the peer address', async () => {
    for (const [i, text] of ["'SfL`S;qF", 'X\\CH', 'unknown', '203.0.113.7:443', '999.1.1.1', '<script>'].entries()) {
      assert.equal(await sourceOf(text, `xff-bad-${i}`), '127.0.0.1', text);
    }
  });
});
