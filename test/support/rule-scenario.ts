/**
 * One detection rule against the real Elasticsearch, as test/anomaly/rules.test.ts does it: events indexed under a
 * prefix of their own, then the rule through the runner, with `evaluate` (the findings) and `run` (the alerts written).
 *
 * Time is fixed: NOW is 12:00:30 UTC, so the runner's newest window ends at END = 11:55 (5-minute grid, 1 minute
 * behind now) and `runOnce()` evaluates exactly the window ending at END.
 */
import { after, before } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import type { AlertDocument } from '../../src/anomaly/alerts.js';
import type { Finding, Rule, Window } from '../../src/anomaly/rules/types.js';
import { createAnomalyRunner, type AnomalyRunner, type RunResult } from '../../src/anomaly/runner.js';
import { createElasticClient } from '../../src/elastic/client.js';
import { setupElasticsearch } from '../../src/elastic/setup.js';
import type { SecurityEvent } from '../../src/events/security-event.js';
import { dropPrefix, sharedElasticsearch, uniquePrefix } from './elasticsearch.js';
import { indexEvents } from './events.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const NOW = Date.UTC(2026, 10, 20, 12, 0, 30);
/** The newest window end for NOW. */
export const END = Date.UTC(2026, 10, 20, 11, 55);

export interface Scenario {
  prefix: string;
  runner: AnomalyRunner;
  /** The rule over its window ending at `end` (END by default). */
  evaluate(end?: number): Promise<Finding[]>;
  /** One run over the single window ending at END. */
  runOnce(): Promise<RunResult>;
  /** A run as the scheduler would do it at `now` (from the stored checkpoint). */
  runAt(now: number): Promise<RunResult>;
  /** The alerts stored under this prefix, oldest first. */
  stored(): Promise<AlertDocument[]>;
}

export function windowOf(rule: Pick<Rule, 'defaults'>, end: number): Window {
  return { start: new Date(end - rule.defaults.windowMs), end: new Date(end) };
}

export type OpenScenario = (label: string, rule: Rule, events: readonly SecurityEvent[]) => Promise<Scenario>;

/**
 * For one test file: a client of the shared node (opened before its tests, closed after) and the scenario factory;
 * every prefix a scenario made is dropped at the end.
 */
export function ruleScenarios(): OpenScenario {
  let es: Client | undefined;
  const prefixes: string[] = [];
  before(async () => {
    es = createElasticClient({ url: (await sharedElasticsearch()).url, requestTimeoutMs: 60_000 });
  });
  after(async () => {
    for (const prefix of prefixes) await dropPrefix(es!, prefix);
    await es?.close();
  });
  return (label, rule, events) => scenario(es!, prefixes, label, rule, events);
}

/** A fresh prefix (pushed onto `prefixes` for clean-up) with the templates, `events` indexed, and a runner of `rule` only. */
async function scenario(es: Client, prefixes: string[], label: string, rule: Rule, events: readonly SecurityEvent[]): Promise<Scenario> {
  const prefix = uniquePrefix(`rules-${label}`);
  prefixes.push(prefix);
  await setupElasticsearch(es, prefix);
  if (events.length > 0) await indexEvents(es, prefix, events);
  const runnerAt = (now: number): AnomalyRunner => createAnomalyRunner({ client: es, indexPrefix: prefix, rules: [rule], now: () => now });
  const runner = runnerAt(NOW);
  return {
    prefix,
    runner,
    evaluate: (end = END) => runner.evaluate(rule, windowOf(rule, end)),
    runOnce: () => runner.run({ since: new Date(END - 5 * MINUTE) }),
    runAt: (now) => runnerAt(now).run(),
    stored: () => storedAlerts(es, prefix),
  };
}

export async function storedAlerts(es: Client, prefix: string): Promise<AlertDocument[]> {
  await es.indices.refresh({ index: `${prefix}-alerts-*`, ignore_unavailable: true, allow_no_indices: true });
  const response = await es.search({
    index: `${prefix}-alerts-*`, ignore_unavailable: true, allow_no_indices: true, size: 1000,
    query: { term: { 'event.kind': 'alert' } }, sort: [{ '@timestamp': 'asc' }, { 'event.id': 'asc' }],
  });
  return response.hits.hits.map((hit) => hit._source as AlertDocument);
}
