import { randomUUID } from 'node:crypto';
import type { EcsEvent, EcsHttp, EcsRelated, EcsSource, EcsUrl, EcsUser, EcsUserAgent } from '@elastic/ecs';
import { EVENT_CATALOGUE, type EventAction, type EventLevel, type EventOutcome } from './catalogue.js';

export const ECS_VERSION = '8.11.0';
/**
 * User-Agent is client text: 12 kB ones were seen. Enough to tell browsers and tools apart, short enough that an
 * event stays small (the access record uses the same cut).
 */
export const MAX_USER_AGENT = 512;

/** What the emitter knows about the request and the subject; everything is optional. */
export interface SecurityEventInput {
  reason?: string;
  message?: string;
  outcome?: EventOutcome;
  user?: { name?: string; id?: string; roles?: readonly string[] };
  /** The user an action was taken on (`user.target`): whose sessions an administrator ended, whose history they read. */
  target?: { name?: string; id?: string };
  source?: { ip?: string };
  userAgent?: string;
  http?: { method?: string; statusCode?: number; requestId?: string };
  urlPath?: string;
  /** Our own fields (`sentinel.*`): session id, token jti and type, throttle figures. Never a token value. */
  sentinel?: Record<string, unknown>;
  /** For tests and replays: the event time. */
  timestamp?: Date;
  durationNs?: number;
}

/**
 * An ECS document for one security event. Plain JSON: safe to log, journal and index as it is. The field sets are
 * the `@elastic/ecs` types, narrowed to what we always write.
 */
export interface SecurityEvent {
  '@timestamp': string;
  ecs: { version: string };
  message: string;
  log: { level: EventLevel };
  event: EcsEvent & {
    id: string;
    kind: 'event';
    action: EventAction;
    category: string[];
    type: string[];
    outcome: EventOutcome;
    reason?: string;
    dataset: 'sentinel.security';
    duration?: number;
  };
  user?: Pick<EcsUser, 'name' | 'id'> & { roles?: string[]; target?: Pick<NonNullable<EcsUser['target']>, 'name' | 'id'> };
  /** `geo` and `as` are filled in by enrichment hooks (docs/enrichment.md), never by the builder. */
  source?: Pick<EcsSource, 'geo' | 'as'> & { ip: string };
  user_agent?: EcsUserAgent & { original: string };
  http?: Pick<EcsHttp, 'request'> & { response?: { status_code: number } };
  url?: EcsUrl & { path: string };
  /** Every user name and address the event mentions, so one search finds an entity in any role. */
  related?: { user?: string[]; ip?: string[] } & Omit<EcsRelated, 'user' | 'ip'>;
  sentinel?: Record<string, unknown>;
  service?: { name: string };
}

/** Builds the ECS document for `action` from the catalogue entry and what the caller knows. Pure. */
export function buildSecurityEvent(action: EventAction, input: SecurityEventInput = {}): SecurityEvent {
  const entry = EVENT_CATALOGUE[action];
  const doc: SecurityEvent = {
    '@timestamp': (input.timestamp ?? new Date()).toISOString(),
    ecs: { version: ECS_VERSION },
    message: input.message ?? entry.description,
    log: { level: entry.level },
    event: {
      id: randomUUID(),
      kind: 'event',
      action,
      category: [...entry.category],
      type: [...entry.type],
      outcome: input.outcome ?? entry.outcome,
      dataset: 'sentinel.security',
    },
  };
  if (input.reason !== undefined) doc.event.reason = input.reason;
  if (input.durationNs !== undefined) doc.event.duration = input.durationNs;
  if (input.user && (input.user.name !== undefined || input.user.id !== undefined)) {
    doc.user = {};
    if (input.user.name !== undefined) doc.user.name = input.user.name;
    if (input.user.id !== undefined) doc.user.id = input.user.id;
    if (input.user.roles !== undefined) doc.user.roles = [...input.user.roles];
  }
  if (input.target && (input.target.name !== undefined || input.target.id !== undefined)) {
    const target: NonNullable<NonNullable<SecurityEvent['user']>['target']> = {};
    if (input.target.name !== undefined) target.name = input.target.name;
    if (input.target.id !== undefined) target.id = input.target.id;
    doc.user = { ...doc.user, target };
  }
  if (input.source?.ip) doc.source = { ip: input.source.ip };
  if (input.userAgent) doc.user_agent = { original: input.userAgent.slice(0, MAX_USER_AGENT) };
  if (input.http) {
    const http: NonNullable<SecurityEvent['http']> = {};
    if (input.http.method !== undefined || input.http.requestId !== undefined) {
      http.request = {};
      if (input.http.method !== undefined) http.request.method = input.http.method;
      if (input.http.requestId !== undefined) http.request.id = input.http.requestId;
    }
    if (input.http.statusCode !== undefined) http.response = { status_code: input.http.statusCode };
    doc.http = http;
  }
  if (input.urlPath !== undefined) doc.url = { path: input.urlPath };
  const related = relatedOf([doc.user?.name, doc.user?.target?.name], [doc.source?.ip]);
  if (related) doc.related = related;
  if (input.sentinel && Object.keys(input.sentinel).length > 0) doc.sentinel = { ...input.sentinel };
  return doc;
}

/** `related.user` and `related.ip`: the distinct non-empty values, or undefined when there are none. */
export function relatedOf(users: ReadonlyArray<string | undefined>, ips: ReadonlyArray<string | undefined>): { user?: string[]; ip?: string[] } | undefined {
  const user = [...new Set(users.filter((value): value is string => typeof value === 'string' && value !== ''))];
  const ip = [...new Set(ips.filter((value): value is string => typeof value === 'string' && value !== ''))];
  if (user.length === 0 && ip.length === 0) return undefined;
  return { ...(user.length ? { user } : {}), ...(ip.length ? { ip } : {}) };
}
