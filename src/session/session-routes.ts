import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { SentinelError } from '../errors.js';
import { noStore, type AuthRouteTools } from './auth-routes.js';
import { describeRejection, type PasswordPolicy, type PasswordRejection } from './password-policy.js';
import { hashPassword, parsePasswordHash, verifyPassword, type ScryptParams } from './passwords.js';
import type { SessionActivity } from './session-activity.js';
import type { SessionIssuer } from './session-issuer.js';
import type { SessionFamily, SessionStore } from './store.js';
import type { EmitEvent, ReportEvent, SessionUser } from './types.js';
import { normalizeUsername, type UserDirectory } from './users.js';

/**
 * Sessions people can see and end, and credential changes that end them:
 *
 * - GET /auth/sessions lists the user's live sessions (ASVS 7.5.2): the keyed session reference (never the id),
 *   created, last used (coarse, session-activity.ts), device, last address, and which one is this one.
 * - DELETE /auth/sessions/:id ends one, DELETE /auth/sessions every other one. Both need the password again in
 *   the body, unless this session's login is under `reauthWindowMs` old (ASVS 7.5.1).
 * - POST /auth/password changes the password (ASVS 6.2.2, 6.2.3: the current one is required) under the password
 *   policy, and ends every other session unless `keepOtherSessions: true` (ASVS 7.4.3); this device gets a new
 *   session at once.
 * - DELETE /admin/users/:name/sessions and POST /admin/sessions/revoke-all: an administrator ends one user's
 *   sessions or everyone's (the global cut-off, the administrator's own included); both logged as authz_admin.
 *
 * A wrong password in a re-authentication answers 403 reauthentication_required and counts against the session:
 * after `maxReauthFailures` the session itself ends, so a stolen session cannot be used to guess the password.
 */

export interface SessionRoutesOptions {
  store: Pick<SessionStore, 'listFamilies' | 'revokeFamily' | 'revokeUser' | 'revokeAll'>;
  users: Pick<UserDirectory, 'find' | 'changePassword'>;
  sessions: Pick<SessionIssuer, 'start'>;
  activity: SessionActivity;
  policy: PasswordPolicy;
  /** Optional breach check of new passwords; `undefined` from it (service unreachable) lets the policy decide. */
  breachedPasswords?: (password: string) => Promise<boolean | undefined>;
  requireAuth: Middleware;
  requireRole(...roles: string[]): Middleware;
  emit: EmitEvent;
  sessionRef(sessionId: string): string;
  /** The idle timeout, so the list shows what a refresh would still accept. */
  idleTtlMs: number;
  /** How long after a login ending sessions needs no password. */
  reauthWindowMs: number;
  /** Wrong passwords one session may give before it is ended. */
  maxReauthFailures: number;
  /** scrypt cost of new password hashes. */
  hashParams: ScryptParams;
  /** Words of the service for the password policy (its issuer name). */
  contextWords: readonly string[];
  /** Prefix of the admin routes, e.g. /admin. */
  adminBasePath: string;
  adminRole: string;
  now: () => number;
}

export interface SessionRoutes {
  /** Adds the /auth routes to the auth router (createAuthRoutes' `extend`). */
  extend(router: Router, tools: AuthRouteTools): void;
  /** The admin routes. */
  admin: Router;
}

/** What the sessions list shows of one session. */
export interface SessionView {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  device: string | null;
  sourceIp: string | null;
  current: boolean;
}

