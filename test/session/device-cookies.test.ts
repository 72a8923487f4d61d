import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ConfigurationError } from '../../src/errors.js';
import { createDeviceCookies } from '../../src/session/device-cookies.js';
import { parseSetCookie } from '../support/http-server.js';

const DAY = 24 * 60 * 60_000;
const T0 = Date.UTC(2031, 0, 1);

describe('createDeviceCookies', () => {
  const [k1, k2] = [randomBytes(32), randomBytes(32)];
  let clock = T0;
  const cookieOf = (setCookie: string): string => {
    const { name, value } = parseSetCookie(setCookie);
    return `${name}=${value}`;
  };

  it('recognises its own cookie for the user it was issued to, until it expires', () => {
    const devices = createDeviceCookies({ secrets: [k1], ttlMs: DAY, now: () => clock });
    const cookie = cookieOf(devices.issue('u_alice'));
    const id = devices.recognise(`other=1; ${cookie}`, 'u_alice');
    assert.match(id ?? '', /^[A-Za-z0-9_-]{22}$/);
    assert.equal(devices.recognise(cookie, 'u_bob'), undefined, 'bound to the user id');
    assert.notEqual(devices.recognise(cookieOf(devices.issue('u_alice')), 'u_alice'), id, 'a new device id each time');
    clock = T0 + DAY - 1_000;
    assert.equal(devices.recognise(cookie, 'u_alice'), id);
    clock = T0 + DAY;
    assert.equal(devices.recognise(cookie, 'u_alice'), undefined, 'expired');
    clock = T0;
  });

  it('keeps recognising cookies signed by an older key after a rotation, not those of unknown keys', () => {
    const old = cookieOf(createDeviceCookies({ secrets: [k2], now: () => clock }).issue('u_alice'));
    assert.ok(createDeviceCookies({ secrets: [k1, k2], now: () => clock }).recognise(old, 'u_alice'));
    assert.equal(createDeviceCookies({ secrets: [k1], now: () => clock }).recognise(old, 'u_alice'), undefined);
  });

  it('ignores malformed values and a second spelling of the MAC', () => {
    const devices = createDeviceCookies({ secrets: [k1], now: () => clock });
    const cookie = cookieOf(devices.issue('u_alice'));
    const last = cookie.at(-1)!;
    const twin = cookie.slice(0, -1) + String.fromCharCode(last.charCodeAt(0) ^ 1);
    for (const header of [undefined, '', '__Host-sentinel_device=', '__Host-sentinel_device=a.b.c', `${cookie}x`, twin]) {
      assert.equal(devices.recognise(header, 'u_alice'), undefined, String(header));
    }
  });

  it('validates its options once, at construction', () => {
    for (const options of [{ secrets: [] }, { secrets: [Buffer.alloc(8)] }, { secrets: [k1], ttlMs: 0 }, { secrets: [k1], name: 'device' }, { secrets: [k1], name: '__Host-bad name' }]) {
      assert.throws(() => createDeviceCookies(options), ConfigurationError, JSON.stringify(options));
    }
  });
});
