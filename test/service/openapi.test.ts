import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { OPENAPI_FILE, renderOpenApi } from '../../scripts/catalogue.js';
import { ERROR_CODES } from '../../src/errors.js';
import type { LoginHistoryQuery } from '../../src/elastic/login-history.js';
import { createApp } from '../../src/service/app.js';
import { createExampleRoutes } from '../../src/service/example-routes.js';
import { buildOpenApi, CSRF_HEADER, OPENAPI_PATH, SESSION_COOKIES } from '../../src/service/openapi.js';
import { createWebRoutes } from '../../src/service/web-routes.js';
import { createKeyRing } from '../../src/session/key-ring.js';
import { SESSION_KIT_DEFAULTS } from '../../src/session/session-kit.js';
import { createMemoryUserDirectory } from '../../src/session/users.js';
import { PASSWORDS, TEST_SCRYPT, TestClient, testUsers, type TestResponse } from '../support/http-server.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- the description is plain JSON, walked by key */
type Json = any;

const doc: Json = buildOpenApi();
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Every documented (path, method), with path templates as written. */
function documented(): Array<{ path: string; method: string }> {
  return Object.entries(doc.paths as Record<string, Record<string, unknown>>)
    .flatMap(([path, item]) => Object.keys(item).map((method) => ({ path, method })));
}

/** A concrete URL path for a template: {name} becomes a user that exists. */
const concrete = (path: string): string => path.replace('{name}', 'alice');

/** fetch refuses TRACE; node:http sends it. */
function traceRequest(target: string): Promise<{ status: number; code: unknown }> {
  return new Promise((resolve, reject) => {
    request(target, { method: 'TRACE' }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: (JSON.parse(text) as { error?: { code?: unknown } }).error?.code }));
    }).on('error', reject).end();
  });
}

/** Response schemas and headers checked the way a client generated from the description would see them. */
function createConformance() {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ ...doc, $id: 'openapi.json' });
  const pointer = (...parts: string[]): string => parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
  const resolveHeader = (header: Json): Json => (header.$ref ? doc.components.headers[header.$ref.split('/').pop()] : header);

  return (method: string, template: string, res: TestResponse): void => {
    const where = `${method.toUpperCase()} ${template} → ${res.status}`;
    const response = doc.paths[template]?.[method]?.responses?.[String(res.status)];
    assert.ok(response, `${where} is not documented: ${res.text}`);
    for (const [name, spec] of Object.entries(response.headers ?? {}) as Array<[string, Json]>) {
      const value = name === 'Set-Cookie' ? res.setCookies[0] ?? null : res.headers.get(name);
      if (spec.required) assert.notEqual(value, null, `${where}: header ${name} is required`);
      if (value === null) continue;
      const validate = ajv.compile(resolveHeader(spec).schema);
      assert.ok(validate(value), `${where}: header ${name}=${value}: ${ajv.errorsText(validate.errors)}`);
    }
    const content = response.content as Record<string, Json> | undefined;
    if (!content) {
      assert.equal(res.text, '', `${where} documents no body`);
      return;
    }
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!;
    assert.ok(content[type], `${where}: content type ${type} is not documented`);
    if (type !== 'application/json') return;
    const validate = ajv.compile({ $ref: `openapi.json#/${pointer('paths', template, method, 'responses', String(res.status), 'content', type, 'schema')}` });
    assert.ok(validate(res.body), `${where}: ${ajv.errorsText(validate.errors)} in ${res.text}`);
  };
}

