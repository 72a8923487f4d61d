import { readFileSync } from 'node:fs';
import { ERROR_CODES, type ErrorCode } from '../index.js';
import { MAX_NOTE_LENGTH } from './example-routes.js';
import { WEB_ASSETS } from './web-routes.js';

/**
 * The reference server's HTTP contract as an OpenAPI 3.1 document, built from the same tables the server uses:
 * error codes and statuses from ERROR_CODES, the browser client's paths from WEB_ASSETS. Served at GET /openapi.json
 * and written to docs/openapi.json by `npm run docs` (docs/api.md says how to read and use it). The tests in
 * test/service/openapi.test.ts keep it true: every route the app answers is here and every response validates.
 */

/** Where the app serves this document. */
export const OPENAPI_PATH = '/openapi.json';

/**
 * The session kit's default cookie names and CSRF header (the reference server keeps the defaults). Written out
 * here because the kit does not export them; the tests compare them with the kit's defaults and real Set-Cookie lines.
 */
export const SESSION_COOKIES = { access: '__Host-sentinel_at', refresh: '__Secure-sentinel_rt', csrf: '__Host-sentinel_csrf' } as const;
export const CSRF_HEADER = 'X-CSRF-Token';

/** What a route needs from the caller. */
type Access = 'public' | 'session' | 'admin' | 'refresh';

interface Operation {
  method: 'get' | 'post' | 'delete';
  path: string;
  summary: string;
  tag: 'auth' | 'sessions' | 'login history' | 'example API' | 'operations' | 'browser client';
  access: Access;
  /** Unsafe requests pass the CSRF guard (Origin/Sec-Fetch-Site, and X-CSRF-Token under a cookie session). */
  unsafe?: boolean;
  /** JSON request body schema (the name of a component schema). */
  body?: { schema: string; required: boolean };
  parameters?: readonly object[];
  /** The success responses by status. */
  success: Record<string, object>;
  /** Error codes this route answers besides those every route of its kind answers. */
  errors?: readonly ErrorCode[];
}

const ref = (name: string): object => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object): object => ({ 'application/json': { schema } });
const header = (name: string, required = false): object => ({ [name]: { $ref: `#/components/headers/${name}`, ...(required ? { required: true } : {}) } });

const SESSION_ISSUED_HEADERS = { ...header('Set-Cookie', true), ...header('Cache-Control', true) };
const SESSION_CLEARED_HEADERS = { ...header('Set-Cookie', true), ...header('Cache-Control', true), ...header('Clear-Site-Data', true) };

