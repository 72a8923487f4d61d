/**
 * The rules as pure functions (docs/architecture.md): `evaluate` on hand-written aggregation responses, at the edges of
 * every threshold; the alert id and document built from a finding; and the queries themselves, which must stay
 * within the core aggregations the minimal Elasticsearch distribution has (no scripts, no pipeline selectors).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertId, buildAlert } from '../../src/anomaly/alerts.js';
import { RULES } from '../../src/anomaly/rules/index.js';
import { bruteForceAccount, bruteForceSource, credentialStuffingDistributed, credentialStuffingSource, passwordSpraying, successAfterFailures } from '../../src/anomaly/rules/authentication.js';
import { authorizationFailureBurst, failureVolumeSpike, newSourceForUser, refreshTokenReuse, tokenTampering } from '../../src/anomaly/rules/sessions.js';
import { SEVERITY_SCORE, type Finding, type Rule, type Window } from '../../src/anomaly/rules/types.js';
import { ALERT_PROPERTIES, BASE_PROPERTIES } from '../../src/elastic/templates.js';
import { ECS_VERSION } from '../../src/events/security-event.js';

const MINUTE = 60_000;
const DAY = 86_400_000;
const END = Date.UTC(2026, 10, 20, 11, 55);
const windowOf = (rule: Pick<Rule, 'defaults'>, end = END): Window => ({ start: new Date(end - rule.defaults.windowMs), end: new Date(end) });
const FIRST = '2026-11-20T11:41:00.000Z';
const LAST = '2026-11-20T11:52:30.000Z';

/** A metric aggregation result. */
const metric = (v: number): { value: number } => ({ value: v });
/** The first/last seen evidence every entity bucket carries. */
const seen = (first = FIRST, last = LAST): Record<string, unknown> => ({ first_seen: metric(Date.parse(first)), last_seen: metric(Date.parse(last)) });
/** A terms aggregation result. */
const terms = (...rows: Array<[string, number]>): { buckets: Array<{ key: string; doc_count: number }> } => ({ buckets: rows.map(([key, doc_count]) => ({ key, doc_count })) });
const response = (aggregations: Record<string, unknown>): unknown => ({ took: 3, timed_out: false, hits: { hits: [] }, aggregations });

/** Evaluates `rule` with its defaults (or overrides) on `responses`. */
function evaluate<P extends { windowMs: number }>(rule: Rule<P>, responses: unknown[], params: Partial<P> = {}): Finding[] {
  return rule.evaluate(responses, windowOf(rule), { ...rule.defaults, ...params });
}

describe('brute_force_account.evaluate', () => {
  const bucket = (key: string, count: number) => ({ key, doc_count: count, sources: metric(2), top_sources: terms(['198.51.100.23', count - 1], ['198.51.100.24', 1]), ...seen() });

  it('reports an account at exactly minFailures (10), with its sources and first/last seen', () => {
    const findings = evaluate(bruteForceAccount, [response({ users: { buckets: [bucket('victim', 10)] } })]);
    assert.equal(findings.length, 1);
    assert.deepEqual({ ...findings[0], summary: undefined }, {
      entityType: 'user', entity: 'victim', summary: undefined, count: 10, distinctSources: 2,
      sources: ['198.51.100.23', '198.51.100.24'], firstSeen: FIRST, lastSeen: LAST,
    });
    assert.match(findings[0]!.summary, /\b10\b.*"victim"/);
  });

  it('ignores 9 failures even when Elasticsearch returns the bucket', () => {
    assert.deepEqual(evaluate(bruteForceAccount, [response({ users: { buckets: [bucket('typist', 9)] } })]), []);
  });

  it('follows an overridden threshold', () => {
    assert.equal(evaluate(bruteForceAccount, [response({ users: { buckets: [bucket('typist', 5)] } })], { minFailures: 5 }).length, 1);
  });

  it('returns nothing for an empty or aggregation-less response (no index yet)', () => {
    assert.deepEqual(evaluate(bruteForceAccount, [response({ users: { buckets: [] } })]), []);
    assert.deepEqual(evaluate(bruteForceAccount, [{ hits: { hits: [] } }]), []);
    assert.deepEqual(evaluate(bruteForceAccount, [undefined]), []);
  });
});

describe('brute_force_source.evaluate', () => {
  const bucket = (failures: number, users: number) => ({ key: '198.51.100.77', doc_count: failures, users: metric(users), top_users: terms(['admin', failures - 1], ['root', 1]), ...seen() });

  it('reports 20 failures against 3 accounts (both bounds inclusive)', () => {
    const [finding, ...rest] = evaluate(bruteForceSource, [response({ sources: { buckets: [bucket(20, 3)] } })]);
    assert.deepEqual(rest, []);
    assert.equal(finding?.entityType, 'source');
    assert.equal(finding?.entity, '198.51.100.77');
    assert.equal(finding?.count, 20);
    assert.equal(finding?.distinctUsers, 3);
    assert.deepEqual(finding?.users, ['admin', 'root']);
  });

  it('ignores 19 failures, and 20 failures spread over 4 accounts (spraying or stuffing, not brute force)', () => {
    assert.deepEqual(evaluate(bruteForceSource, [response({ sources: { buckets: [bucket(19, 1)] } })]), []);
    assert.deepEqual(evaluate(bruteForceSource, [response({ sources: { buckets: [bucket(20, 4)] } })]), []);
  });
});

