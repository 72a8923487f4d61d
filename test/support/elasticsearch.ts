/**
 * A real Elasticsearch for the tests (docs/architecture.md). `ELASTICSEARCH_URL` wins when set. Otherwise the server
 * distribution of `ES_VERSION` (default 8.19.21; 9.x needs a JDK 21+) is downloaded once from Maven Central
 * (org.elasticsearch.distribution.integ-test-zip), unpacked into a cache folder, and started on free ports with a
 * small heap and temporary data and config folders. Every node a test starts for itself (a secured one, one it
 * stops and restarts) is of `ES_VERSION` too, so `ES_VERSION=9.2.4` with a 9.x ELASTICSEARCH_URL runs the whole
 * suite on 9. Elasticsearch refuses to run as root, so under root it runs as a system user `esrun`.
 * When nothing can be had, this throws with what is missing: integration tests fail, they never skip.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { archiveDocuments, recordPrefix, recordSecret } from './secret-ledger.js';

export const ES_VERSION = process.env.ES_VERSION ?? '8.19.21';
const MAVEN = process.env.MAVEN_REPOSITORY_URL ?? 'https://repo1.maven.org/maven2';
// Under root, Elasticsearch runs as another user, who cannot read /root: the cache then lives in /var/cache.
const CACHE = process.env.KOA_SENTINEL_CACHE ?? (process.getuid?.() === 0 ? '/var/cache/koa-sentinel' : join(homedir(), '.cache', 'koa-sentinel'));
const RUN_AS = 'esrun';

export interface ElasticsearchProcess {
  url: string;
  /** For a security-enabled node: the superuser the tests authenticate as. */
  username?: string;
  password?: string;
  /** Stops the node (SIGTERM) and keeps its data so start() brings it back with the same indices. */
  stop(): Promise<void>;
  /** Kills the node at once (SIGKILL), keeping its data. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
}

export interface StartOptions {
  /** x-pack security on, with a file-realm superuser (HTTP stays plain on loopback). */
  security?: boolean;
  heapMb?: number;
  port?: number;
  /** With security: the file realm's roles.yml, and more file-realm users (test/elastic/privileges.test.ts). */
  rolesYaml?: string;
  users?: Array<{ username: string; password: string; roles: string[] }>;
  /** A node of a cluster instead of `discovery.type: single-node`: its settings (test/elastic/cluster.test.ts). */
  clusterSettings?: string[];
  transportPort?: number;
  /** How long to wait for the node to answer healthy. Default 120 s. */
  startTimeoutMs?: number;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A JDK this Elasticsearch accepts: ES_JAVA_HOME, else the newest suitable one under /usr/lib/jvm. */
export function findJavaHome(): string {
  if (process.env.ES_JAVA_HOME) return process.env.ES_JAVA_HOME;
  const major = Number(ES_VERSION.split('.')[0]);
  const minJdk = major >= 9 ? 21 : 17;
  const root = '/usr/lib/jvm';
  const candidates = existsSync(root) ? readdirSync(root) : [];
  const found = candidates
    .map((name) => ({ name, version: Number(/(?:^|-)(\d+)(?:[.-]|$)/.exec(name.replace(/^java-1\./, 'java-'))?.[1] ?? 0) }))
    .filter(({ name, version }) => version >= minJdk && existsSync(join(root, name, 'bin', 'java')))
    // Prefer the lowest suitable JDK: it is the one this Elasticsearch was tested with most.
    .sort((a, b) => a.version - b.version);
  if (found.length === 0) throw new Error(`No JDK ${minJdk}+ found for Elasticsearch ${ES_VERSION}: set ES_JAVA_HOME or install openjdk-${minJdk}-jdk-headless.`);
  return join(root, found[0]!.name);
}

