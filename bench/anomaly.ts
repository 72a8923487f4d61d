/**
 * Anomaly job over a million events: generated ECS security events for one day are loaded with _bulk, then each
 * rule and the whole job are timed over a 24-hour window (all rule windows widened to 24 h).
 */
import type { Client } from '@elastic/elasticsearch';
import { createAnomalyRunner } from '../src/anomaly/runner.js';
import { RULES } from '../src/anomaly/rules/index.js';
import { setupElasticsearch } from '../src/elastic/setup.js';
import { dailyIndex } from '../src/elastic/templates.js';
import type { EventAction } from '../src/events/catalogue.js';
import { buildSecurityEvent } from '../src/events/security-event.js';

const DAY = 86_400_000;

async function* dayOfEvents(n: number, end: number): AsyncGenerator<ReturnType<typeof buildSecurityEvent>> {
  const start = end - DAY;
  for (let i = 0; i < n; i += 1) {
    const at = start + Math.floor((i / n) * DAY);
    const r = (i * 2654435761) % 1000;
    const user = `user${(i * 7919) % 5000}`;
    const ip = `10.${(i * 31) % 200}.${(i * 17) % 250}.${(i * 13) % 250}`;
    let action: EventAction = 'authn_login_success';
    if (r < 80) action = 'authn_login_fail';
    else if (r < 90) action = 'authn_token_invalid';
    else if (r < 95) action = 'authz_fail';
    else if (r < 400) action = 'authn_token_created';
    yield buildSecurityEvent(action, {
      timestamp: new Date(at), user: { name: user }, source: { ip }, reason: action === 'authn_token_invalid' ? (r % 2 ? 'expired' : 'bad_signature') : undefined,
      userAgent: `Mozilla/5.0 agent-${(i * 3) % 40}`, urlPath: '/auth/login', http: { method: 'POST' },
    });
  }
}

export async function loadEvents(client: Client, prefix: string, n: number, end: number): Promise<number> {
  await setupElasticsearch(client, prefix);
  const started = Date.now();
  const result = await client.helpers.bulk({
    datasource: dayOfEvents(n, end),
    flushBytes: 5 * 1024 * 1024,
    concurrency: 2,
    refreshOnCompletion: `${prefix}-events-*`,
    onDocument: (doc) => ({ create: { _index: dailyIndex(prefix, 'events', doc['@timestamp']), _id: doc.event.id } }),
  });
  if (result.failed) throw new Error(`${result.failed} events failed to load`);
  return (Date.now() - started) / 1000;
}

export async function timeRules(client: Client, prefix: string, end: number): Promise<{ perRule: Record<string, number>; whole: number; alerts: number }> {
  const params = Object.fromEntries(RULES.map((rule) => [rule.id, { windowMs: DAY }]));
  const runner = createAnomalyRunner({ client, indexPrefix: prefix, params, requestTimeoutMs: 120_000 });
  const window = { start: new Date(end - DAY), end: new Date(end) };
  const perRule: Record<string, number> = {};
  for (const rule of RULES) await runner.evaluate(rule, window); // warm-up: field data, caches
  for (const rule of RULES) {
    const t = process.hrtime.bigint();
    await runner.evaluate(rule, window);
    perRule[rule.id] = Number(process.hrtime.bigint() - t) / 1e6;
  }
  const t = process.hrtime.bigint();
  const findings = await Promise.all(RULES.map((rule) => runner.evaluate(rule, window)));
  const whole = Number(process.hrtime.bigint() - t) / 1e6;
  return { perRule, whole, alerts: findings.flat().length };
}
