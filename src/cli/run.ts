import { ConfigurationError } from '../index.js';
import { anomaliesCommand } from './anomalies.js';
import { EXIT, type CliIo } from './io.js';
import { keysCommand } from './keys.js';
import { kibanaCommand } from './kibana.js';
import { serveCommand } from './serve.js';
import { setupCommand } from './setup.js';
import { usersCommand } from './users.js';

export type { CliIo } from './io.js';

const USAGE = `Usage: koa-sentinel <command>

Commands:
  serve                          Run the reference server (configuration from the environment).
  setup                          Install the Elasticsearch index templates (safe to run again).
  setup roles [--format json|yaml|api-keys] [--prefix p] [--expiration 90d]
                                 Print the least-privilege role descriptors, a roles.yml or API-key requests.
  setup identities               Create those roles and a native user per SENTINEL_<IDENTITY>_PASSWORD set.
  anomalies run [--since 1h] [--until now] [--any-alert] [--json]
                                 Run the anomaly rules once (--until now: the open window too, on demand).
                                 Exit 0: no new alert, 1: new alerts (--any-alert: any alert in the range
                                 judged), 2: usage or configuration error, 3: Elasticsearch unreachable.
  anomalies list [--since 24h] [--json]
                                 List recent alerts, newest first.
  anomalies review [--day YYYY-MM-DD] [--html FILE] [--json]
                                 Build, store and print the daily security review (default: today, UTC);
                                 --html also writes it as one self-contained HTML page.
                                 With --json, anomalies errors are JSON on stdout too: {"error":{"code","message"}}.
  users add <name> [--role r]... [--disabled] [--file path]
                                 Add or replace a user in AUTH_USERS_FILE; the password is read from stdin.
  users passwd|disable|revoke-sessions <name> [--file path]
                                 Change the password (from stdin), disable the user (no password asked), or end
                                 every session; each ends the user's sessions on their next request (and in
                                 Redis at once when REDIS_URL is set).
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

const COMMANDS: Record<string, (args: string[], io: CliIo) => Promise<number> | number> = {
  serve: serveCommand,
  setup: setupCommand,
  anomalies: anomaliesCommand,
  users: usersCommand,
  keys: keysCommand,
  kibana: kibanaCommand,
};

/** Runs one command and returns the exit code; never calls process.exit itself, so tests can drive it. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || ['help', '--help', '-h'].includes(command)) {
    io.stdout.write(USAGE);
    return command === undefined ? EXIT.error : EXIT.ok;
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!run) {
    io.stderr.write(`Unknown command "${command}".\n\n${USAGE}`);
    return EXIT.error;
  }
  try {
    return await run(rest, io);
  } catch (error) {
    // Configuration and usage errors are the operator's to fix: one line, no stack.
    if (error instanceof ConfigurationError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`koa-sentinel: ${(error as Error).message}\n`);
      return EXIT.error;
    }
    throw error;
  }
}
