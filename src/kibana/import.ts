/**
 * What `koa-sentinel kibana import` does: sends an .ndjson of saved objects to Kibana's saved objects import API
 * (`POST [/s/<space>]/api/saved_objects/_import`, multipart field `file`, header `kbn-xsrf`) and reads the answer,
 * which is HTTP 200 even when objects failed: `success`, `successCount` and `errors[]` say what happened.
 *
 * Before importing, `GET /api/status` checks that Kibana answers, accepts the credentials and is 8.9 or newer
 * (older versions refuse our objects as "from a more recent version"); with `waitMs` it is retried while Kibana
 * starts (connection refused, 503), which is what a one-shot setup container needs.
 *
 * Credentials travel in the Authorization header only and never appear in messages; a URL with user:password
 * in it is refused, so it cannot leak into a message or a process list by way of the URL either.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { randomBytes } from 'node:crypto';
import { ConfigurationError } from '../errors.js';

/** Stable codes of KibanaError, each with what it means. */
export const KIBANA_ERRORS = {
  kibana_unreachable: 'Kibana could not be reached: DNS, refused connection, TLS, timeout.',
  kibana_unavailable: 'Kibana answers 503: still starting, or its Elasticsearch is down.',
  kibana_auth: 'Kibana refused the API key or the user and password (401).',
  kibana_forbidden: 'Authenticated, but not allowed to import saved objects in this space (403).',
  kibana_space: 'No such space (404 on the space\'s URL).',
  kibana_version: 'Kibana is older than 8.9.',
  kibana_url: 'The address does not answer as Kibana does (a wrong port, Elasticsearch\'s address, a missing base path).',
  kibana_rejected: 'Kibana refused the upload as a whole (400, 413, 422, 5xx): the file, not the connection.',
} as const;

export type KibanaErrorCode = keyof typeof KIBANA_ERRORS;

export class KibanaError extends Error {
  readonly code: KibanaErrorCode;
  readonly status: number | undefined;

  constructor(code: KibanaErrorCode, message: string, options: { cause?: unknown; status?: number } = {}) {
    super(message, { cause: options.cause });
    this.name = 'KibanaError';
    this.code = code;
    this.status = options.status;
  }
}

export const MIN_KIBANA = { major: 8, minor: 9 };

export interface KibanaConnection {
  /** Kibana's base URL, with its base path if it has one: `https://kibana.example:5601`, `https://host/kibana`. */
  url: string;
  /** An API key (the base64 `encoded` form). Exclusive with username/password. */
  apiKey?: string;
  username?: string;
  password?: string;
  /** PEM text of the CA that signed Kibana's certificate. */
  ca?: string;
  /** Per request. Default 60 s: an import runs the migrations of every object. */
  timeoutMs?: number;
  /** Keep trying while Kibana cannot be reached or answers 503, for up to this long. Default 0. */
  waitMs?: number;
  /** Called once when waiting starts (the CLI says so on stderr). */
  onWait?: (reason: string) => void;
}

export interface KibanaImportOptions extends KibanaConnection {
  ndjson: string;
  /** Kibana requires the upload's name to end in .ndjson. Default `koa-sentinel.ndjson`. */
  fileName?: string;
  /** A space id; default (or `default`) is the default space. */
  space?: string;
  /** Replace objects with the same ids (`?overwrite=true`). */
  overwrite?: boolean;
}

/** One failed object, as Kibana reports it. */
export interface KibanaImportError {
  id: string;
  type: string;
  title?: string;
  meta?: { title?: string };
  error: { type: string; message?: string; statusCode?: number; references?: Array<{ type: string; id: string }>; destinationId?: string };
}

export interface KibanaImportResult {
  kibanaVersion: string | undefined;
  /** Kibana's base URL with its base path, without a trailing slash: where the objects went, for messages. */
  kibanaUrl: string;
  /** The space's URL: `kibanaUrl` for the default space, else `kibanaUrl/s/<space>`; dashboards live under it. */
  spaceUrl: string;
  success: boolean;
  successCount: number;
  errors: KibanaImportError[];
  successResults: Array<{ id: string; type: string; meta?: { title?: string } }>;
}

interface HttpAnswer {
  status: number;
  body: string;
}

const SPACE_ID = /^[a-z0-9_-]+$/;

/** Validates Kibana's URL before any request; a ConfigurationError is a usage error for the CLI. */
export function parseKibanaUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigurationError(`--url must be an http or https URL (got "${url.replace(/\/\/[^/@]*@/, '//***@')}").`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigurationError(`--url must be an http or https URL (got "${parsed.protocol}").`);
  if (parsed.username || parsed.password) throw new ConfigurationError('Do not put credentials in --url: use --api-key, or --user and --password.');
  if (parsed.search || parsed.hash) throw new ConfigurationError('--url must be Kibana\'s base URL, without a query or fragment.');
  return parsed;
}

