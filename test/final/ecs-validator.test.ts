/**
 * The canary of the final ECS schema test (ecs-schema.test.ts): known-bad documents, each with one kind of
 * problem, must each be reported, under both schemas; a valid document must pass. A validator that reports
 * nothing cannot pass here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildSecurityEvent } from '../../src/events/security-event.js';
import { ECS_SCHEMAS, validateEcsDocument, type SchemaProblem } from '../support/ecs-schema.js';

const VALID = {
  '@timestamp': '2026-03-01T10:00:00.000Z',
  ecs: { version: '8.11.0' },
  message: 'A user logged in.',
  log: { level: 'info', logger: 'svc' },
  event: { id: 'e1', kind: 'event', category: ['authentication'], type: ['start'], outcome: 'success', duration: 1200, risk_score: 47.5 },
  user: { name: 'alice', roles: ['user', 'admin'], target: { name: 'bob' } },
  source: { ip: '2001:db8::7', geo: { location: { lat: 48.1, lon: 11.6 }, country_iso_code: 'DE' }, as: { number: 64500 } },
  related: { user: ['alice', 'bob'], ip: ['2001:db8::7'] },
  http: { response: { status_code: 200 } },
  labels: { anything: 'goes' },
  sentinel: { not: { ecs: ['at all', 1] } },
};

/** VALID with `path` set to `value` (undefined deletes it). */
function withField(path: string, value: unknown): Record<string, unknown> {
  const doc = structuredClone(VALID) as Record<string, unknown>;
  const keys = path.split('.');
  let node = doc;
  for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  if (value === undefined) delete node[keys.at(-1)!];
  else node[keys.at(-1)!] = value;
  return doc;
}

/** The problems of `doc`, asserting each schema reports one on `field` matching `pattern`. */
function assertReported(doc: unknown, field: string, pattern: RegExp): SchemaProblem[] {
  const problems = validateEcsDocument(doc);
  for (const { version } of ECS_SCHEMAS) {
    assert.ok(
      problems.some((p) => p.schema === version && p.field === field && pattern.test(p.problem)),
      `ECS ${version} should report ${field} ${String(pattern)}; got ${JSON.stringify(problems)}`,
    );
  }
  return problems;
}

describe('the ECS schema validator', () => {
  it('checks against two releases, the one we declare and the current one', () => {
    assert.deepEqual(ECS_SCHEMAS.map((s) => s.version.split('.').slice(0, 2).join('.')), ['8.11', '9.4']);
    for (const schema of ECS_SCHEMAS) assert.ok(Object.keys(schema.fields).length > 1000, schema.version);
  });

  it('passes a valid document, and what the event builder writes', () => {
    assert.deepEqual(validateEcsDocument(VALID), []);
    const event = buildSecurityEvent('authz_admin', { reason: 'revoke_user_sessions', user: { name: 'root', id: 'u1', roles: ['admin'] }, target: { name: 'alice' }, source: { ip: '198.51.100.4' }, userAgent: 'ua/1', urlPath: '/x', http: { method: 'DELETE', statusCode: 200, requestId: 'r' } });
    assert.deepEqual(validateEcsDocument(event), []);
  });

  const CASES: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['an unknown field', withField('user.nickname', 'al'), 'user.nickname', /not an ECS field/],
    ['an unknown top-level field', withField('err', { message: 'x' }), 'err.message', /not an ECS field/],
    ['error.cause (not ECS)', withField('error', { message: 'x', cause: { message: 'y' } }), 'error.cause.message', /not an ECS field/],
    ['a string where ECS has a number', withField('http.response.status_code', '200'), 'http.response.status_code', /not a whole number/],
    ['a fraction where ECS has a long', withField('event.duration', 1.5), 'event.duration', /not a whole number/],
    ['a number where ECS has a keyword', withField('user.name', 42), 'user.name', /not a string/],
    ['a bad date', withField('@timestamp', 'yesterday'), '@timestamp', /not an ISO 8601 date/],
    ['epoch millis for a date', withField('@timestamp', 1_700_000_000_000), '@timestamp', /not an ISO 8601 date/],
    ['a bad IP', withField('source.ip', 'not-an-ip'), 'source.ip', /not an IP address/],
    ['a bad IP in a list', withField('related.ip', ['198.51.100.1', '300.1.1.1']), 'related.ip', /not an IP address/],
    ['a geo_point that is a string', withField('source.geo.location', '48.1,11.6'), 'source.geo.location', /lat, lon/],
    ['a geo_point out of range', withField('source.geo.location', { lat: 95, lon: 0 }), 'source.geo.location', /lat, lon/],
    ['a geo_point with more than lat and lon', withField('source.geo.location', { lat: 1, lon: 2, alt: 3 }), 'source.geo.location', /lat, lon/],
    ['an array where ECS wants one value', withField('source.as.number', [1, 2]), 'source.as.number', /array/],
    ['a disallowed event.kind', withField('event.kind', 'log'), 'event.kind', /not an allowed value/],
    ['a disallowed event.category', withField('event.category', ['login']), 'event.category', /not an allowed value/],
    ['a disallowed event.outcome', withField('event.outcome', 'denied'), 'event.outcome', /not an allowed value/],
    ['a type no category expects', withField('event.type', ['denied']), 'event.type', /expected by none of the categories authentication/],
    ['a type without a category', withField('event.category', undefined), 'event.type', /without an event.category/],
    ['indicator on an alert', { ...withField('event.kind', 'alert'), event: { ...VALID.event, kind: 'alert', category: ['authentication', 'intrusion_detection'], type: ['indicator'] } }, 'event.type', /expected by none/],
    ['no ecs.version', withField('ecs', undefined), 'ecs.version', /missing/],
    ['an object where ECS has a keyword', withField('user.name', { first: 'a' }), 'user.name', /not a string/],
  ];
  for (const [what, doc, field, pattern] of CASES) {
    it(`reports ${what}`, () => void assertReported(doc, field, pattern));
  }

  it('reports a boolean field holding a string', () => {
    // Any boolean field both releases have: which one does not matter.
    const field = Object.entries(ECS_SCHEMAS[0]!.fields).find(([name, spec]) => spec.type === 'boolean' && ECS_SCHEMAS[1]!.fields[name]?.type === 'boolean')![0];
    assertReported(withField(field, 'true'), field, /not a boolean/);
  });

  it('leaves our own sentinel namespace alone, and takes any object under an ECS object field', () => {
    assert.deepEqual(validateEcsDocument(withField('sentinel.deep.er', { x: [1, 'y'] })), []);
    assert.deepEqual(validateEcsDocument(withField('labels.env', 'prod')), []);
  });
});