/** Downloads and unpacks the distribution once; returns its home folder. */
export async function ensureDistribution(): Promise<string> {
  const home = join(CACHE, `elasticsearch-${ES_VERSION}`);
  if (existsSync(join(home, 'bin', 'elasticsearch'))) return home;
  mkdirSync(CACHE, { recursive: true });
  const zip = join(CACHE, `elasticsearch-${ES_VERSION}.zip`);
  if (!existsSync(zip)) {
    const url = `${MAVEN}/org/elasticsearch/distribution/integ-test-zip/elasticsearch/${ES_VERSION}/elasticsearch-${ES_VERSION}.zip`;
    const response = await fetch(url);
    if (!response.ok || !response.body) throw new Error(`Cannot download Elasticsearch ${ES_VERSION} from ${url}: HTTP ${response.status}`);
    const part = `${zip}.${process.pid}.part`;
    await pipeline(Readable.fromWeb(response.body as never), createWriteStream(part));
    renameSync(part, zip);
  }
  const staging = mkdtempSync(join(CACHE, 'unpack-'));
  execFileSync('unzip', ['-q', zip, '-d', staging]);
  try {
    renameSync(join(staging, `elasticsearch-${ES_VERSION}`), home);
  } catch (error) {
    if (!existsSync(join(home, 'bin', 'elasticsearch'))) throw error; // another process won the race
  }
  rmSync(staging, { recursive: true, force: true });
  return home;
}

function ensureRunUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    execFileSync('id', ['-u', RUN_AS], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', RUN_AS]);
  }
  return {
    uid: Number(execFileSync('id', ['-u', RUN_AS]).toString()),
    gid: Number(execFileSync('id', ['-g', RUN_AS]).toString()),
  };
}

