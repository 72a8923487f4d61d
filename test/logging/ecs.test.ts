import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import bunyan from 'bunyan';
import { buildSecurityEvent, ECS_VERSION } from '../../src/events/security-event.js';
import { ecsJsonStream, ecsRawStream, toEcsDocument, type EcsDocument } from '../../src/logging/ecs.js';
import { createLogger, logSecurityEvent } from '../../src/logging/logger.js';
import { REDACTED } from '../../src/logging/redact.js';

/** Bunyan's levels, plus the vocabulary's `critical` that security events carry (logged at bunyan's fatal). */
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'critical'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
/** Bunyan's own field names: each must have been renamed to its ECS field. */
const BUNYAN_FIELDS = ['time', 'msg', 'v', 'level', 'name', 'hostname', 'pid', 'src'];

/**
 * The ECS logging shape every record must have (elastic/ecs-logging spec: @timestamp, log.level and ecs.version
 * required; plus what our index template and shipper rely on). Returns the document for chaining.
 */
function assertEcs(doc: Record<string, unknown>): Record<string, unknown> {
  const at = doc['@timestamp'];
  assert.equal(typeof at, 'string', '@timestamp is a string');
  assert.match(at as string, ISO);
  assert.ok(!Number.isNaN(Date.parse(at as string)));
  const log = doc.log as Record<string, unknown>;
  assert.equal(typeof log, 'object');
  assert.ok(LEVELS.includes(log.level as string), `log.level ${String(log.level)}`);
  assert.equal(typeof doc.message, 'string', 'message is a string');
  assert.deepEqual(doc.ecs, { version: ECS_VERSION });
  assert.match(ECS_VERSION, /^\d+\.\d+\.\d+$/);
  const service = doc.service as Record<string, unknown>;
  assert.equal(typeof service?.name, 'string');
  assert.ok((service.name as string).length > 0);
  const host = doc.host as Record<string, unknown>;
  assert.equal(typeof host?.hostname, 'string');
  assert.ok((host.hostname as string).length > 0);
  const proc = doc.process as Record<string, unknown>;
  assert.ok(Number.isInteger(proc?.pid) && (proc.pid as number) > 0, 'process.pid is a positive integer');
  const event = doc.event as Record<string, unknown>;
  assert.equal(typeof event?.id, 'string');
  assert.ok((event.id as string).length > 0);
  for (const field of BUNYAN_FIELDS) assert.ok(!(field in doc), `bunyan field ${field} left in the document`);
  // Plain JSON: what is logged is exactly what is shipped.
  assert.deepEqual(JSON.parse(JSON.stringify(doc)), doc);
  return doc;
}

function captureLogger(level: 'trace' | 'info' = 'trace'): { logger: bunyan; docs: EcsDocument[]; lines: string[] } {
  const docs: EcsDocument[] = [];
  const lines: string[] = [];
  const logger = createLogger({ name: 'ecs-test', level, sinks: [{ write: (doc) => docs.push(doc) }], stdout: { write: (text: string) => lines.push(text) } });
  return { logger, docs, lines };
}

