import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import type { Redis } from 'ioredis';
import { ConfigurationError } from '../../../src/errors.js';
import { openRedisClient, type RedisClientOptions } from '../../../src/session/redis/client.js';
import { FakeRedis } from '../../support/fake-redis.js';

describe('openRedisClient', () => {
  it('builds a client that fails fast while disconnected and reconnects forever with a capped back-off', () => {
    // Port 1 on loopback: nothing listens, the client only ever sees refused connections.
    const { client, owned } = openRedisClient({ url: 'redis://127.0.0.1:1', maxReconnectDelayMs: 400 }, 300);
    client.on('error', () => {});
    try {
      assert.equal(owned, true);
      const { options } = client;
      assert.equal(options.enableOfflineQueue, false);
      assert.equal(options.commandTimeout, 300);
      assert.equal(options.connectTimeout, 1000);
      assert.equal(options.maxRetriesPerRequest, 0);
      assert.equal(options.autoResendUnfulfilledCommands, false);
      assert.deepEqual([1, 2, 3, 4, 20].map((attempt) => options.retryStrategy!(attempt)), [50, 100, 200, 400, 400]);
      assert.equal(options.reconnectOnError!(new Error('READONLY You can\'t write against a read only replica.')), true);
      assert.equal(options.reconnectOnError!(new Error('ERR unknown command')), false);
    } finally {
      client.disconnect();
    }
  });

  it('uses a client it is given as it is, and warns with a code when that client would queue commands offline', () => {
    const warnings: Array<{ code?: string }> = [];
    const emitWarning = mock.method(process, 'emitWarning', (_message: string, options: { code?: string }) => void warnings.push(options));
    try {
      const fake = new FakeRedis();
      assert.deepEqual(openRedisClient({ client: fake.asRedis() }, 500), { client: fake, owned: false });
      assert.equal(warnings.length, 0);
      fake.options = { enableOfflineQueue: true, commandTimeout: 500 };
      openRedisClient({ client: fake.asRedis() }, 500);
      fake.options = { enableOfflineQueue: false };
      openRedisClient({ client: fake.asRedis() }, 500);
      assert.deepEqual(warnings.map((w) => w.code), ['SENTINEL_REDIS_UNBOUNDED', 'SENTINEL_REDIS_UNBOUNDED']);
    } finally {
      emitWarning.mock.restore();
    }
  });

  it('validates its options before connecting anywhere', () => {
    const cases: Array<[RedisClientOptions, RegExp]> = [
      [{}, /exactly one of the url and client/],
      [{ url: 'redis://x', client: new FakeRedis().asRedis() }, /exactly one of the url and client/],
      [{ url: 'http://localhost:6379' }, /redis:\/\/ or rediss:\/\//],
      [{ url: 'not a url' }, /redis:\/\/ or rediss:\/\//],
      [{ client: {} as Redis }, /ioredis client/],
      [{ url: 'redis://x', connectTimeoutMs: 0 }, /connectTimeoutMs option must be a finite, positive number/],
      [{ url: 'redis://x', maxReconnectDelayMs: Number.NaN }, /maxReconnectDelayMs/],
      [{ url: 'redis://x', maxRetriesPerRequest: 1.5 }, /maxRetriesPerRequest option must be a non-negative integer/],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => openRedisClient(options, 500), (error: unknown) => error instanceof ConfigurationError && message.test(error.message), JSON.stringify(options));
    }
  });
});
