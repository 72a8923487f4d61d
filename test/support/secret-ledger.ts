/**
 * What the final secrets scan (test/final/no-secrets.test.ts) reads, kept while the suite runs: scripts/run-tests.ts
 * makes a scan folder for the whole run and names it in SENTINEL_SCAN_DIR; test support writes into it
 *
 * - the exact secret values the tests handled (the ledger: tokens, CSRF tokens, cookie values, passwords, signing
 *   secrets, Elasticsearch and Redis credentials, API keys), so the scan looks for the values themselves and not
 *   only for their shapes;
 * - a copy of every Elasticsearch document before test support deletes it (dropPrefix, a private node's destroy);
 * - a copy of every spool chunk and dead-letter file before a test removes its spool folder (removeSpool);
 * - the log text of the servers and CLI runs the tests start.
 *
 * Every copy is listed in manifest.ndjson with the test file it came from, so the scan can say which suites
 * contributed and notice one that stops. Without SENTINEL_SCAN_DIR (a test file run on its own) nothing is kept.
 * The folder holds secrets: it lives under the OS temporary folder, mode 0700, and the runner deletes it at the end.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@elastic/elasticsearch';

export const SCAN_DIR_VARIABLE = 'SENTINEL_SCAN_DIR';

/** The kinds of secret value the ledger holds; each is searched for in the forms listed in secret-scan.ts. */
export type SecretKind =
  | 'access token' | 'refresh token' | 'csrf token' | 'cookie value' | 'password' | 'signing secret' | 'signing key'
  | 'elasticsearch credential' | 'redis credential' | 'api key';

/** The kinds of place the scan reads. */
export type PlaceKind = 'document' | 'spool chunk' | 'dead letter' | 'stdout';

export interface LedgerEntry {
  kind: SecretKind;
  value: string;
  suite: string;
}

/** One archived file (or one remaining index, for the scan's own bookkeeping) and who produced it. */
export interface ManifestEntry {
  /** Relative to the scan folder. */
  file: string;
  place: PlaceKind;
  suite: string;
  /** What it is a copy of: an index pattern, a spool folder, a server. */
  label: string;
  /** Documents or lines in it. */
  count: number;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The scan folder of this run, or undefined when nothing is to be kept. */
export function scanDir(): string | undefined {
  return process.env[SCAN_DIR_VARIABLE] || undefined;
}

/** The scan folder of this run, for the final tests: they fail without one (the suite must run through scripts/run-tests.ts). */
export function requireScanDir(): string {
  const dir = scanDir();
  if (!dir || !existsSync(dir)) throw new Error(`${SCAN_DIR_VARIABLE} names no folder: run the suite through scripts/run-tests.ts, which makes one for the run`);
  return dir;
}

/** The test file this process runs (node --test runs each file in its own process), relative to the project root. */
export function currentSuite(): string {
  const entry = process.argv[1];
  if (!entry) return 'unknown';
  const path = relative(ROOT, entry).split('\\').join('/');
  return path.startsWith('test/') ? path : 'unknown';
}

let sequence = 0;
function uniqueName(stem: string, extension: string): string {
  sequence += 1;
  const safe = stem.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 80);
  return `${safe}-${process.pid}-${sequence}-${randomBytes(3).toString('hex')}${extension}`;
}

function folder(dir: string, name: string): string {
  const path = join(dir, name);
  mkdirSync(path, { recursive: true, mode: 0o700 });
  return path;
}

function addToManifest(dir: string, entry: ManifestEntry): void {
  // One short line per append: O_APPEND keeps lines from parallel test files whole.
  appendFileSync(join(dir, 'manifest.ndjson'), `${JSON.stringify(entry)}\n`, { mode: 0o600 });
}

// ---------------------------------------------------------------------------------------------------------------
// The ledger

const recorded = new Set<string>();

/**
 * Records a secret value the tests handled. Buffers are kept as base64 and searched for in every encoding
 * (secret-scan.ts); strings as they are. Values shorter than 8 characters are too likely to occur by chance and are
 * skipped.
 */
export function recordSecret(kind: SecretKind, value: string | Buffer | undefined | null): void {
  const dir = scanDir();
  if (!dir || value === undefined || value === null) return;
  const text = Buffer.isBuffer(value) ? `buffer:${value.toString('base64')}` : value;
  if ((Buffer.isBuffer(value) ? value.length : text.length) < 8) return;
  const key = `${kind}\0${text}`;
  if (recorded.has(key)) return;
  recorded.add(key);
  appendFileSync(join(folder(dir, 'ledger'), `${process.pid}.ndjson`), `${JSON.stringify({ kind, value: text, suite: currentSuite() } satisfies LedgerEntry)}\n`, { mode: 0o600 });
}