describe('toEcsDocument', () => {
  it('renames bunyan fields to ECS and keeps the rest', () => {
    const time = new Date('2026-01-02T03:04:05.678Z');
    const doc = assertEcs(toEcsDocument({ name: 'svc', hostname: 'web-1', pid: 4321, level: 30, msg: 'hello', time, v: 0, foo: { bar: 1 } }));
    assert.equal(doc['@timestamp'], '2026-01-02T03:04:05.678Z');
    assert.equal(doc.message, 'hello');
    assert.deepEqual(doc.log, { level: 'info', logger: 'svc' });
    assert.deepEqual(doc.service, { name: 'svc' });
    assert.deepEqual(doc.host, { hostname: 'web-1' });
    assert.deepEqual(doc.process, { pid: 4321 });
    assert.match((doc.event as { id: string }).id, UUID);
    assert.deepEqual(doc.foo, { bar: 1 });
  });

  it('maps every bunyan level to its name', () => {
    const expected: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
    for (const [level, name] of Object.entries(expected)) {
      const doc = assertEcs(toEcsDocument({ name: 'svc', hostname: 'h', pid: 1, level: Number(level), msg: 'm', time: new Date(), v: 0 }));
      assert.equal((doc.log as { level: string }).level, name);
    }
  });

  it('gives each document its own event.id, but keeps one that is already there', () => {
    const base = { name: 'svc', hostname: 'h', pid: 1, level: 30, msg: 'm', time: new Date(), v: 0 };
    const a = toEcsDocument(base);
    const b = toEcsDocument(base);
    assert.notEqual(a.event.id, b.event.id);
    const kept = toEcsDocument({ ...base, event: { id: 'fixed-id', action: 'x' } });
    assert.deepEqual(kept.event, { id: 'fixed-id', action: 'x' });
  });

  it('keeps a security event as it is: its own @timestamp, message, level, event fields and service name', () => {
    const event = buildSecurityEvent('authn_login_fail', {
      reason: 'bad_password', user: { name: 'alice' }, source: { ip: '198.51.100.7' }, userAgent: 'ua/1',
      timestamp: new Date('2025-12-31T23:59:59.000Z'),
    });
    const doc = assertEcs(toEcsDocument({ ...event, service: { name: 'auth-api' }, name: 'svc', hostname: 'h', pid: 2, level: 40, msg: 'ignored', time: new Date(), v: 0 }));
    assert.equal(doc['@timestamp'], '2025-12-31T23:59:59.000Z');
    assert.equal(doc.message, event.message);
    assert.equal((doc.log as { level: string }).level, 'warn');
    assert.deepEqual(doc.event, event.event);
    assert.deepEqual(doc.service, { name: 'auth-api' });
    assert.deepEqual(doc.user, { name: 'alice' });
    assert.deepEqual(doc.source, { ip: '198.51.100.7' });
  });

  it('fills @timestamp with now when the record has no time', () => {
    const before = Date.now();
    const doc = assertEcs(toEcsDocument({ name: 'svc', hostname: 'h', pid: 1, level: 30, msg: 'm' }));
    const at = Date.parse(doc['@timestamp'] as string);
    assert.ok(at >= before - 1 && at <= Date.now() + 1);
  });

  it('redacts the document it builds and leaves the record alone', () => {
    const record = {
      name: 'svc', hostname: 'h', pid: 1, level: 30, msg: 'm', time: new Date(), v: 0,
      http: { request: { headers: { authorization: 'Bearer 0123456789abcdef', cookie: 'a=b' } } },
      note: 'sent Basic YWxpY2U6c2VjcmV0LXBhc3M=',
    };
    const copy = structuredClone(record);
    const doc = assertEcs(toEcsDocument(record));
    assert.deepEqual(doc.http, { request: { headers: { authorization: REDACTED, cookie: REDACTED } } });
    assert.equal(doc.note, `sent Basic ${REDACTED}`);
    assert.deepEqual(record, copy);
  });
});

