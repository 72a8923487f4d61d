import { BlockList, isIPv6 } from 'node:net';

/**
 * Addresses that are never geolocated: they name no place (private, loopback, link-local, carrier-grade NAT,
 * multicast, reserved) or are reserved for examples (documentation ranges), so a database answer for them would be
 * wrong or made up. The IANA special-purpose address registries (RFC 6890 and its updates) plus multicast; the
 * names are ipaddr.js's where it has one. No dependency: IPv4 is matched by arithmetic, IPv6 by node:net's BlockList.
 */
export const SPECIAL_RANGES = [
  { range: '0.0.0.0/8', name: 'unspecified' },
  { range: '10.0.0.0/8', name: 'private' },
  { range: '100.64.0.0/10', name: 'carrierGradeNat' },
  { range: '127.0.0.0/8', name: 'loopback' },
  { range: '169.254.0.0/16', name: 'linkLocal' },
  { range: '172.16.0.0/12', name: 'private' },
  { range: '192.0.0.0/24', name: 'reserved' },
  { range: '192.0.2.0/24', name: 'documentation' },
  { range: '192.88.99.0/24', name: 'reserved' },
  { range: '192.168.0.0/16', name: 'private' },
  { range: '198.18.0.0/15', name: 'benchmarking' },
  { range: '198.51.100.0/24', name: 'documentation' },
  { range: '203.0.113.0/24', name: 'documentation' },
  { range: '224.0.0.0/4', name: 'multicast' },
  { range: '240.0.0.0/4', name: 'reserved' },
  { range: '::/128', name: 'unspecified' },
  { range: '::1/128', name: 'loopback' },
  // NAT64 and IPv4-compatible forms carry an IPv4 address inside; mapped (::ffff:a.b.c.d) ones are unwrapped instead.
  { range: '64:ff9b::/96', name: 'rfc6052' },
  { range: '64:ff9b:1::/48', name: 'rfc6052' },
  { range: '100::/64', name: 'discard' },
  { range: '2001::/23', name: 'reserved' },
  { range: '2001:db8::/32', name: 'documentation' },
  { range: '3fff::/20', name: 'documentation' },
  { range: '5f00::/16', name: 'reserved' },
  { range: 'fc00::/7', name: 'uniqueLocal' },
  { range: 'fe80::/10', name: 'linkLocal' },
  { range: 'fec0::/10', name: 'reserved' },
  { range: 'ff00::/8', name: 'multicast' },
] as const;

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** An IPv4 address as an unsigned 32-bit number; undefined when it is not one. */
function ipv4Number(text: string): number | undefined {
  const m = DOTTED.exec(text);
  if (!m) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i += 1) {
    const octet = m[i]!;
    // No leading zeros: 010.0.0.1 is octal to some parsers and refused by node:net; refuse it here too.
    if (octet.length > 1 && octet[0] === '0') return undefined;
    const n = Number(octet);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

// IPv4 by arithmetic (node:net's BlockList builds an object per check: microseconds), IPv6 by BlockList.
const IPV4_RANGES: Array<[network: number, mask: number]> = [];
const IPV6_BLOCKED = new BlockList();
for (const { range } of SPECIAL_RANGES) {
  const [network, bits] = range.split('/') as [string, string];
  if (network.includes(':')) IPV6_BLOCKED.addSubnet(network, Number(bits), 'ipv6');
  else {
    const mask = Number(bits) === 0 ? 0 : (0xffff_ffff << (32 - Number(bits))) >>> 0;
    IPV4_RANGES.push([ipv4Number(network)!, mask]);
  }
}

const MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * The address to look up: an IPv4-mapped IPv6 address (what a dual-stack socket reports for IPv4 clients) becomes its
 * IPv4 form. Undefined when it is not an IP address or lies in a special range.
 */
export function geolocatableAddress(ip: string): string | undefined {
  const address = (ip.includes(':') ? MAPPED.exec(ip)?.[1] : undefined) ?? ip;
  const v4 = ipv4Number(address);
  if (v4 !== undefined) {
    for (const [network, mask] of IPV4_RANGES) if (((v4 & mask) >>> 0) === network) return undefined;
    return address;
  }
  if (isIPv6(address)) return IPV6_BLOCKED.check(address, 'ipv6') ? undefined : address;
  return undefined;
}
