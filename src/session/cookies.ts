/**
 * Cookie reading and writing for our own cookies only. We write Set-Cookie ourselves because the attributes are
 * the security (ASVS 3.3.1-3.3.5): `__Host-` for the access and CSRF cookies (Secure, Path=/, no Domain, so a
 * sibling subdomain cannot plant one), `__Secure-` for the refresh cookie, whose Path must be narrower.
 */

export interface CookieSpec {
  name: string;
  path: string;
  httpOnly: boolean;
  sameSite: 'Strict' | 'Lax';
}

export interface CookieRead {
  value: string | undefined;
  /** The same name appeared more than once: a planted cookie (cookie tossing) or a client bug. */
  duplicate: boolean;
}

/** name=value at most this long, the limit every browser honours (ASVS 3.3.5). */
export const MAX_COOKIE_BYTES = 4096;
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const COOKIE_VALUE = /^[!#-+\--:<-[\]-~]*$/;

export function assertCookieSpec(spec: CookieSpec): void {
  if (!COOKIE_NAME.test(spec.name)) throw new Error(`Invalid cookie name ${spec.name}`);
  if (spec.name.startsWith('__Host-') && spec.path !== '/') throw new Error(`A __Host- cookie must have Path=/ (${spec.name})`);
}

export function serializeCookie(spec: CookieSpec, value: string, maxAgeSec: number): string {
  if (!COOKIE_VALUE.test(value)) throw new Error(`Cookie value for ${spec.name} has characters a cookie cannot hold`);
  // Browsers drop a larger cookie silently (RFC 6265 §6.1): fail loudly here instead.
  if (spec.name.length + 1 + value.length > MAX_COOKIE_BYTES) throw new Error(`Cookie ${spec.name} would exceed ${MAX_COOKIE_BYTES} bytes`);
  let header = `${spec.name}=${value}; Path=${spec.path}; Max-Age=${Math.max(0, Math.floor(maxAgeSec))}`;
  if (maxAgeSec <= 0) header += '; Expires=Thu, 01 Jan 1970 00:00:00 GMT';
  header += '; Secure';
  if (spec.httpOnly) header += '; HttpOnly';
  return `${header}; SameSite=${spec.sameSite}`;
}

export function clearCookie(spec: CookieSpec): string {
  return serializeCookie(spec, '', 0);
}

/** Finds `name` in a Cookie header, noticing duplicates. Cheap enough for every request. */
export function readCookie(header: string | undefined, name: string): CookieRead {
  if (!header) return { value: undefined, duplicate: false };
  let value: string | undefined;
  let seen = 0;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name) {
      seen += 1;
      if (seen === 1) {
        let raw = header.slice(eq + 1, end).trim();
        if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) raw = raw.slice(1, -1);
        value = raw;
      }
    }
    start = end + 1;
  }
  return { value, duplicate: seen > 1 };
}
