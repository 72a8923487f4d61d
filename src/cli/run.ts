import { parseArgs } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import { loadConfig, redactUrl } from '../config/env.js';
import { alertText, createWebhookNotifier } from '../anomaly/notifiers.js';
import { buildDailyReview, formatDailyReview, storeDailyReview } from '../anomaly/review.js';
import { createAnomalyRunner } from '../anomaly/runner.js';
import { parseDuration } from '../config/duration.js';
import { createElasticClient, describeElasticError } from '../elastic/client.js';
import { setupElasticsearch } from '../elastic/setup.js';
import { ConfigurationError, ElasticsearchError } from '../errors.js';
import { kibanaCommand } from '../kibana/cli.js';
import { generateKey, type SigningAlgorithm } from '../session/key-ring.js';
import { addUserToFile } from '../session/users.js';
import { startServer } from '../service/server.js';

export interface CliIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

const USAGE = `Usage: koa-sentinel <command>

Commands:
  serve                          Run the reference server (configuration from the environment).
  setup                          Install the Elasticsearch index templates (safe to run again).
  anomalies run [--since 1h] [--json]
                                 Run the anomaly rules once. Exit 0: no alert, 1: alerts, 2: error.
  anomalies list [--since 24h] [--json]
                                 List recent alerts, newest first.
  anomalies review [--day YYYY-MM-DD] [--json]
                                 Build, store and print the daily security review (default: today, UTC).
  users add <name> [--role r]... [--disabled] [--file path]
                                 Add or replace a user in AUTH_USERS_FILE; the password is read from stdin.
  keys generate [--alg HS256|EdDSA|ES256|RS256] [--kid id]
                                 Print a key ring for JWT_KEYS_FILE.
  kibana import --url <kibana> [--api-key K | --user U --password P] [--space S] [--prefix p]
                [--overwrite] [--file objects.ndjson] [--wait 2m] [--ca-cert ca.pem]
                                 Import the data views, searches, Lens charts and dashboards into Kibana 8.9+.
                                 Exit 0: imported, 1: Kibana refused objects, 2: usage or connection error.
  kibana export [--prefix p] [--file objects.ndjson]
                                 Print those saved objects for another index prefix (for Kibana's import page).
  help                           Show this text.
`;

