/**
 * A detection rule is data plus two pure functions (docs/architecture.md): `queries` builds the Elasticsearch searches
 * for one window, `evaluate` turns their responses into findings. No I/O here: the runner does that. Queries use
 * core aggregations only (terms, cardinality, filter(s), min/max, top_hits): the minimal distribution has no
 * painless and no bucket_selector, so thresholds are applied in `evaluate`.
 */

export type Severity = 'low' | 'medium' | 'high' | 'critical';

export interface Window {
  start: Date;
  end: Date;
}

export interface RuleContext {
  /** `<prefix>-events-*` */
  eventsIndex: string;
}

export interface SearchSpec {
  index: string;
  body: Record<string, unknown>;
}

/** What a rule found about one entity (a user, a source address, a session, or the whole service). */
export interface Finding {
  entityType: 'user' | 'source' | 'session' | 'service';
  entity: string;
  /** One line a person reads first. */
  summary: string;
  count: number;
  firstSeen?: string;
  lastSeen?: string;
  distinctUsers?: number;
  distinctSources?: number;
  failureRatio?: number;
  users?: string[];
  sources?: string[];
  /**
   * For rules where every event is an alert (token reuse): the event's id, so the alert id is fixed by the
   * event and overlapping windows can never repeat it.
   */
  eventId?: string;
  /** Anything else worth keeping, small. */
  details?: Record<string, unknown>;
}

export interface Rule<P extends { windowMs: number } = { windowMs: number } & Record<string, number>> {
  id: string;
  name: string;
  description: string;
  severity: Severity;
  /**
   * MITRE ATT&CK, as ECS wants it: the parent technique in `technique`, a sub-technique (T1110.003) in
   * `technique.subtechnique`, so a filter on T1110 finds every brute-force alert.
   */
  technique: { id: string; name: string; subtechnique?: { id: string; name: string } };
  tactic: { id: string; name: string };
  /** Thresholds and window; overridable per deployment. */
  defaults: P;
  /** Minimum time between two alerts of this rule for one entity. Default 1 h. */
  realertMs?: number;
  queries(window: Window, params: P, context: RuleContext): SearchSpec[];
  /**
   * A second round of searches built from the first round's responses: a cheap first search picks the few entities
   * that can be findings, the second reads the evidence for those only (per-entity sub-aggregations over every
   * entity of a week are what makes a rule slow). `evaluate` then gets the first round's responses followed by the
   * second's.
   */
  refine?(first: unknown[], window: Window, params: P, context: RuleContext): SearchSpec[];
  evaluate(responses: unknown[], window: Window, params: P): Finding[];
}

export const SEVERITY_SCORE: Record<Severity, number> = { low: 21, medium: 47, high: 73, critical: 99 };
