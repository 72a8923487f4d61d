import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createMemoryStore } from '../../src/session/store.js';
import { ABSOLUTE, T0, at, describeStoreContract, family } from '../support/store-contract.js';

/** The memory store's clock: T0 for each test unless the test moves it. */
let now = T0;

describeStoreContract('createMemoryStore', async () => {
  now = T0;
  const store = createMemoryStore({ now: () => now });
  return { store, failureWindowMs: 1_000, cleanup: () => store.close() };
}, {
  revokeUserAndIsSessionActive: () => {
    it('sweeps families past their absolute expiry', async () => {
      const swept = createMemoryStore({ now: () => now, sweepIntervalMs: 5 });
      try {
        await swept.createFamily(family());
        await swept.createFamily(family({ id: 'long', absoluteExpiresAt: T0 + 10 * ABSOLUTE }));
        now = T0 + ABSOLUTE + 1;
        await new Promise((resolve) => setTimeout(resolve, 30));
        assert.deepEqual(await swept.rotateFamily('fam-1', 'jti-0', 'jti-1', at(now)), { status: 'missing' });
        assert.equal(await swept.isSessionActive('long', 'u_alice', T0 / 1000), true);
      } finally {
        await swept.close();
      }
    });
  },
});
