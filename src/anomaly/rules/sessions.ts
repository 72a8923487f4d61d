import { EVIDENCE_AGGS, LOGIN_SUCCESS, actions, buckets, docCount, isoOf, keys, range, searchBody, value } from './query.js';
import type { Finding, Rule } from './types.js';

/** Token abuse, authorization probing, and changes in behaviour. */

const MINUTE = 60_000;
const DAY = 86_400_000;
const TERMS_SIZE = 500;

/** Reasons that mean someone crafted or altered a token; expired, missing and revoked tokens are everyday life. */
export const TAMPERING_REASONS = ['bad_signature', 'algorithm', 'malformed', 'forbidden_header', 'unknown_kid', 'wrong_type', 'wrong_issuer', 'wrong_audience', 'missing_claim', 'duplicate_cookie', 'oversized'];

type Params<K extends string> = { windowMs: number } & Record<K, number>;

export const tokenTampering: Rule<Params<'minEvents'>> = {
  id: 'token_tampering',
  name: 'Token tampering',
  description: 'Forged, altered or malformed tokens from one source (bad signature, algorithm, header or type).',
  severity: 'high',
  technique: { id: 'T1550', name: 'Use Alternate Authentication Material', subtechnique: { id: 'T1550.001', name: 'Application Access Token' } },
  tactic: { id: 'TA0005', name: 'Defense Evasion' },
  defaults: { windowMs: 15 * MINUTE, minEvents: 3 },
  queries: (window, p, ctx) => [{
    index: ctx.eventsIndex,
    body: searchBody([range(window), actions(['authn_token_invalid']), { terms: { 'event.reason': TAMPERING_REASONS } }], {
      sources: {
        terms: { field: 'source.ip', size: TERMS_SIZE, min_doc_count: p.minEvents },
        aggs: { reasons: { terms: { field: 'event.reason', size: 20 } }, top_users: { terms: { field: 'user.name', size: 10 } }, ...EVIDENCE_AGGS },
      },
    }),
  }],
  evaluate: ([response], _window, p) => buckets(response, 'sources').filter((b) => b.doc_count >= p.minEvents).map((b) => ({
    entityType: 'source',
    entity: String(b.key),
    summary: `${b.doc_count} tampered or malformed tokens from ${b.key} (${keys(b, 'reasons').join(', ')})`,
    count: b.doc_count,
    users: keys(b, 'top_users'),
    firstSeen: isoOf(b, 'first_seen'),
    lastSeen: isoOf(b, 'last_seen'),
    details: { reasons: keys(b, 'reasons') },
  })),
};

/** Every reuse of a rotated refresh token: a stolen session (RFC 9700 §4.14.2). One alert per event. */
export const refreshTokenReuse: Rule<Params<'maxEvents'>> = {
  id: 'refresh_token_reuse',
  name: 'Refresh token reuse',
  description: 'A refresh token that had already been rotated was used again: the session was stolen or replayed; its family is revoked.',
  severity: 'critical',
  technique: { id: 'T1539', name: 'Steal Web Session Cookie' },
  tactic: { id: 'TA0006', name: 'Credential Access' },
  defaults: { windowMs: 15 * MINUTE, maxEvents: 500 },
  queries: (window, p, ctx) => [{
    index: ctx.eventsIndex,
    body: {
      size: p.maxEvents,
      // Reason `revoked` is a browser still holding a session that ended elsewhere (logout, a password change): the
      // everyday case, not theft. A rotated token coming back (or an event from before reasons existed) is.
      query: { bool: { filter: [range(window), actions(['authn_token_reuse'])], must_not: [{ term: { 'event.reason': 'revoked' } }] } },
      sort: [{ '@timestamp': 'asc' }],
      _source: ['@timestamp', 'event.id', 'user.name', 'source.ip', 'user_agent.original', 'sentinel.session_id'],
    },
  }],
  evaluate: ([response]) => {
    const hits = (response as { hits?: { hits?: Array<{ _source?: Record<string, unknown> }> } })?.hits?.hits ?? [];
    return hits.flatMap((hit): Finding[] => {
      const source = hit._source as { '@timestamp': string; event: { id: string }; user?: { name?: string }; source?: { ip?: string }; sentinel?: { session_id?: string } } | undefined;
      if (!source?.event?.id) return [];
      const user = source.user?.name ?? 'unknown';
      return [{
        entityType: 'session',
        entity: source.sentinel?.session_id ?? source.event.id,
        summary: `A rotated refresh token of "${user}" was used again from ${source.source?.ip ?? 'an unknown address'}; the session was revoked`,
        count: 1,
        eventId: source.event.id,
        firstSeen: source['@timestamp'],
        lastSeen: source['@timestamp'],
        users: [user],
        sources: source.source?.ip ? [source.source.ip] : [],
      }];
    });
  },
};

