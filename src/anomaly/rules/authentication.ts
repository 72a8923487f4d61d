import { EVIDENCE_AGGS, LOGIN_ACTIONS, LOGIN_FAIL, LOGIN_SUCCESS, actions, buckets, docCount, isoOf, keys, range, searchBody, value } from './query.js';
import type { Finding, Rule } from './types.js';

/**
 * Credential attacks against the login (MITRE ATT&CK T1110 and T1078). Thresholds start from Elastic's prebuilt
 * rules (docs/architecture.md) and add the shape conditions that separate an attack from its
 * benign look-alike: a user mistyping twice, an office NAT where many people log in successfully from one address.
 */

const MINUTE = 60_000;
const CREDENTIAL_ACCESS = { id: 'TA0006', name: 'Credential Access' };
const TERMS_SIZE = 500;

type Params<K extends string> = { windowMs: number } & Record<K, number>;

/**
 * A guess the throttle refused (429, excess_rate_limit_exceeded) is still a guess: counting only the failures
 * that got through would let the throttle hide the very attack it slows down.
 */
const GUESSES = [LOGIN_FAIL, 'excess_rate_limit_exceeded'];

/** Per user: many failures, from any number of sources. */
export const bruteForceAccount: Rule<Params<'minFailures'>> = {
  id: 'brute_force_account',
  name: 'Brute force against one account',
  description: 'Many failed or throttled logins for one account within the window (password guessing).',
  severity: 'high',
  technique: { id: 'T1110', name: 'Brute Force', subtechnique: { id: 'T1110.001', name: 'Password Guessing' } },
  tactic: CREDENTIAL_ACCESS,
  defaults: { windowMs: 15 * MINUTE, minFailures: 10 },
  queries: (window, p, ctx) => [{
    index: ctx.eventsIndex,
    body: searchBody([range(window), actions(GUESSES)], {
      users: {
        terms: { field: 'user.name', size: TERMS_SIZE, min_doc_count: p.minFailures },
        aggs: { sources: { cardinality: { field: 'source.ip' } }, top_sources: { terms: { field: 'source.ip', size: 10 } }, ...EVIDENCE_AGGS },
      },
    }),
  }],
  evaluate: ([response], _window, p) => buckets(response, 'users').filter((b) => b.doc_count >= p.minFailures).map((b) => ({
    entityType: 'user',
    entity: String(b.key),
    summary: `${b.doc_count} failed or throttled logins for "${b.key}" from ${value(b, 'sources')} source(s)`,
    count: b.doc_count,
    distinctSources: value(b, 'sources'),
    sources: keys(b, 'top_sources'),
    firstSeen: isoOf(b, 'first_seen'),
    lastSeen: isoOf(b, 'last_seen'),
  })),
};

/** Per source: many failures against few accounts (many accounts is spraying or stuffing instead). */
export const bruteForceSource: Rule<Params<'minFailures' | 'maxUsers'>> = {
  id: 'brute_force_source',
  name: 'Brute force from one source',
  description: 'Many failed or throttled logins from one address against a few accounts.',
  severity: 'high',
  technique: { id: 'T1110', name: 'Brute Force', subtechnique: { id: 'T1110.001', name: 'Password Guessing' } },
  tactic: CREDENTIAL_ACCESS,
  defaults: { windowMs: 15 * MINUTE, minFailures: 20, maxUsers: 3 },
  queries: (window, p, ctx) => [{
    index: ctx.eventsIndex,
    body: searchBody([range(window), actions(GUESSES)], {
      sources: {
        terms: { field: 'source.ip', size: TERMS_SIZE, min_doc_count: p.minFailures },
        aggs: { users: { cardinality: { field: 'user.name' } }, top_users: { terms: { field: 'user.name', size: 10 } }, ...EVIDENCE_AGGS },
      },
    }),
  }],
  evaluate: ([response], _window, p) => buckets(response, 'sources')
    .filter((b) => b.doc_count >= p.minFailures && value(b, 'users') <= p.maxUsers)
    .map((b) => ({
      entityType: 'source',
      entity: String(b.key),
      summary: `${b.doc_count} failed or throttled logins from ${b.key} against ${value(b, 'users')} account(s)`,
      count: b.doc_count,
      distinctUsers: value(b, 'users'),
      users: keys(b, 'top_users'),
      firstSeen: isoOf(b, 'first_seen'),
      lastSeen: isoOf(b, 'last_seen'),
    })),
};

