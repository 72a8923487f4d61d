import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigurationError } from '../../src/errors.js';
import { createPasswordPolicy, describeRejection } from '../../src/session/password-policy.js';

describe('createPasswordPolicy', () => {
  const policy = createPasswordPolicy();

  it('refuses common passwords (ASVS 6.2.4) and those built from the user\'s context (6.2.11, 6.2.12)', () => {
    for (const common of ['password', 'password1', 'qwertyuiop', '12345678', 'iloveyou', 'hunter22']) {
      assert.equal(policy.check(common).rejection?.code, 'guessable', common);
    }
    assert.equal(policy.check('carolina2024!', ['carolina']).rejection?.code, 'guessable');
    assert.equal(policy.check('koa-sentinel1').rejection?.code, 'guessable', 'the service name');
    assert.match(describeRejection(policy.check('carolina2024!', ['carolina']).rejection!), /username or the service name/);
  });

  it('accepts long unrelated words and random strings, with no composition rules (6.2.5)', () => {
    for (const good of ['correct horse battery staple', 'lantern orbit pebble 58', 'k9#mQ2vLx7', 'zuckerwatte im nebel']) {
      assert.deepEqual(policy.check(good), { ok: true }, good);
    }
  });

  it('counts characters as people do, 8 to 128 by default (6.2.1, 6.2.9)', () => {
    assert.deepEqual(policy.check('short1!').rejection, { code: 'too_short', limit: 8 });
    assert.deepEqual(policy.check('x'.repeat(129)).rejection, { code: 'too_long', limit: 128 });
    // Seven emoji are seven characters, not fourteen UTF-16 units.
    assert.equal(policy.check('🦊🦊🦊🦊🦊🦊🦊').rejection?.code, 'too_short');
    assert.deepEqual(policy.check(`lantern orbit pebble 58 ${'x'.repeat(104)}`), { ok: true }, '128 characters are allowed');
  });

  it('validates its options once', () => {
    assert.throws(() => createPasswordPolicy({ minLength: 6 }), ConfigurationError);
    assert.throws(() => createPasswordPolicy({ maxLength: 32 }), ConfigurationError);
    assert.throws(() => createPasswordPolicy({ minScore: 5 }), ConfigurationError);
    assert.throws(() => createPasswordPolicy({ contextWords: [1 as unknown as string] }), ConfigurationError);
    assert.equal(createPasswordPolicy({ minScore: 0 }).check('password').ok, true);
  });
});
