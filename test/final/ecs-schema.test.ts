/**
 * Runs after the whole suite (scripts/run-tests.ts runs test/final/ last), like the secrets scan, and validates every
 * document the suite indexed against the ECS schema of the release we declare and of the current one
 * (test/support/ecs-schema.ts): the documents still in the indices of this run's prefixes, plus the copies
 * test support archived before deleting them and the dead letters archived from removed spool folders
 * (test/support/secret-ledger.ts). Security events are also held to our catalogue: a known `event.action`, its
 * categorisation, and an `event.reason` that is one of its codes.
 *
 * Then the scripted demo (`npm run demo`, scripts/demo.ts) runs its day against the same Elasticsearch under its
 * own prefix, and its documents are validated the same way: what the reference server writes for real traffic,
 * alerts included.
 *
 * It reports documents checked per index family and problems found, and fails on any problem, or when a family
 * that this run produced has nothing to check. The canary test (ecs-validator.test.ts) proves the validator
 * reports each kind of problem.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { createElasticClient } from '../../src/elastic/client.js';
import { EVENT_CATALOGUE, isEventAction } from '../../src/events/catalogue.js';
import { describeProblem, validateEcsDocument, type SchemaProblem } from '../support/ecs-schema.js';
import { dropPrefix, sharedElasticsearch, uniquePrefix } from '../support/elasticsearch.js';
import { readPrefixes, readRunFiles, requireScanDir } from '../support/secret-ledger.js';
import { readArchive, readLiveDocuments } from './scan-all.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** `<prefix>-<family>-YYYY.MM.DD`: the daily indices of src/elastic/templates.ts (and any family added later). */
const FAMILY_INDEX = /^(.+)-([a-z]+)-\d{4}\.\d{2}\.\d{2}$/;
/** Who writes under the default prefix `sentinel-*` (as in no-secrets.test.ts). */
const DEFAULT_PREFIX_WRITERS = ['test/package/consumer.test.ts'];
/** Families that must have documents when one of these test files ran. */
const FAMILY_PRODUCERS: Record<string, string[]> = {
  deadletter: ['test/elastic/shipper.test.ts'],
};
const MAX_LISTED = 40;

/** Our own rules on top of the schema: security events say what the catalogue says. */
function catalogueProblems(doc: Record<string, unknown>): SchemaProblem[] {
  const event = doc.event as { dataset?: unknown; action?: unknown; reason?: unknown; category?: unknown; type?: unknown } | undefined;
  if (event?.dataset !== 'sentinel.security') return [];
  const action = String(event.action);
  const problem = (field: string, text: string): SchemaProblem => ({ schema: 'catalogue', field, problem: text });
  if (!isEventAction(action)) return [problem('event.action', `"${action}" is not in the event catalogue`)];
  const entry = EVENT_CATALOGUE[action];
  const problems: SchemaProblem[] = [];
  if (JSON.stringify(event.category) !== JSON.stringify(entry.category)) problems.push(problem('event.category', `${JSON.stringify(event.category)} differs from the catalogue's for ${action}`));
  if (JSON.stringify(event.type) !== JSON.stringify(entry.type)) problems.push(problem('event.type', `${JSON.stringify(event.type)} differs from the catalogue's for ${action}`));
  if (event.reason !== undefined) {
    const reasons: readonly string[] = 'reasons' in entry ? entry.reasons : [];
    if (!reasons.includes(String(event.reason))) problems.push(problem('event.reason', `"${String(event.reason)}" is not a catalogue code of ${action} (${reasons.join(', ') || 'none'})`));
  }
  return problems;
}

interface Tally {
  /** Documents checked per family. */
  families: Map<string, number>;
  /** Documents of indices that are not a daily family index (the runner's checkpoint): not ECS documents, per index. */
  skipped: Map<string, number>;
  /** Problems, grouped by what is wrong: count and the first document that has it. */
  problems: Map<string, { count: number; example: string }>;
  documents: number;
}

const newTally = (): Tally => ({ families: new Map(), skipped: new Map(), problems: new Map(), documents: 0 });

function check(tally: Tally, index: string, where: string, source: unknown): void {
  const match = FAMILY_INDEX.exec(index);
  if (!match) {
    // The runner's checkpoint index, once per prefix: named by what it is, not by each prefix.
    const kind = index.replace(/^.*-anomaly-state$/, '<prefix>-anomaly-state');
    tally.skipped.set(kind, (tally.skipped.get(kind) ?? 0) + 1);
    return;
  }
  // Daily reviews live in the alerts indices; they are counted as a family of their own.
  const dataset = (source as { event?: { dataset?: unknown } } | undefined)?.event?.dataset;
  const family = dataset === 'sentinel.review' ? 'reviews' : match[2]!;
  tally.documents += 1;
  tally.families.set(family, (tally.families.get(family) ?? 0) + 1);
  const problems = [...validateEcsDocument(source), ...(source && typeof source === 'object' ? catalogueProblems(source as Record<string, unknown>) : [])];
  for (const problem of problems) {
    const key = `${family}: ${describeProblem(problem)}`;
    const seen = tally.problems.get(key);
    if (seen) seen.count += 1;
    else tally.problems.set(key, { count: 1, example: where });
  }
}

