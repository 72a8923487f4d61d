/**
 * The users file directory (users.ts) as it is edited under a running server: changes are picked up within
 * `recheckMs` of its clock, or at once when the file system signals them; a file that cannot be used keeps the last
 * good copy and warns once; a user disabled, removed or re-created in the file loses their sessions, at refresh too.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { hashPassword } from '../../src/session/passwords.js';
import { USERS_FILE_REJECTED, addUserToFile, createFileUserDirectory, updateUserInFile, type UserRecord } from '../../src/session/users.js';
import { TEST_SCRYPT, startTestServer, type TestServer } from '../support/http-server.js';
import { AT, SecretWatch } from '../support/secrets.js';

const PASSWORD = 'erin password 12';

/** Writes the file the way every writer of ours does: a temporary file renamed over it, in one synchronous step. */
function writeUsers(path: string, users: unknown[]): void {
  writeFileSync(`${path}.tmp`, JSON.stringify({ users }));
  renameSync(`${path}.tmp`, path);
}

function readUsers(path: string): UserRecord[] {
  return (JSON.parse(readFileSync(path, 'utf8')) as { users: UserRecord[] }).users;
}

/** Collects process warnings with one code. */
function warningsOf(code: string): { list: Error[]; stop(): void } {
  const list: Error[] = [];
  const listener = (warning: Error & { code?: string }): void => {
    if (warning.code === code) list.push(warning);
  };
  process.on('warning', listener);
  return { list, stop: () => process.off('warning', listener) };
}

/** process.emitWarning delivers on the next tick. */
const nextTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

describe('createFileUserDirectory: reloading the file', () => {
  let dir: string;
  let path: string;
  let hash: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sentinel-users-file-'));
    hash = await hashPassword(PASSWORD, TEST_SCRYPT);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    path = join(dir, `users-${Math.random().toString(36).slice(2)}.json`);
    writeUsers(path, [{ id: 'u_erin', name: 'erin', roles: ['user'], passwordHash: hash }]);
  });

  it('picks up users added, changed and disabled within recheckMs of its clock, without a file system signal', () => {
    let now = 0;
    const users = createFileUserDirectory(path, { recheckMs: 1000, now: () => now });
    try {
      // Every step below is synchronous: no watch callback can run in between, only the timed check can see a change.
      writeUsers(path, [
        { id: 'u_erin', name: 'erin', roles: ['user', 'admin'], passwordHash: hash, disabled: true },
        { id: 'u_finn', name: 'finn', roles: ['user'], passwordHash: hash },
      ]);
      now = 999;
      assert.equal(users.peek!('finn'), undefined, 'not yet: the last check was 999 ms ago');
      assert.equal(users.peek!('erin')?.disabled, false);
      now = 1000;
      assert.equal(users.peek!('finn')?.id, 'u_finn', 'recheckMs after the last check, the file is read again');
      assert.deepEqual(users.peek!('erin')?.roles, ['user', 'admin']);
      assert.equal(users.peek!('erin')?.disabled, true);
      assert.equal(users.size, 2);
    } finally {
      users.close();
    }
  });

  it('picks up a change the file system signals at the next lookup, however long the recheck interval', async () => {
    const users = createFileUserDirectory(path, { recheckMs: 3_600_000, now: () => 0 });
    try {
      updateUserInFile(path, 'erin', (user) => ({ ...user, disabled: true }));
      const deadline = performance.now() + 5000;
      while (!(await users.find('erin'))?.disabled) {
        assert.ok(performance.now() < deadline, 'the watch signal arrived within 5 s');
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      users.close();
    }
  });

  it('keeps the last good copy of a file that cannot be used, warns once per broken version, and uses the next good one', async () => {
    const warnings = warningsOf(USERS_FILE_REJECTED);
    const users = createFileUserDirectory(path, { recheckMs: 0 });
    try {
      // A stray character after the hash: V8's message would quote the text around it.
      writeFileSync(path, JSON.stringify({ users: [{ id: 'u_erin', name: 'erin', roles: ['user'], passwordHash: hash }] }).replace(`"${hash}"`, `"${hash}"x`));
      assert.equal(users.peek!('erin')?.id, 'u_erin', 'broken JSON: the last good copy stays');
      assert.equal(users.peek!('erin', true)?.id, 'u_erin');
      await nextTick();
      assert.equal(warnings.list.length, 1, 'one warning for this version of the file, however many lookups');
      assert.match(warnings.list[0]!.message, /was not reloaded, the last good copy stays in use: The users file .* cannot be read: not valid JSON at position \d+$/);
      assert.ok(!warnings.list[0]!.message.includes(hash), 'the warning quotes no password hash');

      writeUsers(path, [{ id: 'u_erin', name: 'erin', roles: ['Admin'], passwordHash: hash }]);
      assert.equal(users.peek!('erin')?.id, 'u_erin', 'a bad record: the last good copy stays');
      await nextTick();
      assert.equal(warnings.list.length, 2, 'a new broken version warns again');
      assert.match(warnings.list[1]!.message, /roles must be a list of lowercase role names/);

      rmSync(path);
      assert.equal(users.peek!('erin')?.id, 'u_erin', 'a missing file: the last good copy stays');
      await nextTick();
      assert.equal(warnings.list.length, 3);

      writeUsers(path, [{ id: 'u_erin', name: 'erin', roles: ['user'], passwordHash: hash, disabled: true }]);
      assert.equal(users.peek!('erin')?.disabled, true, 'a good file is used again');
      await nextTick();
      assert.equal(warnings.list.length, 3);
    } finally {
      warnings.stop();
      users.close();
    }
  });
});

