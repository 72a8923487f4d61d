import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';
import { ConfigurationError } from '../errors.js';
import { MAX_PASSWORD_LENGTH } from './passwords.js';

/**
 * The rules a new password must pass (ASVS 6.2): at least 8 characters (6.2.1), long ones allowed (6.2.9: at
 * least 64), no composition rules (6.2.5), and not guessable: not a common password (6.2.4) and not built from the
 * user's own context, such as the username or the service's name (6.2.11, 6.2.12). Guessability is zxcvbn's
 * estimate with its common dictionaries, the context words added as user inputs. One policy serves
 * POST /auth/password and `koa-sentinel users add|passwd`.
 */

export interface PasswordPolicyOptions {
  /** Fewest characters. Default 8 (ASVS 6.2.1); at least 8. */
  minLength?: number;
  /** Most characters. Default 128; at least 64 (ASVS 6.2.9) and at most MAX_PASSWORD_LENGTH. */
  maxLength?: number;
  /**
   * Lowest zxcvbn score accepted, 0-4. Default 3: "safely unguessable" against online attacks and a slow hash
   * offline. Every common password and every variation of the context words scores lower.
   */
  minScore?: number;
  /** Words anyone could guess for every user of this service: its name, the company. Default ['koa-sentinel']. */
  contextWords?: readonly string[];
}

export const PASSWORD_POLICY_DEFAULTS = {
  minLength: 8,
  maxLength: 128,
  minScore: 3,
  contextWords: ['koa-sentinel', 'sentinel'] as readonly string[],
};

/**
 * Why a password was refused. Stable codes a client may translate: `too_short`, `too_long` and `guessable`; with
 * `guessable`, `hint` is zxcvbn's warning key (e.g. `topTen`, `commonNames`, `userInputs`), or undefined.
 */
export type PasswordRejection = { code: 'too_short' | 'too_long'; limit: number } | { code: 'guessable'; score: number; hint?: string };

export interface PasswordCheck {
  ok: boolean;
  rejection?: PasswordRejection;
}

export interface PasswordPolicy {
  readonly minLength: number;
  readonly maxLength: number;
  /** Judges a new password; `userWords` are this user's context (username, id, display name). */
  check(password: string, userWords?: readonly string[]): PasswordCheck;
}

/**
 * zxcvbn's cost grows with length (a 200-character password takes about 0.3 s here): only the first characters
 * are estimated. A password that long and still guessable in its first 64 characters is refused, which is right.
 */
const ESTIMATED_LENGTH = 64;

let estimator: ZxcvbnFactory | undefined;
/** Built on first use: loading the dictionaries takes a few tens of milliseconds and most processes never need it. */
function zxcvbn(): ZxcvbnFactory {
  estimator ??= new ZxcvbnFactory({ dictionary, graphs: adjacencyGraphs, maxLength: ESTIMATED_LENGTH });
  return estimator;
}

export function createPasswordPolicy(options: PasswordPolicyOptions = {}): PasswordPolicy {
  const o = { ...PASSWORD_POLICY_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as typeof PASSWORD_POLICY_DEFAULTS;
  if (!Number.isInteger(o.minLength) || o.minLength < 8) throw new ConfigurationError('options.minLength must be an integer of at least 8 (ASVS 6.2.1).');
  if (!Number.isInteger(o.maxLength) || o.maxLength < 64 || o.maxLength > MAX_PASSWORD_LENGTH) {
    throw new ConfigurationError(`options.maxLength must be an integer from 64 (ASVS 6.2.9) to ${MAX_PASSWORD_LENGTH}.`);
  }
  if (o.minLength > o.maxLength) throw new ConfigurationError('options.minLength must not exceed options.maxLength.');
  if (!Number.isInteger(o.minScore) || o.minScore < 0 || o.minScore > 4) throw new ConfigurationError('options.minScore must be an integer from 0 to 4.');
  if (!Array.isArray(o.contextWords) || !o.contextWords.every((word) => typeof word === 'string')) {
    throw new ConfigurationError('options.contextWords must be a list of strings.');
  }
  const { minLength, maxLength, minScore } = o;
  const contextWords = [...o.contextWords];

  return {
    minLength,
    maxLength,
    check(password, userWords = []) {
      // Counted in code points, as a user counts characters (an emoji is one).
      const length = [...password].length;
      if (length < minLength) return { ok: false, rejection: { code: 'too_short', limit: minLength } };
      if (length > maxLength) return { ok: false, rejection: { code: 'too_long', limit: maxLength } };
      const result = zxcvbn().check(password, [...contextWords, ...userWords.filter((word) => word !== '')]);
      if (result.score >= minScore) return { ok: true };
      return { ok: false, rejection: { code: 'guessable', score: result.score, hint: result.feedback.warning ?? undefined } };
    },
  };
}

/** One sentence for a person: what the CLI prints and what the API's error message says. */
export function describeRejection(rejection: PasswordRejection): string {
  switch (rejection.code) {
    case 'too_short':
      return `The password must be at least ${rejection.limit} characters.`;
    case 'too_long':
      return `The password must be at most ${rejection.limit} characters.`;
    default:
      return rejection.hint === 'userInputs'
        ? 'The password is too easy to guess: it is built from the username or the service name.'
        : 'The password is too easy to guess (a common password or a simple variation of one); a few unrelated words make a strong one.';
  }
}
