/**
 * `run({ until: now })` on the real Elasticsearch, against a scripted clock: the attack of the last three minutes,
 * which the scheduled run cannot see yet, is reported at once; the checkpoint stays on the closed windows; the
 * scheduled runs after it judge those windows with their late events, report what is new and do not repeat what the
 * on-demand run reported. The runner's realert period is 0 here, so only the open-window rule can keep the closed
 * window from alerting again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { bruteForceAccount } from '../../src/anomaly/rules/authentication.js';
import type { Rule } from '../../src/anomaly/rules/types.js';
import { createAnomalyRunner, type RunResult } from '../../src/anomaly/runner.js';
import { createElasticClient } from '../../src/elastic/client.js';
import { setupElasticsearch } from '../../src/elastic/setup.js';
import { dropPrefix, sharedElasticsearch, uniquePrefix } from '../support/elasticsearch.js';
import { fail, indexEvents, spread } from '../support/events.js';

const MINUTE = 60_000;
const T = Date.UTC(2026, 10, 21, 12, 0);
const ON_DEMAND = T + 3 * MINUTE + 20_000;

describe('the open window, judged on demand', () => {
  let es: Client;
  const prefix = uniquePrefix('on-demand');
  const runnerAt = (now: number) => createAnomalyRunner({ client: es, indexPrefix: prefix, rules: [bruteForceAccount as unknown as Rule], realertMs: 0, now: () => now });
  const checkpoint = async (): Promise<string> => ((await es.get({ index: `${prefix}-anomaly-state`, id: 'runner' }))._source as { last_checked: string }).last_checked;
  const alerts = async (): Promise<Array<{ entity: string; window_end: string; count: number; timestamp: string }>> => {
    await es.indices.refresh({ index: `${prefix}-alerts-*` });
    const response = await es.search({ index: `${prefix}-alerts-*`, size: 100, query: { term: { 'event.kind': 'alert' } }, sort: [{ '@timestamp': 'asc' }, { 'user.name': 'asc' }] });
    return response.hits.hits.map((hit) => {
      const s = hit._source as { '@timestamp': string; sentinel: { alert: { entity: string; window_end: string; count: number } } };
      return { entity: s.sentinel.alert.entity, window_end: s.sentinel.alert.window_end, count: s.sentinel.alert.count, timestamp: s['@timestamp'] };
    });
  };

  before(async () => {
    es = createElasticClient({ url: (await sharedElasticsearch()).url });
    await setupElasticsearch(es, prefix);
    // 12 failures from 12:00:30 to 12:03:15, every 15 s: all after the newest closed window a run at 12:03:20 judges.
    await indexEvents(es, prefix, spread(12, T + 30_000, 12 * 15_000, (_i, at) => fail('od-victim', '198.51.100.31', at)));
  });

  after(async () => {
    await dropPrefix(es, prefix);
    await es.close();
  });

  let scheduled: RunResult;
  let onDemand: RunResult;

  it('the scheduled run right after the attack sees nothing: its newest window ends at 12:00', async () => {
    await runnerAt(T - 2 * MINUTE).run(); // a checkpoint, as the job leaves it: 11:55
    scheduled = await runnerAt(ON_DEMAND).run();
    assert.equal(scheduled.closedTo, '2026-11-21T12:00:00.000Z');
    assert.equal(scheduled.openWindowEnd, null);
    assert.deepEqual(scheduled.created, []);
    assert.equal(await checkpoint(), '2026-11-21T12:00:00.000Z');
  });

  it('until now judges the open window, ending now, and says so; the alert is dated now, not later', async () => {
    onDemand = await runnerAt(ON_DEMAND).run({ until: new Date(ON_DEMAND + 10 * MINUTE) });
    assert.equal(onDemand.openWindowEnd, '2026-11-21T12:03:20.000Z');
    assert.equal(onDemand.to, onDemand.openWindowEnd);
    assert.equal(onDemand.closedTo, '2026-11-21T12:00:00.000Z');
    assert.equal(onDemand.windows, 1);
    assert.deepEqual(onDemand.created.map((a) => [a.sentinel.alert.entity, a.sentinel.alert.count, a['@timestamp']]), [['od-victim', 12, '2026-11-21T12:03:20.000Z']]);
  });

  it('leaves the checkpoint on the closed windows', async () => {
    assert.equal(await checkpoint(), '2026-11-21T12:00:00.000Z');
  });

  it('the next scheduled run judges the closed window with its late events: new findings alert, the reported one does not', async () => {
    // Late for the on-demand run: three more against the same account, and a second account attacked after it ran.
    await indexEvents(es, prefix, [
      ...spread(3, T + 3 * MINUTE + 30_000, 60_000, (_i, at) => fail('od-victim', '198.51.100.31', at)),
      ...spread(10, T + 3 * MINUTE + 40_000, 70_000, (_i, at) => fail('od-late', '198.51.100.32', at)),
    ]);
    const next = await runnerAt(T + 6 * MINUTE).run();
    assert.equal(next.windows, 1);
    assert.equal(next.closedTo, '2026-11-21T12:05:00.000Z');
    assert.deepEqual(next.created.map((a) => a.sentinel.alert.entity), ['od-late']);
    assert.equal(next.suppressed, 1, 'od-victim: reported by the on-demand run');
    assert.equal(await checkpoint(), '2026-11-21T12:05:00.000Z');
    // A window further on alerts again, as the realert period (0 here) allows: the open-window rule covers one window.
    const later = await runnerAt(T + 11 * MINUTE).run();
    assert.deepEqual(later.created.map((a) => a.sentinel.alert.entity).sort(), ['od-late', 'od-victim']);
  });

  it('stores each finding once: the on-demand alert, then the closed windows\' own', async () => {
    assert.deepEqual((await alerts()).map((a) => [a.entity, a.window_end]), [
      ['od-victim', '2026-11-21T12:03:20.000Z'],
      ['od-late', '2026-11-21T12:05:00.000Z'],
      ['od-late', '2026-11-21T12:10:00.000Z'],
      ['od-victim', '2026-11-21T12:10:00.000Z'],
    ]);
  });

  it('between() lists every alert of a judged range, whichever run wrote it', async () => {
    const runner = runnerAt(T + 6 * MINUTE);
    const inRange = await runner.between(new Date(T), new Date(T + 5 * MINUTE));
    assert.deepEqual(inRange.map((a) => [a.sentinel.alert.entity, a.sentinel.alert.window_end]), [['od-victim', '2026-11-21T12:03:20.000Z'], ['od-late', '2026-11-21T12:05:00.000Z']]);
    assert.deepEqual(await runner.between(new Date(T + 10 * MINUTE), new Date(T + 15 * MINUTE)), []);
  });
});
