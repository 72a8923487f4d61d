import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { geolocatableAddress, SPECIAL_RANGES } from '../../src/enrich/special-addresses.js';

describe('geolocatableAddress', () => {
  it('leaves out every special range: its network address, and the last address of the common ones', () => {
    for (const { range } of SPECIAL_RANGES) {
      const [network] = range.split('/') as [string];
      assert.equal(geolocatableAddress(network), undefined, range);
    }
    for (const ip of ['10.255.255.255', '172.31.255.255', '192.168.255.255', '100.127.255.255', '127.255.255.254', '169.254.255.255', '192.0.2.255', '198.51.100.255', '203.0.113.255',
      '239.255.255.255', '255.255.255.255', '198.19.255.255', '2001:db8:ffff::1', '2001:1ff::1', 'fdff::1', 'febf::1', 'ff02::1', '::ffff:10.0.0.1', '::FFFF:192.168.0.1', 'fe80::1%eth0']) {
      assert.equal(geolocatableAddress(ip), undefined, ip);
    }
  });

  it('keeps public addresses, unwrapping IPv4-mapped ones; refuses what is not an address', () => {
    for (const ip of ['81.2.69.142', '8.8.8.8', '100.63.255.255', '100.128.0.0', '172.32.0.1', '198.20.0.1', '203.0.114.1', '2a02:cf40::1', '2001:4860:4860::8888', '2001:200::1']) {
      assert.equal(geolocatableAddress(ip), ip, ip);
    }
    assert.equal(geolocatableAddress('::ffff:81.2.69.142'), '81.2.69.142');
    for (const text of ['', 'localhost', '81.2.69', '81.2.69.142.1', '999.1.1.1', '81.2.69.142 ']) assert.equal(geolocatableAddress(text), undefined, text);
  });

  it('names every range with the ipaddr.js-style names the docs list', () => {
    const names = new Set<string>(SPECIAL_RANGES.map((r) => r.name));
    for (const name of ['private', 'loopback', 'linkLocal', 'carrierGradeNat', 'multicast', 'reserved', 'documentation', 'uniqueLocal']) assert.ok(names.has(name), name);
  });
});
