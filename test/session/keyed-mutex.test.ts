import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QueueFull, createKeyedMutex } from '../../src/session/keyed-mutex.js';
import { startTestServer } from '../support/http-server.js';

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('createKeyedMutex', () => {
  it('runs tasks of one key one at a time, in order, and other keys alongside', async () => {
    const mutex = createKeyedMutex();
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await tick(ms);
      log.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([mutex.run('a', task('a1', 20)), mutex.run('a', task('a2', 1)), mutex.run('b', task('b1', 5))]);
    assert.deepEqual(results, ['a1', 'a2', 'b1']);
    assert.ok(log.indexOf('end a1') < log.indexOf('start a2'), log.join(', '));
    assert.ok(log.indexOf('start b1') < log.indexOf('end a1'), 'another key does not wait');
    assert.equal(mutex.size, 0, 'no key is kept once idle');
  });

  it('keeps going after a task fails, and refuses beyond its queue bound', async () => {
    const mutex = createKeyedMutex(2);
    const failing = mutex.run('k', async () => {
      await tick(10);
      throw new Error('boom');
    });
    const next = mutex.run('k', async () => 'after');
    await assert.rejects(mutex.run('k', async () => 'third'), QueueFull);
    await assert.rejects(failing, /boom/);
    assert.equal(await next, 'after');
  });
});

describe('POST /auth/login under a parallel burst', () => {
  it('lets no more guesses through than sequential ones would get', async () => {
    const server = await startTestServer();
    try {
      const responses = await Promise.all(Array.from({ length: 30 }, () => server.client().login('alice', 'wrong guess')));
      const counts = responses.reduce<Record<number, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {});
      // Five free failures plus the one that starts the delay, as when the guesses come one by one.
      assert.deepEqual(counts, { 401: 6, 429: 24 });
      assert.equal(server.eventsOf('authn_login_fail').length, 6);
    } finally {
      await server.close();
    }
  });
});
