/**
 * createElasticClient and describeElasticError as library code: their messages name options and stay neutral,
 * because the library cannot know whether its options came from environment variables (the CLI and the server
 * pass hints that name them). And the error tests work on errors of both client majors.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client as Client8 } from '@elastic/elasticsearch';
import { Client as Client9 } from 'es9';
import { createElasticClient, describeElasticError, isConnectionFailure, isResponseError, serverVersion } from '../../src/elastic/client.js';
import { ConfigurationError, ElasticsearchError } from '../../src/errors.js';
import { freePort, sharedElasticsearch } from '../support/elasticsearch.js';

function refuses(make: () => unknown, message: RegExp): void {
  assert.throws(make, (error: Error) => {
    assert.ok(error instanceof ConfigurationError, String(error));
    assert.match(error.message, message);
    assert.doesNotMatch(error.message, /ELASTICSEARCH_/, 'the library does not speak of environment variables');
    return true;
  });
}

const responseError = (statusCode: number, body?: unknown): Error => Object.assign(new Error(`status ${statusCode}`), { name: 'ResponseError', statusCode, body });

describe('createElasticClient', () => {
  it('names the options it refuses', () => {
    refuses(() => createElasticClient({ url: '' }), /^options\.url is required\.$/);
    refuses(() => createElasticClient({ url: 'http://127.0.0.1:9', apiKey: 'a2V5OnZhbHVl', username: 'u', password: 'p' }), /options\.apiKey or options\.username\/options\.password, not both/);
    refuses(() => createElasticClient({ url: 'http://127.0.0.1:9', username: 'u' }), /options\.username and options\.password go together/);
    refuses(() => createElasticClient({ url: 'http://127.0.0.1:9', caCertFile: '/nonexistent/ca.pem' }), /^options\.caCertFile \/nonexistent\/ca\.pem cannot be read/);
  });

  it('returns a client that reads the server version', async () => {
    const client = createElasticClient({ url: (await sharedElasticsearch()).url });
    try {
      assert.match(await serverVersion(client), /^(8|9)\.\d+\.\d+/);
    } finally {
      await client.close();
    }
  });
});

describe('describeElasticError', () => {
  it('gives neutral hints by default', () => {
    const auth = describeElasticError(responseError(401), 'http://user:secret@127.0.0.1:9200');
    assert.equal(auth.code, 'es_auth');
    assert.equal(auth.message, 'Elasticsearch at http://***@127.0.0.1:9200 refused the credentials (401): check the API key, or the username and password, the client was given.');
    const down = describeElasticError(Object.assign(new Error('connect ECONNREFUSED'), { name: 'ConnectionError' }));
    assert.equal(down.code, 'es_unreachable');
    assert.equal(down.message, 'Cannot reach Elasticsearch: connect ECONNREFUSED. Is it running, and is the URL right?');
  });

  it('uses the hints its caller gives', () => {
    const hints = { credentials: 'check ELASTICSEARCH_API_KEY.', unreachable: 'Is ELASTICSEARCH_URL right?' };
    assert.match(describeElasticError(responseError(401), undefined, hints).message, /\(401\): check ELASTICSEARCH_API_KEY\.$/);
    assert.match(describeElasticError(Object.assign(new Error('timed out'), { name: 'TimeoutError' }), undefined, hints).message, /timed out\. Is ELASTICSEARCH_URL right\?$/);
  });

  it('keeps the other codes and the cause', () => {
    const forbidden = responseError(403);
    assert.equal(describeElasticError(forbidden).code, 'es_forbidden');
    assert.equal(describeElasticError(forbidden).cause, forbidden);
    assert.equal(describeElasticError(responseError(400, { error: { type: 'illegal_argument_exception' } })).message, 'Elasticsearch answered 400 (illegal_argument_exception).');
    const ours = new ElasticsearchError('es_version', 'too old');
    assert.equal(describeElasticError(ours), ours);
  });
});

describe('error tests by shape, on errors of both client majors', () => {
  for (const [label, make] of [['8.19', (node: string) => new Client8({ node, maxRetries: 0 })], ['9.x', (node: string) => new Client9({ node, maxRetries: 0 })]] as const) {
    it(`a connection failure of the ${label} client is es_unreachable`, async () => {
      const client = make(`http://127.0.0.1:${await freePort()}`);
      try {
        const error = await serverVersion(client).then(() => undefined, (e: unknown) => e);
        assert.ok(isConnectionFailure(error), String(error));
        assert.ok(!isResponseError(error));
        assert.equal(describeElasticError(error).code, 'es_unreachable');
      } finally {
        await client.close();
      }
    });
  }

  it('a refusal of the server is a ResponseError with its status', async () => {
    const client = createElasticClient({ url: (await sharedElasticsearch()).url });
    try {
      const error = await client.get({ index: 'sentinel-no-such-index', id: 'x' }).then(() => undefined, (e: unknown) => e);
      assert.ok(isResponseError(error), String(error));
      assert.equal(error.statusCode, 404);
      assert.equal(describeElasticError(error).code, 'es_request');
    } finally {
      await client.close();
    }
  });
});
