/**
 * A small MaxMind DB (MMDB, format 2.0) writer for tests: test databases of every shape the geolocation reads
 * (GeoIP2 City, GeoLite2-ASN, ip-location-db's flat records) without shipping or downloading real ones. It writes
 * what the spec (maxmind.github.io/MaxMind-DB) asks: a binary search tree of 24- or 32-bit records, 16 zero bytes,
 * the data section, then the metadata map after the "\xAB\xCD\xEFMaxMind.com" marker.
 */
import { isIPv4 } from 'node:net';

export type MmdbValue = string | number | boolean | MmdbValue[] | { [key: string]: MmdbValue } | { uint: bigint } | { double: number } | { uint16: number };

export interface MmdbNetwork {
  /** CIDR, e.g. 81.2.69.0/24 or 2001:4860::/32. IPv4 networks in an IPv6 database go under ::/96. */
  network: string;
  data: MmdbValue;
}

export interface MmdbOptions {
  ipVersion: 4 | 6;
  databaseType: string;
  networks: readonly MmdbNetwork[];
  recordSize?: 24 | 32;
  buildEpoch?: Date;
  languages?: string[];
  description?: Record<string, string>;
}

// ------------------------------------------------------------------------------------------------- data section

function control(type: number, size: number): Buffer {
  const extended = type > 7;
  const head: number[] = [];
  const sizeBytes: number[] = [];
  let sizeBits: number;
  if (size < 29) sizeBits = size;
  else if (size < 285) {
    sizeBits = 29;
    sizeBytes.push(size - 29);
  } else if (size < 65_821) {
    sizeBits = 30;
    const rest = size - 285;
    sizeBytes.push(rest >> 8, rest & 0xff);
  } else {
    sizeBits = 31;
    const rest = size - 65_821;
    sizeBytes.push((rest >> 16) & 0xff, (rest >> 8) & 0xff, rest & 0xff);
  }
  head.push(((extended ? 0 : type) << 5) | sizeBits);
  if (extended) head.push(type - 7);
  return Buffer.from([...head, ...sizeBytes]);
}

function unsigned(value: bigint): Buffer {
  const bytes: number[] = [];
  for (let v = value; v > 0n; v >>= 8n) bytes.unshift(Number(v & 0xffn));
  return Buffer.from(bytes);
}

export function encode(value: MmdbValue): Buffer {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([control(2, bytes.length), bytes]);
  }
  if (typeof value === 'boolean') return control(14, value ? 1 : 0);
  if (typeof value === 'number') {
    // Whole non-negative numbers as uint32 (what MaxMind uses for geoname ids and AS numbers), others as double.
    if (Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff) {
      const bytes = unsigned(BigInt(value));
      return Buffer.concat([control(6, bytes.length), bytes]);
    }
    return encode({ double: value });
  }
  if (Array.isArray(value)) return Buffer.concat([control(11, value.length), ...value.map(encode)]);
  if ('double' in value && typeof value.double === 'number' && Object.keys(value).length === 1) {
    const bytes = Buffer.alloc(8);
    bytes.writeDoubleBE(value.double);
    return Buffer.concat([control(3, 8), bytes]);
  }
  if ('uint16' in value && typeof value.uint16 === 'number' && Object.keys(value).length === 1) {
    const bytes = unsigned(BigInt(value.uint16));
    return Buffer.concat([control(5, bytes.length), bytes]);
  }
  if ('uint' in value && typeof value.uint === 'bigint' && Object.keys(value).length === 1) {
    const bytes = unsigned(value.uint);
    return Buffer.concat([control(9, bytes.length), bytes]);
  }
  const entries = Object.entries(value as Record<string, MmdbValue>);
  return Buffer.concat([control(7, entries.length), ...entries.flatMap(([k, v]) => [encode(k), encode(v)])]);
}

// ---------------------------------------------------------------------------------------------------------- tree

interface TreeNode {
  children: [TreeNode | number | undefined, TreeNode | number | undefined];
}

