/**
 * `npm run demo`: the reference server with demo users, a scripted day of traffic through real HTTP (normal users,
 * a brute force, a password spray, a stolen refresh token replayed, a tampered token, a cross-site request), the
 * events shipped to Elasticsearch, the anomaly job run over it, and what it found. Leaves nothing running.
 *
 * Elasticsearch: ELASTICSEARCH_URL if set; otherwise a local node started like the tests do (first run downloads
 * about 100 MB from Maven Central); if that cannot start either, spool-only mode, said so.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAnomalyRunner } from '../src/anomaly/runner.js';
import { alertText } from '../src/anomaly/notifiers.js';
import { loadConfig } from '../src/config/env.js';
import { createElasticClient } from '../src/elastic/client.js';
import { setupElasticsearch } from '../src/elastic/setup.js';
import { startServer } from '../src/service/server.js';
import { addUserToFile } from '../src/session/users.js';
import { startElasticsearch, type ElasticsearchProcess } from '../test/support/elasticsearch.js';
import { TestClient } from '../test/support/http-server.js';

const NORMAL_USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mike', 'nina'];
const OFFICE = '198.51.100.10';
const say = (text: string): void => void process.stdout.write(`${text}\n`);
let step = 0;
const STEPS = 9;
const stage = (text: string): void => say(`\n[${++step}/${STEPS}] ${text}`);

/** A browser of the demo: a cookie jar plus a fixed source address (the server trusts X-Forwarded-For here). */
function browser(url: string, ip: string): TestClient & { from: string } {
  const client = new TestClient(url) as TestClient & { from: string };
  client.from = ip;
  const request = client.request.bind(client);
  client.request = (method, path, options = {}) => request(method, path, { ...options, headers: { 'x-forwarded-for': ip, 'user-agent': ip === OFFICE ? 'Mozilla/5.0 (Windows NT 10.0) Edge/140' : 'python-requests/2.32', ...options.headers } });
  return client;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'koa-sentinel-demo-'));
  let es: ElasticsearchProcess | undefined;
  let esUrl = process.env.ELASTICSEARCH_URL;
  const prefix = process.env.ES_INDEX_PREFIX ?? 'sentinel';

  stage('Elasticsearch');
  if (esUrl) {
    say(`  using ELASTICSEARCH_URL=${esUrl.replace(/\/\/[^/@]*@/, '//***@')}`);
  } else {
    say('  no ELASTICSEARCH_URL: starting a local Elasticsearch (the first run downloads it from Maven Central)...');
    try {
      const started = Date.now();
      es = await startElasticsearch({ heapMb: 512 });
      esUrl = es.url;
      say(`  local Elasticsearch up at ${esUrl} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    } catch (error) {
      say(`  could not start one (${(error as Error).message.split('\n')[0]}).`);
      say('  SPOOL-ONLY MODE: events are journaled on disk and shipped by the next run that has Elasticsearch.');
    }
  }
  const client = esUrl ? createElasticClient({ url: esUrl }) : undefined;
  if (client) {
    const setup = await setupElasticsearch(client, prefix, esUrl);
    say(`  Elasticsearch ${setup.version}: index templates installed (${setup.indexTemplates.join(', ')})`);
  }

  stage('Users and the reference server');
  const usersFile = join(work, 'users.json');
  for (const name of NORMAL_USERS) await addUserToFile(usersFile, name, `${name}-demo-pass`, { roles: ['user'], scrypt: { ln: 12, r: 8, p: 1 } });
  await addUserToFile(usersFile, 'admin', 'admin-demo-pass', { roles: ['user', 'admin'], scrypt: { ln: 12, r: 8, p: 1 } });
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'development', PORT: '0', HOST: '127.0.0.1', TRUST_PROXY: 'true', JWT_SECRET: randomBytes(48).toString('base64'),
    AUTH_USERS_FILE: usersFile, SPOOL_DIR: join(work, 'spool'), ES_INDEX_PREFIX: prefix, ELASTICSEARCH_URL: esUrl ?? '',
    LOG_LEVEL: 'warn',
  });
  const server = await startServer(config, { stdout: false, spoolOnly: !client });
  say(`  ${NORMAL_USERS.length} users and an admin; server on ${server.url} (logs go to Elasticsearch${client ? '' : ' — spool only'})`);

  try {
    stage(`Normal traffic from the office (${OFFICE})`);
    let typos = 0;
    for (const [i, name] of NORMAL_USERS.entries()) {
      const user = browser(server.url, OFFICE);
      if (i % 4 === 1) {
        await user.login(name, 'wrong-password');
        typos += 1;
      }
      await user.login(name, `${name}-demo-pass`);
      await user.request('GET', '/api/hello');
      await user.request('POST', '/api/notes', { json: { text: `${name}'s note` } });
      await user.request('POST', '/auth/refresh');
      await user.request('GET', '/auth/me');
      if (i % 3) await user.request('POST', '/auth/logout');
    }
    say(`  ${NORMAL_USERS.length} users logged in, used the API, refreshed, most logged out; ${typos} typed a wrong password once`);

    stage('Brute force against alice from 203.0.113.66');
    const attacker = browser(server.url, '203.0.113.66');
    const statuses: Record<number, number> = {};
    for (let i = 0; i < 30; i += 1) {
      const res = await attacker.login('alice', `guess-${i}`);
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    }
    say(`  30 guesses: ${Object.entries(statuses).map(([s, n]) => `${n} × ${s}`).join(', ')} (the throttle answers 429 with Retry-After)`);

    stage('Password spray from 192.0.2.77');
    const sprayer = browser(server.url, '192.0.2.77');
    for (const password of ['Winter2026!', 'Password1']) for (const name of NORMAL_USERS) await sprayer.login(name, password);
    say(`  2 common passwords tried against ${NORMAL_USERS.length} accounts`);

    stage('A stolen refresh token replayed');
    const carol = browser(server.url, OFFICE);
    await carol.login('carol', 'carol-demo-pass');
    const stolen = carol.cookie('__Secure-sentinel_rt')!;
    await carol.request('POST', '/auth/refresh');
    say('  carol refreshed her session; the thief waits out the 5 s race window, then replays the old token...');
    await new Promise((resolve) => setTimeout(resolve, 5500));
    const thief = browser(server.url, '203.0.113.200');
    thief.jar.set('__Secure-sentinel_rt', { value: stolen, path: '/auth/refresh' });
    const replay = await thief.request('POST', '/auth/refresh');
    const carolAfter = await carol.request('GET', '/api/hello');
    say(`  replay: ${replay.status} ${replay.body?.error?.code}; carol's session was revoked too (${carolAfter.status}): the whole family is gone`);

    stage('A tampered token and a cross-site request');
    const dave = browser(server.url, '203.0.113.99');
    await dave.login('dave', 'dave-demo-pass');
    const [header, payload, signature] = dave.cookie('__Host-sentinel_at')!.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { roles: string[] };
    claims.roles = ['user', 'admin'];
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    const forger = browser(server.url, '203.0.113.99');
    forger.jar.set('__Host-sentinel_at', { value: forged, path: '/' });
    const forgedStatuses = [];
    for (let i = 0; i < 4; i += 1) forgedStatuses.push((await forger.request('GET', '/api/admin/stats')).status);
    const denied = await dave.request('GET', '/api/admin/stats');
    const crossSite = await dave.request('POST', '/api/notes', { json: { text: 'hi' }, headers: { origin: 'https://evil.example' } });
    say(`  role-escalated token: ${forgedStatuses.join(', ')}; dave asking for admin stats: ${denied.status}; a post from https://evil.example: ${crossSite.status} ${crossSite.body?.error?.code}`);

    stage('Shipping');
    if (server.shipper && client) {
      const drained = await server.shipper.flush(20_000);
      await client.indices.refresh({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true });
      const stats = server.shipper.stats();
      say(`  ${stats.delivered} documents delivered to ${prefix}-events-* and ${prefix}-access-*${drained ? '' : ' (some still in the spool)'}; dead letters: ${stats.deadLettered}`);
    } else {
      const stats = server.shipper?.stats();
      say(`  spool-only: ${stats?.queueDepth ?? 0} documents (${stats?.spoolBytes ?? 0} bytes) wait in ${config.spoolDir}`);
    }

    stage('Anomaly detection');
    if (client) {
      const runner = createAnomalyRunner({ client, indexPrefix: prefix, stepMs: 60_000 });
      const result = await runner.run({ since: new Date(Date.now() - 30 * 60_000), until: new Date() });
      const alerts = [...result.created, ...result.existing];
      say(`  ${result.windows} windows checked in ${result.tookMs} ms: ${alerts.length} alert(s)`);
      for (const alert of alerts) say(`   - ${alertText(alert)}`);
      say('\nWhere to look in Kibana (import the saved objects first: koa-sentinel kibana import --url http://localhost:5601 ...):');
      say(`  - dashboard "Authentication security": ${prefix}-events-* (logins, throttling, token abuse)`);
      say(`  - dashboard "Alerts": ${prefix}-alerts-* (one document per alert, with rule, ATT&CK technique and evidence)`);
      say(`  - from a terminal: ELASTICSEARCH_URL=${esUrl} npm run -s cli -- anomalies list`);
      if (es) say('  (the local Elasticsearch of this demo stops now; set ELASTICSEARCH_URL to keep the data in yours)');
    } else {
      say('  skipped: the anomaly job needs Elasticsearch. Set ELASTICSEARCH_URL and run again.');
    }
  } finally {
    await server.close(5000);
    await client?.close();
    await es?.destroy();
    rmSync(work, { recursive: true, force: true });
  }
  say('\nDone. Nothing is left running.');
}

await main();
process.exit(0);
