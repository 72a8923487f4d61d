import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigurationError } from '../../src/errors.js';
import { clientAddress } from '../../src/http/client-address.js';
import type { TrustProxy } from '../../src/http/client-address.js';
import { startTestServer, type TestServer } from '../support/http-server.js';

/**
 * The client address over HTTP, through the whole stack (events and access records): X-Forwarded-For is read from
 * the right, past the trusted proxies only. The test server's peer is 127.0.0.1, which plays the nearest proxy.
 */

interface Seen {
  /** source.ip of the security event the request produced (a failed login). */
  event: string | undefined;
  /** source.ip of its access record. */
  access: string | undefined;
  /** Every event action of the request. */
  actions: string[];
}

async function login(server: TestServer, forwardedFor: string | undefined, requestId: string): Promise<Seen> {
  const headers: Record<string, string> = { 'x-request-id': requestId };
  if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor;
  const res = await server.client().request('POST', '/auth/login', { json: { username: `nobody-${requestId}`, password: 'guess' }, headers });
  assert.equal(res.status, 401);
  const events = server.events.filter((e) => e.http?.request?.id === requestId);
  const access = server.records.find((r) => (r.event as { dataset?: string } | undefined)?.dataset === 'sentinel.access' && (r.http as { request?: { id?: string } }).request?.id === requestId);
  return {
    event: events.find((e) => e.event.action === 'authn_login_fail')?.source?.ip,
    access: (access?.source as { ip?: string } | undefined)?.ip,
    // Throttling events are the login throttle's business (127.0.0.1 fails often here), not the address's.
    actions: events.filter((e) => !e.event.action.startsWith('authn_login_lock') && e.event.action !== 'authn_login_fail_max').map((e) => `${e.event.action}:${e.event.reason ?? ''}`),
  };
}

function useServer(trustProxy: TrustProxy): () => TestServer {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ trustProxy: trustProxy as boolean });
  });
  after(() => server.close());
  return () => server;
}

/** One request per case; both the event and the access record must name `expected`. */
async function expectAddress(server: TestServer, forwardedFor: string | undefined, expected: string, label: string): Promise<Seen> {
  const seen = await login(server, forwardedFor, `xff-${label}`);
  assert.equal(seen.event, expected, `${label}: event source.ip`);
  assert.equal(seen.access, expected, `${label}: access record source.ip`);
  return seen;
}

describe('client address with no trusted proxy (default)', () => {
  const server = useServer(false);
  it('is the socket peer whatever X-Forwarded-For says, malformed or not, with no event about it', async () => {
    await expectAddress(server(), '203.0.113.9', '127.0.0.1', 'none-spoof');
    const seen = await expectAddress(server(), 'not-an-ip', '127.0.0.1', 'none-bad');
    assert.deepEqual(seen.actions, ['authn_login_fail:unknown_user']);
  });
});

describe('client address with 1 trusted hop', () => {
  const server = useServer(1);
  it('is the entry the proxy appended (the rightmost), not what the client wrote before it', async () => {
    await expectAddress(server(), '203.0.113.9', '203.0.113.9', 'one-plain');
    await expectAddress(server(), '198.51.100.66, 203.0.113.9', '203.0.113.9', 'one-spoof');
    await expectAddress(server(), '1.1.1.1,2.2.2.2 , 203.0.113.9', '203.0.113.9', 'one-spaces');
    await expectAddress(server(), '2001:db8::7', '2001:db8::7', 'one-v6');
    await expectAddress(server(), undefined, '127.0.0.1', 'one-missing');
  });

  it('uses the socket address and logs input_validation_fail (forwarded_for) when that entry is no IP address', async () => {
    for (const [i, text] of ['not-an-ip', '203.0.113.7:443', '999.1.1.1', '<script>', '10.0.0.1, unknown'].entries()) {
      const seen = await expectAddress(server(), text, '127.0.0.1', `one-bad-${i}`);
      assert.deepEqual(seen.actions.sort(), ['authn_login_fail:unknown_user', 'input_validation_fail:forwarded_for'], text);
    }
    const [event] = server().events.filter((e) => e.http?.request?.id === 'xff-one-bad-0' && e.event.action === 'input_validation_fail');
    assert.equal(event?.sentinel?.forwarded_for, 'not-an-ip');
    assert.equal(event?.source?.ip, '127.0.0.1');
    // A malformed entry left of the one the proxy added is the client's own text and does not matter.
    const seen = await expectAddress(server(), 'garbage, 203.0.113.9', '203.0.113.9', 'one-bad-left');
    assert.deepEqual(seen.actions, ['authn_login_fail:unknown_user']);
  });
});

describe('client address with 2 trusted hops', () => {
  const server = useServer(2);
  it('skips the second proxy: the address the outer proxy saw', async () => {
    // Client → outer proxy (appends the client, 203.0.113.9) → inner proxy (appends the outer, 10.0.0.5) → us.
    await expectAddress(server(), '203.0.113.9, 10.0.0.5', '203.0.113.9', 'two-plain');
    await expectAddress(server(), '198.51.100.66, 203.0.113.9, 10.0.0.5', '203.0.113.9', 'two-spoof');
    // Fewer entries than hops: the leftmost there is, as far as the chain goes.
    await expectAddress(server(), '10.0.0.5', '10.0.0.5', 'two-short');
    await expectAddress(server(), 'not-an-ip, 10.0.0.5', '127.0.0.1', 'two-bad');
  });
});

describe('client address with a list of proxy addresses and CIDR ranges', () => {
  const server = useServer(['127.0.0.1', '10.0.0.0/8']);
  it('walks past every trusted address, and stops at the first untrusted one', async () => {
    await expectAddress(server(), '203.0.113.9', '203.0.113.9', 'cidr-one');
    await expectAddress(server(), '203.0.113.9, 10.1.2.3, 10.200.0.1', '203.0.113.9', 'cidr-chain');
    // 198.51.100.66 is not ours, so whatever it forwarded (the client's claim) is not believed.
    await expectAddress(server(), '203.0.113.9, 198.51.100.66, 10.1.2.3', '198.51.100.66', 'cidr-untrusted');
    const seen = await expectAddress(server(), 'not-an-ip, 10.1.2.3', '127.0.0.1', 'cidr-bad');
    assert.ok(seen.actions.includes('input_validation_fail:forwarded_for'));
  });
});

describe('clientAddress options', () => {
  it('refuses what is neither hops nor addresses, at construction', () => {
    for (const value of [-1, 1.5, 17, [], ['not an address'], ['10.0.0.0/40'], [''], 'x' as unknown as TrustProxy]) {
      assert.throws(() => clientAddress({ trustProxy: value }), ConfigurationError, JSON.stringify(value));
    }
    assert.throws(() => clientAddress({ onMalformed: 'log' as never }), ConfigurationError);
    for (const value of [false, true, 0, 1, 16, ['loopback', '10.0.0.0/8', '::1']] as TrustProxy[]) clientAddress({ trustProxy: value });
  });
});
