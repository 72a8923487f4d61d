import type { KeyObject } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import compose from 'koa-compose';
import { ConfigurationError } from '../errors.js';
import type { EventAction } from '../events/catalogue.js';
import type { SecurityEvent, SecurityEventInput } from '../events/security-event.js';
import { createAccessControl } from './access-control.js';
import { createAuthRoutes } from './auth-routes.js';
import { createAuthenticate } from './authenticate.js';
import { createCredentialCheck } from './credential-check.js';
import { createCsrfGuard } from './csrf-guard.js';
import { createCsrfTokens, deriveSecret } from './csrf-tokens.js';
import { createDeviceCookies } from './device-cookies.js';
import type { KeyRing } from './key-ring.js';
import { createLoginFlow } from './login-flow.js';
import { createLoginThrottle, type LoginThrottle, type ThrottlePolicy, type ThrottleScope } from './login-throttle.js';
import { createLogoutFlow } from './logout-flow.js';
import { DEFAULT_SCRYPT, type ScryptParams } from './passwords.js';
import { createPasswordPolicy, type PasswordPolicy, type PasswordPolicyOptions } from './password-policy.js';
import { createRefreshFlow } from './refresh-flow.js';
import { createSessionActivity } from './session-activity.js';
import { createSessionCookies } from './session-cookies.js';
import { createSessionEvents, createSessionRef } from './session-events.js';
import { createSessionIssuer, type IssuedSession } from './session-issuer.js';
import { createSessionRoutes } from './session-routes.js';
import { createMemoryStore, type SessionStore } from './store.js';
import { createTokenService, type TokenService } from './tokens.js';
import type { ReportEvent, SessionSubject } from './types.js';
import { createCredentialFingerprint, type UserDirectory, type UserRecord } from './users.js';

/**
 * `createSessionKit(options)` validates everything once and wires the session units around one key ring, token
 * service, store and throttle:
 *
 *   app.use(kit.authenticate)     // soft: sets ctx.state.user when a valid session is present
 *   app.use(kit.csrf)             // unsafe methods: Origin/Sec-Fetch-Site, and X-CSRF-Token for cookie sessions
 *   app.use(kit.routes())         // POST /auth/login, /refresh, /logout, /logout-all; GET /auth/me
 *   router.get('/x', kit.requireAuth, kit.requireRole('admin'), handler)
 */

