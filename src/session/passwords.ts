import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { ConfigurationError } from '../errors.js';

/**
 * scrypt password hashes in PHC string format: `$scrypt$ln=17,r=8,p=1$<salt>$<hash>` (base64, no padding).
 * scrypt is in Node's crypto and runs on the libuv pool (never blocks the event loop). The default cost is the
 * floor of ASVS 5.0 11.4.2 (Appendix C: N ≥ 2^17 with r=8, p=1), which is also the OWASP Password Storage Cheat
 * Sheet's minimum: ln=17 (N=131072) takes 128 MiB and four times the time of ln=15. Lower-cost hashes
 * still verify and are replaced at the next successful login (login-flow.ts).
 */

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { ln: 17, r: 8, p: 1 };
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Passwords beyond this are refused before hashing; long enough for any passphrase manager. */
export const MAX_PASSWORD_LENGTH = 1024;
const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function scrypt(password: string, salt: Buffer, keylen: number, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.ln;
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 256 * N * params.r };
  return new Promise((resolve, reject) => {
    scryptCallback(password.normalize('NFKC'), salt, keylen, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  if (typeof password !== 'string' || password.length === 0) throw new ConfigurationError('The password must be a non-empty string.');
  if (password.length > MAX_PASSWORD_LENGTH) throw new ConfigurationError(`The password must be at most ${MAX_PASSWORD_LENGTH} characters.`);
  const salt = randomBytes(SALT_BYTES);
  const hash = await scrypt(password, salt, HASH_BYTES, params);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(hash)}`;
}

export interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

export function parsePasswordHash(phc: string): ParsedHash | undefined {
  const match = typeof phc === 'string' ? PHC.exec(phc) : null;
  if (!match) return undefined;
  const params = { ln: Number(match[1]), r: Number(match[2]), p: Number(match[3]) };
  if (params.ln < 10 || params.ln > 22 || params.r < 1 || params.p < 1) return undefined;
  return { params, salt: Buffer.from(match[4]!, 'base64'), hash: Buffer.from(match[5]!, 'base64') };
}

/** Constant-time comparison of a password against a parsed hash. */
export async function verifyPassword(password: string, parsed: ParsedHash): Promise<boolean> {
  const candidate = await scrypt(password.slice(0, MAX_PASSWORD_LENGTH), parsed.salt, parsed.hash.length, parsed.params);
  return timingSafeEqual(candidate, parsed.hash);
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}
