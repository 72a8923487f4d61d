/**
 * The package as a new user meets it: `npm pack`, the tarball installed into a fresh app outside the repository,
 * strict `tsc` over every file in examples/ with the 8.19 and the 9.x Elasticsearch client, `require()` from a
 * CommonJS file, then examples/full-stack.ts run as that app against the real Elasticsearch of this run, with the
 * client major that matches the server: logins, a brute force and API calls, after which the events, the access
 * records and the alert must be in Elasticsearch, and the scheduled anomaly job must have run.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@elastic/elasticsearch';
import { freePort, sharedElasticsearch } from '../support/elasticsearch.js';
import { TestClient } from '../support/http-server.js';
import { archiveDocuments, recordSecret } from '../support/secret-ledger.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);
const installed = (name: string): string => (JSON.parse(readFileSync(join(REPO, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
const ALICE = 'correct horse battery staple';
const ADMIN = 'violet tractor ember quay 1987';

let work: string;
let app: string;

function npm(args: string[], cwd: string, input?: string): string {
  return execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], timeout: 240_000 });
}

/**
 * Strict tsc in the app. Declarations are checked too (skipLibCheck off), so a type our .d.ts needs but the package
 * does not bring fails here; errors inside other packages' own declarations (the 9.x client's optional Arrow
 * helpers) are theirs, not ours, and are left out.
 */
