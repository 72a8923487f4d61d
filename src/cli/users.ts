import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  addUserToFile, ConfigurationError, createPasswordPolicy, createRedisStore, describeRejection, hashPassword, loadConfig, newSessionStamp,
  updateUserInFile, withPasswordHash, DEFAULT_SCRYPT, type UserRecord,
} from '../index.js';
import { EXIT, type CliIo } from './io.js';
import { readPassword } from './read-password.js';

const USAGE = `Usage: koa-sentinel users add <name> [--role r]... [--disabled] [--file path]
       koa-sentinel users passwd <name> [--file path]
       koa-sentinel users disable <name> [--file path]
       koa-sentinel users revoke-sessions <name> [--file path]
`;

/**
 * `koa-sentinel users add|passwd|disable|revoke-sessions`. Passwords come from stdin, never from a flag a process
 * list would show, and pass the password policy. Every change but `add` of a new user ends the user's sessions on
 * the next request of every instance: the users file changes their credential fingerprint (each instance notices
 * within a second), and with REDIS_URL set the sessions are also revoked in the shared store at once.
 */
export async function usersCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { role: { type: 'string', multiple: true }, disabled: { type: 'boolean' }, file: { type: 'string' } },
  });
  const [action, name] = positionals;
  if (!action || !(action in ACTIONS) || name === undefined || positionals.length !== 2) {
    io.stderr.write(USAGE);
    return EXIT.error;
  }
  const config = loadConfig(io.env);
  const file = values.file ?? config.auth.usersFile;
  if (!file) throw new ConfigurationError('Give --file or set AUTH_USERS_FILE.');
  const record = await ACTIONS[action as keyof typeof ACTIONS]({ file, name, roles: values.role, disabled: values.disabled, io });
  if (action !== 'add') {
    const revoked = await revokeInRedis(config.redisUrl, record.id);
    io.stdout.write(revoked === undefined
      ? `Sessions of "${record.name}" end on their next request (each instance reads ${file} within a second).\n`
      : `Sessions of "${record.name}" ended in Redis (${revoked} live).\n`);
  }
  return EXIT.ok;
}

interface ActionInput {
  file: string;
  name: string;
  roles?: string[];
  disabled?: boolean;
  io: CliIo;
}

const ACTIONS = {
  async add({ file, name, roles, disabled, io }: ActionInput): Promise<UserRecord> {
    const password = await newPassword(io, name);
    const record = await addUserToFile(file, name, password, { roles, disabled });
    io.stdout.write(`Saved user "${record.name}" (id ${record.id}, roles ${record.roles.join(', ')}${record.disabled ? ', disabled' : ''}) to ${file}\n`);
    return record;
  },
  async passwd({ file, name, io }: ActionInput): Promise<UserRecord> {
    exists(file, name);
    const hash = await hashPassword(await newPassword(io, name), DEFAULT_SCRYPT);
    const record = known(file, name, (user) => withPasswordHash(user, hash, false));
    io.stdout.write(`Changed the password of "${record.name}" in ${file}\n`);
    return record;
  },
  // Never asks for a password: disabling must work when nobody knows it.
  async disable({ file, name, io }: ActionInput): Promise<UserRecord> {
    const record = known(file, name, (user) => ({ ...user, disabled: true }));
    io.stdout.write(`Disabled "${record.name}" in ${file}\n`);
    return record;
  },
  async 'revoke-sessions'({ file, name }: ActionInput): Promise<UserRecord> {
    return known(file, name, (user) => ({ ...user, sessionStamp: newSessionStamp() }));
  },
};

/** Before asking for a password: a ConfigurationError when there is no such user. */
function exists(file: string, name: string): void {
  const users = (JSON.parse(readFileSync(file, 'utf8')) as { users?: Array<{ name?: unknown }> }).users;
  if (!Array.isArray(users) || !users.some((user) => user?.name === name.normalize('NFC'))) throw new ConfigurationError(`There is no user "${name}" in ${file}.`);
}

/** The user's record after `change`; a ConfigurationError when there is no such user. */
function known(file: string, name: string, change: (user: UserRecord) => UserRecord): UserRecord {
  const record = updateUserInFile(file, name, change);
  if (!record) throw new ConfigurationError(`There is no user "${name}" in ${file}.`);
  return record;
}

async function newPassword(io: CliIo, name: string): Promise<string> {
  const password = await readPassword(io);
  const verdict = createPasswordPolicy().check(password, [name]);
  if (!verdict.ok) throw new ConfigurationError(describeRejection(verdict.rejection!));
  return password;
}

/** Revokes the user's sessions in the shared store when REDIS_URL is set; undefined when it is not. */
async function revokeInRedis(url: string | undefined, userId: string): Promise<number | undefined> {
  if (!url) return undefined;
  const store = createRedisStore({ url, invalidation: false });
  try {
    await store.ready(5_000);
    return await store.revokeUser(userId, Math.floor(Date.now() / 1000));
  } finally {
    await store.close();
  }
}