/** Every operation the reference server answers, in the order of the README's contract table. */
const OPERATIONS: readonly Operation[] = [
  {
    method: 'post', path: '/auth/login', summary: 'Log in: sets the three session cookies and returns the CSRF token', tag: 'auth', access: 'public', unsafe: true,
    body: { schema: 'LoginRequest', required: true },
    success: { 200: { description: 'Signed in. The access, refresh and CSRF cookies are set.', headers: SESSION_ISSUED_HEADERS, content: json(ref('SessionIssued')) } },
    // Every login failure is the one 401 (ASVS 6.3.8); throttled attempts get 429 with Retry-After.
    errors: ['login_failed', 'too_many_requests', 'store_unavailable'],
  },
  {
    method: 'post', path: '/auth/refresh', summary: 'Rotate the refresh token: new cookies and a new CSRF token', tag: 'auth', access: 'refresh', unsafe: true,
    success: { 200: { description: 'Rotated: all three cookies and the CSRF token are new.', headers: SESSION_ISSUED_HEADERS, content: json(ref('SessionIssued')) } },
    errors: ['token_invalid', 'token_expired', 'refresh_conflict', 'store_unavailable'],
  },
  {
    method: 'post', path: '/auth/logout', summary: 'Log out: revoke this session and clear the cookies', tag: 'auth', access: 'public', unsafe: true,
    success: { 204: { description: 'Logged out (also without a valid session: the cookies are cleared either way).', headers: SESSION_CLEARED_HEADERS } },
    errors: ['store_unavailable'],
  },
  {
    method: 'post', path: '/auth/logout-all', summary: 'Revoke every session of the signed-in user', tag: 'auth', access: 'session', unsafe: true,
    success: { 200: { description: 'Every session of the user is revoked; this browser\'s cookies are cleared.', headers: SESSION_CLEARED_HEADERS, content: json(ref('LogoutAll')) } },
  },
  {
    method: 'get', path: '/auth/me', summary: 'The signed-in user, the session and a fresh CSRF token', tag: 'auth', access: 'session',
    success: { 200: { description: 'The session.', headers: header('Cache-Control', true), content: json(ref('Me')) } },
  },
  {
    method: 'get', path: '/auth/sessions', summary: 'The signed-in user\'s live sessions (ASVS 7.5.2)', tag: 'sessions', access: 'session',
    success: { 200: { description: 'Oldest first; `current` marks the requesting one. "Last used" is coarse (about a minute).', headers: header('Cache-Control', true), content: json(ref('SessionList')) } },
  },
  {
    method: 'delete', path: '/auth/sessions', summary: 'End every other session of the user (password, or a login under 5 minutes)', tag: 'sessions', access: 'session', unsafe: true,
    body: { schema: 'Reauthentication', required: false },
    success: { 200: { description: 'The other sessions are ended; this one stays.', headers: header('Cache-Control', true), content: json(ref('EndedSessions')) } },
    errors: ['reauthentication_required'],
  },
  {
    method: 'delete', path: '/auth/sessions/{id}', summary: 'End one session of the user (password, or a login under 5 minutes)', tag: 'sessions', access: 'session', unsafe: true,
    parameters: [{ name: 'id', in: 'path', required: true, description: 'The session reference from GET /auth/sessions.', schema: { type: 'string', minLength: 1 } }],
    body: { schema: 'Reauthentication', required: false },
    success: { 200: { description: 'Ended (`endedSessions` 0 when it had already ended).', headers: header('Cache-Control', true), content: json(ref('EndedSession')) } },
    errors: ['reauthentication_required'],
  },
  {
    method: 'post', path: '/auth/password', summary: 'Change the password; other sessions end unless keepOtherSessions', tag: 'sessions', access: 'session', unsafe: true,
    body: { schema: 'PasswordChange', required: true },
    success: { 200: { description: 'Changed. Unless the other sessions were kept, every session ended and this browser got a new one (cookies and CSRF token).', headers: SESSION_ISSUED_HEADERS, content: json(ref('PasswordChanged')) } },
    errors: ['reauthentication_required', 'password_rejected'],
  },
  {
    method: 'delete', path: '/admin/users/{name}/sessions', summary: 'End every session of one user (role admin; logged as authz_admin)', tag: 'sessions', access: 'admin', unsafe: true,
    parameters: [{ name: 'name', in: 'path', required: true, description: 'The user name (normalized as at login).', schema: { type: 'string', minLength: 1 } }],
    success: { 200: { description: 'The user\'s sessions are ended (0 for a name that has none, or no such user).', headers: header('Cache-Control', true), content: json(ref('EndedSessions')) } },
  },
  {
    method: 'post', path: '/admin/sessions/revoke-all', summary: 'Global cut-off: end every session, the caller\'s too (role admin; logged as authz_admin)', tag: 'sessions', access: 'admin', unsafe: true,
    success: { 200: { description: 'Every session started until now is ended; later logins work.', headers: header('Cache-Control', true), content: json(ref('RevokedAll')) } },
  },
  {
    method: 'get', path: '/auth/login-history', summary: 'The signed-in user\'s recent logins, newest first', tag: 'login history', access: 'session',
    parameters: [{ $ref: '#/components/parameters/size' }, { $ref: '#/components/parameters/cursor' }],
    success: { 200: { description: 'One page of logins.', headers: header('Cache-Control', true), content: json(ref('LoginHistoryPage')) } },
    errors: ['invalid_request', 'dependency_unavailable'],
  },
  {
    method: 'get', path: '/admin/users/{name}/login-history', summary: 'Anyone\'s recent logins (role admin; logged as authz_admin)', tag: 'login history', access: 'admin',
    parameters: [
      { name: 'name', in: 'path', required: true, description: 'The user name (normalized as at login).', schema: { type: 'string', minLength: 1 } },
      { $ref: '#/components/parameters/size' }, { $ref: '#/components/parameters/cursor' },
    ],
    success: { 200: { description: 'One page of logins.', headers: header('Cache-Control', true), content: json(ref('LoginHistoryPage')) } },
    errors: ['invalid_request', 'dependency_unavailable'],
  },
  {
    method: 'get', path: '/api/hello', summary: 'Any signed-in user', tag: 'example API', access: 'session',
    success: { 200: { description: 'A greeting.', content: json(ref('Hello')) } },
  },
  {
    method: 'get', path: '/api/admin/stats', summary: 'Role admin only', tag: 'example API', access: 'admin',
    success: { 200: { description: 'Process figures.', content: json(ref('AdminStats')) } },
  },
  {
    method: 'post', path: '/api/notes', summary: 'Any signed-in user; shows the CSRF header in use', tag: 'example API', access: 'session', unsafe: true,
    body: { schema: 'NoteRequest', required: true },
    success: { 201: { description: 'The note as stored.', content: json(ref('NoteCreated')) } },
    errors: ['invalid_request'],
  },
  {
    method: 'get', path: '/healthz', summary: 'Liveness and the state of the event pipeline', tag: 'operations', access: 'public',
    success: { 200: { description: 'Always 200 while the process serves; `degraded` asks operators to look. Only `status` for the public; `sessionStore`, `shipper` and the rest for a session with the admin role.', headers: header('Cache-Control', true), content: json(ref('Health')) } },
  },
  {
    method: 'get', path: OPENAPI_PATH, summary: 'This document', tag: 'operations', access: 'public',
    success: { 200: { description: 'The OpenAPI 3.1 description of this server.', content: json({ type: 'object' }) } },
  },
];