function tsc(): void {
  let out = '';
  try {
    execFileSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(app, 'tsconfig.json')], { cwd: app, encoding: 'utf8', stdio: 'pipe' });
    return;
  } catch (error) {
    out = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`;
  }
  const ours = out.split('\n').filter((line) => /error TS/.test(line) && (!line.startsWith('node_modules/') || line.startsWith('node_modules/koa-sentinel/')));
  assert.deepEqual(ours, [], `tsc failed in the consumer app:\n${out}`);
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'sentinel-consumer-'));
  // prepack builds dist/ first, exactly as a publish would.
  const tarball = npm(['pack', '--pack-destination', work, '--json'], REPO);
  const file = (JSON.parse(tarball) as Array<{ filename: string }>)[0]!.filename;
  app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  npm(['install', '--prefer-offline', join(work, file), `koa@${installed('koa')}`, `@koa/router@${installed('@koa/router')}`,
    `@elastic/elasticsearch@${installed('@elastic/elasticsearch')}`, `@types/node@${installed('@types/node')}`], app);
  cpSync(join(REPO, 'examples'), join(app, 'examples'), { recursive: true });
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, noUncheckedIndexedAccess: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022',
      lib: ['ES2023'], types: ['node'], noEmit: true,
      // Our own .d.ts files are checked in full; only third-party declarations are taken as they are.
      skipLibCheck: false, skipDefaultLibCheck: true,
    },
    include: ['examples/*.ts'],
  }));
}, { timeout: 300_000 });

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed package in a fresh app', () => {
  test('ships what it needs and nothing that points outside it', () => {
    const root = join(app, 'node_modules', 'koa-sentinel');
    const files = readdirSync(root, { recursive: true }) as string[];
    for (const needed of ['LICENSE', 'README.md', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/index.js', 'web/app.js', 'kibana/koa-sentinel.ndjson']) {
      assert.ok(files.includes(needed), `${needed} is in the package`);
    }
    assert.deepEqual(files.filter((f) => f.endsWith('.map')), [], 'no source maps pointing at unshipped sources');
    assert.deepEqual(files.filter((f) => f.startsWith('src/') || f.startsWith('test/')), []);
    const cited = files.filter((f) => /\.(js|d\.ts)$/.test(f)).filter((f) => /DESIGN\.md|shared\/reference|\.\.\/shared/.test(readFileSync(join(root, f), 'utf8')));
    assert.deepEqual(cited, [], 'no shipped file cites documents outside the package');
  });

  test('examples type-check strictly with the 8.19 client', () => {
    tsc();
  });

  test('examples type-check strictly with the 9.x client', () => {
    npm(['install', '--prefer-offline', `@elastic/elasticsearch@${installed('es9')}`], app);
    try {
      tsc();
    } finally {
      npm(['install', '--prefer-offline', `@elastic/elasticsearch@${installed('@elastic/elasticsearch')}`], app);
    }
  });

  test('require() from a CommonJS file gets the same API', () => {
    writeFileSync(join(app, 'probe.cjs'), "const s = require('koa-sentinel'); process.stdout.write(JSON.stringify([typeof s.createSentinel, typeof s.createSessionKit, typeof s.createShipper]));");
    const out = execFileSync(process.execPath, [join(app, 'probe.cjs')], { cwd: app, encoding: 'utf8' });
    assert.equal(out, '["function","function","function"]');
  });
});

describe('examples/full-stack.ts as a running app', () => {
  let es: Client;
  let server: ChildProcess | undefined;
  let output = '';
  let url: string;
  const spoolDir = (): string => join(app, 'spool');

  before(async () => {
    const { url: esUrl } = await sharedElasticsearch();
    const info = (await (await fetch(`${esUrl}/_nodes/_local?filter_path=nodes.*.version`)).json()) as { nodes: Record<string, { version: string }> };
    const major = Number(Object.values(info.nodes)[0]!.version.split('.')[0]);
    // A 9.x client sends compatible-with=9, which an 8.x server refuses: the app gets the client of the server's major.
    if (major >= 9) npm(['install', '--prefer-offline', `@elastic/elasticsearch@${installed('es9')}`], app);
    es = new Client({ node: esUrl });
    recordSecret('password', ALICE);
    recordSecret('password', ADMIN);
    // Users made with the installed CLI, as the README tells; passwords on stdin, never on the command line.
    const bin = join(app, 'node_modules', '.bin', 'koa-sentinel');
    execFileSync(bin, ['users', 'add', 'alice', '--file', 'users.json'], { cwd: app, input: `${ALICE}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
    execFileSync(bin, ['users', 'add', 'admin', '--role', 'user', '--role', 'admin', '--file', 'users.json'], { cwd: app, input: `${ADMIN}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
    // The same template names as every other suite use this prefix on the shared node: drop what a former run left.
    await archiveDocuments(es, 'sentinel-*', 'consumer-start').catch(() => 0);
    await es.indices.delete({ index: 'sentinel-*', allow_no_indices: true, expand_wildcards: 'all' }).catch(() => undefined);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const secret = randomBytes(48).toString('base64url');
    recordSecret('signing secret', secret);
    const tsx = require.resolve('tsx');
    server = spawn(process.execPath, ['--import', tsx, join('examples', 'full-stack.ts')], {
      cwd: app,
      env: {
        PATH: process.env.PATH, PORT: String(port), ELASTICSEARCH_URL: esUrl, AUTH_USERS_FILE: 'users.json',
        JWT_SECRET: secret, SPOOL_DIR: spoolDir(), ANOMALY_CRON: '*/2 * * * * *',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    server.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const deadline = Date.now() + 60_000;
    while (!output.includes('listening on')) {
      if (server.exitCode !== null) assert.fail(`the example exited with ${server.exitCode}:\n${output}`);
      if (Date.now() > deadline) assert.fail(`the example did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, { timeout: 300_000 });

  after(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    await es?.close();
  });

  test('logins, a brute force and API calls end up in Elasticsearch, and the alert with them', { timeout: 120_000 }, async () => {
    const admin = new TestClient(url);
    assert.equal((await admin.login('admin', ADMIN)).status, 200);

    const alice = new TestClient(url);
    assert.equal((await alice.login('alice', ALICE)).status, 200);
    assert.equal((await alice.request('POST', '/api/notes', { json: { text: 'first note' } })).status, 201);
    const notes = await alice.request('GET', '/api/notes');
    assert.equal(notes.status, 200);
    assert.deepEqual(notes.body, { notes: [{ author: 'alice', text: 'first note' }] });
    assert.equal((await alice.request('POST', '/api/notes', { json: { text: '' } })).body.error.code, 'invalid_request');
    assert.equal((await alice.request('POST', '/api/notes', { body: '{bad', headers: { 'content-type': 'application/json' } })).status, 400);

    const attacker = new TestClient(url);
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) statuses.push((await attacker.login('alice', `guess-${i}`)).status);
    assert.ok(statuses.every((s) => s === 401 || s === 429), `only refusals: ${statuses.join(',')}`);

    // Security events are journaled before the response; wait until Elasticsearch has all of them.
    const count = async (index: string, query: object): Promise<number> => {
      await es.indices.refresh({ index, allow_no_indices: true, ignore_unavailable: true }).catch(() => undefined);
      return (await es.count({ index, query, allow_no_indices: true, ignore_unavailable: true })).count;
    };
    // A guess refused by the throttle is an excess_rate_limit_exceeded event, which the brute-force rules count too.
    const failures = { terms: { 'event.action': ['authn_login_fail', 'excess_rate_limit_exceeded'] } };
    const deadline = Date.now() + 30_000;
    while ((await count('sentinel-events-*', failures)) < 14 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    assert.equal(await count('sentinel-events-*', failures), 14, 'every guess is an event');
    assert.equal(await count('sentinel-events-*', { term: { 'event.action': 'authn_login_success' } }), 2);
    assert.ok(await count('sentinel-events-*', { term: { 'event.action': 'input_validation_fail' } }) >= 1, 'the bad JSON body is a security event');

    const run = await admin.request('POST', '/api/admin/anomalies/run', { json: {} });
    assert.equal(run.status, 200, run.text);
    const alerts = await count('sentinel-alerts-*', { term: { 'rule.id': 'brute_force_account' } });
    assert.ok(alerts >= 1, `the brute force alert is in Elasticsearch (run answered ${run.text})`);

    // Access records: one per request we made, with the status the client saw.
    while ((await count('sentinel-access-*', { term: { 'url.path': '/api/notes' } })) < 4 && Date.now() < deadline + 30_000) await new Promise((r) => setTimeout(r, 250));
    assert.equal(await count('sentinel-access-*', { term: { 'url.path': '/api/notes' } }), 4);
    assert.equal(await count('sentinel-access-*', { bool: { filter: [{ term: { 'url.path': '/api/notes' } }, { term: { 'http.response.status_code': 400 } }] } }), 2);

    // The scheduled job ran on its own too (every 2 s here).
    const waitRun = Date.now() + 15_000;
    while (!output.includes('Anomaly run:') && Date.now() < waitRun) await new Promise((r) => setTimeout(r, 200));
    assert.match(output, /Anomaly run: \d+ window/);
    assert.doesNotMatch(output, new RegExp(`${ALICE}|${ADMIN}|guess-3`), 'no password in the logs');
  });
});
