import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { createElasticClient } from '../../src/elastic/client.js';
import { createRetention, DEFAULT_RETENTION_DAYS, expiredIndices, scheduleJob, type RetentionDays } from '../../src/elastic/retention.js';
import { ConfigurationError } from '../../src/errors.js';
import { ECS_VERSION } from '../../src/events/security-event.js';
import { dropPrefix, sharedElasticsearch, uniquePrefix } from '../support/elasticsearch.js';

const DAY = 86_400_000;
const DAYS: RetentionDays = { events: 10, access: 3, alerts: 30, deadletter: 1 };

/** `YYYY.MM.DD` of `ms` (UTC). */
function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replaceAll('-', '.');
}

describe('expiredIndices', () => {
  // 2026-01-31T00:00:00Z: an index of day D expires once D's *end* is `days` old.
  const midnight = Date.UTC(2026, 0, 31);

  it('expires an index exactly when the end of its day is older than the retention', () => {
    // events: 10 days. The 2026.01.20 index ends 2026-01-21T00:00Z, which is 10 days before 2026-01-31T00:00Z.
    const indices = ['p-events-2026.01.19', 'p-events-2026.01.20', 'p-events-2026.01.21', 'p-events-2026.01.31'];
    assert.deepEqual(expiredIndices(indices, 'p', DAYS, midnight), ['p-events-2026.01.19', 'p-events-2026.01.20']);
    assert.deepEqual(expiredIndices(indices, 'p', DAYS, midnight - 1), ['p-events-2026.01.19'], 'one millisecond earlier the boundary day stays');
    assert.deepEqual(expiredIndices(indices, 'p', DAYS, midnight + DAY - 1), ['p-events-2026.01.19', 'p-events-2026.01.20']);
    assert.deepEqual(expiredIndices(indices, 'p', DAYS, midnight + DAY), ['p-events-2026.01.19', 'p-events-2026.01.20', 'p-events-2026.01.21']);
  });

  it('applies each family its own retention', () => {
    const now = Date.UTC(2026, 2, 15, 12); // 2026-03-15 noon
    const indices = [
      `p-events-${day(now - 10 * DAY)}`, `p-events-${day(now - 11 * DAY)}`,
      `p-access-${day(now - 3 * DAY)}`, `p-access-${day(now - 4 * DAY)}`,
      `p-alerts-${day(now - 30 * DAY)}`, `p-alerts-${day(now - 31 * DAY)}`,
      `p-deadletter-${day(now - 1 * DAY)}`, `p-deadletter-${day(now - 2 * DAY)}`,
      `p-events-${day(now)}`, `p-access-${day(now)}`, `p-alerts-${day(now)}`, `p-deadletter-${day(now)}`,
    ];
    assert.deepEqual(expiredIndices(indices, 'p', DAYS, now), [
      `p-events-${day(now - 11 * DAY)}`, `p-access-${day(now - 4 * DAY)}`, `p-alerts-${day(now - 31 * DAY)}`, `p-deadletter-${day(now - 2 * DAY)}`,
    ]);
  });

  it('uses the documented defaults (events 90, access 14, alerts 365, deadletter 30)', () => {
    assert.deepEqual(DEFAULT_RETENTION_DAYS, { events: 90, access: 14, alerts: 365, deadletter: 30 });
    const now = Date.UTC(2026, 5, 1);
    const old = (family: string, days: number): string => `s-${family}-${day(now - (days + 1) * DAY)}`;
    const kept = (family: string, days: number): string => `s-${family}-${day(now - days * DAY + 1)}`;
    const indices = Object.entries(DEFAULT_RETENTION_DAYS).flatMap(([family, days]) => [old(family, days), kept(family, days)]);
    assert.deepEqual(expiredIndices(indices, 's', DEFAULT_RETENTION_DAYS, now), Object.entries(DEFAULT_RETENTION_DAYS).map(([family, days]) => old(family, days)));
  });

  it('never touches indices of another prefix', () => {
    const now = Date.UTC(2026, 0, 31);
    const others = [
      'other-events-2020.01.01', 'p2-events-2020.01.01', 'pp-events-2020.01.01', 'xp-events-2020.01.01',
      'p-events-events-2020.01.01', // the daily index of prefix "p-events"
      '.p-events-2020.01.01', 'P-events-2020.01.01',
    ];
    assert.deepEqual(expiredIndices(others, 'p', DAYS, now), []);
    // ...while the same names are fair game for their own prefix.
    assert.deepEqual(expiredIndices(['p-events-events-2020.01.01'], 'p-events', DAYS, now), ['p-events-events-2020.01.01']);
  });

  it('never touches names that are not exactly <prefix>-<family>-YYYY.MM.DD', () => {
    const now = Date.UTC(2026, 0, 31);
    const malformed = [
      'p-events-2020.1.1', 'p-events-2020-01-01', 'p-events-20200101', 'p-events-2020.01.01-restored', 'p-events-2020.01.01.bak',
      'p-events-old-2020.01.01', 'p-events-', 'p-events', 'p-events-latest', 'p-unknown-2020.01.01', 'p-events-abcd.ef.gh',
      'p-events- 2020.01.01', 'p-events-2020.01.01 ', 'p-events-02020.01.01', 'p-events-2020.01.001',
    ];
    assert.deepEqual(expiredIndices(malformed, 'p', DAYS, now), []);
  });

  // An index name that is not a real day was not made by us (dailyIndex writes real days only); deleting it on
  // the strength of JavaScript's Date.UTC rollover (month 13 → next January, day 0 → the previous month's end)
  // removes data we do not own.
  it('never touches names whose date is not a real calendar day', () => {
    const now = Date.UTC(2026, 0, 31);
    const impossible = ['p-events-2020.13.01', 'p-events-2020.02.30', 'p-events-2020.00.10', 'p-events-2020.01.00', 'p-events-2020.01.32'];
    assert.deepEqual(expiredIndices(impossible, 'p', DAYS, now), []);
  });

  it('ignores families without a retention and returns nothing for an empty list', () => {
    assert.deepEqual(expiredIndices([], 'p', DAYS, Date.now()), []);
    const onlyEvents = { events: 1 } as unknown as RetentionDays;
    assert.deepEqual(expiredIndices(['p-access-2000.01.01', 'p-events-2000.01.01'], 'p', onlyEvents, Date.now()), ['p-events-2000.01.01']);
  });
});

