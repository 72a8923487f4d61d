/**
 * Test geolocation databases, written with the MMDB writer into a temporary folder: a GeoIP2-City-shaped one, a
 * GeoLite2-ASN-shaped one and ip-location-db's flat files (IPv4 and IPv6 apart). Each also holds data for special
 * addresses (private, documentation), which must never come out of a lookup.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMmdb, type MmdbValue } from './mmdb-writer.js';

export const LONDON = '81.2.69.142';
export const LINKOPING = '89.160.20.129';
/** In the city database at country level only (no city, no location). */
export const COUNTRY_ONLY = '2.125.160.216';
export const IPV6_OSLO = '2a02:cf40::1';
/** Special addresses that nonetheless have records in every test database. */
export const DOCUMENTATION = '203.0.113.5';
export const PRIVATE = '10.1.2.3';

const names = (en: string): MmdbValue => ({ en, de: `${en} (de)` });

const CITY_RECORDS: Array<{ network: string; data: MmdbValue }> = [
  {
    network: '81.2.69.0/24',
    data: {
      city: { geoname_id: 2643743, names: names('London') },
      continent: { code: 'EU', geoname_id: 6255148, names: names('Europe') },
      country: { geoname_id: 2635167, iso_code: 'GB', names: names('United Kingdom') },
      location: { accuracy_radius: 10, latitude: { double: 51.5142 }, longitude: { double: -0.0931 }, time_zone: 'Europe/London' },
      postal: { code: 'EC2V' },
      subdivisions: [{ geoname_id: 6269131, iso_code: 'ENG', names: names('England') }],
    },
  },
  {
    network: '89.160.20.0/24',
    data: {
      city: { geoname_id: 2694762, names: names('Linköping') },
      continent: { code: 'EU', names: names('Europe') },
      country: { iso_code: 'SE', names: names('Sweden') },
      location: { accuracy_radius: 76, latitude: { double: 58.4167 }, longitude: { double: 15.6167 }, time_zone: 'Europe/Stockholm' },
      subdivisions: [{ iso_code: 'E', names: names('Östergötland County') }],
    },
  },
  { network: '2.125.160.0/24', data: { continent: { code: 'EU', names: names('Europe') }, country: { iso_code: 'GB', names: names('United Kingdom') } } },
  {
    network: '2a02:cf40::/32',
    data: {
      city: { names: names('Oslo') }, continent: { code: 'EU', names: names('Europe') }, country: { iso_code: 'NO', names: names('Norway') },
      location: { latitude: { double: 59.9127 }, longitude: { double: 10.7461 }, time_zone: 'Europe/Oslo' },
    },
  },
  { network: '203.0.113.0/24', data: { country: { iso_code: 'ZZ', names: names('Documentation Land') }, location: { latitude: { double: 1 }, longitude: { double: 1 } } } },
  { network: '10.0.0.0/8', data: { country: { iso_code: 'ZZ', names: names('Private Land') } } },
];

const ASN_RECORDS: Array<{ network: string; data: MmdbValue }> = [
  { network: '81.2.69.0/24', data: { autonomous_system_number: 20712, autonomous_system_organization: 'Andrews & Arnold Ltd' } },
  { network: '89.160.20.0/24', data: { autonomous_system_number: 29518, autonomous_system_organization: 'Bredband2 AB' } },
  { network: '2a02:cf40::/32', data: { autonomous_system_number: 64512, autonomous_system_organization: 'Example IPv6 Carrier' } },
  { network: '203.0.113.0/24', data: { autonomous_system_number: 64496, autonomous_system_organization: 'Documentation AS' } },
  { network: '10.0.0.0/8', data: { autonomous_system_number: 64497, autonomous_system_organization: 'Private AS' } },
];

const flat = (city: string, country: string, lat: number, lon: number, state1 = ''): MmdbValue =>
  ({ city, country_code: country, latitude: { double: lat }, longitude: { double: lon }, postcode: '', state1, state2: '', timezone: '' });

export interface GeoDatabases {
  dir: string;
  city: string;
  asn: string;
  /** ip-location-db's layout: one file per IP version. */
  flatV4: string;
  flatV6: string;
  remove(): void;
}

export function writeGeoDatabases(): GeoDatabases {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-geo-'));
  const write = (name: string, bytes: Buffer): string => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };
  return {
    dir,
    city: write('city.mmdb', buildMmdb({ ipVersion: 6, databaseType: 'GeoIP2-City', networks: CITY_RECORDS, recordSize: 24 })),
    asn: write('asn.mmdb', buildMmdb({ ipVersion: 6, databaseType: 'GeoLite2-ASN', networks: ASN_RECORDS, recordSize: 32 })),
    flatV4: write('flat-ipv4.mmdb', buildMmdb({
      ipVersion: 4,
      databaseType: 'city ipv4',
      networks: [
        { network: '81.2.69.0/24', data: flat('London', 'GB', 51.51430130004883, -0.09122440218925476, 'England') },
        // 32.0.0.0/8 begins with the bits of 2001::/16 and 2a02::/16 begins like 42.2.0.0: an IPv4 tree asked for an
        // IPv6 address would answer with these.
        { network: '32.0.0.0/8', data: flat('Wrong', 'FR', 48.85, 2.35) },
        { network: '42.0.0.0/8', data: flat('Wrong', 'FR', 48.85, 2.35) },
        { network: '203.0.113.0/24', data: flat('Nowhere', 'ZZ', 1, 1) },
      ],
    })),
    flatV6: write('flat-ipv6.mmdb', buildMmdb({ ipVersion: 6, databaseType: 'city ipv6', networks: [{ network: '2a02:cf40::/32', data: flat('Oslo', 'NO', 59.9127, 10.7461, 'Oslo') }] })),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
