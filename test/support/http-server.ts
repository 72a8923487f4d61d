import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import bunyan from 'bunyan';
import type { SecurityEvent } from '../../src/events/security-event.js';
import { createLogger } from '../../src/logging/logger.js';
import { createApp } from '../../src/service/app.js';
import { createKeyRing, type KeyInput, type KeyRing } from '../../src/session/key-ring.js';
import { hashPassword } from '../../src/session/passwords.js';
import type { SessionKit, SessionKitOptions } from '../../src/session/session-kit.js';
import { createMemoryUserDirectory, type UserRecord } from '../../src/session/users.js';
import { archiveText, recordSecret, type SecretKind } from './secret-ledger.js';

/** Cheap scrypt for tests (ln=10 ≈ 2 ms); production uses ln=15. */
export const TEST_SCRYPT = { ln: 10, r: 8, p: 1 };

export const PASSWORDS = {
  alice: 'correct horse battery staple',
  admin: 'admin passphrase 42!',
  bob: 'bob is disabled 99',
  'zoë': 'unicode name works ✓',
} as const;

let usersPromise: Promise<UserRecord[]> | undefined;
/** alice (user), admin (user, admin), bob (disabled), zoë (unicode name). Hashed once per test file. */
export function testUsers(): Promise<UserRecord[]> {
  usersPromise ??= Promise.all([
    hashPassword(PASSWORDS.alice, TEST_SCRYPT).then((h) => ({ id: 'u_alice', name: 'alice', roles: ['user'], passwordHash: h })),
    hashPassword(PASSWORDS.admin, TEST_SCRYPT).then((h) => ({ id: 'u_admin', name: 'admin', roles: ['user', 'admin'], passwordHash: h })),
    hashPassword(PASSWORDS.bob, TEST_SCRYPT).then((h) => ({ id: 'u_bob', name: 'bob', roles: ['user'], passwordHash: h, disabled: true })),
    hashPassword(PASSWORDS['zoë'], TEST_SCRYPT).then((h) => ({ id: 'u_zoe', name: 'zoë', roles: ['user'], passwordHash: h })),
  ]);
  return usersPromise;
}

export interface TestServer {
  url: string;
  /** Host:port, for building Origin headers. */
  origin: string;
  /** Every security event emitted, in order. */
  events: SecurityEvent[];
  /** Every bunyan record written, parsed. */
  records: Array<Record<string, unknown>>;
  /** Raw log output, to scan for secrets. */
  rawLog(): string;
  kit: SessionKit;
  keyRing: KeyRing;
  /** The HMAC secret of the active key (tests forge tokens with it). */
  secret: Buffer;
  client(): TestClient;
  eventsOf(action: string): SecurityEvent[];
  close(): Promise<void>;
}

export interface TestServerOptions {
  session?: Partial<SessionKitOptions>;
  keys?: KeyInput[];
  activeKid?: string;
  trustProxy?: boolean;
  /** Listen on this port (default: any free one), for tests that must name their own origin in advance. */
  port?: number;
}

/** Starts the reference app in-process on an ephemeral port, with a known HS256 secret and the test users. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const secret = randomBytes(32);
  const keyRing = createKeyRing(options.keys ?? [{ kid: 'test-1', alg: 'HS256', secret }], options.activeKid);
  recordKeys(options.keys ?? [{ kid: 'test-1', alg: 'HS256', secret }]);
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  const logger: bunyan = createLogger({ name: 'koa-sentinel-test', level: 'trace', streams: [{ stream, level: 'trace' }] });
  const events: SecurityEvent[] = [];
  const { app, kit } = createApp({
    logger,
    trustProxy: options.trustProxy,
    onEvent: (event) => events.push(event),
    session: { keyRing, users: createMemoryUserDirectory(await testUsers()), passwordParams: TEST_SCRYPT, ...options.session },
  });
  const server = app.listen(options.port ?? 0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    origin: url,
    events,
    get records() {
      return lines.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    rawLog: () => lines.join(''),
    kit,
    keyRing,
    secret,
    client: () => new TestClient(url),
    eventsOf: (action) => events.filter((event) => event.event.action === action),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await kit.close();
      archiveText('test-server', lines.join(''));
    },
  };
}

/** What each of our cookies holds, for the secrets ledger (test/support/secret-ledger.ts). */
const COOKIE_KINDS: Record<string, SecretKind> = { '__Host-sentinel_at': 'access token', '__Secure-sentinel_rt': 'refresh token', '__Host-sentinel_csrf': 'csrf token' };

