import UAParser from 'ua-parser-js';
import { ConfigurationError } from '../errors.js';
import { LruCache } from './lru.js';
import type { ParsedUserAgent } from './types.js';

/**
 * `user_agent.*` from `user_agent.original`, with ua-parser-js 1.x (MIT; 2.x is AGPL). Parsing costs tens of
 * microseconds, so answers are cached by the original string (already cut to 512 characters by whoever wrote it),
 * and cold parses have a budget per second: a client sending a new User-Agent with every request makes documents
 * go out un-parsed (user_agent.original is always there) instead of making every request slower.
 */

export interface UserAgentParserOptions {
  /** User-Agents whose answer is remembered. Default 5000. */
  cacheSize?: number;
  /** Most parses of uncached User-Agents per second; beyond it a document keeps user_agent.original only. Default 1000. */
  parsesPerSecond?: number;
  /** Clock (ms) for the budget. Default Date.now. */
  now?: () => number;
}

export const USER_AGENT_DEFAULTS = { cacheSize: 5000, parsesPerSecond: 1000, maxCacheSize: 1_000_000 } as const;

/** ECS `os.type` (its allowed values) by ua-parser-js's OS name. */
const OS_TYPE: Record<string, string> = {
  Windows: 'windows', 'Windows Phone': 'windows', 'Mac OS': 'macos', macOS: 'macos', iOS: 'ios', iPadOS: 'ios', Android: 'android',
  Linux: 'linux', Ubuntu: 'linux', Debian: 'linux', Fedora: 'linux', 'Red Hat': 'linux', CentOS: 'linux', Mint: 'linux', Arch: 'linux',
  openSUSE: 'linux', SUSE: 'linux', Gentoo: 'linux', 'Chromium OS': 'linux', Chromecast: 'linux', HarmonyOS: 'android',
  FreeBSD: 'unix', OpenBSD: 'unix', NetBSD: 'unix', Solaris: 'unix',
};
/** ECS `os.family` (such as debian, redhat, windows) where the OS name tells it. */
const OS_FAMILY: Record<string, string> = {
  Windows: 'windows', 'Mac OS': 'macos', macOS: 'macos', iOS: 'ios', Android: 'android', Ubuntu: 'debian', Debian: 'debian', Mint: 'debian',
  Fedora: 'redhat', 'Red Hat': 'redhat', CentOS: 'redhat', openSUSE: 'suse', SUSE: 'suse', Arch: 'arch', Gentoo: 'gentoo',
};

// Printable characters only, and short: these are keywords built from client text.
const clean = (value: string | undefined, max = 128): string | undefined => {
  const out = value?.replace(/[^\p{L}\p{N}\p{P}\p{S}\p{Zs}]/gu, '').trim().slice(0, max);
  return out ? out : undefined;
};

/** One parse, no cache: the ECS fields ua-parser-js can tell, undefined when it tells none. */
export function parseUserAgent(original: string): ParsedUserAgent | undefined {
  const { browser, os, device } = new UAParser(original).getResult();
  const out: ParsedUserAgent = {};
  const name = clean(browser.name);
  if (name) {
    out.name = name;
    const version = clean(browser.version, 32);
    if (version) out.version = version;
  }
  const osName = clean(os.name);
  if (osName) {
    const osVersion = clean(os.version, 32);
    const type = OS_TYPE[osName];
    const family = OS_FAMILY[osName];
    out.os = { name: osName, ...(osVersion ? { version: osVersion } : {}), full: osVersion ? `${osName} ${osVersion}` : osName, ...(family ? { family } : {}), ...(type ? { type } : {}) };
  }
  const deviceName = clean([device.vendor, device.model].filter(Boolean).join(' '));
  if (deviceName) out.device = { name: deviceName };
  return out.name || out.os || out.device ? out : undefined;
}

function checkOptions(options: UserAgentParserOptions, option: string): void {
  const { cacheSize, parsesPerSecond, now } = options;
  if (cacheSize !== undefined && (!Number.isInteger(cacheSize) || cacheSize < 0 || cacheSize > USER_AGENT_DEFAULTS.maxCacheSize)) {
    throw new ConfigurationError(`options.${option}.cacheSize must be a whole number from 0 to ${USER_AGENT_DEFAULTS.maxCacheSize}.`, { option: `${option}.cacheSize` });
  }
  if (parsesPerSecond !== undefined && (!Number.isInteger(parsesPerSecond) || parsesPerSecond < 0)) {
    throw new ConfigurationError(`options.${option}.parsesPerSecond must be a whole number, 0 or more.`, { option: `${option}.parsesPerSecond` });
  }
  if (now !== undefined && typeof now !== 'function') throw new ConfigurationError(`options.${option}.now must be a function.`, { option: `${option}.now` });
}

/** A cached, budgeted parser: `(original) => fields | undefined`. Answers are frozen and shared between documents. */
export function createUserAgentParser(options: UserAgentParserOptions = {}, option = 'userAgent'): (original: string) => ParsedUserAgent | undefined {
  checkOptions(options, option);
  const cache = new LruCache<string, ParsedUserAgent | null>(options.cacheSize ?? USER_AGENT_DEFAULTS.cacheSize);
  const budget = options.parsesPerSecond ?? USER_AGENT_DEFAULTS.parsesPerSecond;
  const now = options.now ?? Date.now;
  let second = -1;
  let spent = 0;
  return (original) => {
    const cached = cache.get(original);
    if (cached !== undefined) return cached ?? undefined;
    const current = Math.floor(now() / 1000);
    if (current !== second) {
      second = current;
      spent = 0;
    }
    if (spent >= budget) return undefined;
    spent += 1;
    let parsed: ParsedUserAgent | undefined;
    try {
      parsed = parseUserAgent(original);
    } catch {
      parsed = undefined;
    }
    if (parsed) {
      Object.freeze(parsed.os);
      Object.freeze(parsed.device);
      Object.freeze(parsed);
    }
    cache.set(original, parsed ?? null);
    return parsed;
  };
}
