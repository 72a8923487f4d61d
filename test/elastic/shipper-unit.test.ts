/**
 * The shipper with a fake client and fake timers: every timing rule (batch age, backoff, flush deadline) is checked
 * to the millisecond, and every answer Elasticsearch can give is scripted. The real-server behaviour (faults
 * through a proxy, crashes, memory under load) is covered by shipper.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it, mock, type TestContext } from 'node:test';
import type { ElasticClient } from '../../src/elastic/client.js';
import { createShipper, type Shipper, type ShipperOptions, type Timers } from '../../src/elastic/shipper.js';
import { ConfigurationError } from '../../src/errors.js';
import { removeSpool } from '../support/secret-ledger.js';

// ---------------------------------------------------------------------------------------------------------------
// A fake client: records each bulk request and answers it with the next scripted reply (default: all 201).

interface BulkCall {
  ids: string[];
  indices: string[];
  params: Record<string, unknown>;
  options: Record<string, unknown>;
}

type Reply = (call: BulkCall) => unknown;

function fakeClient() {
  const calls: BulkCall[] = [];
  const replies: Reply[] = [];
  let fallback: Reply = (call) => ({ items: call.ids.map(() => ({ create: { status: 201 } })) });
  const client = {
    async bulk(params: Record<string, unknown>, options: Record<string, unknown> = {}) {
      const lines = String(params.operations).split('\n').filter(Boolean);
      const actions = lines.filter((_, i) => i % 2 === 0).map((line) => (JSON.parse(line) as { create: { _id: string; _index: string } }).create);
      const call = { ids: actions.map((a) => a._id), indices: actions.map((a) => a._index), params, options };
      calls.push(call);
      const reply = replies.shift() ?? fallback;
      return reply(call);
    },
  };
  return {
    client: client as unknown as ElasticClient,
    calls,
    /** Answers the next request with these item statuses (by position). */
    next(reply: Reply) {
      replies.push(reply);
    },
    always(reply: Reply) {
      fallback = reply;
    },
  };
}

const statuses = (...list: number[]): Reply => () => ({
  items: list.map((status) => ({ create: { status, ...(status >= 400 && status !== 409 ? { error: { type: status === 400 ? 'document_parsing_exception' : 'es_rejected_execution_exception', reason: 'scripted' } } : {}) } })),
});
const connectionError = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { name: 'ConnectionError' });
const responseError = (statusCode: number, body: unknown = {}): Error => Object.assign(new Error('Response Error'), { name: 'ResponseError', statusCode, body });
const failWith = (error: () => Error): Reply => () => Promise.reject(error());
/** A request that never answers (until the test ends). */
const hang: Reply = () => new Promise(() => undefined);

// ---------------------------------------------------------------------------------------------------------------

let seq = 0;
function doc(dataset = 'sentinel.security', extra: Record<string, unknown> = {}) {
  seq += 1;
  return { '@timestamp': '2025-03-01T10:00:00.000Z', message: `doc ${seq}`, event: { id: `id-${seq}`, dataset }, ...extra };
}

/** Lets the fake client's promises and the shipper's continuations run (setImmediate is not mocked). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Advances fake time in steps, letting promises run between them. */
async function advance(ms: number, step = 10): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    mock.timers.tick(Math.min(step, ms - done));
    await settle();
  }
}

function spoolDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-shipper-unit-'));
  t.after(() => removeSpool(dir, 'shipper-unit'));
  return dir;
}

const chunkFiles = (dir: string): string[] => readdirSync(dir).filter((name) => name.startsWith('chunk-'));

/** random 0.5: each backoff is exactly half its ceiling, so the tests know when a retry is due. */
function shipperWith(t: TestContext, fake: ReturnType<typeof fakeClient> | undefined, options: Partial<ShipperOptions> = {}): { shipper: Shipper; dir: string; errors: string[] } {
  const dir = options.dir ?? spoolDir(t);
  const errors: string[] = [];
  const shipper = createShipper({
    client: fake?.client, indexPrefix: 'unit', dir, maxBatchAgeMs: 1000, retryBaseMs: 100, retryMaxMs: 1000, random: () => 0.5,
    onError: (message) => errors.push(message), ...options,
  });
  return { shipper, dir, errors };
}

