import type { Window } from './types.js';

/** Shared query pieces. */

export const LOGIN_FAIL = 'authn_login_fail';
export const LOGIN_SUCCESS = ['authn_login_success', 'authn_login_successafterfail'];
export const LOGIN_ACTIONS = [LOGIN_FAIL, ...LOGIN_SUCCESS];

export function range(window: Window): Record<string, unknown> {
  return { range: { '@timestamp': { gte: window.start.toISOString(), lt: window.end.toISOString(), format: 'strict_date_optional_time' } } };
}

export function actions(list: readonly string[]): Record<string, unknown> {
  return { terms: { 'event.action': [...list] } };
}

export function searchBody(filters: unknown[], aggs: Record<string, unknown>, mustNot: unknown[] = []): Record<string, unknown> {
  return { size: 0, track_total_hits: false, query: { bool: { filter: filters, ...(mustNot.length > 0 ? { must_not: mustNot } : {}) } }, aggs };
}

/** Sub-aggregations every entity bucket carries as evidence. */
export const EVIDENCE_AGGS = {
  first_seen: { min: { field: '@timestamp' } },
  last_seen: { max: { field: '@timestamp' } },
};

export interface TermsBucket {
  key: string;
  doc_count: number;
  [agg: string]: unknown;
}

/** The buckets of a terms aggregation at `path` (dot-separated) in a search response. */
export function buckets(response: unknown, path: string): TermsBucket[] {
  let node = (response as { aggregations?: unknown })?.aggregations as Record<string, unknown> | undefined;
  for (const part of path.split('.')) node = node?.[part] as Record<string, unknown> | undefined;
  return ((node as { buckets?: TermsBucket[] } | undefined)?.buckets ?? []);
}

export function value(bucket: unknown, path: string): number {
  let node = bucket as Record<string, unknown> | undefined;
  for (const part of path.split('.')) node = node?.[part] as Record<string, unknown> | undefined;
  const v = (node as unknown as { value?: number } | undefined)?.value ?? (typeof node === 'number' ? node : undefined);
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

export function docCount(bucket: unknown, path: string): number {
  let node = bucket as Record<string, unknown> | undefined;
  for (const part of path.split('.')) node = node?.[part] as Record<string, unknown> | undefined;
  return (node as { doc_count?: number } | undefined)?.doc_count ?? 0;
}

export function isoOf(bucket: unknown, path: string): string | undefined {
  const v = value(bucket, path);
  return v ? new Date(v).toISOString() : undefined;
}

export function keys(bucket: unknown, path: string): string[] {
  return buckets({ aggregations: bucket }, path).map((b) => String(b.key));
}

/** The events that start a session and say where: the login and the session it created (same request). */
export const SESSION_START = ['session_created', ...LOGIN_SUCCESS];

export function exists(field: string): Record<string, unknown> {
  return { exists: { field } };
}

/**
 * Per user, the users active last first: with a lookback or baseline in the same search, the users of the window
 * itself are the ones `size` must not cut off. Breadth first: `aggs` are computed for the users kept only, not for
 * everyone in the lookback (the ordering metric is computed for all, as it must).
 */
export function recentUsers(size: number, aggs: Record<string, unknown>): Record<string, unknown> {
  return { terms: { field: 'user.name', size, order: { last_seen: 'desc' }, collect_mode: 'breadth_first' }, aggs: { last_seen: { max: { field: '@timestamp' } }, ...aggs } };
}

/**
 * Round one of a two-round rule (Rule.refine): per entity, at how many distinct `placeField` values it was seen and
 * whether it was active in the window. Entities seen in several places come first, so `size` cuts the ones that
 * cannot be findings; nothing else is computed per entity.
 */
export function movingEntities(field: string, placeField: string, size: number, window: Window): Record<string, unknown> {
  return {
    terms: { field, size, order: [{ places: 'desc' }, { last_seen: 'desc' }] },
    aggs: { places: { cardinality: { field: placeField, precision_threshold: 100 } }, last_seen: { max: { field: '@timestamp' } }, active: { filter: range(window) } },
  };
}

/** The keys of round one's entities (movingEntities at `path`) seen in two places or more and active in the window. */
export function movedAndActive(response: unknown, path: string): string[] {
  return buckets(response, path).filter((b) => value(b, 'places') >= 2 && docCount(b, 'active') > 0).map((b) => String(b.key));
}

/** The `_source` of each hit of a top_hits aggregation at `path` in `bucket`. */
export function hitSources<T>(bucket: unknown, path: string): T[] {
  let node = bucket as Record<string, unknown> | undefined;
  for (const part of path.split('.')) node = node?.[part] as Record<string, unknown> | undefined;
  const hits = (node as { hits?: { hits?: Array<{ _source?: unknown }> } } | undefined)?.hits?.hits ?? [];
  return hits.flatMap((hit) => (hit._source ? [hit._source as T] : []));
}

/** What a login event says about where it came from, as the location and device rules read it from _source. */
export interface LoginSource {
  '@timestamp': string;
  event?: { id?: string; action?: string };
  user?: { name?: string };
  source?: {
    ip?: string;
    geo?: { country_iso_code?: string; country_name?: string; city_name?: string; location?: unknown };
    as?: { number?: number; organization?: { name?: string } };
  };
  user_agent?: { name?: string; os?: { name?: string }; device?: { name?: string } };
  sentinel?: { session_id?: string; known_device?: boolean };
}

export const LOGIN_SOURCE_FIELDS = [
  '@timestamp', 'event.id', 'event.action', 'user.name', 'source.ip', 'source.geo.country_iso_code', 'source.geo.country_name',
  'source.geo.city_name', 'source.geo.location', 'source.as.number', 'source.as.organization.name',
];

/** "Lyon, France (AS3215 Orange)" from what is known. */
export function placeOf(source: LoginSource['source']): string {
  const geo = source?.geo;
  const where = [geo?.city_name, geo?.country_name ?? geo?.country_iso_code].filter(Boolean).join(', ') || 'an unknown place';
  const as = source?.as?.number ? ` (AS${source.as.number}${source.as.organization?.name ? ` ${source.as.organization.name}` : ''})` : '';
  return `${where}${as}`;
}
