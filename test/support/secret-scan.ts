/**
 * The secrets scanner of the final scan (test/final/no-secrets.test.ts; its canary test is test/final/scanner.test.ts):
 * looks through a text (an Elasticsearch document as JSON, a spool chunk, a dead letter, a log) for
 *
 * - the generic shapes of a secret (SHAPES below): a JWT, also with percent-encoded dots; a session cookie with its
 *   value, as a cookie pair or as a JSON key; Bearer, Basic and ApiKey credentials; a PEM private key; an HMAC
 *   secret in the configuration's `base64url:` form; credentials in a URL;
 * - the exact values in the ledger (test/support/secret-ledger.ts), in every form they could take on the way:
 *   a token and its signature segment alone, a CSRF token and its MAC, passwords plain, URL-encoded, form-encoded and
 *   JSON-escaped, secret bytes as hex, base64, base64url and text.
 *
 * Redaction's own markers (`[REDACTED]`, `[REDACTED:jwt]`, src/logging/redact.ts) are not findings. Nothing here
 * prints a secret: a finding names what was found, where, and at which offset.
 */
import type { LedgerEntry, PlaceKind, SecretKind } from './secret-ledger.js';

export interface Finding {
  place: PlaceKind;
  /** Index and id, or archived file and line. */
  where: string;
  what: string;
  offset: number;
}

interface Shape {
  what: string;
  pattern: RegExp;
}

const COOKIES = ['__Host-sentinel_at', '__Secure-sentinel_rt', '__Host-sentinel_csrf'];
const DOT = String.raw`(?:\.|%2[Ee]|%252[Ee])`;
const NOT_REDACTED = String.raw`(?!\[REDACTED)`;

