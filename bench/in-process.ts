/**
 * The middleware stack's own cost per request, without sockets or a load generator (BENCH_ONLY=stack): real Node
 * IncomingMessage/ServerResponse objects on a socket that swallows what is written, handed to each app's
 * callback() one after the other. On a shared 2-core machine the HTTP figures swing by a third between rounds; this
 * one isolates the JavaScript we run for a request (the kernel's loopback work, equal for every target, is left
 * out), so each optimisation step has a figure of its own. Best of a few rounds, µs per request.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import Koa from 'koa';
import { jsonBody } from '../src/http/json-body.js';
import { createLogger } from '../src/logging/logger.js';
import { createApp } from '../src/service/app.js';
import { createKeyRing } from '../src/session/key-ring.js';
import { createSessionKit } from '../src/session/session-kit.js';
import { hashPassword } from '../src/session/passwords.js';
import { createMemoryUserDirectory } from '../src/session/users.js';

/** A socket that accepts every write at once and never delivers anything. */
class NullSocket extends Duplex {
  remoteAddress = '127.0.0.1';
  remotePort = 50_000;
  localAddress = '127.0.0.1';
  localPort = 3000;
  encrypted = false;
  override _read(): void {}
  override _write(_chunk: unknown, _encoding: BufferEncoding, callback: () => void): void {
    callback();
  }
  override _writev(_chunks: unknown, callback: () => void): void {
    callback();
  }
  setTimeout(): this {
    return this;
  }
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

function request(handler: Handler, path: string, cookie: string): Promise<number> {
  const socket = new NullSocket();
  const req = new IncomingMessage(socket as never);
  req.method = 'GET';
  req.url = path;
  req.httpVersion = '1.1';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.headers = { host: '127.0.0.1:3000', cookie, 'user-agent': 'autocannon', accept: '*/*' };
  req.rawHeaders = ['Host', '127.0.0.1:3000', 'Cookie', cookie, 'User-Agent', 'autocannon', 'Accept', '*/*'];
  req.push(null);
  const res = new ServerResponse(req);
  res.assignSocket(socket as never);
  return new Promise((resolve) => {
    res.on('finish', () => {
      res.detachSocket(socket as never);
      resolve(res.statusCode);
    });
    void handler(req, res);
  });
}

async function perRequest(handler: Handler, path: string, cookie: string, n: number, rounds: number): Promise<number> {
  if ((await request(handler, path, cookie)) !== 200) throw new Error(`in-process bench: ${path} did not answer 200`);
  let best = Infinity;
  for (let round = 0; round < rounds; round += 1) {
    const started = process.hrtime.bigint();
    // 50 in flight, as the HTTP bench's connections.
    for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: 50 }, () => request(handler, path, cookie)));
    best = Math.min(best, Number(process.hrtime.bigint() - started) / n / 1000);
  }
  return best;
}

/** A session cookie from a real login through the app's own route, on a throwaway listening server. */
async function login(app: Koa, password: string): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bench', password }),
    });
    const access = response.headers.getSetCookie().find((line) => line.startsWith('__Host-sentinel_at='));
    if (response.status !== 200 || !access) throw new Error(`in-process bench: login answered ${response.status}`);
    return access.split(';')[0]!;
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

export async function inProcess(n = 50_000, rounds = 5): Promise<{ bare: number; sentinel: number; app: number }> {
  const password = 'bench password 0123456789';
  const passwordParams = { ln: 10, r: 8, p: 1 };
  const keyRing = createKeyRing([{ kid: 'bench', alg: 'HS256', secret: randomBytes(32) }]);
  const users = createMemoryUserDirectory([{ id: 'u_bench', name: 'bench', roles: ['user'], passwordHash: await hashPassword(password, passwordParams) }]);
  const route = (ctx: Koa.Context): void => {
    ctx.body = { message: `Hello, ${ctx.state.user?.name ?? 'world'}.` };
  };
  const built = createApp({ logger: createLogger({ name: 'bench', stdout: { write: () => true } }), session: { keyRing, users, passwordParams } });
  const app = built.app.callback();
  const cookie = await login(built.app, password);
  const bare = new Koa();
  bare.use(async (ctx) => route(ctx));
  const kit = createSessionKit({ keyRing, users, passwordParams });
  const verified = new Koa();
  verified.use(kit.authenticate);
  verified.use(kit.requireAuth);
  verified.use(async (ctx) => route(ctx));
  // The sentinel target's cookie must come from its own kit (its store knows the session).
  const kitApp = new Koa();
  kitApp.use(jsonBody());
  kitApp.use(kit.routes());
  const kitCookie = await login(kitApp, password);
  const figures = { bare: Infinity, sentinel: Infinity, app: Infinity };
  // Interleaved, best of each: drift from other load falls on every target alike.
  for (let round = 0; round < rounds; round += 1) {
    figures.bare = Math.min(figures.bare, await perRequest(bare.callback(), '/', cookie, n, 1));
    figures.sentinel = Math.min(figures.sentinel, await perRequest(verified.callback(), '/', kitCookie, n, 1));
    figures.app = Math.min(figures.app, await perRequest(app, '/api/hello', cookie, n, 1));
  }
  console.log(`\nIn process, no sockets (GET with a session, 50 in flight, best of ${rounds}): bare ${figures.bare.toFixed(1)} µs, sentinel ${figures.sentinel.toFixed(1)} µs, app ${figures.app.toFixed(1)} µs per request`);
  console.log(`app - bare = ${(figures.app - figures.bare).toFixed(1)} µs per request (the whole reference stack's own cost, access record included)`);
  return figures;
}