describe('shipper (fake client, fake timers)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_700_000_000_000 }));
  afterEach(() => mock.timers.reset());

  describe('batching', () => {
    it('sends a batch when it reaches batchSize, at once', async (t) => {
      const fake = fakeClient();
      const { shipper } = shipperWith(t, fake, { batchSize: 3 });
      shipper.start();
      const docs = Array.from({ length: 7 }, () => doc());
      for (const d of docs) shipper.write(d);
      await settle();
      assert.deepEqual(fake.calls.map((c) => c.ids), [docs.slice(0, 3).map((d) => d.event.id), docs.slice(3, 6).map((d) => d.event.id)]);
      assert.equal(shipper.stats().queueDepth, 1, 'the seventh waits for its batch to fill or age');
      assert.equal(shipper.stats().delivered, 6);
    });

    it('sends a batch when it reaches batchBytes', async (t) => {
      const fake = fakeClient();
      const { shipper } = shipperWith(t, fake, { batchBytes: 300 });
      shipper.start();
      const big = doc('sentinel.security', { padding: 'x'.repeat(250) });
      shipper.write(doc());
      await settle();
      assert.equal(fake.calls.length, 0);
      shipper.write(big);
      await settle();
      assert.equal(fake.calls.length, 1);
      assert.equal(fake.calls[0]!.ids.length, 2);
    });

    it('sends a batch maxBatchAgeMs after its first document, not before', async (t) => {
      const fake = fakeClient();
      const { shipper } = shipperWith(t, fake, { maxBatchAgeMs: 500 });
      shipper.start();
      shipper.write(doc());
      await advance(300);
      shipper.write(doc('sentinel.access'));
      await advance(199, 1);
      assert.equal(fake.calls.length, 0, 'nothing is sent before the first document is 500 ms old');
      await advance(1, 1);
      assert.equal(fake.calls.length, 1);
      assert.deepEqual(fake.calls[0]!.indices, ['unit-events-2025.03.01', 'unit-access-2025.03.01']);
      assert.equal(shipper.stats().delivered, 2);
    });

    it('sends create actions with _id = event.id, no client retries, and the request timeout', async (t) => {
      const fake = fakeClient();
      const { shipper } = shipperWith(t, fake, { requestTimeoutMs: 1234 });
      shipper.start();
      const d = doc();
      shipper.write(d);
      shipper.write({ message: 'not shipped', event: { dataset: 'someone.else' } });
      assert.equal(await shipper.flush(), true);
      assert.equal(fake.calls.length, 1);
      const [call] = fake.calls;
      assert.deepEqual(call!.ids, [d.event.id]);
      assert.match(String(call!.params.operations), /^{"create":{"_index":"unit-events-2025\.03\.01","_id":"id-\d+"}}\n{"@timestamp"/);
      assert.equal(call!.params.include_source_on_error, false, 'error answers must not echo documents');
      assert.deepEqual(call!.options, { requestTimeout: 1234, maxRetries: 0 });
    });
  });

  describe('answers per item', () => {
    it('retries only the 429 and 503 items, after the backoff, and deletes the chunk file when all are in', async (t) => {
      const fake = fakeClient();
      const { shipper, dir } = shipperWith(t, fake);
      shipper.start();
      const docs = [doc(), doc(), doc(), doc()];
      for (const d of docs) shipper.write(d);
      fake.next(statuses(201, 429, 201, 503));
      fake.next(statuses(201, 429));
      shipper.flush(0).catch(() => undefined); // seals the batch without waiting
      await settle();
      assert.equal(fake.calls.length, 1);
      assert.equal(shipper.stats().delivered, 2);
      assert.equal(shipper.stats().queueDepth, 2);
      // First retry: ceiling retryBaseMs = 100, random 0.5 → 50 ms.
      await advance(49, 1);
      assert.equal(fake.calls.length, 1, 'no retry before the backoff ends');
      await advance(1, 1);
      assert.deepEqual(fake.calls[1]!.ids, [docs[1]!.event.id, docs[3]!.event.id], 'only the refused items are resent');
      // Second retry of the same chunk: ceiling 200 → 100 ms.
      await advance(99, 1);
      assert.equal(fake.calls.length, 2);
      await advance(1, 1);
      assert.deepEqual(fake.calls[2]!.ids, [docs[3]!.event.id]);
      const stats = shipper.stats();
      assert.equal(stats.delivered, 4);
      assert.equal(stats.retried, 3);
      assert.equal(stats.duplicates, 0);
      assert.equal(stats.queueDepth, 0);
      assert.deepEqual(chunkFiles(dir), []);
      assert.equal(stats.lastDeliveryAt, new Date(Date.now()).toISOString());
    });

    it('counts a 409 as delivered (and as a duplicate), never resending it', async (t) => {
      const fake = fakeClient();
      const { shipper, dir } = shipperWith(t, fake);
      shipper.start();
      shipper.write(doc());
      shipper.write(doc());
      fake.next(statuses(409, 201));
      assert.equal(await shipper.flush(), true);
      await advance(2000, 100);
      assert.equal(fake.calls.length, 1);
      assert.equal(shipper.stats().delivered, 2);
      assert.equal(shipper.stats().duplicates, 1);
      assert.deepEqual(chunkFiles(dir), []);
    });

    it('dead-letters a 400 into the file and the dead-letter index, delivers the rest, never resends it', async (t) => {
      const fake = fakeClient();
      const { shipper, dir, errors } = shipperWith(t, fake);
      shipper.start();
      const docs = [doc(), doc('sentinel.security', { source: { ip: 'not-an-ip' } }), doc()];
      for (const d of docs) shipper.write(d);
      fake.next(statuses(201, 400, 201));
      const flushed = shipper.flush(5000);
      await settle();
      await advance(1000, 50);
      assert.equal(await flushed, true, 'flush waits for the dead letter it produced, too');
      assert.equal(fake.calls.length, 2);
      assert.equal(fake.calls[1]!.ids.length, 1);
      assert.match(fake.calls[1]!.indices[0]!, /^unit-deadletter-\d{4}\.\d{2}\.\d{2}$/);
      const [record] = readFileSync(join(dir, 'deadletter.ndjson'), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
      assert.equal(record.sentinel.deadletter.document_id, docs[1]!.event.id);
      assert.equal(record.sentinel.deadletter.status, 400);
      assert.equal(record.sentinel.deadletter.index, 'unit-events-2025.03.01');
      assert.match(record.sentinel.deadletter.document, /not-an-ip/);
      assert.equal(record.error.type, 'document_parsing_exception');
      assert.equal(record['@timestamp'], new Date(1_700_000_000_000).toISOString(), 'stamped by the injected clock');
      const stats = shipper.stats();
      assert.equal(stats.deadLettered, 1);
      assert.equal(stats.delivered, 3, 'two documents and the dead letter');
      assert.equal(stats.retried, 0);
      assert.ok(errors.some((e) => /Dead-lettered a document for unit-events-2025\.03\.01: 400 document_parsing_exception/.test(e)));
      assert.ok(errors.every((e) => !e.includes('not-an-ip')), 'messages never carry document contents');
    });

    it('keeps a refused dead letter in the file only (no dead letter of a dead letter)', async (t) => {
      const fake = fakeClient();
      const { shipper, dir } = shipperWith(t, fake);
      shipper.start();
      shipper.write(doc());
      fake.next(statuses(400));
      fake.next(statuses(400));
      const flushed = shipper.flush(5000);
      await advance(1000, 50);
      assert.equal(await flushed, true);
      assert.equal(fake.calls.length, 2);
      assert.equal(shipper.stats().deadLettered, 2);
      assert.equal(readFileSync(join(dir, 'deadletter.ndjson'), 'utf8').split('\n').filter(Boolean).length, 2);
    });
  });

  describe('whole-request failures', () => {
    it('backs off (growing, jittered) and keeps the chunk on disk until a request succeeds', async (t) => {
      const fake = fakeClient();
      const { shipper, dir, errors } = shipperWith(t, fake);
      shipper.start();
      const docs = [doc(), doc()];
      for (const d of docs) shipper.write(d);
      fake.next(failWith(connectionError));
      fake.next(failWith(connectionError));
      fake.next(failWith(() => responseError(503)));
      await advance(1000, 1000);
      assert.equal(fake.calls.length, 1);
      assert.equal(shipper.stats().elasticsearchReachable, false);
      assert.equal(chunkFiles(dir).length, 1, 'the chunk stays on disk');
      assert.match(errors.at(-1)!, /Cannot reach Elasticsearch/);
      // Consecutive failures 1, 2, 3: ceilings 100, 200, 400 → delays 50, 100, 200.
      for (const [delay, calls] of [[50, 2], [100, 3], [200, 4]] as const) {
        await advance(delay - 1, 1);
        assert.equal(fake.calls.length, calls - 1, `not before ${delay} ms`);
        await advance(1, 1);
        assert.equal(fake.calls.length, calls, `after ${delay} ms`);
        assert.deepEqual(fake.calls.at(-1)!.ids, docs.map((d) => d.event.id), 'the same documents, in the same order');
      }
      const stats = shipper.stats();
      assert.equal(stats.elasticsearchReachable, true);
      assert.equal(stats.delivered, 2);
      assert.equal(stats.retried, 6, 'two documents held back by each of three failures');
      assert.deepEqual(chunkFiles(dir), []);
    });

    it('a 503 answer keeps Elasticsearch "reachable"; a failure backs off every chunk, oldest first', async (t) => {
      const fake = fakeClient();
      const { shipper } = shipperWith(t, fake, { batchSize: 1, concurrency: 1 });
      shipper.start();
      const [first, second] = [doc(), doc()];
      fake.next(failWith(() => responseError(503)));
      shipper.write(first);
      shipper.write(second);
      await settle();
      assert.deepEqual(fake.calls.map((c) => c.ids), [[first.event.id]]);
      assert.equal(shipper.stats().elasticsearchReachable, true);
      await advance(50, 1);
      assert.deepEqual(fake.calls.map((c) => c.ids), [[first.event.id], [first.event.id], [second.event.id]], 'the oldest goes first, then the next');
    });

    it('learns once that an old server refuses include_source_on_error, and resends at once without it', async (t) => {
      const fake = fakeClient();
      const { shipper } = shipperWith(t, fake);
      shipper.start();
      fake.next(failWith(() => responseError(400, { error: { type: 'illegal_argument_exception', reason: 'request [/_bulk] contains unrecognized parameter: [include_source_on_error]' } })));
      shipper.write(doc());
      assert.equal(await shipper.flush(), true);
      shipper.write(doc());
      assert.equal(await shipper.flush(), true);
      assert.deepEqual(fake.calls.map((c) => 'include_source_on_error' in c.params), [true, false, false]);
      assert.equal(shipper.stats().retried, 0);
      assert.equal(shipper.stats().delivered, 2);
    });

    it('a short item retry does not wait behind a long one scheduled earlier', async (t) => {
      const fake = fakeClient();
      const randoms = [0.99, 0.01];
      const { shipper } = shipperWith(t, fake, { batchSize: 1, retryBaseMs: 1000, retryMaxMs: 1000, random: () => randoms.shift() ?? 0.5 });
      shipper.start();
      fake.next(statuses(429)); // first chunk: retry in 990 ms
      fake.next(statuses(429)); // second chunk: retry in 10 ms
      shipper.write(doc());
      shipper.write(doc());
      await settle();
      assert.equal(fake.calls.length, 2);
      await advance(10, 1);
      assert.equal(fake.calls.length, 3, 'the second chunk was retried after its own 10 ms');
      await advance(980, 10);
      assert.equal(fake.calls.length, 4);
      assert.equal(shipper.stats().queueDepth, 0);
    });
  });

  describe('memory bound', () => {
    it('keeps the backlog on disk beyond maxMemoryBytes and reads it back, oldest first, to deliver it all', async (t) => {
      const fake = fakeClient();
      fake.always(failWith(connectionError));
      const { shipper } = shipperWith(t, fake, { batchSize: 10, maxMemoryBytes: 5000, concurrency: 1 });
      shipper.start();
      const docs = Array.from({ length: 300 }, () => doc());
      for (const d of docs) shipper.write(d);
      await advance(2000, 100);
      const outage = shipper.stats();
      assert.equal(outage.queueDepth, 300);
      assert.ok(outage.spoolBytes > 5 * 5000, `the backlog (${outage.spoolBytes} bytes) is many times the bound`);
      assert.ok(outage.memoryBytes <= 5000, `memory ${outage.memoryBytes} stays within the bound`);
      const recoveredAt = fake.calls.length;
      fake.always((call) => ({ items: call.ids.map(() => ({ create: { status: 201 } })) }));
      const flushed = shipper.flush(60_000);
      await advance(5000, 50);
      assert.equal(await flushed, true);
      assert.deepEqual(fake.calls.slice(recoveredAt).flatMap((c) => c.ids), docs.map((d) => d.event.id), 'every document, once, oldest first');
      assert.equal(shipper.stats().delivered, 300);
      assert.equal(shipper.stats().memoryBytes, 0);
    });
  });

  describe('flush and close', () => {
    it('flush gives up at its deadline, false, and leaves what is owed on disk', async (t) => {
      const fake = fakeClient();
      fake.always(hang);
      const { shipper, dir } = shipperWith(t, fake);
      shipper.start();
      shipper.write(doc());
      let result: boolean | undefined;
      void shipper.flush(2000).then((value) => (result = value));
      await advance(1990, 10);
      assert.equal(result, undefined, 'still waiting before the deadline');
      await advance(20, 10);
      assert.equal(result, false);
      assert.equal(chunkFiles(dir).length, 1);
      assert.equal(shipper.stats().inFlight, 1);
    });

    it('flush does not wait out a long backoff: the deadline is the only bound', async (t) => {
      const fake = fakeClient();
      const { shipper } = shipperWith(t, fake, { retryBaseMs: 60_000, retryMaxMs: 60_000 });
      shipper.start();
      fake.next(failWith(connectionError));
      shipper.write(doc());
      await settle();
      assert.equal(fake.calls.length, 0, 'not sealed yet');
      const flushed = shipper.flush(5000);
      await advance(600, 10);
      assert.equal(await flushed, true, 'retried within 250 ms instead of 30 s');
      assert.equal(fake.calls.length, 2);
    });

    it('close flushes, then stops sending: later writes wait on disk for the next start', async (t) => {
      const fake = fakeClient();
      const { shipper, dir } = shipperWith(t, fake);
      shipper.start();
      shipper.write(doc());
      assert.equal(await shipper.close(), true);
      assert.equal(fake.calls.length, 1);
      const late = doc();
      shipper.write(late);
      await advance(3000, 100);
      assert.equal(fake.calls.length, 1, 'nothing is sent after close');
      assert.equal(chunkFiles(dir).length, 1, 'the late document is spooled');

      const next = fakeClient();
      const { shipper: again } = shipperWith(t, next, { dir });
      again.start();
      assert.equal(again.stats().queueDepth, 1);
      assert.equal(await again.flush(), true);
      assert.deepEqual(next.calls.map((c) => c.ids), [[late.event.id]]);
      assert.deepEqual(chunkFiles(dir), []);
    });

    it('close with a hanging Elasticsearch returns false at the deadline and leaves no wake-up timer behind', async (t) => {
      const fake = fakeClient();
      fake.next(failWith(connectionError));
      fake.always(hang);
      const { shipper } = shipperWith(t, fake);
      shipper.start();
      shipper.write(doc());
      let result: boolean | undefined;
      void shipper.close(1000).then((value) => (result = value));
      await advance(1010, 10);
      assert.equal(result, false);
      const before = fake.calls.length;
      await advance(5000, 500);
      assert.equal(fake.calls.length, before, 'closed: no more requests');
    });
  });

  describe('spool-only mode and replay', () => {
    it('without a client, spools everything and says so; a later shipper with a client delivers it', async (t) => {
      const { shipper, dir } = shipperWith(t, undefined);
      shipper.start();
      const docs = [doc(), doc('sentinel.access'), doc('sentinel.alert')];
      for (const d of docs) shipper.write(d);
      assert.equal(await shipper.flush(), false);
      const stats = shipper.stats();
      assert.equal(stats.elasticsearchReachable, false);
      assert.match(stats.lastError!, /spool-only/);
      assert.equal(stats.queueDepth, 3);

      const fake = fakeClient();
      const { shipper: later } = shipperWith(t, fake, { dir });
      later.start();
      later.start(); // twice: the same files are not queued again
      assert.equal(later.stats().queueDepth, 3);
      assert.equal(await later.flush(), true);
      assert.deepEqual(fake.calls.flatMap((c) => c.ids), docs.map((d) => d.event.id));
      assert.deepEqual(fake.calls[0]!.indices, ['unit-events-2025.03.01', 'unit-access-2025.03.01', 'unit-alerts-2025.03.01']);
      assert.deepEqual(chunkFiles(dir), []);
    });

    it('drops new access records (counted) beyond maxSpoolBytes, always keeps security events, and takes access records again once delivered', async (t) => {
      const fake = fakeClient();
      const { shipper } = shipperWith(t, fake, { maxSpoolBytes: 500 });
      const access = Array.from({ length: 10 }, () => doc('sentinel.access'));
      for (const d of access) shipper.write(d);
      const kept = 10 - shipper.stats().dropped;
      assert.ok(kept >= 3 && kept <= 5, `${kept} access records of about 130 bytes fit in 500 bytes`);
      assert.ok(shipper.stats().spoolBytes > 500);
      const security = Array.from({ length: 20 }, () => doc());
      for (const d of security) shipper.write(d);
      let stats = shipper.stats();
      assert.equal(stats.dropped, 10 - kept, 'no security event was dropped, however far over the limit');
      assert.equal(stats.droppedSecurity, 0);
      assert.equal(stats.queueDepth, kept + 20);
      assert.equal(stats.spoolWritable, true, 'over the limit is not a failed write');

      shipper.start();
      assert.equal(await shipper.flush(), true);
      assert.deepEqual(fake.calls.flatMap((c) => c.ids), [...access.slice(0, kept), ...security].map((d) => d.event.id), 'exactly the kept documents were sent');
      shipper.write(doc('sentinel.access'));
      stats = shipper.stats();
      assert.equal(stats.dropped, 10 - kept, 'below the limit again: the access record is kept');
      assert.equal(stats.queueDepth, 1);
    });

    it('counts what a failed spool write loses, security events apart, reports the spool unwritable, and probes it again every spoolRecheckMs', (t) => {
      const dir = spoolDir(t);
      const { shipper, errors } = shipperWith(t, undefined, { dir, spoolRecheckMs: 1000 });
      assert.equal(shipper.stats().spoolWritable, true);
      rmSync(dir, { recursive: true, force: true });
      shipper.write(doc());
      shipper.write(doc('sentinel.access'));
      let stats = shipper.stats();
      assert.deepEqual([stats.dropped, stats.droppedSecurity, stats.spoolWritable, stats.queueDepth], [2, 1, false, 0]);
      assert.match(errors[0]!, /Spool write failed: ENOENT/);
      assert.equal(shipper.refuses(), false, "onSpoolFailure 'drop' (the default) never refuses");

      mkdirSync(dir);
      mock.timers.tick(999);
      assert.equal(shipper.stats().spoolWritable, false, 'not probed again before spoolRecheckMs');
      mock.timers.tick(1);
      assert.equal(shipper.stats().spoolWritable, true, 'the probe found the folder writable');
      assert.deepEqual(readdirSync(dir), [], 'the probe leaves nothing behind');
      shipper.write(doc());
      stats = shipper.stats();
      assert.deepEqual([stats.dropped, stats.droppedSecurity, stats.queueDepth], [2, 1, 1]);
    });

    it("with onSpoolFailure 'refuse', refuses() from a failed write until a write or a probe succeeds", (t) => {
      const dir = spoolDir(t);
      const { shipper } = shipperWith(t, undefined, { dir, onSpoolFailure: 'refuse', spoolRecheckMs: 1000 });
      assert.equal(shipper.refuses(), false);
      rmSync(dir, { recursive: true, force: true });
      shipper.write(doc());
      assert.equal(shipper.refuses(), true);
      mock.timers.tick(1000);
      assert.equal(shipper.refuses(), true, 'the probe fails while the folder is gone');
      mkdirSync(dir);
      assert.equal(shipper.refuses(), true, 'the next probe is due 1000 ms after the last one');
      mock.timers.tick(1000);
      assert.equal(shipper.refuses(), false);
      assert.equal(shipper.stats().droppedSecurity, 1);
    });

    it('write never throws, even when the spool cannot be written', (t) => {
      const dir = spoolDir(t);
      const { shipper, errors } = shipperWith(t, undefined, { dir });
      rmSync(dir, { recursive: true, force: true });
      assert.doesNotThrow(() => shipper.write(doc()));
      assert.equal(shipper.stats().dropped, 1);
      assert.match(errors[0]!, /Spool write failed/);
    });
  });

  describe('options', () => {
    it('refuses bad options at construction, naming the option', (t) => {
      const dir = spoolDir(t);
      const base = { client: undefined, indexPrefix: 'unit', dir };
      const bad: Array<[Partial<ShipperOptions>, RegExp]> = [
        [{ indexPrefix: 'Upper' }, /indexPrefix/],
        [{ batchSize: 0 }, /batchSize/],
        [{ batchSize: 1.5 }, /batchSize option must be a whole number/],
        [{ concurrency: -1 }, /concurrency/],
        [{ maxBatchAgeMs: Number.NaN }, /maxBatchAgeMs/],
        [{ retryBaseMs: 500, retryMaxMs: 100 }, /retryMaxMs/],
        [{ now: 5 as never }, /now option must be a function/],
        [{ timers: { setTimeout } as unknown as Timers }, /timers option/],
        [{ client: {} as ElasticClient }, /client option/],
        [{ dir: '' }, /dir option/],
        [{ onSpoolFailure: 'close' as never }, /onSpoolFailure option must be 'drop' or 'refuse'/],
        [{ spoolRecheckMs: 0 }, /spoolRecheckMs/],
      ];
      for (const [options, message] of bad) {
        assert.throws(() => createShipper({ ...base, ...options }), (error: Error) => error instanceof ConfigurationError && message.test(error.message), JSON.stringify(options));
      }
    });

    it('uses the injected clock and timers instead of the globals', async (t) => {
      mock.timers.reset(); // real globals: only the injected timers may move this shipper
      const pending: Array<{ callback: () => void; at: number }> = [];
      let clock = 5_000;
      const timers: Timers = {
        setTimeout: (callback, ms) => {
          const entry = { callback, at: clock + ms };
          pending.push(entry);
          return entry;
        },
        clearTimeout: (handle) => {
          const at = pending.indexOf(handle as never);
          if (at !== -1) pending.splice(at, 1);
        },
      };
      const fake = fakeClient();
      const { shipper } = shipperWith(t, fake, { now: () => clock, timers, maxBatchAgeMs: 700 });
      shipper.start();
      shipper.write({ message: 'no timestamp', event: { id: 'x', dataset: 'sentinel.security' } });
      assert.deepEqual(pending.map((p) => p.at), [5_700], 'the batch timer was set on the injected timers');
      clock = 5_700;
      pending.shift()!.callback();
      await settle();
      assert.deepEqual(fake.calls[0]!.indices, ['unit-events-1970.01.01'], 'a document without @timestamp is indexed by the injected clock');
      assert.equal(shipper.stats().delivered, 1);
    });
  });
});
