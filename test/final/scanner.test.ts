/**
 * The canary test of the final secrets scan (no-secrets.test.ts): a canary of each kind of secret is planted in
 * each kind of place the scan reads — a document left in Elasticsearch, a document deleted through dropPrefix (so
 * read from the archive), a spool chunk and a dead letter removed through removeSpool, a server log — and the scan
 * must find every one, where it was planted and as what it is. Redaction's own output planted the same way must
 * not be a finding. It runs with a scan folder of its own, so its canaries never reach the run's scan.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { createElasticClient } from '../../src/elastic/client.js';
import { dropPrefix, sharedElasticsearch } from '../support/elasticsearch.js';
import { archiveText, recordPrefix, recordSecret, removeSpool, SCAN_DIR_VARIABLE, type PlaceKind } from '../support/secret-ledger.js';
import { scanAll, type ScanReport } from './scan-all.js';

const random = (bytes = 32): string => randomBytes(bytes).toString('base64url');
const b64url = (json: object): string => Buffer.from(JSON.stringify(json)).toString('base64url');
const jwt = (): string => `${b64url({ alg: 'HS256', typ: 'at+jwt' })}.${b64url({ sub: 'u_canary', jti: random(12) })}.${random()}`;

interface Canary {
  /** Also the document id and the marker in each line. */
  name: string;
  /** What the scan must call it (the start of the finding's name: a ledger value is named with the form found). */
  what: string;
  /** The text planted in a string field (documents) or a log line. */
  text: string;
}

/** One canary per kind. Values recorded in the ledger are what the tests would have handled. */
function canaries(): Canary[] {
  const access = jwt();
  recordSecret('access token', access);
  const csrf = `${random(16)}.${random()}`;
  recordSecret('csrf token', csrf);
  const password = `canary horse ${random(6)} staple`;
  recordSecret('password', password);
  const formPassword = `canary form ${random(6)} staple`;
  recordSecret('password', formPassword);
  const encodedPassword = `canary url ${random(6)}/staple!`;
  recordSecret('password', encodedPassword);
  // Bytes whose base64 differs from their base64url, so the base64 form is what is found.
  let secret = randomBytes(32);
  while (!/[+/]/.test(secret.toString('base64'))) secret = randomBytes(32);
  recordSecret('signing secret', secret);
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  recordSecret('signing key', pem);
  const esPassword = `pw-${random(8)}-A1`;
  recordSecret('elasticsearch credential', esPassword);
  const redisPassword = `redis-${random(12)}`;
  recordSecret('redis credential', redisPassword);
  const apiKey = Buffer.from(`${random(8)}:${random(16)}`).toString('base64');
  recordSecret('api key', apiKey);
  const refresh = jwt();
  recordSecret('refresh token', refresh);
  return [
    { name: 'jwt', what: 'JWT', text: `token ${jwt()}` },
    { name: 'jwt-percent-dots', what: 'JWT', text: `/callback?t=${jwt().replaceAll('.', '%2E')}` },
    { name: 'signature-alone', what: 'access token (value or its signature segment)', text: `sig=${access.split('.')[2]}` },
    { name: 'csrf-token', what: 'csrf token (value or its signature segment)', text: `x-csrf-token ${csrf}` },
    { name: 'refresh-cookie-value', what: 'refresh token (value or its signature segment)', text: `kept ${refresh}` },
    { name: 'password-plain', what: 'password (value)', text: `typed ${password}` },
    { name: 'password-url-encoded', what: 'password (URL-encoded)', text: `body password=${encodeURIComponent(encodedPassword)}` },
    { name: 'password-form-encoded', what: 'password (form-encoded)', text: `body password=${new URLSearchParams({ p: formPassword }).toString().slice(2)}` },
    { name: 'cookie-pair', what: '__Secure-sentinel_rt cookie', text: `cookie: __Secure-sentinel_rt=${random()}` },
    { name: 'cookie-json-key', what: '__Host-sentinel_at cookie', text: JSON.stringify({ '__Host-sentinel_at': random() }) },
    { name: 'bearer', what: 'Bearer credential', text: `Authorization: Bearer ${random()}` },
    { name: 'basic', what: 'Basic credential', text: `Authorization: Basic ${Buffer.from(`u:${random(8)}`).toString('base64')}` },
    { name: 'apikey-shape', what: 'ApiKey credential', text: `Authorization: ApiKey ${Buffer.from(`${random(8)}:${random(16)}`).toString('base64')}` },
    { name: 'apikey-value', what: 'api key (value)', text: `key ${apiKey}` },
    { name: 'pem-private-key', what: 'PEM private key', text: `-----BEGIN RSA PRIVATE KEY-----\n${random(48)}` },
    { name: 'signing-key', what: 'signing key', text: pem },
    { name: 'hmac-config', what: 'base64url: secret', text: `JWT_SECRET=base64url:${random()}` },
    { name: 'secret-hex', what: 'signing secret (hex)', text: `key ${secret.toString('hex')}` },
    { name: 'secret-base64', what: 'signing secret (base64)', text: `key ${secret.toString('base64')}` },
    { name: 'es-credential', what: 'elasticsearch credential (value)', text: `ES_PASSWORD ${esPassword}` },
    { name: 'url-credentials', what: 'credentials in a URL', text: `connecting to http://elastic:${random(10)}@127.0.0.1:9200` },
    { name: 'redis-credential', what: 'redis credential (value)', text: `redis://:${redisPassword}@127.0.0.1:6379` },
  ];
}

