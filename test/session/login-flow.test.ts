import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { ERROR_CODES, SentinelError } from '../../src/errors.js';
import type { EventAction } from '../../src/events/catalogue.js';
import type { SecurityEventInput } from '../../src/events/security-event.js';
import { LOGIN_FAILURES, createLoginFlow, type LoginFailureReason, type PasswordVerifier } from '../../src/session/login-flow.js';
import { createLoginThrottle, type ThrottlePolicy, type ThrottleScope } from '../../src/session/login-throttle.js';
import type { DeviceCookies } from '../../src/session/device-cookies.js';
import { hashPassword, verifyPassword, type ParsedHash, type ScryptParams } from '../../src/session/passwords.js';
import type { IssuedSession, SessionIssuer } from '../../src/session/session-issuer.js';
import { TokenTooLargeError } from '../../src/session/tokens.js';
import { createMemoryStore, type SessionStore } from '../../src/session/store.js';
import type { SessionSubject } from '../../src/session/types.js';
import { createDummyHash, createMemoryUserDirectory, type UserDirectory, type UserRecord } from '../../src/session/users.js';

/**
 * The login flow with fakes: a password verifier that records what it verifies (and can be held mid-way), a
 * session issuer that records what it starts, and the real throttle over a memory store on node:test's fake clock.
 */

const PARAMS = { ln: 10, r: 8, p: 1 };
const SECOND = 1_000;
const FAR = { freeAttempts: 1_000, baseDelayMs: SECOND, maxDelayMs: SECOND, windowMs: 60 * SECOND };
/** Delays alice from one source after her first failure: 1 s, then 2 s ... */
const STRICT: Record<ThrottleScope, ThrottlePolicy> = {
  device: FAR,
  account_source: { freeAttempts: 0, baseDelayMs: SECOND, maxDelayMs: 60 * SECOND, windowMs: 60 * SECOND },
  account: FAR,
  source: FAR,
};
const LENIENT: Record<ThrottleScope, ThrottlePolicy> = { device: FAR, account_source: FAR, account: FAR, source: FAR };

/** A PHC string the flow parses; the fake verifier treats its hash bytes as the password itself. */
const phc = (password: string): string => `$scrypt$ln=${PARAMS.ln},r=${PARAMS.r},p=${PARAMS.p}$c2FsdHNhbHRzYWx0$${Buffer.from(password).toString('base64').replace(/=+$/, '')}`;
const USERS: UserRecord[] = [
  { id: 'u_alice', name: 'alice', roles: ['user'], passwordHash: phc('alice password') },
  { id: 'u_bob', name: 'bob', roles: ['user'], passwordHash: phc('bob password'), disabled: true },
  { id: 'u_carol', name: 'carol', roles: ['user'], passwordHash: phc('carol password') },
];
/** Too many roles for a token (the fake issuer below refuses him as the real one would). */
const DAVE: UserRecord = { id: 'u_dave', name: 'dave', roles: Array.from({ length: 200 }, (_, i) => `role-${i}`), passwordHash: phc('dave password') };
const DUMMY: ParsedHash = { params: PARAMS, salt: Buffer.from('dummy salt'), hash: Buffer.from('never a password') };

interface Reported { action: EventAction; input: SecurityEventInput }

class FakePasswords implements PasswordVerifier {
  readonly verified: Array<{ password: string; hash: ParsedHash }> = [];
  readonly dummies: unknown[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private held: Array<() => void> | undefined;

  async verify(password: string, hash: ParsedHash): Promise<boolean> {
    this.verified.push({ password, hash });
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (this.held) await new Promise<void>((resolve) => this.held!.push(resolve));
    this.inFlight -= 1;
    return Buffer.from(password).equals(hash.hash);
  }

  readonly hashed: Array<{ password: string; params: unknown }> = [];

  async hash(password: string, params: unknown): Promise<string> {
    this.hashed.push({ password, params });
    return `rehashed:${password}`;
  }

  async dummy(params?: unknown): Promise<ParsedHash> {
    this.dummies.push(params);
    return DUMMY;
  }

  /** From now on verifications wait for release(). */
  hold(): void {
    this.held = [];
  }

  release(): void {
    const waiting = this.held ?? [];
    this.held = undefined;
    for (const resolve of waiting) resolve();
  }
}

/** Lets every pending promise callback and I/O callback run (setImmediate is not faked here). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
};

describe('createLoginFlow', () => {
  let store: SessionStore;
  let passwords: FakePasswords;
  let started: Array<{ user: SessionSubject; at: number }>;
  let events: Reported[];
  const report = (action: EventAction, input: SecurityEventInput = {}): void => {
    events.push({ action, input });
  };
  /** Records what it stores at commit(); a user named dave has too many roles for a token. */
  const sessions: Pick<SessionIssuer, 'prepare'> = {
    prepare(user, at) {
      if (user.name === 'dave') throw new TokenTooLargeError('access', 6180, 4096);
      return {
        async commit() {
          started.push({ user, at });
          const id = `session-${started.length}`;
          return { family: { id, absoluteExpiresAt: at + 60_000 }, access: { claims: { jti: `access-${id}` } }, refresh: { claims: { jti: `refresh-${id}` } } } as IssuedSession;
        },
      };
    },
  };

