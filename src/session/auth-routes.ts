import { randomUUID } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { SentinelError, isSentinelError } from '../errors.js';
import { readCookie } from './cookies.js';
import { QueueFull, createKeyedMutex } from './keyed-mutex.js';
import { MAX_PASSWORD_LENGTH, parsePasswordHash, verifyPassword, type ParsedHash, type ScryptParams } from './passwords.js';
import type { KitContext } from './session-kit.js';
import type { SessionFamily } from './store.js';
import type { TokenClaims } from './tokens.js';
import { createDummyHash, normalizeUsername, type UserRecord } from './users.js';

/**
 * The auth routes. Every response is `Cache-Control: no-store` (ASVS 7.2.4 family: tokens must not sit in caches).
 * Store failures become 503 store_unavailable: a session check never passes because its store is down.
 */
export function createAuthRoutes(kit: KitContext): Router {
  const router = new Router({ prefix: kit.basePath });
  const { tokens, store, throttle, emit, now } = kit;

  let dummy: Promise<ParsedHash> = createDummyHash(kit.passwordParams);
  const loginLocks = createKeyedMutex();
  let dummyParams: ScryptParams | undefined = kit.passwordParams;

  const noStore: Middleware = async (ctx, next) => {
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
  router.use(noStore);

  const requireJson: Middleware = async (ctx, next) => {
    if (!ctx.is('application/json')) {
      emit(ctx, 'input_validation_fail', { reason: 'unsupported_media_type', http: { statusCode: 415 } });
      throw new SentinelError('unsupported_media_type');
    }
    await next();
  };

  /** Starts a session: a refresh family, an access/refresh pair and a CSRF token. */
  async function startSession(ctx: Context, user: UserRecord): Promise<{ csrfToken: string; family: SessionFamily; access: TokenClaims }> {
    const t = now();
    const family: SessionFamily = {
      id: randomUUID(),
      userId: user.id,
      userName: user.name,
      roles: [...user.roles],
      createdAt: t,
      lastRotatedAt: t,
      currentJti: randomUUID(),
      previousJti: null,
      revoked: false,
      absoluteExpiresAt: t + kit.absoluteTtlMs,
    };
    await store.createFamily(family);
    const issued = issuePair(ctx, family, user);
    return { ...issued, family };
  }

  function issuePair(ctx: Context, family: SessionFamily, user: { id: string; name: string; roles: readonly string[] }): { csrfToken: string; access: TokenClaims } {
    const t = now();
    const refreshExpiresAt = Math.min(t + kit.refreshTtlMs, family.absoluteExpiresAt);
    const subject = { sub: user.id, sid: family.id, name: user.name, roles: user.roles };
    const access = tokens.issue('access', subject, Math.min(kit.accessTtlMs, family.absoluteExpiresAt - t));
    const refresh = tokens.issue('refresh', subject, refreshExpiresAt - t, family.currentJti);
    const csrfToken = kit.csrfTokens.issue(family.id);
    kit.setSessionCookies(ctx, { access: access.token, refresh: refresh.token, csrf: csrfToken }, refreshExpiresAt, refreshExpiresAt);
    emit(ctx, 'authn_token_created', {
      user: { name: user.name, id: user.id, roles: user.roles },
      http: { statusCode: 200 },
      sentinel: { session_id: family.id, token_id: access.claims.jti, refresh_token_id: refresh.claims.jti },
    });
    return { csrfToken, access: access.claims };
  }

  router.post('/login', requireJson, async (ctx) => {
    const body = (ctx.request as { body?: unknown }).body;
    const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const username = normalizeUsername(fields.username);
    const password = typeof fields.password === 'string' && fields.password.length > 0 && fields.password.length <= MAX_PASSWORD_LENGTH
      ? fields.password
      : undefined;
    const source = ctx.ip;
    // The name as given goes into the event only when it is a valid name; anything else is logged by shape.
    const loggedName = username ?? undefined;

    const attempt = async (): Promise<void> => {
      const throttled = await throttle.check(username, source);
      if (throttled) {
        const retryAfter = Math.max(1, Math.ceil(throttled.retryAfterMs / 1000));
        emit(ctx, 'excess_rate_limit_exceeded', {
          reason: throttled.scope, user: { name: loggedName }, http: { statusCode: 429 },
          sentinel: { throttle: { scope: throttled.scope, failures: throttled.failures, retry_after_ms: throttled.retryAfterMs } },
        });
        throw new SentinelError('too_many_requests', { reason: throttled.scope, headers: { 'Retry-After': String(retryAfter) } });
      }

      const user = username === undefined ? undefined : await kit.users.find(username);
      const parsed = user ? parsePasswordHash(user.passwordHash) : undefined;
      // Always one real scrypt run, with the same cost, whatever is wrong (ASVS 6.3.8).
      const hash = parsed ?? (await dummy);
      const matches = await verifyPassword(password ?? '\u0000', hash);
      if (parsed && !sameParams(parsed.params, dummyParams)) {
        dummyParams = parsed.params;
        dummy = createDummyHash(parsed.params);
      }

      const reason = username === undefined || password === undefined
        ? 'malformed'
        : !user || !parsed
          ? 'unknown_user'
          : !matches
            ? 'bad_password'
            : user.disabled
              ? 'disabled'
              : undefined;
      if (reason !== undefined) {
        const locks = await throttle.fail(username, source);
        emit(ctx, 'authn_login_fail', {
          reason,
          user: { name: loggedName, id: reason === 'unknown_user' || reason === 'malformed' ? undefined : user?.id },
          http: { statusCode: 401 },
          sentinel: reason === 'malformed' ? { input: describeShape(fields) } : undefined,
        });
        for (const lock of locks) {
          emit(ctx, 'authn_login_lock', {
            reason: lock.scope, user: { name: loggedName }, http: { statusCode: 401 },
            sentinel: { throttle: { scope: lock.scope, failures: lock.failures, retry_after_ms: lock.retryAfterMs } },
          });
        }
        throw new SentinelError('login_failed', { reason });
      }

      const known = user!;
      const priorFailures = await throttle.succeed(known.name, source);
      const session = await startSession(ctx, known);
      const subject = { name: known.name, id: known.id, roles: known.roles };
      emit(ctx, priorFailures > 0 ? 'authn_login_successafterfail' : 'authn_login_success', {
        user: subject, http: { statusCode: 200 },
        sentinel: { session_id: session.family.id, token_id: session.access.jti, prior_failures: priorFailures },
      });
      emit(ctx, 'session_created', { user: subject, http: { statusCode: 200 }, sentinel: { session_id: session.family.id } });
      ctx.body = {
        user: { id: known.id, name: known.name, roles: known.roles },
        csrfToken: session.csrfToken,
        accessExpiresAt: new Date(session.access.exp * 1000).toISOString(),
        sessionExpiresAt: new Date(session.family.absoluteExpiresAt).toISOString(),
      };
    };
    try {
      // One attempt per account at a time in this process: parallel guesses cannot all pass the throttle together.
      await loginLocks.run(username ?? `\u0000${source}`, attempt);
    } catch (error) {
      if (!(error instanceof QueueFull)) throw error;
      emit(ctx, 'excess_rate_limit_exceeded', { reason: 'queue', user: { name: loggedName }, http: { statusCode: 429 } });
      throw new SentinelError('too_many_requests', { reason: 'queue', headers: { 'Retry-After': '1' } });
    }
  });

  router.post('/refresh', async (ctx) => {
    const read = readCookie(ctx.get('cookie'), kit.cookies.refresh.name);
    const refused = (code: 'token_invalid' | 'token_expired', reason: string, clear: boolean, extra: Record<string, unknown> = {}): never => {
      emit(ctx, 'authn_token_invalid', { reason, http: { statusCode: 401 }, sentinel: { token_type: 'refresh', ...extra } });
      if (clear) kit.clearSessionCookies(ctx);
      throw new SentinelError(code, { reason });
    };
    if (read.duplicate) refused('token_invalid', 'duplicate_cookie', false);
    if (read.value === undefined) refused('token_invalid', 'missing', false);
    let claims: TokenClaims;
    let expired: boolean;
    try {
      ({ claims, expired } = tokens.verifyAllowingExpiry(read.value!, 'refresh'));
    } catch (error) {
      if (!isSentinelError(error)) throw error;
      return refused(error.code as 'token_invalid' | 'token_expired', error.reason ?? 'invalid', false);
    }

    const t = now();
    if (expired) {
      // An authentic refresh token past its exp: the session hit its idle or absolute timeout. End it for good.
      const family = await store.revokeFamily(claims.sid);
      // Whichever limit came first ended the session.
      const reason = family && family.absoluteExpiresAt <= family.lastRotatedAt + kit.refreshTtlMs ? 'absolute' : 'idle';
      emit(ctx, 'session_expired', { reason, user: family ? { name: family.userName, id: family.userId } : undefined, http: { statusCode: 401 }, sentinel: { session_id: claims.sid, refresh_token_id: claims.jti } });
      kit.clearSessionCookies(ctx);
      throw new SentinelError('token_expired', { reason });
    }
    const nextJti = randomUUID();
    const result = await store.rotateFamily(claims.sid, claims.jti, nextJti, { now: t, graceMs: kit.refreshGraceMs, idleTtlMs: kit.refreshTtlMs });
    const ids = { session_id: claims.sid, refresh_token_id: claims.jti };
    switch (result.status) {
      case 'rotated': {
        const family = result.family;
        // Roles and status are re-read at every refresh, so a disabled user or a changed role takes effect
        // within one access-token lifetime.
        const user = await kit.users.find(family.userName);
        if (!user || user.disabled || user.id !== family.userId) {
          await store.revokeFamily(family.id);
          emit(ctx, 'authn_token_revoked', { reason: 'user_disabled', user: { name: family.userName, id: family.userId }, http: { statusCode: 401 }, sentinel: ids });
          return refused('token_invalid', 'user_disabled', true, ids);
        }
        const issued = issuePair(ctx, family, user);
        emit(ctx, 'session_renewed', { user: { name: user.name, id: user.id, roles: user.roles }, http: { statusCode: 200 }, sentinel: { ...ids, token_id: issued.access.jti } });
        ctx.body = {
          user: { id: user.id, name: user.name, roles: user.roles },
          csrfToken: issued.csrfToken,
          accessExpiresAt: new Date(issued.access.exp * 1000).toISOString(),
          sessionExpiresAt: new Date(family.absoluteExpiresAt).toISOString(),
        };
        return;
      }
      case 'conflict':
        emit(ctx, 'refresh_conflict', { user: { name: result.family.userName, id: result.family.userId }, http: { statusCode: 409 }, sentinel: ids });
        throw new SentinelError('refresh_conflict', { reason: 'grace' });
      case 'reused': {
        const user = { name: result.family.userName, id: result.family.userId };
        emit(ctx, 'authn_token_reuse', { user, http: { statusCode: 401 }, sentinel: { ...ids, current_refresh_token_id: result.family.currentJti } });
        emit(ctx, 'authn_token_revoked', { reason: 'reuse', user, http: { statusCode: 401 }, sentinel: ids });
        kit.clearSessionCookies(ctx);
        throw new SentinelError('token_invalid', { reason: 'reuse' });
      }
      case 'expired':
        emit(ctx, 'session_expired', { reason: result.reason, user: { name: result.family.userName, id: result.family.userId }, http: { statusCode: 401 }, sentinel: ids });
        kit.clearSessionCookies(ctx);
        throw new SentinelError('token_expired', { reason: result.reason });
      default:
        return refused('token_invalid', 'revoked', true, ids);
    }
  });

  router.post('/logout', async (ctx) => {
    const sessionId = ctx.state.user?.sessionId ?? uncheckedSession(ctx);
    if (sessionId) {
      const family = await store.revokeFamily(sessionId);
      // With a live session emit() takes the user from ctx.state; after expiry, from the revoked family.
      const who = !ctx.state.user && family ? { user: { name: family.userName, id: family.userId } } : {};
      emit(ctx, 'authn_token_revoked', { reason: 'logout', ...who, http: { statusCode: 204 }, sentinel: { session_id: sessionId } });
      emit(ctx, 'session_logout', { reason: 'logout', ...who, http: { statusCode: 204 }, sentinel: { session_id: sessionId } });
    }
    // Without a valid session there is nothing to revoke, but the browser's copies still go.
    kit.clearSessionCookies(ctx);
    ctx.set('Clear-Site-Data', '"cache", "cookies", "storage"');
    ctx.status = 204;
  });

  router.post('/logout-all', kit.requireAuth, async (ctx) => {
    const user = ctx.state.user!;
    const revoked = await store.revokeUser(user.id, Math.floor(now() / 1000));
    emit(ctx, 'authn_token_revoked', { reason: 'logout_all', http: { statusCode: 200 }, sentinel: { sessions_revoked: revoked } });
    emit(ctx, 'session_logout', { reason: 'logout_all', http: { statusCode: 200 }, sentinel: { sessions_revoked: revoked } });
    kit.clearSessionCookies(ctx);
    ctx.set('Clear-Site-Data', '"cache", "cookies", "storage"');
    ctx.body = { revokedSessions: revoked };
  });

  router.get('/me', kit.requireAuth, async (ctx) => {
    const user = ctx.state.user!;
    const claims = ctx.state.auth!.claims;
    ctx.body = {
      user: { id: user.id, name: user.name, roles: user.roles },
      session: { id: kit.sessionRef(user.sessionId), accessExpiresAt: new Date(claims.exp * 1000).toISOString() },
      // A fresh token for the same session, so a reloaded page can recover it without reading cookies.
      csrfToken: kit.csrfTokens.issue(user.sessionId),
    };
  });

  /**
   * The session of an authentic access cookie that authenticate could not accept: expired, so logging out after a
   * long pause still revokes the session server-side; or unchecked because the store was down, so the revocation
   * is attempted and its failure answers 503 instead of a 204 that revoked nothing (the client keeps its cookies
   * and can retry). Any other failure means there is nothing to trust.
   */
  function uncheckedSession(ctx: Context): string | undefined {
    const code = ctx.state.authError?.code;
    if (code !== 'token_expired' && code !== 'store_unavailable') return undefined;
    const read = readCookie(ctx.get('cookie'), kit.cookies.access.name);
    if (read.duplicate || read.value === undefined) return undefined;
    try {
      return tokens.verifyAllowingExpiry(read.value, 'access').claims.sid;
    } catch {
      return undefined;
    }
  }

  return router;
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
