import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { createInvalidationListener, sessionNotice, userNotice, type InvalidationListener } from '../../../src/session/redis/invalidation.js';
import { createSessionCache, type SessionCache } from '../../../src/session/session-cache.js';
import { FakeRedis } from '../../support/fake-redis.js';

const CHANNEL = 'app:revoked';
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

let main: FakeRedis;
let cache: SessionCache;
let changes: boolean[];
let listener: InvalidationListener;
/** The listener's own connection (a duplicate of the command connection). */
let subscriber: FakeRedis;

/** Fills the cache with answers from lookups started now (the clock stays at 0: nothing expires here). */
function cacheSessions(entries: Record<string, string>): void {
  for (const [sessionId, userId] of Object.entries(entries)) cache.set(sessionId, userId, 0, cache.begin());
}

beforeEach(() => {
  main = new FakeRedis();
  cache = createSessionCache({ ttlMs: 250, now: () => 0 });
  changes = [];
  listener = createInvalidationListener({ client: main.asRedis(), channel: CHANNEL, target: cache, onChange: () => changes.push(listener.live) });
  subscriber = main.duplicates[0]!;
});

describe('createInvalidationListener', () => {
  it('listens on its own connection, without ioredis resubscribing behind its back, and is live once subscribed', async () => {
    assert.equal(main.duplicates.length, 1);
    assert.deepEqual(main.duplicateOptions[0], { autoResubscribe: false, connectionName: 'koa-sentinel-invalidation' });
    assert.equal(listener.live, false);
    cacheSessions({ early: 'alice' });
    subscriber.connect();
    await flush();
    assert.deepEqual(subscriber.subscribeCalls, [CHANNEL]);
    assert.equal(listener.live, true);
    assert.deepEqual(changes, [true]);
    assert.equal(cache.size, 0, 'an answer cached before listening may have missed its notice');
  });

  it('drops the session or the user a notice names, and everything on a notice it does not know', async () => {
    subscriber.connect();
    await flush();
    cacheSessions({ s1: 'alice', s2: 'alice', s3: 'bob', s4: 'carol' });
    subscriber.publish(CHANNEL, sessionNotice('s3'));
    assert.equal(cache.peek('s3'), undefined);
    assert.equal(cache.size, 3);
    subscriber.publish(CHANNEL, userNotice('alice'));
    assert.equal(cache.peek('s1'), undefined);
    assert.equal(cache.peek('s2'), undefined);
    assert.equal(cache.peek('s4')?.userId, 'carol');
    subscriber.publish(CHANNEL, 'x:from-a-newer-version');
    assert.equal(cache.size, 0);
  });

  it('turns off and empties the cache when its connection drops, and resubscribes after the reconnection', async () => {
    subscriber.connect();
    await flush();
    cacheSessions({ s1: 'alice' });
    subscriber.drop();
    assert.equal(listener.live, false);
    assert.equal(cache.size, 0, 'notices sent from now on are lost');
    // Answers cached while the listener is down (the store keeps the cache off then) are dropped on resubscription.
    cacheSessions({ s2: 'bob' });
    subscriber.connect();
    await flush();
    assert.deepEqual(subscriber.subscribeCalls, [CHANNEL, CHANNEL]);
    assert.equal(listener.live, true);
    assert.equal(cache.size, 0);
    assert.deepEqual(changes, [true, false, true]);
  });

  it('drops a connection it could not subscribe on, so ioredis reconnects and it tries again', async () => {
    subscriber.subscribeFails = true;
    subscriber.connect();
    await flush();
    assert.equal(listener.live, false);
    assert.deepEqual(subscriber.disconnects, [true]);
    subscriber.subscribeFails = false;
    subscriber.connect();
    await flush();
    assert.equal(listener.live, true);
  });

  it('close() disconnects for good: a subscription finishing afterwards does not make it live', async () => {
    subscriber.connect();
    listener.close();
    listener.close();
    await flush();
    assert.equal(listener.live, false);
    assert.deepEqual(subscriber.disconnects, [false]);
  });

  it('refuses an empty channel', () => {
    assert.throws(() => createInvalidationListener({ client: main.asRedis(), channel: '', target: cache }), /channel option/);
  });
});
