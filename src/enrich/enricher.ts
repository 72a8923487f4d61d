import { ConfigurationError } from '../errors.js';
import { isFilteredGeoLookup } from './geo-lookup.js';
import { geolocatableAddress } from './special-addresses.js';
import type { Enricher, GeoLookup } from './types.js';
import { createUserAgentParser, type UserAgentParserOptions } from './user-agent.js';

/**
 * `createEnricher({ geo, userAgent })`: the function that adds `source.geo`, `source.as` and `user_agent.*` to an
 * ECS document, in place, before it is written to stdout, the shipper and the spool (docs/enrichment.md). Only fields
 * our index templates map are written (they are `dynamic: strict`). A document that has no `source.ip` or
 * `user_agent.original`, or already carries what would be added, is left as it is.
 */

export interface EnricherOptions {
  /** Geolocation and network of `source.ip`: `openGeoLookup()`'s or your own GeoLookup. Default none. */
  geo?: GeoLookup | false;
  /** `user_agent.*` from `user_agent.original`. Default true; parser options (cache, budget) or false. */
  userAgent?: boolean | UserAgentParserOptions;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A GeoLookup of the caller's own never sees special addresses, and gets mapped IPv6 addresses as IPv4. */
function guarded(lookup: GeoLookup): (ip: string) => ReturnType<GeoLookup['lookup']> {
  if (isFilteredGeoLookup(lookup)) return (ip) => lookup.lookup(ip);
  return (ip) => {
    const address = geolocatableAddress(ip);
    return address === undefined ? undefined : lookup.lookup(address);
  };
}

export function createEnricher(options: EnricherOptions = {}): Enricher {
  const { geo, userAgent = true } = options;
  if (geo !== undefined && geo !== false && (typeof geo !== 'object' || geo === null || typeof geo.lookup !== 'function')) {
    throw new ConfigurationError('options.geo must be a GeoLookup (an object with lookup(ip)) or false.', { option: 'geo' });
  }
  if (typeof userAgent !== 'boolean' && (typeof userAgent !== 'object' || userAgent === null)) {
    throw new ConfigurationError('options.userAgent must be true, false or { cacheSize, parsesPerSecond }.', { option: 'userAgent' });
  }
  const lookup = geo ? guarded(geo) : undefined;
  const parse = userAgent === false ? undefined : createUserAgentParser(userAgent === true ? {} : userAgent);

  return (doc) => {
    const source = doc.source;
    if (lookup && isObject(source) && typeof source.ip === 'string' && source.geo === undefined && source.as === undefined) {
      let found: ReturnType<GeoLookup['lookup']>;
      try {
        found = lookup(source.ip);
      } catch {
        // A lookup of the caller's own that throws costs the document its geolocation, never the document.
        found = undefined;
      }
      if (found?.geo) source.geo = found.geo;
      if (found?.as) source.as = found.as;
    }
    const agent = doc.user_agent;
    if (parse && isObject(agent) && typeof agent.original === 'string' && agent.name === undefined && agent.os === undefined && agent.device === undefined) {
      const parsed = parse(agent.original);
      if (parsed) {
        if (parsed.name !== undefined) agent.name = parsed.name;
        if (parsed.version !== undefined) agent.version = parsed.version;
        if (parsed.os !== undefined) agent.os = parsed.os;
        if (parsed.device !== undefined) agent.device = parsed.device;
      }
    }
  };
}