/** A per-source login bucket as perSourceLogins asks for it. */
function loginSource(o: { attempts: number; failures: number; users: number; maxPerUser: number; key?: string }): Record<string, unknown> {
  return {
    key: o.key ?? '192.0.2.45', doc_count: o.attempts, users: metric(o.users), failures: { doc_count: o.failures },
    per_user: terms(['emp00', o.maxPerUser]), top_users: terms(['emp00', o.maxPerUser], ['emp01', 1]), ...seen(),
  };
}
const sources = (...buckets: Array<Record<string, unknown>>): unknown => response({ sources: { buckets } });

describe('password_spraying.evaluate', () => {
  // The smallest spray the defaults report: 8 accounts, 16 failures (2 each), all failing.
  const edge = { attempts: 16, failures: 16, users: 8, maxPerUser: 2 };

  it('reports 8 accounts x 2 failures at 100%, with the per-account maximum as evidence', () => {
    const [finding] = evaluate(passwordSpraying, [sources(loginSource(edge))]);
    assert.equal(finding?.entity, '192.0.2.45');
    assert.equal(finding?.count, 16);
    assert.equal(finding?.distinctUsers, 8);
    assert.equal(finding?.failureRatio, 1);
    assert.deepEqual(finding?.details, { max_attempts_per_user: 2 });
  });

  it('needs 8 accounts', () => assert.deepEqual(evaluate(passwordSpraying, [sources(loginSource({ ...edge, users: 7 }))]), []));
  it('needs 15 failures', () => assert.deepEqual(evaluate(passwordSpraying, [sources(loginSource({ ...edge, failures: 14 }))]), []));

  it('needs a failure ratio of 0.8: 16 of 20 passes, 15 of 20 does not', () => {
    assert.equal(evaluate(passwordSpraying, [sources(loginSource({ attempts: 20, failures: 16, users: 8, maxPerUser: 3 }))]).length, 1);
    assert.deepEqual(evaluate(passwordSpraying, [sources(loginSource({ attempts: 20, failures: 15, users: 8, maxPerUser: 3 }))]), []);
  });

  it('needs about 2 attempts per account: one attempt each is stuffing', () => {
    assert.deepEqual(evaluate(passwordSpraying, [sources(loginSource({ attempts: 30, failures: 30, users: 30, maxPerUser: 1 }))]), []);
    assert.deepEqual(evaluate(passwordSpraying, [sources(loginSource({ attempts: 19, failures: 19, users: 10, maxPerUser: 2 }))]), []);
  });

  it('allows at most 8 attempts on one account: more is brute force', () => {
    assert.equal(evaluate(passwordSpraying, [sources(loginSource({ ...edge, attempts: 22, failures: 22, maxPerUser: 8 }))]).length, 1);
    assert.deepEqual(evaluate(passwordSpraying, [sources(loginSource({ ...edge, attempts: 23, failures: 23, maxPerUser: 9 }))]), []);
  });

  it('judges every source on its own', () => {
    const findings = evaluate(passwordSpraying, [sources(loginSource({ ...edge, key: '192.0.2.1' }), loginSource({ ...edge, key: '192.0.2.2', users: 3 }), loginSource({ ...edge, key: '192.0.2.3' }))]);
    assert.deepEqual(findings.map((f) => f.entity), ['192.0.2.1', '192.0.2.3']);
  });
});

describe('credential_stuffing_source.evaluate', () => {
  const edge = { attempts: 20, failures: 14, users: 15, maxPerUser: 2, key: '192.0.2.99' };

  it('reports 15 accounts, 20 attempts, at most 2 per account, 70% failing', () => {
    const [finding] = evaluate(credentialStuffingSource, [sources(loginSource(edge))]);
    assert.equal(finding?.entity, '192.0.2.99');
    assert.equal(finding?.count, 20);
    assert.equal(finding?.distinctUsers, 15);
    assert.equal(finding?.failureRatio, 0.7);
    assert.deepEqual(finding?.details, { successes: 6 });
  });

  it('needs 15 accounts', () => assert.deepEqual(evaluate(credentialStuffingSource, [sources(loginSource({ ...edge, users: 14 }))]), []));
  it('needs 20 attempts', () => assert.deepEqual(evaluate(credentialStuffingSource, [sources(loginSource({ ...edge, attempts: 19, failures: 14 }))]), []));
  it('allows at most 2 attempts per account', () => assert.deepEqual(evaluate(credentialStuffingSource, [sources(loginSource({ ...edge, maxPerUser: 3 }))]), []));
  it('needs 70% failing: an office NAT succeeds', () => {
    assert.deepEqual(evaluate(credentialStuffingSource, [sources(loginSource({ ...edge, failures: 13 }))]), []);
    assert.deepEqual(evaluate(credentialStuffingSource, [sources(loginSource({ attempts: 43, failures: 3, users: 40, maxPerUser: 2 }))]), []);
  });
});

