/**
 * Shipper throughput: security events per second delivered into Elasticsearch from one process, end to end
 * (write → journal → bulk → acknowledged), side by side with the client's own bulk helper (in memory, no journal,
 * no dead letter: what a plain log shipper does).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import { setupElasticsearch } from '../src/elastic/setup.js';
import { createShipper } from '../src/elastic/shipper.js';
import { dailyIndex } from '../src/elastic/templates.js';
import { buildSecurityEvent } from '../src/events/security-event.js';

function events(n: number): Array<ReturnType<typeof buildSecurityEvent>> {
  const list = [];
  for (let i = 0; i < n; i += 1) {
    list.push(buildSecurityEvent(i % 3 ? 'authn_login_fail' : 'authn_login_success', {
      reason: 'bad_password', user: { name: `user${i % 500}` }, source: { ip: `10.0.${(i >> 8) & 255}.${i & 255}` },
      userAgent: 'Mozilla/5.0 bench', http: { method: 'POST', statusCode: 401, requestId: `r-${i}` }, urlPath: '/auth/login',
    }));
  }
  return list;
}

/** By name: servers may refuse wildcard deletes (action.destructive_requires_name). */
async function dropIndices(client: Client, prefix: string): Promise<void> {
  const rows = (await client.cat.indices({ index: `${prefix}-*`, format: 'json', h: 'index' })) as Array<{ index: string }>;
  for (const { index } of rows) await client.indices.delete({ index });
}

async function count(client: Client, prefix: string): Promise<number> {
  await client.indices.refresh({ index: `${prefix}-*` });
  return (await client.count({ index: `${prefix}-*` })).count;
}

export async function ours(client: Client, n: number): Promise<number> {
  const prefix = `bench-ours-${Date.now().toString(36)}`;
  await setupElasticsearch(client, prefix);
  const dir = mkdtempSync(join(tmpdir(), 'bench-spool-'));
  const docs = events(n);
  const shipper = createShipper({ client, indexPrefix: prefix, dir });
  shipper.start();
  const started = process.hrtime.bigint();
  for (const doc of docs) shipper.write(doc as never);
  const drained = await shipper.flush(300_000);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await shipper.close(1000);
  rmSync(dir, { recursive: true, force: true });
  const indexed = await count(client, prefix);
  if (!drained || indexed !== n) throw new Error(`ours: ${indexed} of ${n} indexed`);
  await dropIndices(client, prefix);
  return n / seconds;
}

export async function bulkHelper(client: Client, n: number): Promise<number> {
  const prefix = `bench-helper-${Date.now().toString(36)}`;
  await setupElasticsearch(client, prefix);
  const docs = events(n);
  const started = process.hrtime.bigint();
  const result = await client.helpers.bulk({
    datasource: docs,
    flushBytes: 4 * 1024 * 1024,
    concurrency: 2,
    onDocument: (doc) => ({ create: { _index: dailyIndex(prefix, 'events', doc['@timestamp']), _id: doc.event.id } }),
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const indexed = await count(client, prefix);
  if (result.failed || indexed !== n) throw new Error(`bulk helper: ${indexed} of ${n} indexed`);
  await dropIndices(client, prefix);
  return n / seconds;
}