/** Errors every operation of a kind can answer, on top of its own. */
function commonErrors(op: Operation): ErrorCode[] {
  // dependency_unavailable: with SPOOL_ON_FAILURE=refuse, every route but the health check answers 503 while the
  // spool cannot be written.
  const codes: ErrorCode[] = op.path === '/healthz' ? ['internal_error'] : ['internal_error', 'dependency_unavailable'];
  if (op.unsafe) codes.push('csrf_failed', 'invalid_json', 'invalid_request', 'payload_too_large', 'unsupported_media_type');
  if (op.access === 'session' || op.access === 'admin') codes.push('token_invalid', 'token_expired', 'store_unavailable');
  if (op.access === 'admin') codes.push('forbidden');
  return codes;
}

/** The error responses of an operation: one per status, its body's code narrowed to the codes of that status. */
function errorResponses(op: Operation): Record<string, object> {
  const codes = [...new Set([...(op.errors ?? []), ...commonErrors(op)])];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ERROR_CODES[code].status, [...(byStatus.get(ERROR_CODES[code].status) ?? []), code]);
  const responses: Record<string, object> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    list.sort();
    const headers = {
      ...(status === 401 ? header('WWW-Authenticate', true) : {}),
      ...(status === 429 ? header('Retry-After', true) : {}),
      // A refresh that fails for good clears the cookies; any other error may too (never required).
      ...(op.path === '/auth/refresh' && status === 401 ? header('Set-Cookie') : {}),
    };
    responses[status] = {
      description: list.map((code) => `\`${code}\`: ${ERROR_CODES[code].message}`).join(' '),
      ...(Object.keys(headers).length ? { headers } : {}),
      content: json({ allOf: [ref('Error'), { properties: { error: { properties: { code: { enum: list } } } } }] }),
    };
  }
  return responses;
}

