import { createHash } from 'node:crypto';
import { ConfigurationError } from '../errors.js';

/**
 * Whether a new password appears in known breaches (ASVS 6.2.12), by the k-anonymity range API that Have I Been
 * Pwned serves: only the first 5 hex characters of the password's SHA-1 leave the process, and the answer (every
 * suffix with that prefix, padded with decoys) is searched here. No maintained npm package does just this without
 * pulling in a client for the whole HIBP API, hence these few lines.
 *
 * An option, off by default: it needs the network. When the service does not answer within `timeoutMs`, the
 * check says `undefined` (unknown) and the caller decides; the password policy's own rules still apply.
 */

export interface BreachedPasswordCheckOptions {
  /** The range endpoint; the 5-character prefix is appended. Default Have I Been Pwned's. */
  url?: string;
  /** Default 2000 ms: a password change should not hang on a slow third party. */
  timeoutMs?: number;
  /** Breaches a password must appear in to be refused. Default 1. */
  minCount?: number;
  /** For tests and proxies. Default the global fetch. */
  fetch?: typeof fetch;
}

export const BREACHED_PASSWORD_DEFAULTS = { url: 'https://api.pwnedpasswords.com/range/', timeoutMs: 2000, minCount: 1 };

/** `true`: breached; `false`: not found; `undefined`: the service could not be asked. */
export type BreachedPasswordCheck = (password: string) => Promise<boolean | undefined>;

export function createBreachedPasswordCheck(options: BreachedPasswordCheckOptions = {}): BreachedPasswordCheck {
  const url = options.url ?? BREACHED_PASSWORD_DEFAULTS.url;
  const timeoutMs = options.timeoutMs ?? BREACHED_PASSWORD_DEFAULTS.timeoutMs;
  const minCount = options.minCount ?? BREACHED_PASSWORD_DEFAULTS.minCount;
  const request = options.fetch ?? fetch;
  try {
    if (!['http:', 'https:'].includes(new URL(url).protocol)) throw new Error('protocol');
  } catch {
    throw new ConfigurationError('options.url must be an http(s) URL.', { option: 'url' });
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new ConfigurationError('options.timeoutMs must be a positive integer.', { option: 'timeoutMs' });
  if (!Number.isInteger(minCount) || minCount < 1) throw new ConfigurationError('options.minCount must be a positive integer.', { option: 'minCount' });

  return async (password) => {
    const digest = createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase();
    const prefix = digest.slice(0, 5);
    const suffix = digest.slice(5);
    let text: string;
    try {
      const response = await request(`${url}${prefix}`, { headers: { 'Add-Padding': 'true' }, signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) return undefined;
      text = await response.text();
    } catch {
      return undefined;
    }
    for (const line of text.split('\n')) {
      const [candidate, count] = line.trim().split(':');
      if (candidate === suffix) return Number(count) >= minCount;
    }
    return false;
  };
}
