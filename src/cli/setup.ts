/**
 * `koa-sentinel setup`: the index templates; `setup roles`: the least-privilege role descriptors, roles.yml or API-key
 * requests; `setup identities`: creates those roles and a native user per identity (docs/elasticsearch.md#privileges).
 */
import { parseArgs } from 'node:util';
import {
  buildApiKeyRequests, buildRoles, buildRolesYaml, ConfigurationError, createIdentities, describeElasticError, ElasticsearchError, IDENTITIES, identityName,
  IDENTITY_PURPOSES, isPlaceholderSecret, isValidIndexPrefix, redactUrl, setupElasticsearch, type SentinelIdentity,
} from '../index.js';
import { ELASTIC_HINTS, elasticFromEnv } from './elastic.js';
import { EXIT, type CliIo } from './io.js';

export const SETUP_USAGE = `Usage:
  koa-sentinel setup                    Install the index templates (safe to run again).
  koa-sentinel setup roles [--format json|yaml|api-keys] [--prefix p] [--expiration 90d]
                                        Print the role descriptors (PUT _security/role/<name>), a roles.yml for the
                                        file realm, or the POST _security/api_key request bodies.
  koa-sentinel setup identities         Create the roles, and a native user <prefix>_<identity> for each
                                        SENTINEL_<IDENTITY>_PASSWORD set (app, jobs, setup, retention, analyst).
                                        Needs manage_security: run it as a superuser.
`;

/** The environment variable that holds an identity's password for `setup identities`. */
export const passwordVariable = (identity: SentinelIdentity): string => `SENTINEL_${identity.toUpperCase()}_PASSWORD`;

export async function setupCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { format: { type: 'string' }, prefix: { type: 'string' }, expiration: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  const [action] = positionals;
  if (values.help) {
    io.stdout.write(SETUP_USAGE);
    return EXIT.ok;
  }
  if (positionals.length > 1 || ![undefined, 'roles', 'identities'].includes(action)) {
    io.stderr.write(SETUP_USAGE);
    return EXIT.error;
  }
  if (action === 'roles') return printRoles(values, io);
  // Only the Elasticsearch variables matter here: a production container's missing JWT_SECRET must not stop setup.
  const env = { ...io.env, NODE_ENV: undefined };
  refusePlaceholder('ELASTICSEARCH_PASSWORD', io.env.ELASTICSEARCH_PASSWORD);
  // The stack's other secrets pass through this one-shot job too (docker/compose.yaml): refuse example values early.
  if (action === 'identities') refusePlaceholder('KIBANA_PASSWORD', io.env.KIBANA_PASSWORD);
  const { client, prefix, url } = elasticFromEnv(env);
  try {
    if (action === 'identities') {
      const passwords: Partial<Record<SentinelIdentity, string>> = {};
      for (const identity of IDENTITIES) {
        const value = io.env[passwordVariable(identity)]?.trim();
        if (value) passwords[identity] = refusePlaceholder(passwordVariable(identity), value);
      }
      const result = await createIdentities(client, prefix, passwords).catch((error: unknown) => {
        throw error instanceof ConfigurationError ? error : describeError(error, url);
      });
      io.stdout.write(`Elasticsearch at ${redactUrl(url)}: roles ${result.roles.join(', ')}; users ${result.users.join(', ') || 'none (no SENTINEL_*_PASSWORD set)'}.\n`);
      return EXIT.ok;
    }
    const result = await setupElasticsearch(client, prefix, url, ELASTIC_HINTS);
    io.stdout.write(`Elasticsearch ${result.version} at ${redactUrl(url)}: installed component templates ${result.componentTemplates.join(', ')} and index templates ${result.indexTemplates.join(', ')}; existing indices updated: ${result.updatedMappings.join(', ')}.\n`);
    for (const stale of result.staleMappings) {
      io.stderr.write(`koa-sentinel setup: existing indices ${stale.pattern} keep their old mapping until the next daily index (${stale.reason}); documents using the changed fields are dead-lettered until then.\n`);
    }
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof ElasticsearchError)) throw error;
    io.stderr.write(`koa-sentinel setup: ${error.message} [${error.code}]\n`);
    return EXIT.findings;
  } finally {
    await client.close();
  }
}

function printRoles(values: { format?: string; prefix?: string; expiration?: string }, io: CliIo): number {
  const prefix = values.prefix ?? io.env.ES_INDEX_PREFIX?.trim() ?? 'sentinel';
  if (!isValidIndexPrefix(prefix)) throw new ConfigurationError(`--prefix must be lowercase letters, digits, - or _ (got "${prefix}").`);
  const format = values.format ?? 'json';
  if (format === 'yaml') {
    io.stdout.write(buildRolesYaml(prefix));
  } else if (format === 'json') {
    io.stdout.write(`${JSON.stringify(buildRoles(prefix), null, 2)}\n`);
  } else if (format === 'api-keys') {
    io.stdout.write(`${JSON.stringify(buildApiKeyRequests(prefix, values.expiration), null, 2)}\n`);
  } else {
    throw new ConfigurationError(`--format must be json, yaml or api-keys (got "${format}").`);
  }
  // The purposes go to stderr so stdout stays a file one can pipe into roles.yml or curl.
  for (const identity of IDENTITIES) io.stderr.write(`${identityName(prefix, identity)}: ${IDENTITY_PURPOSES[identity]}\n`);
  return EXIT.ok;
}

function refusePlaceholder(name: string, value: string): string;
function refusePlaceholder(name: string, value: string | undefined): string | undefined;
function refusePlaceholder(name: string, value: string | undefined): string | undefined {
  if (value !== undefined && isPlaceholderSecret(value)) throw new ConfigurationError(`${name} is a placeholder ("${value.slice(0, 9)}..."): set a real password.`);
  return value;
}

function describeError(error: unknown, url: string): ElasticsearchError {
  const described = describeElasticError(error, url, ELASTIC_HINTS);
  if (described.code === 'es_forbidden') {
    return new ElasticsearchError('es_forbidden', `Elasticsearch at ${redactUrl(url)} refused to create roles or users (403): setup identities needs manage_security; run it as a superuser.`, { cause: error });
  }
  if (described.code === 'es_request') {
    return new ElasticsearchError('es_request', `${described.message} Without a native realm (no .security index), use roles.yml and file-realm users: koa-sentinel setup roles --format yaml.`, { cause: error });
  }
  return described;
}