export function createSessionRoutes(options: SessionRoutesOptions): SessionRoutes {
  const { store, users, sessions, activity, policy, requireAuth, requireRole, emit, sessionRef, now } = options;
  /** Wrong re-authentication passwords per session (this instance). Bounded: the oldest entry goes first. */
  const failures = new Map<string, number>();

  const list = (user: SessionUser): Promise<SessionFamily[]> => store.listFamilies(user.id, { now: now(), idleTtlMs: options.idleTtlMs });

  function view(family: SessionFamily, currentId: string): SessionView {
    return {
      id: sessionRef(family.id),
      createdAt: iso(family.createdAt),
      lastUsedAt: iso(Math.max(family.lastUsedAt ?? family.createdAt, family.lastRotatedAt)),
      expiresAt: iso(family.absoluteExpiresAt),
      device: family.device ?? null,
      sourceIp: family.sourceIp ?? null,
      current: family.id === currentId,
    };
  }

  /** Checks the password of the request's user; a wrong one counts, and enough of them end the session. */
  async function verifyCurrentPassword(ctx: Context, password: unknown, report: ReportEvent): Promise<void> {
    const user = ctx.state.user!;
    const record = await users.find(user.name);
    const parsed = record ? parsePasswordHash(record.passwordHash) : undefined;
    const ok = typeof password === 'string' && password !== '' && parsed !== undefined && (await verifyPassword(password, parsed));
    if (ok) {
      failures.delete(user.sessionId);
      return;
    }
    const count = (failures.get(user.sessionId) ?? 0) + 1;
    failures.delete(user.sessionId);
    failures.set(user.sessionId, count);
    if (failures.size > 10_000) failures.delete(failures.keys().next().value as string);
    report('authn_login_fail', { reason: 'reauthentication', user: { name: user.name, id: user.id }, http: { statusCode: 403 }, sentinel: { reauth_failures: count } });
    if (count >= options.maxReauthFailures) {
      failures.delete(user.sessionId);
      await store.revokeFamily(user.sessionId);
      report('authn_token_revoked', { reason: 'reauth_failures', http: { statusCode: 403 }, sentinel: { session_id: user.sessionId } });
    }
    throw new SentinelError('reauthentication_required', { reason: 'wrong_password', message: 'The password is not correct.' });
  }

  /** The password in the body, or a login recent enough (ASVS 7.5.1): what ending sessions asks for. */
  async function reauthenticate(ctx: Context, families: readonly SessionFamily[], report: ReportEvent): Promise<void> {
    const body = bodyOf(ctx);
    if (body.password !== undefined) return verifyCurrentPassword(ctx, body.password, report);
    const current = families.find((family) => family.id === ctx.state.user!.sessionId);
    if (current && now() - current.createdAt <= options.reauthWindowMs) return;
    throw new SentinelError('reauthentication_required', { reason: 'password_needed' });
  }

  function extend(router: Router, tools: AuthRouteTools): void {
    const { reporter } = tools;

    router.get('/sessions', requireAuth, async (ctx) => {
      const user = ctx.state.user!;
      ctx.body = { sessions: (await list(user)).map((family) => view(family, user.sessionId)) };
    });

    router.delete('/sessions/:id', requireAuth, async (ctx) => {
      const user = ctx.state.user!;
      const report = reporter(ctx);
      const families = await list(user);
      const target = families.find((family) => sessionRef(family.id) === ctx.params.id);
      await reauthenticate(ctx, families, report);
      // Ended already (in another tab, say): DELETE is idempotent, nothing more to do.
      if (!target) {
        ctx.body = { endedSessions: 0, current: false };
        return;
      }
      await store.revokeFamily(target.id);
      report('authn_token_revoked', { reason: 'user_ended', http: { statusCode: 200 }, sentinel: { session_id: target.id, ended_session: sessionRef(target.id) } });
      ctx.body = { endedSessions: 1, current: target.id === user.sessionId };
    });

    router.delete('/sessions', requireAuth, async (ctx) => {
      const user = ctx.state.user!;
      const report = reporter(ctx);
      const families = await list(user);
      await reauthenticate(ctx, families, report);
      const others = families.filter((family) => family.id !== user.sessionId);
      for (const family of others) await store.revokeFamily(family.id);
      report('authn_token_revoked', { reason: 'user_ended_others', http: { statusCode: 200 }, sentinel: { sessions_revoked: others.length } });
      ctx.body = { endedSessions: others.length };
    });

    if (users.changePassword) {
      const changePassword = users.changePassword.bind(users);
      router.post('/password', requireAuth, tools.requireJson, async (ctx) => {
        const user = ctx.state.user!;
        const report = reporter(ctx);
        const body = bodyOf(ctx);
        const { newPassword, keepOtherSessions = false } = body;
        if (typeof newPassword !== 'string' || typeof keepOtherSessions !== 'boolean') {
          throw new SentinelError('invalid_request', { reason: 'password_fields', message: 'Send currentPassword and newPassword as strings, and keepOtherSessions as true or false.' });
        }
        await verifyCurrentPassword(ctx, body.currentPassword, report);
        const refusal = newPassword === body.currentPassword
          ? { reason: 'unchanged', message: 'The new password must differ from the current one.' }
          : refusalOf(policy.check(newPassword, [user.name, user.id, ...options.contextWords]).rejection)
            ?? (await options.breachedPasswords?.(newPassword) === true
              ? { reason: 'breached', message: 'This password appears in known data breaches; choose another.' }
              : undefined);
        if (refusal) {
          report('authn_password_change_fail', { reason: refusal.reason, http: { statusCode: 400 } });
          throw new SentinelError('password_rejected', refusal);
        }
        const updated = await changePassword(user.name, await hashPassword(newPassword, options.hashParams), { keepSessions: keepOtherSessions });
        if (!updated) throw new SentinelError('token_invalid', { reason: 'user_disabled' });
        if (keepOtherSessions) {
          report('authn_password_change', { reason: 'kept_sessions', http: { statusCode: 200 } });
          ctx.body = { endedSessions: 0 };
          return;
        }
        // Every session ends, this one too (its tokens carry the old fingerprint); this device gets a new one.
        const live = await store.revokeUser(user.id, Math.floor(now() / 1000));
        const session = await sessions.start(updated, now());
        tools.startBrowserSession(ctx, updated, session);
        activity.record(ctx, session.family.id, true);
        const ended = Math.max(0, live - 1);
        report('authn_password_change', { reason: 'ended_sessions', http: { statusCode: 200 }, sentinel: { sessions_revoked: ended } });
        report('authn_token_revoked', { reason: 'password_change', http: { statusCode: 200 }, sentinel: { sessions_revoked: ended } });
        ctx.body = { ...(ctx.body as object), endedSessions: ended };
      });
    }
  }

  const admin = new Router({ prefix: options.adminBasePath });
  admin.use(noStore);

  admin.delete('/users/:name/sessions', requireRole(options.adminRole), async (ctx) => {
    const name = normalizeUsername(ctx.params.name);
    if (!name) throw new SentinelError('invalid_request', { reason: 'username', message: 'The username is not valid.' });
    // An unknown name ends nothing (0), like a user without sessions: the route does not enumerate users.
    const target = await users.find(name);
    const ended = target ? await store.revokeUser(target.id, Math.floor(now() / 1000)) : 0;
    emit(ctx, 'authz_admin', { reason: 'revoke_user_sessions', target: { name }, http: { statusCode: 200 }, sentinel: { sessions_revoked: ended } });
    emit(ctx, 'authn_token_revoked', { reason: 'admin', target: { name }, http: { statusCode: 200 }, sentinel: { sessions_revoked: ended } });
    ctx.body = { endedSessions: ended };
  });

  admin.post('/sessions/revoke-all', requireRole(options.adminRole), async (ctx) => {
    // Every session that exists now ends, the administrator's own included; logins from now on work.
    const cutoff = now();
    await store.revokeAll(cutoff);
    emit(ctx, 'authz_admin', { reason: 'revoke_all_sessions', http: { statusCode: 200 } });
    emit(ctx, 'authn_token_revoked', { reason: 'admin_all', http: { statusCode: 200 } });
    ctx.body = { revokedBefore: iso(cutoff) };
  });

  return { extend, admin };
}

function refusalOf(rejection: PasswordRejection | undefined): { reason: string; message: string } | undefined {
  return rejection ? { reason: rejection.code, message: describeRejection(rejection) } : undefined;
}

/** The JSON object sent, or {} when none was; any other JSON value (an array, null, a number) is a 400. */
function bodyOf(ctx: Context): Record<string, unknown> {
  const body = (ctx.request as { body?: unknown }).body;
  if (body === undefined) return {};
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) return body as Record<string, unknown>;
  throw new SentinelError('invalid_request', { reason: 'body', message: 'The body must be a JSON object.' });
}

const iso = (ms: number): string => new Date(ms).toISOString();
