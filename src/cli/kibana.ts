/**
 * `koa-sentinel kibana import|export`. Each option comes from its flag, else from the environment as
 * loadKibanaEnv reads it; credentials from flags replace those of the environment as a whole, never piece by
 * piece. Exit codes: 0 imported, 1 Kibana refused objects (each one is listed) or the upload, 2 usage,
 * configuration, connection, credential or version errors.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  buildSavedObjects, ConfigurationError, DEFAULT_INDEX_PREFIX, describeImportError, importSavedObjects, isValidIndexPrefix, KibanaError,
  loadKibanaEnv, parseDuration, parseNdjson, rewriteIndexPrefix, toNdjson,
} from '../index.js';
import { EXIT, type CliIo, type ExitCode } from './io.js';

export const KIBANA_USAGE = `Usage:
  koa-sentinel kibana import --url <kibana> [--api-key K | --user U --password P] [--space S]
                             [--prefix p] [--overwrite] [--file objects.ndjson] [--wait 2m] [--ca-cert ca.pem]
  koa-sentinel kibana export [--prefix p] [--file objects.ndjson]
`;

/** Only a refused upload is the file's fault (1); everything else means nothing was imported at all (2). */
const EXIT_BY_ERROR: Record<KibanaError['code'], ExitCode> = {
  kibana_unreachable: EXIT.error,
  kibana_unavailable: EXIT.error,
  kibana_auth: EXIT.error,
  kibana_forbidden: EXIT.error,
  kibana_space: EXIT.error,
  kibana_version: EXIT.error,
  kibana_url: EXIT.error,
  kibana_rejected: EXIT.findings,
};

const TYPE_NAMES: Record<string, string> = { 'index-pattern': 'data views', search: 'saved searches', lens: 'Lens visualizations', dashboard: 'dashboards' };

type SavedObject = { id: string; type: string; attributes?: unknown };

export async function kibanaCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string' }, 'api-key': { type: 'string' }, user: { type: 'string' }, password: { type: 'string' },
      space: { type: 'string' }, file: { type: 'string' }, prefix: { type: 'string' }, overwrite: { type: 'boolean' },
      wait: { type: 'string' }, 'ca-cert': { type: 'string' },
    },
  });
  const [action] = positionals;
  if (!['import', 'export'].includes(action ?? '') || positionals.length !== 1) {
    io.stderr.write(KIBANA_USAGE);
    return EXIT.error;
  }
  const env = loadKibanaEnv(io.env);
  if (values.prefix !== undefined && !isValidIndexPrefix(values.prefix)) throw new ConfigurationError(`--prefix must be lowercase letters, digits, - or _ (got "${values.prefix}").`);
  const prefix = values.prefix ?? env.indexPrefix;
  const objects = readObjects(values.file);
  const titles = rewriteIndexPrefix(objects, prefix);
  if (titles.length === 0 && prefix !== DEFAULT_INDEX_PREFIX) {
    throw new ConfigurationError(`--prefix ${prefix}: no data view in ${values.file ?? 'the built-in objects'} has a title ${DEFAULT_INDEX_PREFIX}-<events|access|alerts>-* to rewrite.`);
  }
  const ndjson = toNdjson(objects);
  if (action === 'export') {
    io.stdout.write(ndjson);
    return EXIT.ok;
  }

  const url = values.url ?? env.url;
  if (!url) throw new ConfigurationError(`kibana import needs --url (or KIBANA_URL).\n${KIBANA_USAGE}`);
  const fromFlags = values['api-key'] !== undefined || values.user !== undefined || values.password !== undefined;
  const apiKey = fromFlags ? values['api-key'] : env.apiKey;
  const username = fromFlags ? values.user : env.username;
  const password = fromFlags ? values.password : env.password;
  if (apiKey && (username !== undefined || password !== undefined)) throw new ConfigurationError('Give --api-key or --user and --password, not both.');
  if ((username === undefined) !== (password === undefined)) throw new ConfigurationError('--user and --password go together.');
  const space = values.space ?? env.space;
  const waitMs = values.wait === undefined ? 0 : parseDuration(values.wait);
  if (waitMs === undefined) throw new ConfigurationError(`--wait must be a duration such as 30s or 2m (got "${values.wait}").`);
  const ca = readCa(values['ca-cert'] ?? env.caCertFile, values['ca-cert'] !== undefined ? '--ca-cert' : 'KIBANA_CA_CERT');

  // The URL and the space are checked by importSavedObjects, before any request.
  try {
    const result = await importSavedObjects({
      url, apiKey, username, password, ca, space, waitMs, ndjson, overwrite: values.overwrite === true,
      onWait: (reason) => io.stderr.write(`Waiting up to ${values.wait} for Kibana: ${reason}\n`),
    });
    const kibana = `Kibana${result.kibanaVersion ? ` ${result.kibanaVersion}` : ''} at ${result.kibanaUrl}${space ? `, space "${space}"` : ''}`;
    if (!result.success || result.errors.length > 0) {
      io.stderr.write(`koa-sentinel kibana import: ${kibana} imported ${result.successCount} of ${objects.length} objects; ${result.errors.length} failed:\n`);
      for (const error of result.errors) io.stderr.write(`  ${describeImportError(error)}\n`);
      if (result.successCount === 0 && result.errors.some((e) => e.error?.type === 'missing_references')) {
        io.stderr.write('  (an import with a missing reference imports nothing at all)\n');
      }
      return EXIT.findings;
    }
    const perType = new Map<string, number>();
    for (const o of objects) perType.set(o.type, (perType.get(o.type) ?? 0) + 1);
    const counts = [...perType].map(([type, n]) => `${n} ${TYPE_NAMES[type] ?? type}`);
    io.stdout.write(`Imported ${result.successCount} saved objects into ${kibana}: ${counts.join(', ')}.\n`);
    if (titles.length) io.stdout.write(`Data views: ${titles.join(', ')}.\n`);
    for (const d of objects.filter((o) => o.type === 'dashboard')) {
      const title = (d.attributes as { title?: string } | undefined)?.title ?? d.id;
      io.stdout.write(`  ${title}: ${result.spaceUrl}/app/dashboards#/view/${encodeURIComponent(d.id)}\n`);
    }
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof KibanaError)) throw error;
    io.stderr.write(`koa-sentinel kibana import: ${error.message} [${error.code}]\n`);
    return EXIT_BY_ERROR[error.code];
  }
}

/** The objects of `file`, or without one the built-in objects (kibana/koa-sentinel.ndjson holds the same). */
function readObjects(file: string | undefined): SavedObject[] {
  if (file === undefined) return buildSavedObjects();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`Cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    return parseNdjson(text, file);
  } catch (error) {
    throw new ConfigurationError((error as Error).message);
  }
}

function readCa(file: string | undefined, from: string): string | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`Cannot read ${from} ${file}: ${(error as Error).message}`);
  }
}
