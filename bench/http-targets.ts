/**
 * One benchmark target per process, so the load generator (bench/index.ts) never shares a core's event loop with
 * the server it measures. Prints one JSON line: { port, cookie, path, count? }, where `count` names the indices
 * that receive one document per request (the targets that ship), so the runner can wait for their backlog.
 *   bare      Koa + the route
 *   sentinel  Koa + createSessionKit's authenticate + requireAuth + the route (cookie verification)
 *   app       the whole reference app (request id, headers, error handler, body limits, auth, CSRF, routes)
 *   full      app + ECS request log + every document shipped to Elasticsearch (ELASTICSEARCH_URL)
 *   koa-jwt   Koa + koa-jwt in cookie mode with a string secret + the route (the usual alternative)
 *   peer      the stack a user would assemble instead, shipping to the same Elasticsearch: Koa + koa-jwt (cookie,
 *             KeyObject secret: its fastest setup) + koa-pino-logger with @elastic/ecs-pino-format + pino-elasticsearch
 *   redis     the sentinel target with the Redis store (REDIS_URL): the session check goes through its local cache
 *   auth-memory, auth-redis
 *             the reference app with the memory or the Redis store and one user, for POST /auth/login and
 *             /auth/refresh throughput (cheap scrypt, ln=10, so the store's cost is not hidden behind hashing)
 */
import { createSecretKey, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import Koa from 'koa';
import jwt from 'jsonwebtoken';
import koaJwt from 'koa-jwt';
import pino from 'pino';
import { ecsFormat } from '@elastic/ecs-pino-format';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createElasticClient } from '../src/elastic/client.js';
import { jsonBody } from '../src/http/json-body.js';
import { setupElasticsearch } from '../src/elastic/setup.js';
import { createShipper } from '../src/elastic/shipper.js';
import { createLogger } from '../src/logging/logger.js';
import { createApp } from '../src/service/app.js';
import { createKeyRing } from '../src/session/key-ring.js';
import { hashPassword } from '../src/session/passwords.js';
import { createRedisStore } from '../src/session/redis-store.js';
import { createSessionKit } from '../src/session/session-kit.js';
import { createMemoryUserDirectory } from '../src/session/users.js';

// CommonJS modules whose typings do not describe their module.exports function (or have none).
const require = createRequire(import.meta.url);
const pinoElastic = require('pino-elasticsearch') as typeof import('pino-elasticsearch').default;
const koaPinoLogger = require('koa-pino-logger') as (options: { logger: pino.Logger }) => Koa.Middleware;

const variant = process.argv[2];
let spoolDir: string | undefined;
const secret = randomBytes(32);
const keyRing = createKeyRing([{ kid: 'bench', alg: 'HS256', secret }]);
/** The bench user's password (also in bench/index.ts); cheap scrypt (ln=10) so hashing never hides the store's cost. */
const AUTH_PASSWORD = 'bench password 0123456789';
const passwordParams = { ln: 10, r: 8, p: 1 };
/** `bench`, and `bench-0` … `bench-19` for the login runs: one account per connection, as many users log in at once. */
const AUTH_USERS = 20;
const benchHash = await hashPassword(AUTH_PASSWORD, passwordParams);
const users = createMemoryUserDirectory([
  { id: 'u_bench', name: 'bench', roles: ['user'], passwordHash: benchHash },
  ...Array.from({ length: AUTH_USERS }, (_, i) => ({ id: `u_bench_${i}`, name: `bench-${i}`, roles: ['user'], passwordHash: benchHash })),
]);
const route = (ctx: Koa.Context): void => {
  ctx.body = { message: `Hello, ${ctx.state.user?.name ?? 'world'}.` };
};

/**
 * A session cookie from a real login through the kit's own routes (on a throwaway server), so the access token
 * carries everything the kit checks (credential fingerprint, session family in the kit's store).
 */
async function sessionCookie(kit: ReturnType<typeof createSessionKit>): Promise<string> {
  const login = new Koa();
  login.use(jsonBody());
  login.use(kit.routes());
  const server = login.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bench', password: AUTH_PASSWORD }),
    });
    const access = response.headers.getSetCookie().find((line) => line.startsWith('__Host-sentinel_at='));
    if (response.status !== 200 || !access) throw new Error(`bench login failed: ${response.status}`);
    return access.split(';')[0]!;
  } finally {
    server.closeAllConnections();
    server.close();
  }
}


async function readyRedisStore() {
  // A prefix per run, so a REDIS_URL given by the user only gains keys that expire by themselves.
  const store = createRedisStore({ url: process.env.REDIS_URL!, keyPrefix: `bench-${Date.now().toString(36)}:` });
  await store.ready();
  return store;
}

/** The route behind cookie verification only, as an API developer would mount it. */
function verifiedRoute(kit: ReturnType<typeof createSessionKit>): Koa {
  const verified = new Koa();
  verified.use(kit.authenticate);
  verified.use(kit.requireAuth);
  verified.use(async (ctx) => route(ctx));
  return verified;
}