describe('the OpenAPI description', () => {
  it('is a valid OpenAPI 3.1 document (the @seriousme/openapi-schema-validator lint)', async () => {
    const result = await new Validator().validate(structuredClone(doc));
    assert.deepEqual(result, { valid: true });
    assert.equal(doc.openapi, '3.1.0');
  });

  it('has unique operation ids and only references that resolve', () => {
    const ids = documented().map(({ path, method }) => doc.paths[path][method].operationId);
    assert.equal(new Set(ids).size, ids.length, ids.join(', '));
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    assert.ok(refs.length > 20);
    for (const ref of refs) {
      const path = ref.slice(8, -1).replace(/^#\//, '').split('/');
      assert.ok(path.reduce((node: Json, part) => node?.[part], doc) !== undefined, `${ref} resolves`);
    }
  });

  it('is the file docs/openapi.json (npm run docs writes it)', () => {
    assert.equal(readFileSync(OPENAPI_FILE, 'utf8'), renderOpenApi(), `${OPENAPI_FILE} is stale: run npm run docs`);
  });

  it('lists every error code of ERROR_CODES, each under its own status', () => {
    assert.deepEqual(doc.components.schemas.ErrorCode.enum, Object.keys(ERROR_CODES));
    const used = new Set<string>();
    for (const { path, method } of documented()) {
      for (const [status, response] of Object.entries(doc.paths[path][method].responses) as Array<[string, Json]>) {
        const codes: string[] | undefined = response.content?.['application/json']?.schema?.allOf?.[1]?.properties.error.properties.code.enum;
        for (const code of codes ?? []) {
          assert.equal(String(ERROR_CODES[code as keyof typeof ERROR_CODES].status), status, `${method} ${path}: ${code}`);
          used.add(code);
        }
      }
    }
    // not_found and method_not_allowed belong to no operation: they answer paths and methods that are not here.
    assert.deepEqual(Object.keys(ERROR_CODES).filter((code) => !used.has(code)).sort(), ['method_not_allowed', 'not_found']);
  });

  it('names the session kit\'s cookies and CSRF header', () => {
    assert.deepEqual(SESSION_COOKIES, SESSION_KIT_DEFAULTS.cookieNames);
    const schemes = doc.components.securitySchemes;
    assert.deepEqual([schemes.accessCookie.name, schemes.refreshCookie.name], [SESSION_COOKIES.access, SESSION_COOKIES.refresh]);
    assert.equal(schemes.csrfHeader.name, CSRF_HEADER);
    assert.equal(schemes.bearerAuth.scheme, 'bearer');
  });

  it('documents every route of the example and browser-client routers', () => {
    const fake = { requireAuth: async () => undefined, requireRole: () => async () => undefined } as unknown as Parameters<typeof createExampleRoutes>[0];
    const layers = [...createExampleRoutes(fake).stack, ...createWebRoutes().stack];
    assert.ok(layers.length >= 7);
    for (const layer of layers) {
      for (const method of layer.methods.filter((m) => m !== 'HEAD')) {
        assert.ok(doc.paths[String(layer.path)]?.[method.toLowerCase()], `${method} ${String(layer.path)} is documented`);
      }
    }
  });
});

describe('the reference app against its description', () => {
  let url: string;
  let close: () => Promise<void>;
  const histories: LoginHistoryQuery[] = [];
  const conform = createConformance();

  before(async () => {
    const keyRing = createKeyRing([{ kid: 'openapi-1', alg: 'HS256', secret: 'openapi test secret: long, random and never reused!' }]);
    const { app, kit } = createApp({
      log: { stdout: false },
      // One throttled login is enough to see the 429.
      session: { keyRing, users: createMemoryUserDirectory(await testUsers()), passwordParams: TEST_SCRYPT, throttle: { account_source: { freeAttempts: 1, baseDelayMs: 60_000 } } },
      loginHistory: async (query) => {
        histories.push(query);
        return { logins: [{ time: new Date().toISOString(), outcome: 'success', action: 'authn_login_success', sourceIp: '127.0.0.1', userAgent: null }], nextCursor: 'WzEsImEiXQ' };
      },
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await kit.close();
    };
  });
  after(() => close());

  it('serves the description at GET /openapi.json', async () => {
    const res = await new TestClient(url).request('GET', OPENAPI_PATH);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, JSON.parse(JSON.stringify(doc)));
    conform('get', OPENAPI_PATH, res);
  });

  it('answers every documented method of every documented path, and 404 or 405 for every other method', async () => {
    const client = new TestClient(url);
    await client.login('admin', PASSWORDS.admin);
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of METHODS) {
        const res = await client.request(method.toUpperCase(), concrete(path), method === 'get' ? {} : { json: { text: 'x' } });
        if (item[method]) {
          assert.ok(![404, 405].includes(res.status), `${method.toUpperCase()} ${path} answers: ${res.status} ${res.text}`);
          // What a path answers is its Allow header on a 405: the same methods the description lists.
        } else {
          assert.equal(res.status, 405, `${method.toUpperCase()} ${path}: ${res.text}`);
          assert.deepEqual(res.body.error.code, 'method_not_allowed');
          const allowed = (res.headers.get('allow') ?? '').split(',').map((m) => m.trim().toLowerCase()).filter((m) => m && m !== 'head' && m !== 'options');
          assert.deepEqual(allowed.sort(), Object.keys(item).sort(), `Allow of ${path}`);
        }
      }
      const trace = await traceRequest(`${url}${concrete(path)}`);
      assert.deepEqual(trace, { status: 405, code: 'method_not_allowed' }, `TRACE ${path}: a method no route has is 405 too, never 501`);
    }
    const unknown = await client.request('GET', '/api/nothing-here');
    assert.deepEqual([unknown.status, unknown.body.error.code], [404, 'not_found']);
  });

  it('session routes: login, me, refresh, logout-all and logout conform, cookies and headers included', async () => {
    const client = new TestClient(url);
    const login = await client.login('alice', PASSWORDS.alice);
    conform('post', '/auth/login', login);
    assert.deepEqual(login.setCookies.map((line) => line.split('=')[0]).sort(), [...Object.values(SESSION_COOKIES), '__Host-sentinel_device'].sort());
    assert.equal(login.headers.get('cache-control'), 'no-store');
    conform('get', '/auth/me', await client.request('GET', '/auth/me'));
    const refresh = await client.request('POST', '/auth/refresh');
    conform('post', '/auth/refresh', refresh);
    assert.equal(refresh.status, 200);
    conform('get', '/api/hello', await client.request('GET', '/api/hello'));
    conform('post', '/api/notes', await client.request('POST', '/api/notes', { json: { text: 'a note' } }));
    conform('get', '/auth/login-history', await client.request('GET', '/auth/login-history?size=5'));
    assert.deepEqual(histories.at(-1), { userName: 'alice', size: 5, cursor: undefined });
    conform('get', '/healthz', await client.request('GET', '/healthz'));
    const all = await client.request('POST', '/auth/logout-all');
    conform('post', '/auth/logout-all', all);
    assert.equal(all.body.revokedSessions, 1);
    const again = await client.login('alice', PASSWORDS.alice);
    assert.equal(again.status, 200);
    const logout = await client.request('POST', '/auth/logout');
    assert.equal(logout.status, 204);
    conform('post', '/auth/logout', logout);
    assert.equal(logout.headers.get('clear-site-data'), '"cache", "cookies", "storage"');
  });

  it('admin routes conform for an admin and answer 403 forbidden to others', async () => {
    const admin = new TestClient(url);
    await admin.login('admin', PASSWORDS.admin);
    conform('get', '/api/admin/stats', await admin.request('GET', '/api/admin/stats'));
    conform('get', '/admin/users/{name}/login-history', await admin.request('GET', '/admin/users/alice/login-history'));
    const user = new TestClient(url);
    await user.login('zoë', PASSWORDS['zoë']);
    for (const path of ['/api/admin/stats', '/admin/users/{name}/login-history']) {
      const res = await user.request('GET', concrete(path));
      assert.deepEqual([res.status, res.body.error.code], [403, 'forbidden']);
      conform('get', path, res);
    }
  });

  it('error responses conform: every status and code a client can provoke', async () => {
    const client = new TestClient(url);
    const expect = async (method: string, path: string, status: number, code: string, res: Promise<TestResponse>): Promise<TestResponse> => {
      const answer = await res;
      assert.deepEqual([answer.status, answer.body?.error?.code], [status, code], `${method} ${path}: ${answer.text}`);
      conform(method, path, answer);
      return answer;
    };
    await expect('post', '/auth/login', 401, 'login_failed', client.login('alice', 'wrong password'));
    // The second failure starts the lock (still 401); the attempt after it is throttled.
    await expect('post', '/auth/login', 401, 'login_failed', client.login('alice', 'wrong again'));
    const throttled = await expect('post', '/auth/login', 429, 'too_many_requests', client.login('alice', 'and again'));
    assert.match(throttled.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
    await expect('post', '/auth/login', 400, 'invalid_json', client.request('POST', '/auth/login', { body: '{', headers: { 'content-type': 'application/json' } }));
    await expect('post', '/auth/login', 415, 'unsupported_media_type', client.request('POST', '/auth/login', { body: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }));
    await expect('post', '/auth/login', 413, 'payload_too_large', client.request('POST', '/auth/login', { json: { username: 'x'.repeat(20_000), password: 'y' } }));
    await expect('post', '/auth/login', 403, 'csrf_failed', client.request('POST', '/auth/login', { json: {}, headers: { origin: 'https://evil.example' } }));
    for (const path of ['/auth/me', '/api/hello', '/auth/login-history']) await expect('get', path, 401, 'token_invalid', client.request('GET', path));
    await expect('post', '/auth/refresh', 401, 'token_invalid', client.request('POST', '/auth/refresh'));

    await client.login('zoë', PASSWORDS['zoë']);
    await expect('post', '/api/notes', 400, 'invalid_request', client.request('POST', '/api/notes', { json: { text: 42 } }));
    await expect('post', '/api/notes', 400, 'invalid_request', client.request('POST', '/api/notes', { json: { text: 'x'.repeat(1001) } }));
    // The description's JsonBody: a __proto__ key at any depth is refused by the body parser.
    await expect('post', '/api/notes', 400, 'invalid_json', client.request('POST', '/api/notes', { body: '{"text":"x","a":[{"__proto__":{}}]}', headers: { 'content-type': 'application/json' } }));
    await expect('post', '/api/notes', 403, 'csrf_failed', client.request('POST', '/api/notes', { json: { text: 'x' }, csrf: false }));
    await expect('get', '/admin/users/{name}/login-history', 403, 'forbidden', client.request('GET', '/admin/users/%20/login-history'));
    // Two tabs refreshing at once with the same cookies: one wins, the other is told to retry.
    const race = await Promise.all([client.request('POST', '/auth/refresh'), client.request('POST', '/auth/refresh')]);
    assert.deepEqual(race.map((res) => res.status).sort(), [200, 409], race.map((res) => res.text).join('\n'));
    await expect('post', '/auth/refresh', 409, 'refresh_conflict', Promise.resolve(race.find((res) => res.status === 409)!));

    const admin = new TestClient(url);
    await admin.login('admin', PASSWORDS.admin);
    await expect('get', '/admin/users/{name}/login-history', 400, 'invalid_request', admin.request('GET', '/admin/users/%20/login-history'));
  });
});
