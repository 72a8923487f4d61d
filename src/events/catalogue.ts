/**
 * Every security event the stack emits: its OWASP Logging Vocabulary name (`event.action`), ECS categorisation and
 * log level. The table in docs/events.md#catalogue is generated from this object (`npm run docs`) and
 * test/events/catalogue.test.ts keeps the two in step.
 *
 * Names outside the OWASP vocabulary are ours and say so in `vocabulary`: the vocabulary has no event for
 * "a token failed validation", "a CSRF check refused a request" or "a user logged out", and all matter to security
 * staff.
 *
 * Categorisation follows the ECS schema: every `event.type` is one that at least one of the entry's categories
 * expects (`expected_event_types`; authentication expects start/end/info, session start/end/info, iam
 * admin/change/creation/deletion/group/info/user, web access/error/info, intrusion_detection allowed/denied/info).
 * A refusal is `event.outcome: failure`; `denied` only where a security control (intrusion_detection) refused.
 * Levels follow the vocabulary, except where docs/events.md#levels says why not.
 */

export type EventOutcome = 'success' | 'failure' | 'unknown';
/** `critical` is the vocabulary's CRITICAL; it is logged at bunyan's highest level (fatal, 60). */
export type EventLevel = 'info' | 'warn' | 'error' | 'critical';

export interface CatalogueEntry {
  category: readonly string[];
  type: readonly string[];
  outcome: EventOutcome;
  level: EventLevel;
  vocabulary: 'owasp' | 'sentinel';
  /** One line for the table in docs/events.md and the default `message`. */
  description: string;
  /** `event.reason` values this event may carry. */
  reasons?: readonly string[];
}

