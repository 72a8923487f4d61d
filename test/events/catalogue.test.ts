import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EVENT_CATALOGUE, type EventAction } from '../../src/events/catalogue.js';
import { buildSecurityEvent } from '../../src/events/security-event.js';
import { CATALOGUE_PAGE, withCatalogue } from '../../scripts/catalogue.js';
import { describeProblem, ECS_SCHEMAS, validateEcsDocument } from '../support/ecs-schema.js';

const OWASP = /^(authn|authz|session|excess|input|malicious|sys|user|privilege|upload|sensitive|crypt)_/;

describe('event catalogue', () => {
  it('is the table docs/events.md shows (run `npm run docs` after changing it)', () => {
    const page = readFileSync(CATALOGUE_PAGE, 'utf8');
    assert.equal(page, withCatalogue(page));
  });

  it('names every event in the OWASP vocabulary style and gives each a complete ECS categorisation', () => {
    for (const [action, entry] of Object.entries(EVENT_CATALOGUE)) {
      if (entry.vocabulary === 'owasp') assert.match(action, OWASP, action);
      assert.ok(entry.category.length > 0 && entry.type.length > 0, action);
      assert.ok(['success', 'failure', 'unknown'].includes(entry.outcome), action);
      assert.ok(entry.description.endsWith('.'), action);
    }
  });

  it('categorises every event as ECS 8.11 and 9.4 allow: each event.type expected by one of its categories', () => {
    for (const schema of ECS_SCHEMAS) {
      const categories = schema.fields['event.category']!.allowed_values!;
      const outcomes = schema.fields['event.outcome']!.allowed_values!.map((v) => v.name);
      for (const [action, entry] of Object.entries(EVENT_CATALOGUE)) {
        for (const category of entry.category) assert.ok(categories.some((c) => c.name === category), `${action}: ${category} is no ECS ${schema.version} category`);
        for (const type of entry.type) {
          const expectedBy = entry.category.filter((category) => categories.find((c) => c.name === category)?.expected_event_types?.includes(type));
          assert.ok(expectedBy.length > 0, `${action}: event.type ${type} is expected by none of ${entry.category.join(', ')} in ECS ${schema.version}`);
        }
        assert.ok(outcomes.includes(entry.outcome), `${action}: outcome ${entry.outcome}`);
      }
    }
  });

  it('builds a valid ECS document for every event, with every input field set', () => {
    for (const action of Object.keys(EVENT_CATALOGUE) as EventAction[]) {
      const entry = EVENT_CATALOGUE[action];
      const event = buildSecurityEvent(action, {
        reason: 'reasons' in entry ? entry.reasons[0] : undefined, user: { name: 'admin', id: 'u1', roles: ['user', 'admin'] }, target: { name: 'alice', id: 'u2' },
        source: { ip: '2001:db8::5' }, userAgent: 'Mozilla/5.0', http: { method: 'POST', statusCode: 403, requestId: 'r1' }, urlPath: '/x',
        sentinel: { session_id: 'ref' }, durationNs: 1500,
      });
      const problems = validateEcsDocument(event);
      assert.deepEqual(problems.map((p) => describeProblem(p)), [], action);
    }
  });

  it('uses event.reason for codes only (snake_case words), and free text goes to message', () => {
    for (const [action, entry] of Object.entries(EVENT_CATALOGUE)) {
      for (const reason of 'reasons' in entry ? entry.reasons : []) assert.match(reason, /^[a-z]+(_[a-z]+)*$/, `${action}: ${reason}`);
    }
  });

  it('follows the OWASP vocabulary\'s levels where docs/events.md does not say why not', () => {
    // The vocabulary (OWASP Logging Vocabulary Cheat Sheet): authz_fail CRITICAL, authz_admin WARN, successafterfail INFO.
    assert.equal(EVENT_CATALOGUE.authz_fail.level, 'critical');
    assert.equal(EVENT_CATALOGUE.authz_admin.level, 'warn');
    assert.equal(EVENT_CATALOGUE.authn_login_successafterfail.level, 'info');
    // Not in the vocabulary: ours, and labelled so.
    assert.equal(EVENT_CATALOGUE.session_logout.vocabulary, 'sentinel');
  });

  it('names every user and address of an event in related.*', () => {
    const event = buildSecurityEvent('authz_admin', { user: { name: 'root' }, target: { name: 'alice', id: 'u2' }, source: { ip: '198.51.100.9' } });
    assert.deepEqual(event.user, { name: 'root', target: { name: 'alice', id: 'u2' } });
    assert.deepEqual(event.related, { user: ['root', 'alice'], ip: ['198.51.100.9'] });
    assert.deepEqual(buildSecurityEvent('authn_login_fail', { user: { name: 'bob' }, target: { name: 'bob' } }).related, { user: ['bob'] }, 'each value once');
    assert.equal(buildSecurityEvent('authz_fail').related, undefined);
  });

  it('builds ECS documents with only the fields given, never undefined values', () => {
    const event = buildSecurityEvent('authn_login_fail', {
      reason: 'bad_password', user: { name: 'alice' }, source: { ip: '203.0.113.9' },
      http: { method: 'POST', statusCode: 401, requestId: 'r1' }, urlPath: '/auth/login', timestamp: new Date('2026-01-02T03:04:05Z'),
    });
    assert.equal(event['@timestamp'], '2026-01-02T03:04:05.000Z');
    assert.equal(event.event.action, 'authn_login_fail');
    assert.equal(event.event.outcome, 'failure');
    assert.equal(event.event.kind, 'event');
    assert.match(event.event.id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(event.user, { name: 'alice' });
    assert.deepEqual(event.related, { user: ['alice'], ip: ['203.0.113.9'] });
    assert.deepEqual(event.http, { request: { method: 'POST', id: 'r1' }, response: { status_code: 401 } });
    assert.equal(event.log.level, 'warn');
    assert.equal(JSON.stringify(event).includes('undefined'), false);
    assert.equal(buildSecurityEvent('authz_fail').user, undefined);
  });
});
