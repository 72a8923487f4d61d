import { randomUUID, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { ConfigurationError, SentinelError } from '../errors.js';
import type { KeyRing, RingKey } from './key-ring.js';

/**
 * Issues and verifies our JWTs. Everything an attacker controls in a token (its header) is checked against the
 * key ring before any cryptography runs: the header cannot pick the key (`kid` is looked up), the algorithm (it
 * must equal the key's one), nor bring its own key (`jwk`, `jku`, `x5u`, `x5c` are refused) — RFC 8725 §2.
 * Access and refresh tokens are explicitly typed in both the header (`typ`, RFC 8725 §3.11, RFC 9068) and the
 * payload (`token_use`), so one can never be used as the other.
 */

export type TokenType = 'access' | 'refresh';

export interface TokenClaims {
  iss: string;
  aud: string;
  sub: string;
  iat: number;
  exp: number;
  jti: string;
  token_use: TokenType;
  /** The session (refresh family) this token belongs to. */
  sid: string;
  /** Access tokens only: the user's name and roles, so handlers need no lookup. */
  name?: string;
  roles?: string[];
  /** The user's credential fingerprint when the token was issued (users.ts): a change ends the session. */
  cfp?: string;
}

/**
 * Thrown by `issue` when the signed token would be longer than `maxTokenBytes`: a token our own verify() refuses
 * must never leave the server (a user with hundreds of roles, a long issuer). Code internal_error, reason
 * token_too_large; the login and refresh flows map it to their own refusal and event.
 */
export class TokenTooLargeError extends SentinelError {
  readonly tokenType: TokenType;
  readonly tokenBytes: number;
  readonly maxTokenBytes: number;

  constructor(tokenType: TokenType, tokenBytes: number, maxTokenBytes: number) {
    super('internal_error', { reason: 'token_too_large', message: `The ${tokenType} token would be ${tokenBytes} bytes; the limit is ${maxTokenBytes}.` });
    this.name = 'TokenTooLargeError';
    this.tokenType = tokenType;
    this.tokenBytes = tokenBytes;
    this.maxTokenBytes = maxTokenBytes;
  }
}

export interface IssuedToken {
  token: string;
  claims: TokenClaims;
}

export interface TokenServiceOptions {
  keyRing: KeyRing;
  issuer: string;
  audience: string;
  /** Seconds of clock skew accepted on exp/nbf/iat. Default 5, at most 60. */
  clockToleranceSec?: number;
  /** Tokens longer than this are refused before parsing. Default 4096 (a cookie's own limit). */
  maxTokenBytes?: number;
  /** Verified access tokens kept to skip the signature check on repeat requests. Default 10000; 0 disables. */
  cacheSize?: number;
  /** Clock in milliseconds, for tests. */
  now?: () => number;
}

export interface TokenService {
  /**
   * Signs a token of `type` for `subject`, valid `ttlMs`; `jti` defaults to a random UUID. Throws
   * TokenTooLargeError rather than sign a token longer than `maxTokenBytes`.
   */
  issue(type: TokenType, subject: { sub: string; sid: string; name?: string; roles?: readonly string[]; cfp?: string }, ttlMs: number, jti?: string): IssuedToken;
  /** Verifies signature and claims; throws SentinelError token_invalid or token_expired with a `reason`. */
  verify(token: string, type: TokenType): TokenClaims;
  /**
   * Like verify, but an authentic token past its `exp` is returned instead of refused: for logout and for
   * telling an expired session apart from a forged token. Never use its result to grant access.
   */
  verifyAllowingExpiry(token: string, type: TokenType): { claims: TokenClaims; expired: boolean };
}

const HEADER_TYP: Record<TokenType, string> = { access: 'at+jwt', refresh: 'rt+jwt' };
const FORBIDDEN_HEADERS = ['jku', 'jwk', 'x5u', 'x5c', 'x5t', 'crit'] as const;
const SEGMENT = /^[A-Za-z0-9_-]+$/;

const DEFAULTS = { clockToleranceSec: 5, maxTokenBytes: 4096, cacheSize: 10_000 };

/**
 * The order n of P-256 (SEC 2 §2.4.2). An ECDSA signature (r, s) verifies as (r, n - s) too, so every ES256 token
 * has a twin string; we sign and accept only the low-s half (s <= n/2), as Bitcoin's BIP 62 does, so one token is
 * one string (the cache and the reuse checks compare strings).
 */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P256_HALF_N = P256_N >> 1n;

export function createTokenService(options: TokenServiceOptions): TokenService {
  const { keyRing, issuer, audience } = options;
  const clockToleranceSec = options.clockToleranceSec ?? DEFAULTS.clockToleranceSec;
  const maxTokenBytes = options.maxTokenBytes ?? DEFAULTS.maxTokenBytes;
  const cacheSize = options.cacheSize ?? DEFAULTS.cacheSize;
  const now = options.now ?? Date.now;
  if (!keyRing?.active) throw new ConfigurationError('The keyRing option must be a key ring from createKeyRing().');
  if (typeof issuer !== 'string' || issuer === '') throw new ConfigurationError('The issuer option must be a non-empty string.');
  if (typeof audience !== 'string' || audience === '') throw new ConfigurationError('The audience option must be a non-empty string.');
  if (!Number.isFinite(clockToleranceSec) || clockToleranceSec < 0 || clockToleranceSec > 60) {
    throw new ConfigurationError('The clockToleranceSec option must be a finite number from 0 to 60.');
  }
  if (!Number.isInteger(maxTokenBytes) || maxTokenBytes < 256) throw new ConfigurationError('The maxTokenBytes option must be an integer of at least 256.');
  if (!Number.isInteger(cacheSize) || cacheSize < 0) throw new ConfigurationError('The cacheSize option must be a non-negative integer.');

  // A hit means these exact bytes were verified before: the entry keeps the whole token and it is compared in
  // full. The key is the signature's tail only, because hashing a fresh ~400-character string on every lookup
  // costs more than the rest of the hit path together. Expiry is still checked on every hit, and revocation is
  // the caller's job on every request.
  const verified = new Map<string, { token: string; claims: TokenClaims }>();
  const cacheKey = (token: string): string => token.slice(-22);

  const invalid = (reason: string, cause?: unknown): SentinelError => new SentinelError('token_invalid', { reason, cause });

  function checkClaims(payload: unknown, type: TokenType, nowSec: number, allowExpired = false): TokenClaims {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw invalid('malformed');
    const claims = payload as Record<string, unknown>;
    if (!isFiniteNumber(claims.exp) || !isFiniteNumber(claims.iat)) throw invalid('missing_claim');
    if (!isId(claims.jti) || !isId(claims.sub) || !isId(claims.sid) || !isId(claims.iss)) throw invalid('missing_claim');
    if (claims.iss !== issuer) throw invalid('wrong_issuer');
    const aud = claims.aud;
    if (!(aud === audience || (Array.isArray(aud) && aud.includes(audience)))) throw invalid('wrong_audience');
    if (claims.token_use !== type) throw invalid('wrong_type');
    if ((claims.iat as number) > nowSec + clockToleranceSec) throw invalid('not_before');
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > nowSec + clockToleranceSec)) throw invalid('not_before');
    if (!allowExpired && nowSec >= (claims.exp as number) + clockToleranceSec) throw new SentinelError('token_expired', { reason: 'expired' });
    if (type === 'access' && !isStringArray(claims.roles)) throw invalid('missing_claim');
    return claims as unknown as TokenClaims;
  }

  function verifySignature(token: string, key: RingKey, parts: string[]): unknown {
    if (key.alg === 'EdDSA') {
      // jsonwebtoken has no EdDSA; Node's crypto verifies Ed25519 directly (RFC 8037).
      const ok = cryptoVerify(null, Buffer.from(`${parts[0]}.${parts[1]}`), key.verifyKey, Buffer.from(parts[2]!, 'base64url'));
      if (!ok) throw invalid('bad_signature');
      try {
        return JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
      } catch (error) {
        throw invalid('malformed', error);
      }
    }
    try {
      // Claims are checked by checkClaims for every algorithm alike; jsonwebtoken checks the signature here.
      return jwt.verify(token, key.verifyKey, { algorithms: [key.alg as jwt.Algorithm], ignoreExpiration: true, ignoreNotBefore: true });
    } catch (error) {
      throw mapLibraryError(error);
    }
  }

  function verifyToken(token: string, type: TokenType, allowExpired: boolean): TokenClaims {
    if (typeof token !== 'string' || token.length === 0) throw invalid('missing');
    if (token.length > maxTokenBytes) throw invalid('oversized');
    const nowSec = Math.floor(now() / 1000);
    const cached = type === 'access' ? verified.get(cacheKey(token)) : undefined;
    if (cached && cached.token === token) return checkClaims(cached.claims, type, nowSec, allowExpired);

    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((part) => SEGMENT.test(part))) throw invalid('malformed');
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch (error) {
      throw invalid('malformed', error);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw invalid('malformed');
    if (FORBIDDEN_HEADERS.some((name) => name in header)) throw invalid('forbidden_header');
    const key = typeof header.kid === 'string' ? keyRing.get(header.kid) : undefined;
    if (!key) throw invalid('unknown_kid');
    if (header.alg !== key.alg) throw invalid('algorithm');
    if (header.typ !== HEADER_TYP[type]) throw invalid('wrong_type');
    // One spelling per signature: base64url decoders ignore the unused low bits of the last character, which
    // would let one token exist under several strings (RFC 7515 §2 requires canonical base64url).
    if (Buffer.from(parts[2]!, 'base64url').toString('base64url') !== parts[2]) throw invalid('bad_signature');
    if (key.alg === 'ES256' && !isLowS(parts[2]!)) throw invalid('bad_signature');

    const claims = checkClaims(verifySignature(token, key, parts), type, nowSec, allowExpired);
    if (type === 'access' && cacheSize > 0 && !allowExpired) {
      if (verified.size >= cacheSize) verified.delete(verified.keys().next().value as string);
      verified.set(cacheKey(token), { token, claims });
    }
    return claims;
  }

  return {
    issue(type, subject, ttlMs, jti = randomUUID()) {
      const iat = Math.floor(now() / 1000);
      const claims: TokenClaims = {
        iss: issuer,
        aud: audience,
        sub: subject.sub,
        iat,
        exp: iat + Math.max(1, Math.floor(ttlMs / 1000)),
        jti,
        token_use: type,
        sid: subject.sid,
        ...(subject.cfp === undefined ? {} : { cfp: subject.cfp }),
      };
      if (type === 'access') {
        claims.name = subject.name ?? subject.sub;
        claims.roles = [...(subject.roles ?? [])];
      }
      const key = keyRing.active;
      const header = { alg: key.alg, typ: HEADER_TYP[type], kid: key.kid };
      let token: string;
      if (key.alg === 'EdDSA') {
        const signingInput = `${b64(header)}.${b64(claims)}`;
        token = `${signingInput}.${cryptoSign(null, Buffer.from(signingInput), key.signKey).toString('base64url')}`;
      } else {
        token = jwt.sign(claims, key.signKey, { algorithm: key.alg as jwt.Algorithm, header });
        if (key.alg === 'ES256') token = toLowS(token);
      }
      // Never hand out a token our own verify() would refuse (a user with hundreds of roles, say).
      if (token.length > maxTokenBytes) throw new TokenTooLargeError(type, token.length, maxTokenBytes);
      return { token, claims };
    },

    verify(token, type) {
      return verifyToken(token, type, false);
    },

    verifyAllowingExpiry(token, type) {
      const claims = verifyToken(token, type, true);
      return { claims, expired: Math.floor(now() / 1000) >= claims.exp + clockToleranceSec };
    },
  };
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 256;
}

