import { bruteForceAccount, bruteForceSource, credentialStuffingDistributed, credentialStuffingSource, passwordSpraying, successAfterFailures } from './authentication.js';
import { authorizationFailureBurst, failureVolumeSpike, newSourceForUser, refreshTokenReuse, tokenTampering } from './sessions.js';
import type { Rule } from './types.js';

/** Every rule the runner knows, in the order alerts are listed. */
export const RULES: readonly Rule[] = [
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
] as unknown as readonly Rule[];

export type { Rule, Finding, Window, SearchSpec, Severity } from './types.js';
