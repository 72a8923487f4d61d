/**
 * Unit tests of our cookie reader and writer (ASVS 3.3.1-3.3.5). The attributes are the security, so each
 * Set-Cookie line is compared whole; the reader must notice a second cookie of the same name (cookie tossing).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertCookieSpec, clearCookie, readCookie, serializeCookie, type CookieSpec } from '../../src/session/cookies.js';

const ACCESS: CookieSpec = { name: '__Host-sentinel_at', path: '/', httpOnly: true, sameSite: 'Lax' };
const REFRESH: CookieSpec = { name: '__Secure-sentinel_rt', path: '/auth/refresh', httpOnly: true, sameSite: 'Strict' };
const CSRF: CookieSpec = { name: '__Host-sentinel_csrf', path: '/', httpOnly: false, sameSite: 'Strict' };
const NAME = ACCESS.name;
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl';

describe('readCookie', () => {
  it('finds a cookie alone, first, in the middle and last', () => {
    assert.deepEqual(readCookie(`${NAME}=${TOKEN}`, NAME), { value: TOKEN, duplicate: false });
    assert.deepEqual(readCookie(`${NAME}=${TOKEN}; theme=dark`, NAME), { value: TOKEN, duplicate: false });
    assert.deepEqual(readCookie(`a=1; ${NAME}=${TOKEN}; b=2`, NAME), { value: TOKEN, duplicate: false });
    assert.deepEqual(readCookie(`a=1; b=2; ${NAME}=${TOKEN}`, NAME), { value: TOKEN, duplicate: false });
  });

  it('answers undefined, not a duplicate, when the header or the cookie is missing', () => {
    assert.deepEqual(readCookie(undefined, NAME), { value: undefined, duplicate: false });
    assert.deepEqual(readCookie('', NAME), { value: undefined, duplicate: false });
    assert.deepEqual(readCookie('theme=dark; lang=en', NAME), { value: undefined, duplicate: false });
    assert.deepEqual(readCookie(';;; ', NAME), { value: undefined, duplicate: false });
    // A bare name without "=" is not a cookie of that name.
    assert.deepEqual(readCookie(`${NAME}; theme=dark`, NAME), { value: undefined, duplicate: false });
    assert.deepEqual(readCookie(NAME, NAME), { value: undefined, duplicate: false });
  });

  it('flags a duplicate and keeps the first value, whatever the two hold', () => {
    assert.deepEqual(readCookie(`${NAME}=first; ${NAME}=second`, NAME), { value: 'first', duplicate: true });
    assert.deepEqual(readCookie(`${NAME}=${TOKEN}; ${NAME}=${TOKEN}`, NAME), { value: TOKEN, duplicate: true });
    assert.deepEqual(readCookie(`a=1; ${NAME}=; b=2; ${NAME}=x`, NAME), { value: '', duplicate: true });
    assert.deepEqual(readCookie(`${NAME}=a;${NAME}=b;${NAME}=c`, NAME), { value: 'a', duplicate: true });
    assert.deepEqual(readCookie(`${NAME}=a; ${NAME} = b`, NAME), { value: 'a', duplicate: true });
    // Two Cookie header lines reach Koa joined with "; ".
    assert.deepEqual(readCookie(`${NAME}=a; theme=dark; ${NAME}=b`, NAME), { value: 'a', duplicate: true });
  });

  it('ignores names that only look alike', () => {
    const header = `x${NAME}=1; ${NAME}2=2; __host-sentinel_at=3; ${NAME.toUpperCase()}=4; __Secure-sentinel_at=5`;
    assert.deepEqual(readCookie(header, NAME), { value: undefined, duplicate: false });
    assert.deepEqual(readCookie(`${header}; ${NAME}=real`, NAME), { value: 'real', duplicate: false });
    // A value that contains the name is not a second cookie.
    assert.deepEqual(readCookie(`other=${NAME}=x; ${NAME}=real`, NAME), { value: 'real', duplicate: false });
  });

  it('strips one pair of surrounding double quotes (RFC 6265 §4.1.1), and only a full pair', () => {
    assert.deepEqual(readCookie(`${NAME}="${TOKEN}"`, NAME), { value: TOKEN, duplicate: false });
    assert.deepEqual(readCookie(`${NAME}=""`, NAME), { value: '', duplicate: false });
    assert.deepEqual(readCookie(`${NAME}="`, NAME), { value: '"', duplicate: false });
    assert.deepEqual(readCookie(`${NAME}="abc`, NAME), { value: '"abc', duplicate: false });
    assert.deepEqual(readCookie(`${NAME}=abc"`, NAME), { value: 'abc"', duplicate: false });
    assert.deepEqual(readCookie(`${NAME}=""abc""`, NAME), { value: '"abc"', duplicate: false });
  });

  it('trims white space around names and values, and keeps "=" inside values', () => {
    assert.deepEqual(readCookie(`  ${NAME}  =  ${TOKEN}  ;theme=dark`, NAME), { value: TOKEN, duplicate: false });
    assert.deepEqual(readCookie(`\t${NAME}=\t${TOKEN}\t`, NAME), { value: TOKEN, duplicate: false });
    assert.deepEqual(readCookie(`${NAME}=a=b==`, NAME), { value: 'a=b==', duplicate: false });
    assert.deepEqual(readCookie(`${NAME}=`, NAME), { value: '', duplicate: false });
    assert.deepEqual(readCookie(`${NAME}=   `, NAME), { value: '', duplicate: false });
    assert.deepEqual(readCookie(`${NAME}=a b`, NAME), { value: 'a b', duplicate: false });
  });

  it('reads a cookie after a segment with no "=" and after empty segments', () => {
    assert.deepEqual(readCookie(`flag; ; ${NAME}=v`, NAME), { value: 'v', duplicate: false });
    assert.deepEqual(readCookie(`;${NAME}=v;`, NAME), { value: 'v', duplicate: false });
  });
});

describe('serializeCookie', () => {
  it('writes the access cookie with __Host- attributes: Path=/, no Domain, Secure, HttpOnly, SameSite=Lax', () => {
    assert.equal(serializeCookie(ACCESS, TOKEN, 900), `__Host-sentinel_at=${TOKEN}; Path=/; Max-Age=900; Secure; HttpOnly; SameSite=Lax`);
  });

  it('writes the refresh cookie with __Secure-, a narrow Path and SameSite=Strict', () => {
    assert.equal(serializeCookie(REFRESH, TOKEN, 43_200), `__Secure-sentinel_rt=${TOKEN}; Path=/auth/refresh; Max-Age=43200; Secure; HttpOnly; SameSite=Strict`);
  });

  it('leaves HttpOnly off only when asked (the CSRF cookie the page must read)', () => {
    assert.equal(serializeCookie(CSRF, 'abc.def', 60), '__Host-sentinel_csrf=abc.def; Path=/; Max-Age=60; Secure; SameSite=Strict');
  });

  it('never writes a Domain, and always writes Secure and an explicit SameSite', () => {
    for (const spec of [ACCESS, REFRESH, CSRF]) {
      const line = serializeCookie(spec, 'v', 10);
      assert.doesNotMatch(line, /domain/i);
      assert.match(line, /; Secure(;|$)/);
      assert.match(line, /; SameSite=(Lax|Strict)$/);
    }
  });

  it('floors Max-Age to whole seconds and expires a cookie at zero or below', () => {
    assert.equal(serializeCookie(ACCESS, 'v', 899.9), '__Host-sentinel_at=v; Path=/; Max-Age=899; Secure; HttpOnly; SameSite=Lax');
    const expired = '__Host-sentinel_at=v; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax';
    assert.equal(serializeCookie(ACCESS, 'v', 0), expired);
    assert.equal(serializeCookie(ACCESS, 'v', -30), expired);
  });

  it('accepts every RFC 6265 cookie-octet and refuses anything else', () => {
    const octets = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).filter((c) => !'",;\\'.includes(c)).join('');
    assert.equal(serializeCookie(ACCESS, octets, 1).split('; ')[0], `${NAME}=${octets}`);
    assert.equal(serializeCookie(ACCESS, '', 1).split('; ')[0], `${NAME}=`);
    for (const bad of [' ', 'a b', 'a;b', 'a,b', '"a"', 'a\\b', 'a\nb', 'a\rb', 'a\tb', '\u0000', 'é', 'a\u007f']) {
      assert.throws(() => serializeCookie(ACCESS, bad, 1), /Cookie value for __Host-sentinel_at has characters a cookie cannot hold/, JSON.stringify(bad));
    }
  });

  it('refuses a cookie over 4096 bytes, which browsers would silently drop (requirements, Cookies: "at most 4096 bytes")', () => {
    const fits = 'a'.repeat(4096 - NAME.length - 1);
    assert.doesNotThrow(() => serializeCookie(ACCESS, fits, 60));
    // Browsers drop a cookie over 4096 bytes without a word: refusing it here keeps the session from breaking silently.
    assert.throws(() => serializeCookie(ACCESS, `${fits}a`, 60), /4096/);
  });

  it('refuses a header-injection attempt in the value', () => {
    assert.throws(() => serializeCookie(ACCESS, 'x; Domain=evil.example', 1), /cannot hold/);
    assert.throws(() => serializeCookie(ACCESS, 'x\r\nSet-Cookie: a=b', 1), /cannot hold/);
  });
});

describe('clearCookie', () => {
  it('clears each cookie with the same name, Path and attributes it was set with', () => {
    assert.equal(clearCookie(ACCESS), '__Host-sentinel_at=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax');
    assert.equal(clearCookie(REFRESH), '__Secure-sentinel_rt=; Path=/auth/refresh; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Strict');
    assert.equal(clearCookie(CSRF), '__Host-sentinel_csrf=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; SameSite=Strict');
  });
});

describe('assertCookieSpec', () => {
  it('accepts our three cookies', () => {
    for (const spec of [ACCESS, REFRESH, CSRF]) assert.doesNotThrow(() => assertCookieSpec(spec));
  });

  it('refuses a __Host- cookie whose Path is not /', () => {
    assert.throws(() => assertCookieSpec({ ...ACCESS, path: '/api' }), /A __Host- cookie must have Path=\/ \(__Host-sentinel_at\)/);
  });

  it('refuses names that are not RFC 6265 tokens', () => {
    for (const name of ['', 'a b', 'a=b', 'a;b', 'a,b', '(a)', 'a"b', 'é', 'a\tb']) {
      assert.throws(() => assertCookieSpec({ ...ACCESS, name }), /Invalid cookie name/, JSON.stringify(name));
    }
  });
});
