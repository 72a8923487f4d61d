/**
 * A user whose roles make an access token larger than maxTokenBytes (4096, what verify() accepts and a cookie can
 * hold), over HTTP: refused where users are loaded, and, for a directory that does not check (a database behind
 * `find`), refused at login like a wrong password, reported with the sizes, and with no session left in the store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigurationError } from '../../src/errors.js';
import { hashPassword } from '../../src/session/passwords.js';
import { createMemoryStore, type SessionStore } from '../../src/session/store.js';
import { MAX_ROLES_BYTES, addUserToFile, createFileUserDirectory, createMemoryUserDirectory, type UserRecord } from '../../src/session/users.js';
import { TEST_SCRYPT, startTestServer, type TestServer } from '../support/http-server.js';
import { AT, CSRF, RT, SecretWatch } from '../support/secrets.js';

/** 200 roles of 20 characters: 4601 bytes of roles, a 6 KB token. */
const MANY_ROLES = Array.from({ length: 200 }, (_, i) => `role-${String(i).padStart(15, '0')}`);
const PASSWORD = 'dave has many roles 1';

/** A memory store that counts the families it was asked to create. */
function countingStore(): SessionStore & { created: number } {
  const store = createMemoryStore();
  const counting = Object.create(store) as SessionStore & { created: number };
  counting.created = 0;
  counting.createFamily = async (family) => {
    counting.created += 1;
    return store.createFamily(family);
  };
  return counting;
}

describe('a user whose roles do not fit in a token', () => {
  const secrets = new SecretWatch();
  let server: TestServer;
  let store: SessionStore & { created: number };
  let dave: UserRecord;

  before(async () => {
    dave = { id: 'u_dave', name: 'dave', roles: ['user'], passwordHash: await hashPassword(PASSWORD, TEST_SCRYPT) };
    const huge: UserRecord = { ...dave, id: 'u_huge', name: 'huge', roles: MANY_ROLES };
    const byName = new Map([dave, huge].map((user) => [user.name, user]));
    store = countingStore();
    // A directory of the application's own (a database, say): nothing checks the roles before the login.
    server = await startTestServer({ session: { users: { find: async (name) => byName.get(name) }, store } });
  });
  after(() => server.close());

  it('is refused at login with 401 login_failed, an authn_login_fail token_too_large event with the sizes, and no session', async () => {
    const client = secrets.watch(server.client());
    const mark = server.events.length;
    const res = await client.login('huge', PASSWORD);
    assert.equal(res.status, 401, res.text);
    assert.deepEqual(res.body, { error: { code: 'login_failed', message: 'Invalid username or password.' } }, 'the answer of a wrong password');
    assert.deepEqual(res.setCookies.filter((line) => [AT, RT, CSRF].some((name) => line.startsWith(`${name}=`))), [], 'no session cookie');

    const events = server.events.slice(mark);
    assert.deepEqual(events.map((event) => [event.event.action, event.event.reason]), [['authn_login_fail', 'token_too_large']]);
    const [event] = events;
    assert.equal(event!.user?.name, 'huge');
    assert.equal(event!.http?.response?.status_code, 401);
    const token = (event!.sentinel as { token?: { type: string; bytes: number; max_bytes: number } }).token;
    assert.equal(token?.type, 'access');
    assert.equal(token?.max_bytes, 4096);
    assert.ok(token!.bytes > 4096, `${token!.bytes} bytes`);

    assert.equal(store.created, 0, 'the store was never asked to create a session');
    assert.deepEqual(await store.listFamilies('u_huge', { now: Date.now(), idleTtlMs: 3_600_000 }), []);
  });

  it('ends a session at refresh, with 401 token_invalid and token_too_large events, when its roles grew too large', async () => {
    const client = secrets.watch(server.client());
    assert.equal((await client.login('dave', PASSWORD)).status, 200);
    assert.equal((await store.listFamilies('u_dave', { now: Date.now(), idleTtlMs: 3_600_000 })).length, 1);
    // Changed in place, as some directories do: the session's credential fingerprint still matches.
    dave.roles = MANY_ROLES;
    try {
      const mark = server.events.length;
      const res = await client.request('POST', '/auth/refresh');
      assert.equal(res.status, 401, res.text);
      assert.equal(res.body.error.code, 'token_invalid');
      assert.equal(client.cookie(RT), undefined, 'the refresh cookie is cleared');
      assert.deepEqual(server.events.slice(mark).map((event) => [event.event.action, event.event.reason]), [
        ['authn_token_revoked', 'token_too_large'],
        ['authn_token_invalid', 'token_too_large'],
      ]);
      assert.deepEqual(await store.listFamilies('u_dave', { now: Date.now(), idleTtlMs: 3_600_000 }), [], 'the session is over');
    } finally {
      dave.roles = ['user'];
    }
  });

  it('never puts a token, cookie value or password in an event or a log line', () => {
    secrets.assertNoneLogged(server);
  });
});

describe('directories that load users refuse roles an access token has no room for', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sentinel-roles-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the users file: at start a ConfigurationError naming the user and the sizes', async () => {
    const path = join(dir, 'start.json');
    const hash = await hashPassword(PASSWORD, TEST_SCRYPT);
    writeFileSync(path, JSON.stringify({ users: [{ id: 'u_huge', name: 'huge', roles: MANY_ROLES, passwordHash: hash }] }));
    assert.throws(() => createFileUserDirectory(path), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.equal(error.code, 'config_invalid');
      assert.equal(error.option, 'users');
      assert.match(error.message, /users\[0\] \(huge\): roles take 4601 bytes, more than the 1024 an access token has room for/);
      return true;
    });
    // One byte over the limit is refused; at the limit is fine: 31 roles of 30 characters are 1024 bytes of JSON.
    const fitting = Array.from({ length: 31 }, (_, i) => `r${String(i).padStart(29, '0')}`);
    assert.equal(Buffer.byteLength(JSON.stringify(fitting)), MAX_ROLES_BYTES);
    writeFileSync(path, JSON.stringify({ users: [{ id: 'u_over', name: 'over', roles: [...fitting.slice(1), `${fitting[0]}x`], passwordHash: hash }] }));
    assert.throws(() => createFileUserDirectory(path), /roles take 1025 bytes/);
    writeFileSync(path, JSON.stringify({ users: [{ id: 'u_fit', name: 'fit', roles: fitting, passwordHash: hash }] }));
    const users = createFileUserDirectory(path);
    try {
      assert.deepEqual((await users.find('fit'))?.roles, fitting);
    } finally {
      users.close();
    }
  });

  it('users add: refused before the file is written', async () => {
    const path = join(dir, 'add.json');
    await assert.rejects(addUserToFile(path, 'huge', PASSWORD, { roles: MANY_ROLES, scrypt: TEST_SCRYPT }), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.equal(error.option, 'roles');
      return true;
    });
    assert.throws(() => createFileUserDirectory(path), /cannot be read/, 'no file was created');
  });

  it('the memory directory: a ConfigurationError when it is built', () => {
    assert.throws(() => createMemoryUserDirectory([{ id: 'u_huge', name: 'huge', roles: MANY_ROLES, passwordHash: 'x' }]), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.equal(error.option, 'users');
      assert.match(error.message, /huge: roles take 4601 bytes/);
      return true;
    });
  });
});
