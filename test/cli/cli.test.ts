import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/env.js';
import { createKeyRing } from '../../src/session/key-ring.js';
import { parsePasswordHash, verifyPassword } from '../../src/session/passwords.js';
import type { UserRecord } from '../../src/session/users.js';
import { freePort } from '../support/elasticsearch.js';
import { runCli, SPAWN_TIMEOUT_MS, startCli } from '../support/cli.js';

const CAROL_PASSWORD = 'carol correct horse 7';


function readUsers(file: string): UserRecord[] {
  return (JSON.parse(readFileSync(file, 'utf8')) as { users: UserRecord[] }).users;
}

/** The value of one cookie from a response's Set-Cookie lines. */
function cookieValue(setCookies: string[], name: string): string | undefined {
  const line = setCookies.find((candidate) => candidate.startsWith(`${name}=`));
  return line?.slice(name.length + 1).split(';')[0];
}

describe('koa-sentinel CLI', () => {
  let dir: string;
  let usersFile: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sentinel-cli-'));
    usersFile = join(dir, 'users.json');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('users add', () => {
    it('writes a 0600 users file with a scrypt PHC hash, never the password', async () => {
      const result = await runCli(['users', 'add', 'carol', '--role', 'admin', '--role', 'user', '--file', usersFile], { input: `${CAROL_PASSWORD}\n` });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Saved user "carol" \(id u_[0-9a-f-]+, roles admin, user\)/);
      assert.equal(statSync(usersFile).mode & 0o777, 0o600);

      const text = readFileSync(usersFile, 'utf8');
      assert.ok(!text.includes(CAROL_PASSWORD), 'the password is not in the file');
      assert.ok(!result.stdout.includes(CAROL_PASSWORD) && !result.stderr.includes(CAROL_PASSWORD), 'nor in the output');
      const users = readUsers(usersFile);
      assert.equal(users.length, 1);
      const [carol] = users;
      assert.equal(carol!.name, 'carol');
      assert.deepEqual(carol!.roles, ['admin', 'user']);
      assert.equal(carol!.disabled, false);
      assert.match(carol!.passwordHash, /^\$scrypt\$ln=17,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
      const parsed = parsePasswordHash(carol!.passwordHash);
      assert.ok(parsed);
      assert.equal(await verifyPassword(CAROL_PASSWORD, parsed), true);
    });

    it('replaces the user when run again, keeping its id', async () => {
      const before = readUsers(usersFile)[0]!;
      const other = 'a completely new passphrase';
      const result = await runCli(['users', 'add', 'carol', '--role', 'user', '--file', usersFile], { input: `${other}\n` });
      assert.equal(result.code, 0, result.stderr);
      const users = readUsers(usersFile);
      assert.equal(users.length, 1, 'still one carol');
      assert.equal(users[0]!.id, before.id);
      assert.deepEqual(users[0]!.roles, ['user']);
      assert.notEqual(users[0]!.passwordHash, before.passwordHash);
      assert.equal(await verifyPassword(other, parsePasswordHash(users[0]!.passwordHash)!), true);
      assert.equal(await verifyPassword(CAROL_PASSWORD, parsePasswordHash(users[0]!.passwordHash)!), false);
      assert.equal(statSync(usersFile).mode & 0o777, 0o600);

      // Back to the first password and both roles, for the serve test below.
      const again = await runCli(['users', 'add', 'carol', '--role', 'admin', '--role', 'user', '--file', usersFile], { input: `${CAROL_PASSWORD}\n` });
      assert.equal(again.code, 0, again.stderr);
    });

    it('refuses a bad role with exit code 2 and a clear message, leaving the file alone', async () => {
      const before = readFileSync(usersFile, 'utf8');
      const result = await runCli(['users', 'add', 'dave', '--role', 'Admin', '--file', usersFile], { input: 'dave passphrase 12\n' });
      assert.equal(result.code, 2);
      assert.match(result.stderr, /^koa-sentinel: The role "Admin" must be lowercase letters, digits, - or _\./);
      assert.equal(readFileSync(usersFile, 'utf8'), before);
    });

    it('refuses a short password with exit code 2 and a clear message', async () => {
      const before = readFileSync(usersFile, 'utf8');
      const result = await runCli(['users', 'add', 'dave', '--file', usersFile], { input: 'short\n' });
      assert.equal(result.code, 2);
      assert.match(result.stderr, /The password must be at least 8 characters\./);
      assert.ok(!result.stderr.includes('short\n') && !result.stdout.includes('short'));
      assert.equal(readFileSync(usersFile, 'utf8'), before);
    });

    it('refuses a missing file option, and a malformed command, with exit code 2', async () => {
      const noFile = await runCli(['users', 'add', 'dave'], { input: 'dave passphrase 12\n' });
      assert.equal(noFile.code, 2);
      assert.match(noFile.stderr, /Give --file or set AUTH_USERS_FILE/);
      const noName = await runCli(['users', 'add']);
      assert.equal(noName.code, 2);
      assert.match(noName.stderr, /^Usage: koa-sentinel users add/);
    });
  });

  describe('keys generate', () => {
    it('prints a key ring that createKeyRing and JWT_KEYS_FILE accept', async () => {
      const result = await runCli(['keys', 'generate', '--alg', 'EdDSA', '--kid', 'ed-test']);
      assert.equal(result.code, 0, result.stderr);
      const printed = JSON.parse(result.stdout) as { active: string; keys: Array<{ kid: string; alg: string; privateKey?: string }> };
      assert.equal(printed.active, 'ed-test');
      assert.equal(printed.keys.length, 1);
      assert.equal(printed.keys[0]!.alg, 'EdDSA');
      assert.match(printed.keys[0]!.privateKey ?? '', /^-----BEGIN PRIVATE KEY-----/);

      const ring = createKeyRing(printed.keys, printed.active);
      assert.equal(ring.active.kid, 'ed-test');
      assert.equal(ring.active.alg, 'EdDSA');
      assert.equal(ring.active.verifyKey.asymmetricKeyType, 'ed25519');

      const file = join(dir, 'keys.json');
      writeFileSync(file, result.stdout, { mode: 0o600 });
      const config = loadConfig({ JWT_KEYS_FILE: file });
      assert.equal(config.jwt.activeKid, 'ed-test');
      assert.equal(createKeyRing(config.jwt.keys, config.jwt.activeKid).active.alg, 'EdDSA');
    });

    it('writes an HMAC secret as base64url:, which JWT_KEYS_FILE and createKeyRing read as the random bytes', async () => {
      const result = await runCli(['keys', 'generate', '--alg', 'HS256', '--kid', 'hs-test']);
      assert.equal(result.code, 0, result.stderr);
      const printed = JSON.parse(result.stdout) as { active: string; keys: Array<{ kid: string; alg: string; secret: string }> };
      const [key] = printed.keys;
      assert.match(key!.secret, /^base64url:[A-Za-z0-9_-]{43}$/);
      const bytes = Buffer.from(key!.secret.slice('base64url:'.length), 'base64url');
      assert.equal(bytes.length, 32);

      const file = join(dir, 'hs-keys.json');
      writeFileSync(file, result.stdout, { mode: 0o600 });
      const config = loadConfig({ JWT_KEYS_FILE: file });
      assert.deepEqual(createKeyRing(config.jwt.keys, config.jwt.activeKid).active.signKey.export(), bytes);
      assert.deepEqual(createKeyRing(printed.keys, printed.active).active.signKey.export(), bytes);
    });

    it('names the key after the algorithm and the date by default, and refuses an unknown algorithm', async () => {
      const result = await runCli(['keys', 'generate']);
      assert.equal(result.code, 0, result.stderr);
      assert.match((JSON.parse(result.stdout) as { active: string }).active, /^eddsa-\d{4}-\d{2}-\d{2}$/);
      const none = await runCli(['keys', 'generate', '--alg', 'none']);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /Unsupported --alg none/);
    });
  });

  describe('commands', () => {
    it('exits 2 on an unknown command, with the usage', async () => {
      const result = await runCli(['frobnicate']);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /^Unknown command "frobnicate"\./);
      assert.match(result.stderr, /Usage: koa-sentinel <command>/);
    });

    it('exits 2 on an unknown option', async () => {
      const result = await runCli(['keys', 'generate', '--frobnicate']);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /^koa-sentinel: .*frobnicate/);
    });

    it('shows the usage for help (exit 0) and for no command at all (exit 2)', async () => {
      const help = await runCli(['help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /^Usage: koa-sentinel <command>/);
      const nothing = await runCli([]);
      assert.equal(nothing.code, 2);
      assert.match(nothing.stdout, /^Usage: koa-sentinel <command>/);
    });
  });

  describe('serve', () => {
    it('refuses a placeholder JWT_SECRET in production with exit code 2, naming the variable but not the secret', async () => {
      const result = await runCli(['serve'], { env: { NODE_ENV: 'production', JWT_SECRET: 'changeme', AUTH_USERS_FILE: usersFile, PORT: '0' } });
      assert.equal(result.code, 2, `${result.stdout}\n${result.stderr}`);
      assert.match(result.stderr, /^koa-sentinel: .*JWT_SECRET/s);
      assert.ok(!result.stderr.includes('changeme') && !result.stdout.includes('changeme'), result.stderr);
      assert.ok(!/listening on/.test(result.stdout), 'it never started');
    });

    it('reports every configuration problem at once, with exit code 2', async () => {
      const result = await runCli(['serve'], { env: { NODE_ENV: 'production', PORT: 'eighty', LOG_LEVEL: 'loud' } });
      assert.equal(result.code, 2);
      for (const name of ['PORT', 'LOG_LEVEL', 'JWT_SECRET', 'AUTH_USERS_FILE']) assert.match(result.stderr, new RegExp(`- ${name}`), result.stderr);
    });

    it('serves the users file, logs in over HTTP, and stops cleanly on SIGTERM', async () => {
      const port = await freePort();
      const secret = randomBytes(48).toString('base64');
      const child = startCli(['serve'], {
        NODE_ENV: 'production', JWT_SECRET: secret, PORT: String(port), HOST: '127.0.0.1', AUTH_USERS_FILE: usersFile,
        SPOOL_DIR: join(dir, 'spool'), LOG_LEVEL: 'info', PUBLIC_ORIGIN: `http://127.0.0.1:${port}`,
      });
      child.stdin.end();
      let stdout = '';
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        // 'close', not 'exit': it comes after stdout has been read to the end, so no log line is missed.
        child.on('close', (code, signal) => resolve({ code, signal }));
      });
      const listening = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "listening on" line within ${SPAWN_TIMEOUT_MS} ms\n${stdout}\n${stderr}`)), SPAWN_TIMEOUT_MS);
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          stdout += chunk;
          if (/listening on http:\/\/127\.0\.0\.1:\d+/.test(stdout)) {
            clearTimeout(timer);
            resolve();
          }
        });
        void exited.then(({ code }) => {
          clearTimeout(timer);
          reject(new Error(`serve exited early with ${code}\n${stdout}\n${stderr}`));
        });
      });

      try {
        await listening;
        const base = `http://127.0.0.1:${port}`;
        const health = await fetch(`${base}/healthz`);
        assert.equal(health.status, 200);
        assert.equal(health.headers.get('strict-transport-security'), 'max-age=31536000; includeSubDomains', 'production sends HSTS');

        const wrong = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'carol', password: 'not her password' }) });
        assert.equal(wrong.status, 401);
        await wrong.text();

        const login = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'carol', password: CAROL_PASSWORD }) });
        const body = (await login.json()) as { user: { name: string; roles: string[] }; csrfToken: string };
        assert.equal(login.status, 200, JSON.stringify(body));
        assert.equal(body.user.name, 'carol');
        assert.deepEqual(body.user.roles, ['admin', 'user']);
        const setCookies = login.headers.getSetCookie();
        const access = cookieValue(setCookies, '__Host-sentinel_at');
        const refresh = cookieValue(setCookies, '__Secure-sentinel_rt');
        assert.ok(access && refresh);

        const stats = await fetch(`${base}/api/admin/stats`, { headers: { cookie: `__Host-sentinel_at=${access}` } });
        assert.equal(stats.status, 200, 'the session works for an admin route');
        await stats.text();

        child.kill('SIGTERM');
        const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5_000).unref());
        const outcome = await Promise.race([exited, timeout]);
        assert.notEqual(outcome, 'timeout', 'the process exits within 5 s of SIGTERM');
        assert.deepEqual(outcome, { code: 0, signal: null });

        const lines = stdout.trim().split('\n');
        const records = lines.map((line) => {
          try {
            return JSON.parse(line) as Record<string, unknown>;
          } catch {
            return assert.fail(`not a JSON log line: ${line}`);
          }
        });
        // bunyan's `msg`, or `message` once records are ECS documents.
        const messages = records.map((record) => String(record.message ?? record.msg));
        assert.ok(messages.some((message) => /SIGTERM received/.test(message)), `SIGTERM is logged:\n${stdout}\n${stderr}`);
        assert.ok(messages.includes('stopped'), messages.join('\n'));
        const actions = records.map((record) => (record.event as { action?: string } | undefined)?.action).filter(Boolean);
        assert.ok(actions.includes('authn_login_fail') && actions.includes('authn_login_successafterfail'), actions.join(', '));

        const output = stdout + stderr;
        for (const [name, value] of Object.entries({ password: CAROL_PASSWORD, wrongPassword: 'not her password', secret, access, refresh, csrf: body.csrfToken })) {
          assert.ok(!output.includes(value), `the ${name} is not in the output`);
        }
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    });
  });
});
