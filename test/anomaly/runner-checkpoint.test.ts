/**
 * The checkpoint read when another runner has just created the state index: its shard is still starting and the
 * get answers 503 no_shard_available_action_exception. Seen on a loaded 9.2 node with two runners started together;
 * a stand-in client makes it happen every time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAnomalyRunner } from '../../src/anomaly/runner.js';
import type { ElasticClient, MsearchRequest } from '../../src/elastic/client.js';

const NOW = Date.UTC(2026, 10, 20, 12, 0, 30);

function responseError(statusCode: number, type: string): Error {
  return Object.assign(new Error(type), { name: 'ResponseError', statusCode, body: { error: { type }, status: statusCode } });
}

/** Nothing indexed; `get` of the checkpoint fails with `failures` in turn, then finds no document. */
function standIn(failures: Error[]): { client: ElasticClient; gets: () => number; checkpoints: unknown[] } {
  let gets = 0;
  const checkpoints: unknown[] = [];
  const client: ElasticClient = {
    search: async () => ({ hits: { hits: [] } }),
    msearch: async (params: MsearchRequest) => ({ responses: Array.from({ length: (params.searches?.length ?? 0) / 2 }, () => ({ hits: { hits: [] } })) }),
    bulk: async () => ({ errors: false, items: [] }),
    index: async (params) => {
      checkpoints.push(params.document);
      return { _id: 'runner', _index: params.index, result: 'created' };
    },
    get: async () => {
      const failure = failures[gets];
      gets += 1;
      if (failure) throw failure;
      throw responseError(404, 'index_not_found_exception');
    },
    update: async (params) => ({ _id: params.id, _index: params.index, result: 'updated' }),
    cat: { indices: async () => [] },
    indices: { delete: async () => ({ acknowledged: true }), putIndexTemplate: async () => ({ acknowledged: true }), putMapping: async () => ({ acknowledged: true }) },
    cluster: { putComponentTemplate: async () => ({ acknowledged: true }) },
    nodes: { info: async () => ({ nodes: {} }) },
    close: async () => undefined,
  };
  return { client, gets: () => gets, checkpoints };
}

describe('the runner\'s checkpoint', () => {
  it('waits for a state index shard that is still starting, then runs', async () => {
    const starting = responseError(503, 'no_shard_available_action_exception');
    const { client, gets, checkpoints } = standIn([starting, starting]);
    const result = await createAnomalyRunner({ client, indexPrefix: 'stand-in', now: () => NOW }).run();
    assert.equal(result.windows, 1);
    assert.equal(checkpoints.length, 1);
    // Two refusals and the 404 at the start of the run, one more 404 before the checkpoint is written.
    assert.equal(gets(), 4);
  });

  it('does not wait on other errors', async () => {
    const { client, gets } = standIn([responseError(500, 'internal_server_error')]);
    await assert.rejects(createAnomalyRunner({ client, indexPrefix: 'stand-in', now: () => NOW }).run(), /internal_server_error/);
    assert.equal(gets(), 1);
  });

  it('gives up on a shard that never starts', async () => {
    const starting = responseError(503, 'no_shard_available_action_exception');
    const { client, gets } = standIn(Array.from({ length: 20 }, () => starting));
    await assert.rejects(createAnomalyRunner({ client, indexPrefix: 'stand-in', now: () => NOW }).run(), /no_shard_available_action_exception/);
    assert.equal(gets(), 10);
  });
});