/** Records the signing secrets and private keys a test server is given, for the final secrets scan. */
export function recordKeys(keys: KeyInput[]): void {
  for (const key of keys) {
    if (key.secret !== undefined) recordSecret('signing secret', typeof key.secret === 'string' ? key.secret : Buffer.from(key.secret));
    if (typeof key.privateKey === 'string') recordSecret('signing key', key.privateKey);
    else if (key.privateKey) recordSecret('signing key', key.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
  }
}

interface StoredCookie {
  value: string;
  path: string;
}

export interface RequestOptions {
  json?: unknown;
  /** A raw body; give a content-type header with it. */
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Add Origin and X-CSRF-Token to unsafe requests, as our browser page does. Default true. */
  csrf?: boolean;
  /** Send no cookies. */
  noCookies?: boolean;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
  setCookies: string[];
}

/** A browser-like client: a cookie jar honouring Path and Max-Age, and the CSRF header of our page. */
export class TestClient {
  readonly jar = new Map<string, StoredCookie>();
  csrfToken: string | undefined;

  constructor(readonly baseUrl: string) {}

  cookieHeader(path: string): string {
    return [...this.jar].filter(([, c]) => path.startsWith(c.path)).map(([name, c]) => `${name}=${c.value}`).join('; ');
  }

  cookie(name: string): string | undefined {
    return this.jar.get(name)?.value;
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<TestResponse> {
    const headers: Record<string, string> = {};
    if (options.json !== undefined) headers['content-type'] = 'application/json';
    const unsafe = !['GET', 'HEAD', 'OPTIONS'].includes(method);
    if (unsafe && options.csrf !== false) {
      headers.origin = this.baseUrl;
      const token = this.csrfToken ?? this.jar.get('__Host-sentinel_csrf')?.value;
      if (token) headers['x-csrf-token'] = token;
    }
    const cookie = options.noCookies ? '' : this.cookieHeader(path);
    if (cookie) headers.cookie = cookie;
    Object.assign(headers, options.headers);
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
    });
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) this.store(line);
    const text = await response.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    const csrf = (body as { csrfToken?: unknown } | undefined)?.csrfToken;
    if (typeof csrf === 'string') {
      this.csrfToken = csrf;
      recordSecret('csrf token', csrf);
    }
    return { status: response.status, headers: response.headers, body, text, setCookies };
  }

  login(username: string, password: string): Promise<TestResponse> {
    recordSecret('password', password);
    return this.request('POST', '/auth/login', { json: { username, password } });
  }

  private store(line: string): void {
    const [pair, ...attributes] = line.split(';').map((part) => part.trim());
    const eq = pair!.indexOf('=');
    const name = pair!.slice(0, eq);
    const value = pair!.slice(eq + 1);
    let path = '/';
    let maxAge: number | undefined;
    for (const attribute of attributes) {
      const [key, val] = attribute.split('=');
      if (key!.toLowerCase() === 'path') path = val!;
      if (key!.toLowerCase() === 'max-age') maxAge = Number(val);
    }
    recordSecret(COOKIE_KINDS[name] ?? 'cookie value', value);
    if (maxAge !== undefined && maxAge <= 0) this.jar.delete(name);
    else this.jar.set(name, { value, path });
    if (name === '__Host-sentinel_csrf' && (maxAge ?? 1) <= 0) this.csrfToken = undefined;
  }
}

/** Parses a Set-Cookie line into its name, value and attributes (lower-cased keys). */
export function parseSetCookie(line: string): { name: string; value: string; attributes: Record<string, string | true> } {
  const [pair, ...rest] = line.split(';').map((part) => part.trim());
  const eq = pair!.indexOf('=');
  const attributes: Record<string, string | true> = {};
  for (const attribute of rest) {
    const i = attribute.indexOf('=');
    if (i === -1) attributes[attribute.toLowerCase()] = true;
    else attributes[attribute.slice(0, i).toLowerCase()] = attribute.slice(i + 1);
  }
  return { name: pair!.slice(0, eq), value: pair!.slice(eq + 1), attributes };
}