describe('createRetention options', () => {
  const client = createElasticClient({ url: 'http://127.0.0.1:9' });
  after(() => client.close());

  it('refuses retention days that are not whole numbers of at least 1', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => createRetention({ client, indexPrefix: 'p', days: { access: bad } }), (error: unknown) =>
        error instanceof ConfigurationError && /access/.test(error.message), `access: ${bad}`);
    }
    assert.equal(typeof createRetention({ client, indexPrefix: 'p', days: { events: 1, access: 365 } }), 'function');
  });
});

describe('createRetention against the real Elasticsearch', () => {
  let es: Client;
  let prefix: string;
  const now = Date.UTC(2026, 0, 31, 12);
  const days = { events: 5, access: 2, alerts: 7, deadletter: 1 };
  let expired: string[];
  let kept: string[];

  const listed = async (): Promise<string[]> => {
    const rows = (await es.cat.indices({ index: `${prefix}-*`, format: 'json', h: 'index', expand_wildcards: ['open', 'closed'] })) as Array<{ index?: string }>;
    return rows.map((r) => r.index!).sort();
  };

  before(async () => {
    const { url } = await sharedElasticsearch();
    es = createElasticClient({ url });
    prefix = uniquePrefix('retention');
    expired = [
      `${prefix}-events-${day(now - 6 * DAY)}`,
      `${prefix}-events-${day(now - 40 * DAY)}`,
      `${prefix}-access-${day(now - 3 * DAY)}`,
      `${prefix}-alerts-${day(now - 8 * DAY)}`,
      `${prefix}-deadletter-${day(now - 2 * DAY)}`,
      `${prefix}-access-${day(now - 30 * DAY)}`, // closed below: retention must still find and delete it
    ];
    kept = [
      `${prefix}-events-${day(now - 5 * DAY)}`,
      `${prefix}-events-${day(now)}`,
      `${prefix}-access-${day(now - 2 * DAY)}`,
      `${prefix}-access-${day(now + DAY)}`,
      `${prefix}-alerts-${day(now - 7 * DAY)}`,
      `${prefix}-deadletter-${day(now - DAY)}`,
      `${prefix}-events-2000.01.01-restored`,
      `${prefix}-events-archive`,
      `${prefix}-audit-2000.01.01`,
    ];
    for (const index of [...expired, ...kept]) {
      await es.indices.create({ index, settings: { number_of_shards: 1, number_of_replicas: 0 } });
    }
    await es.index({ index: kept[0]!, document: { ecs: { version: ECS_VERSION }, message: 'keep me' }, refresh: true });
    await es.indices.close({ index: expired.at(-1)! });
  });

  after(async () => {
    await dropPrefix(es, prefix);
    await es.close();
  });

  it('deletes exactly the expired daily indices, open or closed, and nothing else', async () => {
    assert.deepEqual(await listed(), [...expired, ...kept].sort());
    const result = await createRetention({ client: es, indexPrefix: prefix, days, now: () => now })();
    assert.deepEqual([...result.deleted].sort(), [...expired].sort());
    assert.equal(result.kept, kept.length);
    assert.deepEqual(await listed(), [...kept].sort());
    const count = await es.count({ index: kept[0]! });
    assert.equal(count.count, 1, 'kept indices keep their documents');
  });

  it('is idempotent: a second run deletes nothing', async () => {
    const result = await createRetention({ client: es, indexPrefix: prefix, days, now: () => now })();
    assert.deepEqual(result, { deleted: [], kept: kept.length });
    assert.deepEqual(await listed(), [...kept].sort());
  });

  it('finds nothing to do for a prefix with no indices', async () => {
    const result = await createRetention({ client: es, indexPrefix: uniquePrefix('empty'), days, now: () => now })();
    assert.deepEqual(result, { deleted: [], kept: 0 });
  });
});

