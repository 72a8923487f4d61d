import { ConfigurationError } from '../index.js';
import type { CliIo } from './io.js';

const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const CTRL_U = '\u0015';
const BACKSPACE = '\u0008';
const DELETE = '\u007f';

/** Ctrl-C at the prompt: nothing is saved. A ConfigurationError, so the CLI prints one line and exits 2. */
export class PromptAborted extends ConfigurationError {
  constructor() {
    super('Aborted: nothing was saved.');
  }
}

/**
 * Reads one password from stdin; on a terminal in raw mode, without echoing it. Enter or Ctrl-D ends it,
 * Backspace (DEL or BS) deletes the last character, Ctrl-U the whole line, and Ctrl-C aborts (PromptAborted):
 * in raw mode the terminal does none of this for us, and a stored control character would be a password nobody
 * can type again. Piped input gets the same treatment, so scripts and a terminal agree.
 */
export async function readPassword(io: CliIo, prompt = 'Password: '): Promise<string> {
  const { stdin } = io;
  const terminal = stdin.isTTY === true && typeof stdin.setRawMode === 'function';
  if (terminal) io.stderr.write(prompt);
  stdin.setRawMode?.(true);
  let chars: string[] = [];
  let done = false;
  try {
    for await (const chunk of stdin) {
      for (const char of chunk.toString()) {
        if (char === CTRL_C) throw new PromptAborted();
        if (char === '\r' || char === '\n' || char === CTRL_D) {
          done = true;
          break;
        }
        if (char === DELETE || char === BACKSPACE) chars.pop();
        else if (char === CTRL_U) chars = [];
        // Other control characters (arrow keys' escape sequences and the like) are never part of a password.
        else if (!/\p{Cc}/u.test(char)) chars.push(char);
      }
      if (done) break;
    }
  } finally {
    stdin.setRawMode?.(false);
    if (terminal) io.stderr.write('\n');
  }
  return chars.join('');
}
