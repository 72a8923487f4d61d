import { createHmac, hkdfSync, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * Signed double-submit CSRF tokens (OWASP CSRF cheat sheet): `<random>.<HMAC(secret, sessionId.generation.random)>`.
 * The token is bound to the session, so a token planted from a sibling subdomain or lifted from another session is
 * worthless, and to the generation (the access token's jti, new at every refresh), so a refresh retires it; it is
 * not stored anywhere, so any instance verifies it.
 */

/** 16 random bytes and a 32-byte HMAC, both base64url without padding. */
const TOKEN = /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/;

export interface CsrfTokens {
  /** `generation`: the jti of the access token issued with it (login, refresh) or presented (GET /auth/me). */
  issue(sessionId: string, generation: string): string;
  verify(token: string | undefined, sessionId: string, generation: string): boolean;
}

/** Derives a CSRF secret from signing key material, so no extra secret has to be configured and shared. */
export function deriveSecret(material: KeyObject, label: string): Buffer {
  const bytes = material.type === 'secret' ? material.export() : material.export({ format: 'der', type: 'pkcs8' });
  return Buffer.from(hkdfSync('sha256', bytes, Buffer.alloc(0), `koa-sentinel ${label}`, 32));
}

/** `secrets[0]` signs; every secret verifies, so rotating the signing key does not break live sessions. */
export function createCsrfTokens(secrets: readonly Buffer[]): CsrfTokens {
  if (secrets.length === 0) throw new Error('createCsrfTokens needs at least one secret');
  // JSON keeps the parts apart whatever they contain: no two (session, generation) pairs share an input.
  const mac = (secret: Buffer, sessionId: string, generation: string, nonce: string): Buffer =>
    createHmac('sha256', secret).update(JSON.stringify([sessionId, generation, nonce])).digest();
  return {
    issue(sessionId, generation) {
      const nonce = randomBytes(16).toString('base64url');
      return `${nonce}.${mac(secrets[0]!, sessionId, generation, nonce).toString('base64url')}`;
    },
    verify(token, sessionId, generation) {
      // Exactly the shape issue() makes: Buffer's base64url decoder skips stray characters, so check first.
      if (typeof token !== 'string' || !TOKEN.test(token)) return false;
      const dot = token.indexOf('.');
      const nonce = token.slice(0, dot);
      const given = Buffer.from(token.slice(dot + 1), 'base64url');
      // One spelling per token: the last character carries 2 unused bits that decoders ignore.
      if (given.toString('base64url') !== token.slice(dot + 1)) return false;
      return secrets.some((secret) => timingSafeEqual(mac(secret, sessionId, generation, nonce), given));
    },
  };
}
