import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EVENT_CATALOGUE } from '../../src/events/catalogue.js';
import { buildSecurityEvent } from '../../src/events/security-event.js';
import { CATALOGUE_PAGE, withCatalogue } from '../../scripts/catalogue.js';

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
    assert.deepEqual(event.http, { request: { method: 'POST', id: 'r1' }, response: { status_code: 401 } });
    assert.equal(event.log.level, 'warn');
    assert.equal(JSON.stringify(event).includes('undefined'), false);
    assert.equal(buildSecurityEvent('authz_fail').user, undefined);
  });
});
