/**
 * One meaning of an HMAC secret: a string is its UTF-8 bytes, `base64url:<text>` is decoded, bytes are bytes;
 * and one strength rule, applied by createKeyRing itself. The server's JWT_SECRET goes through the same rule, so
 * a token from `koa-sentinel serve` verifies in an application that builds its own kit from the same value.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/env.js';
import { ENV_SECRET_KID } from '../../src/config/keys.js';
import { ConfigurationError, type ConfigurationErrorCode } from '../../src/errors.js';
import { BASE64URL_PREFIX, secretWeakness } from '../../src/session/hmac-secret.js';
import { createKeyRing, generateKey, type KeyInput } from '../../src/session/key-ring.js';
import { createSessionKit } from '../../src/session/session-kit.js';
import { addUserToFile, createMemoryUserDirectory } from '../../src/session/users.js';
import { SPAWN_TIMEOUT_MS, startCli } from '../support/cli.js';

const CHEAP_SCRYPT = { ln: 10, r: 8, p: 1 };

function refused(key: KeyInput, code: ConfigurationErrorCode, message: RegExp): void {
  assert.throws(() => createKeyRing([key]), (error: unknown) => {
    assert.ok(error instanceof ConfigurationError, `expected a ConfigurationError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.option, 'secret');
    assert.match(error.message, message);
    if (typeof key.secret === 'string' && key.secret.length > 0) assert.ok(!error.message.includes(key.secret), 'the secret is never quoted');
    return true;
  });
}

describe('an HMAC secret has one meaning', () => {
  it('a string is its UTF-8 bytes, even when it looks like base64url', () => {
    const text = randomBytes(32).toString('base64url');
    assert.deepEqual(createKeyRing([{ kid: 'k', alg: 'HS256', secret: text }]).active.signKey.export(), Buffer.from(text, 'utf8'));
    const unicode = 'ключ-пароль-🔑-with-ÿ-and-more-characters';
    assert.deepEqual(createKeyRing([{ kid: 'k', alg: 'HS256', secret: unicode }]).active.signKey.export(), Buffer.from(unicode, 'utf8'));
  });

  it('base64url:<text> is the bytes the text encodes (base64 alphabet and padding accepted)', () => {
    const bytes = randomBytes(48);
    for (const text of [bytes.toString('base64url'), bytes.toString('base64')]) {
      const ring = createKeyRing([{ kid: 'k', alg: 'HS384', secret: `${BASE64URL_PREFIX}${text}` }]);
      assert.deepEqual(ring.active.signKey.export(), bytes);
    }
  });

  it('a Buffer or Uint8Array is the bytes', () => {
    const bytes = randomBytes(64);
    assert.deepEqual(createKeyRing([{ kid: 'k', alg: 'HS512', secret: bytes }]).active.signKey.export(), bytes);
    assert.deepEqual(createKeyRing([{ kid: 'k', alg: 'HS512', secret: new Uint8Array(bytes) }]).active.signKey.export(), bytes);
  });

  it('generateKey writes HMAC keys as base64url:, which the ring reads back as random bytes of the full size', () => {
    for (const [alg, size] of [['HS256', 32], ['HS384', 48], ['HS512', 64]] as const) {
      const key = generateKey(alg, 'g');
      assert.match(key.secret!, /^base64url:[A-Za-z0-9_-]+$/);
      const exported = createKeyRing([key]).active.signKey.export();
      assert.equal(exported.length, size);
      assert.deepEqual(exported, Buffer.from(key.secret!.slice(BASE64URL_PREFIX.length), 'base64url'));
    }
  });
});

describe('createKeyRing refuses weak secrets itself', () => {
  it('shorter than the hash output (RFC 7518 §3.2), counting bytes, not characters', () => {
    refused({ kid: 'h', alg: 'HS256', secret: randomBytes(31) }, 'config_secret_short', /^Key "h" \(HS256\) needs a secret of at least 32 bytes; it has 31\.$/);
    refused({ kid: 'h', alg: 'HS384', secret: randomBytes(36).toString('base64').slice(0, 47) }, 'config_secret_short', /^Key "h" \(HS384\) needs a secret of at least 48 bytes; it has 47\.$/);
    // Six characters, eight bytes of UTF-8.
    refused({ kid: 'h', alg: 'HS256', secret: 'ключ' }, 'config_secret_short', /it has 8\.$/);
    refused({ kid: 'h', alg: 'HS512', secret: randomBytes(63) }, 'config_secret_short', /^Key "h" \(HS512\) needs a secret of at least 64 bytes; it has 63\.$/);
    // 43 characters of text, 32 bytes of key: long enough for HS256, not for HS384.
    refused({ kid: 'h', alg: 'HS384', secret: `${BASE64URL_PREFIX}${randomBytes(32).toString('base64url')}` }, 'config_secret_short', /it has 32\.$/);
    refused({ kid: 'h', alg: 'HS256', secret: '' }, 'config_secret_short', /it has 0\.$/);
  });

  it('guessable though long enough: placeholders, few distinct characters or bytes', () => {
    refused({ kid: 'h', alg: 'HS256', secret: 'changeme-please-rotate-this-value-0123456789' }, 'config_secret_weak', /^Key "h" \(HS256\) has a secret that looks like a placeholder\.$/);
    refused({ kid: 'h', alg: 'HS256', secret: 'a'.repeat(64) }, 'config_secret_weak', /has a secret that has fewer than 10 distinct characters\.$/);
    refused({ kid: 'h', alg: 'HS256', secret: Buffer.alloc(32) }, 'config_secret_weak', /has a secret that has fewer than 10 distinct bytes\.$/);
    refused({ kid: 'h', alg: 'HS256', secret: Buffer.from('secret'.repeat(8)) }, 'config_secret_weak', /fewer than 10 distinct bytes/);
  });

  it('a base64url: secret that is not base64url, and a secret of the wrong type', () => {
    refused({ kid: 'h', alg: 'HS256', secret: `${BASE64URL_PREFIX}${'%'.repeat(48)}` }, 'config_secret_encoding', /^Key "h" \(HS256\) has a secret that is not valid base64url after its "base64url:" prefix\.$/);
    refused({ kid: 'h', alg: 'HS256', secret: 12345 as unknown as string }, 'config_invalid', /^Key "h" \(HS256\) needs a secret: a string, a Buffer or a Uint8Array\.$/);
  });

  it('secretWeakness says why in words and never repeats the secret', () => {
    assert.equal(secretWeakness(randomBytes(48).toString('base64')), undefined);
    assert.equal(secretWeakness('short'), 'is shorter than 32 bytes');
    assert.equal(secretWeakness(randomBytes(40).toString('base64'), 'HS512'), 'is shorter than 64 bytes');
    assert.equal(secretWeakness('Password-0123456789-0123456789-0123456789'), 'looks like a placeholder');
  });
});

describe('JWT_SECRET and an application\'s own key ring agree', () => {
  const secret = `s3nt1nel-${randomBytes(36).toString('base64')}`;

  it('in process: the server\'s key ring from loadConfig has the bytes createKeyRing gives the same string', () => {
    const config = loadConfig({ JWT_SECRET: secret });
    const server = createKeyRing(config.jwt.keys, config.jwt.activeKid);
    const app = createKeyRing([{ kid: ENV_SECRET_KID, alg: 'HS256', secret }]);
    assert.equal(server.active.kid, ENV_SECRET_KID);
    assert.deepEqual(server.active.signKey.export(), app.active.signKey.export());
    assert.deepEqual(app.active.signKey.export(), Buffer.from(secret, 'utf8'));
  });

  describe('over HTTP: a token from `koa-sentinel serve` verifies in an application\'s kit', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'sentinel-secret-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('logs in against the server and verifies its access token with createKeyRing([{ kid, alg, secret }])', async () => {
      const usersFile = join(dir, 'users.json');
      const password = `pw-${randomBytes(9).toString('base64url')}`;
      await addUserToFile(usersFile, 'erin', password, { roles: ['user'], scrypt: CHEAP_SCRYPT });
      // Port 0: the server binds a free port itself and says which in its "listening on" line; no port is chosen
      // first and released for someone else to take. The origin is the browser front end's, never contacted here.
      const child = startCli(['serve'], {
        NODE_ENV: 'production', PUBLIC_ORIGIN: 'https://app.example.test', JWT_SECRET: secret, AUTH_USERS_FILE: usersFile, PORT: '0', HOST: '127.0.0.1',
        SPOOL_DIR: join(dir, 'spool'), LOG_LEVEL: 'info',
      });
      child.stdin.end();
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
      });
      const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
      const kit = createSessionKit({ keyRing: createKeyRing([{ kid: ENV_SECRET_KID, alg: 'HS256', secret }]), users: createMemoryUserDirectory([]) });
      try {
        const deadline = Date.now() + SPAWN_TIMEOUT_MS;
        let base: string | undefined;
        while (!base) {
          base = /koa-sentinel listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
          if (base) break;
          if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the server did not start:\n${output}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const login = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'erin', password }) });
        assert.equal(login.status, 200, await login.clone().text());
        await login.text();
        const access = login.headers.getSetCookie().find((line) => line.startsWith('__Host-sentinel_at='))?.split(';')[0]?.split('=')[1];
        assert.ok(access, 'an access token cookie');
        const claims = kit.tokens.verify(access, 'access');
        assert.equal(claims.name, 'erin');
        assert.deepEqual(claims.roles, ['user']);
        // And a ring from the same text decoded as base64url (the old meaning) does not verify it.
        const other = createSessionKit({ keyRing: createKeyRing([{ kid: ENV_SECRET_KID, alg: 'HS256', secret: `${BASE64URL_PREFIX}${secret.slice(9).replace(/=+$/, '')}` }]), users: createMemoryUserDirectory([]) });
        assert.throws(() => other.tokens.verify(access, 'access'));
        await other.close();
      } finally {
        await kit.close();
        child.kill('SIGTERM');
        await exited;
      }
    });
  });
});
