/**
 * Generated security events for the anomaly tests and the benchmark: the same ECS documents the server emits
 * (buildSecurityEvent), at chosen times, indexed with _bulk into `<prefix>-events-YYYY.MM.DD`.
 */
import type { Client } from '@elastic/elasticsearch';
import { dailyIndex } from '../../src/elastic/templates.js';
import type { EventAction } from '../../src/events/catalogue.js';
import { buildSecurityEvent, type SecurityEvent } from '../../src/events/security-event.js';

export interface EventSpec {
  action: EventAction;
  at: Date | number;
  user?: string;
  ip?: string;
  userAgent?: string;
  reason?: string;
  sessionId?: string;
  path?: string;
}

export function event(spec: EventSpec): SecurityEvent {
  return buildSecurityEvent(spec.action, {
    timestamp: new Date(spec.at),
    reason: spec.reason,
    user: spec.user ? { name: spec.user } : undefined,
    source: spec.ip ? { ip: spec.ip } : undefined,
    userAgent: spec.userAgent ?? 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0',
    urlPath: spec.path ?? '/auth/login',
    http: { method: 'POST' },
    sentinel: spec.sessionId ? { session_id: spec.sessionId } : undefined,
  });
}

export const fail = (user: string, ip: string, at: Date | number, extra: Partial<EventSpec> = {}): SecurityEvent =>
  event({ action: 'authn_login_fail', user, ip, at, reason: 'bad_password', ...extra });
export const success = (user: string, ip: string, at: Date | number, extra: Partial<EventSpec> = {}): SecurityEvent =>
  event({ action: 'authn_login_success', user, ip, at, ...extra });

/** Indexes events with create (ids are the event ids) and refreshes, in chunks of 5000. */
export async function indexEvents(client: Client, prefix: string, events: readonly SecurityEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 5000) {
    const operations = events.slice(i, i + 5000).flatMap((doc) => [{ create: { _index: dailyIndex(prefix, 'events', doc['@timestamp']), _id: doc.event.id } }, doc]);
    const response = await client.bulk({ operations });
    if (response.errors) {
      const first = response.items.find((item) => item.create?.error);
      throw new Error(`indexing test events failed: ${JSON.stringify(first?.create?.error)}`);
    }
  }
  await client.indices.refresh({ index: `${prefix}-events-*`, ignore_unavailable: true, allow_no_indices: true });
}

/** `n` items spread evenly over [start, start + spanMs). */
export function spread<T>(n: number, start: number, spanMs: number, make: (i: number, at: number) => T): T[] {
  return Array.from({ length: n }, (_, i) => make(i, start + Math.floor((i * spanMs) / Math.max(1, n))));
}