function isStringArray(value: unknown): value is string[] {
  if (!Array.isArray(value)) return false;
  for (const item of value) if (typeof item !== 'string') return false;
  return true;
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Whether a JWS ES256 signature (r || s, 32 bytes each, RFC 7518 §3.4) has s <= n/2. */
function isLowS(signature: string): boolean {
  const bytes = Buffer.from(signature, 'base64url');
  return bytes.length === 64 && BigInt(`0x${bytes.subarray(32).toString('hex')}`) <= P256_HALF_N;
}

/** The same ES256 token with its signature's s replaced by n - s when it is high: equally valid, the one we accept. */
function toLowS(token: string): string {
  const dot = token.lastIndexOf('.');
  if (isLowS(token.slice(dot + 1))) return token;
  const bytes = Buffer.from(token.slice(dot + 1), 'base64url');
  const low = P256_N - BigInt(`0x${bytes.subarray(32).toString('hex')}`);
  return `${token.slice(0, dot + 1)}${Buffer.concat([bytes.subarray(0, 32), Buffer.from(low.toString(16).padStart(64, '0'), 'hex')]).toString('base64url')}`;
}

/** jsonwebtoken's errors mapped once, at the boundary, to our reasons. */
function mapLibraryError(error: unknown): SentinelError {
  const message = error instanceof Error ? error.message : '';
  const reason = /signature/i.test(message)
    ? 'bad_signature'
    : /algorithm/i.test(message)
      ? 'algorithm'
      : 'malformed';
  return new SentinelError('token_invalid', { reason, cause: error });
}
