/**
 * `npm run bench`: throughput ratios from runs side by side in one run. Each target runs in its own process;
 * rounds alternate between targets so drift (thermal, other load) spreads evenly; medians are reported.
 * Figures are ratios against bare Koa measured in the same run, never absolute thresholds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { createElasticClient } from '../src/elastic/client.js';
import { startElasticsearch } from '../test/support/elasticsearch.js';
import { startRedis } from '../test/support/redis.js';
import { loadEvents, timeRules } from './anomaly.js';
import { accessRecord } from './access-record.js';
import { enrichment } from './enrichment.js';
import { inProcess } from './in-process.js';
import { bulkHelper, ours } from './shipper.js';

const VARIANTS = ['bare', 'sentinel', 'redis', 'app', 'full', 'koa-jwt', 'peer'] as const;
type Variant = (typeof VARIANTS)[number];
/** Login and refresh throughput, memory store against Redis store (bench/http-targets.ts). */
const AUTH_VARIANTS = ['auth-memory', 'auth-redis'] as const;
type AuthVariant = (typeof AUTH_VARIANTS)[number];
const AUTH_PASSWORD = 'bench password 0123456789';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = 50;
/** Requests per target for the CPU figure (a fixed count, every one answered). */
const CPU_REQUESTS = Number(process.env.BENCH_CPU_REQUESTS ?? 20_000);
const WARM_UP_SECONDS = Math.min(3, SECONDS);

interface Target {
  child: ChildProcess;
  port: number;
  cookie: string;
  path: string;
  /** Indices that get one document per answered request (targets that ship to Elasticsearch). */
  count?: string;
  /** Requests answered 2xx so far, warm-up included: what `count` must reach. */
  answered: number;
}

/** User + system CPU time of a process in ms, from /proc (Linux): the server's own cost, threads included. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function startTarget(variant: Variant | AuthVariant, env: NodeJS.ProcessEnv): Promise<Target> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/http-targets.ts', variant], { stdio: ['ignore', 'pipe', 'ignore'], env });
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  const { port, cookie, path, count } = JSON.parse(line) as { port: number; cookie: string; path: string; count?: string };
  return { child, port, cookie, path, count, answered: 0 };
}

interface LoadResult {
  rps: number;
  p99: number;
  errors: number;
  /** Seconds Elasticsearch needed after the load to hold every document of it (shipping targets). */
  drainS?: number;
}

async function load(target: Target, seconds: number, es?: ReturnType<typeof createElasticClient>): Promise<LoadResult> {
  const result = await autocannon({
    url: `http://127.0.0.1:${target.port}${target.path}`,
    connections: CONNECTIONS,
    duration: seconds,
    headers: target.cookie ? { cookie: target.cookie } : {},
  });
  // Requests still in flight when the time is up are answered (and logged) but not counted by autocannon: the
  // backlog wait below allows for them, the exact count is taken by `fixedCount`.
  target.answered += result['2xx'];
  const out: LoadResult = { rps: result.requests.average, p99: result.latency.p99, errors: result.errors + result.non2xx };
  // The next target must not pay for this one's backlog: wait until Elasticsearch holds a document per request.
  if (target.count && es) out.drainS = await drain(es, target);
  return out;
}

/**
 * `amount` requests, every one answered: the server's CPU time (user + system, all its threads) per request, and for
 * a shipping target the documents Elasticsearch gained, which must be exactly one per request.
 */
async function fixedCount(target: Target, amount: number, es: ReturnType<typeof createElasticClient>): Promise<{ cpuUs: number; errors: number; gained?: number }> {
  const before = target.count ? await indexed(es, target.count) : 0;
  const cpuBefore = cpuMs(target.child.pid!);
  const result = await autocannon({
    url: `http://127.0.0.1:${target.port}${target.path}`,
    connections: CONNECTIONS,
    amount,
    headers: target.cookie ? { cookie: target.cookie } : {},
  });
  const cpu = cpuMs(target.child.pid!) - cpuBefore;
  target.answered += result['2xx'];
  const out: { cpuUs: number; errors: number; gained?: number } = { cpuUs: (cpu * 1000) / amount, errors: result.errors + result.non2xx };
  if (target.count) {
    await drain(es, target);
    // Let a straggler (a duplicate would be one) arrive before counting.
    await sleep(2000);
    out.gained = (await indexed(es, target.count)) - before;
  }
  return out;
}

async function indexed(es: ReturnType<typeof createElasticClient>, pattern: string): Promise<number> {
  await es.indices.refresh({ index: pattern, ignore_unavailable: true, allow_no_indices: true });
  return (await es.count({ index: pattern, ignore_unavailable: true, allow_no_indices: true })).count;
}

