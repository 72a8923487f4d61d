/**
 * A three-node cluster (docs/operations.md#a-cluster): three nodes of the minimal distribution on this machine with
 * small heaps, all master-eligible. The shipper and the anomaly runner are given every node's URL. Under load, the
 * node holding the primary of today's events index is killed (SIGKILL) and brought back: every event arrives once,
 * the replica takes over, and the anomaly job still runs while the node is down.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { createAnomalyRunner } from '../../src/anomaly/runner.js';
import { createElasticClient } from '../../src/elastic/client.js';
import { setupElasticsearch } from '../../src/elastic/setup.js';
import { createShipper } from '../../src/elastic/shipper.js';
import { dailyIndex } from '../../src/elastic/templates.js';
import { ECS_VERSION, buildSecurityEvent } from '../../src/events/security-event.js';
import { createLogger, logSecurityEvent } from '../../src/logging/logger.js';
import { freePort, startElasticsearch, type ElasticsearchProcess } from '../support/elasticsearch.js';
import { fail, indexEvents, spread } from '../support/events.js';

const PREFIX = 'cluster';
const NAMES = ['n1', 'n2', 'n3'];
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let nodes: ElasticsearchProcess[] = [];
let admin: Client;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

async function clusterHealth(client: Client): Promise<{ status: string; number_of_nodes: number }> {
  return client.cluster.health({ timeout: '5s' }) as Promise<{ status: string; number_of_nodes: number }>;
}

before(async () => {
  const transport = await Promise.all(NAMES.map(() => freePort()));
  const cluster = `sentinel-${process.pid}`;
  // All three start together: none is healthy before two of them have elected a master.
  const started = await Promise.allSettled(NAMES.map((name) => startElasticsearch({
    heapMb: 256,
    // Three JVMs starting at once on a machine already running the rest of the suite.
    startTimeoutMs: 300_000,
    transportPort: transport[NAMES.indexOf(name)],
    clusterSettings: [
      `cluster.name: ${cluster}`, `node.name: ${name}`,
      `discovery.seed_hosts: [${transport.map((port) => `"127.0.0.1:${port}"`).join(', ')}]`,
      `cluster.initial_master_nodes: [${NAMES.map((n) => `"${n}"`).join(', ')}]`,
    ],
  })));
  nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  admin = createElasticClient({ url: nodes.map((node) => node.url), requestTimeoutMs: 60_000 });
  await waitFor('three nodes', async () => (await clusterHealth(admin)).number_of_nodes === 3, 60_000);
  await setupElasticsearch(admin, PREFIX);
});

after(async () => {
  await admin?.close();
  await Promise.all(nodes.map((node) => node.destroy()));
});

describe('a three-node cluster', () => {
  it('gives each daily index one primary and one replica on another node', async () => {
    const index = dailyIndex(PREFIX, 'access', new Date());
    await admin.index({ index, id: 'probe', document: { '@timestamp': new Date().toISOString(), ecs: { version: ECS_VERSION }, event: { id: 'probe', dataset: 'sentinel.access' } }, refresh: true });
    await waitFor('green', async () => (await admin.cluster.health({ index, wait_for_status: 'green', timeout: '5s' })).status === 'green', 60_000);
    const shards = (await admin.cat.shards({ index, format: 'json' })) as Array<{ prirep: string; node: string; state: string }>;
    assert.deepEqual(shards.map((s) => s.prirep).sort(), ['p', 'r']);
    assert.notEqual(shards[0]!.node, shards[1]!.node);
  });

  it('ships every event once while the node holding the primary is killed under load and brought back; the job still runs', async (t) => {
    const began = Date.now();
    const step = (what: string): void => t.diagnostic(`${((Date.now() - began) / 1000).toFixed(1)} s: ${what}`);
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-cluster-'));
    const client = createElasticClient({ url: nodes.map((node) => node.url), requestTimeoutMs: 10_000 });
    const shipper = createShipper({ client, indexPrefix: PREFIX, dir, maxBatchAgeMs: 100, retryBaseMs: 50, retryMaxMs: 1000 });
    const logger = createLogger({ name: 'cluster-test', level: 'trace', stdout: false, sinks: [shipper] });
    shipper.start();
    const events = dailyIndex(PREFIX, 'events', new Date());
    const ids = new Set<string>();
    const write = (n: number): void => {
      for (let i = 0; i < n; i += 1) {
        const event = buildSecurityEvent('authn_login_fail', { reason: 'bad_password', user: { name: `user-${ids.size % 50}` }, source: { ip: `10.1.${(ids.size >> 8) & 255}.${ids.size & 255}` }, urlPath: '/auth/login' });
        logSecurityEvent(logger, event);
        ids.add(event.event.id);
      }
    };
    let writing = true;
    const load = (async () => {
      // About 1000 events a second, at most 40 000: a slow machine must not turn the test into a benchmark.
      while (writing) {
        if (ids.size < 40_000) write(100);
        await sleep(100);
      }
    })();
    await waitFor('the events index', async () => (await admin.indices.exists({ index: events })) && (await admin.cluster.health({ index: events, wait_for_status: 'green', timeout: '5s' })).status === 'green', 60_000);
    await sleep(1_000);

    const shards = (await admin.cat.shards({ index: events, format: 'json' })) as Array<{ prirep: string; node: string }>;
    const victimName = shards.find((s) => s.prirep === 'p')!.node;
    const victim = nodes[NAMES.indexOf(victimName)]!;
    await victim.kill();
    step(`killed ${victimName}`);
    const killedAt = Date.now();
    const survivor = createElasticClient({ url: nodes.filter((node) => node !== victim).map((node) => node.url), requestTimeoutMs: 30_000 });
    await waitFor('two nodes and a promoted replica', async () => {
      const health = await clusterHealth(survivor);
      return health.number_of_nodes === 2 && health.status !== 'red';
    }, 60_000);
    step(`two nodes left, ${JSON.stringify(await clusterHealth(survivor))}`);

    // The anomaly job on all three URLs while one is down: a run that meets the dead node first fails (as a
    // scheduled run would, to be caught up by the next); the next one is served by the live nodes.
    const now = Date.now();
    await indexEvents(survivor, PREFIX, spread(20, now - 3 * 60_000, 60_000, (i, at) => fail('cluster-victim', `198.51.100.${i % 4}`, at)));
    const runner = createAnomalyRunner({ client, indexPrefix: PREFIX });
    const failures: string[] = [];
    let result;
    for (let attempt = 0; attempt < 5 && !result; attempt += 1) {
      try {
        result = await runner.run({ since: new Date(now - 30 * 60_000), until: new Date(now + 5 * 60_000) });
      } catch (error) {
        failures.push(`${(error as Error).name}: ${(error as Error).message.slice(0, 200)}`);
        await sleep(1_000);
      }
    }
    const failedRuns = failures.length;
    if (failedRuns) step(`failed runs: ${failures.join(' | ')}`);
    assert.ok(result, `the anomaly job runs with a node down: ${failures.join(' | ')}`);
    step(`anomaly run done, ${failedRuns} failed`);
    assert.ok(result.created.some((alert) => alert.sentinel.alert.entity === 'cluster-victim'));

    await sleep(2_000);
    await victim.start();
    step(`${victimName} back`);
    const downMs = Date.now() - killedAt;
    await sleep(2_000);
    writing = false;
    await load;
    assert.ok(await shipper.flush(300_000), JSON.stringify(shipper.stats()));
    step(`flushed`);
    await waitFor('green again', async () => (await admin.cluster.health({ wait_for_status: 'green', timeout: '5s' })).status === 'green', 120_000);

    await admin.indices.refresh({ index: `${PREFIX}-events-*` });
    const count = (await admin.count({ index: `${PREFIX}-events-*`, query: { term: { 'event.action': 'authn_login_fail' } } })).count;
    const dupes = await admin.search({ index: `${PREFIX}-events-*`, size: 0, aggs: { d: { terms: { field: 'event.id', min_doc_count: 2, size: 5 } } } });
    const stats = shipper.stats();
    const [size] = (await admin.cat.indices({ index: events, format: 'json', bytes: 'b', h: 'docs.count,pri.store.size' })) as Array<{ 'docs.count': string; 'pri.store.size': string }>;
    step(`events index: ${size!['docs.count']} documents, ${size!['pri.store.size']} bytes per copy`);
    console.log(`cluster: ${ids.size} events written, ${victimName} (primary) down ${Math.round(downMs / 1000)} s, ${count - 20} delivered, ${stats.duplicates} answered 409 on retry, ${stats.retried} retries, ${failedRuns} failed anomaly run(s)`);
    assert.equal(count - 20, ids.size, 'every event once');
    assert.equal((dupes.aggregations!.d as { buckets: unknown[] }).buckets.length, 0);
    assert.equal(stats.deadLettered, 0);

    // After the node is back, the next run finds the same alert again and writes nothing twice.
    const again = await runner.run({ since: new Date(now - 30 * 60_000), until: new Date(now + 5 * 60_000) });
    assert.equal(again.created.length, 0);
    await shipper.close(5_000);
    await survivor.close();
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
