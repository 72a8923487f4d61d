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

export function searchBody(filters: unknown[], aggs: Record<string, unknown>): Record<string, unknown> {
  return { size: 0, track_total_hits: false, query: { bool: { filter: filters } }, aggs };
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
