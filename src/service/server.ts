import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type bunyan from 'bunyan';
import type { ElasticClient } from '../elastic/client.js';
import { redactUrl, type Config } from '../config/env.js';
import { createLogNotifier, createWebhookNotifier, type Notifier } from '../anomaly/notifiers.js';
import { buildDailyReview, formatDailyReview, storeDailyReview } from '../anomaly/review.js';
import { createAnomalyRunner } from '../anomaly/runner.js';
import { createElasticClient } from '../elastic/client.js';
import { createLoginHistory } from '../elastic/login-history.js';
import { createRetention, scheduleJob } from '../elastic/retention.js';
import { createShipper, type Shipper } from '../elastic/shipper.js';
import { formatDuration } from '../config/duration.js';
import { createLogger } from '../logging/logger.js';
import { createEphemeralKeyRing, createKeyRing, type KeyRing } from '../session/key-ring.js';
import { hashPassword } from '../session/passwords.js';
import { createRedisStore, type RedisStore } from '../session/redis-store.js';
import { createFileUserDirectory, createMemoryUserDirectory, type UserDirectory, type UserRecord } from '../session/users.js';
import { createApp, type SentinelApp } from './app.js';

/** Development-only accounts (never in production: config requires AUTH_USERS_FILE there). */
export const DEV_USERS = [
  { name: 'demo', password: 'demo-password', roles: ['user'] },
  { name: 'admin', password: 'admin-password', roles: ['user', 'admin'] },
] as const;

export interface RunningServer extends SentinelApp {
  /** The shipper, when ELASTICSEARCH_URL is set. */
  shipper: Shipper | undefined;
  server: Server;
  url: string;
  logger: bunyan;
  /** Stops accepting, lets in-flight requests finish (up to `deadlineMs`), then releases everything. */
  close(deadlineMs?: number): Promise<void>;
}

export interface StartOptions {
  logger?: bunyan;
  /** Where ECS log lines go when no logger is given; false for nowhere (the demo shows its own progress). */
  stdout?: { write(text: string): unknown } | false;
  /** Without ELASTICSEARCH_URL, still journal events into SPOOL_DIR for a later run to ship (spool-only mode). */
  spoolOnly?: boolean;
}

