/**
 * One benchmark target per process, so the load generator (bench/index.ts) never shares a core's event loop with
 * the server it measures. Prints one JSON line: { port, cookie }.
 *   bare      Koa + the route
 *   sentinel  Koa + createSessionKit's authenticate + requireAuth + the route (cookie verification)
 *   app       the whole reference app (request id, headers, error handler, body limits, auth, CSRF, routes)
 *   full      app + ECS request log + every document shipped to Elasticsearch (ELASTICSEARCH_URL)
 *   koa-jwt   Koa + koa-jwt in cookie mode with a string secret + the route (the usual alternative)
 *   redis     the sentinel target with the Redis store (REDIS_URL): the session check goes through its local cache
 *   auth-memory, auth-redis
 *             the reference app with the memory or the Redis store and one user, for POST /auth/login and
 *             /auth/refresh throughput (cheap scrypt, ln=10, so the store's cost is not hidden behind hashing)
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import Koa from 'koa';
import jwt from 'jsonwebtoken';
import koaJwt from 'koa-jwt';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createElasticClient } from '../src/elastic/client.js';
import { setupElasticsearch } from '../src/elastic/setup.js';
import { createShipper } from '../src/elastic/shipper.js';
import { createLogger } from '../src/logging/logger.js';
import { createApp } from '../src/service/app.js';
import { createKeyRing } from '../src/session/key-ring.js';
import { hashPassword } from '../src/session/passwords.js';
import { createRedisStore } from '../src/session/redis-store.js';
import { createSessionKit } from '../src/session/session-kit.js';
import { createMemoryUserDirectory } from '../src/session/users.js';

const variant = process.argv[2];
const secret = randomBytes(32);
const keyRing = createKeyRing([{ kid: 'bench', alg: 'HS256', secret }]);
const users = createMemoryUserDirectory([]);
const route = (ctx: Koa.Context): void => {
  ctx.body = { message: `Hello, ${ctx.state.user?.name ?? 'world'}.` };
};

async function sessionCookie(kit: ReturnType<typeof createSessionKit>): Promise<string> {
  const now = Date.now();
  const sid = randomUUID();
  await kit.store.createFamily({
    id: sid, userId: 'u_bench', userName: 'bench', roles: ['user'], createdAt: now, lastRotatedAt: now,
    currentJti: randomUUID(), previousJti: null, revoked: false, absoluteExpiresAt: now + 3_600_000,
  });
  const { token } = kit.tokens.issue('access', { sub: 'u_bench', sid, name: 'bench', roles: ['user'] }, 3_600_000);
  return `__Host-sentinel_at=${token}`;
}

/** The bench user's password for the auth-* targets (also in bench/index.ts). */
const AUTH_PASSWORD = 'bench password 0123456789';

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
switch (variant) {
  case 'bare':
    // The same request bytes as the sentinel target (cookie included); only the verification is missing.
    app = new Koa();
    app.use(async (ctx) => route(ctx));
    cookie = await sessionCookie(createSessionKit({ keyRing, users }));
    break;
  case 'sentinel': {
    const kit = createSessionKit({ keyRing, users });
    app = verifiedRoute(kit);
    cookie = await sessionCookie(kit);
    break;
  }
  case 'app': {
    const quiet = new Writable({ write: (_c, _e, cb) => cb() });
    const built = createApp({ logger: createLogger({ name: 'bench', streams: [{ stream: quiet }] }), session: { keyRing, users } });
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
    const shipper = createShipper({ client, indexPrefix, dir: mkdtempSync(join(tmpdir(), 'bench-spool-')) });
    shipper.start();
    const built = createApp({ logger: createLogger({ name: 'bench', stdout: false, sinks: [shipper] }), session: { keyRing, users } });
    app = built.app;
    cookie = await sessionCookie(built.kit);
    setInterval(() => console.error(JSON.stringify({ shipper: shipper.stats() })), 5000).unref();
    break;
  }
  case 'redis': {
    // REDIS_URL is set by bench/index.ts (a redis-server it started, unless one was given).
    const kit = createSessionKit({ keyRing, users, store: await readyRedisStore() });
    app = verifiedRoute(kit);
    cookie = await sessionCookie(kit);
    break;
  }
  case 'auth-memory':
  case 'auth-redis': {
    const params = { ln: 10, r: 8, p: 1 };
    const benchUsers = createMemoryUserDirectory([{ id: 'u_bench', name: 'bench', roles: ['user'], passwordHash: await hashPassword(AUTH_PASSWORD, params) }]);
    const quiet = new Writable({ write: (_c, _e, cb) => cb() });
    const store = variant === 'auth-redis' ? await readyRedisStore() : undefined;
    const built = createApp({ logger: createLogger({ name: 'bench', streams: [{ stream: quiet }] }), session: { keyRing, users: benchUsers, passwordParams: params, store } });
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
  default:
    console.error(`unknown variant ${variant}`);
    process.exit(2);
}
const path = variant === 'app' || variant === 'full' ? '/api/hello' : variant.startsWith('auth-') ? '/auth/login' : '/';
const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port, cookie, path }));
});
process.on('SIGINT', () => process.exit(0));
