import assert from 'node:assert/strict';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errors, type Client } from '@elastic/elasticsearch';
import { createElasticClient, serverVersion } from '../../src/elastic/client.js';
import { setupElasticsearch } from '../../src/elastic/setup.js';
import { createShipper, type ShipperStats } from '../../src/elastic/shipper.js';
import { BASE_PROPERTIES, buildTemplates, dailyIndex } from '../../src/elastic/templates.js';
import { ElasticsearchError } from '../../src/errors.js';
import { buildSecurityEvent, ECS_VERSION, type SecurityEvent } from '../../src/events/security-event.js';
import { runCli } from '../support/cli.js';
import { removeSpool } from '../support/secret-ledger.js';
import { dropPrefix, freePort, sharedElasticsearch, startElasticsearch, type ElasticsearchProcess, uniquePrefix } from '../support/elasticsearch.js';

/** The names setup installs for `prefix`, in the order it reports them. */
function templateNames(prefix: string): { components: string[]; indexTemplates: string[] } {
  const set = buildTemplates(prefix);
  return { components: set.components.map((t) => t.name), indexTemplates: set.indexTemplates.map((t) => t.name) };
}

/** Everything setup installed for `prefix`, as Elasticsearch gives it back. */
async function installed(client: Client, prefix: string): Promise<Record<string, unknown>> {
  const { components, indexTemplates } = templateNames(prefix);
  const out: Record<string, unknown> = {};
  for (const name of components) {
    const response = await client.cluster.getComponentTemplate({ name });
    assert.equal(response.component_templates.length, 1, name);
    out[name] = response.component_templates[0]!.component_template;
  }
  for (const name of indexTemplates) {
    const response = await client.indices.getIndexTemplate({ name });
    assert.equal(response.index_templates.length, 1, name);
    out[name] = response.index_templates[0]!.index_template;
  }
  return out;
}

/** The status and error type of a rejected Elasticsearch call. */
async function refusal(promise: Promise<unknown>): Promise<{ status: number | undefined; type: string | undefined }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof errors.ResponseError, String(error));
    return { status: error.statusCode, type: (error.body as { error?: { type?: string } }).error?.type };
  }
  assert.fail('the request was accepted');
}

/** A mapping as Elasticsearch gives it back for an index: `dynamic` as a string, no `type: object` beside `properties`. */
function asReturned(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  const source = value as Record<string, unknown>;
  for (const [key, item] of Object.entries(source)) {
    if (key === 'type' && item === 'object' && 'properties' in source) continue;
    out[key] = key === 'dynamic' && typeof item === 'boolean' ? String(item) : asReturned(item);
  }
  return out;
}

function successMessage(version: string, url: string, prefix: string): string {
  const { components, indexTemplates } = templateNames(prefix);
  const patterns = ['events', 'access', 'alerts', 'deadletter'].map((family) => `${prefix}-${family}-*`);
  return `Elasticsearch ${version} at ${url}: installed component templates ${components.join(', ')} and index templates ${indexTemplates.join(', ')}; existing indices updated: ${patterns.join(', ')}.\n`;
}