/** Records the prefix a suite ships under, so documents left in Elasticsearch can be traced to their suite. */
export function recordPrefix(prefix: string): void {
  const dir = scanDir();
  if (!dir) return;
  appendFileSync(join(dir, 'prefixes.ndjson'), `${JSON.stringify({ prefix, suite: currentSuite() })}\n`, { mode: 0o600 });
}

// ---------------------------------------------------------------------------------------------------------------
// Archiving

/**
 * Copies every document of the open indices matching `index` into the archive (one JSON line per document:
 * `_index`, `_id`, `_source`). Call it before deleting them. Returns how many were copied.
 */
export async function archiveDocuments(client: Client, index: string, label = index): Promise<number> {
  const dir = scanDir();
  if (!dir) return 0;
  const lines: string[] = [];
  let page = await client.search<unknown>({
    index, scroll: '2m', size: 5000, sort: ['_doc'], ignore_unavailable: true, allow_no_indices: true, expand_wildcards: 'open',
  } as never);
  try {
    while (page.hits.hits.length > 0) {
      for (const hit of page.hits.hits) lines.push(JSON.stringify({ _index: hit._index, _id: hit._id, _source: hit._source }));
      if (!page._scroll_id) break;
      page = await client.scroll<unknown>({ scroll_id: page._scroll_id, scroll: '2m' });
    }
  } finally {
    if (page._scroll_id) await client.clearScroll({ scroll_id: page._scroll_id }).catch(() => undefined);
  }
  if (lines.length === 0) return 0;
  const file = join('documents', uniqueName(label, '.ndjson'));
  folder(dir, 'documents');
  writeFileSync(join(dir, file), `${lines.join('\n')}\n`, { mode: 0o600 });
  addToManifest(dir, { file, place: 'document', suite: currentSuite(), label, count: lines.length });
  return lines.length;
}

/** The spool's own files (src/elastic/spool.ts): chunk-<stamp>-<seq>.ndjson and deadletter.ndjson. */
const SPOOL_FILE = /^(chunk-.*\.ndjson|deadletter\.ndjson)$/;

function lineCount(path: string): number {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).length;
}

/** Copies the chunk files and dead letters in `spool` (and its sub-folders) into the archive. */
export function archiveSpool(spool: string, label = 'spool'): number {
  const dir = scanDir();
  if (!dir || !existsSync(spool)) return 0;
  let copied = 0;
  const walk = (path: string): void => {
    for (const name of readdirSync(path)) {
      const full = join(path, name);
      const stat = statSync(full, { throwIfNoEntry: false });
      if (!stat) continue;
      if (stat.isDirectory()) walk(full);
      else if (stat.isFile() && SPOOL_FILE.test(name) && stat.size > 0) {
        const file = join('spool', uniqueName(`${label}-${name.replace(/\.ndjson$/, '')}`, '.ndjson'));
        folder(dir, 'spool');
        copyFileSync(full, join(dir, file));
        addToManifest(dir, { file, place: name === 'deadletter.ndjson' ? 'dead letter' : 'spool chunk', suite: currentSuite(), label, count: lineCount(full) });
        copied += 1;
      }
    }
  };
  walk(spool);
  return copied;
}

/** Archives a spool folder's chunks and dead letters, then deletes the folder: use it wherever a test removes one. */
export function removeSpool(spool: string, label = 'spool'): void {
  try {
    archiveSpool(spool, label);
  } finally {
    rmSync(spool, { recursive: true, force: true });
  }
}

/** Archives the log text (stdout, stderr) of a server or a CLI run the tests started. */
export function archiveText(label: string, text: string): void {
  const dir = scanDir();
  if (!dir || text.length === 0) return;
  const file = join('stdout', uniqueName(label, '.log'));
  folder(dir, 'stdout');
  writeFileSync(join(dir, file), text, { mode: 0o600 });
  addToManifest(dir, { file, place: 'stdout', suite: currentSuite(), label, count: text.split('\n').filter(Boolean).length });
}

// ---------------------------------------------------------------------------------------------------------------
// Reading it back (the final scan)

function readLines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as T);
}

export function readLedger(dir: string): LedgerEntry[] {
  const ledger = join(dir, 'ledger');
  if (!existsSync(ledger)) return [];
  return readdirSync(ledger).flatMap((name) => readLines<LedgerEntry>(join(ledger, name)));
}

export function readManifest(dir: string): ManifestEntry[] {
  return readLines<ManifestEntry>(join(dir, 'manifest.ndjson'));
}

export function readPrefixes(dir: string): Array<{ prefix: string; suite: string }> {
  return readLines<{ prefix: string; suite: string }>(join(dir, 'prefixes.ndjson'));
}

/** The test files of this run, as scripts/run-tests.ts wrote them (run.json). */
export function readRunFiles(dir: string): string[] {
  const path = join(dir, 'run.json');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { files: string[] }).files : [];
}
