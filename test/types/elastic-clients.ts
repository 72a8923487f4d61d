/**
 * Compile-time proof, checked by `npm run typecheck`, that a user's own client fits every option that takes one:
 * an @elastic/elasticsearch 8.19 `Client` (our devDependency) and a 9.x `Client` (the `es9` alias devDependency,
 * what `npm i @elastic/elasticsearch` installs today). Nothing here runs; test/elastic/client-majors.test.ts sends
 * real requests with both.
 */
import { Client as Client8 } from '@elastic/elasticsearch';
import { Client as Client9 } from 'es9';
import { createAnomalyRunner } from '../../src/anomaly/runner.js';
import { buildDailyReview, storeDailyReview } from '../../src/anomaly/review.js';
import { createElasticClient, serverVersion, type ElasticClient } from '../../src/elastic/client.js';
import { createLoginHistory } from '../../src/elastic/login-history.js';
import { createRetention } from '../../src/elastic/retention.js';
import { setupElasticsearch } from '../../src/elastic/setup.js';
import { createShipper } from '../../src/elastic/shipper.js';

export async function everyOptionTakesEitherMajor(): Promise<void> {
  const clients: ElasticClient[] = [
    new Client8({ node: 'http://127.0.0.1:9200' }),
    new Client9({ node: 'http://127.0.0.1:9201' }),
    // What createElasticClient returns is a whole Client, and an ElasticClient too.
    createElasticClient({ url: 'http://127.0.0.1:9200' }),
  ];
  for (const client of clients) {
    await serverVersion(client);
    await setupElasticsearch(client, 'types');
    createShipper({ client, indexPrefix: 'types', dir: '/nonexistent' });
    createLoginHistory({ client, indexPrefix: 'types' });
    createAnomalyRunner({ client, indexPrefix: 'types' });
    createRetention({ client, indexPrefix: 'types' });
    await storeDailyReview(client, 'types', await buildDailyReview(client, 'types', new Date()));
    await client.close();
  }
}

// Directly, without going through the ElasticClient[] annotation, so a mismatch names the option it breaks.
export function eachMajorDirectly(client8: Client8, client9: Client9): void {
  createShipper({ client: client8, indexPrefix: 'types', dir: '/nonexistent' });
  createShipper({ client: client9, indexPrefix: 'types', dir: '/nonexistent' });
  createAnomalyRunner({ client: client8, indexPrefix: 'types' });
  createAnomalyRunner({ client: client9, indexPrefix: 'types' });
  createLoginHistory({ client: client8, indexPrefix: 'types' });
  createLoginHistory({ client: client9, indexPrefix: 'types' });
  createRetention({ client: client8, indexPrefix: 'types' });
  createRetention({ client: client9, indexPrefix: 'types' });
  void setupElasticsearch(client8, 'types');
  void setupElasticsearch(client9, 'types');
}

// A stand-in that implements only what koa-sentinel calls is an ElasticClient too: the interface asks for no more.
export const standIn: ElasticClient = {
  search: async () => ({ hits: { hits: [] } }),
  msearch: async () => ({ responses: [] }),
  bulk: async () => ({ errors: false, items: [] }),
  index: async () => ({ _id: 'x', _index: 'types', result: 'created' }),
  get: async () => ({ found: false }),
  update: async () => ({ _id: 'x', _index: 'types', result: 'updated' }),
  cat: { indices: async () => [] },
  indices: { delete: async () => ({ acknowledged: true }), putIndexTemplate: async () => ({ acknowledged: true }), putMapping: async () => ({ acknowledged: true }) },
  cluster: { putComponentTemplate: async () => ({ acknowledged: true }) },
  nodes: { info: async () => ({ nodes: {} }) },
  close: async () => undefined,
};
