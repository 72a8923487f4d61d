import { bruteForceAccount, bruteForceSource, credentialStuffingDistributed, credentialStuffingSource, passwordSpraying, successAfterFailures } from './authentication.js';
import { newDeviceForUser } from './devices.js';
import { createImpossibleTravelRule, createNewCountryRule } from './locations.js';
import { createSessionCountryChangeRule } from './session-locations.js';
import { authorizationFailureBurst, failureVolumeSpike, newSourceForUser, refreshTokenReuse, tokenTampering } from './sessions.js';
import { trustedAsNumbers, type LocationRuleOptions } from './trusted-networks.js';
import type { Rule } from './types.js';

/**
 * Every rule the runner knows, in the order alerts are listed, with the location rules told which networks to
 * trust (`createAnomalyRunner({ rules: createRuleSet({ trustedAsNumbers: [64496] }) })`).
 */
export function createRuleSet(options: LocationRuleOptions = {}): readonly Rule[] {
  const located = { trustedAsNumbers: trustedAsNumbers(options) };
  return [
    bruteForceAccount,
    bruteForceSource,
    passwordSpraying,
    credentialStuffingSource,
    credentialStuffingDistributed,
    successAfterFailures,
    tokenTampering,
    refreshTokenReuse,
    authorizationFailureBurst,
    newSourceForUser,
    failureVolumeSpike,
    createNewCountryRule(located),
    createImpossibleTravelRule(located),
    newDeviceForUser,
    createSessionCountryChangeRule(located),
  ] as unknown as readonly Rule[];
}

/** The rule set with no trusted networks. */
export const RULES: readonly Rule[] = createRuleSet();

export { createImpossibleTravelRule, createNewCountryRule } from './locations.js';
export { createSessionCountryChangeRule } from './session-locations.js';
export type { LocationRuleOptions } from './trusted-networks.js';
export type { Rule, Finding, Window, SearchSpec, Severity } from './types.js';
