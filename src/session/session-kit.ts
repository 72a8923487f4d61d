import type { Context, Middleware } from 'koa';
import compose from 'koa-compose';
import { ConfigurationError } from '../errors.js';
import type { EventAction } from '../events/catalogue.js';
import type { SecurityEvent, SecurityEventInput } from '../events/security-event.js';
import { createAccessControl } from './access-control.js';
import { createAuthRoutes } from './auth-routes.js';
import { createAuthenticate } from './authenticate.js';
import { createCsrfGuard } from './csrf-guard.js';
import { createCsrfTokens, deriveSecret } from './csrf-tokens.js';
import { createDeviceCookies } from './device-cookies.js';
import type { KeyRing } from './key-ring.js';
import { createLoginFlow } from './login-flow.js';
import { createLoginThrottle, type LoginThrottle, type ThrottlePolicy, type ThrottleScope } from './login-throttle.js';
import { createLogoutFlow } from './logout-flow.js';
import type { ScryptParams } from './passwords.js';
import { createRefreshFlow } from './refresh-flow.js';
import { createSessionCookies } from './session-cookies.js';
import { createSessionEvents, createSessionRef } from './session-events.js';
import { createSessionIssuer } from './session-issuer.js';
import { createMemoryStore, type SessionStore } from './store.js';
import { createTokenService, type TokenService } from './tokens.js';
import type { UserDirectory } from './users.js';

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

  const now = o.now ?? Date.now;
  const cookies = createSessionCookies({ cookieNames: { ...SESSION_KIT_DEFAULTS.cookieNames, ...o.cookieNames }, refreshPath: `${o.basePath}/refresh`, now });
  const keyRing = o.keyRing;
  const signKeys = [keyRing.active, ...keyRing.kids.map((kid) => keyRing.get(kid)!)].filter((key) => key.signKey).map((key) => key.signKey!);
  const csrfSecrets = signKeys.map((key) => deriveSecret(key, 'csrf'));
  const csrfTokens = createCsrfTokens(csrfSecrets);
  // Keyed by the active signing key: no extra secret to configure, and every instance computes the same reference.
  const sessionRef = createSessionRef(deriveSecret(keyRing.active.signKey, 'log'));
  const emit = createSessionEvents({ onEvent: o.onEvent, sessionRef });
  const tokens = createTokenService({ keyRing, issuer: o.issuer, audience: o.audience, clockToleranceSec: o.clockToleranceSec, now });
  const store = o.store ?? createMemoryStore({ now });
  const throttle = createLoginThrottle({ store, policies: o.throttle, now });
  const devices = createDeviceCookies({ secrets: signKeys.map((key) => deriveSecret(key, 'device')), name: o.deviceCookie?.name, ttlMs: o.deviceCookie?.ttlMs, now });

  const authenticate = createAuthenticate({ tokens, store, accessCookieName: cookies.specs.access.name, bearer: o.bearer });
  const csrf = createCsrfGuard({ csrfTokens, allowedOrigins: o.allowedOrigins, emit });
  const { requireAuth, requireRole } = createAccessControl({ emit });
  const sessions = createSessionIssuer({ tokens, store, csrfTokens, accessTtlMs: o.accessTtlMs, refreshTtlMs: o.refreshTtlMs, absoluteTtlMs: o.absoluteTtlMs });
  const router = createAuthRoutes({
    basePath: o.basePath,
    login: createLoginFlow({ users: o.users, throttle, sessions, devices, passwordParams: o.passwordParams, now }),
    refresh: createRefreshFlow({ tokens, store, users: o.users, sessions, refreshTtlMs: o.refreshTtlMs, refreshGraceMs: o.refreshGraceMs, now }),
    logout: createLogoutFlow({ tokens, store, now }),
    cookies,
    csrfTokens,
    requireAuth,
    emit,
    sessionRef,
  });

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

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