/** The network's bits from the root: 32 for IPv4 databases, 128 for IPv6 ones (IPv4 under ::/96). */
function networkBits(network: string, ipVersion: 4 | 6): number[] {
  const [address, lengthText] = network.split('/') as [string, string];
  const length = Number(lengthText);
  let bits: number[];
  let offset = 0;
  if (isIPv4(address)) {
    bits = address.split('.').flatMap((octet) => Array.from({ length: 8 }, (_, i) => (Number(octet) >> (7 - i)) & 1));
    if (ipVersion === 6) {
      bits = [...new Array<number>(96).fill(0), ...bits];
      offset = 96;
    }
  } else {
    if (ipVersion === 4) throw new Error(`${network}: an IPv6 network in an IPv4 database`);
    const [head = '', tail = ''] = address.split('::');
    const groups = (text: string): string[] => (text ? text.split(':') : []);
    const h = groups(head);
    const t = groups(tail);
    const all = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
    bits = all.flatMap((group) => Array.from({ length: 16 }, (_, i) => (parseInt(group, 16) >> (15 - i)) & 1));
  }
  return bits.slice(0, offset + length);
}

export function buildMmdb(options: MmdbOptions): Buffer {
  const recordSize = options.recordSize ?? 24;
  const root: TreeNode = { children: [undefined, undefined] };
  // Data section: each distinct value once.
  const dataParts: Buffer[] = [];
  const offsets = new Map<string, number>();
  let dataLength = 0;
  const dataRef = (value: MmdbValue): number => {
    const key = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    let offset = offsets.get(key);
    if (offset === undefined) {
      offset = dataLength;
      const bytes = encode(value);
      dataParts.push(bytes);
      dataLength += bytes.length;
      offsets.set(key, offset);
    }
    return offset;
  };
  for (const { network, data } of options.networks) {
    const bits = networkBits(network, options.ipVersion);
    if (bits.length === 0) throw new Error('a /0 network is not supported');
    let node = root;
    for (const [i, bit] of bits.entries()) {
      if (i === bits.length - 1) {
        node.children[bit as 0 | 1] = dataRef(data);
        break;
      }
      let next = node.children[bit as 0 | 1];
      if (typeof next === 'number') throw new Error(`${network} lies inside a network inserted before it`);
      if (next === undefined) {
        next = { children: [undefined, undefined] };
        node.children[bit as 0 | 1] = next;
      }
      node = next;
    }
  }
  // Number the nodes breadth first, root = 0.
  const nodes: TreeNode[] = [];
  const index = new Map<TreeNode, number>();
  for (const queue = [root]; queue.length > 0;) {
    const node = queue.shift()!;
    index.set(node, nodes.length);
    nodes.push(node);
    for (const child of node.children) if (typeof child === 'object') queue.push(child);
  }
  const nodeCount = nodes.length;
  const recordValue = (child: TreeNode | number | undefined): number => {
    if (child === undefined) return nodeCount; // "no data"
    if (typeof child === 'number') return nodeCount + 16 + child;
    return index.get(child)!;
  };
  const nodeBytes = recordSize / 4;
  const tree = Buffer.alloc(nodeCount * nodeBytes);
  for (const [i, node] of nodes.entries()) {
    const [left, right] = node.children.map(recordValue) as [number, number];
    if (recordSize === 24) {
      tree.writeUIntBE(left, i * 6, 3);
      tree.writeUIntBE(right, i * 6 + 3, 3);
    } else {
      tree.writeUInt32BE(left, i * 8);
      tree.writeUInt32BE(right, i * 8 + 4);
    }
  }
  const metadata = encode({
    node_count: nodeCount,
    record_size: { uint16: recordSize },
    ip_version: { uint16: options.ipVersion },
    database_type: options.databaseType,
    languages: options.languages ?? ['en'],
    binary_format_major_version: { uint16: 2 },
    binary_format_minor_version: { uint16: 0 },
    build_epoch: { uint: BigInt(Math.floor((options.buildEpoch ?? new Date('2026-01-01T00:00:00Z')).getTime() / 1000)) },
    description: options.description ?? { en: `${options.databaseType} for tests` },
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...dataParts, Buffer.from([0xab, 0xcd, 0xef]), Buffer.from('MaxMind.com', 'ascii'), metadata]);
}
