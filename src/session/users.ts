import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, statSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
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
  /**
   * What the user's sessions are bound to besides roles and status (sessionStampOf): absent, a digest of the
   * password hash, so a new password ends every session; kept across a password change that keeps the other
   * sessions or a rehash; a new random value ends every session without touching the password.
   */
  sessionStamp?: string;
}

export interface UserDirectory {
  find(name: string): Promise<UserRecord | undefined>;
  /**
   * Optional: replaces a user's password hash if it is still `expectedHash`, and says whether it did. The login
   * flow calls it after a successful login whose hash costs less than the configured scrypt parameters (ASVS
   * 11.4.2); the comparison keeps a password changed meanwhile from being overwritten by a rehash of the old one.
   */
  updatePasswordHash?(name: string, expectedHash: string, newHash: string): Promise<boolean>;
  /**
   * Optional, and what makes credential changes end sessions at once: the user as the directory holds it now,
   * synchronously (it runs on every authenticated request). `fresh` asks a caching directory to look again first
   * (a session's fingerprint did not match: the change may be newer than the copy).
   */
  peek?(name: string, fresh?: boolean): UserRecord | undefined;
  /**
   * Optional: sets a new password hash (POST /auth/password). `keepSessions` keeps the session stamp, so the
   * user's other sessions stay valid; otherwise they end. Returns the updated user, undefined when unknown.
   */
  changePassword?(name: string, newHash: string, options: { keepSessions: boolean }): Promise<UserRecord | undefined>;
}

/** The session stamp in force for a user: the explicit one, else a digest of the password hash. */
export function sessionStampOf(user: Pick<UserRecord, 'passwordHash' | 'sessionStamp'>): string {
  return user.sessionStamp ?? createHash('sha256').update(user.passwordHash).digest('base64url');
}