async function drain(es: ReturnType<typeof createElasticClient>, target: Target): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < 300_000) {
    if ((await indexed(es, target.count!)) >= target.answered) return (Date.now() - started) / 1000;
    await sleep(500);
  }
  throw new Error(`${target.count}: ${await indexed(es, target.count!)} documents for ${target.answered} answered requests after 300 s`);
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main(): Promise<void> {
  // In process, no Elasticsearch: BENCH_ONLY=enrichment runs it alone in seconds.
  if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes('enrichment')) await enrichment();
  if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes('record')) await accessRecord();
  if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes('stack')) await inProcess();
  if (process.env.BENCH_ONLY && process.env.BENCH_ONLY.split(',').every((part) => part === 'enrichment' || part === 'record' || part === 'stack')) return;
  const env = { ...process.env };
  let stopElasticsearch: (() => Promise<void>) | undefined;
  if (!env.ELASTICSEARCH_URL) {
    const node = await startElasticsearch({ heapMb: 1024 });
    env.ELASTICSEARCH_URL = node.url;
    stopElasticsearch = () => node.destroy();
  }
  try {
    const only = process.env.BENCH_ONLY?.split(',');
    if (!only || only.includes('http')) await http(env);
    if (!only || only.includes('shipping')) await shipping(env.ELASTICSEARCH_URL!);
    if (!only || only.includes('anomaly')) await anomaly(env.ELASTICSEARCH_URL!);
  } finally {
    await stopElasticsearch?.();
  }
}

async function anomaly(url: string): Promise<void> {
  const client = createElasticClient({ url, requestTimeoutMs: 300_000 });
  const n = Number(process.env.BENCH_ANOMALY_EVENTS ?? 1_000_000);
  const prefix = `bench-anomaly-${Date.now().toString(36)}`;
  const end = Math.floor(Date.now() / 300_000) * 300_000;
  const loadSeconds = await loadEvents(client, prefix, n, end);
  console.log(`\nLoaded ${n} events in ${loadSeconds.toFixed(1)} s (${Math.round(n / loadSeconds)} events/s through the bulk helper)`);
  const { perRule, whole, alerts } = await timeRules(client, prefix, end);
  console.log('Anomaly rules over a 24-hour window of', n, 'events (ms, median of 3 rounds):');
  console.table(Object.fromEntries(Object.entries(perRule).map(([rule, ms]) => [rule, { ms: Math.round(ms) }])));
  console.log(`whole job (all rules, concurrent) = ${Math.round(whole)} ms   (target < 2000), ${alerts} findings`);
  const rows = (await client.cat.indices({ index: `${prefix}-*`, format: 'json', h: 'index' })) as Array<{ index: string }>;
  for (const { index } of rows) await client.indices.delete({ index });
  await client.close();
}

async function shipping(url: string): Promise<void> {
  const client = createElasticClient({ url, requestTimeoutMs: 120_000 });
  const n = Number(process.env.BENCH_EVENTS ?? 100_000);
  const rates: Record<'ours' | 'bulkHelper', number[]> = { ours: [], bulkHelper: [] };
  await ours(client, 5000); // warm-up: JIT, index creation paths
  for (let round = 1; round <= 2; round += 1) {
    rates.ours.push(await ours(client, n));
    rates.bulkHelper.push(await bulkHelper(client, n));
    console.log(`shipping round ${round}: ours ${Math.round(rates.ours.at(-1)!)} events/s, client bulk helper ${Math.round(rates.bulkHelper.at(-1)!)} events/s`);
  }
  const o = median(rates.ours);
  const b = median(rates.bulkHelper);
  console.log(`\nShipping ${n} security events into Elasticsearch from one process (medians):`);
  console.log(`ours (journaled, exactly-once)   ${Math.round(o)} events/s   (target >= 20000)`);
  console.log(`client.helpers.bulk (in memory)  ${Math.round(b)} events/s`);
  console.log(`ours / bulk helper = ${(o / b).toFixed(2)}x`);
  await client.close();
}

async function http(env: NodeJS.ProcessEnv): Promise<void> {
  // The redis targets need a Redis: REDIS_URL when given, else a private redis-server for this run.
  let stopRedis: (() => Promise<void>) | undefined;
  if (!env.REDIS_URL) {
    const redis = await startRedis();
    env = { ...env, REDIS_URL: redis.url };
    stopRedis = () => redis.destroy();
  }
  try {
    await verifiedRoute(env);
    await authThroughput(env);
  } finally {
    await stopRedis?.();
  }
}

