/** Which windows a run judges: the closed ones on the grid, and on demand the open one, never past now. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alreadyReported, planWindows } from '../../src/anomaly/grid.js';

const MINUTE = 60_000;
const STEP = 5 * MINUTE;
const T = Date.UTC(2026, 10, 21, 12, 0);
const base = { stepMs: STEP, delayMs: MINUTE, maxCatchUpMs: 24 * 60 * MINUTE };
const iso = (plan: { from: number; closedTo: number; openEnd?: number }): Record<string, string | undefined> => ({
  from: new Date(plan.from).toISOString().slice(11, 19),
  closedTo: new Date(plan.closedTo).toISOString().slice(11, 19),
  openEnd: plan.openEnd === undefined ? undefined : new Date(plan.openEnd).toISOString().slice(11, 19),
});

describe('planWindows', () => {
  it('a scheduled run judges the closed windows from the checkpoint to the grid point a minute back', () => {
    assert.deepEqual(iso(planWindows({ ...base, now: T + 3 * MINUTE + 20_000, checkpoint: T - 2 * STEP })), { from: '11:50:00', closedTo: '12:00:00', openEnd: undefined });
    // 12:00:50 is within the delay of 12:00: that window is not closed yet.
    assert.deepEqual(iso(planWindows({ ...base, now: T + 50_000, checkpoint: T - 2 * STEP })), { from: '11:50:00', closedTo: '11:55:00', openEnd: undefined });
  });

  it('without a checkpoint it judges one window', () => {
    assert.deepEqual(iso(planWindows({ ...base, now: T + 3 * MINUTE })), { from: '11:55:00', closedTo: '12:00:00', openEnd: undefined });
  });

  it('until now adds the open window, ending now, and leaves the closed range as a scheduled run has it', () => {
    const now = T + 3 * MINUTE + 20_000;
    assert.deepEqual(iso(planWindows({ ...base, now, checkpoint: T - STEP, until: now })), { from: '11:55:00', closedTo: '12:00:00', openEnd: '12:03:20' });
    // Within the delay: the grid point 12:00 is still open, so the open window is the one ending now.
    assert.deepEqual(iso(planWindows({ ...base, now: T + 30_000, checkpoint: T - STEP, until: T + 30_000 })), { from: '11:55:00', closedTo: '11:55:00', openEnd: '12:00:30' });
  });

  it('an until in the future is now: no window ends later than now', () => {
    const now = T + 3 * MINUTE;
    assert.deepEqual(iso(planWindows({ ...base, now, until: now + 10 * MINUTE })), { from: '11:55:00', closedTo: '12:00:00', openEnd: '12:03:00' });
  });

  it('an until in the past judges the closed windows covering it, on the grid, as before', () => {
    const now = T + 60 * MINUTE;
    assert.deepEqual(iso(planWindows({ ...base, now, since: T - 30 * MINUTE, until: T + 2 * MINUTE })), { from: '11:30:00', closedTo: '12:05:00', openEnd: undefined });
  });

  it('an until before since judges nothing open', () => {
    const now = T + 3 * MINUTE;
    assert.equal(planWindows({ ...base, now, since: now, until: now - 10 * MINUTE }).openEnd, undefined);
  });

  it('catches up at most maxCatchUpMs behind the newest closed window', () => {
    const plan = planWindows({ ...base, now: T + 3 * MINUTE, checkpoint: T - 3 * 24 * 60 * MINUTE, until: T + 3 * MINUTE });
    assert.equal(plan.from, T - 24 * 60 * MINUTE);
    assert.equal(plan.openEnd, T + 3 * MINUTE);
  });
});

describe('alreadyReported', () => {
  const REALERT = 60 * MINUTE;
  it('within the realert period, before or after; an alert at the same end is not a repetition (it comes back 409)', () => {
    assert.equal(alreadyReported(T - 10 * MINUTE, T, REALERT, STEP), true);
    assert.equal(alreadyReported(T + 10 * MINUTE, T, REALERT, STEP), true);
    assert.equal(alreadyReported(T - 60 * MINUTE, T, REALERT, STEP), false);
    assert.equal(alreadyReported(T, T, REALERT, STEP), false);
  });

  it('an open-window alert covers the closed window that ends next, whatever the realert period', () => {
    const open = T + 3 * MINUTE + 20_000;
    assert.equal(alreadyReported(open, T + STEP, 0, STEP), true);
    assert.equal(alreadyReported(open, T + 2 * STEP, 0, STEP), false, 'only the window it was part of');
    assert.equal(alreadyReported(open, T, 0, STEP), false, 'not the closed window before it');
    assert.equal(alreadyReported(T, T + STEP, 0, STEP), false, 'a closed-window alert does not');
  });
});