describe('credential_stuffing_distributed.evaluate', () => {
  /** One source bucket: `attempts` logins of which `failures` failed, against `users` accounts. */
  const source = (i: number, attempts: number, failures: number, users = failures) => ({
    key: `198.18.0.${i}`, doc_count: attempts, failures: { doc_count: failures, users: metric(users) }, ...seen(),
  });
  /** 10 quiet sources, 4 attempts and 4 failures each, 2 accounts each: 40 failures, 20 accounts. */
  const campaign = (n = 10, attempts = 4, failures = 4, users = 2) => Array.from({ length: n }, (_, i) => source(i + 1, attempts, failures, users));
  const service = (buckets: unknown[]): unknown => response({ sources: { buckets }, failed_users: { doc_count: 40, top: terms(['combo001', 1], ['combo002', 1]) } });

  it('reports 40 failures from 10 quiet, failing sources against 20 accounts', () => {
    const [finding, ...rest] = evaluate(credentialStuffingDistributed, [service(campaign())]);
    assert.deepEqual(rest, []);
    assert.equal(finding?.entityType, 'service');
    assert.equal(finding?.entity, 'login');
    assert.equal(finding?.count, 40);
    assert.equal(finding?.distinctSources, 10);
    assert.equal(finding?.distinctUsers, 20);
    assert.equal(finding?.failureRatio, 1);
    assert.deepEqual(finding?.users, ['combo001', 'combo002']);
    assert.equal(finding?.sources?.length, 10);
    assert.equal(finding?.firstSeen, FIRST);
  });

  it('is not diluted by a busy hour of ordinary logins from other sources', () => {
    const normal = Array.from({ length: 120 }, (_, i) => source(100 + i, 2, i % 20 === 0 ? 1 : 0, 1));
    assert.equal(evaluate(credentialStuffingDistributed, [service([...normal, ...campaign()])]).length, 1);
  });

  it('sets a loud source aside instead of letting it hide the campaign', () => {
    const [finding] = evaluate(credentialStuffingDistributed, [service([source(99, 11, 11, 1), ...campaign()])]);
    assert.equal(finding?.distinctSources, 10);
    assert.ok(!finding?.sources?.includes('198.18.0.99'));
  });

  for (const [name, buckets] of [
    ['9 sources', campaign(9, 5, 5, 3)],
    ['19 accounts', [...campaign(9, 4, 4, 2), source(10, 4, 4, 1)]],
    ['39 failures', [...campaign(9, 4, 4, 2), source(10, 3, 3, 2)]],
    ['sources that mostly succeed (an office at login time)', campaign(10, 6, 4, 2)],
  ] as const) {
    it(`is quiet with ${name}`, () => assert.deepEqual(evaluate(credentialStuffingDistributed, [service([...buckets])]), []));
  }

  it('is quiet with no login at all', () => {
    assert.deepEqual(evaluate(credentialStuffingDistributed, [response({ sources: { buckets: [] }, failed_users: { doc_count: 0 } })]), []);
  });
});

describe('success_after_failures.evaluate', () => {
  const t0 = Date.parse(FIRST);
  const entity = (key: string, failures: number, successAt: number | undefined, who: string[] = [key]) => ({
    key, doc_count: failures + (successAt === undefined ? 0 : 1),
    failures: { doc_count: failures, first: metric(t0), last: metric(t0 + 4 * MINUTE) },
    successes: { doc_count: successAt === undefined ? 0 : 1, last: successAt === undefined ? { value: null } : metric(successAt), who: terms(...who.map((w): [string, number] => [w, 1])) },
    other: terms(['198.51.100.140', failures]),
  });
  const both = (users: unknown[], srcs: unknown[] = []): unknown => response({ users: { buckets: users }, sources: { buckets: srcs } });

  it('reports an account with 5 failures and a later success', () => {
    const [finding, ...rest] = evaluate(successAfterFailures, [both([entity('mwilson', 5, t0 + 5 * MINUTE)])]);
    assert.deepEqual(rest, []);
    assert.deepEqual({ ...finding, summary: undefined }, {
      entityType: 'user', entity: 'mwilson', summary: undefined, count: 5, firstSeen: FIRST, lastSeen: new Date(t0 + 5 * MINUTE).toISOString(),
      sources: ['198.51.100.140'], details: { successes: 1 },
    });
  });

  it('ignores 4 failures, failures without a success, and a success before the first failure', () => {
    assert.deepEqual(evaluate(successAfterFailures, [both([entity('typist', 4, t0 + 5 * MINUTE)])]), []);
    assert.deepEqual(evaluate(successAfterFailures, [both([entity('forgetful', 9, undefined)])]), []);
    assert.deepEqual(evaluate(successAfterFailures, [both([entity('early', 9, t0 - MINUTE)])]), []);
    assert.deepEqual(evaluate(successAfterFailures, [both([entity('same', 9, t0)])]), []);
  });

  it('reports a source with 10 failures and a success, naming the accounts that got in; 9 is not enough', () => {
    const [finding] = evaluate(successAfterFailures, [both([], [entity('192.0.2.99', 10, t0 + MINUTE, ['pair5', 'pair15'])])]);
    assert.equal(finding?.entityType, 'source');
    assert.equal(finding?.entity, '192.0.2.99');
    assert.deepEqual(finding?.users, ['pair5', 'pair15']);
    assert.equal(finding?.sources, undefined);
    assert.deepEqual(evaluate(successAfterFailures, [both([], [entity('192.0.2.98', 9, t0 + MINUTE)])]), []);
  });
});

