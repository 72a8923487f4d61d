import { createHash } from 'node:crypto';
import { ECS_VERSION } from '../events/security-event.js';
import { SEVERITY_SCORE, type Finding, type Rule, type Window } from './rules/types.js';

/**
 * Alerts as ECS documents (`event.kind: alert`) in `<prefix>-alerts-*` (docs/architecture.md). The `_id` is a
 * hash of the rule, the entity and the evaluation window's end (or of the triggering event, for one-event rules): two
 * runners, or a re-run over the same window, write the same id, and `create` refuses the second.
 */

export interface AlertDocument {
  '@timestamp': string;
  ecs: { version: string };
  message: string;
  event: {
    id: string; kind: 'alert'; dataset: 'sentinel.alert'; action: string; category: string[]; type: string[];
    severity: number; risk_score: number; start?: string; end?: string; created: string;
  };
  rule: { id: string; name: string; description: string; category: string };
  threat: { framework: 'MITRE ATT&CK'; technique: { id: string; name: string }; tactic: { id: string; name: string } };
  user?: { name: string };
  source?: { ip: string };
  log: { level: 'warn' | 'error' };
  sentinel: { alert: Record<string, unknown> };
}

export function alertId(rule: Pick<Rule, 'id'>, finding: Finding, window: Window): string {
  const basis = finding.eventId ? `${rule.id}|event|${finding.eventId}` : `${rule.id}|${finding.entityType}|${finding.entity}|${window.end.toISOString()}`;
  return createHash('sha256').update(basis).digest('hex').slice(0, 32);
}

export function buildAlert(rule: Rule, finding: Finding, window: Window, now: Date): AlertDocument {
  const id = alertId(rule, finding, window);
  const doc: AlertDocument = {
    // An alert born of one event lives at that event's time: its id is fixed by the event, and so must its daily
    // index be, or the windows before and after midnight would write it into two indices.
    '@timestamp': finding.eventId && finding.firstSeen ? finding.firstSeen : window.end.toISOString(),
    ecs: { version: ECS_VERSION },
    message: `${rule.name}: ${finding.summary}`,
    event: {
      id, kind: 'alert', dataset: 'sentinel.alert', action: rule.id, category: ['authentication', 'intrusion_detection'], type: ['indicator'],
      severity: SEVERITY_SCORE[rule.severity], risk_score: SEVERITY_SCORE[rule.severity], created: now.toISOString(),
      ...(finding.firstSeen ? { start: finding.firstSeen } : {}), ...(finding.lastSeen ? { end: finding.lastSeen } : {}),
    },
    rule: { id: rule.id, name: rule.name, description: rule.description, category: rule.severity },
    threat: { framework: 'MITRE ATT&CK', technique: rule.technique, tactic: rule.tactic },
    log: { level: rule.severity === 'critical' || rule.severity === 'high' ? 'error' : 'warn' },
    sentinel: {
      alert: {
        entity: finding.entity,
        entity_type: finding.entityType,
        window_start: window.start.toISOString(),
        window_end: window.end.toISOString(),
        count: finding.count,
        notified: false,
        ...(finding.firstSeen ? { first_seen: finding.firstSeen } : {}),
        ...(finding.lastSeen ? { last_seen: finding.lastSeen } : {}),
        ...(finding.distinctUsers !== undefined ? { distinct_users: finding.distinctUsers } : {}),
        ...(finding.distinctSources !== undefined ? { distinct_sources: finding.distinctSources } : {}),
        ...(finding.failureRatio !== undefined ? { failure_ratio: finding.failureRatio } : {}),
        ...(finding.users?.length ? { users: finding.users } : {}),
        ...(finding.sources?.length ? { sources: finding.sources } : {}),
        ...(finding.details ? { details: finding.details } : {}),
        severity: rule.severity,
      },
    },
  };
  if (finding.entityType === 'user') doc.user = { name: finding.entity };
  if (finding.entityType === 'source') doc.source = { ip: finding.entity };
  return doc;
}
