/**
 * Anomaly job over a million events: generated ECS security events for one day are loaded with _bulk, then each
 * rule and the whole job are timed over a 24-hour window (all rule windows widened to 24 h). Events carry what the
 * enrichment adds (source.geo, source.as, the parsed user_agent) and logins and refreshes a session id, with a few
 * percent of trips, new devices and country-level addresses, so the location and device rules do real work.
 */
import type { Client } from '@elastic/elasticsearch';
import { createAnomalyRunner } from '../src/anomaly/runner.js';
import { RULES } from '../src/anomaly/rules/index.js';
import { setupElasticsearch } from '../src/elastic/setup.js';
import { dailyIndex } from '../src/elastic/templates.js';
import type { EventAction } from '../src/events/catalogue.js';
import { buildSecurityEvent } from '../src/events/security-event.js';

const DAY = 86_400_000;
const SESSION_BLOCK_MS = 4 * 3_600_000;

/** Home cities of the generated users: [country, country name, city, lat, lon, AS number]. */
const CITIES: ReadonlyArray<[string, string, string, number, number, number]> = [
  ['FR', 'France', 'Paris', 48.8566, 2.3522, 64496], ['FR', 'France', 'Lyon', 45.764, 4.8357, 64496], ['DE', 'Germany', 'Berlin', 52.52, 13.405, 64497],
  ['DE', 'Germany', 'Munich', 48.1351, 11.582, 64497], ['GB', 'United Kingdom', 'London', 51.5074, -0.1278, 64502], ['ES', 'Spain', 'Madrid', 40.4168, -3.7038, 64503],
  ['IT', 'Italy', 'Milan', 45.4642, 9.19, 64504], ['NL', 'Netherlands', 'Amsterdam', 52.3676, 4.9041, 64505], ['PL', 'Poland', 'Warsaw', 52.2297, 21.0122, 64506],
  ['SE', 'Sweden', 'Stockholm', 59.3293, 18.0686, 64507], ['US', 'United States', 'New York', 40.7128, -74.006, 64508], ['US', 'United States', 'Chicago', 41.8781, -87.6298, 64508],
  ['CA', 'Canada', 'Toronto', 43.6532, -79.3832, 64509], ['BR', 'Brazil', 'São Paulo', -23.5505, -46.6333, 64510], ['JP', 'Japan', 'Tokyo', 35.6762, 139.6503, 64511],
  ['AU', 'Australia', 'Sydney', -33.8688, 151.2093, 64512], ['IN', 'India', 'Mumbai', 19.076, 72.8777, 64513], ['SG', 'Singapore', 'Singapore', 1.3521, 103.8198, 64514],
  ['ZA', 'South Africa', 'Johannesburg', -26.2041, 28.0473, 64515], ['MX', 'Mexico', 'Mexico City', 19.4326, -99.1332, 64516],
];
/** [browser, os, device]: each user has one; a few logins come from another. */
const DEVICES: ReadonlyArray<[string, string, string | undefined]> = [
  ['Firefox', 'Linux', undefined], ['Chrome', 'Windows', undefined], ['Mobile Safari', 'iOS', 'iPhone'], ['Chrome Mobile', 'Android', 'Pixel 8'], ['Safari', 'Mac OS', undefined], ['Edge', 'Windows', undefined],
];

/** What the enrichment would add to event `i` of user `u`: 3% of events from another city, 1% located to a country only. */
function enrichment(i: number, u: number, at: number): { geo: object; as: object; userAgent: object; session: string } {
  const roll = (i * 37) % 100;
  const [country, countryName, city, lat, lon, as] = CITIES[roll < 3 ? (u + 1 + (i % 7)) % CITIES.length : u % CITIES.length]!;
  const [browser, os, device] = DEVICES[(i * 53) % 100 < 3 ? (u + 1 + (i % 5)) % DEVICES.length : u % DEVICES.length]!;
  return {
    geo: { country_iso_code: country, country_name: countryName, ...(roll === 3 ? {} : { city_name: city }), location: { lat, lon } },
    as: { number: as, organization: { name: `AS${as}` } },
    userAgent: { name: browser, version: String(120 + (i % 3)), os: { name: os }, ...(device ? { device: { name: device } } : {}) },
    session: `s-${u}-${Math.floor(at / SESSION_BLOCK_MS)}`,
  };
}

