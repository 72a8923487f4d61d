import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Router from '@koa/router';
import Koa from 'koa';
import type { Context } from 'koa';
import { pathTest, routerFor } from '../../src/http/route-guard.js';

/** Runs `middleware` for one request without a socket: the status, Allow header and whether `next` was reached. */
async function run(middleware: Koa.Middleware, method: string, path: string): Promise<{ status: number; allow: string | undefined; passed: boolean; body: unknown }> {
  const app = new Koa();
  const headers: Record<string, string> = {};
  const ctx = app.createContext({ method, url: path, headers: {}, socket: {} } as never, { statusCode: 404, setHeader: (name: string, value: string) => { headers[name.toLowerCase()] = value; }, getHeader: (name: string) => headers[name.toLowerCase()], removeHeader: () => {}, getHeaders: () => headers, hasHeader: (name: string) => name.toLowerCase() in headers } as never) as Context;
  let passed = false;
  await middleware(ctx, async () => {
    passed = true;
  });
  return { status: ctx.status, allow: headers.allow, passed, body: ctx.body };
}

describe('pathTest: never narrower than the router', () => {
  it('exact paths with an optional trailing slash, case-insensitive unless sensitive', () => {
    const test = pathTest(['/api/hello', '/api/notes'], false)!;
    for (const path of ['/api/hello', '/api/hello/', '/API/Hello', '/api/notes']) assert.ok(test.test(path), path);
    for (const path of ['/api/hello/x', '/api/hellox', '/api', '/', '/x/api/hello']) assert.ok(!test.test(path), path);
    const sensitive = pathTest(['/api/hello'], true)!;
    assert.ok(sensitive.test('/api/hello'));
    assert.ok(!sensitive.test('/API/hello'));
  });

  it('a route with a parameter, wildcard or optional group is a prefix up to it', () => {
    const test = pathTest(['/admin/users/:name/login-history', '/files/*rest', '/docs{/:page}'], false)!;
    for (const path of ['/admin/users/alice/login-history', '/admin/users/x', '/files/a/b', '/docs', '/docs/intro', '/DOCS/x']) assert.ok(test.test(path), path);
    for (const path of ['/admin/user', '/admin', '/file', '/doc']) assert.ok(!test.test(path), path);
  });

  it('regular-expression characters in a path are literal', () => {
    const test = pathTest(['/app.js'], false)!;
    assert.ok(test.test('/app.js'));
    assert.ok(!test.test('/appxjs'));
  });

  it('no test (nothing skipped) when a route can match any path, or for a RegExp route or no routes', () => {
    assert.equal(pathTest(['/:anything'], false), undefined);
    assert.equal(pathTest(['(.*)'], false), undefined);
    assert.equal(pathTest([/^\/x/], false), undefined);
    assert.equal(pathTest([], false), undefined);
  });
});

describe('routerFor', () => {
  const router = (): Router => {
    const r = new Router({ prefix: '/api' });
    r.get('/hello', (ctx) => {
      ctx.body = 'hello';
    });
    r.post('/notes', (ctx) => {
      ctx.status = 201;
    });
    return r;
  };

  it('skips the router for paths none of its routes serve', async () => {
    const result = await run(routerFor(router()), 'GET', '/elsewhere');
    assert.equal(result.passed, true);
    assert.equal(result.status, 404);
    // A method no route of the router has, on a path it does not serve: passed on, not 501 from this router.
    assert.equal((await run(routerFor(router()), 'TRACE', '/elsewhere')).status, 404);
  });

  it('serves its routes, and answers 405 with Allow (and 501 for unknown methods) as the router does', async () => {
    assert.deepEqual(await run(routerFor(router()), 'GET', '/API/hello/'), { status: 200, allow: undefined, passed: false, body: 'hello' });
    const wrong = await run(routerFor(router()), 'DELETE', '/api/hello');
    assert.equal(wrong.status, 405);
    assert.equal(wrong.allow, 'HEAD, GET');
    assert.equal((await run(routerFor(router()), 'TRACE', '/api/hello')).status, 501);
  });
});