/** The generic shapes. Each pattern is global (matchAll) and case as noted. */
export const SHAPES: readonly Shape[] = [
  // A JWT: base64url JSON header and payload, both starting with `{"` (eyJ); dots plain or percent-encoded.
  { what: 'JWT', pattern: new RegExp(String.raw`eyJ[A-Za-z0-9_-]{2,}${DOT}eyJ[A-Za-z0-9_-]{2,}`, 'g') },
  // A session cookie with a value: `name=value` (also URL-encoded `=`) or `"name": "value"` (a parsed cookie jar),
  // its quotes escaped as deep as the JSON it sits in.
  ...COOKIES.map((name) => ({
    what: `${name} cookie`,
    pattern: new RegExp(String.raw`${name}(?:=|%3[Dd]|\\*"\s*:\s*\\*")${NOT_REDACTED}[^;\s"\\,]{8,}`, 'g'),
  })),
  // A credential after its scheme; the redacted form `Bearer [REDACTED]` does not match.
  { what: 'Bearer credential', pattern: /\bBearer\s+(?!\[REDACTED)[A-Za-z0-9._~+/=-]{8,}/gi },
  { what: 'Basic credential', pattern: /\bBasic\s+(?!\[REDACTED)[A-Za-z0-9+/=]{8,}/g },
  // Elasticsearch API keys travel as `ApiKey base64(id:key)`.
  { what: 'ApiKey credential', pattern: /\bApiKey\s+(?!\[REDACTED)[A-Za-z0-9+/_-]{16,}={0,2}/gi },
  { what: 'PEM private key', pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/g },
  // An HMAC secret as the configuration takes it (JWT_SECRET=base64url:..., src/session/hmac-secret.ts).
  { what: 'base64url: secret', pattern: /\bbase64url:[A-Za-z0-9_-]{32,}/g },
  // user:password@ in a URL (Elasticsearch, Redis); `:[REDACTED]@` is fine.
  { what: 'credentials in a URL', pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@"'[\]]*:(?!\[REDACTED)[^\s/@"'[\]]{3,}@/gi },
];

interface Needle {
  what: string;
  text: string;
}

/** A maximal run of base64url characters: exact token-like needles are found by looking up the text's runs. */
const RUN = /[A-Za-z0-9_-]{16,}/g;
const TOKEN_LIKE = /^[A-Za-z0-9_-]{16,}$/;

function forms(kind: SecretKind, value: string): Needle[] {
  const out: Needle[] = [];
  const add = (what: string, text: string | undefined): void => {
    if (text !== undefined && text.length >= 8) out.push({ what: `${kind} (${what})`, text });
  };
  if (value.startsWith('buffer:')) {
    const bytes = Buffer.from(value.slice('buffer:'.length), 'base64');
    add('base64url', bytes.toString('base64url'));
    add('base64', bytes.toString('base64').replace(/=+$/, ''));
    add('hex', bytes.toString('hex'));
    const utf8 = bytes.toString('utf8');
    if (/^[\x20-\x7e]+$/.test(utf8)) add('text', utf8);
    return out;
  }
  // A JWT's or a CSRF token's last segment is its signature (its MAC): secret on its own. Wherever the whole token
  // is, its signature is too (a maximal base64url run after a dot), so the segment alone stands for both.
  const segments = value.split('.');
  if (segments.length >= 2 && segments.every((segment) => /^[A-Za-z0-9_-]*$/.test(segment)) && segments.at(-1)!.length >= 16) {
    add('value or its signature segment', segments.at(-1));
    return out;
  }
  add('value', value);
  const encoded = encodeURIComponent(value);
  if (encoded !== value) add('URL-encoded', encoded);
  const form = new URLSearchParams({ v: value }).toString().slice(2);
  if (form !== value && form !== encoded) add('form-encoded', form);
  // Inside a JSON line, and inside a JSON string inside one (a dead letter keeps the rejected document as a string).
  const json = JSON.stringify(value).slice(1, -1);
  if (json !== value) {
    add('JSON-escaped', json);
    add('JSON-escaped twice', JSON.stringify(json).slice(1, -1));
  }
  if (/^base64url:/.test(value)) add('decoded', Buffer.from(value.slice('base64url:'.length), 'base64url').toString('hex'));
  return out;
}

export interface Scanner {
  /** Every finding in `text`, at most `limit`. */
  scan(place: PlaceKind, where: string, text: string, limit?: number): Finding[];
  /** How many exact values (in all their forms) and shapes it looks for. */
  readonly counts: { values: number; needles: number; shapes: number };
}

/** A scanner for the ledger's values plus `phrases` (literal passwords found in the test sources). */
export function createScanner(ledger: readonly LedgerEntry[], phrases: ReadonlyArray<{ what: string; text: string }> = []): Scanner {
  const runs = new Map<string, string>();
  const others: Needle[] = [];
  const values = new Set<string>();
  for (const entry of ledger) {
    values.add(entry.value);
    for (const needle of forms(entry.kind, entry.value)) {
      if (TOKEN_LIKE.test(needle.text)) {
        if (!runs.has(needle.text)) runs.set(needle.text, needle.what);
      } else others.push(needle);
    }
  }
  for (const phrase of phrases) {
    values.add(phrase.text);
    for (const needle of forms('password', phrase.text)) others.push({ what: `${phrase.what} (${needle.what.replace(/^password \(|\)$/g, '')})`, text: needle.text });
  }
  const unique = [...new Map(others.map((needle) => [needle.text, needle])).values()];

  const scanOne = (text: string, found: Array<{ what: string; offset: number }>, limit: number): void => {
    for (const shape of SHAPES) {
      for (const match of text.matchAll(shape.pattern)) {
        if (found.length >= limit) return;
        found.push({ what: shape.what, offset: match.index });
      }
    }
    if (runs.size > 0) {
      for (const match of text.matchAll(RUN)) {
        const what = runs.get(match[0]);
        if (what && found.length < limit) found.push({ what, offset: match.index });
      }
    }
    for (const needle of unique) {
      const offset = text.indexOf(needle.text);
      if (offset !== -1 && found.length < limit) found.push({ what: needle.what, offset });
    }
  };

  return {
    counts: { values: values.size, needles: runs.size + unique.length, shapes: SHAPES.length },
    scan(place, where, text, limit = 20) {
      const found: Array<{ what: string; offset: number }> = [];
      scanOne(text, found, limit);
      // Percent-encoded text: also look at it decoded (a token in a URL, `%2E` for its dots).
      if (text.includes('%')) {
        let decoded = text;
        try {
          decoded = decodeURIComponent(text);
        } catch {
          decoded = text.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
        }
        if (decoded !== text) scanOne(decoded, found, limit);
      }
      const seen = new Set<string>();
      return found
        .filter((f) => !seen.has(f.what) && seen.add(f.what))
        .map((f) => ({ place, where, what: f.what, offset: f.offset }));
    },
  };
}