function security(op: Operation): object[] | undefined {
  const guarded = (cookie: string): object[] => (op.unsafe ? [{ [cookie]: [], csrfHeader: [] }, { bearerAuth: [] }] : [{ [cookie]: [] }, { bearerAuth: [] }]);
  if (op.access === 'session' || op.access === 'admin') return guarded('accessCookie');
  if (op.access === 'refresh') return [{ refreshCookie: [] }];
  return [{}];
}

function withRequestId(responses: Record<string, object>): Record<string, object> {
  return Object.fromEntries(Object.entries(responses).map(([status, response]) => {
    const r = response as { headers?: object };
    return [status, { ...response, headers: { ...header('X-Request-Id', true), ...r.headers } }];
  }));
}

function operationObject(op: Operation): object {
  const id = `${op.method}${op.path.replace(/[{}]/g, '').split(/[/.-]/).filter(Boolean).map((part) => part[0]!.toUpperCase() + part.slice(1)).join('')}`;
  const access = {
    public: 'Public.',
    session: 'Needs a session: the access cookie (with X-CSRF-Token on unsafe methods) or, when the server accepts it, a bearer token.',
    admin: 'Needs a session whose user has the role `admin`.',
    refresh: 'Needs the refresh cookie (sent by the browser to this path only).',
  }[op.access];
  return {
    operationId: id,
    summary: op.summary,
    description: `${access}${op.unsafe ? ' Unsafe method: a cross-site Origin or Sec-Fetch-Site is refused with 403 csrf_failed.' : ''}`,
    tags: [op.tag],
    security: security(op),
    ...(op.parameters ? { parameters: op.parameters } : {}),
    ...(op.body ? { requestBody: { required: op.body.required, content: json(ref(op.body.schema)) } } : {}),
    responses: withRequestId({ ...op.success, ...errorResponses(op) }),
  };
}

/** The browser client's files: described as what they are, not fuzzed for JSON. */
function webOperations(): Record<string, object> {
  return Object.fromEntries(Object.entries(WEB_ASSETS).map(([path, asset]) => [path, {
    get: {
      operationId: path === '/' ? 'getBrowserClient' : `getWebAsset${path.slice(1).replace(/\.(\w)/, (_, c: string) => c.toUpperCase()).replace(/^\w/, (c) => c.toUpperCase())}`,
      summary: path === '/' ? 'The browser client (HTML)' : `The browser client's ${path.slice(1)}`,
      tags: ['browser client'],
      security: [{}],
      responses: withRequestId({
        200: { description: 'The file.', headers: { ...header('Cache-Control', true), ...header('ETag', true) }, content: { [asset.type.split(';')[0]!]: { schema: { type: 'string' } } } },
        304: { description: 'Not modified (If-None-Match matched the ETag).', headers: header('ETag', true) },
      }),
    },
  }]));
}

