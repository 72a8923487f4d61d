import type { GeoResult, SourceAs, SourceGeo } from './types.js';

/**
 * MMDB records to ECS `source.geo` / `source.as`. Three record shapes are read, whichever a file holds:
 * - MaxMind GeoIP2/GeoLite2 City and Country (and DB-IP's files in that layout): `country.iso_code`,
 *   `country.names.en`, `city.names.en`, `continent.code`, `subdivisions[0]`, `location.{latitude,longitude,time_zone}`,
 *   `postal.code`;
 * - GeoLite2-ASN and DB-IP ASN: `autonomous_system_number`, `autonomous_system_organization`;
 * - ip-location-db's flat files (the default DB-IP City Lite): `country_code`, `state1`, `city`, `postcode`,
 *   `latitude`, `longitude`, `timezone`. They hold no continent and no country name; the name comes from the
 *   runtime's ICU data (Intl.DisplayNames), the continent stays out.
 * Empty strings are left out: a keyword "" matches nothing useful and clutters Kibana's top values.
 */

type Json = Record<string, unknown>;

const COUNTRY_NAMES = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const object = (value: unknown): Json | undefined => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined);
const englishName = (value: unknown): string | undefined => text(object(object(value)?.names)?.en);

/** ICU takes microseconds per name: remembered (two capital letters make at most 676 keys). */
const countryNames = new Map<string, string | undefined>();

function countryName(code: string | undefined): string | undefined {
  if (code === undefined || !/^[A-Z]{2}$/.test(code)) return undefined;
  if (countryNames.has(code)) return countryNames.get(code);
  let name: string | undefined;
  try {
    name = COUNTRY_NAMES.of(code);
  } catch {
    name = undefined;
  }
  countryNames.set(code, name);
  return name;
}

function location(latitude: unknown, longitude: unknown): SourceGeo['location'] {
  if (typeof latitude !== 'number' || typeof longitude !== 'number' || !Number.isFinite(latitude) || !Number.isFinite(longitude)) return undefined;
  if (Math.abs(latitude) > 90 || Math.abs(longitude) > 180) return undefined;
  // Databases store float32: 51.51430130004883 means 51.5143. Five decimals are a metre, far below their accuracy.
  return { lat: Math.round(latitude * 1e5) / 1e5, lon: Math.round(longitude * 1e5) / 1e5 };
}

/**
 * The defined members of `value` in a new object; undefined when none is. A copy rather than `delete`, which would
 * turn the object into a slow dictionary.
 */
function compact<T extends object>(value: T): T | undefined {
  let out: Record<string, unknown> | undefined;
  for (const key in value) {
    const item = value[key];
    if (item !== undefined) (out ??= {})[key] = item;
  }
  return out as T | undefined;
}

function maxmindGeo(record: Json): SourceGeo | undefined {
  const country = object(record.country) ?? object(record.registered_country);
  const countryCode = text(country?.iso_code);
  const continent = object(record.continent);
  const subdivision = object(Array.isArray(record.subdivisions) ? record.subdivisions[0] : undefined);
  const subdivisionCode = text(subdivision?.iso_code);
  const loc = object(record.location);
  return compact<SourceGeo>({
    continent_code: text(continent?.code),
    continent_name: englishName(continent),
    country_iso_code: countryCode,
    country_name: englishName(country) ?? countryName(countryCode),
    // ECS (and Elasticsearch's geoip processor) write the region as ISO 3166-2: country, dash, subdivision.
    region_iso_code: countryCode && subdivisionCode ? `${countryCode}-${subdivisionCode}` : undefined,
    region_name: englishName(subdivision),
    city_name: englishName(record.city),
    postal_code: text(object(record.postal)?.code),
    timezone: text(loc?.time_zone),
    location: location(loc?.latitude, loc?.longitude),
  });
}

function flatGeo(record: Json): SourceGeo | undefined {
  const countryCode = text(record.country_code);
  return compact<SourceGeo>({
    country_iso_code: countryCode,
    country_name: countryName(countryCode),
    region_name: text(record.state1),
    city_name: text(record.city),
    postal_code: text(record.postcode),
    timezone: text(record.timezone),
    location: location(record.latitude, record.longitude),
  });
}

function network(record: Json): SourceAs | undefined {
  const number = record.autonomous_system_number;
  const organization = text(record.autonomous_system_organization);
  return compact<SourceAs>({
    number: typeof number === 'number' && Number.isSafeInteger(number) && number > 0 ? number : undefined,
    organization: organization ? { name: organization } : undefined,
  });
}

/** What one record says, in ECS. A record may carry both a place and a network (combined databases). */
export function recordToEcs(record: unknown): GeoResult | undefined {
  const json = object(record);
  if (!json) return undefined;
  const geo = 'country_code' in json || 'state1' in json ? flatGeo(json) : maxmindGeo(json);
  const as = network(json);
  return geo || as ? { ...(geo ? { geo } : {}), ...(as ? { as } : {}) } : undefined;
}