describe('scheduleJob', () => {
  it('refuses an invalid cron expression with ConfigurationError', () => {
    for (const cron of ['not a cron', '61 * * * *', '* 25 * * *', '0 0 * 13 *', '* * * * * * * *', 'every day']) {
      assert.throws(() => scheduleJob(`invalid-${cron}`, cron, async () => undefined, () => undefined), (error: unknown) =>
        error instanceof ConfigurationError && error.message.includes(cron), cron);
    }
  });

  // node-schedule falls back to `new Date(spec)` when cron parsing fails, and its cron parser reads a blank string
  // as "* * * * *": a blank RETENTION_CRON would delete indices every minute, and a typo such as "* * 32 * *"
  // (day 32) becomes a one-off job on 2032-01-01. Neither is a valid cron expression.
  it('refuses blank expressions and strings node-schedule would read as a date', () => {
    const scheduled: string[] = [];
    for (const cron of ['', '   ', '* * 32 * *', '2030-01-01T00:00:00Z']) {
      try {
        scheduleJob(`not-cron-${cron}`, cron, async () => undefined, () => undefined).cancel();
        scheduled.push(cron);
      } catch (error) {
        assert.ok(error instanceof ConfigurationError, String(error));
      }
    }
    assert.deepEqual(scheduled, [], 'these were scheduled instead of refused');
  });

  it('accepts a valid expression and hands a failing run to onError instead of throwing from the timer', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const job = scheduleJob('every-second', '* * * * * *', async () => {
      runs += 1;
      throw new Error('retention failed');
    }, (error) => errors.push(error));
    try {
      assert.ok(job.nextInvocation());
      const deadline = Date.now() + 5000;
      while (errors.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(runs >= 1);
      assert.equal((errors[0] as Error).message, 'retention failed');
    } finally {
      job.cancel();
    }
  });
});
