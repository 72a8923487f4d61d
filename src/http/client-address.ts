import { isIP } from 'node:net';
import type { Context, Middleware } from 'koa';
import proxyaddr from 'proxy-addr';
import { ConfigurationError } from '../errors.js';

/**
 * The client's address, resolved once per request and read by everything that records or counts it (events,
 * access records, login throttling): `ctx.state.clientAddress`, mirrored into Koa's `ctx.ip`.
 *
 * X-Forwarded-For is a list every hop appends to, and the client writes its start. Only the entries added by
 * proxies we run can be believed, so we walk it from the right (proxy-addr, as Express does) past the trusted
 * proxies and take the address the nearest trusted one saw: leftmost entries are whatever the client wrote.
 * A value there that is not an IP address never becomes `source.ip` (an `ip` field: Elasticsearch would refuse the
 * whole document); the socket's address is used instead and the caller is told (docs/events.md).
 */

/**
 * Which peers are proxies of ours: `false`/0 none (X-Forwarded-For ignored), a number of hops (1 = one proxy in
 * front), or addresses and CIDR ranges (also proxy-addr's `loopback`, `linklocal`, `uniquelocal`). `true` is 1 hop,
 * kept for compatibility; prefer the number.
 */
export type TrustProxy = boolean | number | readonly string[];

export interface ClientAddressOptions {
  /** Default false: the socket's peer is the client. */
  trustProxy?: TrustProxy;
  /**
   * Called when the entry the trusted proxies point at is not an IP address (the socket address is used). Must
   * not throw. `forwardedFor` is the header as received, cut to 256 characters.
   */
  onMalformed?: (ctx: Context, forwardedFor: string) => void;
}

declare module 'koa' {
  interface DefaultState {
    /** The client's address, set by the clientAddress middleware (`source.ip` in events and access records). */
    clientAddress?: string;
  }
}

const MAX_HOPS = 16;
const MAX_REPORTED = 256;

/** One trust function, built once: proxy-addr calls it with each address and its distance from us (0 = socket). */
export function compileTrustProxy(value: TrustProxy | undefined): ((address: string, hop: number) => boolean) | undefined {
  if (value === undefined || value === false || value === 0) return undefined;
  if (value === true) return (_address, hop) => hop < 1;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > MAX_HOPS) {
      throw new ConfigurationError(`options.trustProxy must be a number of hops from 0 to ${MAX_HOPS}, or a list of addresses and CIDR ranges.`);
    }
    return (_address, hop) => hop < value;
  }
  if (!Array.isArray(value) || value.length === 0 || !value.every((item) => typeof item === 'string' && item.trim() !== '')) {
    throw new ConfigurationError('options.trustProxy must be false, a number of hops, or a non-empty list of addresses and CIDR ranges.');
  }
  try {
    return proxyaddr.compile(value.map((item) => item.trim()));
  } catch (error) {
    throw new ConfigurationError(`options.trustProxy: ${(error as Error).message}.`);
  }
}

/** The resolved client address (the socket's peer when the middleware did not run). */
export function clientAddressOf(ctx: Context): string {
  return ctx.state.clientAddress ?? ctx.socket?.remoteAddress ?? '';
}

export function clientAddress(options: ClientAddressOptions = {}): Middleware {
  const trust = compileTrustProxy(options.trustProxy);
  const { onMalformed } = options;
  if (onMalformed !== undefined && typeof onMalformed !== 'function') throw new ConfigurationError('options.onMalformed must be a function.');

  return (ctx, next) => {
    const peer = ctx.socket.remoteAddress ?? '';
    const forwarded = trust ? proxyaddr(ctx.req, trust) : peer;
    const malformed = isIP(forwarded) === 0 && forwarded !== peer;
    const address = malformed ? peer : forwarded;
    ctx.state.clientAddress = address;
    // Koa's own getter then agrees: code that reads ctx.ip sees the same value, never the leftmost entry.
    ctx.request.ip = address;
    if (malformed && onMalformed) {
      try {
        onMalformed(ctx, ctx.get('x-forwarded-for').slice(0, MAX_REPORTED));
      } catch {
        // Reporting never fails the request.
      }
    }
    return next();
  };
}
