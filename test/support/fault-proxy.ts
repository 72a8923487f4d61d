/**
 * A small fault-injecting HTTP proxy to put between the shipper and a real Elasticsearch (docs/architecture.md). It
 * forwards every request to `target` and misbehaves on demand; the mode can be switched at any time:
 *
 * - `pass`: forward as is.
 * - `latency`: wait `ms` before forwarding. The request is forwarded even if the client gave up meanwhile, as a
 *   slow network would do: Elasticsearch may index what the client believes failed.
 * - `status`: answer 429 or 503 for the whole request without forwarding it (a `fraction` of requests; default all).
 * - `item-status`: for `_bulk`, fail a `fraction` of the items with 429 or 503. Honestly: the body is split, only
 *   the items let through are forwarded, and the refused ones get synthesized error entries at their positions
 *   in the response, so a refused item is really not indexed. Other requests pass.
 * - `drop`: destroy the client socket without an answer (a `fraction` of requests; default all). With
 *   `afterForward` the request is first forwarded and its answer awaited: Elasticsearch did the work, the client
 *   never hears of it (the case that makes a retry meet 409s).
 * - `refuse`: close the listener and every open connection, so connections are refused; any other mode opens it
 *   again on the same port.
 *
 * Faults are drawn from a seeded generator, so a run is repeatable. No dependencies: node:http only.
 */
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mulberry32 } from './random.js';

export type FaultMode =
  | { kind: 'pass' }
  | { kind: 'latency'; ms: number }
  | { kind: 'status'; status: 429 | 503; fraction?: number }
  | { kind: 'item-status'; status: 429 | 503; fraction: number }
  | { kind: 'drop'; fraction?: number; afterForward?: boolean }
  | { kind: 'refuse' };

export interface FaultProxyStats {
  /** Requests received (a refused connection never arrives, so it is not counted). */
  requests: number;
  /** `_bulk` requests received. */
  bulkRequests: number;
  /** Items (actions) in the `_bulk` bodies received, faulted or not. */
  bulkItems: number;
  /** Requests forwarded to the target (whole or in part). */
  forwarded: number;
  /** Requests answered with an injected status. */
  statusFaults: number;
  /** Bulk items answered with an injected status (not forwarded). */
  itemFaults: number;
  /** Requests whose connection was destroyed without an answer. */
  drops: number;
}

export interface FaultProxyOptions {
  mode?: FaultMode;
  /** Seed of the fault generator. Default 1. */
  seed?: number;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: stable across refuse/reopen. */
  readonly url: string;
  readonly port: number;
  readonly mode: FaultMode;
  readonly stats: Readonly<FaultProxyStats>;
  /** Switches the mode; resolves once the listener is closed (refuse) or listening again (any other mode). */
  setMode(mode: FaultMode): Promise<void>;
  resetStats(): void;
  close(): Promise<void>;
}

const INJECTED_REASON = 'injected by the fault proxy';
/** The 8.x client refuses a 2xx answer without this header (product check). */
const PRODUCT_HEADERS = { 'x-elastic-product': 'Elasticsearch', 'content-type': 'application/json' };
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host', 'accept-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer']);

