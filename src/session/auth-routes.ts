import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { SentinelError, isSentinelError } from '../errors.js';
import type { CsrfTokens } from './csrf-tokens.js';
import type { LoginFlow } from './login-flow.js';
import type { LogoutFlow } from './logout-flow.js';
import type { RefreshFlow } from './refresh-flow.js';
import type { SessionCookies } from './session-cookies.js';
import type { IssuedSession } from './session-issuer.js';
import type { EmitEvent, ReportEvent, SessionSubject } from './types.js';

/**
 * The auth routes map HTTP to the login, refresh and logout flows: they read the body and cookies, bind events to
 * the request, write cookies and shape the response. Every response is `Cache-Control: no-store` (ASVS 7.2.4
 * family: tokens must not sit in caches). Store failures become 503 store_unavailable: a session check never
 * passes because its store is down.
 */

export interface AuthRoutesOptions {
  /** Prefix of the routes, e.g. /auth. */
  basePath: string;
  login: LoginFlow;
  refresh: RefreshFlow;
  logout: LogoutFlow;
  cookies: SessionCookies;
  csrfTokens: Pick<CsrfTokens, 'issue'>;
  requireAuth: Middleware;
  emit: EmitEvent;
  /** The keyed hash that GET /me shows in place of the session id. */
  sessionRef(sessionId: string): string;
  /** After a successful login: ends the sessions the request came with (ASVS 7.2.4) and notes the device. */
  afterLogin?: (ctx: Context, session: IssuedSession, report: ReportEvent) => Promise<void>;
  /** More routes under the same prefix and guards (session-routes.ts), with the helpers they share. */
  extend?: (router: Router, tools: AuthRouteTools) => void;
}

/** What the auth routes share with routes added through `extend`. */
export interface AuthRouteTools {
  requireJson: Middleware;
  /** Writes a new session's cookies and answers as POST /login does. */
  startBrowserSession(ctx: Context, user: SessionSubject, session: IssuedSession): void;
  reporter(ctx: Context): ReportEvent;
}

const CLEAR_SITE_DATA = '"cache", "cookies", "storage"';

/**
 * `Cache-Control: no-store` on every response of a route, and a store failure inside it answered as 503
 * store_unavailable (the auth routes and the admin session routes).
 */
export const noStore: Middleware = async (ctx, next) => {
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
  try {
    await next();
  } catch (error) {
    if (isSentinelError(error)) throw error;
    // Anything thrown by a store in here means state could not be read or written: fail closed, say so.
    throw new SentinelError('store_unavailable', { reason: 'auth_route', cause: error });
  }
};

export function createAuthRoutes(options: AuthRoutesOptions): Router {
  const { login, refresh, logout, cookies, csrfTokens, requireAuth, emit, sessionRef } = options;
  const router = new Router({ prefix: options.basePath });
  const reporter = (ctx: Context): ReportEvent => (action, input) => emit(ctx, action, input);

  router.use(noStore);

  const requireJson: Middleware = async (ctx, next) => {
    if (!ctx.is('application/json')) {
      emit(ctx, 'input_validation_fail', { reason: 'unsupported_media_type', http: { statusCode: 415 } });
      throw new SentinelError('unsupported_media_type');
    }
    await next();
  };

  const startBrowserSession = (ctx: Context, user: SessionSubject, session: IssuedSession): void => {
    cookies.write(ctx, { access: session.access.token, refresh: session.refresh.token, csrf: session.csrfToken, expiresAt: session.expiresAt });
    ctx.body = {
      user: { id: user.id, name: user.name, roles: user.roles },
      csrfToken: session.csrfToken,
      accessExpiresAt: new Date(session.access.claims.exp * 1000).toISOString(),
      sessionExpiresAt: new Date(session.family.absoluteExpiresAt).toISOString(),
    };
  };

  router.post('/login', requireJson, async (ctx) => {
    const { user, session, deviceCookie } = await login.login({ body: (ctx.request as { body?: unknown }).body, source: ctx.ip, cookieHeader: ctx.get('cookie') }, reporter(ctx));
    startBrowserSession(ctx, user, session);
    ctx.append('Set-Cookie', deviceCookie);
    await options.afterLogin?.(ctx, session, reporter(ctx));
  });

  router.post('/refresh', async (ctx) => {
    const outcome = await refresh.refresh(cookies.read(ctx, 'refresh'), reporter(ctx));
    if (!outcome.ok) {
      if (outcome.clearCookies) cookies.clear(ctx);
      throw outcome.error;
    }
    startBrowserSession(ctx, outcome.user, outcome.session);
  });

  router.post('/logout', async (ctx) => {
    await logout.logout({ sessionId: ctx.state.user?.sessionId, authError: ctx.state.authError, accessCookie: cookies.read(ctx, 'access') }, reporter(ctx));
    // Without a valid session there is nothing to revoke, but the browser's copies still go.
    cookies.clear(ctx);
    ctx.set('Clear-Site-Data', CLEAR_SITE_DATA);
    ctx.status = 204;
  });

  router.post('/logout-all', requireAuth, async (ctx) => {
    const revoked = await logout.logoutAll(ctx.state.user!.id, reporter(ctx));
    cookies.clear(ctx);
    ctx.set('Clear-Site-Data', CLEAR_SITE_DATA);
    ctx.body = { revokedSessions: revoked };
  });

  router.get('/me', requireAuth, async (ctx) => {
    const user = ctx.state.user!;
    ctx.body = {
      user: { id: user.id, name: user.name, roles: user.roles },
      session: { id: sessionRef(user.sessionId), accessExpiresAt: new Date(ctx.state.auth!.claims.exp * 1000).toISOString() },
      // A fresh token for the same session, so a reloaded page can recover it without reading cookies.
      csrfToken: csrfTokens.issue(user.sessionId, user.tokenId),
    };
  });

  options.extend?.(router, { requireJson, startBrowserSession, reporter });
  return router;
}