describe('setupElasticsearch against the real Elasticsearch', () => {
  let url: string;
  let es: Client;
  let prefix: string;

  before(async () => {
    ({ url } = await sharedElasticsearch());
    es = createElasticClient({ url });
    prefix = uniquePrefix('setup');
  });
  after(async () => {
    await dropPrefix(es, prefix);
    await es.close();
  });

  it('installs the component and index templates and reports the server version', async () => {
    const result = await setupElasticsearch(es, prefix, url);
    assert.match(result.version, /^(8|9)\.\d+\.\d+/);
    assert.equal(result.version, await serverVersion(es));
    assert.deepEqual(result.componentTemplates, [`${prefix}-ecs-base`, `${prefix}-ecs-alerts`]);
    assert.deepEqual(result.indexTemplates, [`${prefix}-events`, `${prefix}-access`, `${prefix}-alerts`, `${prefix}-deadletter`]);

    const got = await installed(es, prefix) as Record<string, { template?: { mappings?: Record<string, unknown>; settings?: unknown }; index_patterns?: string[]; composed_of?: string[]; priority?: number; _meta?: unknown }>;
    const meta = { managed_by: 'koa-sentinel', version: 1 };
    const base = got[`${prefix}-ecs-base`]!;
    assert.equal(base.template!.mappings!.dynamic, 'strict');
    assert.deepEqual(base.template!.mappings!.properties, BASE_PROPERTIES);
    assert.deepEqual(base._meta, meta);
    const alerts = got[`${prefix}-ecs-alerts`]!;
    assert.deepEqual(Object.keys(alerts.template!.mappings!.properties as object).sort(), ['rule', 'sentinel', 'threat']);
    for (const family of ['events', 'access'] as const) {
      const template = got[`${prefix}-${family}`]!;
      assert.deepEqual(template.index_patterns, [`${prefix}-${family}-*`]);
      assert.deepEqual(template.composed_of, [`${prefix}-ecs-base`]);
      assert.equal(template.priority, 200);
      assert.deepEqual(template._meta, meta);
    }
    assert.deepEqual(got[`${prefix}-alerts`]!.composed_of, [`${prefix}-ecs-base`, `${prefix}-ecs-alerts`]);
    const deadletter = got[`${prefix}-deadletter`]!;
    assert.deepEqual(deadletter.index_patterns, [`${prefix}-deadletter-*`]);
    assert.equal(deadletter.template!.mappings!.dynamic, 'strict');
  });

  it('is safe to run again: same result, same templates, no error', async () => {
    const first = await installed(es, prefix);
    const again = await setupElasticsearch(es, prefix, url);
    const third = await setupElasticsearch(es, prefix, url);
    assert.deepEqual(again, third);
    assert.deepEqual(await installed(es, prefix), first);
  });

  it('gives a daily events index the strict template mapping', async () => {
    const index = `${prefix}-events-2026.01.01`;
    const event = buildSecurityEvent('authn_login_fail', {
      reason: 'bad_password', user: { name: 'alice', id: 'u_alice' }, source: { ip: '2001:db8::1' }, userAgent: 'ua/1',
      http: { method: 'POST', statusCode: 401, requestId: 'r1' }, urlPath: '/auth/login', timestamp: new Date('2026-01-01T10:00:00Z'),
      sentinel: { session_id: 'ref-1', throttle: { scope: 'account', failures: 3, retry_after_ms: 1000 } },
    });
    assert.equal(dailyIndex(prefix, 'events', event['@timestamp']), index);
    const created = await es.create({ index, id: event.event.id, document: event, refresh: true });
    assert.equal(created.result, 'created');
    const mapping = (await es.indices.getMapping({ index }))[index]!.mappings as { dynamic?: unknown; properties?: Record<string, unknown> };
    assert.equal(mapping.dynamic, 'strict');
    assert.deepEqual(mapping.properties, asReturned(BASE_PROPERTIES));
    const settings = (await es.indices.getSettings({ index }))[index]!.settings as { index: { number_of_shards: string } };
    assert.equal(settings.index.number_of_shards, '1');
    // The ip type is real: a range query finds the IPv6 source.
    const found = await es.search({ index, query: { term: { 'source.ip': '2001:db8::/32' } } });
    assert.equal(found.hits.hits.length, 1);
  });

  it('adds new fields to daily indices that already exist (upgrade day), and reports a changed type instead of failing', async () => {
    // Yesterday's release, in a prefix of its own (no template of this release applies yet): today's index exists with
    // a mapping that lacks the fields this release writes.
    const upgraded = uniquePrefix('setup-upgrade');
    const stale = uniquePrefix('setup-stale');
    try {
      const index = `${upgraded}-events-2026.01.03`;
      await es.indices.create({ index, mappings: { dynamic: 'strict', properties: { '@timestamp': { type: 'date' }, event: { properties: { id: { type: 'keyword' } } }, source: { properties: { ip: { type: 'ip' } } } } } });
      const event = buildSecurityEvent('authn_login_success', { user: { name: 'alice' }, source: { ip: '81.2.69.142' }, timestamp: new Date('2026-01-03T10:00:00Z') });
      const enriched = { ...event, source: { ip: '81.2.69.142', geo: { country_iso_code: 'GB', location: { lat: 51.5, lon: -0.09 } }, as: { number: 64500 } } };
      assert.deepEqual(await refusal(es.create({ index, id: event.event.id, document: enriched })), { status: 400, type: 'strict_dynamic_mapping_exception' });
      const result = await setupElasticsearch(es, upgraded, url);
      assert.ok(result.updatedMappings.includes(`${upgraded}-events-*`), JSON.stringify(result));
      assert.deepEqual(result.staleMappings, []);
      assert.equal((await es.create({ index, id: event.event.id, document: enriched, refresh: true })).result, 'created');
      const near = await es.search({ index, query: { geo_distance: { distance: '10km', 'source.geo.location': { lat: 51.5, lon: -0.1 } } } });
      assert.equal(near.hits.hits.length, 1, 'the new geo_point field is indexed in the old index');

      // A field whose type changed cannot be put on an existing index: reported, the rest of setup goes on.
      await es.indices.create({ index: `${stale}-access-2026.01.03`, mappings: { properties: { source: { properties: { as: { properties: { number: { type: 'keyword' } } } } } } } });
      const report = await setupElasticsearch(es, stale, url);
      assert.deepEqual(report.staleMappings.map((m) => m.pattern), [`${stale}-access-*`]);
      assert.match(report.staleMappings[0]!.reason, /number|mapper|illegal/i);
      assert.ok(report.updatedMappings.includes(`${stale}-events-*`));
    } finally {
      await dropPrefix(es, upgraded);
      await dropPrefix(es, stale);
    }
  });

  it('refuses an unknown field with 400 strict_dynamic_mapping_exception, at the top or nested', async () => {
    const index = `${prefix}-events-2026.01.01`;
    const event = buildSecurityEvent('authn_login_success', { user: { name: 'alice' }, timestamp: new Date('2026-01-01T11:00:00Z') });
    assert.deepEqual(await refusal(es.index({ index, document: { ...event, surprise: 'x' } })), { status: 400, type: 'strict_dynamic_mapping_exception' });
    assert.deepEqual(await refusal(es.index({ index, document: { ...event, user: { name: 'alice', nickname: 'al' } } })), { status: 400, type: 'strict_dynamic_mapping_exception' });
    // The access family has the same mapping.
    const access = `${prefix}-access-2026.01.01`;
    assert.deepEqual(await refusal(es.index({ index: access, document: { '@timestamp': event['@timestamp'], message: 'GET / 200', headers: {} } })), { status: 400, type: 'strict_dynamic_mapping_exception' });
    const mapping = (await es.indices.getMapping({ index }))[index]!.mappings as { properties: Record<string, unknown> };
    assert.ok(!('surprise' in mapping.properties));
  });

  it('accepts extra sentinel.* fields, keeps them in _source, and does not index them', async () => {
    const index = `${prefix}-events-2026.01.01`;
    const event = buildSecurityEvent('authz_admin', {
      user: { name: 'admin' }, timestamp: new Date('2026-01-01T12:00:00Z'),
      sentinel: { session_id: 'ref-extra', target_user: 'alice', made_up: { deep: 'value-xyz' } },
    });
    await es.create({ index, id: event.event.id, document: event, refresh: true });
    const stored = await es.get({ index, id: event.event.id });
    assert.deepEqual((stored._source as { sentinel: unknown }).sentinel, { session_id: 'ref-extra', target_user: 'alice', made_up: { deep: 'value-xyz' } });
    const byKnown = await es.search({ index, query: { term: { 'sentinel.session_id': 'ref-extra' } } });
    assert.equal(byKnown.hits.hits.length, 1, 'declared sentinel fields are indexed');
    for (const field of ['sentinel.target_user', 'sentinel.made_up.deep']) {
      const byExtra = await es.search({ index, query: { term: { [field]: field.endsWith('deep') ? 'value-xyz' : 'alice' } } });
      assert.equal(byExtra.hits.hits.length, 0, `${field} is not indexed`);
    }
    const mapping = (await es.indices.getMapping({ index }))[index]!.mappings as { properties: { sentinel: { dynamic?: unknown; properties: Record<string, unknown> } } };
    assert.equal(String(mapping.properties.sentinel.dynamic), 'false');
    assert.ok(!('made_up' in mapping.properties.sentinel.properties));
    assert.ok(!('target_user' in mapping.properties.sentinel.properties));
  });

  it('gives alert and dead-letter indices their own mappings', async () => {
    const alerts = `${prefix}-alerts-2026.01.01`;
    await es.index({ index: alerts, document: { '@timestamp': '2026-01-01T00:00:00Z', ecs: { version: ECS_VERSION }, message: 'a', rule: { id: 'r1' }, threat: { technique: { id: 'T1110' } }, event: { id: 'x', kind: 'alert' } }, refresh: true });
    const alertMapping = (await es.indices.getMapping({ index: alerts }))[alerts]!.mappings as { properties: Record<string, unknown> };
    assert.ok('rule' in alertMapping.properties && 'threat' in alertMapping.properties && 'user' in alertMapping.properties);
    const deadletter = `${prefix}-deadletter-2026.01.01`;
    await es.index({ index: deadletter, document: { '@timestamp': '2026-01-01T00:00:00Z', ecs: { version: ECS_VERSION }, message: 'd', event: { kind: 'pipeline_error' }, sentinel: { deadletter: { index: 'i', document_id: 'd', status: 400, document: '{}' } } }, refresh: true });
    assert.deepEqual(await refusal(es.index({ index: deadletter, document: { '@timestamp': '2026-01-01T00:00:00Z', user: { name: 'x' } } })), { status: 400, type: 'strict_dynamic_mapping_exception' });
  });
});

