import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { createRedisStore } from '../../src/session/redis-store.js';
import { startTestServer, type TestResponse, type TestServer } from '../support/http-server.js';
import { startRedis, type RedisProcess } from '../support/redis.js';

/**
 * Bursts of 50 parallel logins over HTTP, default policies, a fixed clock: the limits hold exactly as they do for
 * 50 sequential attempts, in one process (memory, Redis) and spread over three instances sharing one Redis.
 * Per source: 30 free failures, the 31st starts the delay, so 31 are judged (401) and 19 refused (429).
 * Per account: 10 free, so 11 judged and 39 refused.
 */

let redis: RedisProcess;
before(async () => {
  redis = await startRedis();
});
after(() => redis.destroy());

const T = Date.UTC(2031, 0, 1);
let prefixes = 0;
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function instances(kind: 'memory' | 'redis', count: number): Promise<TestServer[]> {
  const keyPrefix = `burst${(prefixes += 1)}:`;
  for (let i = 0; i < count; i += 1) {
    const store = kind === 'redis' ? createRedisStore({ url: redis.url, keyPrefix }) : undefined;
    await store?.ready();
    servers.push(await startTestServer({ trustProxy: true, session: { store, now: () => T } }));
  }
  return servers.slice(-count);
}

const tally = (responses: TestResponse[]): Record<number, number> => {
  const counts: Record<number, number> = {};
  for (const res of responses) counts[res.status] = (counts[res.status] ?? 0) + 1;
  return counts;
};

const CASES: Array<[string, 'memory' | 'redis', number]> = [
  ['one process, memory store', 'memory', 1],
  ['one process, Redis store', 'redis', 1],
  ['three instances sharing one Redis', 'redis', 3],
];

for (const [name, kind, count] of CASES) {
  describe(`bursts of 50 parallel logins (${name})`, () => {
    it('50 usernames from one address: the per-source limit holds as for 50 in sequence (31 judged, 19 refused)', async () => {
      const apps = await instances(kind, count);
      const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => apps[i % count]!.client().request('POST', '/auth/login', {
        json: { username: `user${i}`, password: 'Summer2024!' }, headers: { 'x-forwarded-for': '198.51.100.23' },
      })));
      const counts = tally(burst);
      console.log(`# ${name}: per source ${JSON.stringify(counts)}`);
      assert.deepEqual(counts, { 401: 31, 429: 19 });
      for (const res of burst.filter((r) => r.status === 429)) assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
      const locks = apps.flatMap((app) => app.eventsOf('authn_login_lock'));
      assert.deepEqual(locks.map((e) => e.event.reason), ['source'], 'one lock event, on the failure that started the delay');

      // The sequential control on fresh instances sharing a fresh prefix: the same numbers.
      const fresh = await instances(kind, count);
      const sequential: TestResponse[] = [];
      for (let i = 0; i < 50; i += 1) {
        sequential.push(await fresh[i % count]!.client().request('POST', '/auth/login', { json: { username: `user${i}`, password: 'Summer2024!' }, headers: { 'x-forwarded-for': '198.51.100.23' } }));
      }
      assert.deepEqual(tally(sequential), counts);
    });

    it('50 guesses at one account from 50 addresses: the per-account limit holds (11 judged, 39 refused)', async () => {
      const apps = await instances(kind, count);
      const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => apps[i % count]!.client().request('POST', '/auth/login', {
        json: { username: 'alice', password: `guess ${i}` }, headers: { 'x-forwarded-for': `203.0.113.${i}` },
      })));
      const counts = tally(burst);
      console.log(`# ${name}: per account ${JSON.stringify(counts)}`);
      assert.deepEqual(counts, { 401: 11, 429: 39 });
      const refused = apps.flatMap((app) => app.eventsOf('excess_rate_limit_exceeded'));
      assert.ok(refused.length === 39 && refused.every((e) => e.event.reason === 'account'));
    });
  });
}
