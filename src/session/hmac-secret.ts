import { ConfigurationError } from '../errors.js';

/**
 * What an HMAC secret means, and how strong it must be: one rule for createKeyRing, the server's JWT_SECRET and
 * the keys file, so the same value gives the same key in `koa-sentinel serve` and in an application's own kit.
 *
 * - A string is its UTF-8 bytes, as written: `'k3Y...'` is the key `k3Y...`, never decoded.
 * - `'base64url:<text>'` is the bytes that text decodes to (base64url or base64 alphabet, padding optional);
 *   `koa-sentinel keys generate` writes random HMAC keys this way.
 * - A Buffer or Uint8Array is the bytes.
 *
 * Strength: at least the hash output size, 32, 48 or 64 bytes for HS256, HS384, HS512 (RFC 7518 §3.2), and not
 * guessable: not a placeholder word and at least 10 distinct characters (a key of one repeated character is
 * long but has almost no entropy).
 */

/** The minimum key size for each HMAC algorithm is its hash output size (RFC 7518 §3.2). */
export const HMAC_MIN_BYTES = { HS256: 32, HS384: 48, HS512: 64 } as const;
export type HmacAlgorithm = keyof typeof HMAC_MIN_BYTES;
export type SecretInput = string | Uint8Array;

/** The explicit marker of an encoded secret; a string without it is text. */
export const BASE64URL_PREFIX = 'base64url:';
const BASE64 = /^[A-Za-z0-9_\-+/]*={0,2}$/;
const MIN_DISTINCT = 10;
const PLACEHOLDER = /^(secret|changeme|change-me|password|jwt|test|example|default)/i;

export function isHmacAlgorithm(alg: string): alg is HmacAlgorithm {
  return Object.hasOwn(HMAC_MIN_BYTES, alg);
}

interface Assessment {
  bytes: Buffer | undefined;
  problem: { code: 'config_secret_short' | 'config_secret_weak' | 'config_secret_encoding'; reason: string } | undefined;
}

function assess(secret: SecretInput, alg: HmacAlgorithm): Assessment {
  const encoded = typeof secret === 'string' && secret.startsWith(BASE64URL_PREFIX);
  if (encoded) {
    const text = secret.slice(BASE64URL_PREFIX.length);
    // Buffer.from skips characters outside the alphabet without a word; a typo must not shorten the key silently.
    if (!BASE64.test(text)) return { bytes: undefined, problem: { code: 'config_secret_encoding', reason: `is not valid base64url after its "${BASE64URL_PREFIX}" prefix` } };
  }
  const bytes = typeof secret === 'string' ? Buffer.from(encoded ? secret.slice(BASE64URL_PREFIX.length) : secret, encoded ? 'base64url' : 'utf8') : Buffer.from(secret);
  const min = HMAC_MIN_BYTES[alg];
  if (bytes.length < min) return { bytes, problem: { code: 'config_secret_short', reason: `is shorter than ${min} bytes` } };
  // Text counts characters, bytes count bytes: what the person who wrote the value can check.
  const text = typeof secret === 'string' && !encoded;
  const distinct = text ? new Set(secret).size : new Set(bytes).size;
  if (distinct < MIN_DISTINCT) return { bytes, problem: { code: 'config_secret_weak', reason: `has fewer than ${MIN_DISTINCT} distinct ${text ? 'characters' : 'bytes'}` } };
  if (PLACEHOLDER.test(bytes.toString('latin1'))) return { bytes, problem: { code: 'config_secret_weak', reason: 'looks like a placeholder' } };
  return { bytes, problem: undefined };
}

/**
 * Why a secret is too weak (or malformed) to sign `alg` tokens with, as a phrase that follows its name
 * ("is shorter than 32 bytes ..."), or undefined when it is acceptable. Never quotes the secret.
 */
export function secretWeakness(secret: SecretInput, alg: HmacAlgorithm = 'HS256'): string | undefined {
  return assess(secret, alg).problem?.reason;
}

/** Runs of consecutive characters ("0123456", "abcdef", "987654") that random key material practically never has. */
const SEQUENCE_RUN = 6;

/**
 * Why a text secret does not look like random key material (ASVS 11.2.3), or undefined. Stricter than
 * secretWeakness, for production configuration: a sentence, a pattern repeated, or a run of consecutive characters
 * passes the length and distinct-character rules yet is guessable. Generated secrets (`openssl rand -base64 48`)
 * pass; a 64-character base64 string has a 6-character run with a probability below one in a million.
 */
export function randomnessProblem(secret: string): string | undefined {
  if ((secret.match(/\s/g) ?? []).length >= 2) return 'reads like words, not random key material';
  for (let period = 1; period <= secret.length / 2; period += 1) {
    if (secret.slice(period) === secret.slice(0, secret.length - period)) return 'repeats a pattern, not random key material';
  }
  let run = 1;
  let direction = 0;
  for (let i = 1; i < secret.length; i += 1) {
    const step = secret.charCodeAt(i) - secret.charCodeAt(i - 1);
    if ((step === 1 || step === -1) && (run === 1 || step === direction)) {
      direction = step;
      run += 1;
      if (run >= SEQUENCE_RUN) return 'holds a run of consecutive characters, not random key material';
    } else {
      run = step === 1 || step === -1 ? 2 : 1;
      direction = step;
    }
  }
  return undefined;
}

/**
 * The key bytes of a secret, or a ConfigurationError naming `subject` (e.g. `Key "k1" (HS256)`) and the `secret`
 * option, with code config_secret_short, config_secret_weak or config_secret_encoding.
 */
export function hmacSecretBytes(secret: unknown, alg: HmacAlgorithm, subject: string): Buffer {
  if (typeof secret !== 'string' && !(secret instanceof Uint8Array)) {
    throw new ConfigurationError(`${subject} needs a secret: a string, a Buffer or a Uint8Array.`, { option: 'secret' });
  }
  const { bytes, problem } = assess(secret, alg);
  if (problem?.code === 'config_secret_short') {
    // The length in this message is that of the key, not of the text: they differ for base64url: secrets.
    throw new ConfigurationError(`${subject} needs a secret of at least ${HMAC_MIN_BYTES[alg]} bytes; it has ${bytes!.length}.`, { code: problem.code, option: 'secret' });
  }
  if (problem) throw new ConfigurationError(`${subject} has a secret that ${problem.reason}.`, { code: problem.code, option: 'secret' });
  return bytes!;
}
