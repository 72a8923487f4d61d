import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBulkResponse, verdictFor } from '../../src/elastic/bulk-response.js';

const item = (status: number, error?: { type: string; reason: string }) => ({ create: { status, ...(error ? { error } : {}) } });

describe('parseBulkResponse', () => {
  it('classifies each item by status, in request order', () => {
    const mapping = { type: 'document_parsing_exception', reason: 'failed to parse field [source.ip]' };
    const outcome = parseBulkResponse({
      items: [item(201), item(409), item(429), item(503), item(400, mapping), item(200), item(500), item(404, { type: 'index_not_found_exception', reason: 'no such index' })],
    }, 8);
    assert.deepEqual(outcome.delivered, [0, 1, 5]);
    assert.equal(outcome.duplicates, 1);
    assert.deepEqual(outcome.retry, [2, 3, 6]);
    assert.deepEqual(outcome.rejected, [
      { position: 4, status: 400, error: mapping },
      { position: 7, status: 404, error: { type: 'index_not_found_exception', reason: 'no such index' } },
    ]);
  });

  it('retries items the answer does not mention: nothing says they were indexed', () => {
    assert.deepEqual(parseBulkResponse({ items: [item(201)] }, 3), { delivered: [0], duplicates: 0, retry: [1, 2], rejected: [] });
    assert.deepEqual(parseBulkResponse({}, 2).retry, [0, 1]);
    assert.deepEqual(parseBulkResponse(undefined, 2).retry, [0, 1]);
    assert.deepEqual(parseBulkResponse({ items: 'nonsense' as never }, 1).retry, [0]);
  });

  it('retries an item without a numeric status, and ignores answers beyond the request', () => {
    const outcome = parseBulkResponse({ items: [{ create: {} }, { create: { status: '201' as never } }, {}, item(201), item(201)] }, 4);
    assert.deepEqual(outcome.retry, [0, 1, 2]);
    assert.deepEqual(outcome.delivered, [3]);
  });

  it('reads the item whatever the action is called', () => {
    assert.deepEqual(parseBulkResponse({ items: [{ index: { status: 201 } }, { update: { status: 409 } }] }, 2).delivered, [0, 1]);
  });

  it('gives each status class one verdict', () => {
    assert.equal(verdictFor(200), 'delivered');
    assert.equal(verdictFor(201), 'delivered');
    assert.equal(verdictFor(409), 'duplicate');
    assert.equal(verdictFor(429), 'retry');
    assert.equal(verdictFor(500), 'retry');
    assert.equal(verdictFor(503), 'retry');
    assert.equal(verdictFor(0), 'retry');
    for (const status of [400, 401, 403, 404, 413]) assert.equal(verdictFor(status), 'reject', String(status));
  });
});