describe('a user disabled, removed or re-created in the users file, over HTTP', () => {
  const secrets = new SecretWatch();
  let dir: string;
  let path: string;
  let server: TestServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sentinel-users-http-'));
    path = join(dir, 'users.json');
    await addUserToFile(path, 'erin', PASSWORD, { scrypt: TEST_SCRYPT });
    server = await startTestServer({ session: { users: createFileUserDirectory(path, { recheckMs: 0 }) } });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    // Every test starts from erin as `users add` makes her.
    await addUserToFile(path, 'erin', PASSWORD, { scrypt: TEST_SCRYPT });
  });

  async function loggedIn(): Promise<ReturnType<TestServer['client']>> {
    const client = secrets.watch(server.client());
    const res = await client.login('erin', PASSWORD);
    assert.equal(res.status, 200, res.text);
    assert.equal((await client.request('GET', '/api/hello')).status, 200);
    return client;
  }

  it('disabled: her next request and her refresh are refused, and she cannot log in', async () => {
    const client = await loggedIn();
    const refresher = secrets.cloneOf(server, client);
    updateUserInFile(path, 'erin', (user) => ({ ...user, disabled: true }));
    const mark = server.events.length;
    const hello = await client.request('GET', '/api/hello');
    assert.equal(hello.status, 401);
    assert.equal(hello.body.error.code, 'token_invalid');
    const refresh = await refresher.request('POST', '/auth/refresh');
    assert.equal(refresh.status, 401);
    assert.equal(refresh.body.error.code, 'token_invalid');
    const login = await secrets.watch(server.client()).login('erin', PASSWORD);
    assert.equal(login.status, 401);
    assert.deepEqual(server.events.slice(mark).filter((e) => e.event.action === 'authn_token_invalid').map((e) => e.event.reason), ['user_disabled', 'user_disabled']);
    assert.equal(server.events.slice(mark).find((e) => e.event.action === 'authn_login_fail')?.event.reason, 'disabled');
  });

  it('removed: her refresh is refused with user_disabled and her session revoked', async () => {
    const client = await loggedIn();
    writeUsers(path, readUsers(path).filter((user) => user.name !== 'erin'));
    const mark = server.events.length;
    const refresh = await client.request('POST', '/auth/refresh');
    assert.equal(refresh.status, 401);
    assert.equal(refresh.body.error.code, 'token_invalid');
    assert.equal(client.cookie(AT), undefined, 'the cookies are cleared');
    const events = server.events.slice(mark);
    assert.deepEqual(events.map((e) => [e.event.action, e.event.reason]), [['authn_token_revoked', 'user_disabled'], ['authn_token_invalid', 'user_disabled']]);
    assert.equal(events[0]!.user?.name, 'erin');
  });

  it('re-created (same name, new id): the old session is refused at refresh and on requests; the new user logs in afresh', async () => {
    const client = await loggedIn();
    const oldId = readUsers(path).find((user) => user.name === 'erin')!.id;
    const stale = secrets.cloneOf(server, client);
    writeUsers(path, readUsers(path).filter((user) => user.name !== 'erin'));
    const recreated = await addUserToFile(path, 'erin', PASSWORD, { scrypt: TEST_SCRYPT });
    assert.notEqual(recreated.id, oldId);

    const mark = server.events.length;
    assert.equal((await stale.request('GET', '/api/hello')).status, 401, 'the old access token belongs to another user now');
    const refresh = await client.request('POST', '/auth/refresh');
    assert.equal(refresh.status, 401);
    assert.equal(refresh.body.error.code, 'token_invalid');
    const revoked = server.events.slice(mark).filter((e) => e.event.action === 'authn_token_revoked');
    assert.deepEqual(revoked.map((e) => [e.event.reason, e.user?.id]), [['user_disabled', oldId]]);

    const fresh = await loggedIn();
    assert.equal((await fresh.request('GET', '/auth/me')).body.user.id, recreated.id);
  });

  it('never puts a token, cookie value or password in an event or a log line', () => {
    secrets.assertNoneLogged(server);
  });
});
