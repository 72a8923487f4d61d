/**
 * One error class for the whole stack, with a table of stable codes.
 *
 * Clients see `{ "error": { "code", "message" } }` built from this table and nothing else: the internal
 * `reason` (why a token failed, which store call broke) goes to the security event and the log only, so an
 * attacker probing tokens learns "invalid" or "expired" and no more (OWASP JWT cheat sheet, ASVS 16.5.1).
 */

export const ERROR_CODES = {
  // 400: the request body is not valid JSON.
  invalid_json: { status: 400, message: 'The request body is not valid JSON.' },
  // 400: the request is well-formed but a field is missing or of the wrong type (never used for login).
  invalid_request: { status: 400, message: 'The request is invalid.' },
  // 401: no usable access token: absent, malformed, bad signature, wrong type, revoked. Deliberately vague.
  token_invalid: { status: 401, message: 'Authentication is required.' },
  // 401: the access or refresh token has expired; the client should refresh or log in again.
  token_expired: { status: 401, message: 'The session has expired.' },
  // 401: every login failure, whatever the cause (ASVS 6.3.8: one message, one status, one timing).
  login_failed: { status: 401, message: 'Invalid username or password.' },
  // 403: the user is authenticated but lacks the role the route requires.
  forbidden: { status: 403, message: 'You are not allowed to do this.' },
  // 403: ending sessions or changing the password needs the current password again (or a recent login); also a
  // wrong current password, which never ends the session but counts toward ending it.
  reauthentication_required: { status: 403, message: 'Confirm your password to do this.' },
  // 400: the new password breaks the password policy (ASVS 6.2: too short, too long, guessable); the message says how.
  password_rejected: { status: 400, message: 'The new password does not meet the password policy.' },
  // 403: an unsafe request failed the CSRF checks (cross-site origin or missing/wrong X-CSRF-Token).
  csrf_failed: { status: 403, message: 'The request failed the cross-site request forgery check.' },
  // 404: no route.
  not_found: { status: 404, message: 'Not found.' },
  // 405: the route exists but not for this method.
  method_not_allowed: { status: 405, message: 'Method not allowed.' },
  // 409: a concurrent request already rotated this refresh token moments ago; retry with the current cookies.
  refresh_conflict: { status: 409, message: 'The session was refreshed by another request; retry.' },
  // 413: the body or a header is larger than allowed.
  payload_too_large: { status: 413, message: 'The request is too large.' },
  // 415: the body is not application/json.
  unsupported_media_type: { status: 415, message: 'The request body must be application/json.' },
  // 429: too many failed logins for this account or source; see Retry-After.
  too_many_requests: { status: 429, message: 'Too many attempts; try again later.' },
  // 500: anything unexpected. The cause is logged, never sent.
  internal_error: { status: 500, message: 'Internal server error.' },
  // 503: the session store (memory or Redis) cannot answer; requests fail closed.
  store_unavailable: { status: 503, message: 'The session service is temporarily unavailable.' },
  // 503: Elasticsearch (or another dependency) cannot answer in time.
  dependency_unavailable: { status: 503, message: 'A backing service is temporarily unavailable.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface SentinelErrorOptions {
  /** Why, for the log and the security event only; never sent to the client. */
  reason?: string;
  /** The error that caused this one. */
  cause?: unknown;
  /** Response headers the error carries, e.g. Retry-After. */
  headers?: Record<string, string>;
  /** Overrides the table's message (still exposed to clients: keep it generic). */
  message?: string;
}

export class SentinelError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Whether `message` may be shown to a client. 5xx never are; their message is replaced by the table's. */
  readonly expose: boolean;
  readonly reason: string | undefined;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, options: SentinelErrorOptions = {}) {
    const entry = ERROR_CODES[code];
    super(options.message ?? entry.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SentinelError';
    this.code = code;
    this.status = entry.status;
    this.expose = entry.status < 500;
    this.reason = options.reason;
    this.headers = options.headers ?? {};
  }

  /** The only shape a client ever receives. */
  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.expose ? this.message : ERROR_CODES[this.code].message } };
  }
}

/**
 * Stable codes of ConfigurationError. Most problems are `config_invalid`; the secret codes let a caller (or a
 * test) tell a weak key apart from a typo without parsing the message.
 */
export const CONFIGURATION_ERROR_CODES = {
  // An option (or, from loadConfig, an environment variable) is missing, of the wrong type or out of range.
  config_invalid: 'An option has a value that cannot be used.',
  // An HMAC secret is shorter than its algorithm's hash output: 32, 48 or 64 bytes for HS256, HS384, HS512
  // (RFC 7518 §3.2).
  config_secret_short: 'An HMAC secret is too short for its algorithm.',
  // An HMAC secret is long enough but guessable: a placeholder word, or fewer than 10 distinct characters.
  config_secret_weak: 'An HMAC secret is guessable.',
  // A secret written as `base64url:<text>` whose text is not base64url.
  config_secret_encoding: 'An HMAC secret is not valid base64url after its base64url: prefix.',
  // A geolocation database that was configured cannot be used: missing, unreadable, not an MMDB, or of the wrong kind.
  config_geo_database: 'A geolocation database cannot be opened.',
} as const;

export type ConfigurationErrorCode = keyof typeof CONFIGURATION_ERROR_CODES;

export interface ConfigurationErrorOptions {
  /** Defaults to `config_invalid`. */
  code?: ConfigurationErrorCode;
  /** The option the problem is about, e.g. `secret`; loadConfig names environment variables in the message. */
  option?: string;
  cause?: unknown;
}

/** Raised at start-up by option and configuration validation; never reaches a client. */
export class ConfigurationError extends Error {
  readonly code: ConfigurationErrorCode;
  readonly option: string | undefined;
  readonly problems: readonly string[];

  constructor(problems: readonly string[] | string, options: ConfigurationErrorOptions = {}) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.length === 1 ? list[0] : `Invalid configuration:\n  - ${list.join('\n  - ')}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConfigurationError';
    this.code = options.code ?? 'config_invalid';
    this.option = options.option;
    this.problems = list;
  }
}

/**
 * Elasticsearch could not be used, said in words an operator can act on. `code` is stable:
 * es_unreachable (network, DNS, TLS, timeout), es_auth (401), es_forbidden (403), es_version (unsupported major),
 * es_request (anything else Elasticsearch refused).
 */
export class ElasticsearchError extends Error {
  readonly code: 'es_unreachable' | 'es_auth' | 'es_forbidden' | 'es_version' | 'es_request';

  constructor(code: ElasticsearchError['code'], message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ElasticsearchError';
    this.code = code;
  }
}

export function isSentinelError(value: unknown): value is SentinelError {
  return value instanceof SentinelError;
}
