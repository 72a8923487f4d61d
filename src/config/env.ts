import { isIP } from 'node:net';
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
  /** Proxies in front of us: 0 for none, a number of hops, or addresses and CIDR ranges (TRUST_PROXY). */
  trustProxy: number | string[];
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
    /** PUBLIC_ORIGIN's origins (where the browser client is served), required in production. */
    publicOrigins: string[];
    /** Every origin that may send unsafe requests: PUBLIC_ORIGIN then ALLOWED_ORIGINS. */
    allowedOrigins: string[];
  };
  elasticsearch: {
    /** ELASTICSEARCH_URL as given (for messages, credentials redacted by redactUrl). */
    url: string | undefined;
    /** Every node's URL: ELASTICSEARCH_URL may list the nodes of a cluster, comma-separated. */
    urls: string[];
    apiKey: string | undefined;
    username: string | undefined;
    password: string | undefined;
    caCertFile: string | undefined;
    indexPrefix: string;
    /** ELASTICSEARCH_ALLOW_HTTP: plain http accepted in production (ASVS 16.4.3 wants TLS to the log store). */
    allowHttp: boolean;
  };
  spoolDir: string;
  /** SPOOL_ON_FAILURE: drop (default: serve on, count the losses) or refuse (503 while the spool cannot be written). */
  spoolOnFailure: 'drop' | 'refuse';
  /** Each job's cron, or false (`off`): a deployment that runs its jobs elsewhere, under the jobs identity. */
  retention: { events: number; access: number; alerts: number; deadletter: number; cron: string | false };
  redisUrl: string | undefined;
  anomalyCron: string | false;
  reviewCron: string | false;
  alertWebhookUrl: string | undefined;
  /** Geolocation of client addresses (docs/enrichment.md): GEOIP, GEOIP_CITY_DATABASE, GEOIP_ASN_DATABASE. */
  geo: {
    /** GEOIP=off turns it off. */
    enabled: boolean;
    /** Paths; undefined means the default database (DB-IP City Lite, when installed). */
    cityDatabase: string[] | undefined;
    asnDatabase: string[] | undefined;
  };
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
  SPOOL_ON_FAILURE: 'drop',
  ANOMALY_CRON: '*/5 * * * *',
  REVIEW_CRON: '0 23 * * *',
  RETENTION_CRON: '30 3 * * *',
  RETENTION_EVENTS_DAYS: '90',
  RETENTION_ACCESS_DAYS: '14',
  RETENTION_ALERTS_DAYS: '365',
  RETENTION_DEADLETTER_DAYS: '30',
} as const;

