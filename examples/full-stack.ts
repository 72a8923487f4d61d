/**
 * A complete app on koa-sentinel: its own API plus every part of the stack (sessions, ECS request and security
 * logging, shipping into Elasticsearch through the spool, login history, the scheduled anomaly job, the daily
 * review and retention), from one `createSentinel` call.
 *
 *   PORT                 port to listen on (default 3000)
 *   ELASTICSEARCH_URL    where events go (without it they are only spooled)
 *   AUTH_USERS_FILE      users, made with `npx koa-sentinel users add <name> --file users.json`
 *   JWT_SECRET           HMAC secret, at least 32 random bytes
 *   SPOOL_DIR            the journal folder (default ./spool)
 *   ANOMALY_CRON         when the anomaly rules run (default every 5 minutes)
 */
import Koa from 'koa';
import Router from '@koa/router';
import { Client } from '@elastic/elasticsearch';
import {
  createFileUserDirectory, createKeyRing, createSentinel, createWebhookNotifier, SentinelError,
} from 'koa-sentinel';

const env = process.env;
const client = env.ELASTICSEARCH_URL ? new Client({ node: env.ELASTICSEARCH_URL }) : undefined;

const sentinel = createSentinel({
  session: {
    keyRing: createKeyRing([{ kid: 'k1', alg: 'HS256', secret: env.JWT_SECRET ?? '' }]),
    users: createFileUserDirectory(env.AUTH_USERS_FILE ?? 'users.json'),
    // Tokens travel in __Host- cookies, which browsers only keep over HTTPS (and on http://localhost).
  },
  elasticsearch: { client, spoolDir: env.SPOOL_DIR ?? './spool', indexPrefix: 'sentinel', setup: true },
  // Alerts are logged; a webhook (Slack-compatible `text`) is called as well when configured.
  jobs: { anomalies: { cron: env.ANOMALY_CRON, notifiers: env.ALERT_WEBHOOK_URL ? [createWebhookNotifier({ url: env.ALERT_WEBHOOK_URL })] : [] } },
  production: env.NODE_ENV === 'production',
});
const { kit } = sentinel;

// Your own API: guards from the kit, security events through kit.emit (logged at their catalogue level).
const notes: Array<{ author: string; text: string }> = [];
const api = new Router({ prefix: '/api' });
api.get('/notes', kit.requireAuth, (ctx) => {
  ctx.body = { notes: notes.filter((note) => note.author === ctx.state.user!.name) };
});
api.post('/notes', kit.requireAuth, (ctx) => {
  const text = (ctx.request.body as { text?: unknown } | undefined)?.text;
  if (typeof text !== 'string' || text.length === 0 || text.length > 1000) {
    throw new SentinelError('invalid_request', { reason: 'note_text', message: 'A note is 1 to 1000 characters of text.' });
  }
  notes.push({ author: ctx.state.user!.name, text });
  ctx.status = 201;
  ctx.body = { note: { text } };
});
// Judge what just happened now instead of at the next scheduled run (an admin button, an incident script).
api.post('/admin/anomalies/run', kit.requireRole('admin'), async (ctx) => {
  kit.emit(ctx, 'authz_admin', { reason: 'app_function', message: 'An administrator ran the anomaly rules on demand.', http: { statusCode: 200 } });
  const result = await sentinel.anomalyRunner!.run({ until: new Date() });
  ctx.body = { created: result.created.map((alert) => alert.rule.name), existing: result.existing.length };
});

const app = new Koa();
app.silent = true; // the sentinel's error handler renders and logs every error
app.use(sentinel.middleware());
app.use(api.routes()).use(api.allowedMethods());

await sentinel.start();
const server = app.listen(Number(env.PORT ?? 3000), '127.0.0.1', () => {
  sentinel.logger.info(`full-stack example listening on http://127.0.0.1:${Number(env.PORT ?? 3000)}`);
});

const stop = async (): Promise<void> => {
  server.close();
  server.closeIdleConnections();
  await sentinel.close(10_000); // drains the shipper; what is left stays in the spool for the next start
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

