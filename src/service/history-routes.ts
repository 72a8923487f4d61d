import Router from '@koa/router';
import type { Context } from 'koa';
import { SentinelError } from '../errors.js';
import type { LoginHistoryPage, LoginHistoryQuery } from '../elastic/login-history.js';
import type { SessionKit } from '../session/session-kit.js';
import { normalizeUsername } from '../session/users.js';

/**
 * GET /auth/login-history: the signed-in user's own recent logins. GET /admin/users/:name/login-history: anyone's,
 * for admins, logged as authz_admin. Without Elasticsearch both answer 503 dependency_unavailable.
 */
export function createHistoryRoutes(kit: SessionKit, history: ((query: LoginHistoryQuery) => Promise<LoginHistoryPage>) | undefined): Router {
  const router = new Router();

  const page = async (ctx: Context, userName: string): Promise<void> => {
    if (!history) throw new SentinelError('dependency_unavailable', { reason: 'no_elasticsearch', message: 'Login history needs Elasticsearch, which is not configured.' });
    const size = ctx.query.size === undefined ? undefined : Number(ctx.query.size);
    const cursor = typeof ctx.query.cursor === 'string' ? ctx.query.cursor : undefined;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await history({ userName, size, cursor });
  };

  router.get('/auth/login-history', kit.requireAuth, (ctx) => page(ctx, ctx.state.user!.name));

  router.get('/admin/users/:name/login-history', kit.requireRole('admin'), async (ctx) => {
    const name = normalizeUsername(ctx.params.name);
    if (!name) throw new SentinelError('invalid_request', { reason: 'username', message: 'The username is not valid.' });
    kit.emit(ctx, 'authz_admin', { reason: 'login_history', sentinel: { target_user: name }, http: { statusCode: 200 } });
    await page(ctx, name);
  });

  return router;
}