describe('token_tampering.evaluate', () => {
  const bucket = (count: number) => ({ key: '198.51.100.200', doc_count: count, reasons: terms(['bad_signature', count - 1], ['algorithm', 1]), top_users: terms(), ...seen() });

  it('reports 3 tampered tokens from one source with the reasons', () => {
    const [finding] = evaluate(tokenTampering, [response({ sources: { buckets: [bucket(3)] } })]);
    assert.equal(finding?.entity, '198.51.100.200');
    assert.equal(finding?.entityType, 'source');
    assert.equal(finding?.count, 3);
    assert.deepEqual(finding?.details, { reasons: ['bad_signature', 'algorithm'] });
    assert.deepEqual(finding?.users, []);
  });

  it('ignores 2', () => assert.deepEqual(evaluate(tokenTampering, [response({ sources: { buckets: [bucket(2)] } })]), []));

  it('asks only for reasons that mean a crafted token, never the everyday ones', () => {
    const body = JSON.stringify(tokenTampering.queries(windowOf(tokenTampering), tokenTampering.defaults, { eventsIndex: 'p-events-*' }));
    for (const reason of ['bad_signature', 'algorithm', 'forbidden_header', 'unknown_kid']) assert.ok(body.includes(`"${reason}"`), reason);
    for (const reason of ['expired', 'missing', 'revoked', 'not_before', 'user_disabled', 'reuse']) assert.ok(!body.includes(`"${reason}"`), reason);
  });
});

describe('refresh_token_reuse.evaluate', () => {
  const hit = (source: Record<string, unknown>) => ({ _index: 'p-events-2026.11.20', _id: 'x', _source: source });
  const reuse = (id: string, extra: Record<string, unknown> = {}) => ({
    '@timestamp': '2026-11-20T11:46:00.000Z', event: { id }, user: { name: 'alice' }, source: { ip: '198.51.100.66' }, sentinel: { session_id: 's-1' }, ...extra,
  });

  it('makes one finding per event, keyed by the event id, even for the same session', () => {
    const findings = evaluate(refreshTokenReuse, [{ hits: { hits: [hit(reuse('e1')), hit(reuse('e2', { '@timestamp': '2026-11-20T11:48:00.000Z' }))] } }]);
    assert.deepEqual(findings.map((f) => [f.eventId, f.entity, f.entityType, f.count, f.firstSeen]), [
      ['e1', 's-1', 'session', 1, '2026-11-20T11:46:00.000Z'],
      ['e2', 's-1', 'session', 1, '2026-11-20T11:48:00.000Z'],
    ]);
    assert.deepEqual(findings[0]!.users, ['alice']);
    assert.deepEqual(findings[0]!.sources, ['198.51.100.66']);
  });

  it('falls back to the event id without a session, to "unknown" without a user, and skips hits without an id', () => {
    const findings = evaluate(refreshTokenReuse, [{ hits: { hits: [hit({ '@timestamp': '2026-11-20T11:46:00.000Z', event: { id: 'e3' } }), hit({ '@timestamp': '2026-11-20T11:47:00.000Z', event: {} }), { _id: 'y' }] } }]);
    assert.equal(findings.length, 1);
    assert.equal(findings[0]!.entity, 'e3');
    assert.deepEqual(findings[0]!.users, ['unknown']);
    assert.deepEqual(findings[0]!.sources, []);
  });

  it('returns nothing for no hits', () => assert.deepEqual(evaluate(refreshTokenReuse, [{ hits: { hits: [] } }]), []));
});