let app: Koa;
let cookie = '';
let count: string | undefined;
switch (variant) {
  case 'bare':
    // The same request bytes as the sentinel target (cookie included); only the verification is missing.
    app = new Koa();
    app.use(async (ctx) => route(ctx));
    cookie = await sessionCookie(createSessionKit({ keyRing, users, passwordParams }));
    break;
  case 'sentinel': {
    const kit = createSessionKit({ keyRing, users, passwordParams });
    app = verifiedRoute(kit);
    cookie = await sessionCookie(kit);
    break;
  }
  case 'app': {
    // As the reference server runs without Elasticsearch: one ECS line per request on stdout (here a null stream).
    const stdout = { write: (): boolean => true };
    const built = createApp({ logger: createLogger({ name: 'bench', stdout }), session: { keyRing, users, passwordParams } });
    app = built.app;
    cookie = await sessionCookie(built.kit);
    break;
  }
  case 'full': {
    // The whole reference app plus shipping (docs/elasticsearch.md#shipping-guarantees): every request logged (ECS)
    // and every log and security event shipped to Elasticsearch through the spool. ELASTICSEARCH_URL is set by
    // bench/index.ts.
    const client = createElasticClient({ url: process.env.ELASTICSEARCH_URL! });
    const indexPrefix = `bench-${Date.now().toString(36)}`;
    await setupElasticsearch(client, indexPrefix);
    count = `${indexPrefix}-access-*`;
    spoolDir = mkdtempSync(join(tmpdir(), 'bench-spool-'));
    const shipper = createShipper({ client, indexPrefix, dir: spoolDir });
    shipper.start();
    const built = createApp({ logger: createLogger({ name: 'bench', stdout: false, sinks: [shipper] }), session: { keyRing, users, passwordParams } });
    app = built.app;
    cookie = await sessionCookie(built.kit);
    setInterval(() => console.error(JSON.stringify({ shipper: shipper.stats() })), 5000).unref();
    break;
  }
  case 'redis': {
    // REDIS_URL is set by bench/index.ts (a redis-server it started, unless one was given).
    const kit = createSessionKit({ keyRing, users, passwordParams, store: await readyRedisStore() });
    app = verifiedRoute(kit);
    cookie = await sessionCookie(kit);
    break;
  }
  case 'auth-memory':
  case 'auth-redis': {
    const quiet = new Writable({ write: (_c, _e, cb) => cb() });
    const store = variant === 'auth-redis' ? await readyRedisStore() : undefined;
    const built = createApp({ logger: createLogger({ name: 'bench', streams: [{ stream: quiet }] }), session: { keyRing, users, passwordParams, store } });
    app = built.app;
    break;
  }
  case 'koa-jwt': {
    const stringSecret = secret.toString('hex');
    app = new Koa();
    app.use(koaJwt({ secret: stringSecret, cookie: 'token', algorithms: ['HS256'] }));
    app.use(async (ctx) => route(ctx));
    cookie = `token=${jwt.sign({ sub: 'u_bench', name: 'bench' }, stringSecret, { algorithm: 'HS256', expiresIn: '1h' })}`;
    break;
  }
  case 'peer': {
    // What the koa-jwt, koa-pino-logger and pino-elasticsearch READMEs show, with the faster KeyObject secret: one
    // ECS line per request (pino-http's "request completed"), shipped in bulk by pino-elasticsearch's own client.
    const key = createSecretKey(secret);
    const index = `bench-peer-${Date.now().toString(36)}`;
    const stream = pinoElastic({ index, node: process.env.ELASTICSEARCH_URL!, esVersion: 8, flushBytes: 100_000, flushInterval: 1000 });
    stream.on('error', (error: Error) => console.error(`pino-elasticsearch: ${error.message}`));
    const logger = pino({ ...ecsFormat() }, stream);
    app = new Koa();
    app.use(koaPinoLogger({ logger }));
    app.use(koaJwt({ secret: key as unknown as string, cookie: 'token', algorithms: ['HS256'] }));
    app.use(async (ctx) => {
      if (ctx.path === '/api/hello') route(ctx);
    });
    cookie = `token=${jwt.sign({ sub: 'u_bench', name: 'bench' }, key, { algorithm: 'HS256', expiresIn: '1h' })}`;
    count = `${index}*`;
    break;
  }
  default:
    console.error(`unknown variant ${variant}`);
    process.exit(2);
}
const path = variant === 'app' || variant === 'full' || variant === 'peer' ? '/api/hello' : variant.startsWith('auth-') ? '/auth/login' : '/';
const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port, cookie, path, count }));
});
// Killed by the bench when it is done: the spool of a shipping target is thrown away (its documents were counted).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
    process.exit(0);
  });
}
