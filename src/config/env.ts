import { ConfigurationError } from '../errors.js';
import { parseDuration } from './duration.js';
import { envValue } from './env-value.js';
import { readKeys, type KeySpec } from './keys.js';

/**
 * The environment schema (docs/architecture.md), parsed and validated once at start-up. Every problem is
 * collected and reported together, so an operator fixes the whole environment in one go instead of one variable
 * per restart. This directory is the only place that reads environment variables; the library below it takes
 * options, and its errors name those options, not variables.
 */

export type NodeEnv = 'production' | 'development' | 'test';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export type { KeySpec } from './keys.js';
/** Kept while src/index.ts exports it from here; the rule itself is the library's (session/hmac-secret). */

export interface Config {
  nodeEnv: NodeEnv;
  port: number;
  host: string;
  trustProxy: boolean;
  logLevel: LogLevel;
  jwt: {
    /** The key ring; empty means "generate an ephemeral key" (development and test only). */
    keys: KeySpec[];
    activeKid: string | undefined;
    ephemeral: boolean;
    issuer: string;
    audience: string;
    accessTtlMs: number;
    refreshTtlMs: number;
    absoluteTtlMs: number;
    clockToleranceSec: number;
  };
  auth: {
    usersFile: string | undefined;
    bearer: boolean;
    allowedOrigins: string[];
  };
  elasticsearch: {
    url: string | undefined;
    apiKey: string | undefined;
    username: string | undefined;
    password: string | undefined;
    caCertFile: string | undefined;
    indexPrefix: string;
  };
  spoolDir: string;
  retention: { events: number; access: number; alerts: number; deadletter: number; cron: string };
  redisUrl: string | undefined;
  anomalyCron: string;
  reviewCron: string;
  alertWebhookUrl: string | undefined;
}

/** Every environment variable that has a default, as text the parsers below read: the one table of them. */
export const DEFAULTS = {
  PORT: '3000',
  HOST: '127.0.0.1',
  NODE_ENV: 'development',
  LOG_LEVEL: 'info',
  JWT_ISSUER: 'koa-sentinel',
  JWT_AUDIENCE: 'koa-sentinel-api',
  ACCESS_TOKEN_TTL: '15m',
  REFRESH_TOKEN_TTL: '12h',
  SESSION_ABSOLUTE_TTL: '7d',
  JWT_CLOCK_TOLERANCE: '5s',
  ES_INDEX_PREFIX: 'sentinel',
  SPOOL_DIR: './.sentinel-spool',
  ANOMALY_CRON: '*/5 * * * *',
  REVIEW_CRON: '0 23 * * *',
  RETENTION_CRON: '30 3 * * *',
  RETENTION_EVENTS_DAYS: '90',
  RETENTION_ACCESS_DAYS: '14',
  RETENTION_ALERTS_DAYS: '365',
  RETENTION_DEADLETTER_DAYS: '30',
} as const;

