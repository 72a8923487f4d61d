import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { PromptAborted, readPassword } from '../../src/cli/read-password.js';
import type { CliIo } from '../../src/cli/io.js';

/** A terminal in raw mode: every key press arrives as its own chunk. */
function terminal(keys: string[]): { io: CliIo; raw: boolean[]; err: () => string } {
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean; setRawMode?: (raw: boolean) => void };
  const raw: boolean[] = [];
  stdin.isTTY = true;
  stdin.setRawMode = (value) => raw.push(value);
  let written = '';
  const stderr = new Writable({ write: (chunk, _encoding, done) => { written += chunk.toString(); done(); } });
  (async () => {
    for (const key of keys) {
      stdin.write(key);
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  return { io: { stdin, stdout: new PassThrough(), stderr, env: {} }, raw, err: () => written };
}

describe('readPassword', () => {
  it('deletes a character on Backspace (DEL or BS) instead of storing it, and clears the line on Ctrl-U', async () => {
    const t = terminal(['a', 'b', 'c', '\u007f', 'd', '\b', 'e', '\r']);
    assert.equal(await readPassword(t.io), 'abe');
    assert.deepEqual(t.raw, [true, false], 'raw mode on, then restored');
    assert.ok(!t.err().includes('abe'), 'never echoed');
    assert.equal(await readPassword(terminal(['w', 'r', 'o', 'n', 'g', '\u0015', 'o', 'k', '\n']).io), 'ok');
  });

  it('aborts on Ctrl-C without returning what was typed, and restores the terminal', async () => {
    const t = terminal(['a', 'b', 'c', '\u0003', 'd', '\r']);
    await assert.rejects(readPassword(t.io), PromptAborted);
    assert.deepEqual(t.raw, [true, false]);
  });

  it('ignores other control characters (arrow keys) and ends at Ctrl-D; piped input reads one line', async () => {
    assert.equal(await readPassword(terminal(['p', '\u001b', '[', 'A', 'w', '\u0004']).io), 'p[Aw');
    const piped = new PassThrough();
    piped.end('line one\nline two\n');
    assert.equal(await readPassword({ stdin: piped, stdout: new PassThrough(), stderr: new PassThrough(), env: {} }), 'line one');
  });
});
