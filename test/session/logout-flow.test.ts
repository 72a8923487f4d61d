import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { SentinelError } from '../../src/errors.js';
import type { EventAction } from '../../src/events/catalogue.js';
import type { SecurityEventInput } from '../../src/events/security-event.js';
import { createLogoutFlow } from '../../src/session/logout-flow.js';
import { createMemoryStore, type SessionStore } from '../../src/session/store.js';
import type { TokenClaims, TokenService } from '../../src/session/tokens.js';

/** The logout flow with a fake token service and the memory store on node:test's fake clock. */

interface Reported { action: EventAction; input: SecurityEventInput }

describe('createLogoutFlow', () => {
  let store: SessionStore;
  let events: Reported[];
  const report = (action: EventAction, input: SecurityEventInput = {}): void => {
    events.push({ action, input });
  };
  const tokens: Pick<TokenService, 'verifyAllowingExpiry'> = {
    verifyAllowingExpiry(token) {
      if (token !== 'authentic') throw new SentinelError('token_invalid', { reason: 'bad_signature' });
      return { claims: { sid: 'fam-1', sub: 'u_alice' } as TokenClaims, expired: true };
    },
  };
  const flow = () => createLogoutFlow({ tokens, store, now: () => Date.now() });
  const cookie = (value?: string, duplicate = false) => ({ value, duplicate });
  const isActive = (id: string, iat = 0) => store.isSessionActive(id, 'u_alice', iat);

  beforeEach(async () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 5_000_500 });
    store = createMemoryStore({ now: () => Date.now() });
    events = [];
    for (const id of ['fam-1', 'fam-2']) {
      await store.createFamily({ id, userId: 'u_alice', userName: 'alice', roles: [], createdAt: 0, lastRotatedAt: 0, currentJti: 'j', previousJti: null, revoked: false, absoluteExpiresAt: 1e12 });
    }
  });
  afterEach(async () => {
    mock.timers.reset();
    await store.close();
  });

  it('revokes the live session, leaving the user to the request context', async () => {
    assert.equal(await flow().logout({ sessionId: 'fam-2', accessCookie: cookie('ignored') }, report), 'fam-2');
    assert.equal(await isActive('fam-2'), false);
    assert.equal(await isActive('fam-1'), true);
    assert.deepEqual(events.map((e) => e.action), ['authn_token_revoked', 'session_logout']);
    assert.ok(events.every((e) => e.input.user === undefined && e.input.sentinel?.session_id === 'fam-2'));
  });

  it('revokes the session of an authentic expired cookie, or one the store could not check, naming its user', async () => {
    for (const code of ['token_expired', 'store_unavailable'] as const) {
      events = [];
      const sessionId = await flow().logout({ authError: new SentinelError(code), accessCookie: cookie('authentic') }, report);
      assert.equal(sessionId, 'fam-1', code);
      assert.deepEqual(events[0]!.input.user, { name: 'alice', id: 'u_alice' });
    }
    assert.equal(await isActive('fam-1'), false);
  });

  it('trusts nothing else: an invalid token, a forged or duplicated cookie, no cookie', async () => {
    const requests = [
      { authError: new SentinelError('token_invalid'), accessCookie: cookie('authentic') },
      { authError: new SentinelError('token_expired'), accessCookie: cookie('forged') },
      { authError: new SentinelError('token_expired'), accessCookie: cookie('authentic', true) },
      { authError: new SentinelError('token_expired'), accessCookie: cookie() },
      { accessCookie: cookie('authentic') },
    ];
    for (const request of requests) assert.equal(await flow().logout(request, report), undefined);
    assert.deepEqual(events, []);
    assert.equal(await isActive('fam-1'), true);
  });

  it('logs out everywhere: every session, and every access token issued up to the clock second', async () => {
    assert.equal(await flow().logoutAll('u_alice', report), 2);
    assert.deepEqual(events.map((e) => [e.action, e.input.reason, e.input.sentinel?.sessions_revoked]), [
      ['authn_token_revoked', 'logout_all', 2],
      ['session_logout', 'logout_all', 2],
    ]);
    const recreated = { id: 'fam-3', userId: 'u_alice', userName: 'alice', roles: [], createdAt: 0, lastRotatedAt: 0, currentJti: 'j', previousJti: null, revoked: false, absoluteExpiresAt: 1e12 };
    await store.createFamily(recreated);
    assert.equal(await isActive('fam-3', 4_999), false, 'issued before the logout second');
    assert.equal(await isActive('fam-3', 5_000), true, 'the not-before time is the clock second, floored');
  });
});
