import type { ErrorCode } from '../errors.js';
import { SentinelError } from '../errors.js';
import type { EventAction } from '../events/catalogue.js';
import type { SecurityEventInput } from '../events/security-event.js';
import { QueueFull, createKeyedMutex } from './keyed-mutex.js';
import type { LoginThrottle, ThrottleVerdict } from './login-throttle.js';
import { MAX_PASSWORD_LENGTH, parsePasswordHash, verifyPassword, type ParsedHash, type ScryptParams } from './passwords.js';
import type { IssuedSession, SessionIssuer } from './session-issuer.js';
import { tokenCreatedEvent } from './session-issuer.js';
import type { ReportEvent } from './types.js';
import { createDummyHash, normalizeUsername, type UserDirectory, type UserRecord } from './users.js';

/**
 * One login attempt, from the submitted fields to a started session. Every failure answers the same 401 whatever
 * went wrong, after one real password verification at the same cost (ASVS 6.3.8: no user enumeration by message,
 * status or timing); a throttled attempt is refused before any verification (ASVS 6.3.1), and attempts for one
 * account run one at a time so a parallel burst is judged like a sequential one.
 */

/**
 * Every way a login can fail: the event it is reported as, and what the client gets. The event's and the error's
 * reason is the key, except for `throttled`, where it is the throttle scope that refused (account_source,
 * account or source).
 */
export const LOGIN_FAILURES = {
  // The body lacks a valid username or password. Logged by shape (types and lengths), never by value.
  malformed: { action: 'authn_login_fail', status: 401, code: 'login_failed' },
  // No such user. Still costs a verification, against a dummy hash.
  unknown_user: { action: 'authn_login_fail', status: 401, code: 'login_failed' },
  // The user exists and the password is wrong, or the stored hash is unreadable.
  bad_password: { action: 'authn_login_fail', status: 401, code: 'login_failed' },
  // The password is right but the account is disabled: indistinguishable from a wrong one to the client.
  disabled: { action: 'authn_login_fail', status: 401, code: 'login_failed' },
  // A throttle scope is delaying this account or source; the error carries Retry-After.
  throttled: { action: 'excess_rate_limit_exceeded', status: 429, code: 'too_many_requests' },
  // Too many attempts for this account already wait their turn in this process.
  queue: { action: 'excess_rate_limit_exceeded', status: 429, code: 'too_many_requests' },
} as const satisfies Record<string, { action: EventAction; status: number; code: ErrorCode }>;

export type LoginFailureReason = keyof typeof LOGIN_FAILURES;

/** Password hashing, replaceable for tests; the default is scrypt. */
export interface PasswordVerifier {
  verify(password: string, hash: ParsedHash): Promise<boolean>;
  /** A hash of a random password at these parameters, verified when the user is unknown. */
  dummy(params?: ScryptParams): Promise<ParsedHash>;
}

export interface LoginFlowOptions {
  users: Pick<UserDirectory, 'find'>;
  throttle: LoginThrottle;
  sessions: Pick<SessionIssuer, 'start'>;
  /** Cost of the dummy hash until the first real user is seen; then that user's cost is used. */
  passwordParams?: ScryptParams;
  passwords?: PasswordVerifier;
  /** Attempts for one account that may wait their turn before more are refused. */
  maxQueue: number;
  /** Clock, for tests. */
  now?: () => number;
}

export interface LoginAttempt {
  /** The parsed request body, as received. */
  body: unknown;
  /** The client address the throttle counts by. */
  source: string;
}

export interface LoginSuccess {
  user: UserRecord;
  session: IssuedSession;
  /** Failures this account had from this source before this success. */
  priorFailures: number;
}

export interface LoginFlow {
  /** Resolves with the new session, or rejects with a SentinelError from LOGIN_FAILURES; events go to `report`. */
  login(attempt: LoginAttempt, report: ReportEvent): Promise<LoginSuccess>;
}

const SCRYPT: PasswordVerifier = { verify: verifyPassword, dummy: createDummyHash };