async function waitForHealth(url: string, headers: Record<string, string>, child: ChildProcess, log: () => string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Elasticsearch exited with ${child.exitCode} while starting:\n${log()}`);
    try {
      const response = await fetch(`${url}/_cluster/health?wait_for_status=yellow&timeout=1s`, { headers, signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`Elasticsearch did not become healthy within ${timeoutMs / 1000} s:\n${log()}`);
}

/** Starts a private node. Every call gets its own data, config and ports. */
export async function startElasticsearch(options: StartOptions = {}): Promise<ElasticsearchProcess> {
  const home = await ensureDistribution();
  const javaHome = findJavaHome();
  const owner = ensureRunUser();
  const base = mkdtempSync(join(tmpdir(), 'sentinel-es-'));
  const conf = join(base, 'config');
  const data = join(base, 'data');
  const logs = join(base, 'logs');
  cpSync(join(home, 'config'), conf, { recursive: true });
  mkdirSync(data);
  mkdirSync(logs);
  const port = options.port ?? (await freePort());
  const transport = options.transportPort ?? (await freePort());
  const heap = options.heapMb ?? 512;
  writeFileSync(join(conf, 'jvm.options.d', 'sentinel.options'), `-Xms${heap}m\n-Xmx${heap}m\n-XX:-AlwaysPreTouch\n`);
  const settings = [
    `http.port: ${port}`, `transport.port: ${transport}`, 'network.host: 127.0.0.1', ...(options.clusterSettings ?? ['discovery.type: single-node']),
    `path.data: ${data}`, `path.logs: ${logs}`, 'cluster.routing.allocation.disk.threshold_enabled: false',
    'action.destructive_requires_name: false', `xpack.security.enabled: ${options.security === true}`,
  ];
  writeFileSync(join(conf, 'elasticsearch.yml'), `${settings.join('\n')}\n`);
  let username: string | undefined;
  let password: string | undefined;
  const env = { ...process.env, ES_JAVA_HOME: javaHome, ES_PATH_CONF: conf, ES_JAVA_OPTS: '' };
  if (options.security) {
    username = 'sentinel_admin';
    password = `pw-${Math.random().toString(36).slice(2)}-A1`;
    recordSecret('elasticsearch credential', password);
    execFileSync(join(home, 'bin', 'elasticsearch-users'), ['useradd', username, '-p', password, '-r', 'superuser'], { env, stdio: 'pipe' });
    if (options.rolesYaml) writeFileSync(join(conf, 'roles.yml'), options.rolesYaml);
    for (const user of options.users ?? []) {
      recordSecret('elasticsearch credential', user.password);
      execFileSync(join(home, 'bin', 'elasticsearch-users'), ['useradd', user.username, '-p', user.password, '-r', user.roles.join(',')], { env, stdio: 'pipe' });
    }
  }
  if (owner) execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, base]);

  const url = `http://127.0.0.1:${port}`;
  const headers: Record<string, string> = username ? { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` } : {};
  let child: ChildProcess | undefined;
  let output = '';
  const log = (): string => {
    const file = join(logs, 'elasticsearch.log');
    return `${output.slice(-4000)}\n${existsSync(file) ? readFileSync(file, 'utf8').slice(-4000) : ''}`;
  };

  const start = async (): Promise<void> => {
    output = '';
    child = spawn(join(home, 'bin', 'elasticsearch'), [], { env, uid: owner?.uid, gid: owner?.gid, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-20_000); });
    child.stderr!.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-20_000); });
    await waitForHealth(url, headers, child, log, options.startTimeoutMs);
  };
  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(signal);
    const timer = setTimeout(() => running.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
  process.once('exit', () => child?.kill('SIGKILL'));

  await start();
  return {
    url,
    username,
    password,
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    start,
    async destroy() {
      // Its indices go with its data: the final secrets scan reads a copy (test/support/secret-ledger.ts).
      if (child && child.exitCode === null && child.signalCode === null) await archiveNode(url, headers);
      await halt('SIGTERM');
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/**
 * The shared node for a test file: ELASTICSEARCH_URL (set by scripts/run-tests.ts for the whole run, or by you),
 * else a private node started for this process.
 */
let shared: Promise<{ url: string; destroy?: () => Promise<void> }> | undefined;
export function sharedElasticsearch(): Promise<{ url: string }> {
  shared ??= process.env.ELASTICSEARCH_URL
    ? Promise.resolve({ url: process.env.ELASTICSEARCH_URL })
    : startElasticsearch().then((node) => {
      process.once('beforeExit', () => void node.destroy());
      return node;
    });
  return shared;
}

/** A unique index prefix per test, so tests sharing one node never see each other's documents. */
export function uniquePrefix(label: string): string {
  const prefix = `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}-${label}`.toLowerCase().replace(/[^a-z0-9_-]/g, '');
  recordPrefix(prefix); // so the final secrets scan knows which suite the indices it finds came from
  return prefix;
}

/** Copies a private node's own indices (not the system ones) into the scan archive before the node is destroyed. */
async function archiveNode(url: string, headers: Record<string, string>): Promise<void> {
  const { Client } = await import('@elastic/elasticsearch');
  const client = new Client({ node: url, headers, requestTimeout: 20_000, maxRetries: 0 });
  try {
    await archiveDocuments(client, '*,-.*', `node-${new URL(url).port}`);
  } catch {
    // A node that no longer answers has nothing to copy; destroy() goes on.
  } finally {
    await client.close();
  }
}

/**
 * Deletes a test prefix's indices and templates, by name (servers may refuse wildcard deletes). Its documents are
 * first copied into the scan archive, so the final secrets scan still reads them.
 */
export async function dropPrefix(client: import('@elastic/elasticsearch').Client, prefix: string): Promise<void> {
  const { buildTemplates } = await import('../../src/elastic/templates.js');
  await archiveDocuments(client, `${prefix}-*`, prefix);
  const rows = (await client.cat.indices({ index: `${prefix}-*`, format: 'json', h: 'index' })) as Array<{ index?: string }>;
  for (const { index } of rows) if (index) await client.indices.delete({ index });
  const templates = buildTemplates(prefix);
  for (const { name } of templates.indexTemplates) await client.indices.deleteIndexTemplate({ name }).catch(() => undefined);
  for (const { name } of templates.components) await client.cluster.deleteComponentTemplate({ name }).catch(() => undefined);
}
