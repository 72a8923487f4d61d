/**
 * A Docker engine for the stack test. `DOCKER_HOST` wins when it answers; otherwise Debian's `dockerd` is started
 * here (root) with no bridge and no iptables rules, so every container uses host networking and every connection
 * stays on the loopback address, and stopped again by `stop()`. Its data root persists under /var/lib/docker, so
 * the base images built once are reused by the next run.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's CLI matches Debian's engine and has BuildKit built in (newer CLIs need the buildx plugin for it). */
export const DOCKER = process.env.DOCKER_CLI ?? (existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker');
const ROOT = '/run/koa-sentinel-ci';
const SOCKET = `unix://${ROOT}/docker.sock`;
const DATA_ROOT = process.env.KOA_SENTINEL_DOCKER_ROOT ?? '/var/lib/docker/koa-sentinel-ci';

export interface DockerEngine {
  /** Environment for docker and docker-compose: DOCKER_HOST and BuildKit on. */
  env: NodeJS.ProcessEnv;
  /** Stops the engine if this process started it. */
  stop(): Promise<void>;
}

async function answers(env: NodeJS.ProcessEnv): Promise<boolean> {
  try {
    await run(DOCKER, ['version', '--format', '{{.Server.Version}}'], { env, timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export async function startDocker(): Promise<DockerEngine> {
  const base = { ...process.env, DOCKER_BUILDKIT: '1', COMPOSE_DOCKER_CLI_BUILD: '1' };
  if (process.env.DOCKER_HOST && (await answers(base))) return { env: base, stop: async () => undefined };
  const env = { ...base, DOCKER_HOST: SOCKET };
  if (process.getuid?.() !== 0) throw new Error('The stack test starts dockerd itself, which needs root; or set DOCKER_HOST to a running engine.');
  if (!existsSync('/usr/sbin/dockerd')) throw new Error('dockerd is missing: apt-get install docker.io (.ci/run does).');
  mkdirSync(ROOT, { recursive: true });
  mkdirSync(DATA_ROOT, { recursive: true });
  const log = openSync(`${ROOT}/dockerd.log`, 'a');
  const child: ChildProcess = spawn('/usr/sbin/dockerd', [
    '--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false',
    `--data-root=${DATA_ROOT}`, `--exec-root=${ROOT}/exec`, `--pidfile=${ROOT}/dockerd.pid`, `--host=${SOCKET}`,
  ], { stdio: ['ignore', log, log] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.once('exit', () => child.kill('SIGKILL'));
  // Interrupted (Ctrl-C, a CI timeout): the engine goes too; the next run removes what the stack left.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      child.kill('SIGTERM');
      process.exit(130);
    });
  }
  const deadline = Date.now() + 60_000;
  while (!(await answers(env))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`dockerd did not start:\n${readFileSync(`${ROOT}/dockerd.log`, 'utf8').slice(-3000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return {
    env,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs the docker CLI; resolves with its stdout, rejects with its stderr. */
export async function docker(engine: DockerEngine, args: string[], timeoutMs = 600_000): Promise<string> {
  try {
    return (await run(DOCKER, args, { env: engine.env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    throw new Error(`docker ${args.join(' ')} failed: ${(stderr || stdout || (error as Error).message).slice(-4000)}`);
  }
}