export interface SessionKitOptions {
  keyRing: KeyRing;
  users: UserDirectory;
  /** Where revocation, refresh families and throttle counters live. Default: in memory. */
  store?: SessionStore;
  /** Token `iss`. Default 'koa-sentinel'. */
  issuer?: string;
  /** Token `aud`. Default 'koa-sentinel-api'. */
  audience?: string;
  /** Access token lifetime. Default 15 minutes. */
  accessTtlMs?: number;
  /** Refresh token lifetime, which is also the idle timeout. Default 12 hours. */
  refreshTtlMs?: number;
  /** Absolute session lifetime: no refresh after this. Default 7 days. */
  absoluteTtlMs?: number;
  /** Clock skew accepted on exp/nbf/iat, seconds. Default 5, at most 60. */
  clockToleranceSec?: number;
  /**
   * How long after a rotation the replaced refresh token gets 409 refresh_conflict (two tabs refreshing at
   * once) instead of counting as reuse. It never yields tokens. Default 5 seconds (RFC 9700 §4.14.2).
   */
  refreshGraceMs?: number;
  /** Prefix of the auth routes. Default '/auth'. */
  basePath?: string;
  /**
   * Accept `Authorization: Bearer <access token>` for non-browser clients. Default false. When a request
   * carries both, the header wins and the cookie is ignored for that request (no CSRF token is needed, since a
   * browser never adds that header cross-site on its own).
   */
  bearer?: boolean;
  /** Origins other than the server's own that may send unsafe requests (e.g. a separate front-end origin). */
  allowedOrigins?: readonly string[];
  /** Default `__Host-sentinel_at`, `__Secure-sentinel_rt`, `__Host-sentinel_csrf`. */
  cookieNames?: Partial<{ access: string; refresh: string; csrf: string }>;
  /** Per-scope overrides of DEFAULT_THROTTLE_POLICIES. */
  throttle?: Partial<Record<ThrottleScope, Partial<ThrottlePolicy>>>;
  /**
   * The device cookie a successful login leaves (device-cookies.ts): default name `__Host-sentinel_device`, and
   * how long a device stays known after its latest login, default 90 days.
   */
  deviceCookie?: { name?: string; ttlMs?: number };
  /**
   * The scrypt cost passwords should have, default DEFAULT_SCRYPT (ASVS 11.4.2): cheaper hashes are replaced at
   * the next successful login when the user directory has updatePasswordHash. Also the cost of the hash verified
   * for unknown users until the first real user is seen.
   */
  passwordParams?: ScryptParams;
  /**
   * Keys the session references in logs and GET /auth/me (at least 16 bytes; every instance the same). Default:
   * derived from the first key of the ring that holds secret material, which a rotation keeps in place (the new key
   * is added and made active; the old one is removed last), so a session keeps one reference across a rotation.
   */
  sessionRefKey?: Buffer;
  /** Live sessions one user may have (ASVS 7.1.2); a login beyond it ends that user's oldest session. Default 10. */
  maxSessionsPerUser?: number;
  /** How long after a login ending sessions (DELETE /auth/sessions) asks for no password again. Default 5 minutes. */
  reauthWindowMs?: number;
  /** Wrong passwords one session may give when asked to re-authenticate before it is ended. Default 5. */
  maxReauthFailures?: number;
  /**
   * The least time between two "last used" writes for one session in one instance (GET /auth/sessions shows it
   * this coarse), so authenticated requests stay free of store writes. Default 1 minute.
   */
  activityIntervalMs?: number;
  /** The rules for new passwords (POST /auth/password): a policy, or its options. Default createPasswordPolicy(). */
  passwordPolicy?: PasswordPolicy | PasswordPolicyOptions;
  /**
   * Refuse new passwords found in known breaches (ASVS 6.2.12), e.g. `createBreachedPasswordCheck()`. Off by
   * default (it needs the network); when it cannot answer, the password is judged by the policy alone.
   */
  breachedPasswords?: (password: string) => Promise<boolean | undefined>;
  /** Prefix of the admin session routes (DELETE /admin/users/:name/sessions, POST /admin/sessions/revoke-all). */
  adminBasePath?: string;
  /** The role those routes require. Default 'admin'. */
  adminRole?: string;
  /** Receives every security event. Must not throw; if it does, the error is swallowed (logging never stops the app). */
  onEvent?: (event: SecurityEvent) => void;
  /** Clock, for tests. */
  now?: () => number;
}

export interface SessionKit {
  authenticate: Middleware;
  csrf: Middleware;
  requireAuth: Middleware;
  requireRole(...roles: string[]): Middleware;
  /** The auth routes as one middleware (router routes and allowed methods). */
  routes(): Middleware;
  /** authenticate + csrf, for apps that want one line. */
  middleware(): Middleware;
  /** Emits a security event carrying this request's context (user, source IP, user agent, request id, path). */
  emit(ctx: Context, action: EventAction, input?: SecurityEventInput): void;
  readonly tokens: TokenService;
  readonly store: SessionStore;
  readonly throttle: LoginThrottle;
  close(): Promise<void>;
}

const MINUTE = 60_000;
/** Every default of the kit. */
export const SESSION_KIT_DEFAULTS = {
  issuer: 'koa-sentinel',
  audience: 'koa-sentinel-api',
  accessTtlMs: 15 * MINUTE,
  refreshTtlMs: 12 * 60 * MINUTE,
  absoluteTtlMs: 7 * 24 * 60 * MINUTE,
  clockToleranceSec: 5,
  refreshGraceMs: 5_000,
  basePath: '/auth',
  bearer: false,
  allowedOrigins: [] as readonly string[],
  cookieNames: { access: '__Host-sentinel_at', refresh: '__Secure-sentinel_rt', csrf: '__Host-sentinel_csrf' },
  maxSessionsPerUser: 10,
  reauthWindowMs: 5 * MINUTE,
  maxReauthFailures: 5,
  activityIntervalMs: MINUTE,
  adminBasePath: '/admin',
  adminRole: 'admin',
} as const;

