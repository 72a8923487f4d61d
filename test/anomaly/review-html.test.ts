/**
 * The review page as a string: self-contained (no URL, no script, no event handler, a CSP that allows only its own
 * style element) and every value escaped, attacker-chosen user names and user agents first.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { renderReviewHtml, REVIEW_CSP } from '../../src/anomaly/review-html.js';
import { escapeHtml, niceCeiling, truncate } from '../../src/anomaly/svg-charts.js';
import { HOSTILE_AGENT, HOSTILE_USER, LINK_USER, sampleReview } from '../support/review-fixture.js';

/** Every tag the page has, with its attributes. Escaped text has no `<`, so these are the page's own. */
const tags = (html: string): string[] => html.match(/<[a-zA-Z][^>]*>/g) ?? [];
const attributes = (tag: string): string[] => [...tag.matchAll(/\s([a-zA-Z-:]+)=/g)].map((m) => m[1]!.toLowerCase());

describe('renderReviewHtml', () => {
  const html = renderReviewHtml(sampleReview());

  it('escapes an attacker\'s user name and user agent: text, never markup', () => {
    assert.ok(html.includes(escapeHtml(HOSTILE_USER)), 'the name is shown, escaped');
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
    assert.ok(!html.includes(HOSTILE_USER));
    assert.ok(!html.includes('<script'), 'no script element');
    assert.ok(html.includes(escapeHtml(HOSTILE_AGENT)));
    assert.ok(!html.includes(LINK_USER), 'quotes escaped: the name cannot leave its attribute or text');
    const names = new Set(tags(html).map((tag) => tag.slice(1).split(/[\s>/]/)[0]!.toLowerCase()));
    for (const forbidden of ['img', 'script', 'iframe', 'object', 'embed', 'link', 'a', 'form', 'image', 'use', 'foreignobject']) assert.ok(!names.has(forbidden), forbidden);
  });

  it('has no event handler, no style attribute and no reference to anything outside the page', () => {
    for (const tag of tags(html)) {
      for (const name of attributes(tag)) {
        assert.ok(!name.startsWith('on'), `${name} in ${tag}`);
        assert.ok(!['src', 'href', 'xlink:href', 'action', 'srcset', 'style', 'background', 'poster', 'data'].includes(name), `${name} in ${tag}`);
      }
    }
    const clean = renderReviewHtml(sampleReview({ topFailingUsers: [{ key: 'mallory', count: 3 }], newDevices: [] }));
    assert.doesNotMatch(clean, /:\/\/|url\(|@import/i, 'no URL at all');
  });

  it('carries a CSP that allows nothing but its own style element, by hash', () => {
    assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="${REVIEW_CSP.replaceAll("'", '&#39;')}">`));
    assert.match(REVIEW_CSP, /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; base-uri 'none'; form-action 'none'$/);
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
    assert.equal(styles.length, 1);
    assert.equal(`sha256-${createHash('sha256').update(styles[0]!).digest('base64')}`, /'(sha256-[^']+)'/.exec(REVIEW_CSP)![1]);
    // The policy comes before anything it governs.
    assert.ok(html.indexOf('Content-Security-Policy') < html.indexOf('<style>'));
  });

  it('draws the hours, the top lists and the alerts as inline SVG', () => {
    const svgs = html.match(/<svg /g) ?? [];
    assert.equal(svgs.length, 6, 'hours, sources, countries, users, rules, severities');
    // 24 hours × 2 series, 3 + 3 + 3 top rows, 2 rules, 2 severities.
    assert.equal((html.match(/<rect class="bar"/g) ?? []).length, 48 + 9 + 2 + 2);
    assert.ok(html.includes('<title>11:00–12:00 UTC: 40 failed</title>'));
    assert.ok(html.includes('>unknown<'), 'failures without a country');
    assert.match(html, /IP Geolocation by DB-IP \(db-ip\.com\), licensed under CC BY 4\.0/, 'the default database credited (CC BY 4.0)');
    assert.match(html, /<td>alice<\/td><td>Firefox<\/td><td>Linux<\/td><td><\/td>/);
  });

  it('says when it was built before the day ended', () => {
    assert.match(renderReviewHtml(sampleReview({ builtAt: '2026-11-20T23:00:00.000Z' })), /Built 2026-11-20 23:00 UTC, before the day ended/);
    assert.doesNotMatch(html, /before the day ended/);
  });

  it('an empty day still renders: the hours at zero, "None." for the lists', () => {
    const quiet = renderReviewHtml(sampleReview({
      logins: { success: 0, failure: 0 }, hourly: sampleReview().hourly.map((h) => ({ ...h, success: 0, failure: 0 })), events: {},
      topFailingSources: [], topFailingCountries: [], topFailingUsers: [], newDevices: [], alertsByRule: [], alertsBySeverity: [],
    }));
    assert.equal((quiet.match(/<svg /g) ?? []).length, 1);
    assert.equal((quiet.match(/None\./g) ?? []).length, 7);
    assert.doesNotMatch(quiet, /NaN|Infinity|undefined/);
  });
});

describe('chart helpers', () => {
  it('escapeHtml covers the five characters that matter in text and quoted attributes', () => {
    assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('truncate cuts by code point before escaping', () => {
    assert.equal(truncate('abcdef', 4), 'abc…');
    assert.equal(truncate('😀😀😀😀😀', 3), '😀😀…');
    assert.equal(truncate('abc', 3), 'abc');
  });

  it('niceCeiling rounds an axis up to 1, 2 or 5 times a power of ten', () => {
    assert.deepEqual([0, 1, 3, 7, 12, 40, 51, 999].map(niceCeiling), [1, 1, 5, 10, 20, 50, 100, 1000]);
  });
});
