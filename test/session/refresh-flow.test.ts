import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { SentinelError } from '../../src/errors.js';
import type { EventAction } from '../../src/events/catalogue.js';
import type { SecurityEventInput } from '../../src/events/security-event.js';
import { createRefreshFlow, type RefreshOutcome } from '../../src/session/refresh-flow.js';
import type { IssuedSession, SessionIssuer } from '../../src/session/session-issuer.js';
import { createMemoryStore, type SessionFamily, type SessionStore } from '../../src/session/store.js';
import type { TokenClaims, TokenService } from '../../src/session/tokens.js';
import { createMemoryUserDirectory, type UserRecord } from '../../src/session/users.js';

/**
 * The refresh flow with a fake token service (a token is the name of its claims), the memory store on node:test's
 * fake clock, and a session issuer that records what it renews.
 */

const SECOND = 1_000;
const GRACE = 5 * SECOND;
const IDLE = 60 * SECOND;
const ABSOLUTE = 10 * IDLE;

interface Reported { action: EventAction; input: SecurityEventInput }

describe('createRefreshFlow', () => {
  let store: SessionStore;
  let users: UserRecord[];
  let tokens: Map<string, { claims: TokenClaims; expired: boolean }>;
  let renewed: Array<{ family: SessionFamily; at: number }>;
  let events: Reported[];
  const report = (action: EventAction, input: SecurityEventInput = {}): void => {
    events.push({ action, input });
  };
  const fakeTokens: Pick<TokenService, 'verifyAllowingExpiry'> = {
    verifyAllowingExpiry(token) {
      const known = tokens.get(token);
      if (!known) throw new SentinelError('token_invalid', { reason: 'bad_signature' });
      return known;
    },
  };
  const sessions: Pick<SessionIssuer, 'renew'> = {
    renew(family, _user, at) {
      renewed.push({ family, at });
      return { family, access: { claims: { jti: `access-${renewed.length}` } }, refresh: { claims: { jti: family.currentJti } } } as IssuedSession;
    },
  };
  const flow = () => createRefreshFlow({ tokens: fakeTokens, store, users: createMemoryUserDirectory(users), sessions, refreshTtlMs: IDLE, refreshGraceMs: GRACE, now: () => Date.now() });

  /** A live family for alice and a refresh token (by name) for its current jti. */
  async function session(jti = 'jti-0'): Promise<string> {
    const t = Date.now();
    await store.createFamily({ id: 'fam-1', userId: 'u_alice', userName: 'alice', roles: ['user'], createdAt: t, lastRotatedAt: t, currentJti: jti, previousJti: null, revoked: false, absoluteExpiresAt: t + ABSOLUTE });
    return token(jti);
  }
  function token(jti: string, expired = false): string {
    tokens.set(jti, { claims: { sid: 'fam-1', jti, sub: 'u_alice' } as TokenClaims, expired });
    return jti;
  }
  const present = (value: string | undefined, duplicate = false) => ({ value, duplicate });
  const refused = (outcome: RefreshOutcome): { code: string; reason: string | undefined; clear: boolean } => {
    assert.ok(!outcome.ok, 'the refresh succeeded');
    return { code: outcome.error.code, reason: outcome.error.reason, clear: outcome.clearCookies };
  };
  const actions = (): string[] => events.map((e) => `${e.action}:${e.input.reason ?? ''}`);

  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    store = createMemoryStore({ now: () => Date.now() });
    users = [{ id: 'u_alice', name: 'alice', roles: ['user'], passwordHash: 'unused' }];
    tokens = new Map();
    renewed = [];
    events = [];
  });
  afterEach(async () => {
    mock.timers.reset();
    await store.close();
  });

  it('refuses a missing, duplicated or unverifiable cookie without touching the store or the cookies', async () => {
    const refresh = flow();
    assert.deepEqual(refused(await refresh.refresh(present(undefined), report)), { code: 'token_invalid', reason: 'missing', clear: false });
    assert.deepEqual(refused(await refresh.refresh(present('x', true), report)), { code: 'token_invalid', reason: 'duplicate_cookie', clear: false });
    assert.deepEqual(refused(await refresh.refresh(present('forged'), report)), { code: 'token_invalid', reason: 'bad_signature', clear: false });
    assert.deepEqual(actions(), ['authn_token_invalid:missing', 'authn_token_invalid:duplicate_cookie', 'authn_token_invalid:bad_signature']);
    assert.ok(events.every((e) => e.input.sentinel?.token_type === 'refresh'));
  });

  it('rotates a current token, renewing at the clock time, and reports created and renewed', async () => {
    const presented = await session();
    mock.timers.tick(10 * SECOND);
    const outcome = await flow().refresh(present(presented), report);
    assert.ok(outcome.ok);
    assert.equal(outcome.user.id, 'u_alice');
    assert.equal(renewed.length, 1);
    assert.equal(renewed[0]!.at, Date.now());
    assert.equal(renewed[0]!.family.previousJti, 'jti-0');
    assert.notEqual(renewed[0]!.family.currentJti, 'jti-0');
    assert.deepEqual(actions(), ['authn_token_created:', 'session_renewed:']);
    assert.equal(events[1]!.input.sentinel?.token_id, 'access-1');
  });

  it('answers a replay within the grace window with refresh_conflict, and after it with reuse that revokes the family', async () => {
    const presented = await session();
    const refresh = flow();
    assert.ok((await refresh.refresh(present(presented), report)).ok);
    mock.timers.tick(GRACE);
    assert.deepEqual(refused(await refresh.refresh(present(presented), report)), { code: 'refresh_conflict', reason: 'grace', clear: false });
    mock.timers.tick(1);
    assert.deepEqual(refused(await refresh.refresh(present(presented), report)), { code: 'token_invalid', reason: 'reuse', clear: true });
    assert.deepEqual(actions().slice(2), ['refresh_conflict:', 'authn_token_reuse:rotated', 'authn_token_revoked:reuse']);
    // The family is gone for its current token too.
    const current = token(renewed[0]!.family.currentJti);
    assert.deepEqual(refused(await refresh.refresh(present(current), report)), { code: 'token_invalid', reason: 'revoked', clear: true });
    assert.deepEqual(actions().slice(5), ['authn_token_reuse:revoked']);
  });

  it('ends a session left idle past refreshTtlMs, by the clock, and clears the cookies', async () => {
    const presented = await session();
    mock.timers.tick(IDLE);
    assert.deepEqual(refused(await flow().refresh(present(presented), report)), { code: 'token_expired', reason: 'idle', clear: true });
    assert.deepEqual(actions(), ['session_expired:idle']);
  });

  it('ends the session of an authentic but expired token for good, telling idle from absolute', async () => {
    await session();
    const expired = token('jti-0', true);
    assert.deepEqual(refused(await flow().refresh(present(expired), report)), { code: 'token_expired', reason: 'idle', clear: true });
    assert.equal(await store.isSessionActive('fam-1', 'u_alice', 0), false, 'revoked');
    assert.deepEqual(events[0]!.input.user, { name: 'alice', id: 'u_alice' });

    // A family rotated so late that its absolute limit comes before the idle one.
    store = createMemoryStore({ now: () => Date.now() });
    const t = Date.now();
    await store.createFamily({ id: 'fam-1', userId: 'u_alice', userName: 'alice', roles: [], createdAt: t - ABSOLUTE, lastRotatedAt: t - IDLE / 2, currentJti: 'jti-0', previousJti: null, revoked: false, absoluteExpiresAt: t });
    assert.equal(refused(await flow().refresh(present(expired), report)).reason, 'absolute');
  });

  it('revokes the session of a user who is disabled, gone, or replaced by another id', async () => {
    for (const change of [(u: UserRecord) => ({ ...u, disabled: true }), () => undefined, (u: UserRecord) => ({ ...u, id: 'u_other' })]) {
      await store.close();
      store = createMemoryStore({ now: () => Date.now() });
      const presented = await session();
      users = [change(users[0]!) ?? { ...users[0]!, name: 'someone else' }];
      events = [];
      assert.deepEqual(refused(await flow().refresh(present(presented), report)), { code: 'token_invalid', reason: 'user_disabled', clear: true });
      assert.deepEqual(actions(), ['authn_token_revoked:user_disabled', 'authn_token_invalid:user_disabled']);
      assert.equal(await store.isSessionActive('fam-1', 'u_alice', 0), false);
      users = [{ id: 'u_alice', name: 'alice', roles: ['user'], passwordHash: 'unused' }];
    }
    assert.equal(renewed.length, 0);
  });

  it('lets a store failure through for the route to answer 503', async () => {
    const presented = await session();
    const broken = { ...store, rotateFamily: () => Promise.reject(new Error('store down')) };
    const refresh = createRefreshFlow({ tokens: fakeTokens, store: broken, users: createMemoryUserDirectory(users), sessions, refreshTtlMs: IDLE, refreshGraceMs: GRACE });
    await assert.rejects(refresh.refresh(present(presented), report), /store down/);
  });
});
