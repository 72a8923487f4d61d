/**
 * new_device_for_user against the real Elasticsearch: a login from a browser, OS and device the user never used
 * fires; a browser update, a recognised device cookie, a user without history and a login nobody parsed do not
 * (docs/anomaly-detection.md).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newDeviceForUser } from '../../src/anomaly/rules/devices.js';
import type { SecurityEvent } from '../../src/events/security-event.js';
import { success } from '../support/events.js';
import { DEVICES, PLACES, from, on, type Device } from '../support/located-events.js';
import { DAY, END, HOUR, MINUTE, NOW, ruleScenarios } from '../support/rule-scenario.js';

const scenario = ruleScenarios();

const HOME = '192.0.2.10';

/** A successful login of `user` on `device` from home; `known` is whether its device cookie was recognised. */
const login = (user: string, device: Device, at: number, known?: boolean): SecurityEvent =>
  on(device, from(PLACES.paris, success(user, HOME, at, { userAgent: device.original })), known);
/** A login every day for `days` days before END, on `device`, its cookie recognised after the first. */
const history = (user: string, device: Device, days = 10): SecurityEvent[] =>
  Array.from({ length: days }, (_, d) => login(user, device, END - (d + 1) * DAY + 2 * HOUR, d < days - 1));

describe('new_device_for_user (T1078)', () => {
  it('fires once for Chrome on Windows after 10 days of Firefox on Linux, and names the devices', async () => {
    const first = login('alice', DEVICES.chromeWindows, END - 8 * MINUTE, false);
    const second = login('alice', DEVICES.chromeWindows, END - 4 * MINUTE, true);
    const s = await scenario('device-attack', newDeviceForUser, [...history('alice', DEVICES.firefoxLinux), first, second]);
    const result = await s.runOnce();
    assert.equal(result.created.length, 1, JSON.stringify(result.created.map((a) => a.message)));
    const [alert, ...others] = await s.stored();
    assert.deepEqual(others, []);
    assert.equal(alert!.rule.id, 'new_device_for_user');
    assert.equal(alert!.event.severity, 21);
    assert.deepEqual([alert!.threat.technique.id, alert!.threat.technique.name], ['T1078', 'Valid Accounts']);
    assert.deepEqual([alert!.threat.tactic.id, alert!.threat.tactic.name], ['TA0001', 'Initial Access']);
    assert.deepEqual(alert!.user, { name: 'alice' });
    assert.equal(alert!.sentinel.alert.count, 2);
    assert.equal(alert!['@timestamp'], first['@timestamp'], 'stamped with the first unrecognised login');
    assert.equal(alert!.sentinel.alert.last_seen, second['@timestamp']);
    assert.deepEqual(alert!.sentinel.alert.sources, [HOME]);
    assert.deepEqual(alert!.sentinel.alert.details, { device: 'Chrome on Windows', browser: 'Chrome', os: 'Windows', unrecognised_logins: 1, known_devices: ['Firefox on Linux'] });
    assert.equal(alert!.message, 'Login from a new device: "alice" logged in from a new device, Chrome on Windows, from Paris, France (AS64496 Example Fibre FR) (not seen for them in 30 days)');

    const next = await s.runAt(NOW + 5 * MINUTE);
    assert.deepEqual(next.created, []);
    assert.equal(next.existing.length, 1);
    assert.deepEqual(await s.evaluate(END + 10 * MINUTE), [], 'once the first login is in the baseline, the device is known');
  });

  it('tells an iPad from an iPhone: the device name is part of the device', async () => {
    const s = await scenario('device-ipad', newDeviceForUser, [...history('bob', DEVICES.safariIphone), login('bob', DEVICES.safariIpad, END - 6 * MINUTE, false)]);
    const findings = await s.evaluate();
    assert.deepEqual(findings.map((f) => [f.entity, f.details?.device, f.details?.known_devices]), [['bob', 'Mobile Safari on iOS (iPad)', ['Mobile Safari on iOS (iPhone)']]]);
  });

  it('stays quiet for a browser update, a recognised device cookie, a user without history, and logins nobody parsed', async () => {
    const events = [
      ...history('carol', DEVICES.firefoxLinux), login('carol', DEVICES.firefoxLinuxUpdated, END - 9 * MINUTE, false),
      ...history('dave', DEVICES.firefoxLinux), login('dave', DEVICES.safariIphone, END - 8 * MINUTE, true),
      login('newbie', DEVICES.chromeWindows, END - 7 * MINUTE, false),
      // Before the enrichment: the raw User-Agent only.
      ...history('erin', DEVICES.firefoxLinux), success('erin', HOME, END - 6 * MINUTE, { userAgent: DEVICES.chromeWindows.original }),
      ...Array.from({ length: 5 }, (_, d) => success('fay', HOME, END - (d + 1) * DAY, { userAgent: DEVICES.firefoxLinux.original })),
      login('fay', DEVICES.chromeWindows, END - 5 * MINUTE, false),
    ];
    const s = await scenario('device-benign', newDeviceForUser, events);
    assert.deepEqual(await s.evaluate(), []);
    const result = await s.runOnce();
    assert.deepEqual(result.created.map((a) => a.message), []);
    // The same logins without their device cookie: dave's iPhone is the one new device.
    const uncookied = events.map((e) => (e.user?.name === 'dave' && e.user_agent?.original === DEVICES.safariIphone.original ? on(DEVICES.safariIphone, e, false) : e));
    const plain = await scenario('device-nocookie', newDeviceForUser, uncookied);
    assert.deepEqual((await plain.evaluate()).map((f) => [f.entity, f.details?.device]), [['dave', 'Mobile Safari on iOS (iPhone)']]);
  });
});