/** Probing for what one may not do: many 403s (roles) and CSRF refusals per user or per source. */
export const authorizationFailureBurst: Rule<Params<'minPerUser' | 'minPerSource'>> = {
  id: 'authorization_failure_burst',
  name: 'Authorization failure burst',
  description: 'Many refused requests (missing role, failed CSRF check) for one user or from one source.',
  severity: 'medium',
  technique: { id: 'T1078', name: 'Valid Accounts' },
  tactic: { id: 'TA0004', name: 'Privilege Escalation' },
  defaults: { windowMs: 15 * MINUTE, minPerUser: 10, minPerSource: 20 },
  queries: (window, p, ctx) => [{
    index: ctx.eventsIndex,
    body: searchBody([range(window), actions(['authz_fail', 'malicious_csrf'])], {
      users: { terms: { field: 'user.name', size: TERMS_SIZE, min_doc_count: p.minPerUser }, aggs: { paths: { terms: { field: 'url.path', size: 10 } }, top: { terms: { field: 'source.ip', size: 10 } }, ...EVIDENCE_AGGS } },
      sources: { terms: { field: 'source.ip', size: TERMS_SIZE, min_doc_count: p.minPerSource }, aggs: { paths: { terms: { field: 'url.path', size: 10 } }, top: { terms: { field: 'user.name', size: 10 } }, ...EVIDENCE_AGGS } },
    }),
  }],
  evaluate: ([response], _window, p) => [
    ...buckets(response, 'users').filter((b) => b.doc_count >= p.minPerUser).map((b): Finding => ({
      entityType: 'user', entity: String(b.key), summary: `"${b.key}" was refused ${b.doc_count} times (${keys(b, 'paths').join(', ')})`,
      count: b.doc_count, sources: keys(b, 'top'), firstSeen: isoOf(b, 'first_seen'), lastSeen: isoOf(b, 'last_seen'), details: { paths: keys(b, 'paths') },
    })),
    ...buckets(response, 'sources').filter((b) => b.doc_count >= p.minPerSource).map((b): Finding => ({
      entityType: 'source', entity: String(b.key), summary: `${b.key} was refused ${b.doc_count} times (${keys(b, 'paths').join(', ')})`,
      count: b.doc_count, users: keys(b, 'top'), firstSeen: isoOf(b, 'first_seen'), lastSeen: isoOf(b, 'last_seen'), details: { paths: keys(b, 'paths') },
    })),
  ],
};

/**
 * A user logging in from a source address not seen for them in the previous `baselineDays`. Users with no history
 * at all are not flagged (everything would be new), which also avoids ElastAlert's new_term re-alerting after a
 * restart: the baseline is re-read from Elasticsearch on every run. The raw User-Agent is not compared: it changes
 * with every browser update; new_device_for_user judges the parsed browser, OS and device instead.
 */
