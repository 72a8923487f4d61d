import type { CliIo } from './io.js';

const CTRL_D = String.fromCharCode(4);

/** Reads one line from stdin; on a terminal, without echoing it. End of line or Ctrl-D ends the password. */
export async function readPassword(io: CliIo): Promise<string> {
  const { stdin } = io;
  if (stdin.isTTY && stdin.setRawMode) io.stderr.write('Password: ');
  stdin.setRawMode?.(true);
  let text = '';
  try {
    for await (const chunk of stdin) {
      text += chunk.toString();
      if (text.includes('\n') || text.includes('\r') || text.includes(CTRL_D)) break;
    }
  } finally {
    stdin.setRawMode?.(false);
    if (stdin.isTTY) io.stderr.write('\n');
  }
  return text.split(CTRL_D)[0]!.split(/[\r\n]/)[0] ?? '';
}