/**
 * POST /auth/login (the right password, users bench-0 … bench-19 in turn) and POST /auth/refresh (each connection
 * logs in once, then rotates its own refresh token 49 times) against the reference app with each store. Short: one
 * run of each. One user for every connection would measure the throttle instead: it counts attempts as they start,
 * and more than five at once for one account from one address are refused (429) by design.
 */
async function authThroughput(env: NodeJS.ProcessEnv): Promise<void> {
  const seconds = Math.max(2, Math.round(SECONDS / 2));
  const json = { 'content-type': 'application/json' };
  let turn = 0;
  const nextUser = (request: autocannon.Request): autocannon.Request => ({ ...request, body: JSON.stringify({ username: `bench-${turn++ % 20}`, password: AUTH_PASSWORD }) });
  const rows: Record<string, { 'login req/s': number; 'login p99': number; 'refresh req/s': number; 'refresh p99': number; errors: number }> = {};
  for (const variant of AUTH_VARIANTS) {
    const target = await startTarget(variant, env);
    try {
      const base = `http://127.0.0.1:${target.port}`;
      const login = await autocannon({ url: base, connections: 20, duration: seconds, requests: [{ method: 'POST', path: '/auth/login', headers: json, setupRequest: nextUser }] } as autocannon.Options);
      const keepRefreshCookie = (_status: number, _body: string, context: Record<string, unknown>, headers: Record<string, string | string[]>): void => {
        const setCookie = Object.entries(headers).find(([name]) => name.toLowerCase() === 'set-cookie')?.[1] ?? [];
        for (const line of [setCookie].flat()) if (line.startsWith('__Secure-sentinel_rt=') && !line.startsWith('__Secure-sentinel_rt=;')) context.refresh = line.split(';')[0];
      };
      const refresh = {
        method: 'POST' as const,
        path: '/auth/refresh',
        // Only the refresh cookie: no access cookie, so no CSRF token is needed (as for a page refreshing on load).
        setupRequest: (request: Record<string, unknown>, context: Record<string, unknown>) => ({ ...request, headers: { cookie: context.refresh as string } }),
        onResponse: keepRefreshCookie,
      };
      const rotation = await autocannon({
        url: base,
        connections: 20,
        duration: seconds,
        requests: [{ method: 'POST', path: '/auth/login', headers: json, setupRequest: nextUser, onResponse: keepRefreshCookie }, ...Array.from({ length: 49 }, () => refresh)],
      } as autocannon.Options);
      rows[variant] = {
        'login req/s': Math.round(login.requests.average),
        'login p99': login.latency.p99,
        'refresh req/s': Math.round(rotation.requests.average),
        'refresh p99': rotation.latency.p99,
        errors: login.errors + login.non2xx + rotation.errors + rotation.non2xx,
      };
    } finally {
      target.child.kill();
    }
  }
  console.log(`\nPOST /auth/login and /auth/refresh, 20 connections, ${seconds} s each (20 users, scrypt ln=10; refresh runs are 1 login + 49 rotations per connection)`);
  console.table(rows);
  console.log(`login   redis / memory = ${(rows['auth-redis']!['login req/s'] / rows['auth-memory']!['login req/s']).toFixed(2)}x`);
  console.log(`refresh redis / memory = ${(rows['auth-redis']!['refresh req/s'] / rows['auth-memory']!['refresh req/s']).toFixed(2)}x`);
  if (Object.values(rows).some((row) => row.errors > 0)) {
    console.error('Some login or refresh requests failed: the figures above are not valid.');
    process.exitCode = 1;
  }
}