describe('authorization_failure_burst.evaluate', () => {
  const bucket = (key: string, count: number) => ({ key, doc_count: count, paths: terms(['/admin/users', count]), top: terms(['x', count]), ...seen() });
  const burst = (users: unknown[], srcs: unknown[]): unknown => response({ users: { buckets: users }, sources: { buckets: srcs } });

  it('reports a user at 10 refusals and a source at 20; 9 and 19 are quiet', () => {
    const findings = evaluate(authorizationFailureBurst, [burst([bucket('intern7', 10), bucket('curious', 9)], [bucket('198.51.100.210', 20), bucket('198.51.100.211', 19)])]);
    assert.deepEqual(findings.map((f) => [f.entityType, f.entity, f.count]), [['user', 'intern7', 10], ['source', '198.51.100.210', 20]]);
    assert.deepEqual(findings[0]!.details, { paths: ['/admin/users'] });
    assert.deepEqual(findings[0]!.sources, ['x']);
    assert.deepEqual(findings[1]!.users, ['x']);
  });
});

describe('new_source_for_user.evaluate', () => {
  const user = (key: string, ips: string[]) => ({ key, doc_count: 1, ips: terms(...ips.map((ip): [string, number] => [ip, 1])), ...seen() });
  const users = (...buckets: unknown[]): unknown => response({ users: { buckets } });
  const baseline = users(user('alice.k', ['100.64.20.1', '100.64.20.2']));

  it('reports a known user from a new address, naming only the new one', () => {
    const [finding, ...rest] = evaluate(newSourceForUser, [users(user('alice.k', ['100.64.20.1', '198.51.100.150'])), baseline]);
    assert.deepEqual(rest, []);
    assert.equal(finding?.entity, 'alice.k');
    assert.deepEqual(finding?.sources, ['198.51.100.150']);
    assert.deepEqual(finding?.details, { new_sources: ['198.51.100.150'] });
  });

  it('is quiet for a known address, and for a user with no history at all', () => {
    assert.deepEqual(evaluate(newSourceForUser, [users(user('alice.k', ['100.64.20.1']), user('newbie', ['100.64.20.99'])), baseline]), []);
  });

  it('does not compare user agents (a browser update is not a new source; new_device_for_user judges devices)', () => {
    const w = windowOf(newSourceForUser);
    for (const spec of newSourceForUser.queries(w, newSourceForUser.defaults, { eventsIndex: 'p-events-*' })) assert.doesNotMatch(JSON.stringify(spec.body), /user_agent/);
  });

  it('reads its baseline from the previous baselineDays, up to the window start', () => {
    const w = windowOf(newSourceForUser);
    const [current, base] = newSourceForUser.queries(w, newSourceForUser.defaults, { eventsIndex: 'p-events-*' });
    const rangeOf = (spec: typeof current) => JSON.stringify(spec!.body).match(/"gte":"([^"]+)","lt":"([^"]+)"/)!.slice(1);
    assert.deepEqual(rangeOf(current), [w.start.toISOString(), w.end.toISOString()]);
    assert.deepEqual(rangeOf(base), [new Date(w.start.getTime() - 14 * DAY).toISOString(), w.start.toISOString()]);
  });
});

describe('failure_volume_spike.evaluate', () => {
  const periods = (current: number, perDay: number[]): unknown => response({
    periods: { buckets: { current: { doc_count: current, sources: metric(20), users: metric(50) }, ...Object.fromEntries(perDay.map((n, i) => [`day_${i + 1}`, { doc_count: n, sources: metric(1), users: metric(1) }])) } },
  });

  it('reports 50 failures against an average of 16 (factor 3 needs 48)', () => {
    const [finding] = evaluate(failureVolumeSpike, [periods(50, [16, 16, 16, 16, 16, 16, 16])]);
    assert.equal(finding?.entity, 'login');
    assert.equal(finding?.entityType, 'service');
    assert.equal(finding?.count, 50);
    assert.equal(finding?.distinctSources, 20);
    assert.equal(finding?.distinctUsers, 50);
    assert.deepEqual(finding?.details, { baseline_average: 16, factor: 3.1 });
  });

  it('needs 50 failures even with no history, and 3 times the average', () => {
    assert.deepEqual(evaluate(failureVolumeSpike, [periods(49, [0, 0, 0, 0, 0, 0, 0])]), []);
    assert.deepEqual(evaluate(failureVolumeSpike, [periods(50, [17, 17, 17, 17, 17, 17, 17])]), []);
    // The baseline is a mean: one bad day in the week (200) lifts the bar from 30 to 111.
    assert.deepEqual(evaluate(failureVolumeSpike, [periods(100, [200, 10, 10, 10, 10, 10, 10])]), []);
  });

  it('reports a spike with no history at all, with no factor', () => {
    const [finding] = evaluate(failureVolumeSpike, [periods(60, [])]);
    assert.deepEqual(finding?.details, { baseline_average: 0, factor: null });
  });

  it('compares the same window on each of the 7 previous days', () => {
    const w = windowOf(failureVolumeSpike);
    const [spec] = failureVolumeSpike.queries(w, failureVolumeSpike.defaults, { eventsIndex: 'p-events-*' });
    const filters = ((spec!.body.aggs as Record<string, { filters: { filters: Record<string, { range: Record<string, { gte: string; lt: string }> }> } }>).periods!.filters.filters);
    assert.deepEqual(Object.keys(filters), ['current', 'day_1', 'day_2', 'day_3', 'day_4', 'day_5', 'day_6', 'day_7']);
    for (let d = 1; d <= 7; d += 1) {
      assert.deepEqual(filters[`day_${d}`]!.range['@timestamp'], {
        gte: new Date(w.start.getTime() - d * DAY).toISOString(), lt: new Date(w.end.getTime() - d * DAY).toISOString(), format: 'strict_date_optional_time',
      });
    }
  });
});

