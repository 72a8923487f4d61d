import { createHash } from 'node:crypto';
import { NEW_DEVICE_BASELINE_DAYS, UNKNOWN, type CountRow, type DailyReview } from './review-types.js';
import { barChart, columnChart, escapeHtml } from './svg-charts.js';

/**
 * The daily review as one self-contained HTML page (docs/anomaly-detection.md#daily-review): inline CSS, inline SVG
 * charts, no script, no external resource of any kind. A CSP meta tag allows nothing but the page's own style
 * element (by its hash), so even a value that escaped escaping could load nothing and run nothing; and every value
 * is escaped, because user names, addresses and user agents are what attackers type.
 */

const COLORS = { success: '#2e7d32', failure: '#c62828', source: '#c62828', country: '#ad1457', user: '#6a1b9a', rule: '#37474f' };
const SEVERITY_COLORS: Record<string, string> = { low: '#1e88e5', medium: '#f9a825', high: '#ef6c00', critical: '#b71c1c' };

const STYLE = `
:root { color-scheme: light; }
body { margin: 0; background: #f4f5f7; color: #1d1d1f; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 0 0 10px; }
.built { color: #666; margin: 0 0 18px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin-bottom: 16px; }
.tile, section { background: #fff; border: 1px solid #e1e3e8; border-radius: 8px; padding: 14px 16px; }
.tile b { display: block; font-size: 24px; }
.tile span { color: #666; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 16px; margin: 16px 0; }
section { margin-bottom: 16px; overflow-x: auto; }
svg.chart { display: block; max-width: 100%; height: auto; font-family: inherit; }
svg.wide { width: 100%; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; vertical-align: top; overflow-wrap: anywhere; }
th { color: #555; font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.empty { color: #777; margin: 0; }
`;
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');
/**
 * Nothing may load (default-src 'none' covers scripts, images, fonts, frames, connections), only this style element
 * runs; base-uri and form-action are not covered by default-src. frame-ancestors cannot be set from a meta tag.
 */
export const REVIEW_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; base-uri 'none'; form-action 'none'`;

const empty = '<p class="empty">None.</p>';
const bars = (rows: readonly CountRow[], description: string, color: string): string =>
  rows.length ? barChart(rows.map((r) => ({ label: r.key, count: r.count })), description, color) : empty;

function table(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  if (rows.length === 0) return empty;
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map((cell) => (typeof cell === 'number' ? `<td class="n">${cell}</td>` : `<td>${escapeHtml(cell)}</td>`)).join('')}</tr>`).join('');
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

const section = (title: string, content: string): string => `<section><h2>${escapeHtml(title)}</h2>${content}</section>`;
const tile = (value: string | number, label: string): string => `<div class="tile"><b>${escapeHtml(value)}</b><span>${escapeHtml(label)}</span></div>`;

export function renderReviewHtml(review: DailyReview): string {
  const total = review.logins.success + review.logins.failure;
  const alerts = review.alertsByRule.reduce((sum, row) => sum + row.count, 0);
  const dayEnd = Date.parse(`${review.day}T00:00:00.000Z`) + 86_400_000;
  const built = Date.parse(review.builtAt);
  const builtNote = built < dayEnd
    ? `Built ${review.builtAt.slice(0, 16).replace('T', ' ')} UTC, before the day ended: what came later is not counted.`
    : `Built ${review.builtAt.slice(0, 16).replace('T', ' ')} UTC.`;
  const hours = review.hourly.map((h) => {
    const hh = h.hour.slice(11, 13);
    return { label: hh, title: `${hh}:00–${String(Number(hh) + 1).padStart(2, '0')}:00 UTC`, values: [h.success, h.failure] };
  });
  const severities = review.alertsBySeverity.map((r) => ({ label: r.key, count: r.count, color: SEVERITY_COLORS[r.key] ?? COLORS.rule }));
  const devices = review.newDevices.map((d) => [d.user, d.browser, d.os, d.device === UNKNOWN ? '' : d.device, `${d.firstSeen.slice(11, 19)} UTC`]);
  const events = Object.entries(review.events).map(([action, count]) => [action, count]);
  const title = `Security review for ${review.day} (UTC)`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(REVIEW_CSP)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
<p class="built">${escapeHtml(builtNote)}</p>
<div class="tiles">${[
    tile(total, 'logins'),
    tile(review.logins.success, 'succeeded'),
    tile(review.logins.failure, 'failed'),
    tile(total ? `${Math.round((review.logins.failure / total) * 100)}%` : '–', 'failure rate'),
    tile(alerts, 'alerts'),
    tile(review.newDevices.length, 'new devices'),
  ].join('')}</div>
${section('Logins per hour (UTC)', columnChart(hours, [{ name: 'succeeded', color: COLORS.success }, { name: 'failed', color: COLORS.failure }], 'Successful and failed logins per hour, UTC'))}
<div class="grid">
${section('Top failing sources', bars(review.topFailingSources, 'Failed logins by source address', COLORS.source))}
${section('Top failing countries', bars(review.topFailingCountries, 'Failed logins by source country', COLORS.country))}
${section('Top failing users', bars(review.topFailingUsers, 'Failed logins by user name', COLORS.user))}
${section('Alerts by rule', bars(review.alertsByRule, 'Alerts by rule', COLORS.rule))}
${section('Alerts by severity', severities.length ? barChart(severities, 'Alerts by severity') : empty)}
</div>
${section(`New devices (not used by their user in the ${NEW_DEVICE_BASELINE_DAYS} days before)`, table(['user', 'browser', 'system', 'device', 'first seen'], devices))}
${section('All security events', table(['event', 'count'], events))}
<p class="built">Countries come from the geolocation database the events were enriched with; the default one is DB-IP City Lite: IP Geolocation by DB-IP (db-ip.com), licensed under CC BY 4.0.</p>
</main>
</body>
</html>
`;
}