export const EVENT_CATALOGUE = {
  authn_login_success: {
    category: ['authentication'], type: ['start'], outcome: 'success', level: 'info', vocabulary: 'owasp',
    description: 'A user logged in.',
  },
  authn_login_successafterfail: {
    category: ['authentication'], type: ['start'], outcome: 'success', level: 'info', vocabulary: 'owasp',
    description: 'A user logged in after one or more failed attempts from the same source.',
  },
  authn_login_fail: {
    category: ['authentication'], type: ['start'], outcome: 'failure', level: 'warn', vocabulary: 'owasp',
    description: 'A login attempt failed. The client always sees the same 401; the reason is logged.',
    reasons: ['unknown_user', 'bad_password', 'disabled', 'malformed', 'reauthentication', 'token_too_large'],
  },
  authn_login_lock: {
    category: ['authentication'], type: ['info'], outcome: 'failure', level: 'warn', vocabulary: 'owasp',
    description: 'Failed logins crossed a throttling threshold: further attempts are delayed.',
    reasons: ['account', 'account_source', 'source', 'device'],
  },
  authn_login_fail_max: {
    category: ['authentication'], type: ['info'], outcome: 'failure', level: 'warn', vocabulary: 'owasp',
    description: 'Failed logins took a throttling scope to its longest delay: every further failure waits the maximum.',
    reasons: ['account', 'account_source', 'source', 'device'],
  },
  excess_rate_limit_exceeded: {
    category: ['authentication', 'intrusion_detection'], type: ['denied'], outcome: 'failure', level: 'warn', vocabulary: 'owasp',
    description: 'A login attempt was refused with 429: its account, source or device was throttled.',
    reasons: ['account', 'account_source', 'source', 'device'],
  },
  session_created: {
    category: ['session'], type: ['start'], outcome: 'success', level: 'info', vocabulary: 'owasp',
    description: 'A new session (refresh family) was created at login.',
  },
  authn_token_created: {
    category: ['authentication'], type: ['info'], outcome: 'success', level: 'info', vocabulary: 'owasp',
    description: 'An access and refresh token pair was issued (login or refresh). Only the jti is logged.',
  },
  session_renewed: {
    category: ['session'], type: ['info'], outcome: 'success', level: 'info', vocabulary: 'owasp',
    description: 'A refresh token was rotated.',
  },
  authn_token_reuse: {
    category: ['authentication', 'intrusion_detection'], type: ['denied'], outcome: 'failure', level: 'error', vocabulary: 'owasp',
    description: 'A dead token came back: a refresh token already rotated, however long ago (its whole family is revoked), or a token of a session that was revoked (logout, reuse detection, credential change).',
    reasons: ['rotated', 'revoked'],
  },
  authn_token_invalid: {
    category: ['authentication'], type: ['info'], outcome: 'failure', level: 'warn', vocabulary: 'sentinel',
    description: 'A token failed validation. The client sees token_invalid or token_expired only.',
    reasons: [
      'missing', 'expired', 'not_before', 'malformed', 'oversized', 'bad_signature', 'algorithm', 'unknown_kid',
      'forbidden_header', 'wrong_type', 'wrong_issuer', 'wrong_audience', 'missing_claim', 'revoked', 'duplicate_cookie',
      'user_disabled', 'reuse', 'credentials_changed', 'token_too_large',
    ],
  },
  session_expired: {
    category: ['session'], type: ['end'], outcome: 'failure', level: 'info', vocabulary: 'owasp',
    description: 'A session passed its idle or absolute timeout: the first refresh to find it so ends it for good.',
    reasons: ['idle', 'absolute'],
  },
  session_use_after_expire: {
    category: ['session'], type: ['info'], outcome: 'failure', level: 'warn', vocabulary: 'owasp',
    description: 'A token of a session that had already expired was presented again (refused with token_expired).',
    reasons: ['idle', 'absolute'],
  },
  refresh_conflict: {
    category: ['session'], type: ['info'], outcome: 'failure', level: 'info', vocabulary: 'sentinel',
    description: 'A refresh token rotated seconds ago was presented again by a concurrent request (grace window, not reuse).',
  },
  authn_token_revoked: {
    category: ['authentication'], type: ['end'], outcome: 'success', level: 'info', vocabulary: 'owasp',
    description: 'Tokens were revoked server-side (logout, logout everywhere, or reuse detection).',
    reasons: [
      'logout', 'logout_all', 'reuse', 'user_disabled', 'credentials_changed', 'relogin', 'session_cap', 'user_ended',
      'user_ended_others', 'password_change', 'reauth_failures', 'admin', 'admin_all', 'token_too_large',
    ],
  },
  session_logout: {
    category: ['session'], type: ['end'], outcome: 'success', level: 'info', vocabulary: 'sentinel',
    description: 'A user logged out of one session, or of every session (reason logout_all).',
    reasons: ['logout', 'logout_all'],
  },
  authn_password_change: {
    category: ['iam'], type: ['user', 'change'], outcome: 'success', level: 'info', vocabulary: 'owasp',
    description: 'A user changed their password, ending their other sessions (ended_sessions) or keeping them (kept_sessions).',
    reasons: ['ended_sessions', 'kept_sessions'],
  },
  authn_password_change_fail: {
    category: ['iam'], type: ['user', 'change'], outcome: 'failure', level: 'warn', vocabulary: 'owasp',
    description: 'A new password was refused by the password policy (ASVS 6.2); the password itself is never logged.',
    reasons: ['too_short', 'too_long', 'guessable', 'unchanged', 'breached'],
  },
  authz_fail: {
    category: ['iam'], type: ['info'], outcome: 'failure', level: 'critical', vocabulary: 'owasp',
    description: 'An authenticated user was refused a resource for lack of a role (403); the roles it needs are in sentinel.required_roles.',
    reasons: ['missing_role'],
  },
  authz_admin: {
    category: ['iam'], type: ['admin'], outcome: 'success', level: 'warn', vocabulary: 'owasp',
    description: 'An administrator used a privileged function (another user\'s login history, ending sessions; app_function: one of the application\'s own, named in the message); the user acted on is in user.target.',
    reasons: ['login_history', 'revoke_user_sessions', 'revoke_all_sessions', 'app_function'],
  },
  malicious_csrf: {
    category: ['web', 'intrusion_detection'], type: ['denied'], outcome: 'failure', level: 'warn', vocabulary: 'sentinel',
    description: 'An unsafe request failed the CSRF checks (403 csrf_failed).',
    reasons: ['cross_site', 'origin_mismatch', 'referer_mismatch', 'no_origin', 'token_missing', 'token_mismatch'],
  },
  input_validation_fail: {
    category: ['web'], type: ['error'], outcome: 'failure', level: 'warn', vocabulary: 'owasp',
    description: 'A request was refused for its form (bad JSON, wrong content type, too large), or a forwarded client address that is no IP address was ignored (forwarded_for: the socket address is used).',
    reasons: ['invalid_json', 'unsupported_media_type', 'payload_too_large', 'invalid_request', 'forwarded_for'],
  },
} as const satisfies Record<string, CatalogueEntry>;

export type EventAction = keyof typeof EVENT_CATALOGUE;

export function isEventAction(value: string): value is EventAction {
  return Object.hasOwn(EVENT_CATALOGUE, value);
}