/** Per-source login buckets with per-user attempt counts: shared by spraying and single-source stuffing. */
function perSourceLogins(window: Parameters<Rule['queries']>[0], eventsIndex: string, minAttempts: number) {
  return {
    index: eventsIndex,
    body: searchBody([range(window), actions(LOGIN_ACTIONS)], {
      sources: {
        terms: { field: 'source.ip', size: TERMS_SIZE, min_doc_count: minAttempts },
        aggs: {
          users: { cardinality: { field: 'user.name' } },
          failures: { filter: { term: { 'event.action': LOGIN_FAIL } } },
          // Attempts per user, most first: the largest bucket is the per-user maximum.
          per_user: { terms: { field: 'user.name', size: 1, order: { _count: 'desc' } } },
          top_users: { terms: { field: 'user.name', size: 10 } },
          ...EVIDENCE_AGGS,
        },
      },
    }),
  };
}

function maxPerUser(bucket: unknown): number {
  return buckets({ aggregations: bucket }, 'per_user')[0]?.doc_count ?? 0;
}

/**
 * One source, many accounts, a few failures each, slowly (hours): one password tried against many users.
 * Each user sees 2-8 attempts; a stuffing run (one attempt per user) or an office NAT (successes) does not match.
 */
export const passwordSpraying: Rule<Params<'minUsers' | 'minFailures' | 'minPerUser' | 'maxPerUser' | 'minFailureRatio'>> = {
  id: 'password_spraying',
  name: 'Password spraying from one source',
  description: 'One address failing against many accounts with a few attempts each.',
  severity: 'high',
  technique: { id: 'T1110', name: 'Brute Force', subtechnique: { id: 'T1110.003', name: 'Password Spraying' } },
  tactic: CREDENTIAL_ACCESS,
  defaults: { windowMs: 60 * MINUTE, minUsers: 8, minFailures: 15, minPerUser: 2, maxPerUser: 8, minFailureRatio: 0.8 },
  queries: (window, p, ctx) => [perSourceLogins(window, ctx.eventsIndex, p.minFailures)],
  evaluate: ([response], _window, p) => buckets(response, 'sources').flatMap((b): Finding[] => {
    const failures = docCount(b, 'failures');
    const users = value(b, 'users');
    const perUser = maxPerUser(b);
    const ratio = failures / b.doc_count;
    const averagePerUser = users ? b.doc_count / users : 0;
    if (users < p.minUsers || failures < p.minFailures || ratio < p.minFailureRatio) return [];
    if (averagePerUser < p.minPerUser || perUser > p.maxPerUser) return [];
    return [{
      entityType: 'source',
      entity: String(b.key),
      summary: `${b.key} failed ${failures} logins across ${users} accounts (about ${averagePerUser.toFixed(1)} each)`,
      count: failures,
      distinctUsers: users,
      failureRatio: round(ratio),
      users: keys(b, 'top_users'),
      firstSeen: isoOf(b, 'first_seen'),
      lastSeen: isoOf(b, 'last_seen'),
      details: { max_attempts_per_user: perUser },
    }];
  }),
};

/**
 * One source, many accounts, about one attempt each, fast, mostly failing: leaked username/password pairs
 * replayed. An office NAT has the same breadth but succeeds.
 */