function checkCredentials(c: KibanaConnection): void {
  if (c.apiKey && (c.username !== undefined || c.password !== undefined)) throw new ConfigurationError('Give an API key or a user and password, not both.');
  if ((c.username === undefined) !== (c.password === undefined)) throw new ConfigurationError('A user and a password go together.');
}

export function isValidSpaceId(space: string): boolean {
  return SPACE_ID.test(space);
}

/** Kibana's base URL plus a path, keeping a base path (`https://host/kibana` + `/api/status`). */
function endpoint(base: URL, path: string): URL {
  const url = new URL(base.href);
  url.pathname = `${base.pathname.replace(/\/+$/, '')}${path}`;
  return url;
}

function authorization(c: KibanaConnection): string | undefined {
  if (c.apiKey) return `ApiKey ${c.apiKey}`;
  if (c.username !== undefined) return `Basic ${Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64')}`;
  return undefined;
}

function send(c: KibanaConnection, url: URL, method: string, headers: Record<string, string | number>, body?: Buffer): Promise<HttpAnswer> {
  const auth = authorization(c);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const timeoutMs = c.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method,
      headers: { accept: 'application/json', 'kbn-xsrf': 'true', ...(auth ? { authorization: auth } : {}), ...headers },
      ...(c.ca ? { ca: c.ca } : {}),
      timeout: timeoutMs,
    }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Kibana's error body is `{ statusCode, error, message }`; keep the message short and never echo more. */
function kibanaMessage(answer: HttpAnswer): string {
  try {
    const body = JSON.parse(answer.body) as { message?: unknown; error?: unknown };
    const text = typeof body.message === 'string' ? body.message : typeof body.error === 'string' ? body.error : '';
    if (text) return text.slice(0, 500);
  } catch {
    // not JSON: a proxy's page
  }
  return answer.body.replace(/\s+/g, ' ').trim().slice(0, 200);
}

function describeStatus(answer: HttpAnswer, where: string, space: string | undefined): KibanaError {
  const message = kibanaMessage(answer);
  const status = answer.status;
  if (status === 401) return new KibanaError('kibana_auth', `Kibana at ${where} refused the credentials (401): check --api-key, or --user and --password.`, { status });
  if (status === 403) return new KibanaError('kibana_forbidden', `Kibana at ${where} refused the request (403): the user or API key needs the "Saved Objects Management" privilege (all) in space "${space ?? 'default'}"${message ? `. Kibana said: ${message}` : ''}.`, { status });
  if (status === 404 && space) return new KibanaError('kibana_space', `Kibana at ${where} has no space "${space}" (404): create it first, or leave out --space.`, { status });
  if (status === 503) return new KibanaError('kibana_unavailable', `Kibana at ${where} is not ready (503)${message ? `: ${message}` : ''}.`, { status });
  return new KibanaError('kibana_rejected', `Kibana at ${where} refused the import with HTTP ${status}${message ? `: ${message}` : ''}.`, { status });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** GET /api/status: reachability, credentials and version, retried while Kibana starts when waitMs > 0. */
export async function kibanaStatus(c: KibanaConnection): Promise<{ version: string | undefined }> {
  const base = parseKibanaUrl(c.url);
  checkCredentials(c);
  const where = base.origin + base.pathname.replace(/\/+$/, '');
  const deadline = Date.now() + (c.waitMs ?? 0);
  let waiting = false;
  for (;;) {
    let failure: KibanaError;
    try {
      const answer = await send(c, endpoint(base, '/api/status'), 'GET', {});
      if (answer.status === 200) return { version: checkVersion(answer, where) };
      failure = describeStatus(answer, where, undefined);
      if (failure.code === 'kibana_rejected') {
        throw new KibanaError('kibana_url', `${where}/api/status answered HTTP ${answer.status}: is --url Kibana's address (with its base path, not Elasticsearch's)?`, { status: answer.status });
      }
      if (failure.code !== 'kibana_unavailable') throw failure;
    } catch (error) {
      if (error instanceof KibanaError && error.code !== 'kibana_unavailable') throw error;
      const hint = base.protocol === 'https:' ? ' Is it running, is --url right, and does --ca-cert name the CA of its certificate?' : ' Is it running, and is --url right?';
      failure = error instanceof KibanaError ? error : new KibanaError('kibana_unreachable', `Cannot reach Kibana at ${where}: ${(error as Error).message}.${hint}`, { cause: error });
    }
    if (Date.now() + 2000 > deadline) throw failure;
    if (!waiting) c.onWait?.(failure.message);
    waiting = true;
    await sleep(2000);
  }
}

function checkVersion(answer: HttpAnswer, where: string): string | undefined {
  let body: { version?: { number?: unknown } };
  try {
    body = JSON.parse(answer.body) as typeof body;
  } catch {
    throw new KibanaError('kibana_url', `${where}/api/status answered with something other than JSON: is --url Kibana's address (with its base path, not Elasticsearch's)?`);
  }
  // Anonymous status answers leave the version out; the import itself then tells.
  const version = typeof body.version?.number === 'string' ? body.version.number : undefined;
  if (version === undefined) return undefined;
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < MIN_KIBANA.major || (major === MIN_KIBANA.major && minor < MIN_KIBANA.minor)) {
    throw new KibanaError('kibana_version', `Kibana at ${where} is ${version}; these objects need ${MIN_KIBANA.major}.${MIN_KIBANA.minor} or newer.`);
  }
  return version;
}

