/**
 * The great-circle distance of the impossible-travel rule, against distances computed independently (one degree of
 * longitude on the equator, half the globe, published city distances), and the geo_point forms it reads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { distanceKm, EARTH_RADIUS_KM, MAX_DISTANCE_KM, parseGeoPoint } from '../../src/anomaly/rules/geo-distance.js';

const PARIS = { lat: 48.8566, lon: 2.3522 };
const LONDON = { lat: 51.5074, lon: -0.1278 };
const NEW_YORK = { lat: 40.7128, lon: -74.006 };
const SYDNEY = { lat: -33.8688, lon: 151.2093 };

const near = (actual: number, expected: number, tolerance: number): void =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);

describe('distanceKm', () => {
  it('is 2πR/360 for one degree of longitude on the equator, and of latitude anywhere', () => {
    near(distanceKm({ lat: 0, lon: 0 }, { lat: 0, lon: 1 }), (2 * Math.PI * EARTH_RADIUS_KM) / 360, 1e-9);
    near(distanceKm({ lat: 45, lon: 30 }, { lat: 46, lon: 30 }), (2 * Math.PI * EARTH_RADIUS_KM) / 360, 1e-9);
  });

  it('is half a great circle between antipodes and between the poles, never NaN', () => {
    near(distanceKm({ lat: 0, lon: 0 }, { lat: 0, lon: 180 }), MAX_DISTANCE_KM, 1e-6);
    near(distanceKm({ lat: 90, lon: 0 }, { lat: -90, lon: 0 }), MAX_DISTANCE_KM, 1e-6);
    near(distanceKm({ lat: 48.8566, lon: 2.3522 }, { lat: -48.8566, lon: -177.6478 }), MAX_DISTANCE_KM, 1e-6);
    near(MAX_DISTANCE_KM, 20_015.1, 0.1);
  });

  it('matches published city distances within 0.5% (the sphere against the ellipsoid)', () => {
    near(distanceKm(PARIS, LONDON), 344, 344 * 0.005);
    near(distanceKm(NEW_YORK, LONDON), 5570, 5570 * 0.005);
    near(distanceKm(PARIS, SYDNEY), 16_960, 16_960 * 0.005);
  });

  it('is zero for one point, symmetric, and crosses the antimeridian the short way', () => {
    assert.equal(distanceKm(PARIS, PARIS), 0);
    assert.equal(distanceKm(PARIS, SYDNEY), distanceKm(SYDNEY, PARIS));
    near(distanceKm({ lat: 0, lon: 179.5 }, { lat: 0, lon: -179.5 }), (2 * Math.PI * EARTH_RADIUS_KM) / 360, 1e-6);
  });
});

describe('parseGeoPoint', () => {
  it('reads every form Elasticsearch accepts for a geo_point', () => {
    const expected = { lat: 48.8566, lon: 2.3522 };
    assert.deepEqual(parseGeoPoint({ lat: 48.8566, lon: 2.3522 }), expected);
    assert.deepEqual(parseGeoPoint({ lat: '48.8566', lon: '2.3522' }), expected);
    assert.deepEqual(parseGeoPoint('48.8566,2.3522'), expected);
    assert.deepEqual(parseGeoPoint(' 48.8566 , 2.3522 '), expected);
    assert.deepEqual(parseGeoPoint([2.3522, 48.8566]), expected, 'arrays are [lon, lat], as in GeoJSON');
    assert.deepEqual(parseGeoPoint('POINT (2.3522 48.8566)'), expected);
    assert.deepEqual(parseGeoPoint({ type: 'Point', coordinates: [2.3522, 48.8566] }), expected);
  });

  it('refuses what is not a point on the globe', () => {
    for (const value of [undefined, null, 42, '', 'Paris', '48.8566', '48.8566,', ',2.35', [2.35], { lat: 48.85 }, { lat: 91, lon: 0 }, { lat: 0, lon: 181 }, [Number.NaN, 0], 'POINT (2.35)', { type: 'Point', coordinates: 'x' }]) {
      assert.equal(parseGeoPoint(value), undefined, JSON.stringify(value));
    }
  });
});
