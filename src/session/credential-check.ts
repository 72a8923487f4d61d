import type { Context, Middleware } from 'koa';
import { SentinelError } from '../errors.js';
import type { SessionActivity } from './session-activity.js';
import type { TokenClaims } from './tokens.js';
import type { UserDirectory, UserRecord } from './users.js';

/**
 * Credential changes end sessions on their next request (ASVS 7.4.2, 7.4.3, 7.4.5): runs right after
 * authenticate and compares the access token's credential fingerprint (users.ts) with the user as the directory
 * holds it now. A new password, a disabled account, changed roles or a new session stamp, made through the API,
 * the CLI or an edit of the users file, on any instance: the fingerprint differs and the session is refused as
 * `token_invalid` (reason `credentials_changed` or `user_disabled`), as if it had been revoked. The refresh flow
 * applies the same test, so the session cannot come back through a refresh.
 *
 * With a directory that has `peek` the check is synchronous (no promise per request); otherwise it awaits `find`.
 * Accepted sessions are noted in the session activity (coarse "last used").
 */

export interface CredentialCheckOptions {
  users: Pick<UserDirectory, 'find' | 'peek'>;
  /** Whether `fingerprint` (a token's `cfp` claim) is this user's current one, under any key the kit accepts. */
  accepts: (user: UserRecord, fingerprint: string) => boolean;
  activity: SessionActivity;
}

export interface CredentialCheck {
  /** `authenticate` followed by the check, as one middleware. */
  wrap(authenticate: Middleware): Middleware;
  /** Whether a token's fingerprint matches this user, looking again at a fresh copy before saying no. */
  matches(claims: TokenClaims, user: UserRecord | undefined): boolean;
}

export function createCredentialCheck(options: CredentialCheckOptions): CredentialCheck {
  const { users, accepts, activity } = options;

  const current = (claims: TokenClaims, user: UserRecord | undefined): boolean =>
    user !== undefined && !user.disabled && user.id === claims.sub && claims.cfp !== undefined && accepts(user, claims.cfp);

  function matches(claims: TokenClaims, user: UserRecord | undefined): boolean {
    if (current(claims, user)) return true;
    // The copy may be older than the token (a password changed through another instance a moment ago): one
    // fresh look before refusing, so a new session is never refused for a stale copy.
    const name = user?.name ?? claims.name;
    return users.peek !== undefined && name !== undefined && current(claims, users.peek(name, true));
  }

  function judge(ctx: Context, claims: TokenClaims, user: UserRecord | undefined): void {
    if (matches(claims, user)) {
      activity.record(ctx, claims.sid);
      return;
    }
    const fresh = users.peek?.(claims.name ?? '') ?? user;
    const reason = !fresh || fresh.disabled || fresh.id !== claims.sub ? 'user_disabled' : 'credentials_changed';
    delete ctx.state.user;
    delete ctx.state.auth;
    ctx.state.authError = new SentinelError('token_invalid', { reason });
  }

  /** Synchronous when the directory can peek: this runs on every authenticated request. */
  function check(ctx: Context): void | Promise<void> {
    const claims = ctx.state.auth?.claims;
    if (!claims) return undefined;
    const name = claims.name ?? claims.sub;
    if (users.peek) return judge(ctx, claims, users.peek(name));
    return users.find(name).then((user) => judge(ctx, claims, user));
  }

  return {
    matches,
    wrap(authenticate) {
      return (ctx, next) => authenticate(ctx, () => {
        const pending = check(ctx);
        return pending ? pending.then(next) : next();
      });
    },
  };
}
