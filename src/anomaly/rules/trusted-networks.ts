import { ConfigurationError } from '../../errors.js';

/**
 * Networks whose exit address says nothing about where a person is: the company VPN, a zero-trust proxy, a mobile
 * carrier that hands out addresses from one country's pool everywhere. The location rules ignore logins and session
 * use through them (docs/anomaly-detection.md#locations-and-devices).
 */
export interface LocationRuleOptions {
  /** Autonomous system numbers (`source.as.number`) of trusted egress networks. Default none. */
  trustedAsNumbers?: readonly number[];
}

/** The largest 32-bit AS number (RFC 6793). */
const MAX_AS_NUMBER = 4_294_967_295;

/** Validated once, at construction: a sorted copy without repeats. */
export function trustedAsNumbers(options: LocationRuleOptions | undefined): number[] {
  const list = options?.trustedAsNumbers ?? [];
  if (!Array.isArray(list)) throw new ConfigurationError('The trustedAsNumbers option must be an array of AS numbers.', { option: 'trustedAsNumbers' });
  for (const n of list) {
    if (!Number.isSafeInteger(n) || n < 1 || n > MAX_AS_NUMBER) {
      throw new ConfigurationError(`The trustedAsNumbers option must hold AS numbers from 1 to ${MAX_AS_NUMBER}; got ${JSON.stringify(n)}.`, { option: 'trustedAsNumbers' });
    }
  }
  return [...new Set(list)].sort((a, b) => a - b);
}

/** `must_not` clauses that leave out events from the trusted networks (none when the list is empty). */
export function fromTrustedNetworks(asNumbers: readonly number[]): Record<string, unknown>[] {
  return asNumbers.length > 0 ? [{ terms: { 'source.as.number': [...asNumbers] } }] : [];
}
