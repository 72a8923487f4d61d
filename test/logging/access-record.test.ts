import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Context } from 'koa';
import { toEcsDocument } from '../../src/logging/ecs.js';
import { PREREDACTED, redact } from '../../src/logging/redact.js';
import { accessRecord } from '../../src/logging/request-logger.js';

const JWT = `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.${randomBytes(32).toString('base64url')}`;

function context(overrides: { path?: string; userAgent?: string; requestId?: string; user?: { id: string; name: string } } = {}): Context {
  const headers: Record<string, string> = { 'user-agent': overrides.userAgent ?? 'curl/8.5.0' };
  return {
    path: overrides.path ?? '/api/hello',
    method: 'GET',
    status: 200,
    state: { requestId: overrides.requestId ?? 'req-1', clientAddress: '203.0.113.9', user: overrides.user },
    get: (name: string) => headers[name] ?? '',
    response: { length: 27 },
    req: { httpVersion: '1.1' },
    socket: { remoteAddress: '203.0.113.9' },
  } as unknown as Context;
}

/** Every string anywhere in `value`. */
const strings = (value: unknown): string[] =>
  typeof value === 'string' ? [value] : value && typeof value === 'object' ? Object.values(value).flatMap(strings) : [];

describe('accessRecord: built redacted, so the ECS conversion can copy it', () => {
  it('redacts every client-chosen string: path, User-Agent, request id, user name and id', () => {
    const record = accessRecord(context({
      path: `/api/${JWT}`,
      userAgent: `agent Bearer ${'a'.repeat(24)}`,
      requestId: JWT,
      user: { id: `id-${JWT}`, name: `Bearer ${'b'.repeat(20)}` },
    }), process.hrtime.bigint());
    const doc = toEcsDocument({ ...record, name: 'test', hostname: 'h', pid: 1, level: 30, time: new Date(), msg: 'GET x 200', v: 0 });
    for (const text of strings(doc)) {
      assert.ok(!text.includes(JWT), `a token survived in ${text}`);
      assert.ok(!/Bearer [ab]{8}/.test(text), `a credential survived in ${text}`);
    }
    assert.equal((doc.url as { path: string }).path, '/api/[REDACTED:jwt]');
    assert.deepEqual(doc.related, { user: ['Bearer [REDACTED]'], ip: ['203.0.113.9'] });
  });

  it('keeps the shape of an access record (related as relatedOf would build it)', () => {
    const anonymous = accessRecord(context(), process.hrtime.bigint());
    assert.equal(anonymous.user, undefined);
    assert.deepEqual(redact(anonymous.related), { ip: ['203.0.113.9'] });
    const signedIn = accessRecord(context({ user: { id: 'u_1', name: 'alice' } }), process.hrtime.bigint());
    assert.deepEqual(redact(signedIn.user), { name: 'alice', id: 'u_1' });
    assert.deepEqual(JSON.parse(JSON.stringify(signedIn.http)), { request: { id: 'req-1', method: 'GET' }, response: { status_code: 200, body: { bytes: 27 } }, version: '1.1' });
  });

  it('its parts are copied, never shared: enriching the document leaves the record as it was', () => {
    const record = accessRecord(context(), process.hrtime.bigint());
    const doc = toEcsDocument({ ...record, name: 'test', level: 30, time: new Date(), msg: 'm' });
    (doc.source as Record<string, unknown>).geo = { country_iso_code: 'FR' };
    (doc.user_agent as Record<string, unknown>).name = 'curl';
    assert.equal((record.source as Record<string, unknown>).geo, undefined);
    assert.equal((record.user_agent as Record<string, unknown>).name, undefined);
  });
});

describe('redact: PREREDACTED objects', () => {
  it('copies a marked object one level deep without reading it; an unmarked one is still walked', () => {
    const nested = { note: JWT };
    const marked = { [PREREDACTED]: true as const, path: '/x', nested };
    const out = redact({ marked, plain: { note: JWT } }) as { marked: typeof marked; plain: { note: string } };
    assert.notEqual(out.marked, marked);
    assert.deepEqual(Object.getOwnPropertySymbols(out.marked), [], 'the copy is unmarked');
    assert.equal(out.marked.nested, nested, 'trusted as built: nested objects are shared');
    assert.equal(out.plain.note, '[REDACTED:jwt]');
  });

  it('a marker a client could send in JSON is a string key, not the symbol: such an object is walked', () => {
    const fromClient = JSON.parse(`{"koa-sentinel.preredacted": true, "token": "x", "note": "${JWT}"}`) as Record<string, unknown>;
    const out = redact(fromClient) as Record<string, unknown>;
    assert.equal(out.token, '[REDACTED]');
    assert.equal(out.note, '[REDACTED:jwt]');
  });

  it('the marker never reaches JSON', () => {
    assert.equal(JSON.stringify({ [PREREDACTED]: true, a: 1 }), '{"a":1}');
  });
});
