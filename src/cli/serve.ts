import type { EventEmitter } from 'node:events';
import { loadConfig } from '../index.js';
import { startServer } from '../service/server.js';
import { EXIT, type CliIo } from './io.js';

/** Exit code after a last-resort handler fired: 70 is sysexits' EX_SOFTWARE, "internal software error". */
export const EXIT_CRASH = 70;

export interface LastResortOptions {
  /** Where the one fatal line goes (the server's logger: redacted ECS, the error's name, message, code and stack). */
  logger: { fatal(fields: Record<string, unknown>, message: string): unknown };
  /** The orderly shutdown: drain the shipper into the spool, close the store. */
  close(deadlineMs: number): Promise<void>;
  exit(code: number): void;
  /** Default process; a test passes an EventEmitter. */
  target?: Pick<EventEmitter, 'on' | 'off'>;
  /** How long the shutdown may take before the process exits anyway. Default 5 s. */
  deadlineMs?: number;
}

/**
 * Process-level last resort (ASVS 16.5.4): an exception nobody caught, or a promise rejection nobody handled, is
 * logged once and the process exits after an orderly close, instead of dying mid-line or running on in an unknown
 * state. The error goes through the logger's serializer and redaction, never as the raw object (its enumerable
 * fields could hold request data). Returns a function that removes the handlers.
 */
export function installLastResortHandlers(options: LastResortOptions): () => void {
  const target = options.target ?? process;
  const deadlineMs = options.deadlineMs ?? 5_000;
  let fired = false;
  const fail = (kind: 'uncaughtException' | 'unhandledRejection') => (error: unknown): void => {
    if (fired) return;
    fired = true;
    try {
      options.logger.fatal({ err: error, sentinel: { crash: kind } }, `${kind}: shutting down`);
    } catch {
      // The logger itself is broken: exit all the same.
    }
    // Not unref'd: an empty event loop would end the process with code 0, hiding the crash.
    const timer = setTimeout(() => options.exit(EXIT_CRASH), deadlineMs);
    options.close(deadlineMs).catch(() => undefined).finally(() => {
      clearTimeout(timer);
      options.exit(EXIT_CRASH);
    });
  };
  const onException = fail('uncaughtException');
  const onRejection = fail('unhandledRejection');
  target.on('uncaughtException', onException);
  target.on('unhandledRejection', onRejection);
  return () => {
    target.off('uncaughtException', onException);
    target.off('unhandledRejection', onRejection);
  };
}

/** `koa-sentinel serve`: the reference server until SIGTERM or SIGINT, then a clean shutdown. */
export async function serveCommand(_args: string[], io: CliIo): Promise<number> {
  const config = loadConfig(io.env);
  const running = await startServer(config);
  const removeHandlers = installLastResortHandlers({ logger: running.logger, close: (ms) => running.close(ms), exit: (code) => process.exit(code) });
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      running.logger.info({ sentinel: { signal } }, `${signal} received: shutting down`);
      running.close().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  removeHandlers();
  running.logger.info('stopped');
  return EXIT.ok;
}