async function* dayOfEvents(n: number, end: number): AsyncGenerator<ReturnType<typeof buildSecurityEvent>> {
  const start = end - DAY;
  for (let i = 0; i < n; i += 1) {
    const at = start + Math.floor((i / n) * DAY);
    const r = (i * 2654435761) % 1000;
    const u = (i * 7919) % 5000;
    const user = `user${u}`;
    const ip = `10.${(i * 31) % 200}.${(i * 17) % 250}.${(i * 13) % 250}`;
    let action: EventAction = 'authn_login_success';
    if (r < 80) action = 'authn_login_fail';
    else if (r < 90) action = 'authn_token_invalid';
    else if (r < 95) action = 'authz_fail';
    else if (r < 400) action = 'authn_token_created';
    const extra = enrichment(i, u, at);
    const login = action === 'authn_login_success';
    const doc = buildSecurityEvent(action, {
      timestamp: new Date(at), user: { name: user }, source: { ip }, reason: action === 'authn_token_invalid' ? (r % 2 ? 'expired' : 'bad_signature') : undefined,
      userAgent: `Mozilla/5.0 agent-${(i * 3) % 40}`, urlPath: '/auth/login', http: { method: 'POST' },
      sentinel: login || action === 'authn_token_created' ? { session_id: extra.session, ...(login ? { known_device: r % 5 !== 0 } : {}) } : undefined,
    });
    const located = doc as unknown as { source: object; user_agent: object };
    located.source = { ...located.source, geo: extra.geo, as: extra.as };
    located.user_agent = { ...located.user_agent, ...extra.userAgent };
    yield doc;
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

const TIMING_ROUNDS = 3;
const middle = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function timeRules(client: Client, prefix: string, end: number): Promise<{ perRule: Record<string, number>; whole: number; alerts: number }> {
  const params = Object.fromEntries(RULES.map((rule) => [rule.id, { windowMs: DAY }]));
  const runner = createAnomalyRunner({ client, indexPrefix: prefix, params, requestTimeoutMs: 120_000 });
  const window = { start: new Date(end - DAY), end: new Date(end) };
  const perRule: Record<string, number> = {};
  for (const rule of RULES) await runner.evaluate(rule, window); // warm-up: field data, caches
  // The loaded indices never change, so Elasticsearch would answer a repeated search from its request cache; a live
  // day's index is refreshed every second and never is. Each timing starts without it.
  const uncached = () => client.indices.clearCache({ index: `${prefix}-*`, request: true });
  // Three rounds, rules alternated, medians: Elasticsearch still merges the segments of the million documents just
  // loaded on the same two cores, and single timings moved by a factor of two from one run to the next.
  const rounds: Record<string, number[]> = Object.fromEntries(RULES.map((rule) => [rule.id, []]));
  const wholes: number[] = [];
  let alerts = 0;
  for (let round = 0; round < TIMING_ROUNDS; round += 1) {
    for (const rule of RULES) {
      await uncached();
      const t = process.hrtime.bigint();
      await runner.evaluate(rule, window);
      rounds[rule.id]!.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    await uncached();
    const t = process.hrtime.bigint();
    const findings = await Promise.all(RULES.map((rule) => runner.evaluate(rule, window)));
    wholes.push(Number(process.hrtime.bigint() - t) / 1e6);
    alerts = findings.flat().length;
  }
  for (const [rule, times] of Object.entries(rounds)) perRule[rule] = middle(times);
  const whole = middle(wholes);
  return { perRule, whole, alerts };
}
