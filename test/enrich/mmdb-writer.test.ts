/**
 * The test MMDB writer, checked by reading its files back with the maxmind reader the library uses: if the writer
 * were wrong, every geolocation test built on it would prove nothing.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import maxmind from 'maxmind';
import { buildMmdb } from '../support/mmdb-writer.js';
import { COUNTRY_ONLY, DOCUMENTATION, IPV6_OSLO, LONDON, writeGeoDatabases } from '../support/geo-databases.js';

describe('test MMDB writer', () => {
  const dbs = writeGeoDatabases();
  after(() => dbs.remove());

  it('writes a City database the maxmind reader opens, with its metadata and records', async () => {
    const reader = await maxmind.open<Record<string, unknown>>(dbs.city);
    assert.equal(reader.metadata.databaseType, 'GeoIP2-City');
    assert.equal(reader.metadata.ipVersion, 6);
    assert.equal(reader.metadata.recordSize, 24);
    assert.equal(reader.metadata.buildEpoch.toISOString(), '2026-01-01T00:00:00.000Z');
    const london = reader.get(LONDON) as { city: { names: { en: string } }; location: { latitude: number; longitude: number }; subdivisions: Array<{ iso_code: string }> };
    assert.equal(london.city.names.en, 'London');
    assert.equal(london.location.latitude, 51.5142);
    assert.equal(london.location.longitude, -0.0931);
    assert.equal(london.subdivisions[0]!.iso_code, 'ENG');
    assert.deepEqual(reader.get(COUNTRY_ONLY), { continent: { code: 'EU', names: { en: 'Europe', de: 'Europe (de)' } }, country: { iso_code: 'GB', names: { en: 'United Kingdom', de: 'United Kingdom (de)' } } });
    assert.equal((reader.get(IPV6_OSLO) as { city: { names: { en: string } } }).city.names.en, 'Oslo');
    assert.equal((reader.get(DOCUMENTATION) as { country: { iso_code: string } }).country.iso_code, 'ZZ', 'the file really holds the documentation range');
    assert.equal(reader.get('81.2.70.1'), null, 'a neighbour outside every network: no data');
    assert.equal(reader.get('2a03::1'), null);
  });

  it('writes 32-bit record trees and IPv4-only databases too', async () => {
    const asn = await maxmind.open<Record<string, unknown>>(dbs.asn);
    assert.equal(asn.metadata.recordSize, 32);
    assert.deepEqual(asn.get(LONDON), { autonomous_system_number: 20712, autonomous_system_organization: 'Andrews & Arnold Ltd' });
    const v4 = await maxmind.open<Record<string, unknown>>(dbs.flatV4);
    assert.equal(v4.metadata.ipVersion, 4);
    assert.equal((v4.get(LONDON) as { city: string }).city, 'London');
  });

  it('encodes every type the readers meet: strings, unsigned ints, doubles, booleans, arrays, maps, uint64, long strings', async () => {
    const long = 'x'.repeat(70_000);
    const { Reader } = maxmind as unknown as { Reader: new (buffer: Buffer) => { get(ip: string): unknown } };
    const data = { s: 'é', n: 4_294_967_295, d: { double: -1.5 }, t: true, f: false, a: [1, 'two', [3]], big: { uint: 2n ** 40n }, mid: 'y'.repeat(300), long };
    const reader = new Reader(buildMmdb({ ipVersion: 4, databaseType: 'types', networks: [{ network: '1.2.3.0/24', data }] }));
    const read = reader.get('1.2.3.4') as Record<string, unknown>;
    // Compared apart: a failure should not print 70 000 characters.
    assert.ok(read.long === long && read.mid === 'y'.repeat(300), 'strings past the one- and two-byte size forms');
    assert.deepEqual({ ...read, long: undefined, mid: undefined }, { s: 'é', n: 4_294_967_295, d: -1.5, t: true, f: false, a: [1, 'two', [3]], big: 2n ** 40n, mid: undefined, long: undefined });
  });
});