export const newSourceForUser: Rule<Params<'baselineDays'>> = {
  id: 'new_source_for_user',
  name: 'New source for a user',
  description: 'A successful login from an address this user has not used in the previous days.',
  severity: 'low',
  technique: { id: 'T1078', name: 'Valid Accounts' },
  tactic: { id: 'TA0001', name: 'Initial Access' },
  defaults: { windowMs: 15 * MINUTE, baselineDays: 14 },
  realertMs: DAY,
  queries: (window, p, ctx) => {
    const perUser = { terms: { field: 'user.name', size: 2000 }, aggs: { ips: { terms: { field: 'source.ip', size: 200 } }, ...EVIDENCE_AGGS } };
    const baseline = { start: new Date(window.start.getTime() - p.baselineDays * DAY), end: window.start };
    return [
      { index: ctx.eventsIndex, body: searchBody([range(window), actions(LOGIN_SUCCESS)], { users: perUser }) },
      { index: ctx.eventsIndex, body: searchBody([range(baseline), actions(LOGIN_SUCCESS)], { users: perUser }) },
    ];
  },
  evaluate: ([current, baseline]) => {
    const known = new Map<string, Set<string>>();
    for (const b of buckets(baseline, 'users')) known.set(String(b.key), new Set(keys(b, 'ips')));
    return buckets(current, 'users').flatMap((b): Finding[] => {
      const history = known.get(String(b.key));
      if (!history) return [];
      const newIps = keys(b, 'ips').filter((ip) => !history.has(ip));
      if (newIps.length === 0) return [];
      return [{
        entityType: 'user', entity: String(b.key), summary: `"${b.key}" logged in from a new address ${newIps.join(', ')}`,
        count: b.doc_count, sources: newIps, firstSeen: isoOf(b, 'first_seen'), lastSeen: isoOf(b, 'last_seen'),
        details: { new_sources: newIps },
      }];
    });
  },
};

/** Failed logins in the window against the same window on each of the previous 7 days. */
export const failureVolumeSpike: Rule<Params<'factor' | 'minFailures' | 'days'>> = {
  id: 'failure_volume_spike',
  name: 'Failed login volume spike',
  description: 'Far more failed logins than in the same window on the previous days.',
  severity: 'medium',
  technique: { id: 'T1110', name: 'Brute Force' },
  tactic: { id: 'TA0006', name: 'Credential Access' },
  defaults: { windowMs: 60 * MINUTE, factor: 3, minFailures: 50, days: 7 },
  queries: (window, p, ctx) => {
    const filters: Record<string, unknown> = { current: range(window) };
    for (let d = 1; d <= p.days; d += 1) filters[`day_${d}`] = range({ start: new Date(window.start.getTime() - d * DAY), end: new Date(window.end.getTime() - d * DAY) });
    const earliest = new Date(window.start.getTime() - p.days * DAY);
    return [{
      index: ctx.eventsIndex,
      body: searchBody([range({ start: earliest, end: window.end }), actions(['authn_login_fail'])], {
        periods: { filters: { filters }, aggs: { sources: { cardinality: { field: 'source.ip' } }, users: { cardinality: { field: 'user.name' } } } },
      }),
    }];
  },
  evaluate: ([response], _window, p) => {
    const periods = ((response as { aggregations?: { periods?: { buckets?: Record<string, unknown> } } })?.aggregations?.periods?.buckets ?? {}) as Record<string, unknown>;
    const current = docCount(periods, 'current');
    let total = 0;
    for (let d = 1; d <= p.days; d += 1) total += docCount(periods, `day_${d}`);
    const baseline = total / p.days;
    if (current < p.minFailures || current < p.factor * Math.max(baseline, 1)) return [];
    return [{
      entityType: 'service', entity: 'login',
      summary: `${current} failed logins in the window, ${baseline.toFixed(1)} on average in the same window of the previous ${p.days} days`,
      count: current,
      distinctSources: value(periods, 'current.sources'),
      distinctUsers: value(periods, 'current.users'),
      details: { baseline_average: Math.round(baseline * 10) / 10, factor: baseline ? Math.round((current / baseline) * 10) / 10 : null },
    }];
  },
};
