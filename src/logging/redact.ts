/**
 * Redaction applied to every record before it is written anywhere (ASVS 16.2.5: never log tokens, passwords,
 * cookies or secrets). Two nets: fields whose *name* says secret, and string values whose *shape* says token
 * (a JWT, a Bearer or Basic credential), wherever they hide.
 */

export const REDACTED = '[REDACTED]';

// snake_case, kebab-case and camelCase alike: accessToken, access_token, access-token.
export const SECRET_KEY = /^(authorization|proxy-authorization|cookie|set-cookie|x-csrf-token|password|passwd|pass|secret|client[-_]?secret|token|access[-_]?token|refresh[-_]?token|id[-_]?token|api[-_]?key|x-api-key|csrf[-_]?token|session[-_]?token|jwt)$/i;
const secretKeys = new Map<string, boolean>();
/**
 * Whether a field name says secret. Logs repeat the same few dozen names, so the answer is remembered (bounded:
 * names are chosen by code, not clients, but the cache never grows past a few thousand anyway).
 */
export function isSecretKey(key: string): boolean {
  let known = secretKeys.get(key);
  if (known === undefined) {
    known = SECRET_KEY.test(key);
    if (secretKeys.size < 4096) secretKeys.set(key, known);
  }
  return known;
}
const MARKER = /bearer|basic|apikey/i;
// Dots may arrive percent-encoded (a token copied from a URL).
const JWT = /eyJ[A-Za-z0-9_-]{4,}(?:\.|%2[Ee])[A-Za-z0-9_-]{4,}(?:\.|%2[Ee])[A-Za-z0-9_-]*/g;
const CREDENTIAL = /\b(Bearer|Basic|ApiKey)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
const MAX_DEPTH = 12;

/**
 * Marks an object our own code built from values it already redacted (the access record's parts, built for every
 * request): redact() copies it one level deep instead of walking it. A symbol key, so no client can set it (JSON
 * has no symbols) and no serializer writes it; bunyan's copy of a record keeps nested objects, marks included.
 */
export const PREREDACTED: unique symbol = Symbol('koa-sentinel.preredacted');

/** A redacted copy of `value`; the input is never modified. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[TRUNCATED]';
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  if (value instanceof Date) return value;
  if ((value as { [PREREDACTED]?: true })[PREREDACTED] === true) {
    // A shallow copy still (enrichment adds fields to the document's objects, never to the caller's), unmarked.
    const { [PREREDACTED]: _marker, ...copy } = value as { [PREREDACTED]?: true };
    return copy;
  }
  const out: Record<string, unknown> = {};
  const source = value as Record<string, unknown>;
  for (const key in source) {
    if (!Object.hasOwn(source, key)) continue;
    const item = source[key];
    out[key] = item !== undefined && item !== null && item !== '' && isSecretKey(key) ? REDACTED : redact(item, depth + 1);
  }
  return out;
}

export function redactString(text: string): string {
  // Fast path: almost every string is too short to hold a credential, or has neither marker.
  if (text.length < 14 || (!text.includes('eyJ') && !MARKER.test(text))) return text;
  return text.replace(JWT, '[REDACTED:jwt]').replace(CREDENTIAL, (_m, scheme: string) => `${scheme} ${REDACTED}`);
}