/** Runs one command and returns the exit code; never calls process.exit itself, so tests can drive it. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(io);
      case 'setup':
        return await setup(io);
      case 'anomalies':
        return await anomalies(rest, io);
      case 'users':
        return await users(rest, io);
      case 'keys':
        return keys(rest, io);
      case 'kibana':
        return await kibanaCommand(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        io.stderr.write(`Unknown command "${command}".\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof ConfigurationError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`koa-sentinel: ${(error as Error).message}\n`);
      return 2;
    }
    throw error;
  }
}

async function serve(io: CliIo): Promise<number> {
  const config = loadConfig(io.env);
  const running = await startServer(config);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      running.logger.info({ sentinel: { signal } }, `${signal} received: shutting down`);
      running.close().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  running.logger.info('stopped');
  return 0;
}

async function setup(io: CliIo): Promise<number> {
  const config = loadConfig(io.env);
  const es = config.elasticsearch;
  if (!es.url) throw new ConfigurationError('ELASTICSEARCH_URL is required for setup.');
  const client = createElasticClient({ url: es.url, apiKey: es.apiKey, username: es.username, password: es.password, caCertFile: es.caCertFile });
  try {
    const result = await setupElasticsearch(client, es.indexPrefix, es.url);
    io.stdout.write(`Elasticsearch ${result.version} at ${redactUrl(es.url)}: installed component templates ${result.componentTemplates.join(', ')} and index templates ${result.indexTemplates.join(', ')}.\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof ElasticsearchError)) throw error;
    io.stderr.write(`koa-sentinel setup: ${error.message} [${error.code}]\n`);
    return 1;
  } finally {
    await client.close();
  }
}

function elasticFromEnv(io: CliIo): { client: ReturnType<typeof createElasticClient>; prefix: string; url: string; config: ReturnType<typeof loadConfig> } {
  const config = loadConfig(io.env);
  const es = config.elasticsearch;
  if (!es.url) throw new ConfigurationError('ELASTICSEARCH_URL is required.');
  const client = createElasticClient({ url: es.url, apiKey: es.apiKey, username: es.username, password: es.password, caCertFile: es.caCertFile });
  return { client, prefix: es.indexPrefix, url: es.url, config };
}

async function anomalies(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { since: { type: 'string' }, json: { type: 'boolean' }, day: { type: 'string' } } });
  const [action] = positionals;
  if (!['run', 'list', 'review'].includes(action ?? '') || positionals.length !== 1) {
    io.stderr.write('Usage: koa-sentinel anomalies run|list|review [--since 1h] [--day YYYY-MM-DD] [--json]\n');
    return 2;
  }
  const since = (fallback: string): Date => {
    const ms = parseDuration(values.since ?? fallback);
    if (ms === undefined || ms <= 0) throw new ConfigurationError(`--since must be a duration such as 30m, 1h or 7d (got "${values.since}").`);
    return new Date(Date.now() - ms);
  };
  const { client, prefix, url, config } = elasticFromEnv(io);
  const out = (value: unknown, text: string): void => {
    io.stdout.write(values.json ? `${JSON.stringify(value, null, 2)}\n` : text);
  };
  try {
    if (action === 'review') {
      const day = values.day ? new Date(`${values.day}T12:00:00Z`) : new Date();
      if (Number.isNaN(day.getTime())) throw new ConfigurationError(`--day must be YYYY-MM-DD (got "${values.day}").`);
      const review = await buildDailyReview(client, prefix, day);
      await storeDailyReview(client, prefix, review);
      out(review, formatDailyReview(review));
      return 0;
    }
    if (action === 'list') {
      const alerts = await createAnomalyRunner({ client, indexPrefix: prefix }).list(since('24h'), 500);
      out(alerts, alerts.length ? `${alerts.map((a) => `${a['@timestamp']}  ${alertText(a)}`).join('\n')}\n` : 'No alerts.\n');
      return 0;
    }
    const notifiers = config.alertWebhookUrl ? [createWebhookNotifier({ url: config.alertWebhookUrl })] : [];
    const runner = createAnomalyRunner({ client, indexPrefix: prefix, notifiers });
    const result = await runner.run(values.since ? { since: since('1h') } : {});
    const found = [...result.created, ...result.existing];
    const lines = found.map((a) => `${result.created.includes(a) ? 'NEW ' : '    '} ${alertText(a)}`);
    out(
      { ...result, alerts: found },
      `Checked ${result.windows} window(s) from ${result.from} to ${result.to} in ${result.tookMs} ms: ${result.created.length} new, ${result.existing.length} already known, ${result.suppressed} suppressed.\n${lines.join('\n')}${lines.length ? '\n' : ''}`,
    );
    return found.length > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    io.stderr.write(`koa-sentinel anomalies ${action}: ${describeElasticError(error, url).message}\n`);
    return 2;
  } finally {
    await client.close();
  }
}

async function users(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { role: { type: 'string', multiple: true }, disabled: { type: 'boolean' }, file: { type: 'string' } },
  });
  const [action, name] = positionals;
  if (action !== 'add' || name === undefined || positionals.length !== 2) {
    io.stderr.write('Usage: koa-sentinel users add <name> [--role r]... [--disabled] [--file path]\n');
    return 2;
  }
  const file = values.file ?? io.env.AUTH_USERS_FILE;
  if (!file) throw new ConfigurationError('Give --file or set AUTH_USERS_FILE.');
  const password = await readPassword(io);
  if (password.length < 8) throw new ConfigurationError('The password must be at least 8 characters.');
  const record = await addUserToFile(file, name, password, { roles: values.role, disabled: values.disabled });
  io.stdout.write(`Saved user "${record.name}" (id ${record.id}, roles ${record.roles.join(', ')}${record.disabled ? ', disabled' : ''}) to ${file}\n`);
  return 0;
}

function keys(args: string[], io: CliIo): number {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { alg: { type: 'string' }, kid: { type: 'string' } } });
  if (positionals[0] !== 'generate') {
    io.stderr.write('Usage: koa-sentinel keys generate [--alg HS256|EdDSA|ES256|RS256] [--kid id]\n');
    return 2;
  }
  const alg = (values.alg ?? 'EdDSA') as SigningAlgorithm;
  if (!['HS256', 'HS384', 'HS512', 'EdDSA', 'ES256', 'RS256', 'PS256'].includes(alg)) throw new ConfigurationError(`Unsupported --alg ${alg}.`);
  const kid = values.kid ?? `${alg.toLowerCase()}-${new Date().toISOString().slice(0, 10)}`;
  io.stdout.write(`${JSON.stringify({ active: kid, keys: [generateKey(alg, kid)] }, null, 2)}\n`);
  return 0;
}

/** Reads one line from stdin; on a terminal, without echoing it. */
async function readPassword(io: CliIo): Promise<string> {
  const { stdin } = io;
  if (stdin.isTTY && stdin.setRawMode) io.stderr.write('Password: ');
  stdin.setRawMode?.(true);
  let text = '';
  try {
    for await (const chunk of stdin) {
      text += chunk.toString();
      if (text.includes('\n') || text.includes('\r') || text.includes('\u0004')) break;
    }
  } finally {
    stdin.setRawMode?.(false);
    if (stdin.isTTY) io.stderr.write('\n');
  }
  // End of line or Ctrl-D ends the password.
  return text.split(String.fromCharCode(4))[0]!.split(/[\r\n]/)[0] ?? '';
}
