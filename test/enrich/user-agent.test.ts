import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigurationError } from '../../src/errors.js';
import { createUserAgentParser, parseUserAgent } from '../../src/enrich/user-agent.js';

const AGENTS = {
  firefoxUbuntu: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  galaxy: 'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  windowsChrome: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  curl: 'curl/8.5.0',
};

describe('parseUserAgent: ECS user_agent.* from the header (ua-parser-js 1.x)', () => {
  it('browsers, systems and devices, with ECS os.type and os.family', () => {
    assert.deepEqual(parseUserAgent(AGENTS.firefoxUbuntu), { name: 'Firefox', version: '128.0', os: { name: 'Ubuntu', full: 'Ubuntu', family: 'debian', type: 'linux' } });
    assert.deepEqual(parseUserAgent(AGENTS.iphone), { name: 'Mobile Safari', version: '17.4', os: { name: 'iOS', version: '17.4', full: 'iOS 17.4', family: 'ios', type: 'ios' }, device: { name: 'Apple iPhone' } });
    assert.deepEqual(parseUserAgent(AGENTS.galaxy), { name: 'Chrome', version: '124.0.0.0', os: { name: 'Android', version: '14', full: 'Android 14', family: 'android', type: 'android' }, device: { name: 'Samsung SM-S918B' } });
    assert.deepEqual(parseUserAgent(AGENTS.windowsChrome), { name: 'Chrome', version: '126.0.0.0', os: { name: 'Windows', version: '10', full: 'Windows 10', family: 'windows', type: 'windows' } });
  });

  it('a header that names nothing gives nothing (user_agent.original stays the only field)', () => {
    assert.equal(parseUserAgent(AGENTS.curl), undefined);
    assert.equal(parseUserAgent(''), undefined);
    assert.equal(parseUserAgent('\u0000\u0001'), undefined);
  });
});

describe('createUserAgentParser: cached and budgeted', () => {
  it('answers from the cache: the same frozen object for the same header', () => {
    const parse = createUserAgentParser();
    const first = parse(AGENTS.iphone)!;
    assert.equal(parse(AGENTS.iphone), first);
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.os) && Object.isFrozen(first.device));
    assert.equal(parse(AGENTS.curl), undefined);
    assert.equal(parse(AGENTS.curl), undefined, 'nothing is remembered too');
  });

  it('at most parsesPerSecond cold parses per second: beyond, new headers go unparsed until the next second; cached ones still answer', () => {
    let now = 5_000;
    const parse = createUserAgentParser({ parsesPerSecond: 2, now: () => now });
    assert.ok(parse(AGENTS.iphone));
    assert.ok(parse(AGENTS.galaxy));
    assert.equal(parse(AGENTS.windowsChrome), undefined, 'budget spent');
    assert.ok(parse(AGENTS.iphone), 'cached: free');
    now += 999;
    assert.equal(parse(AGENTS.windowsChrome), undefined, 'same second');
    now += 1;
    assert.equal(parse(AGENTS.windowsChrome)?.name, 'Chrome', 'a new second, a new budget');
  });

  it('the cache is bounded: the least recently used header is parsed again', () => {
    const parse = createUserAgentParser({ cacheSize: 2 });
    const iphone = parse(AGENTS.iphone);
    parse(AGENTS.galaxy);
    parse(AGENTS.iphone);
    parse(AGENTS.windowsChrome);
    assert.equal(parse(AGENTS.iphone), iphone, 'recently used: kept');
    const galaxy = parse(AGENTS.galaxy);
    assert.deepEqual(galaxy, parseUserAgent(AGENTS.galaxy));
  });

  it('refuses bad options with a ConfigurationError naming them', () => {
    for (const [options, option] of [[{ cacheSize: 1.5 }, 'userAgent.cacheSize'], [{ parsesPerSecond: -1 }, 'userAgent.parsesPerSecond'], [{ now: 1 }, 'userAgent.now']] as const) {
      assert.throws(() => createUserAgentParser(options as never), (e: unknown) => e instanceof ConfigurationError && e.option === option);
    }
  });
});
