import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type bunyan from 'bunyan';
import type { Config } from '../config/env.js';
import { formatDuration } from '../config/duration.js';
import { createLogger } from '../logging/logger.js';
import { createEphemeralKeyRing, createKeyRing, type KeyRing } from '../session/key-ring.js';
import { hashPassword } from '../session/passwords.js';
import { createFileUserDirectory, createMemoryUserDirectory, type UserDirectory, type UserRecord } from '../session/users.js';
import { createApp, type SentinelApp } from './app.js';

/** Development-only accounts (never in production: config requires AUTH_USERS_FILE there). */
export const DEV_USERS = [
  { name: 'demo', password: 'demo-password', roles: ['user'] },
  { name: 'admin', password: 'admin-password', roles: ['user', 'admin'] },
] as const;

export interface RunningServer extends SentinelApp {
  server: Server;
  url: string;
  logger: bunyan;
  /** Stops accepting, lets in-flight requests finish (up to `deadlineMs`), then releases everything. */
  close(deadlineMs?: number): Promise<void>;
}

export interface StartOptions {
  logger?: bunyan;
}

/** Builds the key ring, users and app from the validated config, listens, and reports what it did. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger({ name: 'koa-sentinel', level: config.logLevel });
  const keyRing = buildKeyRing(config, logger);
  const users = await buildUsers(config, logger);
  const sentinel = createApp({
    logger,
    trustProxy: config.trustProxy,
    production: config.nodeEnv === 'production',
    session: {
      keyRing,
      users,
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      accessTtlMs: config.jwt.accessTtlMs,
      refreshTtlMs: config.jwt.refreshTtlMs,
      absoluteTtlMs: config.jwt.absoluteTtlMs,
      clockToleranceSec: config.jwt.clockToleranceSec,
      bearer: config.auth.bearer,
      allowedOrigins: config.auth.allowedOrigins,
    },
  });

  const server = sentinel.app.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  // Slow-loris and idle sockets: bounded header and request times.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  logger.info({ url: { full: url }, sentinel: { keys: keyRing.kids, access_ttl: formatDuration(config.jwt.accessTtlMs), bearer: config.auth.bearer } }, `koa-sentinel listening on ${url}`);

  let closing: Promise<void> | undefined;
  const close = (deadlineMs = 10_000): Promise<void> => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), deadlineMs);
      await closed;
      clearTimeout(timer);
      await sentinel.kit.close();
    })();
    return closing;
  };
  return { ...sentinel, server, url, logger, close };
}

function buildKeyRing(config: Config, logger: bunyan): KeyRing {
  if (!config.jwt.ephemeral) return createKeyRing(config.jwt.keys.map((key) => ({ ...key })), config.jwt.activeKid);
  logger.warn({ sentinel: { warning: 'ephemeral_key' } },
    `No JWT_SECRET or JWT_KEYS_FILE: signing with an ephemeral key. Sessions end when this process stops. (Refused when NODE_ENV=production.)`);
  return createEphemeralKeyRing();
}

async function buildUsers(config: Config, logger: bunyan): Promise<UserDirectory> {
  if (config.auth.usersFile) {
    const directory = createFileUserDirectory(config.auth.usersFile);
    logger.info({ sentinel: { users: directory.size } }, `Loaded ${directory.size} users from ${config.auth.usersFile}`);
    return directory;
  }
  // Development only (config refuses production without a users file): two throwaway accounts with the
  // well-known passwords of DEV_USERS, documented in the README, so nothing secret is ever printed.
  const demo: UserRecord[] = [];
  for (const user of DEV_USERS) {
    demo.push({ id: `u_${user.name}`, name: user.name, roles: [...user.roles], passwordHash: await hashPassword(user.password) });
  }
  logger.warn({ sentinel: { warning: 'demo_users' } },
    `No AUTH_USERS_FILE: development users ${DEV_USERS.map((u) => u.name).join(' and ')} exist (passwords in the README). Add real ones with: koa-sentinel users add <name>`);
  return createMemoryUserDirectory(demo);
}
