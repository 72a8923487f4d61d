/**
 * `npm run test:fuzz`: schemathesis fuzzes every route of the reference server against its OpenAPI description
 * (docs/api.md). The server runs in this process on a free port with NODE_ENV=test, shipping to Elasticsearch
 * (ELASTICSEARCH_URL, else a node started here) so the login-history routes answer for real; we log in as an admin
 * and hand schemathesis the session's cookies and X-CSRF-Token; scripts/fuzz-hooks.py keeps that session alive
 * through the fuzzer's own refreshes and logouts. Checks: all of schemathesis's (no 5xx; status codes, bodies,
 * content types and headers as described; invalid input refused, valid input accepted), and afterwards that every
 * event and access record the fuzzing produced was indexed (none dead-lettered).
 *
 * Environment: SCHEMATHESIS (the executable, default `schemathesis` on PATH; version pinned in
 * scripts/fuzz-requirements.txt), FUZZ_MAX_EXAMPLES (per operation and phase, default 100), FUZZ_SEED, FUZZ_ARGS
 * (more schemathesis options, space-separated, e.g. "--include-path /auth/refresh").
 * Reports (JUnit, the server log) go to test-results/fuzz/.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createElasticClient, loadConfig, setupElasticsearch } from '../src/index.js';
import { CSRF_HEADER, OPENAPI_PATH, SESSION_COOKIES } from '../src/service/openapi.js';
import { DEV_USERS, startServer } from '../src/service/server.js';
import { dropPrefix, startElasticsearch } from '../test/support/elasticsearch.js';

const REPORT_DIR = 'test-results/fuzz';
const SCHEMATHESIS = process.env.SCHEMATHESIS ?? 'schemathesis';
const MAX_EXAMPLES = process.env.FUZZ_MAX_EXAMPLES ?? '100';
const USER = DEV_USERS.find((user) => (user.roles as readonly string[]).includes('admin'))!;

const started = Date.now();
const seconds = (): string => ((Date.now() - started) / 1000).toFixed(1);
mkdirSync(REPORT_DIR, { recursive: true });

const node = process.env.ELASTICSEARCH_URL ? undefined : await startElasticsearch({ heapMb: 512 });
const esUrl = process.env.ELASTICSEARCH_URL ?? node!.url;
const prefix = `fuzz${Date.now().toString(36)}`;
const spoolDir = mkdtempSync(join(tmpdir(), 'sentinel-fuzz-spool-'));
const client = createElasticClient({ url: esUrl });
// What `koa-sentinel setup` does in a deployment: the login-history query sorts on keyword fields.
await setupElasticsearch(client, prefix);

const log: string[] = [];
const config = loadConfig({
  NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn',
  ELASTICSEARCH_URL: esUrl, ES_INDEX_PREFIX: prefix, SPOOL_DIR: spoolDir,
  // The hook's own logins name a documentation address, so the fuzzer's failed logins never throttle them.
  TRUST_PROXY: 'true',
});
const server = await startServer(config, { stdout: { write: (line: string) => log.push(line) } });
console.log(`reference server on ${server.url} (Elasticsearch ${esUrl}, prefix ${prefix}) after ${seconds()} s`);

let code = 1;
try {
  const login = await fetch(`${server.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: server.url, 'x-forwarded-for': '198.51.100.254' },
    body: JSON.stringify({ username: USER.name, password: USER.password }),
  });
  if (login.status !== 200) throw new Error(`login as ${USER.name} answered ${login.status}: ${await login.text()}`);
  const { csrfToken } = (await login.json()) as { csrfToken: string };
  const cookie = login.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ');

  const args = [
    '--config-file', join(import.meta.dirname, 'fuzz.toml'),
    'run', `${server.url}${OPENAPI_PATH}`,
    '--checks', 'all',
    '--max-examples', MAX_EXAMPLES,
    '--phases', 'examples,coverage,fuzzing,stateful',
    '--workers', '2',
    '--request-timeout', '10',
    '--suppress-health-check', 'too_slow,filter_too_much',
    '--report', 'junit', '--report-dir', REPORT_DIR,
    ...(process.env.FUZZ_SEED ? ['--seed', process.env.FUZZ_SEED] : []),
    ...(process.env.FUZZ_ARGS ? process.env.FUZZ_ARGS.split(' ') : []),
  ];
  console.log(`${SCHEMATHESIS} ${args.join(' ')}`);
  const runOnce = (): Promise<{ status: number; output: string }> => new Promise((resolve, reject) => {
    let output = '';
    const child = spawn(SCHEMATHESIS, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        SCHEMATHESIS_HOOKS: 'fuzz-hooks',
        PYTHONPATH: [join(import.meta.dirname), process.env.PYTHONPATH].filter(Boolean).join(':'),
        SENTINEL_FUZZ_URL: server.url,
        SENTINEL_FUZZ_USER: USER.name,
        SENTINEL_FUZZ_PASSWORD: USER.password,
        SENTINEL_FUZZ_COOKIE: cookie,
        SENTINEL_FUZZ_CSRF: csrfToken,
        SENTINEL_FUZZ_COOKIES: JSON.stringify([SESSION_COOKIES.access, SESSION_COOKIES.refresh, SESSION_COOKIES.csrf]),
        SENTINEL_FUZZ_CSRF_HEADER: CSRF_HEADER,
      },
    });
    child.once('error', (error) => reject(new Error(`cannot run ${SCHEMATHESIS} (pip install -r scripts/fuzz-requirements.txt): ${error.message}`)));
    // Shown as it comes, and kept to tell a finding from a crash of the tool itself.
    child.stdout!.on('data', (chunk: Buffer) => { process.stdout.write(chunk); output += chunk.toString(); });
    child.stderr!.on('data', (chunk: Buffer) => { process.stderr.write(chunk); output += chunk.toString(); });
    child.once('close', (status) => resolve({ status: status ?? 1, output }));
  });
  let run = await runOnce();
  // A crash inside hypothesis itself (seen: "AST constructor recursion depth mismatch") is the tool's, not a finding
  // about the server: run once more. A real finding (a FAILURES section) is never retried.
  if (run.status !== 0 && !run.output.includes('= FAILURES =') && run.output.includes('Runtime Error')) {
    console.log('schemathesis crashed inside its own generator without a finding: running it once more');
    run = await runOnce();
  }
  code = run.status;
  // The event pipeline is under test too: every security event and access record the fuzzer provoked must have been
  // indexed, none refused by the templates (a client that can keep its events out of the index is hiding them).
  await server.shipper!.flush(15_000);
  const { deadLettered, dropped } = server.shipper!.stats();
  if (deadLettered + dropped > 0) {
    code ||= 1;
    console.log(`FAIL: ${deadLettered} document(s) dead-lettered, ${dropped} dropped by the shipper; Elasticsearch said:`);
    await client.indices.refresh({ index: `${prefix}-deadletter-*`, ignore_unavailable: true, allow_no_indices: true });
    const letters = await client.search({ index: `${prefix}-deadletter-*`, size: 5, ignore_unavailable: true, allow_no_indices: true });
    for (const hit of letters.hits.hits) console.log(`  ${JSON.stringify((hit._source as { error?: unknown }).error)}`);
  } else {
    console.log(`event pipeline: ${server.shipper!.stats().delivered} documents indexed, none refused`);
  }
} finally {
  writeFileSync(join(REPORT_DIR, 'server.log'), log.join(''));
  const failed = log.filter((line) => line.includes('request failed')).length;
  if (failed) console.log(`${failed} request(s) failed inside the server: see ${REPORT_DIR}/server.log`);
  await server.close(2_000);
  await dropPrefix(client as unknown as Parameters<typeof dropPrefix>[0], prefix).catch(() => undefined);
  await client.close();
  await node?.destroy();
  rmSync(spoolDir, { recursive: true, force: true });
  console.log(`fuzzing done after ${seconds()} s: schemathesis exit ${code}`);
}
process.exit(code);
