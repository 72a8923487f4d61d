/**
 * The access record's cost per request, in process and without sockets (BENCH_ONLY=record): the request logger
 * building its record, bunyan handing it to the ECS stream, toEcsDocument, and one JSON line, as the reference
 * server pays it for every request. The HTTP figures (bench/index.ts) carry the kernel's and the load generator's
 * noise; this one isolates the part we own. Best of a few rounds, ns per record.
 */
import type { Context } from 'koa';
import { createLogger } from '../src/logging/logger.js';
import { createRequestLogger } from '../src/logging/request-logger.js';

const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

/** Just what the request logger reads of a Koa context after a GET /api/hello with a session. */
function fakeContext(i: number): Context {
  const headers: Record<string, string> = { 'user-agent': USER_AGENT };
  return {
    path: '/api/hello',
    method: 'GET',
    status: 200,
    state: { requestId: `0b7c5f8e-8a4c-4c8e-9d55-${String(i % 1e12).padStart(12, '0')}`, clientAddress: '127.0.0.1', user: { id: 'u_bench', name: 'bench', roles: ['user'] } },
    get: (name: string) => headers[name] ?? '',
    response: { length: 27 },
    req: { httpVersion: '1.1' },
    socket: { remoteAddress: '127.0.0.1' },
  } as unknown as Context;
}

export async function accessRecord(n = 200_000, rounds = 5): Promise<{ nsPerRecord: number; bytes: number }> {
  let bytes = 0;
  const stdout = { write: (line: string): boolean => { bytes = line.length; return true; } };
  const middleware = createRequestLogger({ logger: createLogger({ name: 'bench', stdout }) });
  const contexts = Array.from({ length: 1000 }, (_, i) => fakeContext(i));
  const next = async (): Promise<void> => {};
  let best = Infinity;
  for (let round = 0; round < rounds; round += 1) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i += 1) await middleware(contexts[i % contexts.length]!, next);
    best = Math.min(best, Number(process.hrtime.bigint() - started) / n);
  }
  console.log(`\nAccess record (request logger + bunyan + ECS document + JSON line, in process): ${Math.round(best)} ns per request, ${bytes} bytes per line`);
  return { nsPerRecord: best, bytes };
}