function report(t: TestContext, label: string, tally: Tally): void {
  const families = [...tally.families].sort(([a], [b]) => a.localeCompare(b)).map(([family, n]) => `${family} ${n}`).join(', ');
  const problemCount = [...tally.problems.values()].reduce((sum, { count }) => sum + count, 0);
  const skipped = [...tally.skipped].map(([index, n]) => `${index} ${n}`).join(', ');
  t.diagnostic(`${label}: ${tally.documents} documents checked against ECS 8.11 and 9.4 (${families || 'none'}); ${problemCount} problems in ${tally.problems.size} kinds${skipped ? `; left out, not daily family indices: ${skipped}` : ''}`);
}

function problemList(tally: Tally): string[] {
  return [...tally.problems].slice(0, MAX_LISTED).map(([key, { count, example }]) => `  ${key} (×${count}, e.g. ${example})`);
}

/** Runs scripts/demo.ts against `url` under `prefix`; resolves with its output. */
function runDemo(url: string, prefix: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    cwd: ROOT, env: { ...process.env, ELASTICSEARCH_URL: url, ES_INDEX_PREFIX: prefix }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => void (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => void (output += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
}

describe('every document the suite indexed is valid ECS', () => {
  let client: Client;
  let url: string;
  let dir: string;
  before(async () => {
    dir = requireScanDir();
    url = (await sharedElasticsearch()).url;
    client = createElasticClient({ url, requestTimeoutMs: 120_000 });
  });
  after(() => client?.close());

  it('checks the documents in Elasticsearch and in the archive against both schemas and the catalogue', { timeout: 600_000 }, async (t) => {
    const ran = new Set(readRunFiles(dir));
    // Only this run's indices: an Elasticsearch shared with other runs holds documents that are not ours to judge.
    const patterns = [...new Set(readPrefixes(dir).map(({ prefix }) => `${prefix}-*`))];
    if (DEFAULT_PREFIX_WRITERS.some((file) => ran.has(file))) patterns.push('sentinel-*');
    const tally = newTally();
    // Long lists of patterns make long URLs: a few at a time.
    for (let i = 0; i < patterns.length; i += 50) {
      await readLiveDocuments(client, patterns.slice(i, i + 50).join(','), 2, (hit) => check(tally, hit._index, `${hit._index}/${hit._id}`, hit._source));
    }
    const live = tally.documents;
    readArchive(dir, () => undefined, (entry, line, i) => {
      if (entry.place === 'document') {
        const { _index, _id, _source } = JSON.parse(line) as { _index: string; _id: string; _source: unknown };
        check(tally, _index, `${_index}/${_id} (archived)`, _source);
      } else if (entry.place === 'dead letter') {
        // The spool's own copy of a dead letter, as it was indexed into <prefix>-deadletter-*.
        check(tally, 'spool-deadletter-0000.00.00', `${entry.file}:${i + 1}`, JSON.parse(line));
      }
    });
    report(t, `suite (${live} live, ${tally.documents - live} archived)`, tally);
    for (const line of problemList(tally)) t.diagnostic(line);
    assert.ok(tally.documents > 0, 'nothing to check: did any suite that indexes documents run?');
    const missing = Object.entries(FAMILY_PRODUCERS)
      .filter(([family, producers]) => producers.some((file) => ran.has(file)) && !tally.families.get(family))
      .map(([family]) => family);
    assert.deepEqual(missing, [], 'a family this run produced has no documents to check');
    assert.deepEqual(problemList(tally), [], 'documents that are not valid ECS');
  });

  it('checks the scripted demo\'s day: events, access records and alerts', { timeout: 180_000 }, async (t) => {
    const prefix = uniquePrefix('ecs-demo');
    const started = Date.now();
    try {
      const demo = await runDemo(url, prefix);
      assert.equal(demo.code, 0, `the demo failed:\n${demo.output.slice(-3000)}`);
      assert.doesNotMatch(demo.output, /SPOOL-ONLY/, 'the demo must have used Elasticsearch');
      await client.indices.refresh({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true });
      const tally = newTally();
      await readLiveDocuments(client, `${prefix}-*`, 1, (hit) => check(tally, hit._index, `${hit._index}/${hit._id}`, hit._source));
      report(t, `demo (${((Date.now() - started) / 1000).toFixed(1)} s)`, tally);
      for (const line of problemList(tally)) t.diagnostic(line);
      for (const family of ['events', 'access', 'alerts']) assert.ok((tally.families.get(family) ?? 0) > 0, `the demo indexed no ${family}`);
      assert.deepEqual(problemList(tally), [], 'demo documents that are not valid ECS');
    } finally {
      await dropPrefix(client, prefix);
    }
  });
});
