/** A daily review with every part filled, attacker-chosen names included, for the HTML page's tests. */
import type { DailyReview } from '../../src/anomaly/review.js';

export const HOSTILE_USER = '<img src=x onerror=alert(1)>';
export const HOSTILE_AGENT = '"><script>alert(2)</script><svg onload=alert(3)>';
/** Looks like a link in the text; must stay text. */
export const LINK_USER = 'x" href="https://evil.test/a';

export function sampleReview(overrides: Partial<DailyReview> = {}): DailyReview {
  const day = '2026-11-20';
  return {
    day,
    builtAt: '2026-11-21T00:05:00.000Z',
    logins: { success: 130, failure: 61 },
    hourly: Array.from({ length: 24 }, (_, h) => ({ hour: `${day}T${String(h).padStart(2, '0')}:00:00.000Z`, success: h >= 7 && h <= 19 ? 8 + (h % 5) : 1, failure: h === 11 ? 40 : h % 4 })),
    events: { authn_login_success: 125, authn_login_fail: 61, authn_login_successafterfail: 5, authz_fail: 3 },
    topFailingSources: [{ key: '192.0.2.7', count: 40 }, { key: '198.51.100.23', count: 12 }, { key: '100.64.0.1', count: 9 }],
    topFailingCountries: [{ key: 'NL', count: 40 }, { key: 'unknown', count: 12 }, { key: 'BR', count: 9 }],
    topFailingUsers: [{ key: HOSTILE_USER, count: 30 }, { key: 'mallory', count: 20 }, { key: LINK_USER, count: 11 }],
    newDevices: [
      { user: 'alice', browser: 'Firefox', os: 'Linux', device: 'unknown', firstSeen: `${day}T09:12:03.000Z` },
      { user: HOSTILE_USER, browser: HOSTILE_AGENT, os: 'Windows', device: 'iPhone', firstSeen: `${day}T11:42:00.000Z` },
    ],
    alertsByRule: [{ key: 'brute_force_account', count: 2 }, { key: 'new_device_for_user', count: 1 }],
    alertsBySeverity: [{ key: 'high', count: 2 }, { key: 'low', count: 1 }],
    ...overrides,
  };
}
