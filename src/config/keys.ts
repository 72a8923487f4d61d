import { readFileSync } from 'node:fs';
import { ConfigurationError } from '../errors.js';
import { randomnessProblem, secretWeakness } from '../session/hmac-secret.js';
import { createKeyRing } from '../session/key-ring.js';
import { envValue } from './env-value.js';

/**
 * The signing keys from `JWT_SECRET` or `JWT_KEYS_FILE`, checked by the same rules createKeyRing applies, so a
 * bad key stops the start with the variable's name rather than later with a library message.
 */

/** One signing or verification key as written in `JWT_KEYS_FILE`, or made from `JWT_SECRET`. */
export interface KeySpec {
  kid: string;
  alg: string;
  /** HMAC secret, with createKeyRing's meaning: text is its UTF-8 bytes, `base64url:<text>` is decoded. */
  secret?: string;
  /** PEM private key: this key can sign. */
  privateKey?: string;
  /** PEM public key: verification only (a retired or foreign key). */
  publicKey?: string;
}

export interface KeysFromEnv {
  /** Empty when neither variable is set: the server then makes an ephemeral key (never in production). */
  keys: KeySpec[];
  activeKid: string | undefined;
}

const NONE: KeysFromEnv = { keys: [], activeKid: undefined };
/** The kid of the key made from JWT_SECRET. */
export const ENV_SECRET_KID = 'env';

/**
 * Appends what is wrong to `problems` (never a secret, never a quote of the keys file) and returns the keys;
 * loadConfig throws when there is any problem, so a refused key is never used.
 */
export function readKeys(env: NodeJS.ProcessEnv, problems: string[]): KeysFromEnv {
  // Not trimmed: an application that builds its own key ring from process.env.JWT_SECRET must get the same
  // bytes as the server, and createKeyRing takes a string as written.
  const secret = env.JWT_SECRET === undefined || env.JWT_SECRET.trim() === '' ? undefined : env.JWT_SECRET;
  const keysFile = envValue(env, 'JWT_KEYS_FILE');
  if (secret !== undefined && keysFile !== undefined) {
    problems.push('set JWT_SECRET or JWT_KEYS_FILE, not both');
    return NONE;
  }
  if (secret !== undefined) {
    // Production also asks for random material: a sentence or "0123456789..." passes the length rules.
    const weakness = secretWeakness(secret, 'HS256') ?? (env.NODE_ENV === 'production' ? randomnessProblem(secret) : undefined);
    if (weakness) problems.push(`JWT_SECRET ${weakness}; generate one with: openssl rand -base64 48`);
    // Returned even when weak: the problem above is the one to report, not a second "JWT_SECRET is required".
    return { keys: [{ kid: ENV_SECRET_KID, alg: 'HS256', secret }], activeKid: ENV_SECRET_KID };
  }
  if (keysFile === undefined) return NONE;
  let parsed: { active?: unknown; keys?: unknown };
  try {
    parsed = JSON.parse(readFileSync(keysFile, 'utf8')) as typeof parsed;
  } catch (error) {
    // Never the parser's message: Node quotes the start of the file in it, which may be a secret.
    const why = error instanceof SyntaxError ? 'it is not valid JSON' : (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    problems.push(`JWT_KEYS_FILE ${keysFile} cannot be read: ${why}`);
    return NONE;
  }
  if (parsed === null || typeof parsed !== 'object' || !Array.isArray(parsed.keys) || parsed.keys.length === 0) {
    problems.push(`JWT_KEYS_FILE ${keysFile} cannot be read: it must hold {"active": kid, "keys": [...]}`);
    return NONE;
  }
  const keys = parsed.keys as KeySpec[];
  const activeKid = typeof parsed.active === 'string' ? parsed.active : undefined;
  try {
    createKeyRing(keys, activeKid);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    problems.push(`JWT_KEYS_FILE ${keysFile}: ${error.message}`);
  }
  return { keys, activeKid };
}
