/**
 * Events as the enrichment leaves them: `source.geo.*`, `source.as.*` and the parsed `user_agent.*` added to the
 * documents of test/support/events.ts, for the location and device rules. Places are real cities; addresses come
 * from the documentation ranges (RFC 5737) and networks from the documentation AS numbers (RFC 5398).
 */
import type { SecurityEvent } from '../../src/events/security-event.js';

export interface Place {
  country: string;
  countryName: string;
  /** Absent: the address is geolocated to its country only (the country's centroid). */
  city?: string;
  lat: number;
  lon: number;
  as: number;
  org: string;
}

const FR_ISP = { as: 64496, org: 'Example Fibre FR' };
const DE_ISP = { as: 64497, org: 'Example Telekom DE' };
const AU_ISP = { as: 64498, org: 'Example Telco AU' };
/** A commercial VPN provider with exits in many countries. */
export const VPN_AS = 64499;
/** The company's own VPN, exiting in Amsterdam and New York. */
export const CORPORATE_AS = 64500;
/** A mobile carrier whose addresses are geolocated to the country only, or to wherever its gateways are. */
export const MOBILE_AS = 64501;

export const PLACES = {
  paris: { country: 'FR', countryName: 'France', city: 'Paris', lat: 48.8566, lon: 2.3522, ...FR_ISP },
  lyon: { country: 'FR', countryName: 'France', city: 'Lyon', lat: 45.764, lon: 4.8357, ...FR_ISP },
  berlin: { country: 'DE', countryName: 'Germany', city: 'Berlin', lat: 52.52, lon: 13.405, ...DE_ISP },
  sydney: { country: 'AU', countryName: 'Australia', city: 'Sydney', lat: -33.8688, lon: 151.2093, ...AU_ISP },
  vpnParis: { country: 'FR', countryName: 'France', city: 'Paris', lat: 48.8566, lon: 2.3522, as: VPN_AS, org: 'Example VPN' },
  vpnNewYork: { country: 'US', countryName: 'United States', city: 'New York', lat: 40.7128, lon: -74.006, as: VPN_AS, org: 'Example VPN' },
  corporateAmsterdam: { country: 'NL', countryName: 'Netherlands', city: 'Amsterdam', lat: 52.3676, lon: 4.9041, as: CORPORATE_AS, org: 'Example Corp' },
  corporateNewYork: { country: 'US', countryName: 'United States', city: 'New York', lat: 40.7128, lon: -74.006, as: CORPORATE_AS, org: 'Example Corp' },
  mobileFrance: { country: 'FR', countryName: 'France', lat: 46.2276, lon: 2.2137, as: MOBILE_AS, org: 'Example Mobile' },
  mobileGermany: { country: 'DE', countryName: 'Germany', city: 'Frankfurt am Main', lat: 50.1109, lon: 8.6821, as: MOBILE_AS, org: 'Example Mobile' },
} satisfies Record<string, Place>;

type Mutable = { source?: Record<string, unknown>; user_agent?: Record<string, unknown>; sentinel?: Record<string, unknown> };

/** `event` as seen from `place`: the geolocation and network of its source address. */
export function from(place: Place, event: SecurityEvent): SecurityEvent {
  const doc = event as unknown as Mutable;
  doc.source = {
    ...doc.source,
    geo: {
      country_iso_code: place.country, country_name: place.countryName,
      ...(place.city ? { city_name: place.city } : {}),
      location: { lat: place.lat, lon: place.lon },
    },
    as: { number: place.as, organization: { name: place.org } },
  };
  return event;
}

export interface Device {
  original: string;
  name: string;
  version: string;
  os: string;
  osVersion?: string;
  device?: string;
}

export const DEVICES = {
  firefoxLinux: { original: 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0', name: 'Firefox', version: '140.0', os: 'Linux' },
  firefoxLinuxUpdated: { original: 'Mozilla/5.0 (X11; Linux x86_64; rv:141.0) Gecko/20100101 Firefox/141.0', name: 'Firefox', version: '141.0', os: 'Linux' },
  chromeWindows: { original: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36', name: 'Chrome', version: '138.0.0.0', os: 'Windows', osVersion: '10' },
  safariIphone: { original: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1', name: 'Mobile Safari', version: '18.1', os: 'iOS', osVersion: '18.1', device: 'iPhone' },
  safariIpad: { original: 'Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1', name: 'Mobile Safari', version: '18.1', os: 'iOS', osVersion: '18.1', device: 'iPad' },
} satisfies Record<string, Device>;

/** `event` from `device`, parsed; `knownDevice` is what the login flow writes when the device cookie was recognised. */
export function on(device: Device, event: SecurityEvent, knownDevice?: boolean): SecurityEvent {
  const doc = event as unknown as Mutable;
  doc.user_agent = {
    original: device.original, name: device.name, version: device.version,
    os: { name: device.os, ...(device.osVersion ? { version: device.osVersion } : {}) },
    ...(device.device ? { device: { name: device.device } } : {}),
  };
  if (knownDevice !== undefined) doc.sentinel = { ...doc.sentinel, known_device: knownDevice };
  return event;
}
