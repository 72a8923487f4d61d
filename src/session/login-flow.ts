import type { ErrorCode } from '../errors.js';
import { SentinelError } from '../errors.js';
import type { EventAction } from '../events/catalogue.js';
import type { SecurityEventInput } from '../events/security-event.js';
import type { DeviceCookies } from './device-cookies.js';
import type { LoginThrottle, ThrottleVerdict } from './login-throttle.js';
import { DEFAULT_SCRYPT, MAX_PASSWORD_LENGTH, hashPassword, parsePasswordHash, verifyPassword, type ParsedHash, type ScryptParams } from './passwords.js';
import type { IssuedSession, PreparedSession, SessionIssuer } from './session-issuer.js';
import { tokenCreatedEvent } from './session-issuer.js';
import { TokenTooLargeError } from './tokens.js';
import type { ReportEvent } from './types.js';
import { createDummyHash, normalizeUsername, type UserDirectory, type UserRecord } from './users.js';

/**
 * One login attempt, from the submitted fields to a started session. Every failure answers the same 401 whatever
 * went wrong, after one real password verification at the same cost (ASVS 6.3.8: no user enumeration by message,
 * status or timing); a throttled attempt is refused before any verification (ASVS 6.3.1). The throttle judges
 * and counts an attempt in one store step, so a parallel burst is judged exactly like a sequential one, in one
 * process or many. An attempt with a valid device cookie for the account is judged in that device's own bucket.
 */

/**
 * Every way a login can fail: the event it is reported as, and what the client gets. The event's and the error's
 * reason is the key, except for `throttled`, where it is the throttle scope that refused (device,
 * account_source, account or source).
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
  // The password is right but the user's tokens would exceed maxTokenBytes (hundreds of roles, say): no session
  // is created. The client sees the same 401 as for a wrong password, so the answer never confirms a password; the
  // event tells the operator (sentinel.token: type, bytes, limit). Directories that load users refuse such records.
  token_too_large: { action: 'authn_login_fail', status: 401, code: 'login_failed' },
  // A throttle scope is delaying this account, source or device; the error carries Retry-After.
  throttled: { action: 'excess_rate_limit_exceeded', status: 429, code: 'too_many_requests' },
} as const satisfies Record<string, { action: EventAction; status: number; code: ErrorCode }>;

export type LoginFailureReason = keyof typeof LOGIN_FAILURES;

/** Password hashing, replaceable for tests; the default is scrypt. */
export interface PasswordVerifier {
  verify(password: string, hash: ParsedHash): Promise<boolean>;
  /** A hash of a random password at these parameters, verified when the user is unknown. */
  dummy(params?: ScryptParams): Promise<ParsedHash>;
  /** A new hash of `password` at these parameters (a rehash after a successful login). */
  hash(password: string, params: ScryptParams): Promise<string>;
}

export interface LoginFlowOptions {
  users: Pick<UserDirectory, 'find' | 'updatePasswordHash'>;
  throttle: LoginThrottle;
  sessions: Pick<SessionIssuer, 'prepare'>;
  devices: Pick<DeviceCookies, 'recognise' | 'issue'>;
  /**
   * The scrypt cost passwords should have (default DEFAULT_SCRYPT): a hash below it is replaced at the user's
   * next successful login when the directory has `updatePasswordHash` (ASVS 11.4.2). Also the cost of the dummy
   * hash until the first real user is seen; then that user's cost is used.
   */
  passwordParams?: ScryptParams;
  passwords?: PasswordVerifier;
  /** Clock, for tests. */
  now?: () => number;
}

export interface LoginAttempt {
  /** The parsed request body, as received. */
  body: unknown;
  /** The client address the throttle counts by. */
  source: string;
  /** The request's Cookie header: a device cookie in it may place the attempt in that device's bucket. */
  cookieHeader?: string;
}

export interface LoginSuccess {
  user: UserRecord;
  session: IssuedSession;
  /** Failures this account had from this source (or this device) before this success. */
  priorFailures: number;
  /** Set-Cookie value of the device cookie this login leaves (a new one on every success). */
  deviceCookie: string;
}

export interface LoginFlow {
  /** Resolves with the new session, or rejects with a SentinelError from LOGIN_FAILURES; events go to `report`. */
  login(attempt: LoginAttempt, report: ReportEvent): Promise<LoginSuccess>;
}

const SCRYPT: PasswordVerifier = { verify: verifyPassword, dummy: createDummyHash, hash: hashPassword };