/** A random session stamp: written by `users revoke-sessions`, it ends every session of the user. */
export function newSessionStamp(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * The credential fingerprint (ASVS 7.4.2, 7.4.3): a keyed hash of what a session was granted on, the user's id,
 * session stamp, roles and status. Tokens carry it; a session whose fingerprint no longer matches the directory
 * is refused on its next request, on every instance, whether the change came through an API, the CLI or an edit
 * of the users file. Keyed, so the token does not reveal a digest of the password hash.
 */
export function createCredentialFingerprint(key: Buffer): (user: UserRecord) => string {
  if (!Buffer.isBuffer(key) || key.length < 16) throw new ConfigurationError('The fingerprint key must be a Buffer of at least 16 bytes.');
  // Records are replaced, never changed in place, on every reload: one HMAC per record, not per request.
  const computed = new WeakMap<UserRecord, string>();
  return (user) => {
    let fingerprint = computed.get(user);
    if (fingerprint === undefined) {
      const material = JSON.stringify([user.id, sessionStampOf(user), [...user.roles].sort(), user.disabled === true]);
      fingerprint = createHmac('sha256', key).update(material).digest('base64url').slice(0, 22);
      computed.set(user, fingerprint);
    }
    return fingerprint;
  };
}

export interface FileUserDirectoryOptions {
  /** Look at the file's modification time at most this often (ms) when no change was signalled. Default 1000. */
  recheckMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

export const FILE_DIRECTORY_DEFAULTS = { recheckMs: 1000 };
/** process.emitWarning code: a changed users file could not be used, so the directory keeps its last good copy. */
export const USERS_FILE_REJECTED = 'SENTINEL_USERS_FILE_REJECTED';

interface UsersFile {
  users: UserRecord[];
}

/** At most this many characters; no control characters; no surrounding white space. */
export const MAX_USERNAME_LENGTH = 128;
const CONTROL = /[\p{Cc}\p{Cf}\u2028\u2029]/u;
const ROLE = /^[a-z][a-z0-9_-]{0,63}$/;
/**
 * The most a user's roles may take, as the JSON list an access token carries. Access tokens hold the roles and
 * must fit in 4096 bytes, a cookie's limit and what verify() accepts (tokens.ts, maxTokenBytes): 1024 bytes leave
 * room for the other claims (a 128-character name, a 256-character id), base64url's third and an RSA signature.
 * Directories refuse a user over it when they load, rather than let that user's every login fail.
 */
export const MAX_ROLES_BYTES = 1024;

/** Why `roles` cannot be a user's roles, or undefined when they can. */
function rolesProblem(roles: unknown): string | undefined {
  if (!Array.isArray(roles) || !roles.every((role) => typeof role === 'string' && ROLE.test(role))) return 'roles must be a list of lowercase role names';
  return rolesSizeProblem(roles);
}

function rolesSizeProblem(roles: readonly string[]): string | undefined {
  const bytes = Buffer.byteLength(JSON.stringify(roles));
  return bytes > MAX_ROLES_BYTES ? `roles take ${bytes} bytes, more than the ${MAX_ROLES_BYTES} an access token has room for` : undefined;
}

/** The canonical form of a username (Unicode NFC), or undefined when it can never name a user. */
export function normalizeUsername(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const name = value.normalize('NFC');
  if (name.length === 0 || name.length > MAX_USERNAME_LENGTH || name.trim() !== name || CONTROL.test(name)) return undefined;
  return name;
}

export function createFileUserDirectory(path: string, options: FileUserDirectoryOptions = {}): UserDirectory & { readonly size: number; close(): void } {
  const recheckMs = options.recheckMs ?? FILE_DIRECTORY_DEFAULTS.recheckMs;
  const now = options.now ?? Date.now;
  if (!Number.isFinite(recheckMs) || recheckMs < 0) throw new ConfigurationError('options.recheckMs must be a finite, non-negative number.');
  let byName = load(path);
  let version = fileVersion(path);
  let checkedAt = now();
  // A change signalled by the file system is picked up on the next lookup; the timed check covers file systems
  // that do not signal (network mounts). The directory is watched, since writers replace the file by renaming.
  let changed = false;
  let rejected: string | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (file === null || file === basename(path)) changed = true;
    });
    watcher.on('error', () => {
      watcher?.close();
      watcher = undefined;
    });
  } catch {
    // No watching here: the timed check alone.
  }
  /** Re-reads the file when it changed; a broken file keeps the last good copy rather than locking everyone out. */
  const refresh = (force: boolean): void => {
    const t = now();
    if (!force && !changed && t - checkedAt < recheckMs) return;
    checkedAt = t;
    changed = false;
    let current: string | undefined;
    try {
      current = fileVersion(path);
      if (current !== version) {
        byName = load(path);
        version = current;
      }
    } catch (error) {
      // Keep serving the last good copy, and say so once per broken version of the file.
      if ((current ?? 'missing') !== rejected) {
        rejected = current ?? 'missing';
        process.emitWarning(`The users file ${path} was not reloaded, the last good copy stays in use: ${(error as Error).message}`, { code: USERS_FILE_REJECTED });
      }
    }
  };
  return {
    get size() {
      return byName.size;
    },
    async find(name) {
      refresh(false);
      return byName.get(name);
    },
    peek(name, fresh = false) {
      refresh(fresh);
      return byName.get(name);
    },
    async changePassword(name, newHash, { keepSessions }) {
      const updated = updateUserInFile(path, name, (user) => withPasswordHash(user, newHash, keepSessions));
      refresh(true);
      return updated;
    },
    close() {
      watcher?.close();
    },
    async updatePasswordHash(name, expectedHash, newHash) {
      const updated = replaceHashInFile(path, name, expectedHash, newHash);
      if (updated) refresh(true);
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
  // A rehash is the same password: the sessions stay (sessionStampOf).
  Object.assign(user, withPasswordHash(user, newHash, true));
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

/**
 * A directory held in memory, for tests and for the development server's demo user. Refuses, with a
 * ConfigurationError, a user whose roles would not fit in an access token (MAX_ROLES_BYTES).
 */
export function createMemoryUserDirectory(users: readonly UserRecord[]): UserDirectory {
  for (const user of users) {
    const problem = rolesSizeProblem(user.roles);
    if (problem) throw new ConfigurationError(`The user ${user.name}: ${problem}.`, { option: 'users' });
  }
  const byName = new Map(users.map((user) => [user.name, user]));
  return {
    find: async (name) => byName.get(name),
    peek: (name) => byName.get(name),
    async updatePasswordHash(name, expectedHash, newHash) {
      const user = byName.get(name);
      if (!user || user.passwordHash !== expectedHash) return false;
      byName.set(name, withPasswordHash(user, newHash, true));
      return true;
    },
    async changePassword(name, newHash, { keepSessions }) {
      const user = byName.get(name);
      if (!user) return undefined;
      const updated = withPasswordHash(user, newHash, keepSessions);
      byName.set(name, updated);
      return updated;
    },
  };
}

function load(path: string): Map<string, UserRecord> {
  let parsed: UsersFile;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as UsersFile;
  } catch (error) {
    // V8 quotes the text around a JSON syntax error, which may be a password hash: say where, not what.
    const why = error instanceof SyntaxError ? `not valid JSON${/ at position \d+/.exec(error.message)?.[0] ?? ''}` : (error as Error).message;
    throw new ConfigurationError(`The users file ${path} cannot be read: ${why}`);
  }
  if (!parsed || !Array.isArray(parsed.users)) throw new ConfigurationError(`The users file ${path} must hold {"users": [...]}.`);
  const byName = new Map<string, UserRecord>();
  for (const [index, user] of parsed.users.entries()) {
    const where = `The users file ${path}, users[${index}]`;
    const name = normalizeUsername(user?.name);
    if (!name) throw new ConfigurationError(`${where}: the name is missing or not allowed.`);
    if (!parsePasswordHash(user.passwordHash)) throw new ConfigurationError(`${where} (${name}): passwordHash is not a $scrypt$ PHC string.`);
    const problem = rolesProblem(user.roles);
    if (problem) throw new ConfigurationError(`${where} (${name}): ${problem}.`, { option: 'users' });
    if (byName.has(name)) throw new ConfigurationError(`${where}: the name "${name}" appears twice.`);
    byName.set(name, {
      id: typeof user.id === 'string' ? user.id : name, name, roles: user.roles, passwordHash: user.passwordHash, disabled: user.disabled === true,
      ...(typeof user.sessionStamp === 'string' ? { sessionStamp: user.sessionStamp } : {}),
    });
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
  const problem = rolesProblem(roles);
  if (problem) throw new ConfigurationError(`The user ${normalized}: ${problem}.`, { option: 'roles' });
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

/** The record with a new password hash; `keepSessions` pins the current session stamp so the sessions stay valid. */
export function withPasswordHash(user: UserRecord, passwordHash: string, keepSessions: boolean): UserRecord {
  const { sessionStamp: _dropped, ...rest } = user;
  return keepSessions ? { ...rest, passwordHash, sessionStamp: sessionStampOf(user) } : { ...rest, passwordHash };
}

/**
 * Changes one user in the file, atomically (a temporary file renamed over it, same mode). `change` gets the
 * stored record and returns the new one. Returns the new record, undefined when there is no such user.
 */
export function updateUserInFile(path: string, name: string, change: (user: UserRecord) => UserRecord): UserRecord | undefined {
  const normalized = normalizeUsername(name);
  const file = JSON.parse(readFileSync(path, 'utf8')) as UsersFile;
  if (!Array.isArray(file.users)) throw new ConfigurationError(`${path} must hold {"users": [...]}.`);
  const index = file.users.findIndex((user) => user?.name === normalized);
  if (normalized === undefined || index < 0) return undefined;
  const updated = change(file.users[index]!);
  file.users[index] = updated;
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: statSync(path).mode & 0o777 });
  renameSync(temp, path);
  return updated;
}

/** What identifies one version of the file: a rename gives a new inode even within one mtime tick. */
function fileVersion(path: string): string {
  const stat = statSync(path);
  return `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
}