export function createLoginFlow(options: LoginFlowOptions): LoginFlow {
  const { users, throttle, sessions } = options;
  const passwords = options.passwords ?? SCRYPT;
  const now = options.now ?? Date.now;
  const locks = createKeyedMutex(options.maxQueue);
  let dummyParams = options.passwordParams;
  let dummy = passwords.dummy(dummyParams);
  // Awaited on the first unknown user; until then a failure to hash must not surface as an unhandled rejection.
  dummy.catch(() => undefined);

  async function attempt(username: string | undefined, password: string | undefined, fields: Record<string, unknown>, source: string, report: ReportEvent): Promise<LoginSuccess> {
    const named = { name: username };
    const throttled = await throttle.check(username, source);
    if (throttled) {
      throw fail(report, 'throttled', { user: named, sentinel: throttleFields(throttled) }, throttled.scope, {
        'Retry-After': String(Math.max(1, Math.ceil(throttled.retryAfterMs / 1000))),
      });
    }

    const user = username === undefined ? undefined : await users.find(username);
    const parsed = user ? parsePasswordHash(user.passwordHash) : undefined;
    // Always one real verification, with the same cost, whatever is wrong (ASVS 6.3.8).
    const matches = await passwords.verify(password ?? '\u0000', parsed ?? (await dummy));
    if (parsed && !sameParams(parsed.params, dummyParams)) {
      dummyParams = parsed.params;
      dummy = passwords.dummy(parsed.params);
      dummy.catch(() => undefined);
    }

    const reason: LoginFailureReason | undefined = username === undefined || password === undefined
      ? 'malformed'
      : !user || !parsed
        ? 'unknown_user'
        : !matches
          ? 'bad_password'
          : user.disabled
            ? 'disabled'
            : undefined;
    if (reason !== undefined) {
      const started = await throttle.fail(username, source);
      const error = fail(report, reason, {
        user: { name: username, id: reason === 'unknown_user' || reason === 'malformed' ? undefined : user?.id },
        sentinel: reason === 'malformed' ? { input: describeShape(fields) } : undefined,
      });
      for (const lock of started) {
        report('authn_login_lock', { reason: lock.scope, user: named, http: { statusCode: 401 }, sentinel: throttleFields(lock) });
      }
      throw error;
    }

    const known = user!;
    const priorFailures = await throttle.succeed(known.name, source);
    const session = await sessions.start(known, now());
    const subject = { name: known.name, id: known.id, roles: known.roles };
    report('authn_token_created', tokenCreatedEvent(session, known));
    report(priorFailures > 0 ? 'authn_login_successafterfail' : 'authn_login_success', {
      user: subject, http: { statusCode: 200 },
      sentinel: { session_id: session.family.id, token_id: session.access.claims.jti, prior_failures: priorFailures },
    });
    report('session_created', { user: subject, http: { statusCode: 200 }, sentinel: { session_id: session.family.id } });
    return { user: known, session, priorFailures };
  }

  return {
    async login({ body, source }, report) {
      const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
      const username = normalizeUsername(fields.username);
      const password = typeof fields.password === 'string' && fields.password.length > 0 && fields.password.length <= MAX_PASSWORD_LENGTH
        ? fields.password
        : undefined;
      try {
        // One attempt per account at a time in this process: parallel guesses cannot all pass the throttle together.
        return await locks.run(username ?? `\u0000${source}`, () => attempt(username, password, fields, source, report));
      } catch (error) {
        if (!(error instanceof QueueFull)) throw error;
        throw fail(report, 'queue', { user: { name: username } }, 'queue', { 'Retry-After': '1' });
      }
    },
  };
}

/** Reports a failure as its LOGIN_FAILURES entry says and returns the error to throw. */
function fail(report: ReportEvent, reason: LoginFailureReason, input: SecurityEventInput, detail: string = reason, headers?: Record<string, string>): SentinelError {
  const entry = LOGIN_FAILURES[reason];
  report(entry.action, { ...input, reason: detail, http: { statusCode: entry.status } });
  return new SentinelError(entry.code, { reason: detail, headers });
}

function throttleFields(verdict: ThrottleVerdict): Record<string, unknown> {
  return { throttle: { scope: verdict.scope, failures: verdict.failures, retry_after_ms: verdict.retryAfterMs } };
}

function sameParams(a: ScryptParams, b: ScryptParams | undefined): boolean {
  return b !== undefined && a.ln === b.ln && a.r === b.r && a.p === b.p;
}

/** What a malformed login body looked like, without its values: types and lengths only. */
function describeShape(fields: Record<string, unknown>): Record<string, string> {
  const shape: Record<string, string> = {};
  for (const name of ['username', 'password']) {
    const value = fields[name];
    shape[name] = typeof value === 'string' ? `string(${value.length})` : value === null ? 'null' : typeof value;
  }
  return shape;
}
