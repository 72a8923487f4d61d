import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type bunyan from 'bunyan';
import {
  createElasticClient, createEphemeralKeyRing, createFileUserDirectory, createKeyRing, createLogger,
  createMemoryUserDirectory, createRedisStore, createWebhookNotifier, formatDuration, hashPassword, redactUrl,
  type Config, type Enricher, type KeyRing, type Notifier, type RedisStore, type Shipper, type UserDirectory, type UserRecord,
} from '../index.js';
import { createApp, type SentinelApp } from './app.js';

/** Development-only accounts (never in production: config requires AUTH_USERS_FILE there). */
export const DEV_USERS = [
  { name: 'demo', password: 'demo-password', roles: ['user'] },
  { name: 'admin', password: 'admin-password', roles: ['user', 'admin'] },
] as const;

export interface RunningServer extends SentinelApp {
  /** The shipper, when ELASTICSEARCH_URL is set (or in spool-only mode). */
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

/**
 * The reference server: environment (already validated into `config`) → `createSentinel` options → the app from
 * ./app.ts → listen. Everything it uses comes from the package's public API.
 */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const es = config.elasticsearch;
  const shipping = Boolean(es.url) || options.spoolOnly === true;
  const client = es.url ? createElasticClient({ url: es.urls.length > 1 ? es.urls : es.urls[0]!, apiKey: es.apiKey, username: es.username, password: es.password, caCertFile: es.caCertFile }) : undefined;
  // Its stdout lines get the sentinel's enrichment too, once the sentinel exists (the logger is needed before it).
  let enrich: Enricher = () => {};
  const logger = options.logger ?? createLogger({ name: 'koa-sentinel', level: config.logLevel, stdout: options.stdout, enrich: (doc) => enrich(doc) });
  const keyRing = buildKeyRing(config, logger);
  const users = await buildUsers(config, logger);
  const store = await buildStore(config, logger);
  const notifiers: Notifier[] = config.alertWebhookUrl ? [createWebhookNotifier({ url: config.alertWebhookUrl })] : [];

  const sentinel = createApp({
    logger,
    trustProxy: config.trustProxy,
    production: config.nodeEnv === 'production',
    elasticsearch: shipping ? {
      client,
      indexPrefix: es.indexPrefix,
      spoolDir: config.spoolDir,
      shipper: { onError: shipperErrorLine(), onSpoolFailure: config.spoolOnFailure },
    } : undefined,
    enrichment: { geo: config.geo.enabled ? { cityDatabase: config.geo.cityDatabase, asnDatabase: config.geo.asnDatabase } : false },
    jobs: {
      anomalies: config.anomalyCron === false ? false : { cron: config.anomalyCron, notifiers },
      review: config.reviewCron === false ? false : { cron: config.reviewCron },
      retention: config.retention.cron === false ? false : { cron: config.retention.cron, days: retentionDays(config) },
    },
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
  const { shipper } = sentinel.sentinel;
  enrich = sentinel.sentinel.enrich;
  await sentinel.sentinel.start();
  if (shipper) {
    const queued = shipper.stats().queueDepth;
    const target = es.url ? `to Elasticsearch (${redactUrl(es.url)})` : 'nowhere yet (spool-only mode: no ELASTICSEARCH_URL)';
    sentinel.sentinel.logger.info({ sentinel: { spool: config.spoolDir, queued } }, `Shipping events ${target}, index prefix ${es.indexPrefix}, spool ${config.spoolDir}${queued ? `: ${queued} documents left by an earlier run` : ''}`);
  } else {
    logger.warn({ sentinel: { warning: 'no_elasticsearch' } }, 'No ELASTICSEARCH_URL: security events and access logs go to stdout only.');
  }

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
  sentinel.sentinel.logger.info({ url: { full: url }, sentinel: { keys: keyRing.kids, access_ttl: formatDuration(config.jwt.accessTtlMs), bearer: config.auth.bearer } }, `koa-sentinel listening on ${url}`);

  let closing: Promise<void> | undefined;
  const close = (deadlineMs = 10_000): Promise<void> => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), deadlineMs);
      await closed;
      clearTimeout(timer);
      // Jobs, then the shipper (what is not delivered by the deadline stays in the spool), then the session store.
      await sentinel.sentinel.close(deadlineMs);
    })();
    return closing;
  };
  return { ...sentinel, server, url, logger: sentinel.sentinel.logger, close, shipper };
}

function retentionDays({ retention }: Config): { events: number; access: number; alerts: number; deadletter: number } {
  return { events: retention.events, access: retention.access, alerts: retention.alerts, deadletter: retention.deadletter };
}

/**
 * Shipping problems go to stderr, not through the logger: they must not feed more documents to the shipper. At most
 * one line per 10 s, so an outage does not flood stderr; /healthz has the running totals.
 */
function shipperErrorLine(): (message: string) => void {
  let last = 0;
  return (message) => {
    if (Date.now() - last < 10_000) return;
    last = Date.now();
    process.stderr.write(`${JSON.stringify({ '@timestamp': new Date().toISOString(), log: { level: 'warn', logger: 'shipper' }, message })}\n`);
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