const SCHEMAS = {
  ErrorCode: { type: 'string', enum: Object.keys(ERROR_CODES), description: 'Stable error codes; the status of each is fixed (see the README).' },
  Error: {
    type: 'object', required: ['error'], additionalProperties: false,
    properties: { error: { type: 'object', required: ['code', 'message'], additionalProperties: false, properties: { code: ref('ErrorCode'), message: { type: 'string' } } } },
  },
  JsonBody: {
    description: 'Any JSON value without a `__proto__` key at any depth: the body parser refuses one with 400 invalid_json (prototype poisoning).',
    propertyNames: { not: { const: '__proto__' } },
    additionalProperties: ref('JsonBody'),
    items: ref('JsonBody'),
  },
  LoginRequest: {
    type: 'object', required: ['username', 'password'],
    properties: { username: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 1024 } },
    propertyNames: { not: { const: '__proto__' } },
    additionalProperties: ref('JsonBody'),
    description: 'Anything else (a missing field, a wrong type, not an object) is a failed login: 401 login_failed.',
  },
  User: {
    type: 'object', required: ['id', 'name', 'roles'], additionalProperties: false,
    properties: { id: { type: 'string' }, name: { type: 'string' }, roles: { type: 'array', items: { type: 'string' } } },
  },
  SessionIssued: {
    type: 'object', required: ['user', 'csrfToken', 'accessExpiresAt', 'sessionExpiresAt'], additionalProperties: false,
    properties: {
      user: ref('User'),
      csrfToken: { type: 'string', minLength: 1, description: `Send it back in ${CSRF_HEADER} on unsafe requests.` },
      accessExpiresAt: { type: 'string', format: 'date-time' },
      sessionExpiresAt: { type: 'string', format: 'date-time', description: 'The absolute end of the session: no refresh after it.' },
    },
  },
  Me: {
    type: 'object', required: ['user', 'session', 'csrfToken'], additionalProperties: false,
    properties: {
      user: ref('User'),
      session: {
        type: 'object', required: ['id', 'accessExpiresAt'], additionalProperties: false,
        properties: { id: { type: 'string', description: 'A keyed hash of the session id, as in the security events.' }, accessExpiresAt: { type: 'string', format: 'date-time' } },
      },
      csrfToken: { type: 'string', minLength: 1 },
    },
  },
  SessionList: {
    type: 'object', required: ['sessions'], additionalProperties: false,
    properties: {
      sessions: {
        type: 'array',
        items: {
          type: 'object', required: ['id', 'createdAt', 'lastUsedAt', 'expiresAt', 'device', 'sourceIp', 'current'], additionalProperties: false,
          properties: {
            id: { type: 'string', description: 'A keyed hash of the session id (never the id), as in GET /auth/me.' },
            createdAt: { type: 'string', format: 'date-time' },
            lastUsedAt: { type: 'string', format: 'date-time' },
            expiresAt: { type: 'string', format: 'date-time', description: 'The absolute end of the session.' },
            device: { type: ['string', 'null'], description: 'Browser and OS from the User-Agent, e.g. "Firefox 128 on Ubuntu".' },
            sourceIp: { type: ['string', 'null'] },
            current: { type: 'boolean' },
          },
        },
      },
    },
  },
  Reauthentication: {
    type: 'object', properties: { password: { type: 'string', maxLength: 1024 } },
    propertyNames: { not: { const: '__proto__' } },
    additionalProperties: ref('JsonBody'),
    description: 'The current password; may be left out within 5 minutes of this session\'s login. A wrong one is 403 reauthentication_required (5 end the session).',
  },
  EndedSessions: { type: 'object', required: ['endedSessions'], additionalProperties: false, properties: { endedSessions: { type: 'integer', minimum: 0 } } },
  EndedSession: {
    type: 'object', required: ['endedSessions', 'current'], additionalProperties: false,
    properties: { endedSessions: { type: 'integer', minimum: 0, maximum: 1 }, current: { type: 'boolean', description: 'It was the requesting session.' } },
  },
  PasswordChange: {
    type: 'object', required: ['currentPassword', 'newPassword'],
    properties: { currentPassword: { type: 'string' }, newPassword: { type: 'string', minLength: 8, maxLength: 128 }, keepOtherSessions: { type: 'boolean', default: false } },
    propertyNames: { not: { const: '__proto__' } },
    additionalProperties: ref('JsonBody'),
    description: 'The new password must pass the password policy (8-128 characters, not common, not built from the username or the service name): 400 password_rejected says why.',
  },
  PasswordChanged: {
    oneOf: [
      { type: 'object', required: ['endedSessions'], additionalProperties: false, properties: { endedSessions: { const: 0 } } },
      {
        type: 'object', required: ['user', 'csrfToken', 'accessExpiresAt', 'sessionExpiresAt', 'endedSessions'], additionalProperties: false,
        properties: {
          user: ref('User'), csrfToken: { type: 'string', minLength: 1 }, accessExpiresAt: { type: 'string', format: 'date-time' },
          sessionExpiresAt: { type: 'string', format: 'date-time' }, endedSessions: { type: 'integer', minimum: 0 },
        },
      },
    ],
  },
  RevokedAll: { type: 'object', required: ['revokedBefore'], additionalProperties: false, properties: { revokedBefore: { type: 'string', format: 'date-time' } } },
  LogoutAll: { type: 'object', required: ['revokedSessions'], additionalProperties: false, properties: { revokedSessions: { type: 'integer', minimum: 0 } } },
  LoginHistoryPage: {
    type: 'object', required: ['logins', 'nextCursor'], additionalProperties: false,
    properties: {
      logins: {
        type: 'array',
        items: {
          type: 'object', required: ['time', 'outcome', 'action', 'sourceIp', 'userAgent'], additionalProperties: false,
          properties: {
            time: { type: 'string', format: 'date-time' },
            outcome: { type: 'string', enum: ['success', 'failure'] },
            action: { type: 'string', enum: ['authn_login_success', 'authn_login_successafterfail', 'authn_login_fail'] },
            sourceIp: { type: ['string', 'null'] },
            userAgent: { type: ['string', 'null'] },
          },
        },
      },
      nextCursor: { type: ['string', 'null'], description: 'Pass back as `cursor` for the next (older) page; null at the end.' },
    },
  },
  Hello: { type: 'object', required: ['message'], additionalProperties: false, properties: { message: { type: 'string' } } },
  AdminStats: {
    type: 'object', required: ['uptimeSeconds', 'memoryRss'], additionalProperties: false,
    properties: { uptimeSeconds: { type: 'integer', minimum: 0 }, memoryRss: { type: 'integer', minimum: 0 } },
  },
  NoteRequest: {
    type: 'object', required: ['text'], properties: { text: { type: 'string', maxLength: MAX_NOTE_LENGTH } },
    propertyNames: { not: { const: '__proto__' } },
    additionalProperties: ref('JsonBody'),
    description: 'Anything else is 400 invalid_request.',
  },
  NoteCreated: {
    type: 'object', required: ['note'], additionalProperties: false,
    properties: { note: { type: 'object', required: ['text', 'author'], additionalProperties: false, properties: { text: { type: 'string' }, author: { type: 'string' } } } },
  },
  Health: {
    type: 'object', required: ['status'],
    properties: {
      status: { type: 'string', enum: ['ok', 'degraded'] },
      sessionStore: { type: 'object', required: ['store'], properties: { store: { type: 'string', enum: ['memory', 'redis'] }, connected: { type: 'boolean' } } },
      shipper: {
        type: 'object',
        required: ['queueDepth', 'delivered', 'deadLettered', 'dropped', 'elasticsearchReachable'],
        properties: {
          queueDepth: { type: 'integer', minimum: 0 }, delivered: { type: 'integer', minimum: 0 }, deadLettered: { type: 'integer', minimum: 0 },
          dropped: { type: 'integer', minimum: 0 }, elasticsearchReachable: { type: 'boolean' },
          droppedSecurity: { type: 'integer', minimum: 0, description: 'Security events lost because the spool could not be written.' },
          spoolWritable: { type: 'boolean', description: 'false from a failed spool write until a write or the probe succeeds.' },
        },
      },
      elasticsearch: { const: 'not configured' },
    },
    description: 'Never an error text: the route is public. Apps may add fields of their own.',
  },
} as const;

