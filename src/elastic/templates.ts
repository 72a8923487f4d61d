import type { PutComponentTemplateRequest, PutIndexTemplateRequest } from './client-types.js';

/**
 * Index templates for the three document families and the dead letter (docs/architecture.md). Core field types only
 * (keyword, text, ip, date, long, float, boolean, object), so the minimal Elasticsearch distribution takes them.
 * `dynamic: strict` at the root: a surprise field is a bug that must show up (as a dead letter), not a mapping
 * that grows by itself. Our own `sentinel.*` namespace is `dynamic: false`: kept in _source, not indexed.
 */

export type IndexFamily = 'events' | 'access' | 'alerts' | 'deadletter';
export const INDEX_FAMILIES: readonly IndexFamily[] = ['events', 'access', 'alerts', 'deadletter'];

type Mapping = Record<string, unknown>;
const keyword = { type: 'keyword', ignore_above: 1024 };
const long = { type: 'long' };
const date = { type: 'date' };
const stored = { type: 'keyword', index: false, doc_values: false };
const obj = (properties: Mapping): Mapping => ({ properties });

/** The ECS fields every family shares. */
export const BASE_PROPERTIES: Mapping = {
  '@timestamp': date,
  message: { type: 'text' },
  ecs: obj({ version: keyword }),
  log: obj({ level: keyword, logger: keyword }),
  service: obj({ name: keyword }),
  host: obj({ hostname: keyword }),
  process: obj({ pid: long }),
  event: obj({
    id: keyword, kind: keyword, action: keyword, category: keyword, type: keyword, outcome: keyword, reason: keyword,
    dataset: keyword, module: keyword, severity: long, risk_score: { type: 'float' }, duration: long,
    created: date, start: date, end: date,
  }),
  user: obj({ name: keyword, id: keyword, roles: keyword, target: obj({ name: keyword, id: keyword }) }),
  // Filled in by the enrichment hooks (docs/enrichment.md): geolocation and network of the client address.
  source: obj({
    ip: { type: 'ip' },
    geo: obj({
      continent_code: keyword, continent_name: keyword, country_iso_code: keyword, country_name: keyword,
      region_iso_code: keyword, region_name: keyword, city_name: keyword, postal_code: keyword, timezone: keyword,
      location: { type: 'geo_point' },
    }),
    as: obj({ number: long, organization: obj({ name: keyword }) }),
  }),
  user_agent: obj({
    original: keyword, name: keyword, version: keyword,
    os: obj({ name: keyword, version: keyword, full: keyword, family: keyword, type: keyword }),
    device: obj({ name: keyword }),
  }),
  related: obj({ user: keyword, ip: { type: 'ip' } }),
  http: obj({
    version: keyword,
    request: obj({ id: keyword, method: keyword }),
    response: obj({ status_code: long, body: obj({ bytes: long }) }),
  }),
  url: obj({ path: keyword }),
  error: obj({ type: keyword, message: { type: 'text' }, code: keyword, stack_trace: stored }),
  sentinel: {
    type: 'object',
    dynamic: false,
    properties: {
      session_id: keyword, token_id: keyword, refresh_token_id: keyword, current_refresh_token_id: keyword,
      token_type: keyword, prior_failures: long, sessions_revoked: long, required_roles: keyword, warning: keyword,
      known_device: { type: 'boolean' },
      throttle: obj({ scope: keyword, failures: long, retry_after_ms: long }),
      input: obj({ username: keyword, password: keyword }),
    },
  },
};

/** Alerts add the rule, the ATT&CK technique and the evidence. */
export const ALERT_PROPERTIES: Mapping = {
  rule: obj({ id: keyword, name: keyword, description: { type: 'text' }, category: keyword, version: keyword, ruleset: keyword, reference: keyword }),
  threat: obj({
    framework: keyword,
    technique: obj({ id: keyword, name: keyword, reference: keyword, subtechnique: obj({ id: keyword, name: keyword, reference: keyword }) }),
    tactic: obj({ id: keyword, name: keyword, reference: keyword }),
  }),
  sentinel: {
    type: 'object',
    dynamic: false,
    properties: {
      alert: obj({
        entity: keyword, entity_type: keyword, window_start: date, window_end: date, count: long,
        distinct_users: long, distinct_sources: long, failure_ratio: { type: 'float' }, notified: { type: 'boolean' },
        notified_at: date, first_seen: date, last_seen: date, users: keyword, sources: keyword, severity: keyword,
      }),
    },
  },
};

const DEADLETTER_PROPERTIES: Mapping = {
  '@timestamp': date,
  message: { type: 'text' },
  event: obj({ id: keyword, kind: keyword, dataset: keyword }),
  ecs: obj({ version: keyword }),
  error: obj({ type: keyword, message: { type: 'text' } }),
  sentinel: obj({ deadletter: obj({ index: keyword, document_id: keyword, status: long, document: stored }) }),
};

const SETTINGS = { number_of_shards: 1, auto_expand_replicas: '0-1', refresh_interval: '1s' };

export interface TemplateSet {
  components: Array<{ name: string; body: Omit<PutComponentTemplateRequest, 'name'> }>;
  indexTemplates: Array<{ name: string; body: Omit<PutIndexTemplateRequest, 'name'> }>;
}

/** Daily index name for a family and an instant: `<prefix>-<family>-YYYY.MM.DD` (UTC). */
export function dailyIndex(prefix: string, family: IndexFamily, at: string | Date): string {
  const iso = typeof at === 'string' ? at : at.toISOString();
  const day = /^\d{4}-\d{2}-\d{2}/.test(iso) ? iso.slice(0, 10) : new Date().toISOString().slice(0, 10);
  return `${prefix}-${family}-${day.replaceAll('-', '.')}`;
}

export function buildTemplates(prefix: string): TemplateSet {
  const base = `${prefix}-ecs-base`;
  const alerts = `${prefix}-ecs-alerts`;
  const meta = { managed_by: 'koa-sentinel', version: 1 };
  return {
    components: [
      { name: base, body: { template: { settings: SETTINGS, mappings: { dynamic: 'strict', properties: BASE_PROPERTIES } }, _meta: meta } },
      { name: alerts, body: { template: { mappings: { properties: ALERT_PROPERTIES } }, _meta: meta } },
    ],
    indexTemplates: [
      ...(['events', 'access'] as const).map((family) => ({
        name: `${prefix}-${family}`,
        body: { index_patterns: [`${prefix}-${family}-*`], composed_of: [base], priority: 200, _meta: meta },
      })),
      { name: `${prefix}-alerts`, body: { index_patterns: [`${prefix}-alerts-*`], composed_of: [base, alerts], priority: 200, _meta: meta } },
      {
        name: `${prefix}-deadletter`,
        body: { index_patterns: [`${prefix}-deadletter-*`], priority: 200, template: { settings: SETTINGS, mappings: { dynamic: 'strict', properties: DEADLETTER_PROPERTIES } }, _meta: meta },
      },
    ],
  };
}
