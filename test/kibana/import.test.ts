/**
 * `koa-sentinel kibana import` against a fake Kibana (node:http) that records each request, checks it as Kibana
 * would (path, space, kbn-xsrf, credentials, multipart upload) and answers success, per-object errors or HTTP
 * errors. The command runs in process through runCli, and once as a real process for its exit code.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { runCli } from '../../src/cli/run.js';
import { importSavedObjects, KibanaError } from '../../src/kibana/import.js';
import { IDS, parseNdjson } from '../../src/kibana/saved-objects.js';
import { freePort } from '../support/elasticsearch.js';
import { shippedText } from './support.js';

const API_KEY = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeUFrRkdZLUVDUQ==';
const USER = 'kibana_importer';
const PASSWORD = 'hunter2-correct-horse-secret';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

interface Upload {
  field: string;
  fileName: string;
  contentType: string;
  content: string;
}

type Answer = { status: number; body: unknown };

/** Parses a multipart/form-data body with exactly one part, as Kibana's import route reads it. */
function parseUpload(request: Recorded): Upload {
  const type = String(request.headers['content-type']);
  const boundary = /^multipart\/form-data; boundary=(.+)$/.exec(type)?.[1];
  assert.ok(boundary, `multipart content type (got ${type})`);
  const text = request.body.toString('utf8');
  assert.ok(text.startsWith(`--${boundary}\r\n`) && text.endsWith(`\r\n--${boundary}--\r\n`), 'one part, closed');
  const part = text.slice(`--${boundary}\r\n`.length, -`\r\n--${boundary}--\r\n`.length);
  assert.ok(!part.includes(`--${boundary}`), 'exactly one part');
  const split = part.indexOf('\r\n\r\n');
  const head = part.slice(0, split);
  const disposition = /^Content-Disposition: form-data; name="([^"]+)"; filename="([^"]+)"$/m.exec(head);
  assert.ok(disposition, `part headers: ${head}`);
  return { field: disposition[1]!, fileName: disposition[2]!, contentType: /^Content-Type: (.+)$/m.exec(head)?.[1] ?? '', content: part.slice(split + 4) };
}

type SentObject = { id: string; type: string; attributes: { title: string } };
const objectsOf = (text: string): SentObject[] => parseNdjson(text) as unknown as SentObject[];

/** A Kibana that answers /api/status and the import route with what each test sets. */
class FakeKibana {
  readonly requests: Recorded[] = [];
  version = '8.19.3';
  /** Answers for /api/status, used in turn; the last one repeats. */
  statusAnswers: Answer[] = [];
  /** What the import route answers for the uploaded objects. */
  importAnswer: (objects: Array<{ id: string; type: string; attributes: { title?: string } }>, request: Recorded) => Answer = (objects) => ({
    status: 200,
    body: { success: true, successCount: objects.length, successResults: objects.map((o) => ({ id: o.id, type: o.type, meta: { title: o.attributes.title } })) },
  });
  /** Paths (after the base path) of spaces that exist. */
  spaces = new Set(['default', 'security']);
  basePath = '';
  private server: Server | undefined;
  url = '';

  async start(tls?: { key: string; cert: string }): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    this.server = tls ? createHttpsServer(tls, handler) : createServer(handler);
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  get imports(): Recorded[] {
    return this.requests.filter((r) => r.path.includes('/api/saved_objects/_import'));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: Recorded = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
    this.requests.push(request);
    const send = ({ status, body }: Answer): void => {
      res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/html' : 'application/json' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    const url = new URL(request.path, 'http://kibana');
    if (!url.pathname.startsWith(this.basePath)) return send({ status: 404, body: { statusCode: 404, error: 'Not Found', message: 'Not Found' } });
    const path = url.pathname.slice(this.basePath.length);
    const auth = req.headers.authorization;
    const authorized = auth === `ApiKey ${API_KEY}` || auth === `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    if (!authorized) return send({ status: 401, body: { statusCode: 401, error: 'Unauthorized', message: '[security_exception]: unable to authenticate user' } });
    if (path === '/api/status' && request.method === 'GET') {
      const answer = this.statusAnswers.length > 1 ? this.statusAnswers.shift()! : this.statusAnswers[0];
      return send(answer ?? { status: 200, body: { name: 'kibana', version: { number: this.version }, status: { overall: { level: 'available' } } } });
    }
    const match = /^(?:\/s\/([^/]+))?\/api\/saved_objects\/_import$/.exec(path);
    if (match && request.method === 'POST') {
      if (req.headers['kbn-xsrf'] === undefined) return send({ status: 400, body: { statusCode: 400, error: 'Bad Request', message: 'Request must contain a kbn-xsrf header.' } });
      if (match[1] && !this.spaces.has(match[1])) return send({ status: 404, body: { statusCode: 404, error: 'Not Found', message: `Saved object [space/${match[1]}] not found` } });
      const upload = parseUpload(request);
      const objects = objectsOf(upload.content);
      return send(this.importAnswer(objects, request));
    }
    send({ status: 404, body: { statusCode: 404, error: 'Not Found', message: 'Not Found' } });
  }
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const collect = (stream: PassThrough): (() => string) => {
    let text = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
    });
    return () => text;
  };
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = collect(stdout);
  const err = collect(stderr);
  const code = await runCli(args, { stdin: Readable.from([]), stdout, stderr, env });
  return { code, stdout: out(), stderr: err() };
}

function assertNoSecrets(run: Run): void {
  for (const secret of [API_KEY, PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64')]) {
    assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), 'no credential in the output');
  }
}

describe('koa-sentinel kibana import', () => {
  let kibana: FakeKibana;
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kibana-import-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    kibana = new FakeKibana();
    await kibana.start();
  });
  afterEach(() => kibana.close());

  it('imports the shipped objects into the default space with an API key', async () => {
    const run = await cli(['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(kibana.requests.map((r) => `${r.method} ${r.path}`), ['GET /api/status', 'POST /api/saved_objects/_import']);
    const [request] = kibana.imports;
    assert.equal(request!.headers['kbn-xsrf'], 'true');
    assert.equal(request!.headers.authorization, `ApiKey ${API_KEY}`);
    assert.equal(Number(request!.headers['content-length']), request!.body.length);
    const upload = parseUpload(request!);
    assert.equal(upload.field, 'file');
    assert.match(upload.fileName, /\.ndjson$/);
    assert.equal(upload.contentType, 'application/ndjson');
    assert.equal(upload.content, shippedText(), 'the upload is the shipped file');
    assert.match(run.stdout, /Imported 21 saved objects into Kibana 8\.19\.3 at http:\/\/127\.0\.0\.1:\d+: 3 data views, 5 saved searches, 11 Lens visualizations, 2 dashboards\./);
    assert.ok(run.stdout.includes(`${kibana.url}/app/dashboards#/view/${IDS.authDashboard}`), run.stdout);
    assert.ok(run.stdout.includes(`${kibana.url}/app/dashboards#/view/${IDS.alertsDashboard}`));
    assert.equal(run.stderr, '');
    assertNoSecrets(run);
  });

  it('into a space, with a user and password, --overwrite and another prefix', async () => {
    const run = await cli(['kibana', 'import', '--url', `${kibana.url}/`, '--user', USER, '--password', PASSWORD, '--space', 'security', '--overwrite', '--prefix', 'acme']);
    assert.equal(run.code, 0, run.stderr);
    const [request] = kibana.imports;
    assert.equal(request!.path, '/s/security/api/saved_objects/_import?overwrite=true');
    assert.equal(request!.headers.authorization, `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`);
    const sent = objectsOf(parseUpload(request!).content);
    const shipped = objectsOf(shippedText());
    assert.deepEqual(sent.filter((o) => o.type === 'index-pattern').map((o) => o.attributes.title), ['acme-events-*', 'acme-access-*', 'acme-alerts-*']);
    assert.deepEqual(sent.filter((o) => o.type !== 'index-pattern'), shipped.filter((o) => o.type !== 'index-pattern'), 'nothing else changes');
    assert.match(run.stdout, /space "security"/);
    assert.match(run.stdout, /Data views: acme-events-\*, acme-access-\*, acme-alerts-\*\./);
    assert.ok(run.stdout.includes(`${kibana.url}/s/security/app/dashboards#/view/${IDS.authDashboard}`));
    assertNoSecrets(run);
  });

  it('takes the URL, credentials, space and prefix from the environment; flags win', async () => {
    const env = { KIBANA_URL: kibana.url, KIBANA_API_KEY: API_KEY, KIBANA_SPACE: 'security', ES_INDEX_PREFIX: 'envprefix' };
    const run = await cli(['kibana', 'import'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(kibana.imports[0]!.path, '/s/security/api/saved_objects/_import');
    assert.equal(kibana.imports[0]!.headers.authorization, `ApiKey ${API_KEY}`);
    assert.match(parseUpload(kibana.imports[0]!).content, /"title":"envprefix-events-\*"/);
    // Credentials given as flags replace the environment's as a whole.
    const flags = await cli(['kibana', 'import', '--user', USER, '--password', PASSWORD, '--prefix', 'sentinel'], env);
    assert.equal(flags.code, 0, flags.stderr);
    assert.match(String(kibana.imports[1]!.headers.authorization), /^Basic /);
    assert.equal(parseUpload(kibana.imports[1]!).content, shippedText());
    // KIBANA_PASSWORD alone is Elastic's compose convention for kibana_system: not ours, ignored.
    const alone = await cli(['kibana', 'import'], { KIBANA_URL: kibana.url, KIBANA_PASSWORD: 'kibana-system-secret' });
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /refused the credentials \(401\)/);
    assert.equal(kibana.requests.at(-1)!.headers.authorization, undefined);
  });

  it('keeps Kibana\'s base path', async () => {
    kibana.basePath = '/kibana';
    const run = await cli(['kibana', 'import', '--url', `${kibana.url}/kibana`, '--api-key', API_KEY, '--space', 'security']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(kibana.requests.map((r) => r.path), ['/kibana/api/status', '/kibana/s/security/api/saved_objects/_import']);
    assert.ok(run.stdout.includes(`${kibana.url}/kibana/s/security/app/dashboards#/view/`));
  });

  it('exit 2 when the address does not answer as Kibana (a base path left out)', async () => {
    kibana.basePath = '/kibana';
    const run = await cli(['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /\/api\/status answered HTTP 404: is --url Kibana's address \(with its base path, not Elasticsearch's\)\? \[kibana_url\]/);
    assert.equal(kibana.imports.length, 0);
  });

  it('imports a file given with --file, rewriting its data views for --prefix', async () => {
    const file = join(dir, 'custom.ndjson');
    writeFileSync(file, `${shippedText().split('\n').slice(0, 3).join('\n')}\n`);
    const run = await cli(['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY, '--file', file, '--prefix', 'other']);
    assert.equal(run.code, 0, run.stderr);
    const sent = objectsOf(parseUpload(kibana.imports[0]!).content);
    assert.deepEqual(sent.map((o) => o.attributes.title), ['other-events-*', 'other-access-*', 'other-alerts-*']);
    assert.match(run.stdout, /Imported 3 saved objects .*: 3 data views\./);
  });

  it('exit 1 and one line per failed object when Kibana reports errors: conflict, missing references, unknown', async () => {
    kibana.importAnswer = (objects) => ({
      status: 200,
      body: {
        success: false,
        successCount: objects.length - 3,
        errors: [
          { id: IDS.eventsView, type: 'index-pattern', meta: { title: 'sentinel-events-*' }, error: { type: 'conflict' } },
          { id: IDS.authDashboard, type: 'dashboard', title: '[koa-sentinel] Authentication security', meta: { title: '[koa-sentinel] Authentication security' }, error: { type: 'missing_references', references: [{ type: 'lens', id: 'koa-sentinel-lens-gone' }] } },
          { id: IDS.loginHistory, type: 'lens', meta: { title: '[koa-sentinel] Login history of one user' }, error: { type: 'unknown', message: 'Cannot read properties of undefined (reading \'currentIndexPatternId\')', statusCode: 500 } },
        ],
      },
    });
    const run = await cli(['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    const lines = run.stderr.trim().split('\n');
    assert.match(lines[0]!, /^koa-sentinel kibana import: Kibana 8\.19\.3 at http:\/\/127\.0\.0\.1:\d+ imported 18 of 21 objects; 3 failed:$/);
    assert.equal(lines[1], `  index-pattern ${IDS.eventsView} ("sentinel-events-*"): conflict: an object with this id already exists; re-run with --overwrite to replace it.`);
    assert.equal(lines[2], `  dashboard ${IDS.authDashboard} ("[koa-sentinel] Authentication security"): missing_references: lens koa-sentinel-lens-gone not in the file nor in Kibana.`);
    assert.equal(lines[3], `  lens ${IDS.loginHistory} ("[koa-sentinel] Login history of one user"): unknown (500): Cannot read properties of undefined (reading 'currentIndexPatternId')`);
    assertNoSecrets(run);
  });

  it('says that a missing reference stops the whole import', async () => {
    kibana.importAnswer = () => ({ status: 200, body: { success: false, successCount: 0, errors: [{ id: IDS.failedLogins, type: 'search', meta: { title: 'Failed logins' }, error: { type: 'missing_references', references: [{ type: 'index-pattern', id: 'nope' }] } }] } });
    const run = await cli(['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /imported 0 of 21 objects; 1 failed:/);
    assert.match(run.stderr, /an import with a missing reference imports nothing at all/);
  });

  it('exit 1 when Kibana refuses the upload as a whole (422 from a newer version, 413, 500)', async () => {
    for (const [status, message] of [[422, 'Document "x" belongs to a more recent version of Kibana [10.9.0]'], [413, 'Payload content length greater than maximum allowed: 26214400'], [500, 'An internal server error occurred.']] as const) {
      kibana.importAnswer = () => ({ status, body: { statusCode: status, error: 'Error', message } });
      const run = await cli(['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY]);
      assert.equal(run.code, 1, `${status}`);
      assert.ok(run.stderr.includes(`refused the import with HTTP ${status}: ${message}. [kibana_rejected]`), run.stderr);
    }
    kibana.importAnswer = () => ({ status: 200, body: '<html>a proxy</html>' });
    const notJson = await cli(['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY]);
    assert.equal(notJson.code, 1);
    assert.match(notJson.stderr, /answered the import with something other than JSON/);
  });

  it('exit 2 when the credentials are refused, without echoing them', async () => {
    const run = await cli(['kibana', 'import', '--url', kibana.url, '--user', USER, '--password', 'wrong-secret-password']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /refused the credentials \(401\).*\[kibana_auth\]/);
    assert.ok(!run.stderr.includes('wrong-secret-password'));
    assert.equal(kibana.imports.length, 0, 'no import was tried');
  });

  it('exit 2 for a space that does not exist and for a refused import (403)', async () => {
    const missing = await cli(['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY, '--space', 'nosuchspace']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /has no space "nosuchspace" \(404\).*\[kibana_space\]/);
    kibana.importAnswer = () => ({ status: 403, body: { statusCode: 403, error: 'Forbidden', message: 'Unable to bulk_create index-pattern' } });
    const forbidden = await cli(['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY]);
    assert.equal(forbidden.code, 2);
    assert.match(forbidden.stderr, /Saved Objects Management.*Unable to bulk_create index-pattern.*\[kibana_forbidden\]/);
  });

  it('exit 2 for a Kibana older than 8.9, before importing anything', async () => {
    kibana.version = '8.8.2';
    const run = await cli(['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /is 8\.8\.2; these objects need 8\.9 or newer\. \[kibana_version\]/);
    assert.equal(kibana.imports.length, 0);
    kibana.version = '9.2.0';
    assert.equal((await cli(['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY])).code, 0);
  });

  it('exit 2 when Kibana cannot be reached, or is not ready and --wait is not given', async () => {
    const port = await freePort();
    const unreachable = await cli(['kibana', 'import', '--url', `http://127.0.0.1:${port}`, '--api-key', API_KEY]);
    assert.equal(unreachable.code, 2);
    assert.match(unreachable.stderr, /Cannot reach Kibana at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.*\[kibana_unreachable\]/);
    kibana.statusAnswers = [{ status: 503, body: { statusCode: 503, error: 'Service Unavailable', message: 'Kibana server is not ready yet' } }];
    const starting = await cli(['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY]);
    assert.equal(starting.code, 2);
    assert.match(starting.stderr, /is not ready \(503\): Kibana server is not ready yet\. \[kibana_unavailable\]/);
  });

  it('--wait retries while Kibana starts', async () => {
    kibana.statusAnswers = [{ status: 503, body: { statusCode: 503, error: 'Service Unavailable', message: 'Kibana server is not ready yet' } }, { status: 200, body: { version: { number: '9.1.4' } } }];
    const run = await cli(['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY, '--wait', '30s']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^Waiting up to 30s for Kibana: .*not ready \(503\)/);
    assert.match(run.stdout, /into Kibana 9\.1\.4/);
    assert.equal(kibana.requests.filter((r) => r.path === '/api/status').length, 2);
  });

  it('exit 2 for usage errors, before any request', async () => {
    const bad = join(dir, 'bad.ndjson');
    writeFileSync(bad, '{"id":"a","type":"index-pattern","attributes":{}}\nnot json\n');
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['kibana', 'import'], {}, /needs --url \(or KIBANA_URL\)/],
      [['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY, '--user', USER, '--password', PASSWORD], {}, /not both/],
      [['kibana', 'import', '--url', kibana.url, '--user', USER], { KIBANA_PASSWORD: PASSWORD }, /--user and --password go together/],
      [['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY, '--prefix', 'Bad Prefix'], {}, /--prefix must be lowercase/],
      [['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY, '--space', '../x'], {}, /--space must be a space id/],
      [['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY, '--wait', 'soon'], {}, /--wait must be a duration/],
      [['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY, '--file', bad], {}, /bad\.ndjson line 2 is not JSON/],
      [['kibana', 'import', '--url', kibana.url, '--api-key', API_KEY, '--file', join(dir, 'missing.ndjson')], {}, /Cannot read .*missing\.ndjson/],
      [['kibana', 'import', '--url', 'ftp://kibana'], {}, /http or https URL/],
      [['kibana', 'import', '--url', `http://${USER}:${PASSWORD}@127.0.0.1:5601`], {}, /Do not put credentials in --url/],
      [['kibana', 'import', '--url', kibana.url, '--bogus'], {}, /Unknown option '--bogus'/],
      [['kibana', 'frobnicate'], {}, /Usage:\n {2}koa-sentinel kibana import/],
    ];
    for (const [args, env, message] of cases) {
      const run = await cli(args, env);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, message, args.join(' '));
      assertNoSecrets(run);
    }
    assert.equal(kibana.requests.length, 0);
  });

  it('over HTTPS: refuses an unknown CA, trusts the one given with --ca-cert', async () => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const secure = new FakeKibana();
    await secure.start({ key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') });
    try {
      const untrusted = await cli(['kibana', 'import', '--url', secure.url, '--api-key', API_KEY]);
      assert.equal(untrusted.code, 2);
      assert.match(untrusted.stderr, /Cannot reach Kibana at https:.*certificate.*--ca-cert.*\[kibana_unreachable\]/);
      const trusted = await cli(['kibana', 'import', '--url', secure.url, '--api-key', API_KEY, '--ca-cert', cert]);
      assert.equal(trusted.code, 0, trusted.stderr);
      assert.equal(secure.imports.length, 1);
    } finally {
      await secure.close();
    }
  });

  it('a Kibana that never answers is given up on (library: timeoutMs)', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      await assert.rejects(
        importSavedObjects({ url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, apiKey: API_KEY, ndjson: shippedText(), timeoutMs: 300 }),
        (error: unknown) => error instanceof KibanaError && error.code === 'kibana_unreachable' && /no answer within 300 ms/.test(error.message),
      );
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('as a real process: exit code 1 on import errors, 0 on success', async () => {
    kibana.importAnswer = () => ({ status: 200, body: { success: false, successCount: 17, errors: [{ id: IDS.alerts, type: 'search', meta: { title: 'Alerts' }, error: { type: 'conflict' } }] } });
    const spawnCli = (args: string[], env: Record<string, string>): Promise<Run> => new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
    });
    const failed = await spawnCli(['kibana', 'import'], { KIBANA_URL: kibana.url, KIBANA_USERNAME: USER, KIBANA_PASSWORD: PASSWORD });
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /search koa-sentinel-search-alerts \("Alerts"\): conflict/);
    assertNoSecrets(failed);
    kibana.importAnswer = () => ({ status: 200, body: { success: true, successCount: 18 } });
    const ok = await spawnCli(['kibana', 'import', '--overwrite'], { KIBANA_URL: kibana.url, KIBANA_API_KEY: API_KEY });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(kibana.imports.at(-1)!.path, '/api/saved_objects/_import?overwrite=true');
  });
});

describe('koa-sentinel kibana export', () => {
  it('prints the built-in objects, the shipped file byte for byte', async () => {
    const run = await cli(['kibana', 'export']);
    assert.equal(run.code, 0);
    assert.equal(run.stdout, shippedText());
  });

  it('--prefix rewrites the data views only', async () => {
    const run = await cli(['kibana', 'export', '--prefix', 'acme']);
    assert.equal(run.code, 0);
    const expected = shippedText().replaceAll('"title":"sentinel-', '"title":"acme-');
    assert.equal(run.stdout, expected);
  });
});
