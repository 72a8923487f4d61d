import Router from '@koa/router';
import type { SessionKit } from '../index.js';

/**
 * The worked example of protecting routes: one resource for any signed-in user, one for admins only, and an
 * unsafe one that shows the CSRF header in use. Copy these three lines into your own router.
 */
export function createExampleRoutes(kit: SessionKit): Router {
  const router = new Router({ prefix: '/api' });

  router.get('/hello', kit.requireAuth, (ctx) => {
    ctx.body = { message: `Hello, ${ctx.state.user!.name}.` };
  });

  router.get('/admin/stats', kit.requireRole('admin'), (ctx) => {
    ctx.body = { uptimeSeconds: Math.round(process.uptime()), memoryRss: process.memoryUsage().rss };
  });

  router.post('/notes', kit.requireAuth, (ctx) => {
    const body = ctx.request.body as { text?: unknown } | undefined;
    const text = typeof body?.text === 'string' ? body.text.slice(0, 1000) : '';
    ctx.status = 201;
    ctx.body = { note: { text, author: ctx.state.user!.name } };
  });

  return router;
}
