import { createPrivateKey, createPublicKey, createSecretKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { ConfigurationError } from '../errors.js';
import { BASE64URL_PREFIX, HMAC_MIN_BYTES, hmacSecretBytes, isHmacAlgorithm } from './hmac-secret.js';

/**
 * The key ring: one active signing key and any number of verification-only keys, each with a `kid`.
 *
 * Keys become `KeyObject`s once, here. Handing jsonwebtoken a string secret makes it build a KeyObject on every
 * call (~40x slower). Each key is pinned to exactly one algorithm and its type is checked against it, so a token
 * can never pick the algorithm that verifies it (HS/RS key confusion, RFC 8725 §2.1 and §3.1).
 */

export type SigningAlgorithm = 'HS256' | 'HS384' | 'HS512' | 'RS256' | 'PS256' | 'ES256' | 'EdDSA';

export interface RingKey {
  kid: string;
  alg: SigningAlgorithm;
  /** Verifies signatures: the secret for HMAC, the public key otherwise. */
  verifyKey: KeyObject;
  /** Signs, when this key holds a secret or a private key. */
  signKey: KeyObject | undefined;
}

export interface KeyRing {
  readonly active: RingKey & { signKey: KeyObject };
  /** The key for a kid, or undefined: a kid is looked up, never trusted to name a file, a URL or an algorithm. */
  get(kid: string): RingKey | undefined;
  readonly kids: readonly string[];
}

export interface KeyInput {
  kid: string;
  alg: string;
  /**
   * HMAC secret. A string is its UTF-8 bytes as written (the same value as `JWT_SECRET` gives the same key);
   * `'base64url:<text>'` is the bytes the text decodes to (what `koa-sentinel keys generate` writes); a Buffer
   * or Uint8Array is the bytes. It must be at least 32, 48 or 64 bytes for HS256, HS384, HS512 (RFC 7518 §3.2)
   * and not guessable (a placeholder word, fewer than 10 distinct characters): else createKeyRing throws a
   * ConfigurationError with code config_secret_short, config_secret_weak or config_secret_encoding.
   */
  secret?: Uint8Array | string;
  privateKey?: string | KeyObject;
  publicKey?: string | KeyObject;
}

/** A key as JSON can hold it: what `koa-sentinel keys generate` prints and JWT_KEYS_FILE lists. */
export interface GeneratedKey extends KeyInput {
  alg: SigningAlgorithm;
  /** `base64url:<text>` of random bytes, for HS256, HS384 and HS512. */
  secret?: string;
  privateKey?: string;
  publicKey?: string;
}

/** What asymmetric key type each algorithm must have; ES256 also needs the P-256 curve. */
const ASYMMETRIC_TYPE: Record<string, string> = { RS256: 'rsa', PS256: 'rsa', ES256: 'ec', EdDSA: 'ed25519' };
const KID = /^[A-Za-z0-9._-]{1,64}$/;
/** RSA below 3072 bits falls short of 128-bit security (ASVS 11.2.3, NIST SP 800-57). */
export const MIN_RSA_BITS = 3072;

export function createKeyRing(inputs: readonly KeyInput[], activeKid?: string): KeyRing {
  if (inputs.length === 0) throw new ConfigurationError('The key ring needs at least one key.');
  const keys = new Map<string, RingKey>();
  for (const input of inputs) {
    const key = toRingKey(input);
    if (keys.has(key.kid)) throw new ConfigurationError(`The key id "${key.kid}" appears twice in the key ring.`);
    keys.set(key.kid, key);
  }
  const activeId = activeKid ?? inputs[0]!.kid;
  const active = keys.get(activeId);
  if (!active) throw new ConfigurationError(`The active key id "${activeId}" is not in the key ring.`);
  if (!active.signKey) throw new ConfigurationError(`The active key "${activeId}" has no secret or private key to sign with.`);
  return {
    active: active as RingKey & { signKey: KeyObject },
    get: (kid) => keys.get(kid),
    kids: [...keys.keys()],
  };
}

/** A random HS256 key for development: tokens die with the process, which the server announces at start. */
export function createEphemeralKeyRing(): KeyRing {
  return createKeyRing([{ kid: `ephemeral-${randomBytes(4).toString('hex')}`, alg: 'HS256', secret: randomBytes(32) }]);
}

/**
 * Generates a key of the given algorithm, for `koa-sentinel keys generate` and tests. An HMAC secret is random
 * bytes written as `base64url:<text>`, so the JSON holds it and the ring reads it back as those bytes.
 */
export function generateKey(alg: SigningAlgorithm, kid: string): GeneratedKey {
  if (isHmacAlgorithm(alg)) return { kid, alg, secret: `${BASE64URL_PREFIX}${randomBytes(HMAC_MIN_BYTES[alg]).toString('base64url')}` };
  const pair = alg === 'EdDSA'
    ? generateKeyPairSync('ed25519')
    : alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: MIN_RSA_BITS });
  return {
    kid,
    alg,
    privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function toRingKey(input: KeyInput): RingKey {
  const { kid, alg } = input;
  if (typeof kid !== 'string' || !KID.test(kid)) {
    throw new ConfigurationError(`Key id ${JSON.stringify(kid)} must be 1-64 characters of letters, digits, ".", "_" or "-".`);
  }
  if (isHmacAlgorithm(alg)) {
    if (input.secret === undefined) throw new ConfigurationError(`Key "${kid}" (${alg}) needs a secret.`, { option: 'secret' });
    const secret = createSecretKey(hmacSecretBytes(input.secret, alg, `Key "${kid}" (${alg})`));
    return { kid, alg: alg as SigningAlgorithm, verifyKey: secret, signKey: secret };
  }
  const expectedType = Object.hasOwn(ASYMMETRIC_TYPE, alg) ? ASYMMETRIC_TYPE[alg] : undefined;
  if (!expectedType) {
    throw new ConfigurationError(`Key "${kid}" has algorithm "${alg}"; supported: ${[...Object.keys(HMAC_MIN_BYTES), ...Object.keys(ASYMMETRIC_TYPE)].join(', ')}.`);
  }
  if (input.secret !== undefined) throw new ConfigurationError(`Key "${kid}" (${alg}) is asymmetric: give a privateKey or publicKey, not a secret.`);
  let signKey: KeyObject | undefined;
  let verifyKey: KeyObject;
  try {
    signKey = input.privateKey === undefined ? undefined : asPrivate(input.privateKey);
    verifyKey = signKey ? createPublicKey(signKey) : input.publicKey !== undefined ? asPublic(input.publicKey) : missing(kid, alg);
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    throw new ConfigurationError(`Key "${kid}" (${alg}) cannot be read: ${(error as Error).message}`);
  }
  if (verifyKey.asymmetricKeyType !== expectedType) {
    throw new ConfigurationError(`Key "${kid}" is ${verifyKey.asymmetricKeyType ?? 'not asymmetric'} but ${alg} needs ${expectedType}.`);
  }
  if (alg === 'ES256' && verifyKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ConfigurationError(`Key "${kid}" must be on the P-256 curve for ES256.`);
  }
  if (expectedType === 'rsa' && (verifyKey.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) {
    throw new ConfigurationError(`Key "${kid}" (${alg}) must be at least ${MIN_RSA_BITS} bits.`);
  }
  return { kid, alg: alg as SigningAlgorithm, verifyKey, signKey };
}

function asPrivate(key: string | KeyObject): KeyObject {
  return typeof key === 'string' ? createPrivateKey(key) : key;
}

function asPublic(key: string | KeyObject): KeyObject {
  return typeof key === 'string' ? createPublicKey(key) : key;
}

function missing(kid: string, alg: string): never {
  throw new ConfigurationError(`Key "${kid}" (${alg}) needs a privateKey or a publicKey.`);
}