/** The most clock skew we accept between servers: beyond this a stolen expired token lives noticeably longer. */
const MAX_CLOCK_TOLERANCE_SEC = 60;
const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const NODE_ENVS: readonly NodeEnv[] = ['production', 'development', 'test'];
/** Lowercase letters, digits, - and _, not starting with - or _: what Elasticsearch allows at an index's start. */
export const INDEX_PREFIX = /^[a-z0-9][a-z0-9_-]*$/;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const get = (name: string, fallback?: string): string | undefined => envValue(env, name, fallback);
  const duration = (name: keyof typeof DEFAULTS & string, allowZero = false): number => {
    const text = get(name, DEFAULTS[name])!;
    const ms = parseDuration(text);
    if (ms === undefined || ms < 0 || (ms === 0 && !allowZero)) {
      problems.push(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} duration such as 900, 15m, 12h or 7d (got "${text}")`);
      return 1;
    }
    return ms;
  };
  const bool = (name: string): boolean => {
    const text = get(name, 'false')!.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(text)) return true;
    if (['0', 'false', 'no', 'off'].includes(text)) return false;
    problems.push(`${name} must be true or false (got "${text}")`);
    return false;
  };
  const days = (name: keyof typeof DEFAULTS & string): number => {
    const text = get(name, DEFAULTS[name])!;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) problems.push(`${name} must be a whole number of days, at least 1 (got "${text}")`);
    return value;
  };
  const url = (name: string, protocols: string[]): string | undefined => {
    const text = get(name);
    if (text === undefined) return undefined;
    try {
      const parsed = new URL(text);
      if (!protocols.includes(parsed.protocol)) throw new Error('protocol');
    } catch {
      problems.push(`${name} must be a ${protocols.join(' or ')} URL (got "${redactUrl(text)}")`);
    }
    return text;
  };

  const nodeEnv = get('NODE_ENV', DEFAULTS.NODE_ENV) as NodeEnv;
  if (!NODE_ENVS.includes(nodeEnv)) problems.push(`NODE_ENV must be one of ${NODE_ENVS.join(', ')} (got "${nodeEnv}")`);

  const portText = get('PORT', DEFAULTS.PORT)!;
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`PORT must be an integer from 0 to 65535 (got "${portText}")`);

  const logLevel = get('LOG_LEVEL', DEFAULTS.LOG_LEVEL) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);

  const { keys, activeKid } = readKeys(env, problems);
  const ephemeral = keys.length === 0;
  if (ephemeral && nodeEnv === 'production') {
    problems.push('JWT_SECRET or JWT_KEYS_FILE is required when NODE_ENV=production (ephemeral keys would log everyone out on restart and differ between instances)');
  }

  const accessTtlMs = duration('ACCESS_TOKEN_TTL');
  const refreshTtlMs = duration('REFRESH_TOKEN_TTL');
  const absoluteTtlMs = duration('SESSION_ABSOLUTE_TTL');
  if (accessTtlMs >= refreshTtlMs) problems.push('ACCESS_TOKEN_TTL must be shorter than REFRESH_TOKEN_TTL');
  if (refreshTtlMs > absoluteTtlMs) problems.push('REFRESH_TOKEN_TTL must not be longer than SESSION_ABSOLUTE_TTL');
  const toleranceMs = duration('JWT_CLOCK_TOLERANCE', true);
  if (toleranceMs > MAX_CLOCK_TOLERANCE_SEC * 1000) problems.push(`JWT_CLOCK_TOLERANCE must be at most ${MAX_CLOCK_TOLERANCE_SEC}s`);

  const allowedOrigins = (get('ALLOWED_ORIGINS') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const origin of allowedOrigins) {
    try {
      if (new URL(origin).origin !== origin) throw new Error('not an origin');
    } catch {
      problems.push(`ALLOWED_ORIGINS entries must be origins such as https://app.example.com (got "${origin}")`);
    }
  }

  const usersFile = get('AUTH_USERS_FILE');
  if (usersFile === undefined && nodeEnv === 'production') problems.push('AUTH_USERS_FILE is required when NODE_ENV=production');

  const indexPrefix = get('ES_INDEX_PREFIX', DEFAULTS.ES_INDEX_PREFIX)!;
  // The client factory checks these too, naming its options; here the operator reads the variables they set.
  if (get('ELASTICSEARCH_API_KEY') && (get('ELASTICSEARCH_USERNAME') || get('ELASTICSEARCH_PASSWORD'))) {
    problems.push('Give ELASTICSEARCH_API_KEY or ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD, not both.');
  }
  if (Boolean(get('ELASTICSEARCH_USERNAME')) !== Boolean(get('ELASTICSEARCH_PASSWORD'))) {
    problems.push('ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD go together.');
  }
  if (!INDEX_PREFIX.test(indexPrefix)) problems.push(`ES_INDEX_PREFIX must be lowercase letters, digits, - or _ (got "${indexPrefix}")`);

  const config: Config = {
    nodeEnv,
    port,
    host: get('HOST', DEFAULTS.HOST)!,
    trustProxy: bool('TRUST_PROXY'),
    logLevel,
    jwt: {
      keys,
      activeKid,
      ephemeral,
      issuer: get('JWT_ISSUER', DEFAULTS.JWT_ISSUER)!,
      audience: get('JWT_AUDIENCE', DEFAULTS.JWT_AUDIENCE)!,
      accessTtlMs,
      refreshTtlMs,
      absoluteTtlMs,
      clockToleranceSec: Math.floor(toleranceMs / 1000),
    },
    auth: { usersFile, bearer: bool('BEARER_AUTH'), allowedOrigins },
    elasticsearch: {
      url: url('ELASTICSEARCH_URL', ['http:', 'https:']),
      apiKey: get('ELASTICSEARCH_API_KEY'),
      username: get('ELASTICSEARCH_USERNAME'),
      password: get('ELASTICSEARCH_PASSWORD'),
      caCertFile: get('ELASTICSEARCH_CA_CERT'),
      indexPrefix,
    },
    spoolDir: get('SPOOL_DIR', DEFAULTS.SPOOL_DIR)!,
    retention: {
      events: days('RETENTION_EVENTS_DAYS'),
      access: days('RETENTION_ACCESS_DAYS'),
      alerts: days('RETENTION_ALERTS_DAYS'),
      deadletter: days('RETENTION_DEADLETTER_DAYS'),
      cron: get('RETENTION_CRON', DEFAULTS.RETENTION_CRON)!,
    },
    redisUrl: url('REDIS_URL', ['redis:', 'rediss:']),
    anomalyCron: get('ANOMALY_CRON', DEFAULTS.ANOMALY_CRON)!,
    reviewCron: get('REVIEW_CRON', DEFAULTS.REVIEW_CRON)!,
    alertWebhookUrl: url('ALERT_WEBHOOK_URL', ['http:', 'https:']),
  };
  if (problems.length > 0) throw new ConfigurationError(problems);
  return config;
}

/** Strips credentials from a URL before it goes into a message. */
export function redactUrl(text: string): string {
  return text.replace(/\/\/[^/@]*@/, '//***@');
}
