/**
 * The same stack as full-stack.ts without the facade: every part on its own, in the order createSentinel uses.
 * Take this route when you need a different order, your own logger streams or only some of the parts.
 */
import Koa from 'koa';
import { Client } from '@elastic/elasticsearch';
import {
  createAnomalyRunner, createFileUserDirectory, createKeyRing, createLoginHistory, createLoginHistoryRoutes, createLogger,
  createLogNotifier, createRequestLogger, createSessionKit, createShipper, errorHandler, jsonBody, logSecurityEvent,
  requestContext, scheduleAnomalyRuns, scheduleDailyReview, scheduleRetention, securityHeaders, setupElasticsearch,
} from 'koa-sentinel';

const env = process.env;
const client = new Client({ node: env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200' });
const indexPrefix = 'sentinel';

// Logging: ECS JSON lines on stdout, and every document into the shipper's spool, then Elasticsearch.
const shipper = createShipper({ client, indexPrefix, dir: env.SPOOL_DIR ?? './spool' });
const logger = createLogger({ name: 'my-app', level: 'info', sinks: [shipper] });

// Sessions: security events are logged at their own catalogue level (warn for a failed login, …).
const kit = createSessionKit({
  keyRing: createKeyRing([{ kid: 'k1', alg: 'HS256', secret: env.JWT_SECRET ?? '' }]),
  users: createFileUserDirectory(env.AUTH_USERS_FILE ?? 'users.json'),
  onEvent: (event) => logSecurityEvent(logger, event),
});

const history = createLoginHistoryRoutes({ kit, loginHistory: createLoginHistory({ client, indexPrefix }) });
const app = new Koa();
app.silent = true;
app.use(requestContext());                       // request id, start time
app.use(createRequestLogger({ logger }));        // one ECS access record per request, with the final status
app.use(errorHandler({                           // every error as { error: { code, message } }, no stack traces
  onError: (ctx, error, cause) => { if (error.status >= 500) logger.error({ err: cause }, 'request failed'); },
}));
app.use(securityHeaders({ hsts: env.NODE_ENV === 'production' }));
app.use(jsonBody({ limit: '16kb' }));            // 415 for non-JSON bodies, 400/413 for bad or big ones
app.use(kit.authenticate).use(kit.csrf).use(kit.routes());
app.use(history.routes());

// Scheduled work: anomaly rules, the daily review, retention.
const runner = createAnomalyRunner({ client, indexPrefix, notifiers: [createLogNotifier((level, fields, message) => logger[level](fields, message))] });
const jobs = [
  scheduleAnomalyRuns(runner, { onError: (error) => logger.warn({ err: error }, 'anomaly run failed') }),
  scheduleDailyReview({ client, indexPrefix }),
  scheduleRetention({ client, indexPrefix }),
];

await setupElasticsearch(client, indexPrefix); // needs manage_index_templates: usually a one-off setup job instead
shipper.start();                               // replays what an earlier run left in the spool
const server = app.listen(Number(env.PORT ?? 3000), '127.0.0.1');
process.once('SIGTERM', async () => {
  server.close();
  for (const job of jobs) job.cancel();
  await shipper.close(10_000);
  await kit.close();
});
