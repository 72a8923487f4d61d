/**
 * `koa-sentinel kibana import|export`. Options come from flags, else from the environment (KIBANA_URL,
 * KIBANA_API_KEY, KIBANA_USERNAME with KIBANA_PASSWORD, KIBANA_SPACE, KIBANA_CA_CERT, ES_INDEX_PREFIX), so a
 * setup container can pass secrets without putting them on a command line, where any process list shows them.
 * Exit codes: 0 imported, 1 Kibana refused objects (each one is listed) or the upload, 2 usage, configuration,
 * connection, credential or version errors.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { CliIo } from '../cli/run.js';
import { parseDuration } from '../config/duration.js';
import { ConfigurationError } from '../errors.js';
import { describeImportError, importSavedObjects, isValidSpaceId, KibanaError, parseKibanaUrl, spacePath } from './import.js';
import { buildSavedObjects, DEFAULT_INDEX_PREFIX, isValidIndexPrefix, parseNdjson, rewriteIndexPrefix, toNdjson } from './saved-objects.js';

export const KIBANA_USAGE = `Usage:
  koa-sentinel kibana import --url <kibana> [--api-key K | --user U --password P] [--space S]
                             [--prefix p] [--overwrite] [--file objects.ndjson] [--wait 2m] [--ca-cert ca.pem]
  koa-sentinel kibana export [--prefix p] [--file objects.ndjson]
`;

const TYPE_NAMES: Record<string, string> = { 'index-pattern': 'data views', search: 'saved searches', lens: 'Lens visualizations', dashboard: 'dashboards' };

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
    return 2;
  }
  const env = io.env;
  const prefix = values.prefix ?? (env.ES_INDEX_PREFIX || DEFAULT_INDEX_PREFIX);
  if (!isValidIndexPrefix(prefix)) throw new ConfigurationError(`--prefix must be lowercase letters, digits, - or _ (got "${prefix}").`);
  // Without --file: the objects built in, which kibana/koa-sentinel.ndjson holds too (a test keeps them equal).
  const file = values.file;
  let objects: Array<{ id: string; type: string; attributes?: unknown }>;
  if (file === undefined) {
    objects = buildSavedObjects();
  } else {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigurationError(`Cannot read ${file}: ${(error as Error).message}`);
    }
    try {
      objects = parseNdjson(text, file);
    } catch (error) {
      throw new ConfigurationError((error as Error).message);
    }
  }
  const titles = rewriteIndexPrefix(objects, prefix);
  if (titles.length === 0 && prefix !== DEFAULT_INDEX_PREFIX) {
    throw new ConfigurationError(`--prefix ${prefix}: no data view in ${file ?? 'the built-in objects'} has a title ${DEFAULT_INDEX_PREFIX}-<events|access|alerts>-* to rewrite.`);
  }
  const ndjson = toNdjson(objects);
  if (action === 'export') {
    io.stdout.write(ndjson);
    return 0;
  }

  const url = values.url ?? env.KIBANA_URL;
  if (!url) throw new ConfigurationError(`kibana import needs --url (or KIBANA_URL).\n${KIBANA_USAGE}`);
  const base = parseKibanaUrl(url);
  const where = base.origin + base.pathname.replace(/\/+$/, '');
  // Credentials from flags replace those of the environment as a whole, never piece by piece.
  const fromFlags = values['api-key'] !== undefined || values.user !== undefined || values.password !== undefined;
  // From the environment, a password counts only with its user: Elastic's own compose files set KIBANA_PASSWORD
  // alone, for the kibana_system user, which is not who imports.
  const envBasic = Boolean(env.KIBANA_USERNAME && env.KIBANA_PASSWORD);
  const apiKey = fromFlags ? values['api-key'] : env.KIBANA_API_KEY || undefined;
  const username = fromFlags ? values.user : envBasic ? env.KIBANA_USERNAME : undefined;
  const password = fromFlags ? values.password : envBasic ? env.KIBANA_PASSWORD : undefined;
  if (apiKey && (username !== undefined || password !== undefined)) throw new ConfigurationError('Give --api-key or --user and --password, not both.');
  if ((username === undefined) !== (password === undefined)) throw new ConfigurationError('--user and --password go together.');
  const space = values.space ?? (env.KIBANA_SPACE || undefined);
  if (space !== undefined && !isValidSpaceId(space)) throw new ConfigurationError(`--space must be a space id: lowercase letters, digits, _ and - (got "${space}").`);
  const waitMs = values.wait === undefined ? 0 : parseDuration(values.wait);
  if (waitMs === undefined) throw new ConfigurationError(`--wait must be a duration such as 30s or 2m (got "${values.wait}").`);
  const caFile = values['ca-cert'] ?? (env.KIBANA_CA_CERT || undefined);
  let ca: string | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (error) {
      throw new ConfigurationError(`Cannot read --ca-cert ${caFile}: ${(error as Error).message}`);
    }
  }

  try {
    const result = await importSavedObjects({
      url, apiKey, username, password, ca, space, waitMs, ndjson, overwrite: values.overwrite === true,
      onWait: (reason) => io.stderr.write(`Waiting up to ${values.wait} for Kibana: ${reason}\n`),
    });
    const kibana = `Kibana${result.kibanaVersion ? ` ${result.kibanaVersion}` : ''} at ${where}${space ? `, space "${space}"` : ''}`;
    if (!result.success || result.errors.length > 0) {
      io.stderr.write(`koa-sentinel kibana import: ${kibana} imported ${result.successCount} of ${objects.length} objects; ${result.errors.length} failed:\n`);
      for (const error of result.errors) io.stderr.write(`  ${describeImportError(error)}\n`);
      if (result.successCount === 0 && result.errors.some((e) => e.error?.type === 'missing_references')) {
        io.stderr.write('  (an import with a missing reference imports nothing at all)\n');
      }
      return 1;
    }
    const perType = new Map<string, number>();
    for (const o of objects) perType.set(o.type, (perType.get(o.type) ?? 0) + 1);
    const counts = [...perType].map(([type, n]) => `${n} ${TYPE_NAMES[type] ?? type}`);
    io.stdout.write(`Imported ${result.successCount} saved objects into ${kibana}: ${counts.join(', ')}.\n`);
    if (titles.length) io.stdout.write(`Data views: ${titles.join(', ')}.\n`);
    const dashboards = objects.filter((o) => o.type === 'dashboard');
    for (const d of dashboards) {
      const title = (d.attributes as { title?: string } | undefined)?.title ?? d.id;
      io.stdout.write(`  ${title}: ${where}${spacePath(space)}/app/dashboards#/view/${encodeURIComponent(d.id)}\n`);
    }
    return 0;
  } catch (error) {
    if (!(error instanceof KibanaError)) throw error;
    io.stderr.write(`koa-sentinel kibana import: ${error.message} [${error.code}]\n`);
    return error.exitCode;
  }
}
