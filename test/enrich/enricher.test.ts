import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createEnricher } from '../../src/enrich/enricher.js';
import { openGeoLookup } from '../../src/enrich/geo-lookup.js';
import type { GeoLookup } from '../../src/enrich/types.js';
import { ConfigurationError } from '../../src/errors.js';
import { buildSecurityEvent } from '../../src/events/security-event.js';
import { ecsJsonStream, ecsRawStream, type EcsDocument } from '../../src/logging/ecs.js';
import { createLogger, logSecurityEvent } from '../../src/logging/logger.js';
import { DOCUMENTATION, LONDON, PRIVATE, writeGeoDatabases } from '../support/geo-databases.js';

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';

/** A GeoLookup of one's own that records what it is asked. */
function recordingLookup(): GeoLookup & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    lookup(ip) {
      asked.push(ip);
      return { geo: { country_iso_code: 'NZ', location: { lat: -41.29, lon: 174.78 } }, as: { number: 64500 } };
    },
  };
}

describe('createEnricher', () => {
  const dbs = writeGeoDatabases();
  after(() => dbs.remove());

  it('adds source.geo, source.as and user_agent.* in place, from the databases and the header', async () => {
    const enrich = createEnricher({ geo: await openGeoLookup({ cityDatabase: dbs.city, asnDatabase: dbs.asn }) });
    const doc: Record<string, unknown> = { source: { ip: LONDON }, user_agent: { original: IPHONE } };
    enrich(doc);
    assert.deepEqual(doc.source, {
      ip: LONDON,
      geo: {
        continent_code: 'EU', continent_name: 'Europe', country_iso_code: 'GB', country_name: 'United Kingdom', region_iso_code: 'GB-ENG',
        region_name: 'England', city_name: 'London', postal_code: 'EC2V', timezone: 'Europe/London', location: { lat: 51.5142, lon: -0.0931 },
      },
      as: { number: 20712, organization: { name: 'Andrews & Arnold Ltd' } },
    });
    assert.deepEqual(doc.user_agent, { original: IPHONE, name: 'Mobile Safari', version: '17.4', os: { name: 'iOS', version: '17.4', full: 'iOS 17.4', family: 'ios', type: 'ios' }, device: { name: 'Apple iPhone' } });
  });

  it('a GeoLookup of your own is never asked about special addresses, and gets IPv4-mapped ones unwrapped', () => {
    const lookup = recordingLookup();
    const enrich = createEnricher({ geo: lookup });
    for (const ip of [PRIVATE, DOCUMENTATION, '127.0.0.1', '::1', '::ffff:192.168.0.1', '2001:db8::5', 'fe80::1', 'garbage']) {
      const doc = { source: { ip } } as Record<string, unknown>;
      enrich(doc);
      assert.deepEqual(doc.source, { ip }, ip);
    }
    const mapped = { source: { ip: `::ffff:${LONDON}` } };
    enrich(mapped);
    assert.deepEqual(lookup.asked, [LONDON]);
    assert.deepEqual(mapped.source, { ip: `::ffff:${LONDON}`, geo: { country_iso_code: 'NZ', location: { lat: -41.29, lon: 174.78 } }, as: { number: 64500 } });
  });

  it('leaves documents alone that have nothing to read or already carry the fields; a throwing lookup costs only the geolocation', () => {
    const enrich = createEnricher({ geo: { lookup: () => { throw new Error('broken lookup'); } } });
    const cases: Array<Record<string, unknown>> = [
      {}, { source: 'x' }, { source: { ip: 42 } }, { user_agent: { original: 7 } }, { user_agent: [] },
      { source: { ip: LONDON, geo: { country_iso_code: 'FR' } } }, { user_agent: { original: IPHONE, name: 'Mine' } },
    ];
    for (const doc of cases) {
      const before = structuredClone(doc);
      enrich(doc);
      assert.deepEqual(doc, before);
    }
    const doc = { source: { ip: LONDON }, user_agent: { original: IPHONE } };
    enrich(doc);
    assert.deepEqual(doc.source, { ip: LONDON }, 'the lookup threw: no geolocation');
    assert.equal((doc.user_agent as Record<string, unknown>).name, 'Mobile Safari', 'the rest still happens');
  });

  it('userAgent: false parses nothing; without geo nothing is geolocated', () => {
    const doc = { source: { ip: LONDON }, user_agent: { original: IPHONE } };
    createEnricher({ userAgent: false })(doc);
    assert.deepEqual(doc, { source: { ip: LONDON }, user_agent: { original: IPHONE } });
  });

  it('refuses bad options with a ConfigurationError naming them', () => {
    assert.throws(() => createEnricher({ geo: {} as GeoLookup }), (e: unknown) => e instanceof ConfigurationError && e.option === 'geo');
    assert.throws(() => createEnricher({ userAgent: 'yes' as never }), (e: unknown) => e instanceof ConfigurationError && e.option === 'userAgent');
    assert.throws(() => createEnricher({ userAgent: { cacheSize: -5 } }), (e: unknown) => e instanceof ConfigurationError && e.option === 'userAgent.cacheSize');
  });
});

describe('enrichment in the logging path', () => {
  const lookup = recordingLookup();
  const enrich = createEnricher({ geo: lookup });
  const event = (ip: string) => buildSecurityEvent('authn_login_success', { user: { name: 'alice' }, source: { ip }, userAgent: IPHONE });

  it('createLogger({ enrich }): stdout lines and sink documents are enriched; the logged event object is not touched', () => {
    const lines: string[] = [];
    const docs: EcsDocument[] = [];
    const logger = createLogger({ name: 'enrich-test', stdout: { write: (text: string) => lines.push(text) }, sinks: [{ write: (doc) => docs.push(doc) }], enrich });
    const original = event(LONDON);
    const copy = structuredClone(original);
    logSecurityEvent(logger, original);
    assert.deepEqual(original, copy, 'the caller\'s object stays as it was');
    const line = JSON.parse(lines[0]!) as { source: { geo: { country_iso_code: string } }; user_agent: { name: string } };
    assert.equal(line.source.geo.country_iso_code, 'NZ');
    assert.equal(line.user_agent.name, 'Mobile Safari');
    assert.equal(docs[0], docs.at(-1));
    assert.deepEqual(docs[0]!.source, line.source);
  });

  it('ecsRawStream and ecsJsonStream take the enricher too', () => {
    const docs: EcsDocument[] = [];
    const lines: string[] = [];
    const record = { ...event(LONDON), level: 30, time: new Date(), msg: 'login', name: 'x', hostname: 'h', pid: 1, v: 0 };
    ecsRawStream({ write: (doc) => docs.push(doc) }, enrich).write(record);
    ecsJsonStream({ write: (text: string) => lines.push(text) }, enrich).write(record);
    assert.equal((docs[0]!.source as { as: { number: number } }).as.number, 64500);
    assert.equal((JSON.parse(lines[0]!) as { user_agent: { os: { name: string } } }).user_agent.os.name, 'iOS');
  });
});