export const credentialStuffingSource: Rule<Params<'minUsers' | 'minAttempts' | 'maxPerUser' | 'minFailureRatio'>> = {
  id: 'credential_stuffing_source',
  name: 'Credential stuffing from one source',
  description: 'One address trying many accounts about once each, mostly failing.',
  severity: 'high',
  technique: { id: 'T1110', name: 'Brute Force', subtechnique: { id: 'T1110.004', name: 'Credential Stuffing' } },
  tactic: CREDENTIAL_ACCESS,
  defaults: { windowMs: 15 * MINUTE, minUsers: 15, minAttempts: 20, maxPerUser: 2, minFailureRatio: 0.7 },
  queries: (window, p, ctx) => [perSourceLogins(window, ctx.eventsIndex, p.minAttempts)],
  evaluate: ([response], _window, p) => buckets(response, 'sources').flatMap((b): Finding[] => {
    const failures = docCount(b, 'failures');
    const users = value(b, 'users');
    const ratio = failures / b.doc_count;
    if (users < p.minUsers || b.doc_count < p.minAttempts || maxPerUser(b) > p.maxPerUser || ratio < p.minFailureRatio) return [];
    return [{
      entityType: 'source',
      entity: String(b.key),
      summary: `${b.key} tried ${users} accounts (${b.doc_count} attempts, ${Math.round(ratio * 100)}% failed)`,
      count: b.doc_count,
      distinctUsers: users,
      failureRatio: round(ratio),
      users: keys(b, 'top_users'),
      firstSeen: isoOf(b, 'first_seen'),
      lastSeen: isoOf(b, 'last_seen'),
      details: { successes: b.doc_count - failures },
    }];
  }),
};

/**
 * Many sources, many accounts, each source quiet and mostly failing: a botnet replaying pairs under every
 * per-source threshold. Judged per source, not over the whole service: a busy hour of ordinary logins must not
 * dilute the failure ratio, and one noisy address (someone else's brute force) is set aside, not allowed to hide
 * the rest.
 */
export const credentialStuffingDistributed: Rule<Params<'minSources' | 'minUsers' | 'minFailures' | 'minFailureRatio' | 'maxPerSource'>> = {
  id: 'credential_stuffing_distributed',
  name: 'Distributed credential stuffing',
  description: 'Many quiet sources, mostly failing, together trying many accounts.',
  severity: 'critical',
  technique: { id: 'T1110', name: 'Brute Force', subtechnique: { id: 'T1110.004', name: 'Credential Stuffing' } },
  tactic: CREDENTIAL_ACCESS,
  defaults: { windowMs: 15 * MINUTE, minSources: 10, minUsers: 20, minFailures: 40, minFailureRatio: 0.8, maxPerSource: 10 },
  queries: (window, _p, ctx) => [{
    index: ctx.eventsIndex,
    body: searchBody([range(window), actions(LOGIN_ACTIONS)], {
      sources: {
        terms: { field: 'source.ip', size: 5000 },
        aggs: {
          failures: { filter: { term: { 'event.action': LOGIN_FAIL } }, aggs: { users: { cardinality: { field: 'user.name' } } } },
          ...EVIDENCE_AGGS,
        },
      },
      failed_users: { filter: { term: { 'event.action': LOGIN_FAIL } }, aggs: { top: { terms: { field: 'user.name', size: 10 } } } },
    }),
  }],
  evaluate: ([response], _window, p) => {
    // The campaign is every source that failed at least once and stayed under the per-source limit (louder
    // sources are the single-source rules' business). Its failure ratio is its own: the sources that never
    // failed (everyone else logging in) cannot dilute it, while ordinary typos inside it pull it down.
    const campaign = buckets(response, 'sources').filter((b) => {
      const failures = docCount(b, 'failures');
      return failures > 0 && failures <= p.maxPerSource;
    });
    const failures = campaign.reduce((n, b) => n + docCount(b, 'failures'), 0);
    const attempts = campaign.reduce((n, b) => n + b.doc_count, 0);
    // Summed per source: an account tried from two sources counts twice, which only matters near the threshold.
    const users = campaign.reduce((n, b) => n + value(b, 'failures.users'), 0);
    if (campaign.length < p.minSources || users < p.minUsers || failures < p.minFailures || failures / attempts < p.minFailureRatio) return [];
    const first = Math.min(...campaign.map((b) => value(b, 'first_seen')));
    const last = Math.max(...campaign.map((b) => value(b, 'last_seen')));
    const ratio = failures / attempts;
    return [{
      entityType: 'service',
      entity: 'login',
      summary: `${failures} failed logins from ${campaign.length} quiet sources against about ${users} accounts (${Math.round(ratio * 100)}% of their attempts failed)`,
      count: failures,
      distinctSources: campaign.length,
      distinctUsers: users,
      failureRatio: round(ratio),
      users: keys(response ? (response as { aggregations?: unknown }).aggregations : undefined, 'failed_users.top'),
      sources: [...campaign].sort((a, b) => docCount(b, 'failures') - docCount(a, 'failures')).slice(0, 10).map((b) => String(b.key)),
      firstSeen: new Date(first).toISOString(),
      lastSeen: new Date(last).toISOString(),
    }];
  },
};