/** Builds the key ring, users and app from the validated config, listens, and reports what it did. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const elastic = buildElastic(config, options.spoolOnly === true);
  const logger = options.logger ?? createLogger({ name: 'koa-sentinel', level: config.logLevel, sinks: elastic ? [elastic.shipper] : [], stdout: options.stdout });
  if (elastic) {
    elastic.shipper.start();
    const spooled = elastic.shipper.stats();
    const target = config.elasticsearch.url ? `to Elasticsearch (${redactUrl(config.elasticsearch.url)})` : 'nowhere yet (spool-only mode: no ELASTICSEARCH_URL)';
    logger.info({ sentinel: { spool: config.spoolDir, queued: spooled.queueDepth } }, `Shipping events ${target}, index prefix ${config.elasticsearch.indexPrefix}, spool ${config.spoolDir}${spooled.queueDepth ? `: ${spooled.queueDepth} documents left by an earlier run` : ''}`);
  } else {
    logger.warn({ sentinel: { warning: 'no_elasticsearch' } }, 'No ELASTICSEARCH_URL: security events and access logs go to stdout only.');
  }
  const keyRing = buildKeyRing(config, logger);
  const users = await buildUsers(config, logger);
  const client = elastic?.client;
  const retention = client
    ? scheduleJob('retention', config.retention.cron, async () => {
      const result = await createRetention({ client, indexPrefix: config.elasticsearch.indexPrefix, days: config.retention })();
      if (result.deleted.length) logger.info({ sentinel: { deleted: result.deleted } }, `Retention deleted ${result.deleted.length} indices`);
    }, (error) => logger.warn({ err: error }, 'Retention run failed'))
    : undefined;
  const anomaly = client ? scheduleAnomalyJobs(config, client, logger) : undefined;
  const store = await buildStore(config, logger);
  const sentinel = createApp({
    logger,
    loginHistory: client ? createLoginHistory({ client, indexPrefix: config.elasticsearch.indexPrefix }) : undefined,
    health: () => {
      // Redis down means every session check answers 503: degraded, and the store's state says which part. Not the
      // error text: /healthz is public and "connect ECONNREFUSED 10.0.3.7:6379" maps the network; the log has it.
      const { lastError: _hidden, ...sessionStore } = store ? store.status() : { store: 'memory' as const, lastError: undefined };
      const storeDown = 'connected' in sessionStore && !sessionStore.connected;
      if (!elastic) return { degraded: storeDown, elasticsearch: 'not configured', sessionStore };
      const shipper = elastic.shipper.stats();
      return { degraded: storeDown || !shipper.elasticsearchReachable || shipper.queueDepth > 100_000, shipper, sessionStore };
    },
    trustProxy: config.trustProxy,
    production: config.nodeEnv === 'production',
    session: {
      keyRing,
      users,
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      accessTtlMs: config.jwt.accessTtlMs,
      refreshTtlMs: config.jwt.refreshTtlMs,
      absoluteTtlMs: config.jwt.absoluteTtlMs,
      clockToleranceSec: config.jwt.clockToleranceSec,
      bearer: config.auth.bearer,
      allowedOrigins: config.auth.allowedOrigins,
      store,
    },
  });

  const server = sentinel.app.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  // Slow-loris and idle sockets: bounded header and request times.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  logger.info({ url: { full: url }, sentinel: { keys: keyRing.kids, access_ttl: formatDuration(config.jwt.accessTtlMs), bearer: config.auth.bearer } }, `koa-sentinel listening on ${url}`);

  let closing: Promise<void> | undefined;
  const close = (deadlineMs = 10_000): Promise<void> => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), deadlineMs);
      await closed;
      clearTimeout(timer);
      retention?.cancel();
      anomaly?.cancel();
      // Whatever is not delivered by the deadline stays in the spool and is replayed at the next start.
      if (elastic) await elastic.shipper.close(deadlineMs);
      // Also closes the session store (the Redis connections when REDIS_URL is set).
      await sentinel.kit.close();
    })();
    return closing;
  };
  return { ...sentinel, server, url, logger, close, shipper: elastic?.shipper };
}

function buildElastic(config: Config, spoolOnly: boolean): { client: ElasticClient | undefined; shipper: Shipper } | undefined {
  const es = config.elasticsearch;
  if (!es.url && !spoolOnly) return undefined;
  const client = es.url ? createElasticClient({ url: es.url, apiKey: es.apiKey, username: es.username, password: es.password, caCertFile: es.caCertFile }) : undefined;
  let lastShipperError = 0;
  const shipper = createShipper({
    client,
    indexPrefix: es.indexPrefix,
    dir: config.spoolDir,
    // Written to stderr, not through the logger: a shipping problem must not feed more documents to the shipper.
    onError: (message) => {
      // At most one line per 10 s: an outage must not flood stderr; /healthz has the running totals.
      if (Date.now() - lastShipperError < 10_000) return;
      lastShipperError = Date.now();
      process.stderr.write(`${JSON.stringify({ '@timestamp': new Date().toISOString(), log: { level: 'warn', logger: 'shipper' }, message })}\n`);
    },
  });
  return { client, shipper };
}

/** The anomaly job (ANOMALY_CRON) and the daily review (REVIEW_CRON); runs never overlap themselves. */
function scheduleAnomalyJobs(config: Config, client: ElasticClient, logger: bunyan): { cancel(): void } {
  const notifiers: Notifier[] = [createLogNotifier((level, fields, message) => logger[level](fields, message))];
  if (config.alertWebhookUrl) notifiers.push(createWebhookNotifier({ url: config.alertWebhookUrl }));
  const runner = createAnomalyRunner({ client, indexPrefix: config.elasticsearch.indexPrefix, notifiers });
  let running = false;
  const anomalies = scheduleJob('anomalies', config.anomalyCron, async () => {
    if (running) return;
    running = true;
    try {
      const result = await runner.run();
      logger.info({ sentinel: { anomaly: { windows: result.windows, created: result.created.length, existing: result.existing.length, suppressed: result.suppressed, took_ms: result.tookMs } } },
        `Anomaly run: ${result.windows} window(s), ${result.created.length} new alert(s)`);
    } finally {
      running = false;
    }
  }, (error) => logger.warn({ err: error }, 'Anomaly run failed; the next run catches up'));
  const review = scheduleJob('review', config.reviewCron, async () => {
    const result = await buildDailyReview(client, config.elasticsearch.indexPrefix, new Date());
    await storeDailyReview(client, config.elasticsearch.indexPrefix, result);
    logger.info({ sentinel: { review: { day: result.day } } }, formatDailyReview(result));
  }, (error) => logger.warn({ err: error }, 'Daily review failed'));
  return {
    cancel() {
      anomalies.cancel();
      review.cancel();
    },
  };
}

