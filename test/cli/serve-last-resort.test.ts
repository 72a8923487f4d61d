import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { EXIT_CRASH, installLastResortHandlers } from '../../src/cli/serve.js';
import { createLogger } from '../../src/logging/logger.js';

/** The serve command's process-level handlers, on an EventEmitter standing in for `process` and a real logger. */

function harness(close: (ms: number) => Promise<void>) {
  const target = new EventEmitter();
  const lines: string[] = [];
  const stdout = new Writable({ write(chunk, _encoding, callback) { lines.push(chunk.toString()); callback(); } });
  const logger = createLogger({ name: 'crash-test', stdout });
  const exits: number[] = [];
  let exited: () => void = () => undefined;
  const done = new Promise<void>((resolve) => { exited = resolve; });
  const remove = installLastResortHandlers({ logger, close, exit: (code) => { exits.push(code); exited(); }, target, deadlineMs: 200 });
  return { target, lines, exits, done, remove };
}

describe('serve: last-resort handlers (ASVS 16.5.4)', () => {
  it('logs an uncaught exception once, redacted, closes the server, then exits 70', async () => {
    let closedWith: number | undefined;
    const h = harness(async (ms) => { closedWith = ms; });
    const error = Object.assign(new Error('boom with Bearer abcdefghijklmnop.qrstuvwx'), { request: { headers: { cookie: 'sid=secret-cookie-value' } } });
    h.target.emit('uncaughtException', error);
    h.target.emit('uncaughtException', new Error('a second one is ignored'));
    await h.done;
    assert.deepEqual(h.exits, [EXIT_CRASH]);
    assert.equal(closedWith, 200);
    assert.equal(h.lines.length, 1, h.lines.join(''));
    const doc = JSON.parse(h.lines[0]!) as { log: { level: string }; message: string; sentinel: { crash: string }; error: { message: string; stack_trace: string } };
    assert.equal(doc.log.level, 'fatal');
    assert.equal(doc.sentinel.crash, 'uncaughtException');
    assert.match(doc.message, /^uncaughtException: shutting down$/);
    assert.match(doc.error.message, /^boom with Bearer \[REDACTED\]/);
    assert.ok(!h.lines[0]!.includes('secret-cookie-value'), 'enumerable extras of the error are not logged');
    assert.ok(!h.lines[0]!.includes('abcdefghijklmnop'), 'credentials in the message are redacted');
  });

  it('handles an unhandled rejection the same way, and exits by the deadline when close hangs', async () => {
    const h = harness(() => new Promise(() => undefined));
    const started = Date.now();
    h.target.emit('unhandledRejection', 'a plain string reason');
    await h.done;
    assert.deepEqual(h.exits, [EXIT_CRASH]);
    assert.ok(Date.now() - started >= 150, 'waited for the close deadline');
    const doc = JSON.parse(h.lines[0]!) as { sentinel: { crash: string }; error: { message: string } };
    assert.equal(doc.sentinel.crash, 'unhandledRejection');
    assert.equal(doc.error.message, 'a plain string reason');
  });

  it('removes its listeners', () => {
    const h = harness(async () => undefined);
    assert.equal(h.target.listenerCount('uncaughtException'), 1);
    h.remove();
    assert.equal(h.target.listenerCount('uncaughtException'), 0);
    assert.equal(h.target.listenerCount('unhandledRejection'), 0);
  });
});
