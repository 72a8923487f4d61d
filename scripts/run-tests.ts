/**
 * `npm test` runs this after the typecheck and lint: every test/**\/*.test.ts with node:test (Node 20's --test
 * has no globs). One Elasticsearch is started for the whole run (unless ELASTICSEARCH_URL is set) and handed to
 * every test file; tests that stop or reconfigure Elasticsearch start their own. Extra arguments filter by path.
 * A scan folder (SENTINEL_SCAN_DIR, under the OS temporary folder) collects for the whole run what the final secrets
 * scan reads besides Elasticsearch: the values the tests handled and copies of the documents, spool files and logs
 * test support deletes (test/support/secret-ledger.ts). It is deleted at the end, unless SENTINEL_SCAN_DIR was given
 * or SENTINEL_SCAN_KEEP=1 (to look at what a failing scan found).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startElasticsearch } from '../test/support/elasticsearch.js';
import { SCAN_DIR_VARIABLE } from '../test/support/secret-ledger.js';

function find(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? find(path) : path.endsWith('.test.ts') ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const all = find('test').filter((file) => filters.length === 0 || filters.some((f) => file.includes(f))).sort();
// test/final/ runs after everything else, against what the whole suite left in Elasticsearch (the secrets scan).
const files = all.filter((file) => !file.startsWith(join('test', 'final')));
const finals = all.filter((file) => file.startsWith(join('test', 'final')));
if (all.length === 0) {
  console.error('No test files matched.');
  process.exit(1);
}

const env = { ...process.env };
const givenScanDir = env[SCAN_DIR_VARIABLE];
const scanDir = givenScanDir || mkdtempSync(join(tmpdir(), 'sentinel-scan-'));
mkdirSync(scanDir, { recursive: true, mode: 0o700 });
env[SCAN_DIR_VARIABLE] = scanDir;
// The final scan checks that the suites of this run which ship data did contribute some.
writeFileSync(join(scanDir, 'run.json'), `${JSON.stringify({ files: all.map((file) => file.split('\\').join('/')) })}\n`);
let stopElasticsearch: (() => Promise<void>) | undefined;
const needsElasticsearch = all.some((file) => /sharedElasticsearch|ELASTICSEARCH_URL/.test(readFileSync(file, 'utf8')));
if (needsElasticsearch && !env.ELASTICSEARCH_URL) {
  const started = Date.now();
  const node = await startElasticsearch({ heapMb: 768 });
  console.log(`Elasticsearch ${node.url} up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  env.ELASTICSEARCH_URL = node.url;
  stopElasticsearch = () => node.destroy();
}

function run(list: string[]): Promise<number> {
  if (list.length === 0) return Promise.resolve(0);
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...list], { stdio: 'inherit', env });
  return new Promise((resolve) => child.on('exit', (status) => resolve(status ?? 1)));
}

let code = 1;
try {
  code = await run(files);
  const finalCode = await run(finals);
  code = code || finalCode;
} finally {
  await stopElasticsearch?.();
  if (givenScanDir || env.SENTINEL_SCAN_KEEP === '1') console.log(`Scan folder kept: ${scanDir}`);
  else rmSync(scanDir, { recursive: true, force: true });
}
process.exit(code);
