import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { EcsEvent, EcsRule, EcsThreat } from '@elastic/ecs';
import { ECS_VERSION, relatedOf } from '../events/security-event.js';
import { SEVERITY_SCORE, type Finding, type Rule, type Window } from './rules/types.js';

/**
 * Alerts as ECS documents (`event.kind: alert`) in `<prefix>-alerts-*` (docs/architecture.md). The `_id` is a
 * hash of the rule, the entity and the evaluation window's end (or of the triggering event, for one-event rules): two
 * runners, or a re-run over the same window, write the same id, and `create` refuses the second. Categorised as ECS
 * allows: `event.kind: alert`, the rule's family plus `intrusion_detection` as categories, `info` as type (every
 * one of those categories expects it); ATT&CK as ECS wants it (parent technique, `subtechnique`, reference URLs).
 */

/** An ATT&CK entry as ECS writes it: id, name and the page that describes it. */
export interface AttackReference {
  id: string;
  name: string;
  reference: string;
}

/**
 * An alert document. The field sets are the `@elastic/ecs` types, narrowed to what we always write; the severity
 * is in `event.severity` (score) and `sentinel.alert.severity` (word).
 */
export interface AlertDocument {
  '@timestamp': string;
  ecs: { version: string };
  message: string;
  event: EcsEvent & {
    id: string; kind: 'alert'; dataset: 'sentinel.alert'; action: string; category: string[]; type: string[];
    severity: number; risk_score: number; start?: string; end?: string; created: string;
  };
  rule: EcsRule & { id: string; name: string; description: string; category: RuleFamily; ruleset: 'koa-sentinel' };
  threat: EcsThreat & {
    framework: 'MITRE ATT&CK';
    technique: AttackReference & { subtechnique?: AttackReference };
    tactic: AttackReference;
  };
  user?: { name: string };
  source?: { ip: string };
  /** The users and addresses of the entity and of the evidence. */
  related?: { user?: string[]; ip?: string[] };
  log: { level: 'warn' | 'error' };
  sentinel: { alert: Record<string, unknown> };
}

/**
 * `rule.category`: the family of events a rule judges, derived from its ATT&CK entry so a rule needs no extra field.
 * Privilege escalation is about roles (iam); stolen or forged session material (T1550 alternate authentication
 * material, T1539 web session cookies, T1185 session hijacking) is about sessions; everything else we detect is
 * about logging in.
 */
export type RuleFamily = 'authentication' | 'session' | 'iam';
const SESSION_TECHNIQUES = new Set(['T1550', 'T1539', 'T1185']);
const PRIVILEGE_ESCALATION = 'TA0004';

export function ruleFamily(rule: Pick<Rule, 'technique' | 'tactic'>): RuleFamily {
  if (rule.tactic.id === PRIVILEGE_ESCALATION) return 'iam';
  if (SESSION_TECHNIQUES.has(rule.technique.id)) return 'session';
  return 'authentication';
}

const ATTACK = 'https://attack.mitre.org';
/** T1110 → …/techniques/T1110/, T1110.003 → …/techniques/T1110/003/, TA0006 → …/tactics/TA0006/. */
export function attackReference(id: string): string {
  if (id.startsWith('TA')) return `${ATTACK}/tactics/${id}/`;
  return `${ATTACK}/techniques/${id.split('.').join('/')}/`;
}

function threatOf(rule: Rule): AlertDocument['threat'] {
  const { technique, tactic } = rule;
  return {
    framework: 'MITRE ATT&CK',
    technique: {
      id: technique.id, name: technique.name, reference: attackReference(technique.id),
      ...(technique.subtechnique ? { subtechnique: { ...technique.subtechnique, reference: attackReference(technique.subtechnique.id) } } : {}),
    },
    tactic: { id: tactic.id, name: tactic.name, reference: attackReference(tactic.id) },
  };
}

/** The entity, then the evidence's users and addresses (addresses that are not IPs left out: `related.ip` is an ip field). */
function relatedOfFinding(finding: Finding): AlertDocument['related'] {
  const ips = [finding.entityType === 'source' ? finding.entity : undefined, ...(finding.sources ?? [])];
  return relatedOf(
    [finding.entityType === 'user' ? finding.entity : undefined, ...(finding.users ?? [])],
    ips.filter((ip) => ip !== undefined && isIP(ip) !== 0),
  );
}

export function alertId(rule: Pick<Rule, 'id'>, finding: Finding, window: Window): string {
  const basis = finding.eventId ? `${rule.id}|event|${finding.eventId}` : `${rule.id}|${finding.entityType}|${finding.entity}|${window.end.toISOString()}`;
  return createHash('sha256').update(basis).digest('hex').slice(0, 32);
}

export function buildAlert(rule: Rule, finding: Finding, window: Window, now: Date): AlertDocument {
  const id = alertId(rule, finding, window);
  const family = ruleFamily(rule);
  // An alert born of one event lives at that event's time: its id is fixed by the event, and so must its daily
  // index be, or the windows before and after midnight would write it into two indices. Never after `now`: a
  // window judged while still open ends in the future, and an alert must not claim a time that has not come.
  const at = finding.eventId && finding.firstSeen ? finding.firstSeen : window.end.toISOString();
  const doc: AlertDocument = {
    '@timestamp': Date.parse(at) > now.getTime() ? now.toISOString() : at,
    ecs: { version: ECS_VERSION },
    message: `${rule.name}: ${finding.summary}`,
    event: {
      id, kind: 'alert', dataset: 'sentinel.alert', action: rule.id, category: [family, 'intrusion_detection'], type: ['info'],
      severity: SEVERITY_SCORE[rule.severity], risk_score: SEVERITY_SCORE[rule.severity], created: now.toISOString(),
      ...(finding.firstSeen ? { start: finding.firstSeen } : {}), ...(finding.lastSeen ? { end: finding.lastSeen } : {}),
    },
    rule: { id: rule.id, name: rule.name, description: rule.description, category: family, ruleset: 'koa-sentinel' },
    threat: threatOf(rule),
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
  const related = relatedOfFinding(finding);
  if (related) doc.related = related;
  return doc;
}
