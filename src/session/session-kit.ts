import { createHmac } from 'node:crypto';
import type { Context, Middleware, Next } from 'koa';
import compose from 'koa-compose';
import { ConfigurationError, SentinelError, isSentinelError } from '../errors.js';
import type { EventAction } from '../events/catalogue.js';
import { buildSecurityEvent, type SecurityEvent, type SecurityEventInput } from '../events/security-event.js';
import { createAuthRoutes } from './auth-routes.js';
import { assertCookieSpec, clearCookie, readCookie, serializeCookie, type CookieSpec } from './cookies.js';
import { createCsrfTokens, deriveSecret, type CsrfTokens } from './csrf-tokens.js';
import type { KeyRing } from './key-ring.js';
import { createLoginThrottle, type LoginThrottle, type ThrottlePolicy, type ThrottleScope } from './login-throttle.js';
import type { ScryptParams } from './passwords.js';
import { createMemoryStore, type SessionStore } from './store.js';
import { createTokenService, type TokenClaims, type TokenService } from './tokens.js';
import type { SessionUser } from './types.js';
import type { UserDirectory } from './users.js';

/**
 * `createSessionKit(options)` validates everything once and returns the middlewares that share one key ring,
 * token service, store and throttle:
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
  issuer?: string;
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
  cookieNames?: Partial<{ access: string; refresh: string; csrf: string }>;
  throttle?: Partial<Record<ThrottleScope, Partial<ThrottlePolicy>>>;
  /** scrypt cost of the hash verified for unknown users; defaults to the cost of the first real user seen. */
  passwordParams?: ScryptParams;
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

/** What the route handlers share with the middlewares; internal. */
export interface KitContext {
  tokens: TokenService;
  store: SessionStore;
  throttle: LoginThrottle;
  csrfTokens: CsrfTokens;
  users: UserDirectory;
  cookies: { access: CookieSpec; refresh: CookieSpec; csrf: CookieSpec };
  accessTtlMs: number;
  refreshTtlMs: number;
  absoluteTtlMs: number;
  refreshGraceMs: number;
  basePath: string;
  passwordParams: ScryptParams | undefined;
  now: () => number;
  emit(ctx: Context, action: EventAction, input?: SecurityEventInput): void;
  /** The keyed hash that stands for a session id in events and in GET /auth/me. */
  sessionRef(sessionId: string): string;
  requireAuth: Middleware;
  setSessionCookies(ctx: Context, tokens: { access: string; refresh: string; csrf: string }, sessionExpiresAt: number, refreshExpiresAt: number): void;
  clearSessionCookies(ctx: Context): void;
}

const MINUTE = 60_000;
const DEFAULTS = {
  issuer: 'koa-sentinel',
  audience: 'koa-sentinel-api',
  accessTtlMs: 15 * MINUTE,
  refreshTtlMs: 12 * 60 * MINUTE,
  absoluteTtlMs: 7 * 24 * 60 * MINUTE,
  refreshGraceMs: 5_000,
  basePath: '/auth',
  cookieNames: { access: '__Host-sentinel_at', refresh: '__Secure-sentinel_rt', csrf: '__Host-sentinel_csrf' },
};
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const BEARER = /^Bearer ([A-Za-z0-9._-]+)$/;

