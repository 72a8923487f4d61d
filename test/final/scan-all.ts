/**
 * The whole secrets scan, shared by the final scan (no-secrets.test.ts) and its canary test (scanner.test.ts):
 * every document still in Elasticsearch under `indices`, then everything the run's scan folder holds
 * (test/support/secret-ledger.ts: archived documents, spool chunks, dead letters, logs), each checked by one
 * scanner built from the run's ledger (test/support/secret-scan.ts). It reports what it read and who produced it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import { readLedger, readManifest, readPrefixes, type ManifestEntry, type PlaceKind, type SecretKind } from '../support/secret-ledger.js';
import { createScanner, type Finding } from '../support/secret-scan.js';

const PAGE = 10_000;
const MAX_FINDINGS = 200;

export interface ScanReport {
  findings: Finding[];
  /** Documents read from Elasticsearch itself, per index. */
  liveIndices: Map<string, number>;
  liveDocuments: number;
  /** Archived files read, and their documents or lines, per kind of place. */
  archived: Map<PlaceKind, { files: number; units: number }>;
  /** What each suite (test file) contributed: documents, files, lines, per kind of place. */
  contributions: Map<string, Map<PlaceKind, number>>;
  /** Ledger values per kind. */
  ledger: Map<SecretKind, number>;
  counts: { values: number; needles: number; shapes: number };
}

export interface ScanOptions {
  dir: string;
  client: Client;
  /** The Elasticsearch indices to read in place (comma-separated patterns). */
  indices: string;
  /** Literal passwords from the test sources, searched for like ledger passwords. */
  phrases?: ReadonlyArray<{ what: string; text: string }>;
  slices?: number;
}

/** The suite an index came from: the longest recorded prefix it starts with. */
function suiteOf(index: string, prefixes: ReadonlyArray<{ prefix: string; suite: string }>): string {
  let best: { prefix: string; suite: string } | undefined;
  for (const entry of prefixes) {
    if (index.startsWith(`${entry.prefix}-`) && (!best || entry.prefix.length > best.prefix.length)) best = entry;
  }
  if (best) return best.suite;
  return /^sentinel-/.test(index) ? 'default prefix (sentinel-*)' : 'unattributed';
}

export async function scanAll(options: ScanOptions): Promise<ScanReport> {
  const ledger = readLedger(options.dir);
  const scanner = createScanner(ledger, options.phrases);
  const prefixes = readPrefixes(options.dir);
  const report: ScanReport = {
    findings: [], liveIndices: new Map(), liveDocuments: 0, archived: new Map(), contributions: new Map(), ledger: new Map(), counts: scanner.counts,
  };
  for (const entry of ledger) report.ledger.set(entry.kind, (report.ledger.get(entry.kind) ?? 0) + 1);
  const contribute = (suite: string, place: PlaceKind, n: number): void => {
    const places = report.contributions.get(suite) ?? new Map<PlaceKind, number>();
    places.set(place, (places.get(place) ?? 0) + n);
    report.contributions.set(suite, places);
  };
  const check = (place: PlaceKind, where: string, text: string): void => {
    if (report.findings.length >= MAX_FINDINGS) return;
    report.findings.push(...scanner.scan(place, where, text).slice(0, MAX_FINDINGS - report.findings.length));
  };

  await readLiveDocuments(options.client, options.indices, options.slices ?? 1, (hit) => {
    report.liveDocuments += 1;
    report.liveIndices.set(hit._index, (report.liveIndices.get(hit._index) ?? 0) + 1);
    check('document', `${hit._index}/${hit._id}`, JSON.stringify(hit._source));
  });
  for (const [index, n] of report.liveIndices) contribute(suiteOf(index, prefixes), 'document', n);

  // The archive: one unit per document or line.
  readArchive(options.dir, (entry, units) => {
    const totals = report.archived.get(entry.place) ?? { files: 0, units: 0 };
    report.archived.set(entry.place, { files: totals.files + 1, units: totals.units + units });
    contribute(entry.suite, entry.place, units);
  }, (entry, line, i) => {
    let where = `${entry.file}:${i + 1}`;
    if (entry.place === 'document') {
      const { _index, _id } = JSON.parse(line) as { _index: string; _id: string };
      where = `${_index}/${_id} (archived in ${entry.file})`;
    }
    check(entry.place, where, line);
  });
  return report;
}

export interface LiveHit {
  _index: string;
  _id?: string;
  _source?: unknown;
}

/**
 * Every document in the open indices matching `indices`: a point in time, parallel slices, search_after on
 * _shard_doc (complete however many there are). Also read by the final ECS schema test.
 */
export async function readLiveDocuments(client: Client, indices: string, slices: number, onHit: (hit: LiveHit) => void): Promise<void> {
  const pit = await client.openPointInTime({ index: indices, keep_alive: '5m', ignore_unavailable: true, allow_no_indices: true, expand_wildcards: 'open' } as never);
  const slice = async (id: number): Promise<void> => {
    let after: unknown[] | undefined;
    for (;;) {
      const page = await client.search<unknown>({
        pit: { id: pit.id, keep_alive: '5m' }, size: PAGE, sort: [{ _shard_doc: 'asc' }], track_total_hits: false,
        ...(slices > 1 ? { slice: { id, max: slices } } : {}),
        ...(after ? { search_after: after } : {}),
      } as never);
      for (const hit of page.hits.hits) onHit(hit);
      if (page.hits.hits.length < PAGE) return;
      after = page.hits.hits.at(-1)!.sort;
    }
  };
  try {
    await Promise.all(Array.from({ length: slices }, (_, id) => slice(id)));
  } finally {
    await client.closePointInTime({ id: pit.id }).catch(() => undefined);
  }
}

/** Every non-empty line of every archived file (readManifest), then the file's count of lines. */
export function readArchive(
  dir: string,
  onFile: (entry: ManifestEntry, units: number) => void,
  onLine: (entry: ManifestEntry, line: string, index: number) => void,
): void {
  for (const entry of readManifest(dir)) {
    const lines = readFileSync(join(dir, entry.file), 'utf8').split('\n');
    let units = 0;
    lines.forEach((line, i) => {
      if (!line) return;
      units += 1;
      onLine(entry, line, i);
    });
    onFile(entry, units);
  }
}

/** The report as a few lines for t.diagnostic. */
export function describeReport(report: ScanReport): string[] {
  const archived = [...report.archived].map(([place, { files, units }]) => `${place}: ${files} files, ${units} ${place === 'document' ? 'documents' : 'lines'}`);
  return [
    `Elasticsearch: ${report.liveDocuments} documents in ${report.liveIndices.size} indices`,
    `archive: ${archived.join('; ') || 'empty'}`,
    `ledger: ${report.counts.values} values (${[...report.ledger].map(([kind, n]) => `${kind} ${n}`).join(', ') || 'none'}), ${report.counts.needles} needles in all their forms, ${report.counts.shapes} shapes`,
    ...[...report.contributions].sort(([a], [b]) => a.localeCompare(b))
      .map(([suite, places]) => `  ${suite}: ${[...places].map(([place, n]) => `${place} ${n}`).join(', ')}`),
  ];
}
