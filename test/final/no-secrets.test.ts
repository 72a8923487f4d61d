/**
 * Runs after the whole suite (scripts/run-tests.ts runs test/final/ last): every document the suite shipped into
 * Elasticsearch — every index matching `t*` (uniquePrefix) and `sentinel*` (the default prefix) — is read back and
 * searched for secrets that must never be logged (ASVS 16.2.5, docs/events.md#redaction): JWTs, the passwords the
 * tests type, session cookies, Bearer/Basic credentials. Redaction happens before anything is written, so none may
 * be there, not even inside a dead letter's copy of a rejected document.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { createElasticClient } from '../../src/elastic/client.js';
import { DEV_USERS } from '../../src/service/server.js';
import { sharedElasticsearch } from '../support/elasticsearch.js';
import { PASSWORDS } from '../support/http-server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INDICES = 't*,sentinel*';
const PAGE = 10_000;

/** Passwords typed by the tests, listed here so the scan does not depend on how a test names its constants. */
const KNOWN_PASSWORDS = [
  ...Object.values(PASSWORDS),
  ...DEV_USERS.map((user) => user.password),
  // test/elastic/shipper.test.ts
  'shipper-test correct horse 31',
  'wrong password for the sigkill test',
  'not the password at all',
  // test/cli/cli.test.ts
  'carol correct horse 7',
];

/**
 * Plus every string literal a test file assigns to something named `...password` (`password: '...'`,
 * `CAROL_PASSWORD = '...'`), so a password added to a test later is scanned for too. Shapes such as `string(8)`
 * (how a malformed login is described) and very short values (which could occur by chance) are left out.
 */
function passwordsInTests(): string[] {
  const found = new Set<string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts')) {
        const text = readFileSync(path, 'utf8');
        for (const match of text.matchAll(/\b\w*password\s*[:=]\s*(['"`])([^'"`\n$]{8,})\1/gi)) {
          const value = match[2]!;
          if (!/^string\(\d+\)$/.test(value)) found.add(value);
        }
      }
    }
  };
  walk(join(ROOT, 'test'));
  return [...found];
}

interface Finding {
  index: string;
  id: string;
  what: string;
  field: string;
}

function patterns(): Array<{ what: string; test: (value: string) => boolean }> {
  const passwords = [...new Set([...KNOWN_PASSWORDS, ...passwordsInTests()])];
  return [
    // A JWT: base64url JSON header and payload, both starting with `{"` (eyJ).
    { what: 'JWT', test: (v) => /eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}/.test(v) },
    { what: 'access cookie', test: (v) => v.includes('__Host-sentinel_at=') },
    { what: 'refresh cookie', test: (v) => v.includes('__Secure-sentinel_rt=') },
    { what: 'CSRF cookie', test: (v) => v.includes('__Host-sentinel_csrf=') },
    // A credential after the scheme; the redacted form `Bearer [REDACTED]` does not match.
    { what: 'Bearer credential', test: (v) => /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/i.test(v) },
    { what: 'Basic credential', test: (v) => /\bBasic\s+[A-Za-z0-9+/=]{8,}/.test(v) },
    ...passwords.map((password) => ({ what: `test password "${password}"`, test: (v: string) => v.includes(password) })),
  ];
}

/** Calls `visit` with every string in a document (values and keys), with its path. */
function strings(value: unknown, path: string, visit: (text: string, path: string) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((item, i) => strings(item, `${path}[${i}]`, visit));
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      visit(key, `${path}.${key} (key)`);
      strings(item, path ? `${path}.${key}` : key, visit);
    }
  }
}

interface ScanResult {
  scanned: number;
  findings: Finding[];
  perIndex: Map<string, number>;
}

/**
 * Reads every document of `indices` once: a point in time, `slices` parallel slices, search_after on _shard_doc
 * (consistent and complete however many documents there are), and runs every check on every string.
 */