  /** Device cookies: `device-<n>` for user u_x is `u_x:device-<n>`; anything else is not recognised. */
  const devices: Pick<DeviceCookies, 'recognise' | 'issue'> = {
    recognise(header, userId) {
      const [owner, id] = /(?:^|; )device=([^;]+)/.exec(header ?? '')?.[1]?.split(':') ?? [];
      return owner === userId ? id : undefined;
    },
    issue: (userId) => `device=${userId}:device-${started.length}`,
  };

  function flow(policies: Record<ThrottleScope, ThrottlePolicy> = LENIENT): ReturnType<typeof createLoginFlow> {
    const throttle = createLoginThrottle({ store, policies, now: () => Date.now() });
    // A directory of our own: the memory directory refuses a user with dave's roles when it is built.
    const byName = new Map([...USERS, DAVE].map((user) => [user.name, user]));
    return createLoginFlow({ users: { find: async (name) => byName.get(name) }, throttle, sessions, devices, passwordParams: PARAMS, passwords, now: () => Date.now() });
  }

  const attempt = (username: unknown, password: unknown, source = '203.0.113.5') => ({ body: { username, password }, source });

  /** The flow's error for an attempt that must fail. */
  async function refused(promise: Promise<unknown>): Promise<SentinelError> {
    const error = await promise.then(() => assert.fail('the login succeeded'), (caught: unknown) => caught);
    assert.ok(error instanceof SentinelError, String(error));
    return error;
  }

  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    store = createMemoryStore({ now: () => Date.now() });
    passwords = new FakePasswords();
    started = [];
    events = [];
  });
  afterEach(async () => {
    mock.timers.reset();
    await store.close();
  });

  it('has one table entry per failure reason, each with the status its error code carries', () => {
    assert.deepEqual(Object.keys(LOGIN_FAILURES).sort(), ['bad_password', 'disabled', 'malformed', 'throttled', 'token_too_large', 'unknown_user']);
    for (const [reason, entry] of Object.entries(LOGIN_FAILURES)) {
      assert.equal(entry.status, ERROR_CODES[entry.code].status, reason);
    }
    const clientVisible = new Set(Object.values(LOGIN_FAILURES).filter((entry) => entry.status === 401).map((entry) => entry.code));
    assert.deepEqual([...clientVisible], ['login_failed'], 'every 401 looks the same to the client (ASVS 6.3.8)');
  });

  it('verifies an unknown user against the dummy hash, exactly once, and reports unknown_user', async () => {
    const login = flow();
    const error = await refused(login.login(attempt('nobody', 'some password'), report));
    assert.equal(error.code, 'login_failed');
    assert.equal(error.reason, 'unknown_user');
    assert.deepEqual(passwords.verified, [{ password: 'some password', hash: DUMMY }]);
    assert.deepEqual(passwords.dummies, [PARAMS], 'the dummy is made once, at the configured cost');
    assert.deepEqual(events.map((e) => [e.action, e.input.reason]), [['authn_login_fail', 'unknown_user']]);
    assert.equal(events[0]!.input.user?.id, undefined);
    assert.deepEqual(started, []);
  });

  it('verifies a malformed body against the dummy hash too, and logs its shape, never its values', async () => {
    const login = flow();
    const error = await refused(login.login({ body: { username: 'a\u0000b', password: ['secret value'] }, source: '203.0.113.5' }, report));
    assert.equal(error.reason, 'malformed');
    assert.equal(passwords.verified.length, 1);
    assert.equal(passwords.verified[0]!.hash, DUMMY);
    assert.deepEqual(events[0]!.input.sentinel, { input: { username: 'string(3)', password: 'object' } });
    assert.ok(!JSON.stringify(events).includes('secret value'));
  });

  it('maps every failure reason to its event, status and error code', async () => {
    const seen = new Map<LoginFailureReason, { action: EventAction; status: number | undefined; code: string }>();
    const record = (reason: LoginFailureReason, error: SentinelError): void => {
      const event = events.at(-1)!;
      seen.set(reason, { action: event.action, status: event.input.http?.statusCode, code: error.code });
      assert.equal(error.status, LOGIN_FAILURES[reason].status, reason);
    };

    let login = flow();
    record('malformed', await refused(login.login(attempt('alice', ''), report)));
    record('unknown_user', await refused(login.login(attempt('nobody', 'x'), report)));
    record('bad_password', await refused(login.login(attempt('alice', 'wrong'), report)));
    record('disabled', await refused(login.login(attempt('bob', 'bob password'), report)));
    record('token_too_large', await refused(login.login(attempt('dave', 'dave password'), report)));

    login = flow(STRICT);
    await refused(login.login(attempt('carol', 'wrong', '198.51.100.1'), report));
    const throttled = await refused(login.login(attempt('carol', 'wrong', '198.51.100.1'), report));
    assert.equal(throttled.reason, 'account_source', 'a throttled attempt names the scope that refused it');
    assert.equal(throttled.headers['Retry-After'], '1');
    record('throttled', throttled);

    for (const [reason, entry] of Object.entries(LOGIN_FAILURES)) {
      assert.deepEqual(seen.get(reason as LoginFailureReason), { action: entry.action, status: entry.status, code: entry.code }, reason);
    }
  });

  it('refuses a user whose tokens would be too large like a wrong password: counted, reported with the sizes, nothing stored', async () => {
    const login = flow(STRICT);
    const error = await refused(login.login(attempt('dave', 'dave password'), report));
    assert.equal(error.code, 'login_failed');
    assert.equal(error.status, 401);
    assert.equal(error.reason, 'token_too_large');
    assert.deepEqual(started, [], 'no session was stored');
    assert.deepEqual(events.map((e) => [e.action, e.input.reason]), [['authn_login_fail', 'token_too_large'], ['authn_login_lock', 'account_source']]);
    assert.deepEqual(events[0]!.input.user, { name: 'dave', id: 'u_dave' });
    assert.deepEqual(events[0]!.input.sentinel, { token: { type: 'access', bytes: 6180, max_bytes: 4096 } });
    const again = await refused(login.login(attempt('dave', 'dave password'), report));
    assert.equal(again.reason, 'account_source', 'the attempt stayed counted, as a wrong password does');
  });

  it('refuses a throttled attempt without verifying any password, even the right one', async () => {
    const login = flow(STRICT);
    await refused(login.login(attempt('alice', 'wrong'), report));
    assert.equal(passwords.verified.length, 1);
    assert.deepEqual(events.map((e) => e.action), ['authn_login_fail', 'authn_login_lock']);

    const error = await refused(login.login(attempt('alice', 'alice password'), report));
    assert.equal(error.code, 'too_many_requests');
    assert.equal(passwords.verified.length, 1, 'no verification while throttled');
    assert.deepEqual(started, [], 'no session while throttled');
    assert.deepEqual(events.at(-1)!.input.sentinel, { throttle: { scope: 'account_source', failures: 1, retry_after_ms: SECOND } });
  });

  it('lets the attempt through once the fake clock passes the delay', async () => {
    const login = flow(STRICT);
    await refused(login.login(attempt('alice', 'wrong'), report));
    mock.timers.tick(SECOND - 1);
    const early = await refused(login.login(attempt('alice', 'alice password'), report));
    assert.equal(early.code, 'too_many_requests');
    assert.equal(early.headers['Retry-After'], '1', 'never 0: rounded up to a whole second');

    mock.timers.tick(1);
    const success = await login.login(attempt('alice', 'alice password'), report);
    assert.equal(success.user.id, 'u_alice');
    assert.equal(success.priorFailures, 1);
    assert.deepEqual(started.map((s) => s.at), [SECOND], 'the session starts at the injected clock time');
    assert.deepEqual(events.slice(-3).map((e) => e.action), ['authn_token_created', 'authn_login_successafterfail', 'session_created']);
    assert.equal(events.at(-2)!.input.sentinel?.session_id, 'session-1');
  });

  it('counts concurrent attempts as they start: the second is judged with the first under way, never verified', async () => {
    const login = flow(STRICT);
    passwords.hold();
    const first = refused(login.login(attempt('alice', 'guess 1'), report));
    const second = refused(login.login(attempt('alice', 'guess 2'), report));
    const other = refused(login.login(attempt('carol', 'guess 3'), report));
    await settle();
    assert.equal(passwords.inFlight, 2, 'alice once, and carol alongside');
    assert.equal((await second).code, 'too_many_requests', 'refused while the first is still being verified');
    passwords.release();

    assert.equal((await first).code, 'login_failed');
    assert.equal((await other).code, 'login_failed');
    assert.deepEqual(passwords.verified.map((v) => v.password).sort(), ['guess 1', 'guess 3'], 'the second guess was never verified');
  });

  it('reports parallel successful logins as authn_login_success, not as successes after failures; a real failure still shows', async () => {
    const login = flow();
    passwords.hold();
    const logins = [1, 2, 3].map(() => login.login(attempt('alice', 'alice password'), report));
    await settle();
    passwords.release();
    assert.deepEqual((await Promise.all(logins)).map((l) => l.priorFailures), [0, 0, 0]);
    await refused(login.login(attempt('alice', 'wrong'), report));
    assert.equal((await login.login(attempt('alice', 'alice password'), report)).priorFailures, 1);
    assert.deepEqual(events.filter((e) => e.action.startsWith('authn_login_success')).map((e) => e.action),
      ['authn_login_success', 'authn_login_success', 'authn_login_success', 'authn_login_successafterfail']);
  });

  it('ends an attempt that throws: counted as a failure, no longer under way for the next one', async () => {
    const throttle = createLoginThrottle({ store, policies: LENIENT, now: () => Date.now() });
    let down = true;
    const byName = new Map(USERS.map((user) => [user.name, user]));
    const login = createLoginFlow({
      users: { find: async (name) => { if (down) throw new Error('directory down'); return byName.get(name); } },
      throttle, sessions, devices, passwordParams: PARAMS, passwords, now: () => Date.now(),
    });
    await assert.rejects(login.login(attempt('alice', 'alice password'), report), /directory down/);
    down = false;
    assert.equal((await login.login(attempt('alice', 'alice password'), report)).priorFailures, 1, 'not taken for an attempt under way');
    assert.equal((await login.login(attempt('alice', 'alice password'), report)).priorFailures, 0);
  });

  it('verifies attempts without a valid username in parallel, counted against their source', async () => {
    const login = flow();
    passwords.hold();
    const all = Promise.all([0, 1, 2].map((i) => refused(login.login({ body: {}, source: `192.0.2.${i % 2}` }, report))));
    await settle();
    assert.equal(passwords.inFlight, 3);
    passwords.release();
    await all;
    assert.equal(passwords.verified.length, 3);
  });

  it('judges an attempt with a recognised device cookie in that device\'s bucket only, and issues a new cookie', async () => {
    const login = flow(STRICT);
    // A stranger's failure delays alice's account+source...
    await refused(login.login(attempt('alice', 'guess'), report));
    assert.equal((await refused(login.login(attempt('alice', 'alice password'), report))).reason, 'account_source');
    // ...but not her known device at the same address.
    const known = await login.login({ ...attempt('alice', 'alice password'), cookieHeader: 'device=u_alice:d1' }, report);
    assert.equal(known.deviceCookie, 'device=u_alice:device-1');
    assert.equal(events.findLast((e) => e.action === 'authn_login_success')?.input.sentinel?.known_device, true);
    // Another user's device cookie is nobody's device for alice.
    assert.equal((await refused(login.login({ ...attempt('alice', 'alice password'), cookieHeader: 'device=u_carol:d2' }, report))).reason, 'account_source');
  });

  it('rehashes a password below the configured cost after a successful login, never after a failure', async () => {
    const updates: string[][] = [];
    const users = { ...createMemoryUserDirectory(USERS), updatePasswordHash: async (...args: string[]) => (updates.push(args), true) };
    const target = { ln: 12, r: 8, p: 1 };
    const login = createLoginFlow({ users, throttle: createLoginThrottle({ store, policies: LENIENT }), sessions, devices, passwords, passwordParams: target });
    await refused(login.login(attempt('alice', 'wrong'), report));
    assert.deepEqual(updates, []);
    await login.login(attempt('alice', 'alice password'), report);
    assert.deepEqual(passwords.hashed, [{ password: 'alice password', params: target }]);
    assert.deepEqual(updates, [['alice', USERS[0]!.passwordHash, 'rehashed:alice password']]);
    assert.equal(events.findLast((e) => e.action === 'authn_login_successafterfail')?.input.sentinel?.password_rehash, 'done');
  });

  it('keeps the login when the rehash fails, and says so in the event', async () => {
    const users = { ...createMemoryUserDirectory(USERS), updatePasswordHash: async () => Promise.reject(new Error('disk full')) };
    const login = createLoginFlow({ users, throttle: createLoginThrottle({ store, policies: LENIENT }), sessions, devices, passwords, passwordParams: { ln: 12, r: 8, p: 1 } });
    const success = await login.login(attempt('alice', 'alice password'), report);
    assert.equal(success.user.id, 'u_alice');
    assert.equal(events.findLast((e) => e.action === 'authn_login_success')?.input.sentinel?.password_rehash, 'failed');
  });

  it('leaves a hash at or above the configured cost alone', async () => {
    const updates: unknown[] = [];
    const users = { ...createMemoryUserDirectory(USERS), updatePasswordHash: async (...args: string[]) => (updates.push(args), true) };
    const login = createLoginFlow({ users, throttle: createLoginThrottle({ store, policies: LENIENT }), sessions, devices, passwords, passwordParams: PARAMS });
    await login.login(attempt('alice', 'alice password'), report);
    assert.deepEqual(updates, []);
    assert.equal(events.findLast((e) => e.action === 'authn_login_success')?.input.sentinel?.password_rehash, undefined);
  });

  it('re-makes the dummy hash at the cost of the users it has seen', async () => {
    const login = createLoginFlow({
      users: createMemoryUserDirectory([{ ...USERS[0]!, passwordHash: phc('alice password').replace('ln=10', 'ln=11') }]),
      throttle: createLoginThrottle({ store, policies: LENIENT, now: () => Date.now() }),
      sessions, devices, passwords,
    });
    await refused(login.login(attempt('alice', 'wrong'), report));
    assert.deepEqual(passwords.dummies, [undefined, { ln: 11, r: 8, p: 1 }]);
  });

  it('with real scrypt, an unknown user costs one hash at the configured cost, then at the cost of the users seen, as it changes', async () => {
    /** The cost of every hash verified, in order: what a timing attacker would measure. */
    const verifiedAt: number[] = [];
    const scrypt: PasswordVerifier = {
      verify: (password, hash) => {
        verifiedAt.push(hash.params.ln);
        return verifyPassword(password, hash);
      },
      dummy: createDummyHash,
      hash: hashPassword,
    };
    const at = (ln: number): ScryptParams => ({ ln, r: 8, p: 1 });
    let alice: UserRecord = { id: 'u_alice', name: 'alice', roles: ['user'], passwordHash: await hashPassword('alice password', at(11)) };
    // A directory whose record changes when an administrator re-hashes the password (say, after raising the cost).
    const users: Pick<UserDirectory, 'find'> = { find: async (name) => (name === 'alice' ? alice : undefined) };
    const build = (configured: ScryptParams): ReturnType<typeof createLoginFlow> =>
      createLoginFlow({ users, throttle: createLoginThrottle({ store, policies: LENIENT, now: () => Date.now() }), sessions, devices, passwords: scrypt, passwordParams: configured });

    let login = build(at(10));
    await refused(login.login(attempt('nobody', 'x'), report));
    await refused(login.login(attempt('alice', 'wrong'), report));
    await refused(login.login(attempt('nobody', 'x'), report));
    alice = { ...alice, passwordHash: await hashPassword('alice password', at(12)) };
    await refused(login.login(attempt('alice', 'wrong'), report));
    await refused(login.login(attempt('nobody', 'x'), report));
    assert.deepEqual(verifiedAt, [10, 11, 11, 12, 12], 'configured cost first, then each unknown user at the cost of the latest user seen');

    // A restart with a new configured cost: unknown users are verified at it until a user is seen.
    verifiedAt.length = 0;
    login = build(at(13));
    await refused(login.login(attempt('nobody', 'x'), report));
    await refused(login.login(attempt('alice', 'wrong'), report));
    await refused(login.login(attempt('nobody', 'x'), report));
    assert.deepEqual(verifiedAt, [13, 12, 12]);
    assert.deepEqual(events.filter((e) => e.action === 'authn_login_fail').map((e) => e.input.reason), ['unknown_user', 'bad_password', 'unknown_user', 'bad_password', 'unknown_user', 'unknown_user', 'bad_password', 'unknown_user']);
  });
});
