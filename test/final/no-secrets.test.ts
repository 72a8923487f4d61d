/**
 * Runs after the whole suite (scripts/run-tests.ts runs test/final/ last) and reads everything the suite produced:
 * every document still in Elasticsearch (`t*`, the uniquePrefix indices, and `sentinel*`, the default prefix), and
 * the run's scan folder (test/support/secret-ledger.ts): copies of the documents test support deleted, the spool
 * chunks and dead letters of every spool folder a test removed, the logs of the servers and CLI runs the tests
 * started. It searches all of it for secrets that must never be written (ASVS 16.2.5, docs/events.md#redaction):
 * the exact tokens, CSRF tokens, cookie values, passwords, signing secrets and keys, Elasticsearch and Redis
 * credentials and API keys the tests handled (the ledger), in every encoding, and the generic shapes of a secret
 * (test/support/secret-scan.ts). Redaction happens before anything is written, so none may be there, not even in
 * a dead letter's copy of a rejected document.
 *
 * It also checks that the scan saw what it should: every suite of the run that produces data (CONTRIBUTORS) must
 * have contributed to each kind of place listed for it, so a suite that stops contributing fails here instead of
 * silently shrinking the scan. The canary test (scanner.test.ts) proves the scan finds each kind of secret in each
 * kind of place.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { createElasticClient } from '../../src/elastic/client.js';
import { DEV_USERS } from '../../src/service/server.js';
import { sharedElasticsearch } from '../support/elasticsearch.js';
import { PASSWORDS } from '../support/http-server.js';
import { readRunFiles, requireScanDir, type PlaceKind } from '../support/secret-ledger.js';
import { describeReport, scanAll, type ScanReport } from './scan-all.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INDICES = 't*,sentinel*';

/**
 * The suites that produce data, and where it must show up when they ran. A suite missing here is still scanned;
 * one listed here that contributes nothing to a place fails the scan.
 */
const CONTRIBUTORS: Record<string, PlaceKind[]> = {
  // No spool chunk: a shipper test that passes drains its spool, and a drained chunk file is deleted.
  'test/elastic/shipper.test.ts': ['document', 'dead letter'],
  'test/elastic/login-history.test.ts': ['document'],
  'test/elastic/setup.test.ts': ['document', 'stdout', 'spool chunk'],
  'test/service/healthz.test.ts': ['document', 'spool chunk'],
  'test/logging/request-logger.test.ts': ['document'],
  'test/elastic/retention.test.ts': ['document'],
  'test/kibana/queries.test.ts': ['document'],
  'test/anomaly/rules.test.ts': ['document'],
  'test/anomaly/runner.test.ts': ['document'],
  'test/anomaly/cli.test.ts': ['document', 'stdout'],
  'test/session/login.test.ts': ['stdout'],
  'test/session/refresh.test.ts': ['stdout'],
  'test/session/csrf.test.ts': ['stdout'],
  'test/cli/cli.test.ts': ['stdout'],
  'test/enrich/sentinel.test.ts': ['document'],
  'test/anomaly/rules-locations.test.ts': ['document'],
  'test/anomaly/rules-devices.test.ts': ['document'],
  'test/service/server-wiring.test.ts': ['document', 'spool chunk'],
  'test/service/spool-disk-full.test.ts': ['spool chunk'],
  'default prefix (sentinel-*)': ['document'],
};
/** Who writes under the default prefix `sentinel-*`: the packed-package consumer runs the full-stack example. */
const DEFAULT_PREFIX_WRITERS = ['test/package/consumer.test.ts'];

/** Passwords typed by the tests outside TestClient.login (which records its own), listed here. */
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

describe('no secrets in anything the suite produced', () => {
  let client: Client;
  let dir: string;
  let report: ScanReport;
  before(async () => {
    dir = requireScanDir();
    const { url } = await sharedElasticsearch();
    client = createElasticClient({ url, requestTimeoutMs: 120_000 });
  });
  after(() => client?.close());

  it('finds no token, password, cookie, key or credential in any document, spool file, dead letter or log', { timeout: 600_000 }, async (t) => {
    const phrases = [...new Set([...KNOWN_PASSWORDS, ...passwordsInTests()])].map((text) => ({ what: `test password "${text}"`, text }));
    report = await scanAll({ dir, client, indices: INDICES, phrases, slices: 4 });
    for (const line of describeReport(report)) t.diagnostic(line);
    const read = report.liveDocuments + [...report.archived.values()].reduce((sum, { units }) => sum + units, 0);
    assert.ok(read > 0, `nothing to scan in Elasticsearch (${INDICES}) or in ${dir}: the scan proves nothing (did any producing suite run?)`);
    // A finding names the secret's kind and where it is, never the secret itself.
    assert.deepEqual(report.findings, [], `secrets found:\n${report.findings.map((f) => `  ${f.what} in ${f.place} ${f.where} at offset ${f.offset}`).join('\n')}`);
  });

  it('read data from every producing suite of this run, in each kind of place it writes to', (t) => {
    assert.ok(report, 'the scan ran');
    const ran = new Set(readRunFiles(dir));
    const expected = Object.entries(CONTRIBUTORS).filter(([suite]) => ran.has(suite) || (suite.startsWith('default prefix') && DEFAULT_PREFIX_WRITERS.some((f) => ran.has(f))));
    t.diagnostic(`${ran.size} test files ran; ${expected.length} of them must contribute: ${expected.map(([suite]) => suite).join(', ') || 'none'}`);
    const missing = expected.flatMap(([suite, places]) => places
      .filter((place) => (report.contributions.get(suite)?.get(place) ?? 0) === 0)
      .map((place) => `${suite} contributed no ${place}`));
    assert.deepEqual(missing, [], 'a producing suite stopped contributing to the scan (or stopped archiving before it deletes)');
  });
});