export function createSessionKit(options: SessionKitOptions): SessionKit {
  const o = { ...SESSION_KIT_DEFAULTS, ...stripUndefined(options) };
  if (!o.keyRing?.active) throw new ConfigurationError('options.keyRing must be a key ring from createKeyRing().');
  if (typeof o.users?.find !== 'function') throw new ConfigurationError('options.users must be a user directory with a find(name) method.');
  for (const name of ['accessTtlMs', 'refreshTtlMs', 'absoluteTtlMs', 'refreshGraceMs'] as const) {
    if (!Number.isFinite(o[name]) || o[name] < 0) throw new ConfigurationError(`options.${name} must be a finite, non-negative number.`);
  }
  if (o.accessTtlMs >= o.refreshTtlMs) throw new ConfigurationError('options.accessTtlMs must be shorter than options.refreshTtlMs.');
  if (o.refreshTtlMs > o.absoluteTtlMs) throw new ConfigurationError('options.refreshTtlMs must not exceed options.absoluteTtlMs.');
  if (!/^\/[A-Za-z0-9/_-]*$/.test(o.basePath) || o.basePath.endsWith('/')) throw new ConfigurationError('options.basePath must look like /auth.');
  if (typeof o.bearer !== 'boolean') throw new ConfigurationError('options.bearer must be true or false.');
  if (!Array.isArray(o.allowedOrigins) || !o.allowedOrigins.every((origin) => typeof origin === 'string')) {
    throw new ConfigurationError('options.allowedOrigins must be a list of origins.');
  }
  if (o.now !== undefined && typeof o.now !== 'function') throw new ConfigurationError('options.now must be a function.');
  for (const name of ['maxSessionsPerUser', 'maxReauthFailures'] as const) {
    if (!Number.isInteger(o[name]) || o[name] < 1) throw new ConfigurationError(`options.${name} must be a positive integer.`);
  }
  for (const name of ['reauthWindowMs', 'activityIntervalMs'] as const) {
    if (!Number.isFinite(o[name]) || o[name] < 0) throw new ConfigurationError(`options.${name} must be a finite, non-negative number.`);
  }
  if (!/^\/[A-Za-z0-9/_-]*$/.test(o.adminBasePath) || o.adminBasePath.endsWith('/')) throw new ConfigurationError('options.adminBasePath must look like /admin.');
  if (typeof o.adminRole !== 'string' || o.adminRole === '') throw new ConfigurationError('options.adminRole must be a role name.');
  const policy = o.passwordPolicy && typeof (o.passwordPolicy as PasswordPolicy).check === 'function'
    ? (o.passwordPolicy as PasswordPolicy)
    : createPasswordPolicy(o.passwordPolicy as PasswordPolicyOptions | undefined);

  const now = o.now ?? Date.now;
  const cookies = createSessionCookies({ cookieNames: { ...SESSION_KIT_DEFAULTS.cookieNames, ...o.cookieNames }, refreshPath: `${o.basePath}/refresh`, now });
  const keyRing = o.keyRing;
  const signKeys = [keyRing.active, ...keyRing.kids.map((kid) => keyRing.get(kid)!)].filter((key) => key.signKey).map((key) => key.signKey!);
  const csrfSecrets = signKeys.map((key) => deriveSecret(key, 'csrf'));
  const csrfTokens = createCsrfTokens(csrfSecrets);
  // Not keyed by the active key: a rotation would give one session two references. See sessionRefKey.
  const sessionRef = createSessionRef(o.sessionRefKey ?? deriveSecret(firstSigningKey(keyRing), 'log'));
  const emit = createSessionEvents({ onEvent: o.onEvent, sessionRef });
  const tokens = createTokenService({ keyRing, issuer: o.issuer, audience: o.audience, clockToleranceSec: o.clockToleranceSec, now });
  const store = o.store ?? createMemoryStore({ now });
  const throttle = createLoginThrottle({ store, policies: o.throttle, now });
  const devices = createDeviceCookies({ secrets: signKeys.map((key) => deriveSecret(key, 'device')), name: o.deviceCookie?.name, ttlMs: o.deviceCookie?.ttlMs, now });

  // Issued under the active key and accepted under every key that can sign, like the CSRF tokens: a rotation must
  // not end sessions, neither when the new key becomes active nor when the old one leaves the ring.
  const fingerprints = signKeys.map((key) => createCredentialFingerprint(deriveSecret(key, 'credential-fingerprint')));
  const fingerprint = fingerprints[0]!;
  const activity = createSessionActivity({ store, intervalMs: o.activityIntervalMs, now });
  const credentials = createCredentialCheck({ users: o.users, accepts: (user, cfp) => fingerprints.some((of) => of(user) === cfp), activity });
  const authenticate = credentials.wrap(createAuthenticate({ tokens, store, accessCookieName: cookies.specs.access.name, bearer: o.bearer }));
  const csrf = createCsrfGuard({ csrfTokens, allowedOrigins: o.allowedOrigins, emit });
  const { requireAuth, requireRole } = createAccessControl({ emit });
  const sessions = createSessionIssuer({
    tokens, store, csrfTokens, accessTtlMs: o.accessTtlMs, refreshTtlMs: o.refreshTtlMs, absoluteTtlMs: o.absoluteTtlMs,
    maxSessionsPerUser: o.maxSessionsPerUser, fingerprint: (user) => (isUserRecord(user) ? fingerprint(user) : undefined),
  });
  const sessionRoutes = createSessionRoutes({
    store, users: o.users, sessions, activity, policy, breachedPasswords: o.breachedPasswords, requireAuth, requireRole, emit, sessionRef,
    idleTtlMs: o.refreshTtlMs, reauthWindowMs: o.reauthWindowMs, maxReauthFailures: o.maxReauthFailures,
    hashParams: o.passwordParams ?? DEFAULT_SCRYPT, contextWords: [o.issuer], adminBasePath: o.adminBasePath, adminRole: o.adminRole, now,
  });

  /** The sessions a login request came with (its cookies or bearer token): a new login ends them (ASVS 7.2.4). */
  function priorSessions(ctx: Context): Set<string> {
    const ids = new Set<string>();
    if (ctx.state.auth) ids.add(ctx.state.auth.claims.sid);
    for (const kind of ['access', 'refresh'] as const) {
      const read = cookies.read(ctx, kind);
      if (read.duplicate || read.value === undefined) continue;
      try {
        ids.add(tokens.verifyAllowingExpiry(read.value, kind).claims.sid);
      } catch {
        // Not one of our tokens: nothing to end.
      }
    }
    return ids;
  }

  async function afterLogin(ctx: Context, session: IssuedSession, report: ReportEvent): Promise<void> {
    activity.record(ctx, session.family.id, true);
    for (const sessionId of priorSessions(ctx)) {
      if (sessionId === session.family.id) continue;
      const family = await store.revokeFamily(sessionId);
      if (family) report('authn_token_revoked', { reason: 'relogin', user: { name: family.userName, id: family.userId }, http: { statusCode: 200 }, sentinel: { session_id: sessionId } });
    }
    for (const old of session.evicted ?? []) {
      report('authn_token_revoked', { reason: 'session_cap', http: { statusCode: 200 }, sentinel: { session_id: old.id, max_sessions: o.maxSessionsPerUser } });
    }
  }

  const router = createAuthRoutes({
    basePath: o.basePath,
    login: createLoginFlow({ users: o.users, throttle, sessions, devices, passwordParams: o.passwordParams, now }),
    refresh: createRefreshFlow({ tokens, store, users: o.users, sessions, refreshTtlMs: o.refreshTtlMs, refreshGraceMs: o.refreshGraceMs, credentialsMatch: credentials.matches, now }),
    logout: createLogoutFlow({ tokens, store, now }),
    cookies,
    csrfTokens,
    requireAuth,
    emit,
    sessionRef,
    afterLogin,
    extend: sessionRoutes.extend,
  });

  return {
    authenticate,
    csrf,
    requireAuth,
    requireRole,
    routes: () => {
      const routes = compose([router.routes(), router.allowedMethods()]) as Middleware;
      const admin = compose([sessionRoutes.admin.routes(), sessionRoutes.admin.allowedMethods()]) as Middleware;
      const prefix = `${o.basePath}/`;
      const adminPrefix = `${o.adminBasePath}/`;
      // Most requests are not for /auth or /admin: a prefix test is cheaper than the router's matching.
      return (ctx, next) => (ctx.path.startsWith(prefix) ? routes(ctx, next) : ctx.path.startsWith(adminPrefix) ? admin(ctx, next) : next());
    },
    middleware: () => compose([authenticate, csrf]) as Middleware,
    emit,
    tokens,
    store,
    throttle,
    close: () => store.close(),
  };
}

/** The first key, in ring order, that can sign: its material is secret, unlike a verification-only public key. */
function firstSigningKey(keyRing: KeyRing): KeyObject {
  for (const kid of keyRing.kids) {
    const key = keyRing.get(kid);
    if (key?.signKey) return key.signKey;
  }
  return keyRing.active.signKey;
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function isUserRecord(user: SessionSubject): user is UserRecord {
  return typeof (user as Partial<UserRecord>).passwordHash === 'string';
}