describe('alertId', () => {
  const rule = { id: 'brute_force_account' };
  const finding: Finding = { entityType: 'user', entity: 'victim', summary: 's', count: 12 };
  const w = windowOf(bruteForceAccount);

  it('is 32 hex characters, the same for the same rule, entity and window end', () => {
    const id = alertId(rule, finding, w);
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(alertId(rule, { ...finding, count: 99, summary: 'other' }, { start: new Date(0), end: w.end }), id, 'count, summary and window start do not matter');
  });

  it('differs by rule, entity, entity type and window end', () => {
    const id = alertId(rule, finding, w);
    const others = [
      alertId({ id: 'brute_force_source' }, finding, w),
      alertId(rule, { ...finding, entity: 'victim2' }, w),
      alertId(rule, { ...finding, entityType: 'source' }, w),
      alertId(rule, finding, { start: w.start, end: new Date(w.end.getTime() + 5 * MINUTE) }),
    ];
    assert.equal(new Set([id, ...others]).size, 5);
  });

  it('for one-event findings, is fixed by the event: every window that sees it gives the same id', () => {
    const reuse: Finding = { entityType: 'session', entity: 's-1', summary: 's', count: 1, eventId: 'e1' };
    const a = alertId({ id: 'refresh_token_reuse' }, reuse, w);
    assert.equal(alertId({ id: 'refresh_token_reuse' }, reuse, { start: new Date(w.start.getTime() + 5 * MINUTE), end: new Date(w.end.getTime() + 5 * MINUTE) }), a);
    assert.notEqual(alertId({ id: 'refresh_token_reuse' }, { ...reuse, eventId: 'e2' }, w), a);
  });
});

