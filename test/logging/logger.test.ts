/**
 * attachSink: a sink fed by a createLogger logger's one conversion, and what createSentinel does with it: the
 * document on stdout and the one in the spool are the same document (same event.id), converted once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import bunyan from 'bunyan';
import type { Enricher } from '../../src/enrich/types.js';
import type { EcsDocument } from '../../src/logging/ecs.js';
import { attachSink, createLogger, type Level } from '../../src/logging/logger.js';
import { createSentinel } from '../../src/sentinel.js';
import { createKeyRing } from '../../src/session/key-ring.js';
import { createMemoryUserDirectory } from '../../src/session/users.js';

function capture(level: Level = 'info', enrich?: Enricher): { logger: bunyan; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger({ name: 'attach-test', level, stdout: { write: (text: string) => lines.push(text) }, ...(enrich ? { enrich } : {}) }), lines };
}

function sink(): { write(doc: EcsDocument, line?: string): void; got: Array<{ doc: EcsDocument; line: string | undefined }> } {
  const got: Array<{ doc: EcsDocument; line: string | undefined }> = [];
  return { got, write: (doc, line) => got.push({ doc, line }) };
}

describe('attachSink', () => {
  it('feeds the sink the document stdout gets, and its line: one conversion, one serialization', () => {
    const { logger, lines } = capture();
    const target = sink();
    assert.ok(attachSink(logger, target));
    logger.info({ url: { path: '/a' } }, 'one');
    assert.equal(lines.length, 1);
    assert.equal(target.got.length, 1);
    assert.equal(`${target.got[0]!.line}\n`, lines[0]);
    assert.equal(target.got[0]!.doc.event.id, JSON.parse(lines[0]!).event.id);
  });

  it('feeds the sink info records below LOG_LEVEL, stdout still filtered, and restores the level on detach', () => {
    const { logger, lines } = capture('warn');
    const target = sink();
    const detach = attachSink(logger, target)!;
    assert.equal(logger.level(), bunyan.INFO);
    logger.info('shipped only');
    logger.debug('neither');
    logger.warn('both');
    assert.deepEqual(target.got.map((g) => g.doc.message), ['shipped only', 'both']);
    assert.deepEqual(lines.map((l) => JSON.parse(l).message), ['both']);
    assert.equal(target.got[0]!.line, undefined, 'no line was built for stdout');
    detach();
    assert.equal(logger.level(), bunyan.WARN);
    logger.warn('after');
    assert.equal(target.got.length, 2);
    assert.equal(lines.length, 2);
  });

  it('uses the lent enricher only when the logger has none', () => {
    const own = capture('info', (doc) => { (doc as Record<string, unknown>).labels = { by: 'logger' }; });
    const a = sink();
    attachSink(own.logger, a, (doc) => { (doc as Record<string, unknown>).labels = { by: 'sink' }; });
    own.logger.info('x');
    assert.deepEqual(a.got[0]!.doc.labels, { by: 'logger' });
    const bare = capture();
    const b = sink();
    attachSink(bare.logger, b, (doc) => { (doc as Record<string, unknown>).labels = { by: 'sink' }; });
    bare.logger.info('y');
    assert.deepEqual(b.got[0]!.doc.labels, { by: 'sink' });
    assert.deepEqual(JSON.parse(bare.lines[0]!).labels, { by: 'sink' });
  });

  it('refuses a second sink and a logger createLogger did not make', () => {
    const { logger } = capture();
    assert.ok(attachSink(logger, sink()));
    assert.equal(attachSink(logger, sink()), undefined, 'another sentinel\'s records must not reach this sink');
    assert.equal(attachSink(bunyan.createLogger({ name: 'plain', streams: [] }), sink()), undefined);
    assert.equal(attachSink(createLogger({ name: 'raw', streams: [{ stream: { write: () => true } }] }), sink()), undefined);
  });
});

describe('createSentinel with a createLogger logger and a shipper', () => {
  it('spools the very document stdout shows (same event.id), and stops feeding the shipper once closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-attach-'));
    try {
      const { logger, lines } = capture();
      const sentinel = createSentinel({
        logger,
        session: { keyRing: createKeyRing([{ kid: 'k1', alg: 'HS256', secret: randomBytes(32) }]), users: createMemoryUserDirectory([]) },
        elasticsearch: { client: undefined, spoolDir: dir },
        jobs: { anomalies: false, review: false, retention: false },
        enrichment: false,
      });
      await sentinel.start();
      sentinel.logger.warn({ event: { dataset: 'sentinel.security', kind: 'event' } }, 'a record the shipper takes');
      await sentinel.close(100);
      const spooled = readdirSync(dir).filter((name) => name.startsWith('chunk-')).flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean));
      assert.equal(spooled.length, 1);
      const stdout = lines.map((line) => JSON.parse(line)).filter((doc) => doc.message === 'a record the shipper takes');
      assert.equal(stdout.length, 1);
      assert.equal(JSON.parse(spooled[0]!).event.id, stdout[0].event.id);
      logger.warn({ event: { dataset: 'sentinel.security', kind: 'event' } }, 'after close');
      const after = readdirSync(dir).filter((name) => name.startsWith('chunk-')).flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean));
      assert.equal(after.length, 1, 'a closed sentinel\'s shipper is fed no more');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
