import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, redactUrl } from '../../src/config/env.js';
import { ConfigurationError } from '../../src/errors.js';
import { HMAC_MIN_BYTES, secretWeakness } from '../../src/session/hmac-secret.js';
import { createKeyRing, generateKey } from '../../src/session/key-ring.js';
import { configurationError } from '../support/configuration-error.js';

const STRONG_SECRET = randomBytes(48).toString('base64');
const PRODUCTION = { NODE_ENV: 'production', PUBLIC_ORIGIN: 'https://app.example.com', AUTH_USERS_FILE: '/etc/koa-sentinel/users.json', JWT_SECRET: STRONG_SECRET };

/** Runs loadConfig expecting a ConfigurationError; returns it for further checks. */
const refuse = (env: NodeJS.ProcessEnv): ConfigurationError => configurationError(() => loadConfig(env));

/** Everything an operator could see of an error: message, stack, the problem list. */
function allTextOf(error: ConfigurationError): string {
  return [error.message, String(error), error.stack ?? '', JSON.stringify(error.problems)].join('\n');
}

describe('loadConfig', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sentinel-env-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('has development defaults for an empty environment', () => {
    const config = loadConfig({});
    assert.equal(config.nodeEnv, 'development');
    assert.equal(config.port, 3000);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.trustProxy, 0);
    assert.equal(config.logLevel, 'info');
    assert.deepEqual(config.jwt.keys, []);
    assert.equal(config.jwt.ephemeral, true);
    assert.equal(config.jwt.activeKid, undefined);
    assert.equal(config.jwt.issuer, 'koa-sentinel');
    assert.equal(config.jwt.audience, 'koa-sentinel-api');
    assert.equal(config.jwt.accessTtlMs, 15 * 60_000);
    assert.equal(config.jwt.refreshTtlMs, 12 * 3_600_000);
    assert.equal(config.jwt.absoluteTtlMs, 7 * 86_400_000);
    assert.equal(config.jwt.clockToleranceSec, 5);
    assert.deepEqual(config.auth, { usersFile: undefined, bearer: false, publicOrigins: [], allowedOrigins: [] });
    assert.equal(config.elasticsearch.url, undefined);
    assert.equal(config.elasticsearch.indexPrefix, 'sentinel');
    assert.equal(config.redisUrl, undefined);
    assert.equal(config.anomalyCron, '*/5 * * * *');
  });

  it('takes every node of a cluster in ELASTICSEARCH_URL, comma-separated, each checked', () => {
    const config = loadConfig({ ELASTICSEARCH_URL: 'http://es1:9200, http://es2:9200,http://es3:9200' });
    assert.deepEqual(config.elasticsearch.urls, ['http://es1:9200', 'http://es2:9200', 'http://es3:9200']);
    assert.deepEqual(loadConfig({ ELASTICSEARCH_URL: 'http://es1:9200' }).elasticsearch.urls, ['http://es1:9200']);
    assert.deepEqual(loadConfig({}).elasticsearch.urls, []);
    assert.throws(() => loadConfig({ ELASTICSEARCH_URL: 'http://es1:9200,ftp://es2' }), /ELASTICSEARCH_URL must be a http: or https: URL \(got "ftp:\/\/es2"\)/);
    assert.throws(() => loadConfig({ ELASTICSEARCH_URL: ' , ' }), /ELASTICSEARCH_URL must name at least one/);
    // Production wants TLS to every node, and messages never show credentials of any of them.
    const production = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(64), AUTH_USERS_FILE: '/dev/null' };
    assert.throws(() => loadConfig({ ...production, ELASTICSEARCH_URL: 'https://es1:9200,http://es2:9200' }), /must be https:\/\//);
    assert.equal(redactUrl('https://u:p@es1:9200,https://v:q@es2:9200'), 'https://***@es1:9200,https://***@es2:9200');
    // A password may hold a comma or an @: neither part of it is ever quoted.
    assert.equal(redactUrl('https://u:p,w@es1:9200/x@y'), 'https://***@es1:9200/x@y');
    const split = configurationError(() => loadConfig({ ELASTICSEARCH_URL: 'https://elastic:pa,ss@es1:9200' }));
    assert.doesNotMatch(split.message, /pa|ss@/);
    assert.match(split.message, /https:\/\/\*\*\*@es1:9200/);
  });

  it('turns a job off with off (the app container of the Docker stack runs no job under its create-only identity)', () => {
    const config = loadConfig({ ANOMALY_CRON: 'off', REVIEW_CRON: 'OFF', RETENTION_CRON: 'false' });
    assert.equal(config.anomalyCron, false);
    assert.equal(config.reviewCron, false);
    assert.equal(config.retention.cron, false);
    assert.equal(loadConfig({ ANOMALY_CRON: '*/2 * * * *' }).anomalyCron, '*/2 * * * *');
  });

  it('treats empty and blank variables as unset', () => {
    const config = loadConfig({ PORT: '', LOG_LEVEL: '   ', ACCESS_TOKEN_TTL: '', JWT_SECRET: '' });
    assert.equal(config.port, 3000);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.jwt.accessTtlMs, 15 * 60_000);
    assert.equal(config.jwt.ephemeral, true);
  });

  it('reads durations as bare seconds or with a unit', () => {
    const config = loadConfig({ ACCESS_TOKEN_TTL: '900', REFRESH_TOKEN_TTL: '12h', SESSION_ABSOLUTE_TTL: '7d', JWT_CLOCK_TOLERANCE: '30s' });
    assert.equal(config.jwt.accessTtlMs, 900_000);
    assert.equal(config.jwt.refreshTtlMs, 43_200_000);
    assert.equal(config.jwt.absoluteTtlMs, 604_800_000);
    assert.equal(config.jwt.clockToleranceSec, 30);
    assert.equal(loadConfig({ ACCESS_TOKEN_TTL: '15m' }).jwt.accessTtlMs, 900_000);
    assert.equal(loadConfig({ ACCESS_TOKEN_TTL: '500ms' }).jwt.accessTtlMs, 500);
    assert.equal(loadConfig({ JWT_CLOCK_TOLERANCE: '1500ms' }).jwt.clockToleranceSec, 1);
  });

  it('reads the other variables', () => {
    const config = loadConfig({
      PORT: '0', HOST: '0.0.0.0', TRUST_PROXY: 'yes', LOG_LEVEL: 'debug', BEARER_AUTH: 'on',
      ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:5173', JWT_ISSUER: 'https://id.example.com', JWT_AUDIENCE: 'api',
      ELASTICSEARCH_URL: 'https://es.example.com:9200', ES_INDEX_PREFIX: 'acme-prod', REDIS_URL: 'rediss://cache:6380',
    });
    assert.equal(config.port, 0);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.trustProxy, 1, 'yes: the old boolean, one hop');
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.auth.bearer, true);
    assert.deepEqual(config.auth.allowedOrigins, ['https://app.example.com', 'http://localhost:5173']);
    assert.equal(config.jwt.issuer, 'https://id.example.com');
    assert.equal(config.jwt.audience, 'api');
    assert.equal(config.elasticsearch.url, 'https://es.example.com:9200');
    assert.equal(config.elasticsearch.indexPrefix, 'acme-prod');
    assert.equal(config.redisUrl, 'rediss://cache:6380');
  });

  it('geolocation: on with the default database unless told otherwise; GEOIP=off; comma-separated database paths', () => {
    assert.deepEqual(loadConfig({}).geo, { enabled: true, cityDatabase: undefined, asnDatabase: undefined });
    assert.deepEqual(loadConfig({ GEOIP: 'off' }).geo, { enabled: false, cityDatabase: undefined, asnDatabase: undefined });
    assert.deepEqual(loadConfig({ GEOIP_CITY_DATABASE: '/geo/v4.mmdb, /geo/v6.mmdb', GEOIP_ASN_DATABASE: '/geo/GeoLite2-ASN.mmdb' }).geo, {
      enabled: true, cityDatabase: ['/geo/v4.mmdb', '/geo/v6.mmdb'], asnDatabase: ['/geo/GeoLite2-ASN.mmdb'],
    });
    assert.match(refuse({ GEOIP: 'maybe' }).message, /GEOIP must be on or off \(got "maybe"\)/);
    assert.match(refuse({ GEOIP: 'off', GEOIP_ASN_DATABASE: '/geo/asn.mmdb' }).message, /GEOIP=off and GEOIP_CITY_DATABASE or GEOIP_ASN_DATABASE contradict/);
  });

  it('lists every problem at once', () => {
    const error = refuse({
      NODE_ENV: 'staging',
      PORT: 'http',
      LOG_LEVEL: 'loud',
      TRUST_PROXY: 'maybe',
      ACCESS_TOKEN_TTL: 'soon',
      ES_INDEX_PREFIX: 'Bad Prefix',
      REDIS_URL: 'http://cache:6379',
      ALLOWED_ORIGINS: 'https://app.example.com/path',
    });
    const names = ['NODE_ENV', 'PORT', 'LOG_LEVEL', 'TRUST_PROXY', 'ACCESS_TOKEN_TTL', 'ES_INDEX_PREFIX', 'REDIS_URL', 'ALLOWED_ORIGINS'];
    assert.equal(error.problems.length, names.length, error.message);
    for (const name of names) {
      assert.equal(error.problems.filter((problem) => problem.startsWith(name)).length, 1, `${name} in ${error.message}`);
      assert.ok(error.message.includes(name));
    }
    assert.match(error.message, /^Invalid configuration:\n {2}- /);
    assert.match(error.message, /ACCESS_TOKEN_TTL must be a positive duration .*\(got "soon"\)/);
  });

  describe('TRUST_PROXY', () => {
    it('reads a number of hops, a list of addresses and CIDR ranges, and the old booleans as 0 or 1 hop', () => {
      const read = (value: string) => loadConfig({ TRUST_PROXY: value }).trustProxy;
      assert.equal(read('0'), 0);
      assert.equal(read('2'), 2);
      assert.equal(read('true'), 1);
      assert.equal(read('off'), 0);
      assert.deepEqual(read('10.0.0.0/8, 192.168.1.7,2001:db8::/32, loopback'), ['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', 'loopback']);
    });

    it('refuses what is neither hops nor addresses', () => {
      for (const value of ['maybe', '10.0.0.0/33', '10.0.0.1/8/8', 'proxy.internal', '2001:db8::/129', '17', '-1']) {
        const error = refuse({ TRUST_PROXY: value });
        assert.equal(error.problems.length, 1, `${value}: ${error.message}`);
        assert.match(error.problems[0]!, /^TRUST_PROXY must be/);
      }
    });
  });

  describe('PUBLIC_ORIGIN', () => {
    it('is required in production, and joins ALLOWED_ORIGINS as the allowed origins', () => {
      const error = refuse({ NODE_ENV: 'production', AUTH_USERS_FILE: '/etc/users.json', JWT_SECRET: STRONG_SECRET });
      assert.deepEqual(error.problems, ['PUBLIC_ORIGIN is required when NODE_ENV=production: the origin(s) browsers load the app from, such as https://app.example.com']);
      const config = loadConfig({ ...PRODUCTION, PUBLIC_ORIGIN: 'https://app.example.com, https://www.example.com', ALLOWED_ORIGINS: 'https://admin.example.com,https://app.example.com' });
      assert.deepEqual(config.auth.publicOrigins, ['https://app.example.com', 'https://www.example.com']);
      assert.deepEqual(config.auth.allowedOrigins, ['https://app.example.com', 'https://www.example.com', 'https://admin.example.com']);
    });

    it('takes origins only, not URLs with paths', () => {
      const error = refuse({ PUBLIC_ORIGIN: 'https://app.example.com/login' });
      assert.deepEqual(error.problems, ['PUBLIC_ORIGIN entries must be origins such as https://app.example.com (got "https://app.example.com/login")']);
    });
  });

  describe('ELASTICSEARCH_URL in production', () => {
    it('refuses http:// without ELASTICSEARCH_ALLOW_HTTP=true, and accepts https:// or the opt-in', () => {
      const error = refuse({ ...PRODUCTION, PUBLIC_ORIGIN: 'https://app.example.com', ELASTICSEARCH_URL: 'http://es.internal:9200' });
      assert.equal(error.problems.length, 1, error.message);
      assert.match(error.problems[0]!, /^ELASTICSEARCH_URL must be https:\/\/ when NODE_ENV=production; set ELASTICSEARCH_ALLOW_HTTP=true/);
      assert.equal(loadConfig({ ...PRODUCTION, PUBLIC_ORIGIN: 'https://app.example.com', ELASTICSEARCH_URL: 'https://es.internal:9200' }).elasticsearch.allowHttp, false);
      const optedIn = loadConfig({ ...PRODUCTION, PUBLIC_ORIGIN: 'https://app.example.com', ELASTICSEARCH_URL: 'http://es.internal:9200', ELASTICSEARCH_ALLOW_HTTP: 'true' });
      assert.equal(optedIn.elasticsearch.allowHttp, true);
      // Development keeps plain http (a local node) without the opt-in.
      assert.equal(loadConfig({ ELASTICSEARCH_URL: 'http://127.0.0.1:9200' }).elasticsearch.url, 'http://127.0.0.1:9200');
    });
  });

  it('refuses zero, negative and unreadable durations', () => {
    for (const value of ['0', '-5m', '15 minutes', '1e3']) {
      const error = refuse({ ACCESS_TOKEN_TTL: value });
      assert.ok(error.problems.some((problem) => problem.startsWith('ACCESS_TOKEN_TTL must be a positive duration')), `${value}: ${error.message}`);
    }
  });

  it('never puts URL credentials into a message', () => {
    const error = refuse({ ELASTICSEARCH_URL: 'ftp://elastic:hunter2-password@es.example.com', REDIS_URL: 'http://:redis-pass@cache' });
    const text = allTextOf(error);
    assert.ok(!text.includes('hunter2-password') && !text.includes('redis-pass'), text);
    assert.match(text, /\/\/\*\*\*@es\.example\.com/);
  });

  describe('secrets in production', () => {
    it('refuses production without JWT_SECRET or JWT_KEYS_FILE', () => {
      const error = refuse({ NODE_ENV: 'production', PUBLIC_ORIGIN: 'https://app.example.com', AUTH_USERS_FILE: '/etc/users.json' });
      assert.equal(error.problems.length, 1);
      assert.match(error.problems[0]!, /^JWT_SECRET or JWT_KEYS_FILE is required when NODE_ENV=production/);
    });

    const weak: Array<[string, string, RegExp]> = [
      ['a short word', 'secret', /shorter than 32 bytes/],
      ['a placeholder, even when long', 'changeme-please-rotate-this-value-0123456789', /placeholder/],
      ['31 bytes', 'abcdefghijklmnopqrstuvwxyz01234', /shorter than 32 bytes/],
      ['40 times the same character', 'a'.repeat(40), /fewer than 10 distinct characters/],
      ['a repeated short pattern', 'abcabcabcabcabcabcabcabcabcabcabcabc', /fewer than 10 distinct characters/],
      ['"password" and some digits', `Password${'0123456789'.repeat(3)}`, /placeholder/],
    ];
    for (const [label, secret, why] of weak) {
      it(`refuses a weak JWT_SECRET (${label}) without ever echoing it`, () => {
        const error = refuse({ ...PRODUCTION, JWT_SECRET: secret });
        assert.equal(error.problems.length, 1, error.message);
        assert.match(error.problems[0]!, /^JWT_SECRET /);
        assert.match(error.problems[0]!, why);
        assert.ok(!allTextOf(error).includes(secret), `the message must not contain the secret: ${error.message}`);
        assert.equal(secretWeakness(secret) !== undefined, true);
      });
    }

    it('does not echo a weak secret even among other problems', () => {
      const secret = 'changeme-changeme-changeme-changeme';
      const error = refuse({ NODE_ENV: 'production', PUBLIC_ORIGIN: 'https://app.example.com', JWT_SECRET: secret, PORT: '99999' });
      assert.ok(error.problems.length >= 3, error.message);
      assert.ok(!allTextOf(error).includes(secret));
      assert.ok(!allTextOf(error).includes('changeme-'));
    });

    it('refuses, in production, secrets long and varied enough that still are not random material', () => {
      const notRandom = {
        sequence: '0123456789012345678901234567890123',
        sentence: 'the quick brown fox jumps over the lazy dog, twice over',
        pattern: 'Xy7#Qw2!Lm9$'.repeat(4),
        run: `${randomBytes(24).toString('base64')}abcdefg`,
      };
      for (const [kind, secret] of Object.entries(notRandom)) {
        const error = refuse({ ...PRODUCTION, JWT_SECRET: secret });
        assert.match(error.message, /JWT_SECRET .*not random key material/, kind);
        assert.ok(!allTextOf(error).includes(secret), `${kind}: the secret is not echoed`);
        // Outside production the library's own rules apply (length, distinct characters, placeholders).
        assert.doesNotThrow(() => loadConfig({ JWT_SECRET: secret }), kind);
      }
    });

    it('accepts a strong secret as one HS256 key', () => {
      assert.ok(Buffer.byteLength(STRONG_SECRET) >= HMAC_MIN_BYTES.HS256);
      assert.equal(secretWeakness(STRONG_SECRET), undefined);
      const config = loadConfig(PRODUCTION);
      assert.equal(config.nodeEnv, 'production');
      assert.equal(config.jwt.ephemeral, false);
      assert.equal(config.jwt.activeKid, 'env');
      // The secret as written: createKeyRing gives a string the same meaning (its UTF-8 bytes).
      assert.deepEqual(config.jwt.keys, [{ kid: 'env', alg: 'HS256', secret: STRONG_SECRET }]);
      const ring = createKeyRing(config.jwt.keys);
      assert.deepEqual(ring.active.signKey.export(), Buffer.from(STRONG_SECRET));
    });

    it('takes JWT_SECRET as written, surrounding white space included, as an application reading it would', () => {
      const padded = ` ${STRONG_SECRET}\t`;
      const ring = createKeyRing(loadConfig({ JWT_SECRET: padded }).jwt.keys);
      assert.deepEqual(ring.active.signKey.export(), Buffer.from(padded));
    });

    it('reads a base64url: JWT_SECRET as the bytes it encodes, and refuses one that is not base64url', () => {
      const bytes = randomBytes(32);
      const ring = createKeyRing(loadConfig({ JWT_SECRET: `base64url:${bytes.toString('base64url')}` }).jwt.keys);
      assert.deepEqual(ring.active.signKey.export(), bytes);
      // 43 characters of text, but only 24 bytes of key: too short for HS256.
      assert.match(refuse({ JWT_SECRET: `base64url:${randomBytes(24).toString('base64url')}` }).message, /^JWT_SECRET is shorter than 32 bytes/);
      assert.match(refuse({ JWT_SECRET: `base64url:${'%'.repeat(50)}` }).message, /^JWT_SECRET is not valid base64url/);
    });

    it('refuses production without AUTH_USERS_FILE', () => {
      const error = refuse({ NODE_ENV: 'production', PUBLIC_ORIGIN: 'https://app.example.com', JWT_SECRET: STRONG_SECRET });
      assert.deepEqual(error.problems, ['AUTH_USERS_FILE is required when NODE_ENV=production']);
    });

    it('refuses JWT_SECRET and JWT_KEYS_FILE together', () => {
      const error = refuse({ JWT_SECRET: STRONG_SECRET, JWT_KEYS_FILE: join(dir, 'keys.json') });
      assert.ok(error.problems.some((problem) => /not both/.test(problem)), error.message);
      assert.ok(!allTextOf(error).includes(STRONG_SECRET));
    });
  });

  describe('JWT_KEYS_FILE', () => {
    it('reads the key ring from a file', () => {
      const file = join(dir, 'keys.json');
      const current = generateKey('EdDSA', 'ed-2030');
      const old = generateKey('HS256', 'hs-2029');
      writeFileSync(file, JSON.stringify({ active: 'ed-2030', keys: [current, old] }), { mode: 0o600 });
      const config = loadConfig({ ...PRODUCTION, JWT_SECRET: undefined, JWT_KEYS_FILE: file });
      assert.equal(config.jwt.ephemeral, false);
      assert.equal(config.jwt.activeKid, 'ed-2030');
      assert.deepEqual(config.jwt.keys.map((key) => key.kid), ['ed-2030', 'hs-2029']);
      const ring = createKeyRing(config.jwt.keys, config.jwt.activeKid);
      assert.equal(ring.active.alg, 'EdDSA');
      assert.deepEqual(ring.kids, ['ed-2030', 'hs-2029']);
    });

    it('checks each key as createKeyRing does, naming the variable and never quoting a secret', () => {
      const file = join(dir, 'weak-keys.json');
      const weak = 'changeme-changeme-changeme-changeme-0123456789';
      writeFileSync(file, JSON.stringify({ active: 'hs', keys: [{ kid: 'hs', alg: 'HS256', secret: weak }] }), { mode: 0o600 });
      const error = refuse({ JWT_KEYS_FILE: file });
      assert.match(error.message, /^JWT_KEYS_FILE .*weak-keys\.json: Key "hs" \(HS256\) has a secret that looks like a placeholder\.$/);
      assert.ok(!allTextOf(error).includes(weak));
      writeFileSync(file, JSON.stringify({ keys: [{ kid: 'hs', alg: 'HS512', secret: `base64url:${randomBytes(48).toString('base64url')}` }] }));
      assert.match(refuse({ JWT_KEYS_FILE: file }).message, /^JWT_KEYS_FILE .*: Key "hs" \(HS512\) needs a secret of at least 64 bytes; it has 48\.$/);
      writeFileSync(file, JSON.stringify({ active: 'other', keys: [generateKey('EdDSA', 'ed')] }));
      assert.match(refuse({ JWT_KEYS_FILE: file }).message, /The active key id "other" is not in the key ring/);
    });

    it('refuses a missing file, or one without keys', () => {
      assert.match(refuse({ JWT_KEYS_FILE: join(dir, 'missing.json') }).message, /^JWT_KEYS_FILE .*missing\.json cannot be read/);
      const empty = join(dir, 'empty.json');
      writeFileSync(empty, JSON.stringify({ active: 'x', keys: [] }));
      assert.match(refuse({ JWT_KEYS_FILE: empty }).message, /must hold \{"active": kid, "keys": \[\.\.\.\]\}/);
    });

    it('never echoes the content of a keys file it cannot parse (e.g. a raw secret given by mistake)', () => {
      // An easy operator mistake: pointing JWT_KEYS_FILE at a file that holds a bare secret instead of JSON.
      const file = join(dir, 'raw-secret.txt');
      // Fixed, so the test is deterministic (a random one starting with a digit would fail JSON.parse differently).
      const secret = 'Zk3mQpL8xYvB2nRt7wEa9sDf4gHj6kLzQ1w2E3r4T5y6U7i8O9p0aSdFgHjKlZxC';
      writeFileSync(file, `${secret}\n`, { mode: 0o600 });
      const error = refuse({ JWT_KEYS_FILE: file });
      assert.match(error.message, /^JWT_KEYS_FILE .*raw-secret\.txt cannot be read/);
      const text = allTextOf(error);
      for (let i = 0; i + 8 <= secret.length; i += 1) {
        assert.ok(!text.includes(secret.slice(i, i + 8)), `the message quotes part of the secret ("${secret.slice(i, i + 8)}..."): ${error.message}`);
      }
    });
  });

  describe('token lifetimes', () => {
    it('bounds JWT_CLOCK_TOLERANCE at 60 s', () => {
      assert.equal(loadConfig({ JWT_CLOCK_TOLERANCE: '60s' }).jwt.clockToleranceSec, 60);
      assert.equal(loadConfig({ JWT_CLOCK_TOLERANCE: '60' }).jwt.clockToleranceSec, 60);
      for (const value of ['61s', '60001ms', '2m', '1h']) {
        const error = refuse({ JWT_CLOCK_TOLERANCE: value });
        assert.deepEqual(error.problems, ['JWT_CLOCK_TOLERANCE must be at most 60s'], value);
      }
    });

    it('refuses an access token that lives as long as the refresh token or longer', () => {
      for (const [access, refresh] of [['12h', '12h'], ['1d', '12h'], ['43200', '12h']]) {
        const error = refuse({ ACCESS_TOKEN_TTL: access, REFRESH_TOKEN_TTL: refresh });
        assert.deepEqual(error.problems, ['ACCESS_TOKEN_TTL must be shorter than REFRESH_TOKEN_TTL'], `${access} / ${refresh}`);
      }
      assert.equal(loadConfig({ ACCESS_TOKEN_TTL: '43199', REFRESH_TOKEN_TTL: '12h' }).jwt.accessTtlMs, 43_199_000);
    });

    it('refuses a refresh token that outlives the absolute session', () => {
      const error = refuse({ REFRESH_TOKEN_TTL: '8d', SESSION_ABSOLUTE_TTL: '7d' });
      assert.deepEqual(error.problems, ['REFRESH_TOKEN_TTL must not be longer than SESSION_ABSOLUTE_TTL']);
    });
  });
});
