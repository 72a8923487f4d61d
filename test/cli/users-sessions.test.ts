import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { freePort } from '../support/elasticsearch.js';
import { runCli, SPAWN_TIMEOUT_MS, startCli } from '../support/cli.js';
import { startRedis, type RedisProcess } from '../support/redis.js';

/**
 * `koa-sentinel users passwd|disable|revoke-sessions` in child processes against a running `koa-sentinel serve`
 * that reads the same users file and shares a real redis-server (REDIS_URL): each change refuses the user's live
 * session on its next request. revoke-sessions is run on a copy of the users file, so the server cannot learn of
 * it from the file: only the revocation in Redis can refuse the session.
 */

const AT = '__Host-sentinel_at';
const PASSWORDS = {
  dave: 'dave walks the purple lighthouse 41',
  erin: 'erin sings to seventeen herons 8',
  frank: 'frank paints quiet orange glaciers 5',
};
const NEW_DAVE = 'marble cactus drifts over Lisbon 73';
/** How long a file change may take to reach the server (it reloads on a file-system notice or within 1 s). */
const FILE_BOUND_MS = 2_000;


const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('koa-sentinel users passwd|disable|revoke-sessions against a running server', { timeout: 180_000 }, () => {
  let dir: string;
  let usersFile: string;
  let redis: RedisProcess;
  let server: ChildProcessWithoutNullStreams;
  let base: string;
  let serverOutput = '';

  async function login(name: string, password: string): Promise<{ status: number; access?: string }> {
    const response = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: name, password }) });
    await response.text();
    const line = response.headers.getSetCookie().find((cookie) => cookie.startsWith(`${AT}=`));
    return { status: response.status, access: line?.slice(AT.length + 1).split(';')[0] };
  }

  async function hello(access: string): Promise<number> {
    const response = await fetch(`${base}/api/hello`, { headers: { cookie: `${AT}=${access}` } });
    await response.text();
    return response.status;
  }

  /** Polls until `check` holds; returns how long it took, or fails after `boundMs`. */
  async function within(boundMs: number, what: string, check: () => Promise<boolean>): Promise<number> {
    const started = Date.now();
    for (;;) {
      if (await check()) return Date.now() - started;
      if (Date.now() - started > boundMs) assert.fail(`${what}: not within ${boundMs} ms`);
      await sleep(20);
    }
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sentinel-cli-users-'));
    usersFile = join(dir, 'users.json');
    for (const [name, password] of Object.entries(PASSWORDS)) {
      const added = await runCli(['users', 'add', name, '--role', 'user', '--file', usersFile], { input: `${password}\n` });
      assert.equal(added.code, 0, added.stderr);
    }
    redis = await startRedis();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = startCli(['serve'], {
      JWT_SECRET: randomBytes(48).toString('base64'), PORT: String(port), HOST: '127.0.0.1', AUTH_USERS_FILE: usersFile,
      SPOOL_DIR: join(dir, 'spool'), LOG_LEVEL: 'info', REDIS_URL: redis.url,
    });
    server.stdin.end();
    server.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      serverOutput += chunk;
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "listening on" line within ${SPAWN_TIMEOUT_MS} ms\n${serverOutput}`)), SPAWN_TIMEOUT_MS);
      server.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        serverOutput += chunk;
        if (/listening on http:\/\/127\.0\.0\.1:\d+/.test(serverOutput)) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.on('close', (code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited early with ${code}\n${serverOutput}`));
      });
    });
    assert.match(serverOutput, /redis/i, 'the server uses the Redis store');
  });

  after(async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const closed = new Promise((resolve) => server.once('close', resolve));
      server.kill('SIGTERM');
      await closed;
    }
    await redis?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('users passwd reads the new password from stdin; the old session is refused, the old password too', async () => {
    const { status, access } = await login('dave', PASSWORDS.dave);
    assert.equal(status, 200);
    assert.equal(await hello(access!), 200);
    const result = await runCli(['users', 'passwd', 'dave', '--file', usersFile], { input: `${NEW_DAVE}\n` });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Changed the password of "dave"/);
    assert.ok(!result.stdout.includes(NEW_DAVE) && !result.stderr.includes(NEW_DAVE), 'the password is not echoed');
    await within(FILE_BOUND_MS, 'the old session refused', async () => (await hello(access!)) === 401);
    assert.equal((await login('dave', PASSWORDS.dave)).status, 401);
    const fresh = await login('dave', NEW_DAVE);
    assert.equal(fresh.status, 200);
    assert.equal(await hello(fresh.access!), 200);
  });

  it('users passwd refuses a guessable password and changes nothing', async () => {
    const result = await runCli(['users', 'passwd', 'dave', '--file', usersFile], { input: 'qwertyuiop\n' });
    assert.equal(result.code, 2, result.stdout);
    assert.equal((await login('dave', NEW_DAVE)).status, 200);
  });

  it('users disable asks for no password; the user can no longer log in and the live session is refused', async () => {
    const { status, access } = await login('erin', PASSWORDS.erin);
    assert.equal(status, 200);
    // stdin is closed at once: a command that asked for a password would fail here.
    const result = await runCli(['users', 'disable', 'erin', '--file', usersFile]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Disabled "erin"/);
    assert.doesNotMatch(result.stdout + result.stderr, /password/i);
    await within(FILE_BOUND_MS, 'the live session refused', async () => (await hello(access!)) === 401);
    assert.equal((await login('erin', PASSWORDS.erin)).status, 401);
  });

  it('users revoke-sessions with REDIS_URL ends the live session on the running server through Redis alone', async () => {
    const { status, access } = await login('frank', PASSWORDS.frank);
    assert.equal(status, 200);
    assert.equal(await hello(access!), 200);
    // The server keeps reading usersFile, which this command does not touch.
    const copy = join(dir, 'users-copy.json');
    copyFileSync(usersFile, copy);
    const result = await runCli(['users', 'revoke-sessions', 'frank', '--file', copy], { env: { REDIS_URL: redis.url } });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Sessions of "frank" ended in Redis \(1 live\)/);
    // The server hears of it over Redis pub/sub; its local cache may hold the answer for at most one second.
    const ms = await within(1_000, 'the session refused', async () => (await hello(access!)) === 401);
    assert.ok(ms <= 1_000, `${ms} ms`);
    // A new login works at once.
    const fresh = await login('frank', PASSWORDS.frank);
    assert.equal(fresh.status, 200);
    assert.equal(await hello(fresh.access!), 200);
  });
});
