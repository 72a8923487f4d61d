import assert from 'node:assert/strict';
import { ConfigurationError } from '../../src/errors.js';

/** Runs `load` expecting a ConfigurationError with code config_invalid (a loader's), and returns it. */
export function configurationError(load: () => unknown): ConfigurationError {
  let caught: unknown;
  try {
    load();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigurationError, `expected a ConfigurationError, got ${String(caught)}`);
  assert.equal(caught.code, 'config_invalid');
  return caught;
}