async function scan(client: Client, indices: string, checks: ReturnType<typeof patterns>, slices: number): Promise<ScanResult> {
  const result: ScanResult = { scanned: 0, findings: [], perIndex: new Map() };
  const pit = await client.openPointInTime({ index: indices, keep_alive: '5m', ignore_unavailable: true, expand_wildcards: 'open' } as never);
  const slice = async (id: number): Promise<void> => {
    let after: unknown[] | undefined;
    for (;;) {
      const page = await client.search<Record<string, unknown>>({
        pit: { id: pit.id, keep_alive: '5m' },
        size: PAGE,
        sort: [{ _shard_doc: 'asc' }],
        track_total_hits: false,
        ...(slices > 1 ? { slice: { id, max: slices } } : {}),
        ...(after ? { search_after: after } : {}),
      } as never);
      const hits = page.hits.hits;
      for (const hit of hits) {
        result.scanned += 1;
        result.perIndex.set(hit._index, (result.perIndex.get(hit._index) ?? 0) + 1);
        strings(hit._source, '', (text, field) => {
          for (const check of checks) {
            if (result.findings.length < 50 && check.test(text)) result.findings.push({ index: hit._index, id: hit._id!, what: check.what, field });
          }
        });
      }
      if (hits.length < PAGE) return;
      after = hits.at(-1)!.sort;
    }
  };
  try {
    await Promise.all(Array.from({ length: slices }, (_, id) => slice(id)));
  } finally {
    await client.closePointInTime({ id: pit.id }).catch(() => undefined);
  }
  return result;
}

describe('no secrets in Elasticsearch after the suite', () => {
  let client: Client;
  before(async () => {
    const { url } = await sharedElasticsearch();
    client = createElasticClient({ url, requestTimeoutMs: 120_000 });
  });
  after(() => client.close());

  it('detects each kind of secret (a canary document, outside the scanned indices)', async (t) => {
    const index = `canary-${randomUUID()}`;
    t.after(() => client.indices.delete({ index, ignore_unavailable: true }).then(() => undefined));
    const jwt = ['{"alg":"HS256","typ":"JWT"}', '{"sub":"u_alice"}'].map((part) => Buffer.from(part).toString('base64url')).join('.') + '.c2lnbmF0dXJl';
    await client.index({
      index, refresh: true,
      document: {
        message: `token ${jwt}`,
        http: { request: { headers: { cookie: '__Host-sentinel_at=abc; __Secure-sentinel_rt=def; __Host-sentinel_csrf=ghi', authorization: 'Bearer abcdefgh12345678' } } },
        nested: [{ basic: 'Basic YWxpY2U6c2VjcmV0' }, { typed: PASSWORDS.alice }],
      },
    });
    const checks = patterns();
    const result = await scan(client, index, checks, 1);
    assert.equal(result.scanned, 1);
    const caught = new Set(result.findings.map((f) => f.what));
    for (const what of ['JWT', 'access cookie', 'refresh cookie', 'CSRF cookie', 'Bearer credential', 'Basic credential', `test password "${PASSWORDS.alice}"`]) {
      assert.ok(caught.has(what), `the scan catches a ${what}`);
    }
    // The redacted forms written by src/logging/redact.ts do not count as findings.
    await client.index({ index, refresh: true, document: { message: 'Bearer [REDACTED] and [REDACTED:jwt]', http: { request: { headers: { cookie: '[REDACTED]' } } } } });
    assert.equal((await scan(client, index, checks, 1)).findings.length, result.findings.length);
  });

  it('finds no JWT, password, session cookie or credential in any document the suite shipped', { timeout: 600_000 }, async (t) => {
    const checks = patterns();
    const { scanned, findings, perIndex } = await scan(client, INDICES, checks, 4);
    const families = [...perIndex.keys()].map((index) => /-(events|access|alerts|deadletter)-/.exec(index)?.[1] ?? 'other');
    t.diagnostic(`scanned ${scanned} documents in ${perIndex.size} indices (${[...new Set(families)].join(', ')}) for ${checks.length} patterns`);
    assert.ok(scanned > 0, `no documents matched ${INDICES}: the scan proves nothing (did the Elasticsearch tests run?)`);
    assert.deepEqual(findings, [], `secrets found in Elasticsearch:\n${findings.map((f) => `  ${f.what} in ${f.index}/${f.id} at ${f.field}`).join('\n')}`);
  });
});