/** Success after a burst of failures, per account and per source: the attack may have worked (T1078). */
export const successAfterFailures: Rule<Params<'minFailuresUser' | 'minFailuresSource'>> = {
  id: 'success_after_failures',
  name: 'Login success after a burst of failures',
  description: 'An account or a source logged in successfully after many failed attempts in the window.',
  severity: 'critical',
  technique: { id: 'T1078', name: 'Valid Accounts' },
  tactic: { id: 'TA0001', name: 'Initial Access' },
  defaults: { windowMs: 30 * MINUTE, minFailuresUser: 5, minFailuresSource: 10 },
  queries: (window, p, ctx) => {
    const per = (field: string, min: number) => ({
      terms: { field, size: TERMS_SIZE, min_doc_count: min },
      aggs: {
        failures: { filter: { term: { 'event.action': LOGIN_FAIL } }, aggs: { first: { min: { field: '@timestamp' } }, last: { max: { field: '@timestamp' } } } },
        successes: { filter: { terms: { 'event.action': LOGIN_SUCCESS } }, aggs: { last: { max: { field: '@timestamp' } }, who: { terms: { field: 'user.name', size: 5 } } } },
        other: { terms: { field: field === 'user.name' ? 'source.ip' : 'user.name', size: 10 } },
      },
    });
    return [{
      index: ctx.eventsIndex,
      body: searchBody([range(window), actions(LOGIN_ACTIONS)], {
        users: per('user.name', p.minFailuresUser + 1),
        sources: per('source.ip', p.minFailuresSource + 1),
      }),
    }];
  },
  evaluate: ([response], _window, p) => {
    const findings: Finding[] = [];
    for (const [path, entityType, min] of [['users', 'user', p.minFailuresUser], ['sources', 'source', p.minFailuresSource]] as const) {
      for (const b of buckets(response, path)) {
        const failures = docCount(b, 'failures');
        const successes = docCount(b, 'successes');
        const firstFailure = value(b, 'failures.first');
        const lastSuccess = value(b, 'successes.last');
        if (failures < min || successes === 0 || lastSuccess <= firstFailure) continue;
        const related = keys(b, 'other');
        findings.push({
          entityType,
          entity: String(b.key),
          summary: `${entityType === 'user' ? `"${b.key}"` : b.key} logged in after ${failures} failed attempts`,
          count: failures,
          firstSeen: new Date(firstFailure).toISOString(),
          lastSeen: new Date(lastSuccess).toISOString(),
          ...(entityType === 'user' ? { sources: related } : { users: keys(b, 'successes.who') }),
          details: { successes },
        });
      }
    }
    return findings;
  },
};

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