interface Upstream {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface BulkItem {
  op: string;
  index: unknown;
  id: unknown;
  /** The action line and, except for delete, the source line, each ending in a newline. */
  text: string;
}

function errorBody(status: number): string {
  const type = status === 429 ? 'es_rejected_execution_exception' : 'unavailable_shards_exception';
  return JSON.stringify({ error: { type, reason: INJECTED_REASON }, status });
}

function parseBulk(body: string): BulkItem[] | undefined {
  const lines = body.split('\n');
  const items: BulkItem[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    let action: Record<string, { _index?: unknown; _id?: unknown }>;
    try {
      action = JSON.parse(line) as typeof action;
    } catch {
      return undefined;
    }
    const op = Object.keys(action)[0];
    if (!op) return undefined;
    let text = `${line}\n`;
    if (op !== 'delete') {
      i += 1;
      if (i >= lines.length) return undefined;
      text += `${lines[i]}\n`;
    }
    items.push({ op, index: action[op]?._index, id: action[op]?._id, text });
  }
  return items;
}

export async function startFaultProxy(target: string, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const targetUrl = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  // Seeded: good enough to pick faults repeatably.
  const random = mulberry32(options.seed ?? 1);
  const sockets = new Set<Socket>();
  const stats: FaultProxyStats = { requests: 0, bulkRequests: 0, bulkItems: 0, forwarded: 0, statusFaults: 0, itemFaults: 0, drops: 0 };
  let mode: FaultMode = options.mode ?? { kind: 'pass' };
  let server: Server | undefined;
  let port = 0;
  let closed = false;

  const forward = (req: IncomingMessage, body: Buffer): Promise<Upstream> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      headers['content-length'] = String(body.length);
      stats.forwarded += 1;
      const upstream = httpRequest(
        { protocol: targetUrl.protocol, hostname: targetUrl.hostname, port: targetUrl.port, method: req.method, path: req.url, headers, agent },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(chunks) }));
          response.on('error', reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });

  const reply = (res: ServerResponse, status: number, headers: IncomingHttpHeaders | Record<string, string>, body: Buffer | string): void => {
    if (res.destroyed || res.writableEnded) return;
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
    const payload = typeof body === 'string' ? Buffer.from(body) : body;
    out['content-length'] = String(payload.length);
    res.writeHead(status, out);
    res.end(payload);
  };

  const relay = async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> => {
    const upstream = await forward(req, body);
    reply(res, upstream.status, upstream.headers, upstream.body);
  };

  /** Forwards the items the dice let through; refused ones get an injected status at their own position. */
  const bulkWithItemFaults = async (req: IncomingMessage, res: ServerResponse, body: Buffer, status: number, fraction: number): Promise<void> => {
    const items = parseBulk(body.toString('utf8'));
    if (!items) return relay(req, res, body);
    const refused = items.map(() => random() < fraction);
    const passing = items.filter((_, i) => !refused[i]);
    const injected = (item: BulkItem): Record<string, unknown> => ({
      [item.op]: { _index: item.index, _id: item.id, status, error: { type: status === 429 ? 'es_rejected_execution_exception' : 'unavailable_shards_exception', reason: INJECTED_REASON } },
    });
    stats.itemFaults += items.length - passing.length;
    if (passing.length === items.length) return relay(req, res, body);
    if (passing.length === 0) {
      reply(res, 200, PRODUCT_HEADERS, JSON.stringify({ took: 0, errors: true, items: items.map(injected) }));
      return;
    }
    const upstream = await forward(req, Buffer.from(passing.map((item) => item.text).join('')));
    let answered: { took?: number; items?: unknown[] };
    try {
      answered = JSON.parse(upstream.body.toString('utf8')) as typeof answered;
    } catch {
      answered = {};
    }
    if (upstream.status < 200 || upstream.status >= 300 || !Array.isArray(answered.items) || answered.items.length !== passing.length) {
      reply(res, upstream.status, upstream.headers, upstream.body);
      return;
    }
    let k = 0;
    const merged = items.map((item, i) => (refused[i] ? injected(item) : answered.items![k++]));
    reply(res, upstream.status, upstream.headers, JSON.stringify({ took: answered.took ?? 0, errors: true, items: merged }));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const current = mode;
    const isBulk = req.method !== 'GET' && /\/_bulk(?:\?|$)/.test(req.url ?? '');
    stats.requests += 1;
    if (isBulk) {
      stats.bulkRequests += 1;
      stats.bulkItems += parseBulk(body.toString('utf8'))?.length ?? 0;
    }
    switch (current.kind) {
      case 'latency':
        await new Promise((resolve) => setTimeout(resolve, current.ms));
        return relay(req, res, body);
      case 'status':
        if (random() < (current.fraction ?? 1)) {
          stats.statusFaults += 1;
          reply(res, current.status, PRODUCT_HEADERS, errorBody(current.status));
          return;
        }
        return relay(req, res, body);
      case 'item-status':
        if (!isBulk) return relay(req, res, body);
        return bulkWithItemFaults(req, res, body, current.status, current.fraction);
      case 'drop':
        if (random() < (current.fraction ?? 1)) {
          stats.drops += 1;
          if (current.afterForward) await forward(req, body).catch(() => undefined);
          req.socket.destroy();
          return;
        }
        return relay(req, res, body);
      default:
        return relay(req, res, body);
    }
  };

  const open = async (): Promise<void> => {
    if (server || closed) return;
    const created = createServer((req, res) => {
      handle(req, res).catch((error: unknown) => {
        // The target itself is unreachable or broke the connection: say so as a gateway would.
        reply(res, 502, PRODUCT_HEADERS, JSON.stringify({ error: { type: 'fault_proxy_upstream', reason: (error as Error).message }, status: 502 }));
      });
    });
    created.keepAliveTimeout = 5_000;
    created.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      created.once('error', reject);
      created.listen(port, '127.0.0.1', () => {
        created.off('error', reject);
        resolve();
      });
    });
    port = (created.address() as AddressInfo).port;
    server = created;
  };

  const shut = async (): Promise<void> => {
    const running = server;
    if (!running) return;
    server = undefined;
    const done = new Promise<void>((resolve) => running.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await done;
  };

  // Listen once even when starting in refuse mode: the port is fixed from here on.
  await open();
  if (mode.kind === 'refuse') await shut();

  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get mode() {
      return mode;
    },
    get stats() {
      return { ...stats };
    },
    async setMode(next) {
      if (closed) throw new Error('The fault proxy is closed.');
      mode = next;
      if (next.kind === 'refuse') await shut();
      else await open();
    },
    resetStats() {
      for (const key of Object.keys(stats) as Array<keyof FaultProxyStats>) stats[key] = 0;
    },
    async close() {
      closed = true;
      await shut();
      agent.destroy();
    },
  };
}
