import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { SentinelError } from '../errors.js';
import type { EventAction } from '../events/catalogue.js';
import type { SecurityEventInput } from '../events/security-event.js';
import type { LoginHistoryPage, LoginHistoryQuery } from '../elastic/login-history.js';
import { normalizeUsername } from '../session/users.js';

export interface LoginHistoryRoutesOptions {
  /** The session kit (or anything with its guards and emit). */
  kit: {
    requireAuth: Middleware;
    requireRole(...roles: string[]): Middleware;
    emit(ctx: Context, action: EventAction, input?: SecurityEventInput): void;
  };
  /** Reads the history, e.g. `createLoginHistory({ client, indexPrefix })`. Without it the routes answer 503. */
  loginHistory?: (query: LoginHistoryQuery) => Promise<LoginHistoryPage>;
  /** Role that may read anyone's history. Default 'admin'. */
  adminRole?: string;
}

/**
 * GET /auth/login-history: the signed-in user's own recent logins. GET /admin/users/:name/login-history: anyone's,
 * for admins, logged as authz_admin. Without a reader both answer 503 dependency_unavailable.
 */
export function createLoginHistoryRoutes(options: LoginHistoryRoutesOptions): Router {
  const { kit, loginHistory } = options;
  const router = new Router();

  const page = async (ctx: Context, userName: string): Promise<void> => {
    if (!loginHistory) throw new SentinelError('dependency_unavailable', { reason: 'no_elasticsearch', message: 'Login history needs Elasticsearch, which is not configured.' });
    const size = ctx.query.size === undefined ? undefined : Number(ctx.query.size);
    const cursor = typeof ctx.query.cursor === 'string' ? ctx.query.cursor : undefined;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await loginHistory({ userName, size, cursor });
  };

  router.get('/auth/login-history', kit.requireAuth, (ctx) => page(ctx, ctx.state.user!.name));

  router.get('/admin/users/:name/login-history', kit.requireRole(options.adminRole ?? 'admin'), async (ctx) => {
    const name = normalizeUsername(ctx.params.name);
    if (!name) throw new SentinelError('invalid_request', { reason: 'username', message: 'The username is not valid.' });
    kit.emit(ctx, 'authz_admin', { reason: 'login_history', target: { name }, http: { statusCode: 200 } });
    await page(ctx, name);
  });

  return router;
}
