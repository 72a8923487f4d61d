import { readFileSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
import { ConfigurationError, ElasticsearchError } from '../errors.js';

/**
 * What koa-sentinel calls on an Elasticsearch client. Structural, so an @elastic/elasticsearch 8.19 client and a 9.x
 * client both fit: bring your own, or let createElasticClient make one. (Refined into an interface of the calls.)
 */
export type ElasticClient = Client;

/**
 * Error tests by shape, not `instanceof`: a client the user brings comes from their own copy of the package (8.x or
 * 9.x), whose error classes are not ours.
 */
export function isResponseError(error: unknown): error is Error & { statusCode?: number; body?: unknown; meta?: { statusCode?: number } } {
  return error instanceof Error && error.name === 'ResponseError';
}

export function isConnectionFailure(error: unknown): error is Error {
  return error instanceof Error && ['ConnectionError', 'TimeoutError', 'NoLivingConnectionsError', 'RequestAbortedError'].includes(error.name);
}

export interface ElasticConnectionOptions {
  url: string;
  /** An API key (the base64 `id:api_key` form Kibana shows). Exclusive with username/password. */
  apiKey?: string;
  username?: string;
  password?: string;
  /** PEM file of the CA that signed Elasticsearch's HTTP certificate. */
  caCertFile?: string;
  /** Per-request timeout. Default 10 s. */
  requestTimeoutMs?: number;
}

/**
 * The client, configured once. Retries are ours (the shipper's backoff, the runner's catch-up), so the client's
 * own are off: a request either answers or fails fast.
 */
export function createElasticClient(options: ElasticConnectionOptions): ElasticClient {
  if (!options.url) throw new ConfigurationError('ELASTICSEARCH_URL is required.');
  if (options.apiKey && (options.username || options.password)) {
    throw new ConfigurationError('Give ELASTICSEARCH_API_KEY or ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD, not both.');
  }
  if (Boolean(options.username) !== Boolean(options.password)) {
    throw new ConfigurationError('ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD go together.');
  }
  let ca: string | undefined;
  if (options.caCertFile) {
    try {
      ca = readFileSync(options.caCertFile, 'utf8');
    } catch (error) {
      throw new ConfigurationError(`ELASTICSEARCH_CA_CERT ${options.caCertFile} cannot be read: ${(error as Error).message}`);
    }
  }
  return new Client({
    node: options.url,
    auth: options.apiKey ? { apiKey: options.apiKey } : options.username ? { username: options.username, password: options.password! } : undefined,
    tls: ca ? { ca } : undefined,
    maxRetries: 0,
    requestTimeout: options.requestTimeoutMs ?? 10_000,
    compression: false,
  });
}

/** Maps the client's errors to an ElasticsearchError an operator can act on. */
export function describeElasticError(error: unknown, url?: string): ElasticsearchError {
  if (error instanceof ElasticsearchError) return error;
  const where = url ? ` at ${url.replace(/\/\/[^/@]*@/, '//***@')}` : '';
  if (isResponseError(error)) {
    const status = error.statusCode ?? 0;
    if (status === 401) return new ElasticsearchError('es_auth', `Elasticsearch${where} refused the credentials (401): check ELASTICSEARCH_API_KEY or ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD.`, { cause: error });
    if (status === 403) return new ElasticsearchError('es_forbidden', `Elasticsearch${where} authenticated us but refused the operation (403): the user or API key needs the manage_index_templates cluster privilege and write/read/delete on the sentinel-* indices.`, { cause: error });
    const type = (error.body as { error?: { type?: string } } | undefined)?.error?.type;
    return new ElasticsearchError('es_request', `Elasticsearch${where} answered ${status}${type ? ` (${type})` : ''}.`, { cause: error });
  }
  if (isConnectionFailure(error)) {
    return new ElasticsearchError('es_unreachable', `Cannot reach Elasticsearch${where}: ${error.message}. Is it running, and is ELASTICSEARCH_URL right?`, { cause: error });
  }
  return new ElasticsearchError('es_request', `Elasticsearch${where} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/** The server's version, from the node info API (the minimal distribution has no `GET /`). */
export async function serverVersion(client: ElasticClient): Promise<string> {
  const info = await client.nodes.info({ node_id: '_local', filter_path: 'nodes.*.version' });
  const version = Object.values((info as { nodes?: Record<string, { version?: string }> }).nodes ?? {})[0]?.version;
  if (!version) throw new ElasticsearchError('es_request', 'Elasticsearch did not report its version.');
  return version;
}
