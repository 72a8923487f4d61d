import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { ConfigurationError } from '../../../src/errors.js';
import { SYSTEM_CLOCK } from '../../../src/session/redis/clock.js';
import { createRedisConnection, type RedisConnectionOptions } from '../../../src/session/redis/connection.js';
import { SessionStoreError } from '../../../src/session/redis/errors.js';
import { FakeRedis, replyError } from '../../support/fake-redis.js';

// mock.timers fakes Date and setTimeout; the system clock reads them at each call. Monotonic time follows Date here.
const clock = { ...SYSTEM_CLOCK, monotonic: () => Date.now() };

let fake: FakeRedis;
beforeEach(() => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  fake = new FakeRedis();
});
afterEach(() => mock.timers.reset());

function connect(options: Partial<RedisConnectionOptions> = {}) {
  return createRedisConnection({ client: fake.asRedis(), clock, ...options });
}

/** Whether `promise` has settled, without waiting for it. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('createRedisConnection: status', () => {
  it('reports each transition once, with the error that caused a drop, and keeps the last error with its time', () => {
    const reports: Array<[string, string | undefined]> = [];
    const connection = connect({ onStatus: (status, error) => reports.push([status, error?.message]) });
    assert.equal(connection.connected, false);
    fake.connect();
    fake.connect();
    assert.deepEqual(reports, [['ready', undefined]]);
    assert.equal(connection.connected, true);

    mock.timers.tick(1500);
    fake.drop();
    fake.fail('connect ECONNREFUSED 127.0.0.1:6379');
    fake.fail('connect ECONNREFUSED 127.0.0.1:6379');
    assert.deepEqual(reports, [['ready', undefined], ['down', 'the connection to Redis closed']], 'one down for the whole outage');
    assert.equal(connection.connected, false);
    assert.deepEqual(connection.lastError, { message: 'connect ECONNREFUSED 127.0.0.1:6379', at: 1500 });

    fake.connect();
    assert.deepEqual(reports.map(([status]) => status), ['ready', 'down', 'ready']);
  });

  it('reports down when an error arrives before the first connection, and survives a throwing status hook', () => {
    const reports: string[] = [];
    connect({
      onStatus: (status) => {
        reports.push(status);
        throw new Error('broken hook');
      },
    });
    fake.fail('connect ECONNREFUSED');
    fake.connect();
    assert.deepEqual(reports, ['down', 'ready']);
  });

  it('stops reporting after close(), and leaves a client it did not build open', async () => {
    const reports: string[] = [];
    const connection = connect({ onStatus: (status) => reports.push(status) });
    fake.connect();
    await connection.close();
    await connection.close();
    fake.drop();
    fake.fail('late error');
    assert.deepEqual(reports, ['ready']);
    assert.equal(fake.quits, 0);
    assert.deepEqual(fake.disconnects, []);
  });

  it('ready() resolves when connected and the extra condition holds, and fails with store_unreachable after its timeout', async () => {
    const connection = connect();
    let listening = false;
    const waiting = connection.ready(1000, () => listening);
    fake.connect();
    assert.equal(await settled(waiting), false, 'connected but not listening yet');
    listening = true;
    connection.recheck();
    await waiting;

    fake.drop();
    fake.fail('connection reset');
    const late = connection.ready(1000);
    mock.timers.tick(999);
    assert.equal(await settled(late), false);
    mock.timers.tick(1);
    await assert.rejects(late, (error: unknown) => {
      assert.ok(error instanceof SessionStoreError);
      assert.equal(error.code, 'store_unreachable');
      assert.equal((error.cause as Error).message, 'connection reset');
      return true;
    });
  });
});

describe('createRedisConnection: commands fail closed', () => {
  it('fails a command with store_timeout after commandTimeoutMs and frees its slot; its late answer is ignored', async () => {
    const connection = connect({ commandTimeoutMs: 300 });
    fake.connect();
    const call = connection.run('getFailures', (client) => client.del('k'));
    assert.equal(connection.inFlight, 1);
    mock.timers.tick(299);
    assert.equal(await settled(call), false);
    mock.timers.tick(1);
    await assert.rejects(call, (error: unknown) => error instanceof SessionStoreError && error.code === 'store_timeout' && error.operation === 'getFailures');
    assert.equal(connection.inFlight, 0);
    assert.match(connection.lastError!.message, /getFailures failed \(store_timeout/);
    fake.answer(1);
    const next = connection.run('clearFailures', (client) => client.del('k'));
    fake.answer(1);
    assert.equal(await next, 1);
  });

  it('refuses calls beyond maxInFlight at once with store_overloaded', async () => {
    const connection = connect({ maxInFlight: 2 });
    fake.connect();
    const first = connection.run('a', (client) => client.del('1'));
    const second = connection.run('b', (client) => client.del('2'));
    await assert.rejects(connection.run('c', (client) => client.del('3')), (error: unknown) => error instanceof SessionStoreError && error.code === 'store_overloaded');
    assert.equal(fake.pending.length, 2, 'the refused call never reached the client');
    fake.answer(1);
    fake.answer(1);
    await Promise.all([first, second]);
    assert.equal(connection.inFlight, 0);
  });

  it('maps client errors at the boundary, keeping the original as cause', async () => {
    const connection = connect();
    fake.connect();
    const cases: Array<[Error, string]> = [
      [replyError('ERR wrong number of arguments'), 'store_reply'],
      [replyError('LOADING Redis is loading the dataset in memory'), 'store_unreachable'],
      [replyError('READONLY You can\'t write against a read only replica.'), 'store_unreachable'],
      [new Error('Command timed out'), 'store_timeout'],
      [new Error("Stream isn't writeable and enableOfflineQueue options is false"), 'store_unreachable'],
    ];
    for (const [cause, code] of cases) {
      await assert.rejects(connection.run('op', () => Promise.reject(cause)), (error: unknown) => {
        assert.ok(error instanceof SessionStoreError);
        assert.equal(error.code, code, cause.message);
        assert.equal(error.cause, cause);
        return true;
      });
    }
  });

  it('rejects with store_closed after close()', async () => {
    const connection = connect();
    fake.connect();
    await connection.close();
    await assert.rejects(connection.run('op', (client) => client.del('k')), (error: unknown) => error instanceof SessionStoreError && error.code === 'store_closed');
    assert.equal(fake.pending.length, 0);
  });
});

describe('createRedisConnection: options', () => {
  it('validates its options once, at construction', () => {
    const cases: Array<[Partial<RedisConnectionOptions>, RegExp]> = [
      [{ commandTimeoutMs: -1 }, /commandTimeoutMs option must be a finite, positive number/],
      [{ maxInFlight: Number.POSITIVE_INFINITY }, /maxInFlight/],
      [{ onStatus: 1 as never }, /onStatus/],
      [{ clock: { ...clock, setTimeout: undefined as never } }, /clock option/],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => connect(options), (error: unknown) => error instanceof ConfigurationError && message.test(error.message), JSON.stringify(options));
    }
  });
});
