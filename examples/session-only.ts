// The smallest useful app: cookie JWT sessions with CSRF protection, and one protected route.
// Run: JWT_SECRET="$(openssl rand -base64 48)" npx tsx examples/session-only.ts
import Koa from 'koa';
import Router from '@koa/router';
import { createKeyRing, createMemoryUserDirectory, createSessionKit, errorHandler, hashPassword, jsonBody } from 'koa-sentinel';

const kit = createSessionKit({
  keyRing: createKeyRing([{ kid: 'k1', alg: 'HS256', secret: process.env.JWT_SECRET ?? '' }]),
  users: createMemoryUserDirectory([{ id: 'u1', name: 'alice', roles: ['user'], passwordHash: await hashPassword('correct horse battery staple') }]),
});
const api = new Router().get('/api/hello', kit.requireAuth, (ctx) => { ctx.body = { hello: ctx.state.user!.name }; });

const app = new Koa();
app.use(errorHandler()).use(jsonBody()).use(kit.middleware()).use(kit.routes()).use(api.routes());
app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
