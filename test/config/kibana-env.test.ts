import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadKibanaEnv } from '../../src/config/kibana-env.js';
import type { ConfigurationError } from '../../src/errors.js';
import { configurationError } from '../support/configuration-error.js';

const refuse = (env: NodeJS.ProcessEnv): ConfigurationError => configurationError(() => loadKibanaEnv(env));

describe('loadKibanaEnv', () => {
  it('has nothing but the default index prefix for an empty environment', () => {
    assert.deepEqual(loadKibanaEnv({}), {
      url: undefined, apiKey: undefined, username: undefined, password: undefined, space: undefined, caCertFile: undefined, indexPrefix: 'sentinel',
    });
  });

  it('reads every variable, trimmed', () => {
    const env = loadKibanaEnv({
      KIBANA_URL: ' https://kibana.example:5601/base ', KIBANA_USERNAME: 'importer', KIBANA_PASSWORD: 'pw', KIBANA_SPACE: 'security',
      KIBANA_CA_CERT: '/etc/ca.pem', ES_INDEX_PREFIX: 'acme',
    });
    assert.deepEqual(env, {
      url: 'https://kibana.example:5601/base', apiKey: undefined, username: 'importer', password: 'pw', space: 'security', caCertFile: '/etc/ca.pem', indexPrefix: 'acme',
    });
    assert.equal(loadKibanaEnv({ KIBANA_API_KEY: 'a2V5' }).apiKey, 'a2V5');
  });

  it('ignores KIBANA_PASSWORD without KIBANA_USERNAME (Elastic\'s compose files set it for kibana_system)', () => {
    const env = loadKibanaEnv({ KIBANA_PASSWORD: 'kibana-system-pw' });
    assert.equal(env.username, undefined);
    assert.equal(env.password, undefined);
  });

  it('lists every problem at once, naming the variables and never a credential', () => {
    const error = refuse({
      KIBANA_URL: 'http://user:url-secret@kibana:5601', KIBANA_API_KEY: 'key', KIBANA_USERNAME: 'u', KIBANA_PASSWORD: 'basic-secret',
      KIBANA_SPACE: '../x', ES_INDEX_PREFIX: 'Bad Prefix',
    });
    assert.deepEqual(error.problems.map((problem) => problem.split(' ')[0]), ['KIBANA_URL', 'set', 'KIBANA_SPACE', 'ES_INDEX_PREFIX']);
    assert.match(error.problems[1]!, /KIBANA_API_KEY or KIBANA_USERNAME and KIBANA_PASSWORD, not both/);
    assert.ok(!error.message.includes('url-secret') && !error.message.includes('basic-secret'), error.message);
    assert.match(refuse({ KIBANA_URL: 'ftp://elastic:pw@kibana' }).message, /^KIBANA_URL must be an http or https URL \(got "ftp:\/\/\*\*\*@kibana"\)$/);
  });
});