const HEADERS = {
  'X-Request-Id': { description: 'The request id: the client\'s own when short and plain, otherwise a new UUID. It is in every log record of the request.', schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' } },
  'Set-Cookie': {
    description: `The session cookies: ${SESSION_COOKIES.access} (HttpOnly, Lax, Path=/), ${SESSION_COOKIES.refresh} (HttpOnly, Strict, Path=/auth/refresh) and ${SESSION_COOKIES.csrf} (Strict, readable by the page). Cleared with Max-Age=0.`,
    schema: { type: 'string' },
  },
  'Cache-Control': { description: 'no-store on session and history responses; no-cache (with ETag) on the browser client\'s script and style.', schema: { type: 'string' } },
  'Clear-Site-Data': { description: 'Asks the browser to drop cache, cookies and storage.', schema: { type: 'string', const: '"cache", "cookies", "storage"' } },
  'Retry-After': { description: 'Seconds until another login attempt may succeed.', schema: { type: 'string', pattern: '^[0-9]+$' } },
  'WWW-Authenticate': { description: 'Every 401 names the bearer scheme (RFC 6750 §3).', schema: { type: 'string' } },
  ETag: { description: 'A strong validator of the file.', schema: { type: 'string' } },
} as const;

export interface OpenApiOptions {
  /** The server URL(s) clients should use. Default: relative ("/"). */
  servers?: readonly string[];
  /** info.version. Default: the package's version. */
  version?: string;
}

/** The OpenAPI 3.1 document of the reference server. Build it once; it is plain JSON. */
export function buildOpenApi(options: OpenApiOptions = {}): Record<string, unknown> {
  const paths: Record<string, Record<string, object>> = {};
  for (const op of OPERATIONS) (paths[op.path] ??= {})[op.method] = operationObject(op);
  return {
    openapi: '3.1.0',
    info: {
      title: 'koa-sentinel reference server',
      version: options.version ?? packageVersion(),
      summary: 'Cookie JWT sessions with CSRF, login history and an example API.',
      description: 'Errors are always `{"error":{"code":"...","message":"..."}}` with a stable code. Every response carries X-Request-Id, '
        + 'X-Content-Type-Options: nosniff, X-Frame-Options: DENY, Referrer-Policy: no-referrer and a `default-src \'none\'` Content-Security-Policy. '
        + 'Methods a path does not answer get 405 method_not_allowed (with Allow); unknown paths 404 not_found.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: (options.servers ?? ['/']).map((url) => ({ url })),
    tags: [
      { name: 'auth', description: 'Log in, refresh, log out: the cookie session.' },
      { name: 'sessions', description: 'The user\'s sessions and password (ASVS 7.4, 7.5), and the administrators\' revocations.' },
      { name: 'login history', description: 'Read from the security events in Elasticsearch; 503 dependency_unavailable without it.' },
      { name: 'example API', description: 'How an app protects its own routes.' },
      { name: 'operations', description: 'Health and this document.' },
      { name: 'browser client', description: 'A page for trying the session in a browser.' },
    ],
    paths: { ...paths, ...webOperations() },
    components: {
      schemas: SCHEMAS,
      headers: HEADERS,
      parameters: {
        size: { name: 'size', in: 'query', required: false, description: 'Logins per page. Default 20.', schema: { type: 'integer', minimum: 1, maximum: 100 } },
        cursor: { name: 'cursor', in: 'query', required: false, description: 'The `nextCursor` of the previous page; any other value is 400 invalid_request.', schema: { type: 'string', minLength: 1 } },
      },
      securitySchemes: {
        accessCookie: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIES.access, description: 'The access token (a JWT), set by login and refresh.' },
        refreshCookie: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIES.refresh, description: 'The refresh token, sent only to POST /auth/refresh.' },
        csrfHeader: { type: 'apiKey', in: 'header', name: CSRF_HEADER, description: `The session's CSRF token (login and refresh return it; the ${SESSION_COOKIES.csrf} cookie holds it too). Required on unsafe requests under a cookie session.` },
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The access token in Authorization, when the server accepts bearer tokens (BEARER_AUTH=true). It wins over the cookie; no CSRF header is needed.' },
      },
    },
  };
}

function packageVersion(): string {
  // Two levels up from both src/service/ and dist/service/.
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
