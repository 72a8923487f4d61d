/**
 * A real Redis for the tests (issue 6): Debian's `redis-server` (REDIS_SERVER to use another binary) on a free
 * loopback port, with a temporary folder and no persistence of its own. It can be stopped, killed, frozen and
 * started again on the same port, which is what the outage tests need. When the binary is missing this throws
 * with what to install: Redis tests fail, they never skip.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './elasticsearch.js';
import { recordSecret } from './secret-ledger.js';

const BINARY = process.env.REDIS_SERVER ?? 'redis-server';

export interface RedisProcess {
  /** `redis://127.0.0.1:<port>` (with `:password@` when there is one), stable across stop/start. */
  url: string;
  port: number;
  /**
   * Shuts the server down. With `save`, it first writes its data to the temporary folder, so start() brings it
   * back (as a Redis with persistence would); without, the data is gone (as with a cache-only Redis).
   */
  stop(options?: { save?: boolean }): Promise<void>;
  /** Kills the server at once (SIGKILL); its data is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and folder. */
  start(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open, nothing answers. A slow Redis at its worst. */
  pause(): void;
  resume(): void;
  /** Stops it and deletes its folder. */
  destroy(): Promise<void>;
}

/** Fails with an actionable message when there is no redis-server to run. */
export function assertRedisServer(): string {
  try {
    return execFileSync(BINARY, ['--version'], { encoding: 'utf8' }).trim();
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'is not installed' : `cannot run (${(error as Error).message})`;
    throw new Error(`${BINARY} ${why}: the Redis tests need a real server. Install Debian's package (apt-get install redis-server; .ci/run does it) or set REDIS_SERVER to a redis-server binary.`);
  }
}

/** Sends one command (after AUTH when there is a password) and resolves with its reply line (or on close). */
function command(port: number, args: string[], password: string | undefined, timeoutMs = 1000): Promise<string> {
  const commands = password === undefined ? [args] : [['AUTH', password], args];
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis-server on port ${port} did not answer ${args[0]} within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reply.split('\r\n')[commands.length - 1] ?? '');
    };
    const encode = (parts: string[]): string => `*${parts.length}\r\n${parts.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
    socket.on('connect', () => socket.write(commands.map(encode).join('')));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.split('\r\n').length > commands.length) done();
    });
    socket.on('close', done);
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export interface StartRedisOptions {
  /** requirepass: clients must authenticate (the URL then carries it). */
  password?: string;
}

export async function startRedis(options: StartRedisOptions = {}): Promise<RedisProcess> {
  assertRedisServer();
  const { password } = options;
  recordSecret('redis credential', password);
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let output = '';

  const start = async (): Promise<void> => {
    output = '';
    // No config file: only these settings. --save '' and --appendonly no: nothing is written unless stop({ save }).
    child = spawn(BINARY, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--logfile', '', ...(password === undefined ? [] : ['--requirepass', password])], { stdio: ['ignore', 'pipe', 'pipe'] });
    const running = child;
    running.stdout!.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-8000); });
    running.stderr!.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-8000); });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (running.exitCode !== null) throw new Error(`redis-server exited with ${running.exitCode} while starting on port ${port}:\n${output}`);
      try {
        if ((await command(port, ['PING'], password, 500)) === '+PONG') return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on port ${port} within 10 s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const exited = (running: ChildProcess): Promise<void> =>
    running.exitCode !== null || running.signalCode !== null ? Promise.resolve() : new Promise((resolve) => running.once('exit', () => resolve()));

  const stop = async (options: { save?: boolean } = {}): Promise<void> => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    running.kill('SIGCONT');
    const gone = exited(running);
    try {
      await command(port, ['SHUTDOWN', options.save ? 'SAVE' : 'NOSAVE'], password, 5000);
    } catch {
      running.kill('SIGTERM');
    }
    const timer = setTimeout(() => running.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };

  const kill = async (): Promise<void> => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const gone = exited(running);
    running.kill('SIGKILL');
    await gone;
  };

  process.once('exit', () => child?.kill('SIGKILL'));
  await start();
  return {
    url: password === undefined ? `redis://127.0.0.1:${port}` : `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`,
    port,
    stop,
    kill,
    start,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
