/**
 * The real `koa-sentinel` CLI in a child process (`node --import tsx src/cli/index.ts ...`), run from the project
 * root as `npm start` does, with only PATH, HOME, TMPDIR and the given variables: nothing from the test runner
 * leaks in (NODE_ENV, NODE_TEST_CONTEXT, ELASTICSEARCH_URL).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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

/** Only what the CLI needs from the environment, plus `extra`. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '' };
  if (process.env.HOME) env.HOME = process.env.HOME;
  if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR;
  return { ...env, ...extra };
}

/** Starts `koa-sentinel <args>` with stdin, stdout and stderr piped; for long-running commands (serve). */
export function startCli(args: string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env: cliEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Runs `koa-sentinel <args>` to completion, writing `input` to its stdin. */
export function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const timeoutMs = options.timeoutMs ?? SPAWN_TIMEOUT_MS;
  const started = Date.now();
  const child = startCli(args, options.env);
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
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}