/** A fake Elasticsearch answering node info with `version`, and `putStatus` to every template PUT. */
async function startFakeElasticsearch(version: string, putStatus = 200): Promise<{ url: string; puts: string[]; close(): Promise<void> }> {
  const puts: string[] = [];
  const server = createHttpServer((req, res) => {
    req.resume();
    const headers = { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' };
    if (req.method === 'GET' && req.url?.startsWith('/_nodes/_local')) {
      res.writeHead(200, headers).end(JSON.stringify({ nodes: { n1: { version } } }));
    } else if (req.method === 'PUT') {
      puts.push(req.url ?? '');
      const body = putStatus === 200 ? { acknowledged: true } : { error: { type: 'security_exception', reason: 'action is unauthorized' }, status: putStatus };
      res.writeHead(putStatus, headers).end(JSON.stringify(body));
    } else {
      res.writeHead(404, headers).end('{}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    puts,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('setupElasticsearch: errors an operator can act on', () => {
  it('refuses an unsupported major version with es_version, before installing anything', async () => {
    const fake = await startFakeElasticsearch('7.17.9');
    const client = createElasticClient({ url: fake.url });
    try {
      await assert.rejects(setupElasticsearch(client, 'p', fake.url), (error: unknown) =>
        error instanceof ElasticsearchError && error.code === 'es_version' && /7\.17\.9 is not supported; use 8\.x or 9\.x/.test(error.message));
      assert.deepEqual(fake.puts, []);
    } finally {
      await client.close();
      await fake.close();
    }
  });

  it('maps a 403 on the template PUT to es_forbidden, naming the privilege needed', async () => {
    const fake = await startFakeElasticsearch('9.1.0', 403);
    const client = createElasticClient({ url: fake.url });
    try {
      await assert.rejects(setupElasticsearch(client, 'p', fake.url), (error: unknown) =>
        error instanceof ElasticsearchError && error.code === 'es_forbidden' && /manage_index_templates/.test(error.message));
      assert.deepEqual(fake.puts, ['/_component_template/p-ecs-base'], 'stops at the first refusal');
    } finally {
      await client.close();
      await fake.close();
    }
  });

  it('installs on a 9.x server', async () => {
    const fake = await startFakeElasticsearch('9.0.3');
    const client = createElasticClient({ url: fake.url });
    try {
      const result = await setupElasticsearch(client, 'p', fake.url);
      assert.equal(result.version, '9.0.3');
      assert.deepEqual(fake.puts, [
        '/_component_template/p-ecs-base', '/_component_template/p-ecs-alerts',
        '/_index_template/p-events', '/_index_template/p-access', '/_index_template/p-alerts', '/_index_template/p-deadletter',
        ...['events', 'access', 'alerts', 'deadletter'].map((family) => `/p-${family}-*/_mapping?allow_no_indices=true&ignore_unavailable=true&expand_wildcards=open`),
      ]);
    } finally {
      await client.close();
      await fake.close();
    }
  });
});

describe('koa-sentinel setup (CLI) against the shared Elasticsearch', () => {
  let url: string;
  let es: Client;
  const prefix = uniquePrefix('clisetup');

  before(async () => {
    ({ url } = await sharedElasticsearch());
    es = createElasticClient({ url });
  });
  after(async () => {
    await dropPrefix(es, prefix);
    await es.close();
  });

  it('installs the templates, prints the version and exits 0, twice', async () => {
    const version = await serverVersion(es);
    for (const run of [1, 2]) {
      const result = await runCli(['setup'], { env: { ELASTICSEARCH_URL: url, ES_INDEX_PREFIX: prefix } });
      assert.equal(result.code, 0, `run ${run}: ${result.stderr}`);
      assert.equal(result.stdout, successMessage(version, url, prefix), `run ${run}`);
      assert.equal(result.stderr, '', `run ${run}`);
    }
    const got = await installed(es, prefix);
    assert.deepEqual(Object.keys(got).sort(), [...templateNames(prefix).components, ...templateNames(prefix).indexTemplates].sort());
  });

  it('exits 1 quickly with es_unreachable when nothing listens at ELASTICSEARCH_URL', async () => {
    const port = await freePort();
    const result = await runCli(['setup'], { env: { ELASTICSEARCH_URL: `http://127.0.0.1:${port}`, ES_INDEX_PREFIX: prefix } });
    assert.equal(result.code, 1, result.stderr);
    assert.ok(result.ms < 15_000, `took ${result.ms} ms`);
    assert.match(result.stderr, /Cannot reach Elasticsearch/);
    assert.match(result.stderr, /\[es_unreachable\]/);
    assert.ok(result.stderr.includes(`127.0.0.1:${port}`), 'says where it tried');
    assert.equal(result.stdout, '');
    assert.ok(!/\n\s+at /.test(result.stderr), 'no stack trace for an operator error');
  });

  it('never prints credentials embedded in ELASTICSEARCH_URL', async () => {
    const port = await freePort();
    const result = await runCli(['setup'], { env: { ELASTICSEARCH_URL: `http://user:url-secret-pw@127.0.0.1:${port}`, ES_INDEX_PREFIX: prefix } });
    assert.equal(result.code, 1);
    assert.ok(!`${result.stdout}${result.stderr}`.includes('url-secret-pw'), result.stderr);
  });
});

/**
 * A stand-in for Elasticsearch's API key realm, in front of the secured node: it accepts exactly
 * `Authorization: ApiKey <key>` and forwards with the superuser's Basic credentials; anything else gets the 401
 * Elasticsearch would give. It proves what our client sends, whatever the node can do.
 */
async function startApiKeyProxy(target: string, key: string, basic: string): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server = createHttpServer((req, res) => {
    const given = req.headers.authorization ?? '';
    seen.push(given);
    if (given !== `ApiKey ${key}`) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'ApiKey' });
      res.end(JSON.stringify({ error: { type: 'security_exception', reason: 'unable to authenticate with provided credentials' }, status: 401 }));
      return;
    }
    const upstream = httpRequest(`${target}${req.url}`, { method: req.method, headers: { ...req.headers, host: new URL(target).host, authorization: `Basic ${basic}` } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('setup and shipping against a security-enabled Elasticsearch', () => {
  let node: ElasticsearchProcess;
  let admin: Client;
  let basic: string;
  const prefix = uniquePrefix('secure');
  const spools: string[] = [];

  const spoolDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-spool-'));
    spools.push(dir);
    return dir;
  };

  /** Ships `events` with `client` and returns the stats and reported errors after a flush of `deadlineMs`. */
  const ship = async (client: Client, events: SecurityEvent[], deadlineMs: number): Promise<{ drained: boolean; stats: ShipperStats; errors: string[] }> => {
    const reported: string[] = [];
    const shipper = createShipper({ client, indexPrefix: prefix, dir: spoolDir(), maxBatchAgeMs: 50, retryBaseMs: 50, retryMaxMs: 200, onError: (message) => reported.push(message) });
    shipper.start();
    try {
      for (const event of events) shipper.write(event as never);
      const drained = await shipper.flush(deadlineMs);
      return { drained, stats: shipper.stats(), errors: reported };
    } finally {
      await shipper.close(100);
    }
  };

  const findByIds = async (events: SecurityEvent[]): Promise<string[]> => {
    await admin.indices.refresh({ index: `${prefix}-events-*`, allow_no_indices: true });
    const found = await admin.search({ index: `${prefix}-events-*`, query: { ids: { values: events.map((e) => e.event.id) } }, size: 100 });
    for (const hit of found.hits.hits) assert.equal(hit._index, dailyIndex(prefix, 'events', (hit._source as { '@timestamp': string })['@timestamp']));
    return found.hits.hits.map((hit) => (hit._source as { event: { action: string } }).event.action).sort();
  };

  const carolEvents = (): SecurityEvent[] => [
    buildSecurityEvent('authn_login_success', { user: { name: 'carol', id: 'u_carol' }, source: { ip: '192.0.2.10' } }),
    buildSecurityEvent('authn_login_fail', { user: { name: 'carol' }, reason: 'bad_password', source: { ip: '192.0.2.11' } }),
    buildSecurityEvent('session_logout', { user: { name: 'carol' }, reason: 'logout' }),
  ];

  before(async () => {
    node = await startElasticsearch({ security: true });
    basic = Buffer.from(`${node.username}:${node.password}`).toString('base64');
    admin = createElasticClient({ url: node.url, username: node.username, password: node.password });
  });
  after(async () => {
    await admin?.close();
    await node?.destroy();
    for (const dir of spools) removeSpool(dir, 'setup-secured');
  });

  it('the node really requires authentication', async () => {
    const anonymous = await fetch(`${node.url}/_cluster/health`);
    assert.equal(anonymous.status, 401);
    const result = await runCli(['setup'], { env: { ELASTICSEARCH_URL: node.url, ES_INDEX_PREFIX: prefix } });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /\[es_auth\]/);
  });

  it('setup with ELASTICSEARCH_USERNAME/PASSWORD exits 0 and installs the templates', async () => {
    const result = await runCli(['setup'], { env: { ELASTICSEARCH_URL: node.url, ES_INDEX_PREFIX: prefix, ELASTICSEARCH_USERNAME: node.username!, ELASTICSEARCH_PASSWORD: node.password! } });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, successMessage(await serverVersion(admin), node.url, prefix));
    assert.ok(!result.stdout.includes(node.password!));
    const got = await installed(admin, prefix);
    assert.equal(Object.keys(got).length, 6);
  });

  it('a wrong password exits 1 with a 401 message about the credentials, never printing the password', async () => {
    const wrong = 'Wrong-Pa55word-that-must-not-leak';
    const result = await runCli(['setup'], { env: { ELASTICSEARCH_URL: node.url, ES_INDEX_PREFIX: uniquePrefix('wrongpw'), ELASTICSEARCH_USERNAME: node.username!, ELASTICSEARCH_PASSWORD: wrong } });
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stderr, /401/);
    assert.match(result.stderr, /credentials/);
    assert.match(result.stderr, /\[es_auth\]/);
    const output = `${result.stdout}${result.stderr}`;
    assert.ok(!output.includes(wrong), output);
    assert.ok(!output.includes(node.password!), output);
    assert.ok(!output.includes(Buffer.from(`${node.username}:${wrong}`).toString('base64')), output);
  });

  it('refuses an API key together with a username and password (exit 2)', async () => {
    const result = await runCli(['setup'], { env: { ELASTICSEARCH_URL: node.url, ELASTICSEARCH_API_KEY: 'a2V5OnZhbHVl', ELASTICSEARCH_USERNAME: 'u', ELASTICSEARCH_PASSWORD: 'p' } });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /not both/);
  });

  it('the shipper authenticates with username/password and delivers events the superuser can find', async () => {
    const events = carolEvents();
    const { drained, stats, errors: reported } = await ship(admin, events, 15_000);
    assert.equal(drained, true, JSON.stringify(stats));
    assert.equal(stats.delivered, 3);
    assert.deepEqual(reported, []);
    assert.deepEqual(await findByIds(events), ['authn_login_fail', 'authn_login_success', 'session_logout']);
  });

  // A real API key cannot be minted here: the minimal distribution has no analysis-common module, so its
  // .security index (where API keys live) cannot be created. The API key path is proven by what our client sends
  // (the proxy test below), and by the secured node refusing a wrong key; real authentication is username/password.
  it('a wrong API key: setup exits 1 with es_auth, the shipper delivers nothing and reports the 401, neither prints the key', async () => {
    const bogus = Buffer.from('not-an-id:not-a-key').toString('base64');
    const result = await runCli(['setup'], { env: { ELASTICSEARCH_URL: node.url, ES_INDEX_PREFIX: prefix, ELASTICSEARCH_API_KEY: bogus } });
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stderr, /401/);
    assert.match(result.stderr, /\[es_auth\]/);
    assert.ok(!`${result.stdout}${result.stderr}`.includes(bogus));
    const client = createElasticClient({ url: node.url, apiKey: bogus });
    try {
      const events = [buildSecurityEvent('authn_login_success', { user: { name: 'mallory' } })];
      const { drained, stats, errors: reported } = await ship(client, events, 1500);
      assert.equal(drained, false);
      assert.equal(stats.delivered, 0);
      assert.equal(stats.queueDepth, 1, 'kept for later, not dropped');
      assert.match(stats.lastError ?? '', /401/);
      assert.ok(reported.length > 0);
      assert.ok(!reported.join('\n').includes(bogus));
      assert.deepEqual(await findByIds(events), []);
    } finally {
      await client.close();
    }
  });

  it('setup and the shipper send ELASTICSEARCH_API_KEY as "Authorization: ApiKey <encoded>"', async () => {
    const key = Buffer.from('proxy-key-id:proxy-key-secret').toString('base64');
    const proxy = await startApiKeyProxy(node.url, key, basic);
    try {
      const keyPrefix = uniquePrefix('proxykey');
      const result = await runCli(['setup'], { env: { ELASTICSEARCH_URL: proxy.url, ES_INDEX_PREFIX: keyPrefix, ELASTICSEARCH_API_KEY: key } });
      assert.equal(result.code, 0, result.stderr);
      assert.ok(!`${result.stdout}${result.stderr}`.includes(key));
      assert.equal(Object.keys(await installed(admin, keyPrefix)).length, 6);
      const wrong = await runCli(['setup'], { env: { ELASTICSEARCH_URL: proxy.url, ES_INDEX_PREFIX: keyPrefix, ELASTICSEARCH_API_KEY: Buffer.from('x:y').toString('base64') } });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /\[es_auth\]/);

      const client = createElasticClient({ url: proxy.url, apiKey: key });
      try {
        const events = carolEvents();
        const { drained, stats } = await ship(client, events, 15_000);
        assert.equal(drained, true, JSON.stringify(stats));
        assert.equal(stats.delivered, 3);
        assert.deepEqual(await findByIds(events), ['authn_login_fail', 'authn_login_success', 'session_logout']);
      } finally {
        await client.close();
      }
      assert.ok(proxy.seen.filter((h) => h === `ApiKey ${key}`).length >= 2, 'both the CLI and the shipper sent the key');
    } finally {
      await proxy.close();
    }
  });
});
