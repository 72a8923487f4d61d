import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigurationError } from '../errors.js';
import { assertCookieSpec, readCookie, serializeCookie, type CookieSpec } from './cookies.js';

/**
 * Device cookies (OWASP Authentication Cheat Sheet, "slow down online guessing attacks with device cookies"): a
 * successful login leaves `<device id>.<expiry>.<HMAC>` in a `__Host-` cookie (HttpOnly, Secure, SameSite=Strict).
 * The HMAC covers the user id, so a cookie only speaks for the user it was issued to; the expiry is inside the
 * MAC, so it cannot be stretched. Nothing is stored: any instance with the key ring recognises it. A recognised
 * device is throttled in its own bucket (login-throttle.ts), so an attacker cannot lock a user out of it.
 */

export interface DeviceCookiesOptions {
  /** HMAC keys: the first signs, every one verifies (so rotating the signing key keeps devices known). */
  secrets: readonly Buffer[];
  /** Default `__Host-sentinel_device`. */
  name?: string;
  /** How long a device stays known after its latest successful login. Default 90 days. */
  ttlMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

export interface DeviceCookies {
  readonly spec: CookieSpec;
  /**
   * The device id of the cookie in `cookieHeader` if it was issued to `userId` and has not expired; undefined
   * when it is missing, forged, another user's, expired, malformed or sent twice.
   */
  recognise(cookieHeader: string | undefined, userId: string): string | undefined;
  /** The Set-Cookie value of a new device cookie for `userId`. */
  issue(userId: string): string;
}

export const DEVICE_COOKIE_DEFAULTS = {
  name: '__Host-sentinel_device',
  ttlMs: 90 * 24 * 60 * 60_000,
};

/** 16 random bytes (base64url), expiry in seconds, HMAC-SHA256 (base64url). */
const VALUE = /^([A-Za-z0-9_-]{22})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

export function createDeviceCookies(options: DeviceCookiesOptions): DeviceCookies {
  const { secrets } = options;
  const o = { ...DEVICE_COOKIE_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as typeof DEVICE_COOKIE_DEFAULTS & DeviceCookiesOptions;
  if (!Array.isArray(secrets) || secrets.length === 0 || !secrets.every((secret) => Buffer.isBuffer(secret) && secret.length >= 32)) {
    throw new ConfigurationError('The device cookie secrets option must be a list of keys of at least 32 bytes.');
  }
  if (!Number.isFinite(o.ttlMs) || o.ttlMs < 60_000) throw new ConfigurationError('The device cookie ttlMs option must be a finite number of at least 60000 (one minute).');
  if (typeof o.name !== 'string' || !o.name.startsWith('__Host-')) throw new ConfigurationError('The device cookie name option must start with __Host- (no Domain, Secure, Path=/).');
  const spec: CookieSpec = { name: o.name, path: '/', httpOnly: true, sameSite: 'Strict' };
  try {
    assertCookieSpec(spec);
  } catch (error) {
    throw new ConfigurationError(`The device cookie name option is invalid: ${(error as Error).message}`);
  }
  const now = o.now ?? Date.now;
  const mac = (secret: Buffer, userId: string, deviceId: string, expiresSec: string): Buffer =>
    createHmac('sha256', secret).update(`device\u0000${userId}\u0000${deviceId}\u0000${expiresSec}`).digest();

  return {
    spec,
    recognise(cookieHeader, userId) {
      const { value, duplicate } = readCookie(cookieHeader, spec.name);
      const match = value === undefined || duplicate ? null : VALUE.exec(value);
      if (!match) return undefined;
      const [, deviceId, expiresSec, signature] = match as unknown as [string, string, string, string];
      if (Number(expiresSec) * 1000 <= now()) return undefined;
      const given = Buffer.from(signature, 'base64url');
      // One spelling per cookie: the last base64url character carries 2 bits that decoders ignore.
      if (given.toString('base64url') !== signature) return undefined;
      return secrets.some((secret) => timingSafeEqual(mac(secret, userId, deviceId, expiresSec), given)) ? deviceId : undefined;
    },
    issue(userId) {
      const deviceId = randomBytes(16).toString('base64url');
      const expiresSec = String(Math.floor((now() + o.ttlMs) / 1000));
      return serializeCookie(spec, `${deviceId}.${expiresSec}.${mac(secrets[0]!, userId, deviceId, expiresSec).toString('base64url')}`, o.ttlMs / 1000);
    },
  };
}