describe('buildAlert', () => {
  const now = new Date(Date.UTC(2026, 10, 20, 12, 0, 30));

  it('writes an ECS alert with the rule, the ATT&CK technique, the severity and the evidence', () => {
    const w = windowOf(bruteForceAccount);
    const finding: Finding = {
      entityType: 'user', entity: 'victim', summary: '12 failed logins for "victim"', count: 12, firstSeen: FIRST, lastSeen: LAST,
      distinctSources: 2, sources: ['198.51.100.23', '198.51.100.24'],
    };
    const alert = buildAlert(bruteForceAccount as unknown as Rule, finding, w, now);
    assert.deepEqual(alert, {
      '@timestamp': w.end.toISOString(),
      ecs: { version: ECS_VERSION },
      message: `Brute force against one account: ${finding.summary}`,
      event: {
        id: alertId(bruteForceAccount, finding, w), kind: 'alert', dataset: 'sentinel.alert', action: 'brute_force_account',
        category: ['authentication', 'intrusion_detection'], type: ['info'], severity: 73, risk_score: 73,
        created: now.toISOString(), start: FIRST, end: LAST,
      },
      rule: { id: 'brute_force_account', name: bruteForceAccount.name, description: bruteForceAccount.description, category: 'authentication', ruleset: 'koa-sentinel' },
      threat: {
        framework: 'MITRE ATT&CK',
        technique: {
          id: 'T1110', name: 'Brute Force', reference: 'https://attack.mitre.org/techniques/T1110/',
          subtechnique: { id: 'T1110.001', name: 'Password Guessing', reference: 'https://attack.mitre.org/techniques/T1110/001/' },
        },
        tactic: { id: 'TA0006', name: 'Credential Access', reference: 'https://attack.mitre.org/tactics/TA0006/' },
      },
      log: { level: 'error' },
      user: { name: 'victim' },
      related: { user: ['victim'], ip: ['198.51.100.23', '198.51.100.24'] },
      sentinel: {
        alert: {
          entity: 'victim', entity_type: 'user', window_start: w.start.toISOString(), window_end: w.end.toISOString(), count: 12, notified: false,
          first_seen: FIRST, last_seen: LAST, distinct_sources: 2, sources: ['198.51.100.23', '198.51.100.24'], severity: 'high',
        },
      },
    });
  });

  it('sets source.ip for a source, neither user nor source for a session or the service, and leaves out what is unknown', () => {
    const w = windowOf(tokenTampering);
    const bySource = buildAlert(tokenTampering as unknown as Rule, { entityType: 'source', entity: '198.51.100.200', summary: 's', count: 5 }, w, now);
    assert.deepEqual(bySource.source, { ip: '198.51.100.200' });
    assert.deepEqual(bySource.related, { ip: ['198.51.100.200'] });
    assert.equal(bySource.user, undefined);
    assert.equal(bySource.event.start, undefined);
    assert.equal(bySource.event.end, undefined);
    assert.deepEqual(Object.keys(bySource.sentinel.alert).sort(), ['count', 'entity', 'entity_type', 'notified', 'severity', 'window_end', 'window_start']);
    for (const entityType of ['session', 'service'] as const) {
      const alert = buildAlert(refreshTokenReuse as unknown as Rule, { entityType, entity: 'x', summary: 's', count: 1, users: [], sources: [] }, w, now);
      assert.equal(alert.user, undefined);
      assert.equal(alert.source, undefined);
      assert.equal(alert.sentinel.alert.users, undefined, 'empty lists are left out');
      assert.equal(alert.related, undefined);
    }
  });

  it('never dates an alert after now: a window judged while still open ends in the future', () => {
    const end = now.getTime() + 3 * MINUTE;
    const open = { start: new Date(end - 15 * MINUTE), end: new Date(end) };
    const alert = buildAlert(bruteForceAccount as unknown as Rule, { entityType: 'user', entity: 'v', summary: 's', count: 10 }, open, now);
    assert.equal(alert['@timestamp'], now.toISOString());
    assert.equal(alert.sentinel.alert.window_end, open.end.toISOString(), 'the window itself is kept as judged');
    const closed = buildAlert(bruteForceAccount as unknown as Rule, { entityType: 'user', entity: 'v', summary: 's', count: 10 }, windowOf(bruteForceAccount), now);
    assert.equal(closed['@timestamp'], new Date(END).toISOString(), 'a closed window keeps its end');
  });

  it('names the evidence in related.user and related.ip, each value once, addresses only if they are IPs', () => {
    const alert = buildAlert(passwordSpraying as unknown as Rule, {
      entityType: 'source', entity: '203.0.113.5', summary: 's', count: 9, users: ['a', 'b', 'a'], sources: ['203.0.113.5', 'not-an-ip', '2001:db8::1'],
    }, windowOf(passwordSpraying), now);
    assert.deepEqual(alert.related, { user: ['a', 'b'], ip: ['203.0.113.5', '2001:db8::1'] });
  });

  it('categorises each rule by the family of events it judges, with ECS-allowed types and ATT&CK references', () => {
    const families: Record<string, string> = { brute_force_account: 'authentication', refresh_token_reuse: 'session', token_tampering: 'session', authorization_failure_burst: 'iam', new_source_for_user: 'authentication' };
    const w = windowOf(bruteForceAccount);
    for (const rule of RULES) {
      const alert = buildAlert(rule, { entityType: 'service', entity: 'login', summary: 's', count: 1 }, w, now);
      if (families[rule.id]) assert.equal(alert.rule.category, families[rule.id], rule.id);
      assert.deepEqual(alert.event.category, [alert.rule.category, 'intrusion_detection'], rule.id);
      assert.deepEqual(alert.event.type, ['info'], rule.id);
      assert.equal(alert.threat.technique.reference, `https://attack.mitre.org/techniques/${rule.technique.id}/`, rule.id);
      assert.equal(alert.threat.tactic.reference, `https://attack.mitre.org/tactics/${rule.tactic.id}/`, rule.id);
      const sub = rule.technique.subtechnique;
      assert.equal(alert.threat.technique.subtechnique?.reference, sub ? `https://attack.mitre.org/techniques/${sub.id.replace('.', '/')}/` : undefined, rule.id);
    }
  });

  it('maps every severity to its score and log level', () => {
    const w = windowOf(bruteForceAccount);
    for (const rule of RULES) {
      const alert = buildAlert(rule, { entityType: 'service', entity: 'login', summary: 's', count: 1 }, w, now);
      assert.equal(alert.event.severity, SEVERITY_SCORE[rule.severity], rule.id);
      assert.equal(alert.event.risk_score, SEVERITY_SCORE[rule.severity], rule.id);
      assert.equal(alert.log.level, rule.severity === 'high' || rule.severity === 'critical' ? 'error' : 'warn', rule.id);
      assert.equal(alert.threat.technique.id, rule.technique.id);
    }
  });

  it('fits the strict alerts mapping: every field outside sentinel.* is mapped', () => {
    const mapping = { ...BASE_PROPERTIES, ...ALERT_PROPERTIES } as Record<string, unknown>;
    const w = windowOf(bruteForceAccount);
    const alert = buildAlert(bruteForceAccount as unknown as Rule, { entityType: 'user', entity: 'v', summary: 's', count: 1, firstSeen: FIRST, lastSeen: LAST }, w, now);
    const unmapped: string[] = [];
    const walk = (doc: Record<string, unknown>, props: Record<string, unknown>, path: string): void => {
      for (const [key, v] of Object.entries(doc)) {
        const prop = props[key] as { properties?: Record<string, unknown> } | undefined;
        if (!prop) unmapped.push(`${path}${key}`);
        else if (v && typeof v === 'object' && !Array.isArray(v) && key !== 'sentinel') walk(v as Record<string, unknown>, prop.properties ?? {}, `${path}${key}.`);
      }
    };
    walk(alert as unknown as Record<string, unknown>, mapping, '');
    assert.deepEqual(unmapped, []);
  });
});

