import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { ConfigurationError } from '../errors.js';
import { DEFAULT_SCRYPT, hashPassword, parsePasswordHash, type ParsedHash } from './passwords.js';

/**
 * Where users come from. The login handler needs only `find`; plug in a database by implementing it. The
 * built-in directory reads a users file, JSON with PHC password hashes, and re-reads it when it changes, so
 * `koa-sentinel users add` takes effect without a restart.
 */

export interface UserRecord {
  id: string;
  name: string;
  roles: string[];
  passwordHash: string;
  disabled?: boolean;
}

export interface UserDirectory {
  find(name: string): Promise<UserRecord | undefined>;
  /**
   * Optional: replaces a user's password hash if it is still `expectedHash`, and says whether it did. The login
   * flow calls it after a successful login whose hash costs less than the configured scrypt parameters (ASVS
   * 11.4.2); the comparison keeps a password changed meanwhile from being overwritten by a rehash of the old one.
   */
  updatePasswordHash?(name: string, expectedHash: string, newHash: string): Promise<boolean>;
}

interface UsersFile {
  users: UserRecord[];
}

/** At most this many characters; no control characters; no surrounding white space. */
export const MAX_USERNAME_LENGTH = 128;
const CONTROL = /[\p{Cc}\p{Cf}\u2028\u2029]/u;
const ROLE = /^[a-z][a-z0-9_-]{0,63}$/;

/** The canonical form of a username (Unicode NFC), or undefined when it can never name a user. */
export function normalizeUsername(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const name = value.normalize('NFC');
  if (name.length === 0 || name.length > MAX_USERNAME_LENGTH || name.trim() !== name || CONTROL.test(name)) return undefined;
  return name;
}

export function createFileUserDirectory(path: string): UserDirectory & { readonly size: number } {
  let byName = load(path);
  let mtimeMs = statSync(path).mtimeMs;
  let checkedAt = Date.now();
  return {
    get size() {
      return byName.size;
    },
    async find(name) {
      // Re-read at most once a second; a broken file keeps the last good copy rather than locking everyone out.
      if (Date.now() - checkedAt > 1000) {
        checkedAt = Date.now();
        try {
          const current = statSync(path).mtimeMs;
          if (current !== mtimeMs) {
            byName = load(path);
            mtimeMs = current;
          }
        } catch {
          // keep serving the last good copy
        }
      }
      return byName.get(name);
    },
    async updatePasswordHash(name, expectedHash, newHash) {
      const updated = replaceHashInFile(path, name, expectedHash, newHash);
      if (updated) {
        byName = load(path);
        mtimeMs = statSync(path).mtimeMs;
      }
      return updated;
    },
  };
}

/**
 * Rewrites the file with one hash replaced, atomically (a temporary file renamed over it). It gives up when the
 * hash is no longer `expectedHash` or when the file changed while it was being rewritten (a `users` command
 * writing at the same moment): the rehash waits for the next login rather than undo someone else's change.
 */
function replaceHashInFile(path: string, name: string, expectedHash: string, newHash: string): boolean {
  const before = statSync(path);
  const file = JSON.parse(readFileSync(path, 'utf8')) as UsersFile;
  const user = Array.isArray(file.users) ? file.users.find((entry) => entry?.name === name) : undefined;
  if (!user || user.passwordHash !== expectedHash) return false;
  user.passwordHash = newHash;
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: before.mode & 0o777 });
  const now = statSync(path);
  if (now.mtimeMs !== before.mtimeMs || now.size !== before.size || now.ino !== before.ino) {
    rmSync(temp, { force: true });
    return false;
  }
  renameSync(temp, path);
  return true;
}

/** A directory held in memory, for tests and for the development server's demo user. */
export function createMemoryUserDirectory(users: readonly UserRecord[]): UserDirectory {
  const byName = new Map(users.map((user) => [user.name, user]));
  return {
    find: async (name) => byName.get(name),
    async updatePasswordHash(name, expectedHash, newHash) {
      const user = byName.get(name);
      if (!user || user.passwordHash !== expectedHash) return false;
      byName.set(name, { ...user, passwordHash: newHash });
      return true;
    },
  };
}

function load(path: string): Map<string, UserRecord> {
  let parsed: UsersFile;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as UsersFile;
  } catch (error) {
    throw new ConfigurationError(`The users file ${path} cannot be read: ${(error as Error).message}`);
  }
  if (!parsed || !Array.isArray(parsed.users)) throw new ConfigurationError(`The users file ${path} must hold {"users": [...]}.`);
  const byName = new Map<string, UserRecord>();
  for (const [index, user] of parsed.users.entries()) {
    const where = `The users file ${path}, users[${index}]`;
    const name = normalizeUsername(user?.name);
    if (!name) throw new ConfigurationError(`${where}: the name is missing or not allowed.`);
    if (!parsePasswordHash(user.passwordHash)) throw new ConfigurationError(`${where} (${name}): passwordHash is not a $scrypt$ PHC string.`);
    if (!Array.isArray(user.roles) || !user.roles.every((role) => typeof role === 'string' && ROLE.test(role))) {
      throw new ConfigurationError(`${where} (${name}): roles must be a list of lowercase role names.`);
    }
    if (byName.has(name)) throw new ConfigurationError(`${where}: the name "${name}" appears twice.`);
    byName.set(name, { id: typeof user.id === 'string' ? user.id : name, name, roles: user.roles, passwordHash: user.passwordHash, disabled: user.disabled === true });
  }
  return byName;
}

export interface AddUserOptions {
  roles?: readonly string[];
  disabled?: boolean;
  /** scrypt cost, for tests; defaults to DEFAULT_SCRYPT. */
  scrypt?: { ln: number; r: number; p: number };
}

/** Adds or replaces a user in the file (created 0600 if missing), writing atomically. Returns the record. */
export async function addUserToFile(path: string, name: string, password: string, options: AddUserOptions = {}): Promise<UserRecord> {
  const normalized = normalizeUsername(name);
  if (!normalized) throw new ConfigurationError(`The username must be 1-${MAX_USERNAME_LENGTH} characters, without control characters or surrounding spaces.`);
  const roles = [...new Set(options.roles ?? ['user'])];
  for (const role of roles) if (!ROLE.test(role)) throw new ConfigurationError(`The role "${role}" must be lowercase letters, digits, - or _.`);
  const file: UsersFile = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as UsersFile) : { users: [] };
  if (!Array.isArray(file.users)) throw new ConfigurationError(`${path} must hold {"users": [...]}.`);
  const existing = file.users.find((user) => user.name === normalized);
  const record: UserRecord = {
    id: existing?.id ?? `u_${randomUUID()}`,
    name: normalized,
    roles,
    passwordHash: await hashPassword(password, options.scrypt ?? DEFAULT_SCRYPT),
    disabled: options.disabled === true,
  };
  file.users = [...file.users.filter((user) => user.name !== normalized), record];
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, path);
  return record;
}

/**
 * A hash to verify against when the user does not exist, with the same cost as the real ones, so an unknown
 * user takes as long as a wrong password (ASVS 6.3.8: no user enumeration by timing).
 */
export async function createDummyHash(params = DEFAULT_SCRYPT): Promise<ParsedHash> {
  return parsePasswordHash(await hashPassword(randomBytes(16).toString('hex'), params))!;
}
