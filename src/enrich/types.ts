import type { EcsAs, EcsGeo, EcsUserAgent } from '@elastic/ecs';

/**
 * The shapes enrichment adds to an ECS document (docs/enrichment.md). Each is the part of the ECS type that our index
 * templates map: the templates are `dynamic: strict`, so a field outside them would send the document to the dead
 * letters.
 */

/** `source.geo.*`: what a city or country database knows about an address. */
export type SourceGeo = Pick<EcsGeo,
  'continent_code' | 'continent_name' | 'country_iso_code' | 'country_name' | 'region_iso_code' | 'region_name' | 'city_name' |
  'postal_code' | 'timezone' | 'location'>;

/** `source.as.*`: the network (autonomous system) an address belongs to. */
export type SourceAs = { number?: NonNullable<EcsAs['number']>; organization?: { name: string } };

/** `user_agent.*` parsed from `user_agent.original`. */
export type ParsedUserAgent = Pick<EcsUserAgent, 'name' | 'version'> & {
  os?: Pick<NonNullable<EcsUserAgent['os']>, 'name' | 'version' | 'full' | 'family' | 'type'>;
  device?: { name: string };
};

export interface GeoResult {
  geo?: SourceGeo;
  as?: SourceAs;
}

/**
 * Where an address is and which network it belongs to. `openGeoLookup` makes one from MaxMind-format files; pass
 * your own to use another source. It is called synchronously while a document is written, so it must be fast
 * (answer from memory) and must not throw. It never sees private, loopback or documentation addresses: the enricher
 * leaves those out before asking.
 */
export interface GeoLookup {
  lookup(ip: string): GeoResult | undefined;
}

/** Adds `source.geo`, `source.as` and `user_agent.*` to an ECS document, in place. Never throws. */
export type Enricher = (doc: Record<string, unknown>) => void;
