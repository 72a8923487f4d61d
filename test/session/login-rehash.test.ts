import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEFAULT_SCRYPT, parsePasswordHash } from '../../src/session/passwords.js';
import { addUserToFile, createFileUserDirectory } from '../../src/session/users.js';
import { TEST_SCRYPT, startTestServer } from '../support/http-server.js';

/** ASVS 11.4.2: a hash below the configured scrypt cost is replaced at the next successful login. */

const dir = mkdtempSync(join(tmpdir(), 'sentinel-rehash-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const TARGET = { ...TEST_SCRYPT, ln: TEST_SCRYPT.ln + 1 };
const storedHash = (file: string, name: string): string =>
  (JSON.parse(readFileSync(file, 'utf8')) as { users: Array<{ name: string; passwordHash: string }> }).users.find((u) => u.name === name)!.passwordHash;

describe('rehash on login', () => {
  it('defaults to scrypt N=2^17, r=8, p=1 (ASVS 11.4.2 Appendix C)', () => {
    assert.deepEqual(DEFAULT_SCRYPT, { ln: 17, r: 8, p: 1 });
  });

  it('rewrites a cheaper hash in the users file, atomically, once, after the right password only', async () => {
    const file = join(dir, 'users.json');
    await addUserToFile(file, 'carol', 'carol password 1', { scrypt: TEST_SCRYPT });
    await addUserToFile(file, 'dave', 'dave password 1', { scrypt: TEST_SCRYPT });
    const before = storedHash(file, 'carol');
    const server = await startTestServer({ session: { users: createFileUserDirectory(file), passwordParams: TARGET } });
    try {
      assert.equal((await server.client().login('carol', 'wrong')).status, 401);
      assert.equal(storedHash(file, 'carol'), before, 'no rehash after a failure');

      assert.equal((await server.client().login('carol', 'carol password 1')).status, 200);
      const after = storedHash(file, 'carol');
      assert.deepEqual(parsePasswordHash(after)?.params, TARGET);
      assert.deepEqual(parsePasswordHash(storedHash(file, 'dave'))?.params, TEST_SCRYPT, 'other users untouched');
      assert.equal(statSync(file).mode & 0o777, 0o600, 'the file keeps its mode');
      assert.equal(server.eventsOf('authn_login_successafterfail')[0]?.sentinel?.password_rehash, 'done');

      const again = await server.client().login('carol', 'carol password 1');
      assert.equal(again.status, 200, 'the new hash verifies the same password');
      assert.equal(storedHash(file, 'carol'), after, 'no second rehash');
      assert.equal(server.eventsOf('authn_login_success')[0]?.sentinel?.password_rehash, undefined);
    } finally {
      await server.close();
    }
  });

  it('never overwrites a hash changed meanwhile (a password change wins over the rehash of the old one)', async () => {
    const file = join(dir, 'users-race.json');
    await addUserToFile(file, 'erin', 'old password 1', { scrypt: TEST_SCRYPT });
    const directory = createFileUserDirectory(file);
    const old = storedHash(file, 'erin');
    await addUserToFile(file, 'erin', 'new password 2', { scrypt: TEST_SCRYPT });
    const changed = storedHash(file, 'erin');
    assert.equal(await directory.updatePasswordHash!('erin', old, '$scrypt$ln=11,r=8,p=1$c2FsdA$aGFzaA'), false);
    assert.equal(storedHash(file, 'erin'), changed);
    assert.equal(await directory.updatePasswordHash!('nobody', old, changed), false);
  });
});