describe('the rule catalogue', () => {
  const ALLOWED = new Set(['terms', 'cardinality', 'filter', 'filters', 'min', 'max', 'value_count', 'top_hits', 'date_histogram']);
  const TECHNIQUES: Record<string, string> = {
    brute_force_account: 'T1110.001', brute_force_source: 'T1110.001', password_spraying: 'T1110.003', credential_stuffing_source: 'T1110.004',
    credential_stuffing_distributed: 'T1110.004', success_after_failures: 'T1078', token_tampering: 'T1550.001', refresh_token_reuse: 'T1539',
    authorization_failure_burst: 'T1078', new_source_for_user: 'T1078', failure_volume_spike: 'T1110',
    new_country_for_user: 'T1078', impossible_travel: 'T1078', new_device_for_user: 'T1078', session_country_change: 'T1550.004',
  };

  /** Every aggregation type in an `aggs` tree, with its path. */
  function aggregationTypes(aggs: unknown, path = ''): Array<[string, string]> {
    if (!aggs || typeof aggs !== 'object') return [];
    return Object.entries(aggs as Record<string, Record<string, unknown>>).flatMap(([name, def]) => {
      const types = Object.keys(def).filter((key) => key !== 'aggs' && key !== 'aggregations' && key !== 'meta');
      assert.equal(types.length, 1, `${path}${name} must have exactly one aggregation type, has ${types.join(', ')}`);
      return [[`${path}${name}`, types[0]!] as [string, string], ...aggregationTypes(def.aggs ?? def.aggregations, `${path}${name}.`)];
    });
  }

  function keysDeep(value: unknown): string[] {
    if (Array.isArray(value)) return value.flatMap(keysDeep);
    if (!value || typeof value !== 'object') return [];
    return Object.entries(value).flatMap(([k, v]) => [k, ...keysDeep(v)]);
  }

  it('has fifteen rules with unique ids, the expected ATT&CK techniques, and valid defaults', () => {
    assert.deepEqual(RULES.map((r) => r.id).sort(), Object.keys(TECHNIQUES).sort());
    for (const rule of RULES) {
      // The most precise id is listed; ECS wants the parent in technique.id and the child in technique.subtechnique.
      assert.equal(rule.technique.subtechnique?.id ?? rule.technique.id, TECHNIQUES[rule.id], rule.id);
      assert.match(rule.technique.id, /^T\d{4}$/, rule.id);
      if (rule.technique.subtechnique) assert.match(rule.technique.subtechnique.id, new RegExp(`^${rule.technique.id}\\.\\d{3}$`), rule.id);
      assert.match(rule.tactic.id, /^TA\d{4}$/, rule.id);
      assert.ok(rule.defaults.windowMs >= 5 * MINUTE, `${rule.id} windowMs`);
      for (const [key, v] of Object.entries(rule.defaults)) assert.ok(Number.isFinite(v) && v >= 0, `${rule.id}.${key}`);
      assert.ok(SEVERITY_SCORE[rule.severity], rule.id);
    }
  });

  for (const rule of RULES) {
    it(`${rule.id}: queries use core aggregations only, no script, and are bounded by the window`, () => {
      const w = windowOf(rule);
      const specs = rule.queries(w, rule.defaults, { eventsIndex: 'p-events-*' });
      assert.ok(specs.length > 0);
      for (const spec of specs) {
        assert.equal(spec.index, 'p-events-*');
        const body = spec.body;
        for (const [path, type] of aggregationTypes(body.aggs ?? body.aggregations)) assert.ok(ALLOWED.has(type), `${rule.id}: ${path} is a ${type} aggregation`);
        const keys = keysDeep(body);
        assert.deepEqual(keys.filter((k) => /script|painless|runtime_mappings|bucket_selector|bucket_sort/i.test(k)), [], `${rule.id} uses a script or a pipeline`);
        assert.doesNotMatch(JSON.stringify(body), /painless|"script"/);
        // Every search is limited in time, and never looks past the window end.
        const ranges = JSON.stringify(body).match(/"@timestamp":\{"gte":"[^"]+","lt":"([^"]+)"/g) ?? [];
        assert.ok(ranges.length > 0, `${rule.id} has no @timestamp range`);
        for (const r of ranges) assert.ok(Date.parse(/"lt":"([^"]+)"/.exec(r)![1]!) <= w.end.getTime(), `${rule.id} looks past the window: ${r}`);
        if (body.aggs) assert.equal(body.size, 0, `${rule.id} aggregates and should not fetch hits`);
      }
    });
  }
});
