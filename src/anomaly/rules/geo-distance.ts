/**
 * Great-circle distance between two points on the Earth, for the location rules (docs/anomaly-detection.md).
 * Haversine on a sphere of the mean Earth radius (IUGG R1): at most 0.5% off the ellipsoid, far below the error of
 * IP geolocation itself.
 */

export interface GeoPoint {
  lat: number;
  lon: number;
}

/** Mean Earth radius (IUGG), km. */
export const EARTH_RADIUS_KM = 6371.0088;
/** The farthest two points can be apart: half a great circle. */
export const MAX_DISTANCE_KM = Math.PI * EARTH_RADIUS_KM;

const RAD = Math.PI / 180;

export function distanceKm(a: GeoPoint, b: GeoPoint): number {
  const dLat = (b.lat - a.lat) * RAD;
  const dLon = (b.lon - a.lon) * RAD;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * RAD) * Math.cos(b.lat * RAD) * Math.sin(dLon / 2) ** 2;
  // min(1, ...): rounding can push h a hair above 1 for antipodes, and asin would return NaN.
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.sqrt(Math.min(1, h)));
}

/**
 * A geo_point as Elasticsearch returns it in _source: whatever form it was indexed in. ECS enrichment writes
 * `{ lat, lon }`; a point may also be `"lat,lon"`, `[lon, lat]` (GeoJSON order), WKT `POINT (lon lat)` or a GeoJSON
 * object. Undefined for anything else, and for coordinates off the globe.
 */
export function parseGeoPoint(value: unknown): GeoPoint | undefined {
  let lat: number | undefined;
  let lon: number | undefined;
  if (Array.isArray(value) && value.length >= 2) [lon, lat] = value.map(Number);
  else if (typeof value === 'string') {
    const wkt = /^\s*POINT\s*\(\s*(\S+)\s+(\S+)\s*\)\s*$/i.exec(value);
    if (wkt) [lon, lat] = [Number(wkt[1]), Number(wkt[2])];
    else {
      const parts = value.split(',');
      if (parts.length === 2) [lat, lon] = parts.map((p) => (p.trim() === '' ? Number.NaN : Number(p)));
    }
  } else if (value && typeof value === 'object') {
    const o = value as { lat?: unknown; lon?: unknown; type?: unknown; coordinates?: unknown };
    if (o.type === 'Point' && Array.isArray(o.coordinates)) return parseGeoPoint(o.coordinates);
    if (typeof o.lat === 'number' || typeof o.lat === 'string') [lat, lon] = [Number(o.lat), Number(o.lon)];
  }
  if (lat === undefined || lon === undefined || !Number.isFinite(lat) || !Number.isFinite(lon)) return undefined;
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return undefined;
  return { lat, lon };
}
