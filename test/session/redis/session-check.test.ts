import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { createSessionCheck, type SessionState } from '../../../src/session/redis/session-check.js';
import { createSessionCache } from '../../../src/session/session-cache.js';

const TTL = 250;
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A store the test controls: it answers from `state` as it is when a lookup *starts*, after `latencyMs` (fake
 * time), the way a reply reflects Redis at the moment the script ran.
 */
function fakeStore(latencyMs: number) {
  const state = new Map<string, SessionState>();
  let lookups = 0;
  const fetch = (sessionId: string): Promise<SessionState> => {
    lookups += 1;
    const found = state.get(sessionId) ?? { userId: null, revoked: false, notBefore: 0 };
    const answer = { ...found };
    return latencyMs === 0 ? Promise.resolve(answer) : new Promise((resolve) => setTimeout(() => resolve(answer), latencyMs));
  };
  return { state, fetch, lookups: () => lookups };
}

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 }));
afterEach(() => mock.timers.reset());

describe('createSessionCheck', () => {
  it('honours a revocation whose notice is lost within the cache TTL, checked every 5 ms of fake time', async () => {
    for (const latencyMs of [0, 3, 40, 200]) {
      mock.timers.reset();
      mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
      const store = fakeStore(latencyMs);
      store.state.set('s', { userId: 'alice', revoked: false, notBefore: 0 });
      const cache = createSessionCache({ ttlMs: TTL, now: () => Date.now() });
      const check = createSessionCheck({ cache, fetch: store.fetch, cacheable: () => true });
      const revokedAt = 100;
      const answers: Array<[number, boolean]> = [];
      let hitsBefore = 0;
      for (let t = 0; t <= 1000; t += 5) {
        // Revoked in Redis by another instance; its notice never arrives here.
        if (t === revokedAt) {
          hitsBefore = check.hits;
          store.state.set('s', { userId: 'alice', revoked: true, notBefore: 0 });
        }
        const answer = check.isSessionActive('s', 'alice', 0);
        if (typeof answer === 'boolean') answers.push([t, answer]);
        else {
          const started = t;
          void answer.then((value) => answers.push([started, value]));
        }
        mock.timers.tick(5);
        await flush();
      }
      const late = answers.filter(([t, active]) => active && t >= revokedAt + TTL);
      assert.deepEqual(late, [], `latency ${latencyMs} ms: no "active" answer ${TTL} ms or more after the revocation`);
      assert.ok(answers.some(([t, active]) => active && t > revokedAt), `latency ${latencyMs} ms: the cache did answer after the revocation (the test can fail)`);
      assert.ok(answers.every(([t, active]) => active || t >= revokedAt));
      assert.ok(hitsBefore >= (revokedAt - latencyMs) / 5 - 2, `latency ${latencyMs} ms: checks before the revocation were mostly cache hits (${hitsBefore})`);
    }
  });

  it('shares one lookup between concurrent checks of a session, but never one begun before an invalidation', async () => {
    const store = fakeStore(10);
    store.state.set('s', { userId: 'alice', revoked: false, notBefore: 0 });
    const cache = createSessionCache({ ttlMs: TTL, now: () => Date.now() });
    const check = createSessionCheck({ cache, fetch: store.fetch, cacheable: () => true });
    const first = [check.isSessionActive('s', 'alice', 0), check.isSessionActive('s', 'alice', 0)];
    assert.equal(store.lookups(), 1);
    cache.invalidateSession('s');
    const after = check.isSessionActive('s', 'alice', 0);
    assert.equal(store.lookups(), 2, 'the flight begun before the invalidation is not joined');
    mock.timers.tick(10);
    assert.deepEqual(await Promise.all([...first, after]), [true, true, true]);
    assert.equal(cache.size, 1, 'only the answer looked up after the invalidation is kept');
  });

  it('refreshes a busy session in the background and drops it when the store says revoked', async () => {
    const store = fakeStore(0);
    store.state.set('s', { userId: 'alice', revoked: false, notBefore: 0 });
    const cache = createSessionCache({ ttlMs: TTL, now: () => Date.now() });
    const check = createSessionCheck({ cache, fetch: store.fetch, cacheable: () => true });
    assert.equal(await check.isSessionActive('s', 'alice', 0), true);
    mock.timers.tick(TTL / 2);
    store.state.set('s', { userId: 'alice', revoked: true, notBefore: 0 });
    assert.equal(check.isSessionActive('s', 'alice', 0), true, 'answered from the cache at once');
    assert.equal(check.isSessionActive('s', 'alice', 0), true);
    assert.equal(store.lookups(), 2, 'one background refresh');
    await flush();
    assert.equal(cache.size, 0);
    assert.equal(await check.isSessionActive('s', 'alice', 0), false);
  });

  it('checks owner and not-before on cached answers too, and asks the store every time while not cacheable', async () => {
    const store = fakeStore(0);
    store.state.set('s', { userId: 'alice', revoked: false, notBefore: 50 });
    const cache = createSessionCache({ ttlMs: TTL, now: () => Date.now() });
    let cacheable = false;
    const check = createSessionCheck({ cache, fetch: store.fetch, cacheable: () => cacheable });
    assert.equal(await check.isSessionActive('s', 'alice', 50), true);
    assert.equal(await check.isSessionActive('s', 'alice', 50), true);
    assert.equal(store.lookups(), 2);
    assert.equal(cache.size, 0);
    cacheable = true;
    assert.equal(await check.isSessionActive('s', 'alice', 50), true);
    assert.equal(check.isSessionActive('s', 'alice', 49), false, 'issued before not-before');
    assert.equal(check.isSessionActive('s', 'mallory', 50), false, 'another user');
    assert.equal(store.lookups(), 3);
  });
});
