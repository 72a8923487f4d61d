/**
 * The real `koa-sentinel` CLI in a child process (`node --import tsx src/cli/index.ts ...`), run from the project
 * root as `npm start` does, with only PATH, HOME, TMPDIR and the given variables: nothing from the test runner
 * leaks in (NODE_ENV, NODE_TEST_CONTEXT, ELASTICSEARCH_URL).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { archiveText, recordSecret, type SecretKind } from './secret-ledger.js';

/** The project root: the CLI runs from there. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = ['--import', 'tsx', 'src/cli/index.ts'];
/** Generous: tsx compiles the CLI on start, which is slow on a loaded machine. */
export const SPAWN_TIMEOUT_MS = 30_000;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** From spawn to close. */
  ms: number;
}

export interface RunCliOptions {
  env?: Record<string, string>;
  /** Written to stdin, which is then closed (closed at once when not given). */
  input?: string;
  /** Kill the CLI with SIGKILL and reject after this long; SPAWN_TIMEOUT_MS when not given. */
  timeoutMs?: number;
}

/** Which variables given to the CLI hold a secret, and what kind, for the secrets ledger. */
const SECRET_VARIABLES: Array<[RegExp, SecretKind]> = [
  [/API_KEY$/, 'api key'],
  [/^(ELASTICSEARCH|ES|KIBANA)_PASSWORD$|^SENTINEL_\w+_PASSWORD$/, 'elasticsearch credential'],
  [/PASSWORD$/, 'password'],
  [/^JWT_SECRET|SECRET$/, 'signing secret'],
];

/** Records the secrets a test hands the CLI (variables, a Redis URL's password), for the final secrets scan. */
function recordSecretsIn(env: Record<string, string>): void {
  for (const [name, value] of Object.entries(env)) {
    const kind = SECRET_VARIABLES.find(([pattern]) => pattern.test(name))?.[1];
    if (kind) recordSecret(kind, value);
    if (/^REDIS_URL$/.test(name)) {
      try {
        recordSecret('redis credential', decodeURIComponent(new URL(value).password));
      } catch {
        // not a URL: the CLI refuses it
      }
    }
  }
}

/** Only what the CLI needs from the environment, plus `extra`. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  recordSecretsIn(extra);
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '' };
  if (process.env.HOME) env.HOME = process.env.HOME;
  if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR;
  return { ...env, ...extra };
}

/**
 * Starts `koa-sentinel <args>` with stdin, stdout and stderr piped; for long-running commands (serve). What it
 * writes is archived for the final secrets scan when it exits (test/support/secret-ledger.ts): the listeners added
 * here see the same chunks as the caller's, who must attach theirs in the same tick (as `on('data')` callers do).
 */
export function startCli(args: string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env: cliEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout.on('data', (chunk: Buffer | string) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer | string) => output.push(chunk.toString()));
  child.on('close', () => archiveText(`cli-${args.slice(0, 2).join('-')}`, output.join('')));
  return child;
}

/**
 * The output of `koa-sentinel keys generate` is the key it was asked for: not archived as a log, but its secrets go
 * into the ledger, so the scan looks for them everywhere else.
 */
function recordCliOutput(args: string[], stdout: string, stderr: string): void {
  if (args[0] === 'keys' && args[1] === 'generate') {
    try {
      const { keys } = JSON.parse(stdout) as { keys: Array<{ secret?: string; privateKey?: string }> };
      for (const key of keys) {
        recordSecret('signing secret', key.secret);
        recordSecret('signing key', key.privateKey);
      }
    } catch {
      // not JSON (a usage error): nothing was generated
    }
    archiveText(`cli-${args.slice(0, 2).join('-')}`, stderr);
    return;
  }
  archiveText(`cli-${args.slice(0, 2).join('-')}`, stdout + stderr);
}

/** Runs `koa-sentinel <args>` to completion, writing `input` to its stdin. */
export function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const timeoutMs = options.timeoutMs ?? SPAWN_TIMEOUT_MS;
  const started = Date.now();
  const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env: cliEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
  // `users add` reads the password from stdin.
  if (args[0] === 'users') for (const line of (options.input ?? '').split('\n')) recordSecret('password', line.trim());
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.on('error', () => {}); // the CLI may exit before reading stdin
  child.stdin.end(options.input ?? '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`koa-sentinel ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      recordCliOutput(args, stdout, stderr);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}