/**
 * The Redis store when REDIS_URL is set (several instances share sessions), else undefined: the kit's memory store.
 * A Redis that is down at start-up does not stop the server: session checks fail closed (503) until it answers.
 */
async function buildStore(config: Config, logger: bunyan): Promise<RedisStore | undefined> {
  if (!config.redisUrl) {
    logger.info({ sentinel: { session_store: 'memory' } }, 'Session store: memory (one instance only; set REDIS_URL to share sessions between instances)');
    return undefined;
  }
  // Never the URL as given: it may carry the password.
  const where = redactUrl(config.redisUrl);
  const store = createRedisStore({
    url: config.redisUrl,
    // A user's not-before time must outlive every session that started before it.
    notBeforeTtlMs: config.jwt.absoluteTtlMs,
    onStatus: (status, error) => {
      if (status === 'ready') logger.info({ sentinel: { session_store: 'redis' } }, `Session store: Redis at ${where} is connected`);
      else logger.warn({ sentinel: { session_store: 'redis' }, err: error }, `Session store: Redis at ${where} is unreachable; session checks answer 503 store_unavailable until it is back`);
    },
  });
  logger.info({ sentinel: { session_store: 'redis' } }, `Session store: Redis at ${where}`);
  try {
    await store.ready(5_000);
  } catch {
    // Already reported through onStatus; ioredis keeps reconnecting and the store recovers by itself.
  }
  return store;
}

function buildKeyRing(config: Config, logger: bunyan): KeyRing {
  if (!config.jwt.ephemeral) return createKeyRing(config.jwt.keys.map((key) => ({ ...key })), config.jwt.activeKid);
  logger.warn({ sentinel: { warning: 'ephemeral_key' } },
    `No JWT_SECRET or JWT_KEYS_FILE: signing with an ephemeral key. Sessions end when this process stops. (Refused when NODE_ENV=production.)`);
  return createEphemeralKeyRing();
}

async function buildUsers(config: Config, logger: bunyan): Promise<UserDirectory> {
  if (config.auth.usersFile) {
    const directory = createFileUserDirectory(config.auth.usersFile);
    logger.info({ sentinel: { users: directory.size } }, `Loaded ${directory.size} users from ${config.auth.usersFile}`);
    return directory;
  }
  // Development only (config refuses production without a users file): two throwaway accounts with the
  // well-known passwords of DEV_USERS, documented in the README, so nothing secret is ever printed.
  const demo: UserRecord[] = [];
  for (const user of DEV_USERS) {
    demo.push({ id: `u_${user.name}`, name: user.name, roles: [...user.roles], passwordHash: await hashPassword(user.password) });
  }
  logger.warn({ sentinel: { warning: 'demo_users' } },
    `No AUTH_USERS_FILE: development users ${DEV_USERS.map((u) => u.name).join(' and ')} exist (passwords in the README). Add real ones with: koa-sentinel users add <name>`);
  return createMemoryUserDirectory(demo);
}
