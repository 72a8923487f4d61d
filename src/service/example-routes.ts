import Router from '@koa/router';
import { SentinelError, type SessionKit } from '../index.js';

/** The longest note POST /api/notes accepts. */
export const MAX_NOTE_LENGTH = 1000;

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
    const text = body?.text;
    // Validate, never repair (ASVS 2.2.1): a note is a string of at most 1000 characters, as the description says.
    if (typeof text !== 'string' || text.length > MAX_NOTE_LENGTH) {
      throw new SentinelError('invalid_request', { reason: 'note', message: `text must be a string of at most ${MAX_NOTE_LENGTH} characters.` });
    }
    ctx.status = 201;
    ctx.body = { note: { text, author: ctx.state.user!.name } };
  });

  return router;
}