describe('createLogger (ECS output)', () => {
  it('writes the same ECS document to stdout and to every sink, for every kind of record we log', () => {
    const { logger, docs, lines } = captureLogger();
    logger.info('plain message');
    logger.info({ url: { path: '/x' }, http: { response: { status_code: 200 } } }, 'with fields');
    logger.warn({ sentinel: { warning: 'demo_users' } }, 'a warning');
    logger.error({ err: new Error('boom') }, 'request failed');
    logger.debug({ event: { dataset: 'sentinel.access' } }, 'debug');
    logger.trace('trace');
    logSecurityEvent(logger, buildSecurityEvent('authn_login_success', { user: { name: 'alice', id: 'u_alice' }, source: { ip: '127.0.0.1' } }));
    logSecurityEvent(logger, buildSecurityEvent('authn_token_reuse', { user: { name: 'alice' } }));
    assert.equal(docs.length, 8);
    assert.equal(lines.length, 8);
    docs.forEach((doc, i) => {
      assertEcs(doc);
      assert.ok(lines[i]!.endsWith('\n'));
      assert.deepEqual(JSON.parse(lines[i]!), doc);
      assert.equal((doc.service as { name: string }).name, 'ecs-test');
      assert.equal((doc.host as { hostname: string }).hostname, hostname());
      assert.equal((doc.process as { pid: number }).pid, process.pid);
    });
    assert.deepEqual(docs.map((d) => (d.log as { level: string }).level), ['info', 'info', 'warn', 'error', 'debug', 'trace', 'info', 'error']);
    assert.deepEqual(docs.map((d) => d.message).slice(0, 3), ['plain message', 'with fields', 'a warning']);
    assert.equal(docs[3]!.err, undefined, 'bunyan\'s err is renamed to ECS error');
    const error = docs[3]!.error as Record<string, unknown>;
    assert.equal(error.type, 'Error');
    assert.equal(error.message, 'boom');
    assert.equal(typeof error.stack_trace, 'string');
    assert.equal(docs[6]!.event.action, 'authn_login_success');
  });

  it('logs a CRITICAL event at bunyan\'s highest level, with log.level critical', () => {
    const { logger, docs, lines } = captureLogger('info');
    logSecurityEvent(logger, buildSecurityEvent('authz_fail', { reason: 'missing_role', user: { name: 'bob' } }));
    assert.equal(docs.length, 1);
    assert.equal((docs[0]!.log as { level: string }).level, 'critical');
    assert.equal(lines.length, 1, 'above any LOG_LEVEL, so always on stdout');
    assertEcs(docs[0]!);
  });

  it('writes errors as ECS error.* fields: the cause chain flattened into message and stack trace, no error.cause', () => {
    const { logger, docs } = captureLogger();
    const root = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED', secretExtra: 'never copied' });
    const middle = new TypeError('store unreachable', { cause: root });
    logger.error({ err: Object.assign(new Error('session check failed', { cause: middle }), { code: 'store_unavailable' }) }, 'request failed');
    logger.warn({ err: 'a string was thrown' }, 'odd throw');
    logger.warn({ error: new RangeError('out of range') }, 'error given as error');
    const [first, second, third] = docs.map((doc) => doc.error as Record<string, unknown>);
    assert.deepEqual(Object.keys(first!).sort(), ['code', 'message', 'stack_trace', 'type']);
    assert.equal(first!.type, 'Error');
    assert.equal(first!.code, 'store_unavailable');
    assert.equal(first!.message, 'session check failed; caused by TypeError: store unreachable; caused by Error: connect ECONNREFUSED 127.0.0.1:6379');
    const stack = first!.stack_trace as string;
    assert.match(stack, /^Error: session check failed\n\s+at /);
    assert.match(stack, /\nCaused by: TypeError: store unreachable\n\s+at /);
    assert.match(stack, /\nCaused by: Error: connect ECONNREFUSED 127\.0\.0\.1:6379\n\s+at /);
    assert.doesNotMatch(JSON.stringify(docs[0]), /never copied/);
    assert.deepEqual(second, { message: 'a string was thrown' });
    assert.equal(third!.type, 'RangeError');
    assert.equal(third!.message, 'out of range');
  });

  it('stops at a cause chain that loops', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    const doc = toEcsDocument({ name: 'svc', hostname: 'h', pid: 1, level: 50, msg: 'm', time: new Date(), v: 0, err: a });
    assert.equal((doc.error as { message: string }).message, 'a; caused by Error: b');
  });

  it('honours the level and writes nothing below it', () => {
    const { logger, docs } = captureLogger('info');
    logger.debug('hidden');
    logger.trace('hidden');
    logger.info('shown');
    assert.deepEqual(docs.map((d) => d.message), ['shown']);
    docs.forEach(assertEcs);
  });

  it('ecsRawStream and ecsJsonStream turn raw bunyan records into ECS documents', () => {
    const docs: EcsDocument[] = [];
    const lines: string[] = [];
    const logger = bunyan.createLogger({
      name: 'raw-test',
      streams: [
        { type: 'raw', stream: ecsRawStream({ write: (doc) => docs.push(doc) }) as unknown as bunyan.WriteFn },
        { type: 'raw', stream: ecsJsonStream({ write: (text: string) => lines.push(text) }) as unknown as bunyan.WriteFn },
      ],
    });
    logger.info({ token: 'opaque', user: { name: 'alice' } }, 'via raw streams');
    assert.equal(docs.length, 1);
    assert.equal(lines.length, 1);
    const fromJson = assertEcs(JSON.parse(lines[0]!) as Record<string, unknown>);
    assertEcs(docs[0]!);
    assert.equal(docs[0]!.message, 'via raw streams');
    assert.equal(docs[0]!.token, REDACTED);
    assert.equal(fromJson.token, REDACTED);
    assert.equal((docs[0]!.log as { logger: string }).logger, 'raw-test');
  });
});
