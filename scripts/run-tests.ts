/**
 * `npm test` runs this after the typecheck and lint: every test/**\/*.test.ts with node:test (Node 20's --test
 * has no globs). One Elasticsearch is started for the whole run (unless ELASTICSEARCH_URL is set) and handed to
 * every test file; tests that stop or reconfigure Elasticsearch start their own. Extra arguments filter by path.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startElasticsearch } from '../test/support/elasticsearch.js';

function find(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? find(path) : path.endsWith('.test.ts') ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const files = find('test').filter((file) => filters.length === 0 || filters.some((f) => file.includes(f))).sort();
if (files.length === 0) {
  console.error('No test files matched.');
  process.exit(1);
}

const env = { ...process.env };
let stopElasticsearch: (() => Promise<void>) | undefined;
const needsElasticsearch = files.some((file) => readFileSync(file, 'utf8').includes('sharedElasticsearch'));
if (needsElasticsearch && !env.ELASTICSEARCH_URL) {
  const started = Date.now();
  const node = await startElasticsearch({ heapMb: 768 });
  console.log(`Elasticsearch ${node.url} up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  env.ELASTICSEARCH_URL = node.url;
  stopElasticsearch = () => node.destroy();
}

const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
const code: number = await new Promise((resolve) => child.on('exit', (status) => resolve(status ?? 1)));
await stopElasticsearch?.();
process.exit(code);