/** More hops than any real chain of proxies: a larger TRUST_PROXY is a typo. */
const MAX_PROXY_HOPS = 16;
/** The old boolean spellings of TRUST_PROXY: true meant "believe X-Forwarded-For", now one hop. */
const TRUST_PROXY_WORDS: Record<string, number> = { true: 1, yes: 1, on: 1, false: 0, no: 0, off: 0 };

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
  // `shown` is what the message may quote: an entry of a list is cut out of the whole value, and a password holding a
  // comma is cut with it, so such an entry is shown as the whole value, redacted.
  const url = (name: string, protocols: string[], given?: string, shown?: string): string | undefined => {
    const text = given ?? get(name);
    if (text === undefined) return undefined;
    try {
      const parsed = new URL(text);
      if (!protocols.includes(parsed.protocol)) throw new Error('protocol');
    } catch {
      problems.push(`${name} must be a ${protocols.join(' or ')} URL (got "${redactUrl(shown ?? text)}")`);
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

  const origins = (name: string): string[] => {
    const list = (get(name) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    for (const origin of list) {
      try {
        if (new URL(origin).origin !== origin) throw new Error('not an origin');
      } catch {
        problems.push(`${name} entries must be origins such as https://app.example.com (got "${origin}")`);
      }
    }
    return list;
  };
  // The CSRF check compares Origin with these and never with Host or X-Forwarded-Host, which the client writes.
  const publicOrigins = origins('PUBLIC_ORIGIN');
  if (publicOrigins.length === 0 && nodeEnv === 'production') {
    problems.push('PUBLIC_ORIGIN is required when NODE_ENV=production: the origin(s) browsers load the app from, such as https://app.example.com');
  }
  const allowedOrigins = [...new Set([...publicOrigins, ...origins('ALLOWED_ORIGINS')])];
  const trustProxy = parseTrustProxy(get('TRUST_PROXY'), problems);
  const spoolOnFailure = get('SPOOL_ON_FAILURE', DEFAULTS.SPOOL_ON_FAILURE)!;
  if (spoolOnFailure !== 'drop' && spoolOnFailure !== 'refuse') problems.push(`SPOOL_ON_FAILURE must be drop or refuse (got "${spoolOnFailure}")`);
  const geo = parseGeo(get, problems);

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
  const esUrl = get('ELASTICSEARCH_URL');
  const esUrls = (esUrl ?? '').split(',').map((part) => part.trim()).filter(Boolean);
  for (const node of esUrls) url('ELASTICSEARCH_URL', ['http:', 'https:'], node, esUrl!.includes('@') ? esUrl : node);
  if (esUrl !== undefined && esUrls.length === 0) problems.push('ELASTICSEARCH_URL must name at least one http or https URL');
  // `off` leaves a job to another process: the app's Elasticsearch identity can only create documents, so the
  // anomaly rules, the review and retention run in a jobs container with identities of their own.
  const cronOrOff = (name: string, fallback: string): string | false => {
    const value = get(name, fallback)!;
    return /^(off|false|none)$/i.test(value) ? false : value;
  };
  const allowHttp = bool('ELASTICSEARCH_ALLOW_HTTP');
  // Events and access records carry user names and addresses: in production they travel over TLS unless the
  // operator says the network is private (a sidecar, a service mesh that encrypts) — ASVS 16.4.3.
  if (nodeEnv === 'production' && esUrls.some((node) => node.startsWith('http:')) && !allowHttp) {
    problems.push('ELASTICSEARCH_URL must be https:// when NODE_ENV=production; set ELASTICSEARCH_ALLOW_HTTP=true if the link is private or encrypted otherwise');
  }

  const config: Config = {
    nodeEnv,
    port,
    host: get('HOST', DEFAULTS.HOST)!,
    trustProxy,
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
    auth: { usersFile, bearer: bool('BEARER_AUTH'), publicOrigins, allowedOrigins },
    elasticsearch: {
      url: esUrl,
      urls: esUrls,
      apiKey: get('ELASTICSEARCH_API_KEY'),
      username: get('ELASTICSEARCH_USERNAME'),
      password: get('ELASTICSEARCH_PASSWORD'),
      caCertFile: get('ELASTICSEARCH_CA_CERT'),
      indexPrefix,
      allowHttp,
    },
    spoolDir: get('SPOOL_DIR', DEFAULTS.SPOOL_DIR)!,
    spoolOnFailure: spoolOnFailure as Config['spoolOnFailure'],
    retention: {
      events: days('RETENTION_EVENTS_DAYS'),
      access: days('RETENTION_ACCESS_DAYS'),
      alerts: days('RETENTION_ALERTS_DAYS'),
      deadletter: days('RETENTION_DEADLETTER_DAYS'),
      cron: cronOrOff('RETENTION_CRON', DEFAULTS.RETENTION_CRON),
    },
    redisUrl: url('REDIS_URL', ['redis:', 'rediss:']),
    anomalyCron: cronOrOff('ANOMALY_CRON', DEFAULTS.ANOMALY_CRON),
    reviewCron: cronOrOff('REVIEW_CRON', DEFAULTS.REVIEW_CRON),
    alertWebhookUrl: url('ALERT_WEBHOOK_URL', ['http:', 'https:']),
    geo,
  };
  if (problems.length > 0) throw new ConfigurationError(problems);
  return config;
}

/**
 * TRUST_PROXY: a number of hops (0 = none), or a comma-separated list of addresses and CIDR ranges of the proxies
 * (proxy-addr's names loopback, linklocal and uniquelocal too). true/yes/on still mean one hop (deprecated).
 */
function parseTrustProxy(text: string | undefined, problems: string[]): number | string[] {
  if (text === undefined) return 0;
  const word = TRUST_PROXY_WORDS[text.toLowerCase()];
  if (word !== undefined) return word;
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops > MAX_PROXY_HOPS) problems.push(`TRUST_PROXY must be at most ${MAX_PROXY_HOPS} hops (got "${text}")`);
    return hops;
  }
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  const names = new Set(['loopback', 'linklocal', 'uniquelocal']);
  for (const entry of list) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (!names.has(entry) && (family === 0 || !bitsOk || extra !== undefined)) {
      problems.push(`TRUST_PROXY must be a number of hops or a comma-separated list of proxy addresses and CIDR ranges such as 10.0.0.0/8 (got "${entry}")`);
    }
  }
  return list;
}

/**
 * GEOIP (on by default; off, false, no or 0 for off) and the database paths, comma-separated (ip-location-db ships
 * IPv4 and IPv6 apart). Whether the files open is checked at start, where the error names the file.
 */
function parseGeo(get: (name: string) => string | undefined, problems: string[]): Config['geo'] {
  const switchText = (get('GEOIP') ?? 'on').toLowerCase();
  const enabled = !['off', 'false', 'no', '0'].includes(switchText);
  if (enabled && !['on', 'true', 'yes', '1'].includes(switchText)) problems.push(`GEOIP must be on or off (got "${switchText}")`);
  const list = (name: string): string[] | undefined => {
    const text = get(name);
    return text === undefined ? undefined : text.split(',').map((s) => s.trim()).filter(Boolean);
  };
  const cityDatabase = list('GEOIP_CITY_DATABASE');
  const asnDatabase = list('GEOIP_ASN_DATABASE');
  if (!enabled && (cityDatabase || asnDatabase)) problems.push('GEOIP=off and GEOIP_CITY_DATABASE or GEOIP_ASN_DATABASE contradict each other: remove one');
  return { enabled, cityDatabase, asnDatabase };
}

/** Strips credentials from a URL before it goes into a message. */
export function redactUrl(text: string): string {
  // Up to the last @ before the path, every URL of a list: a password may hold an @ or a comma.
  return text.replace(/\/\/[^/]*@/g, '//***@');
}
