import { parseArgs } from 'node:util';
import { addUserToFile, ConfigurationError, loadConfig } from '../index.js';
import { EXIT, type CliIo } from './io.js';
import { readPassword } from './read-password.js';

const USAGE = 'Usage: koa-sentinel users add <name> [--role r]... [--disabled] [--file path]\n';
/** Below this a password is refused here; the library only requires it to be non-empty. */
const MIN_PASSWORD_LENGTH = 8;

/** `koa-sentinel users add`: the password comes from stdin, never from a flag a process list would show. */
export async function usersCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { role: { type: 'string', multiple: true }, disabled: { type: 'boolean' }, file: { type: 'string' } },
  });
  const [action, name] = positionals;
  if (action !== 'add' || name === undefined || positionals.length !== 2) {
    io.stderr.write(USAGE);
    return EXIT.error;
  }
  const file = values.file ?? loadConfig(io.env).auth.usersFile;
  if (!file) throw new ConfigurationError('Give --file or set AUTH_USERS_FILE.');
  const password = await readPassword(io);
  if (password.length < MIN_PASSWORD_LENGTH) throw new ConfigurationError(`The password must be at least ${MIN_PASSWORD_LENGTH} characters.`);
  const record = await addUserToFile(file, name, password, { roles: values.role, disabled: values.disabled });
  io.stdout.write(`Saved user "${record.name}" (id ${record.id}, roles ${record.roles.join(', ')}${record.disabled ? ', disabled' : ''}) to ${file}\n`);
  return EXIT.ok;
}