/** What redaction writes (src/logging/redact.ts), and a cleared cookie: none of it is a secret. */
const REDACTED = [
  'Bearer [REDACTED] and [REDACTED:jwt]',
  JSON.stringify({ cookie: '[REDACTED]', '__Host-sentinel_at': '[REDACTED]' }),
  '__Host-sentinel_at=; Path=/; Max-Age=0',
  'redis://:[REDACTED]@127.0.0.1:6379 and the Bearer scheme',
];

/** A document as the shipper writes one, with the planted text in its message and in a nested field. */
const documentOf = (canary: Canary): object => ({
  '@timestamp': new Date().toISOString(), canary: canary.name, message: canary.text, http: { request: { body: { content: canary.text } } },
});

describe('the final secrets scan finds a canary of each kind in each kind of place', () => {
  const previous = process.env[SCAN_DIR_VARIABLE];
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-canary-scan-'));
  const prefix = `canary-${random(6).toLowerCase().replace(/[^a-z0-9]/g, '')}`;
  let client: Client;
  let planted: Canary[];
  let report: ScanReport;

  before(async () => {
    process.env[SCAN_DIR_VARIABLE] = dir;
    recordPrefix(prefix);
    const { url } = await sharedElasticsearch();
    client = createElasticClient({ url, requestTimeoutMs: 60_000 });
    planted = canaries();
    const all = [...planted, ...REDACTED.map((text, i) => ({ name: `redacted-${i}`, what: '', text }))];

    // Elasticsearch: one index kept (read in place), one dropped through dropPrefix (read from the archive).
    for (const [index, name] of [[`${prefix}-live-events-2026.01.01`, 'live'], [`${prefix}-dropped-events-2026.01.01`, 'dropped']] as const) {
      await client.bulk({ refresh: true, operations: all.flatMap((canary) => [{ create: { _index: index, _id: `${name}-${canary.name}` } }, documentOf(canary)]) });
    }
    await dropPrefix(client, `${prefix}-dropped`);

    // A spool folder as the shipper leaves one: a chunk and the dead letters, removed through removeSpool.
    const spool = mkdtempSync(join(tmpdir(), 'sentinel-canary-spool-'));
    const lines = all.map((canary) => JSON.stringify(documentOf(canary))).join('\n');
    writeFileSync(join(spool, 'chunk-20260101000000-00000001.ndjson'), `${lines}\n`);
    writeFileSync(join(spool, 'deadletter.ndjson'), `${all.map((canary) => JSON.stringify({ status: 400, document: JSON.stringify(documentOf(canary)) })).join('\n')}\n`);
    removeSpool(spool, 'canary');

    // A server's log: bunyan JSON lines and a plain text line per canary.
    archiveText('canary-server', all.map((canary) => `${JSON.stringify({ level: 30, msg: canary.text, canary: canary.name })}\n`).join(''));

    report = await scanAll({ dir, client, indices: `${prefix}-*` });
  });

  after(async () => {
    // Dropped while SENTINEL_SCAN_DIR still names this test's own folder: the canaries never reach the run's scan.
    await dropPrefix(client, `${prefix}-live`).catch(() => undefined);
    await client?.close();
    if (previous === undefined) delete process.env[SCAN_DIR_VARIABLE];
    else process.env[SCAN_DIR_VARIABLE] = previous;
    rmSync(dir, { recursive: true, force: true });
  });

  /** The canary a finding points at: the document id, or the line's position in the planted file. */
  const canaryAt = (place: PlaceKind, where: string): string => {
    const id = /\/(?:live|dropped)-([a-z0-9-]+)/.exec(where)?.[1];
    if (id) return id;
    const line = Number(/:(\d+)$/.exec(where)?.[1]);
    const names = [...planted.map((c) => c.name), ...REDACTED.map((_, i) => `redacted-${i}`)];
    return names[line - 1] ?? `? (${place} ${where})`;
  };

  const places: Array<{ place: PlaceKind; label: string; match: (where: string) => boolean }> = [
    { place: 'document', label: 'a document left in Elasticsearch', match: (where) => where.includes('-live-') && !where.includes('archived') },
    { place: 'document', label: 'a document deleted through dropPrefix', match: (where) => where.includes('-dropped-') && where.includes('archived') },
    { place: 'spool chunk', label: 'a spool chunk', match: () => true },
    { place: 'dead letter', label: 'a dead letter', match: () => true },
    { place: 'stdout', label: 'a server log', match: () => true },
  ];

  for (const { place, label, match } of places) {
    it(`finds every canary in ${label}, as what it is, and nothing in redaction's output`, () => {
      const here = report.findings.filter((f) => f.place === place && match(f.where));
      const byCanary = new Map<string, Set<string>>();
      for (const finding of here) {
        const name = canaryAt(place, finding.where);
        byCanary.set(name, (byCanary.get(name) ?? new Set()).add(finding.what));
      }
      const missed = planted.filter((canary) => ![...byCanary.get(canary.name) ?? []].some((what) => what.startsWith(canary.what))).map((c) => `${c.name} (${c.what}; found ${[...byCanary.get(c.name) ?? []].join(', ') || 'nothing'})`);
      assert.deepEqual(missed, [], `canaries the scan missed in ${label}`);
      const false_ = [...byCanary].filter(([name]) => name.startsWith('redacted-')).map(([name, whats]) => `${name}: ${[...whats].join(', ')}`);
      assert.deepEqual(false_, [], 'redacted text counted as a secret');
    });
  }

  it('reports what it read: the documents in place and in the archive, each archived file, the ledger', () => {
    const n = planted.length + REDACTED.length;
    assert.equal(report.liveDocuments, n);
    assert.deepEqual(Object.fromEntries([...report.archived].map(([place, totals]) => [place, totals])), {
      document: { files: 1, units: n },
      'spool chunk': { files: 1, units: n },
      'dead letter': { files: 1, units: n },
      stdout: { files: 1, units: n },
    });
    assert.equal(report.counts.values, 11, 'the values the canaries recorded');
    assert.ok(report.counts.shapes >= 10);
    const suite = 'test/final/scanner.test.ts';
    assert.deepEqual(Object.fromEntries(report.contributions.get(suite) ?? []), { document: 2 * n, 'spool chunk': n, 'dead letter': n, stdout: n });
  });
});