/** The multipart/form-data body with one file field, as a browser's import form sends it. */
export function multipartFile(field: string, fileName: string, contentType: string, content: string): { body: Buffer; contentType: string } {
  const boundary = `----koa-sentinel-${randomBytes(12).toString('hex')}`;
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${fileName}"\r\nContent-Type: ${contentType}\r\n\r\n`;
  return { body: Buffer.concat([Buffer.from(head), Buffer.from(content, 'utf8'), Buffer.from(`\r\n--${boundary}--\r\n`)]), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** The space's API path prefix: none for the default space. */
export function spacePath(space: string | undefined): string {
  return space && space !== 'default' ? `/s/${space}` : '';
}

export async function importSavedObjects(options: KibanaImportOptions): Promise<KibanaImportResult> {
  const base = parseKibanaUrl(options.url);
  const fileName = options.fileName ?? 'koa-sentinel.ndjson';
  if (!fileName.endsWith('.ndjson')) throw new ConfigurationError('The upload\'s file name must end in .ndjson.');
  if (options.space !== undefined && !isValidSpaceId(options.space)) throw new ConfigurationError(`--space must be a space id: lowercase letters, digits, _ and - (got "${options.space}").`);
  const where = base.origin + base.pathname.replace(/\/+$/, '');
  const { version } = await kibanaStatus(options);

  const url = endpoint(base, `${spacePath(options.space)}/api/saved_objects/_import`);
  if (options.overwrite) url.searchParams.set('overwrite', 'true');
  const form = multipartFile('file', fileName, 'application/ndjson', options.ndjson);
  let answer: HttpAnswer;
  try {
    answer = await send(options, url, 'POST', { 'content-type': form.contentType, 'content-length': form.body.length }, form.body);
  } catch (error) {
    throw new KibanaError('kibana_unreachable', `Cannot reach Kibana at ${where}: ${(error as Error).message}.`, { cause: error });
  }
  if (answer.status !== 200) throw describeStatus(answer, where, options.space && options.space !== 'default' ? options.space : undefined);
  let body: Partial<KibanaImportResult>;
  try {
    body = JSON.parse(answer.body) as Partial<KibanaImportResult>;
  } catch (error) {
    throw new KibanaError('kibana_rejected', `Kibana at ${where} answered the import with something other than JSON.`, { cause: error });
  }
  if (typeof body.success !== 'boolean') throw new KibanaError('kibana_rejected', `Kibana at ${where} answered the import without "success": is --url Kibana's address?`);
  return {
    kibanaVersion: version,
    kibanaUrl: where,
    spaceUrl: `${where}${spacePath(options.space)}`,
    success: body.success,
    successCount: typeof body.successCount === 'number' ? body.successCount : 0,
    errors: Array.isArray(body.errors) ? body.errors : [],
    successResults: Array.isArray(body.successResults) ? body.successResults : [],
  };
}

/** One line per failed object: type, id, title, what went wrong and what to do about it. */
export function describeImportError(e: KibanaImportError): string {
  const title = e.meta?.title ?? e.title;
  const what = `${e.type} ${e.id}${title ? ` ("${title}")` : ''}`;
  const error = e.error ?? { type: 'unknown' };
  switch (error.type) {
    case 'conflict':
      return `${what}: conflict: an object with this id already exists; re-run with --overwrite to replace it.`;
    case 'ambiguous_conflict':
      return `${what}: ambiguous_conflict: several objects match it; remove the duplicates in Kibana, or re-run with --overwrite.`;
    case 'missing_references':
      return `${what}: missing_references: ${(error.references ?? []).map((r) => `${r.type} ${r.id}`).join(', ') || 'unknown'} not in the file nor in Kibana.`;
    case 'unsupported_type':
      return `${what}: unsupported_type: this Kibana does not know the type (is a plugin disabled?).`;
    default:
      return `${what}: ${error.type}${error.statusCode ? ` (${error.statusCode})` : ''}${error.message ? `: ${error.message}` : ''}`;
  }
}
