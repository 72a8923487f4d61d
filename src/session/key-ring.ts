import { createPrivateKey, createPublicKey, createSecretKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { ConfigurationError } from '../errors.js';

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
  /** HMAC secret: raw bytes, or base64url/base64 text. */
  secret?: Buffer | string;
  privateKey?: string | KeyObject;
  publicKey?: string | KeyObject;
}

/** The minimum HMAC key size is the hash output size (RFC 7518 §3.2). */
const HMAC_MIN_BYTES: Record<string, number> = { HS256: 32, HS384: 48, HS512: 64 };
/** What asymmetric key type each algorithm must have; ES256 also needs the P-256 curve. */
const ASYMMETRIC_TYPE: Record<string, string> = { RS256: 'rsa', PS256: 'rsa', ES256: 'ec', EdDSA: 'ed25519' };
const KID = /^[A-Za-z0-9._-]{1,64}$/;

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

/** Generates a key of the given algorithm, for `koa-sentinel keys generate` and tests. */
export function generateKey(alg: SigningAlgorithm, kid: string): KeyInput & { secret?: string; privateKey?: string; publicKey?: string } {
  if (alg.startsWith('HS')) return { kid, alg, secret: randomBytes(HMAC_MIN_BYTES[alg]!).toString('base64url') };
  const pair = alg === 'EdDSA'
    ? generateKeyPairSync('ed25519')
    : alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
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
  if (Object.hasOwn(HMAC_MIN_BYTES, alg)) {
    if (input.secret === undefined) throw new ConfigurationError(`Key "${kid}" (${alg}) needs a secret.`);
    const bytes = typeof input.secret === 'string' ? decodeSecret(input.secret) : input.secret;
    if (bytes.length < HMAC_MIN_BYTES[alg]!) {
      throw new ConfigurationError(`Key "${kid}" (${alg}) needs a secret of at least ${HMAC_MIN_BYTES[alg]} bytes; it has ${bytes.length}.`);
    }
    const secret = createSecretKey(bytes);
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
  if (expectedType === 'rsa' && (verifyKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    throw new ConfigurationError(`Key "${kid}" (${alg}) must be at least 2048 bits.`);
  }
  return { kid, alg: alg as SigningAlgorithm, verifyKey, signKey };
}

function decodeSecret(text: string): Buffer {
  // base64url and base64 both decode with 'base64url' in Node (it accepts + and / too).
  return Buffer.from(text, 'base64url');
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
