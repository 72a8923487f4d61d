import { loadConfig } from '../index.js';
import { startServer } from '../service/server.js';
import { EXIT, type CliIo } from './io.js';

/** `koa-sentinel serve`: the reference server until SIGTERM or SIGINT, then a clean shutdown. */
export async function serveCommand(_args: string[], io: CliIo): Promise<number> {
  const config = loadConfig(io.env);
  const running = await startServer(config);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      running.logger.info({ sentinel: { signal } }, `${signal} received: shutting down`);
      running.close().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  running.logger.info('stopped');
  return EXIT.ok;
}