export function createLoginFlow(options: LoginFlowOptions): LoginFlow {
  const { users, throttle, sessions, devices } = options;
  const passwords = options.passwords ?? SCRYPT;
  const now = options.now ?? Date.now;
  const target = options.passwordParams ?? DEFAULT_SCRYPT;
  let dummyParams = options.passwordParams;
  let dummy = passwords.dummy(dummyParams);
  // Awaited on the first unknown user; until then a failure to hash must not surface as an unhandled rejection.
  dummy.catch(() => undefined);

  /** Replaces a hash below the target cost; a failure never fails the login, the event says how it went. */
  async function rehash(user: UserRecord, parsed: ParsedHash, password: string): Promise<Record<string, unknown>> {
    if (!users.updatePasswordHash || !weaker(parsed.params, target)) return {};
    try {
      const replaced = await users.updatePasswordHash(user.name, user.passwordHash, await passwords.hash(password, target));
      return { password_rehash: replaced ? 'done' : 'skipped' };
    } catch {
      return { password_rehash: 'failed' };
    }
  }

  async function attempt(username: string | undefined, password: string | undefined, fields: Record<string, unknown>, { source, cookieHeader }: LoginAttempt, report: ReportEvent): Promise<LoginSuccess> {
    const named = { name: username };
    // The user is looked up first only when a device cookie may name a bucket: a plain throttled attempt stays cheap.
    let user = username !== undefined && cookieHeader ? await users.find(username) : undefined;
    const device = user ? devices.recognise(cookieHeader, user.id) : undefined;
    const decision = await throttle.attempt({ account: username, source, device });
    if (!decision.allowed) {
      const { verdict } = decision;
      throw fail(report, 'throttled', { user: named, sentinel: throttleFields(verdict) }, verdict.scope, {
        'Retry-After': String(Math.max(1, Math.ceil(verdict.retryAfterMs / 1000))),
      });
    }

    try {
      if (username !== undefined && !cookieHeader) user = await users.find(username);
      const parsed = user ? parsePasswordHash(user.passwordHash) : undefined;
      // Always one real verification, with the same cost, whatever is wrong (ASVS 6.3.8).
      const matches = await passwords.verify(password ?? '\u0000', parsed ?? (await dummy));
      if (parsed && !sameParams(parsed.params, dummyParams)) {
        dummyParams = parsed.params;
        dummy = passwords.dummy(parsed.params);
        dummy.catch(() => undefined);
      }

      let reason: LoginFailureReason | undefined = username === undefined || password === undefined
        ? 'malformed'
        : !user || !parsed
          ? 'unknown_user'
          : !matches
            ? 'bad_password'
            : user.disabled
              ? 'disabled'
              : undefined;
      // The credentials are issued before anything is stored or the throttle is told of a success, so a session that
      // cannot be issued is an ordinary refused attempt and leaves no session behind.
      let prepared: PreparedSession | undefined;
      let tooLarge: TokenTooLargeError | undefined;
      if (reason === undefined) {
        try {
          prepared = sessions.prepare(user!, now());
        } catch (error) {
          if (!(error instanceof TokenTooLargeError)) throw error;
          tooLarge = error;
          reason = 'token_too_large';
        }
      }
      if (reason !== undefined) {
        const { locked, maxed } = decision.ticket.fail();
        const error = fail(report, reason, {
          user: { name: username, id: reason === 'unknown_user' || reason === 'malformed' ? undefined : user?.id },
          sentinel: reason === 'malformed'
            ? { input: describeShape(fields) }
            : tooLarge
              ? { token: { type: tooLarge.tokenType, bytes: tooLarge.tokenBytes, max_bytes: tooLarge.maxTokenBytes } }
              : undefined,
        });
        for (const lock of locked) report('authn_login_lock', { reason: lock.scope, user: named, http: { statusCode: 401 }, sentinel: throttleFields(lock) });
        for (const max of maxed) report('authn_login_fail_max', { reason: max.scope, user: named, http: { statusCode: 401 }, sentinel: throttleFields(max) });
        throw error;
      }

      const known = user!;
      const priorFailures = await decision.ticket.succeed();
      const rehashed = await rehash(known, parsed!, password!);
      const session = await prepared!.commit();
      const subject = { name: known.name, id: known.id, roles: known.roles };
      report('authn_token_created', tokenCreatedEvent(session, known));
      report(priorFailures > 0 ? 'authn_login_successafterfail' : 'authn_login_success', {
        user: subject, http: { statusCode: 200 },
        sentinel: { session_id: session.family.id, token_id: session.access.claims.jti, prior_failures: priorFailures, known_device: device !== undefined, ...rehashed },
      });
      report('session_created', { user: subject, http: { statusCode: 200 }, sentinel: { session_id: session.family.id } });
      return { user: known, session, priorFailures, deviceCookie: devices.issue(known.id) };
    } finally {
      decision.ticket.end();
    }
  }

  return {
    async login(request, report) {
      const fields = typeof request.body === 'object' && request.body !== null ? (request.body as Record<string, unknown>) : {};
      const username = normalizeUsername(fields.username);
      const password = typeof fields.password === 'string' && fields.password.length > 0 && fields.password.length <= MAX_PASSWORD_LENGTH
        ? fields.password
        : undefined;
      return attempt(username, password, fields, request, report);
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

/** A hash costs less than the target when any of its parameters is lower (ASVS 11.4.2, Appendix C). */
function weaker(params: ScryptParams, target: ScryptParams): boolean {
  return params.ln < target.ln || params.r < target.r || params.p < target.p;
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
