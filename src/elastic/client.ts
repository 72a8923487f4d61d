import { readFileSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
import { ConfigurationError, ElasticsearchError } from '../errors.js';
import { redactUrl } from '../config/env.js';
import type { ElasticClient } from './client-types.js';

export type * from './client-types.js';

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
  /**
   * The node's URL, or the URLs of several nodes of one cluster: requests go round the nodes, and a node that
   * cannot be reached is left out until it answers again (the request that found it down fails; ours are retried
   * by the shipper's backoff and the next anomaly run).
   */
  url: string | readonly string[];
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
 * A client of the installed @elastic/elasticsearch, configured once. Retries are ours (the shipper's backoff, the
 * runner's catch-up), so the client's own are off: a request either answers or fails fast. The whole `Client` is
 * returned, not only the ElasticClient part, so callers can use it for their own requests too.
 *
 * The client major must not be newer than the server's: an 8.19 client talks to 8.x and 9.x servers, a 9.x client
 * sends `compatible-with=9` headers that an 8.x server refuses.
 *
 * Library code: errors name the options. The CLI and the server map environment variables to these options and
 * speak of the variables in their own messages.
 */
export function createElasticClient(options: ElasticConnectionOptions): Client {
  const nodes = typeof options.url === 'string' ? [options.url] : [...(options.url ?? [])];
  if (nodes.length === 0 || nodes.some((url) => !url)) throw new ConfigurationError('options.url is required.');
  if (options.apiKey && (options.username || options.password)) {
    throw new ConfigurationError('Give options.apiKey or options.username/options.password, not both.');
  }
  if (Boolean(options.username) !== Boolean(options.password)) {
    throw new ConfigurationError('options.username and options.password go together.');
  }
  let ca: string | undefined;
  if (options.caCertFile) {
    try {
      ca = readFileSync(options.caCertFile, 'utf8');
    } catch (error) {
      throw new ConfigurationError(`options.caCertFile ${options.caCertFile} cannot be read: ${(error as Error).message}`);
    }
  }
  return new Client({
    nodes,
    auth: options.apiKey ? { apiKey: options.apiKey } : options.username ? { username: options.username, password: options.password! } : undefined,
    tls: ca ? { ca } : undefined,
    maxRetries: 0,
    requestTimeout: options.requestTimeoutMs ?? 10_000,
    compression: false,
  });
}

/**
 * What to tell an operator after a 401 or a connection failure. The library speaks of its options; the CLI and the
 * server, which read environment variables, pass hints that name them.
 */
export interface ElasticErrorHints {
  /** After "refused the credentials (401):". */
  credentials?: string;
  /** After "Cannot reach Elasticsearch: <reason>.". */
  unreachable?: string;
}

const DEFAULT_HINTS: Required<ElasticErrorHints> = {
  credentials: 'check the API key, or the username and password, the client was given.',
  unreachable: 'Is it running, and is the URL right?',
};

/** Maps the client's errors to an ElasticsearchError an operator can act on. */
export function describeElasticError(error: unknown, url?: string, hints: ElasticErrorHints = {}): ElasticsearchError {
  if (error instanceof ElasticsearchError) return error;
  const hint = { ...DEFAULT_HINTS, ...hints };
  const where = url ? ` at ${redactUrl(url)}` : '';
  if (isResponseError(error)) {
    const status = error.statusCode ?? 0;
    if (status === 401) return new ElasticsearchError('es_auth', `Elasticsearch${where} refused the credentials (401): ${hint.credentials}`, { cause: error });
    if (status === 403) return new ElasticsearchError('es_forbidden', `Elasticsearch${where} authenticated us but refused the operation (403): the user or API key needs the manage_index_templates cluster privilege and write/read/delete on the sentinel-* indices.`, { cause: error });
    const type = (error.body as { error?: { type?: string } } | undefined)?.error?.type;
    return new ElasticsearchError('es_request', `Elasticsearch${where} answered ${status}${type ? ` (${type})` : ''}.`, { cause: error });
  }
  if (isConnectionFailure(error)) {
    return new ElasticsearchError('es_unreachable', `Cannot reach Elasticsearch${where}: ${error.message}. ${hint.unreachable}`, { cause: error });
  }
  return new ElasticsearchError('es_request', `Elasticsearch${where} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/** The server's version, from the node info API (the minimal distribution has no `GET /`). */
export async function serverVersion(client: ElasticClient): Promise<string> {
  const info = await client.nodes.info({ node_id: '_local', filter_path: 'nodes.*.version' });
  const version = Object.values(info.nodes ?? {})[0]?.version;
  if (!version) throw new ElasticsearchError('es_request', 'Elasticsearch did not report its version.');
  return version;
}