async function verifiedRoute(env: NodeJS.ProcessEnv): Promise<void> {
  const targets = new Map<Variant, Target>();
  for (const variant of VARIANTS) targets.set(variant, await startTarget(variant, env));
  const results = new Map<Variant, LoadResult[]>(VARIANTS.map((v) => [v, []]));
  const es = createElasticClient({ url: env.ELASTICSEARCH_URL!, requestTimeoutMs: 120_000 });
  const exactlyOnce: Record<string, { answered: number; indexed: number }> = {};
  const cpu = new Map<Variant, number>();
  try {
    // Warm-up, not counted: one second left the whole app's first round at half its later rate (JIT, heap growth).
    for (const variant of VARIANTS) await load(targets.get(variant)!, WARM_UP_SECONDS, es);
    for (let round = 1; round <= ROUNDS; round += 1) {
      for (const variant of VARIANTS) {
        const r = await load(targets.get(variant)!, SECONDS, es);
        results.get(variant)!.push(r);
        const drained = r.drainS === undefined ? '' : `  Elasticsearch caught up ${r.drainS.toFixed(1)} s later`;
        console.log(`round ${round} ${variant.padEnd(9)} ${Math.round(r.rps).toString().padStart(7)} req/s  p99 ${r.p99} ms${drained}${r.errors ? `  ERRORS ${r.errors}` : ''}`);
      }
    }
    // The CPU figure moves by a third between single runs too (how the server's and the load generator's work
    // interleave on two cores): rounds alternate between targets, the median is reported, every round counted.
    const cpuRuns = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    for (let round = 1; round <= ROUNDS; round += 1) {
      for (const variant of VARIANTS) {
        const c = await fixedCount(targets.get(variant)!, CPU_REQUESTS, es);
        cpuRuns.get(variant)!.push(c.cpuUs);
        if (c.errors) results.get(variant)!.push({ rps: NaN, p99: NaN, errors: c.errors });
        if (c.gained !== undefined) {
          const seen = exactlyOnce[variant] ?? { answered: 0, indexed: 0 };
          exactlyOnce[variant] = { answered: seen.answered + CPU_REQUESTS, indexed: seen.indexed + c.gained };
        }
        console.log(`cpu ${round} ${variant.padEnd(9)} ${c.cpuUs.toFixed(0).padStart(5)} µs/request over ${CPU_REQUESTS} requests${c.gained === undefined ? '' : `, ${c.gained} documents indexed`}`);
      }
    }
    for (const [variant, runs] of cpuRuns) cpu.set(variant, median(runs));
  } finally {
    for (const target of targets.values()) target.child.kill();
    await es.close();
  }
  const summary = Object.fromEntries(VARIANTS.map((v) => {
    const runs = results.get(v)!;
    return [v, {
      rps: Math.round(median(runs.filter((r) => !Number.isNaN(r.rps)).map((r) => r.rps))),
      p99: median(runs.filter((r) => !Number.isNaN(r.p99)).map((r) => r.p99)),
      'cpu µs/req': Math.round(cpu.get(v) ?? NaN),
      errors: runs.reduce((n, r) => n + r.errors, 0),
    }];
  })) as Record<Variant, { rps: number; p99: number; 'cpu µs/req': number; errors: number }>;
  console.log('\nGET route, 50 connections, medians of', ROUNDS, 'rounds of', SECONDS, `s (server CPU: user + system time of its process, median of ${ROUNDS} rounds of ${CPU_REQUESTS} requests)`);
  console.table(summary);
  const ratio = (a: Variant, b: Variant): string => (summary[a].rps / summary[b].rps).toFixed(2);
  const cpuRatio = (a: Variant, b: Variant): string => (summary[a]['cpu µs/req'] / summary[b]['cpu µs/req']).toFixed(2);
  console.log(`sentinel / bare    = ${ratio('sentinel', 'bare')}x   (target >= 0.85)`);
  console.log(`redis / bare       = ${ratio('redis', 'bare')}x   (target >= 0.7: the Redis store, local cache of 250 ms)`);
  console.log(`app / bare         = ${ratio('app', 'bare')}x   (target >= 0.6: the whole reference app, no Elasticsearch)`);
  console.log(`app / koa-jwt      = ${ratio('app', 'koa-jwt')}x   (target >= 5)`);
  console.log(`full / bare        = ${ratio('full', 'bare')}x   (target >= 0.4: the whole app shipping every access record and security event)`);
  console.log(`full / peer        = ${ratio('full', 'peer')}x   (target >= 1.5: koa-jwt + koa-pino-logger + pino-elasticsearch, same Elasticsearch)`);
  console.log(`cpu full / bare    = ${cpuRatio('full', 'bare')}x   (target <= 2: server CPU per request)`);
  console.log(`cpu full / peer    = ${cpuRatio('full', 'peer')}x`);
  console.log(`sentinel / koa-jwt = ${ratio('sentinel', 'koa-jwt')}x   (target >= 5)`);
  for (const [variant, once] of Object.entries(exactlyOnce)) {
    console.log(`${variant}: ${once.answered} requests answered, ${once.indexed} documents indexed${once.indexed === once.answered ? ' (each exactly once)' : '  MISMATCH'}`);
    // Ours must be exact; the peer stack's count is reported as it is.
    if (variant === 'full' && once.indexed !== once.answered) process.exitCode = 1;
  }
  if (Object.values(summary).some((s) => s.errors > 0)) {
    console.error('Some requests failed: the figures above are not valid.');
    process.exitCode = 1;
  }
}

await main();
process.exit(process.exitCode ?? 0);