export function createSessionKit(options: SessionKitOptions): SessionKit {
  const o = { ...DEFAULTS, ...stripUndefined(options) };
  if (!o.keyRing?.active) throw new ConfigurationError('The keyRing option must be a key ring from createKeyRing().');
  if (typeof o.users?.find !== 'function') throw new ConfigurationError('The users option must be a user directory with a find(name) method.');
  for (const name of ['accessTtlMs', 'refreshTtlMs', 'absoluteTtlMs', 'refreshGraceMs'] as const) {
    if (!Number.isFinite(o[name]) || o[name] < 0) throw new ConfigurationError(`The ${name} option must be a finite, non-negative number.`);
  }
  if (o.accessTtlMs >= o.refreshTtlMs) throw new ConfigurationError('The accessTtlMs option must be shorter than refreshTtlMs.');
  if (o.refreshTtlMs > o.absoluteTtlMs) throw new ConfigurationError('The refreshTtlMs option must not exceed absoluteTtlMs.');
  if (!/^\/[A-Za-z0-9/_-]*$/.test(o.basePath) || o.basePath.endsWith('/')) throw new ConfigurationError('The basePath option must look like /auth.');
  if (o.onEvent !== undefined && typeof o.onEvent !== 'function') throw new ConfigurationError('The onEvent option must be a function.');
  const allowedOrigins = new Set(o.allowedOrigins ?? []);
  const names = { ...DEFAULTS.cookieNames, ...o.cookieNames };
  const cookies = {
    access: { name: names.access, path: '/', httpOnly: true, sameSite: 'Lax' },
    refresh: { name: names.refresh, path: `${o.basePath}/refresh`, httpOnly: true, sameSite: 'Strict' },
    // Readable by the page so it can echo the token in X-CSRF-Token after a reload (signed double submit).
    csrf: { name: names.csrf, path: '/', httpOnly: false, sameSite: 'Strict' },
  } satisfies Record<string, CookieSpec>;
  for (const spec of Object.values(cookies)) {
    try {
      assertCookieSpec(spec);
    } catch (error) {
      throw new ConfigurationError(`The cookieNames option is invalid: ${(error as Error).message}`);
    }
  }

  const now = o.now ?? Date.now;
  const store = o.store ?? createMemoryStore({ now });
  const tokens = createTokenService({ keyRing: o.keyRing, issuer: o.issuer, audience: o.audience, clockToleranceSec: o.clockToleranceSec, now });
  const throttle = createLoginThrottle({ store, policies: o.throttle, now });
  const csrfSecrets = [o.keyRing.active, ...o.keyRing.kids.map((kid) => o.keyRing.get(kid)!)]
    .filter((key) => key.signKey)
    .map((key) => deriveSecret(key.signKey!, 'csrf'));
  const csrfTokens = createCsrfTokens(csrfSecrets);
  // Logs carry a keyed hash of the session id, never the id itself (ASVS 16.3: no session identifiers in logs).
  // Keyed by the signing key, so every instance computes the same reference and events still correlate.
  const logKey = deriveSecret(o.keyRing.active.signKey, 'log');
  const sessionRef = (sessionId: string): string => createHmac('sha256', logKey).update(sessionId).digest('base64url').slice(0, 22);
  const onEvent = o.onEvent;

  function emit(ctx: Context, action: EventAction, input: SecurityEventInput = {}): void {
    if (!onEvent) return;
    try {
      const user = ctx.state.user;
      onEvent(buildSecurityEvent(action, {
        user: user ? { name: user.name, id: user.id, roles: user.roles } : undefined,
        source: { ip: ctx.ip },
        userAgent: ctx.get('user-agent') || undefined,
        urlPath: ctx.path,
        ...input,
        http: { method: ctx.method, requestId: ctx.state.requestId, ...input.http },
        sentinel: withSessionRef({ ...(user ? { session_id: user.sessionId, token_id: user.tokenId } : {}), ...input.sentinel }),
      }));
    } catch {
      // A broken event sink must never turn into a failed request (ASVS 16.5.1); the shipper reports its own health.
    }
  }

  const withSessionRef = (fields: Record<string, unknown>): Record<string, unknown> => {
    if (typeof fields.session_id === 'string') fields.session_id = sessionRef(fields.session_id);
    return fields;
  };

  const fail = (code: 'token_invalid' | 'token_expired', reason: string): SentinelError => new SentinelError(code, { reason });

  type Resolved = { method: 'cookie' | 'bearer'; claims: TokenClaims } | undefined;

  /** Synchronous unless the store answers with a promise: the memory store keeps this path free of microtasks. */
  function resolve(ctx: Context): Resolved | Promise<Resolved> {
    let token: string | undefined;
    let method: 'cookie' | 'bearer' = 'cookie';
    const authorization = o.bearer ? ctx.get('authorization') : '';
    if (authorization) {
      const match = BEARER.exec(authorization);
      if (!match) throw fail('token_invalid', 'malformed');
      token = match[1];
      method = 'bearer';
    } else {
      const read = readCookie(ctx.get('cookie'), cookies.access.name);
      if (read.duplicate) throw fail('token_invalid', 'duplicate_cookie');
      token = read.value;
    }
    if (token === undefined) return undefined;
    const claims = tokens.verify(token, 'access');
    let answer: boolean | Promise<boolean>;
    try {
      answer = store.isSessionActive(claims.sid, claims.sub, claims.iat);
    } catch (error) {
      return storeUnavailable(error);
    }
    if (typeof answer === 'boolean') return decide(answer, method, claims);
    // No closures on the synchronous path above: it runs on every request.
    return answer.then((active) => decide(active, method, claims), storeUnavailable);
  }

  function decide(active: boolean, method: 'cookie' | 'bearer', claims: TokenClaims): Resolved {
    if (!active) throw fail('token_invalid', 'revoked');
    return { method, claims };
  }

  const apply = (ctx: Context, result: Resolved): void => {
    if (!result) return;
    const { claims } = result;
    ctx.state.auth = result;
    ctx.state.user = { id: claims.sub, name: claims.name ?? claims.sub, roles: claims.roles ?? [], sessionId: claims.sid, tokenId: claims.jti } satisfies SessionUser;
  };
  const reject = (ctx: Context, error: unknown): void => {
    if (!isSentinelError(error)) throw error;
    ctx.state.authError = error;
  };

  const authenticate: Middleware = (ctx, next) => {
    let result: Resolved | Promise<Resolved>;
    try {
      result = resolve(ctx);
    } catch (error) {
      reject(ctx, error);
      return next();
    }
    if (result instanceof Promise) {
      return result.then((value) => apply(ctx, value), (error: unknown) => reject(ctx, error)).then(() => next());
    }
    apply(ctx, result);
    return next();
  };

  const requireAuth: Middleware = async (ctx, next) => {
    if (!ctx.state.user) {
      const error = ctx.state.authError ?? fail('token_invalid', 'missing');
      if (error.code === 'token_invalid' || error.code === 'token_expired') {
        emit(ctx, 'authn_token_invalid', { reason: error.reason, http: { statusCode: error.status }, sentinel: { token_type: 'access' } });
      }
      throw error;
    }
    await next();
  };

  function requireRole(...roles: string[]): Middleware {
    if (roles.length === 0 || !roles.every((role) => typeof role === 'string' && role !== '')) {
      throw new ConfigurationError('requireRole needs at least one role name.');
    }
    const check: Middleware = async (ctx, next) => {
      const user = ctx.state.user!;
      if (!roles.some((role) => user.roles.includes(role))) {
        emit(ctx, 'authz_fail', { reason: `requires ${roles.join(' or ')}`, http: { statusCode: 403 }, sentinel: { required_roles: roles } });
        throw new SentinelError('forbidden', { reason: 'role' });
      }
      await next();
    };
    return compose([requireAuth, check]);
  }

  /** Cross-site checks for unsafe methods (ASVS 3.5.1-3.5.3); login has no session but gets the origin checks. */
  const csrf: Middleware = async (ctx: Context, next: Next) => {
    if (SAFE_METHODS.has(ctx.method)) return next();
    const refuse = (reason: string): never => {
      emit(ctx, 'malicious_csrf', { reason, http: { statusCode: 403 } });
      throw new SentinelError('csrf_failed', { reason });
    };
    const site = ctx.get('sec-fetch-site');
    const origin = ctx.get('origin');
    const sameOrigin = (value: string): boolean => {
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        return false;
      }
      // Not ctx.origin: in Koa 3 that is the request's Origin header, not the server's own origin.
      if (allowedOrigins.has(url.origin) || url.origin === `${ctx.protocol}://${ctx.host}`) return true;
      // Behind a TLS-terminating proxy without TRUST_PROXY the server sees http while the browser says https:
      // accept that upgrade for our own host, never a downgrade to http.
      return url.host === ctx.host && url.protocol === 'https:';
    };
    if (site === 'cross-site') refuse('cross_site');
    if (origin) {
      if (origin === 'null' || !sameOrigin(origin)) refuse('origin_mismatch');
    } else {
      const referer = ctx.get('referer');
      if (referer && !sameOrigin(referer)) refuse('referer_mismatch');
      if (site === 'same-site') refuse('no_origin');
    }
    if (ctx.state.auth?.method === 'cookie') {
      const token = ctx.get('x-csrf-token');
      if (!token) refuse('token_missing');
      if (!csrfTokens.verify(token, ctx.state.auth.claims.sid)) refuse('token_mismatch');
    }
    return next();
  };

  const kitContext: KitContext = {
    tokens, store, throttle, csrfTokens, users: o.users, cookies,
    accessTtlMs: o.accessTtlMs, refreshTtlMs: o.refreshTtlMs, absoluteTtlMs: o.absoluteTtlMs,
    refreshGraceMs: o.refreshGraceMs, basePath: o.basePath, passwordParams: o.passwordParams, now, emit, sessionRef, requireAuth,
    setSessionCookies(ctx, issued, sessionExpiresAt, refreshExpiresAt) {
      const t = now();
      // The access cookie outlives its token so the server can answer token_expired (refresh!) rather than
      // token_invalid; the token's own exp is what counts.
      ctx.append('Set-Cookie', serializeCookie(cookies.access, issued.access, (sessionExpiresAt - t) / 1000));
      ctx.append('Set-Cookie', serializeCookie(cookies.refresh, issued.refresh, (refreshExpiresAt - t) / 1000));
      ctx.append('Set-Cookie', serializeCookie(cookies.csrf, issued.csrf, (sessionExpiresAt - t) / 1000));
    },
    clearSessionCookies(ctx) {
      for (const spec of Object.values(cookies)) ctx.append('Set-Cookie', clearCookie(spec));
    },
  };
  const router = createAuthRoutes(kitContext);

  return {
    authenticate,
    csrf,
    requireAuth,
    requireRole,
    routes: () => {
      const routes = compose([router.routes(), router.allowedMethods()]) as Middleware;
      const prefix = `${o.basePath}/`;
      // Most requests are not for /auth: a prefix test is cheaper than the router's matching.
      return (ctx, next) => (ctx.path.startsWith(prefix) ? routes(ctx, next) : next());
    },
    middleware: () => compose([authenticate, csrf]) as Middleware,
    emit,
    tokens,
    store,
    throttle,
    close: () => store.close(),
  };
}

function storeUnavailable(error: unknown): never {
  throw new SentinelError('store_unavailable', { reason: 'session_check', cause: error });
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

