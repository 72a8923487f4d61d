/**
 * Which windows one run of the anomaly runner judges (docs/anomaly-detection.md#windows). Pure: the runner passes
 * the clock, the stored checkpoint and the caller's `since`/`until`.
 *
 * Closed windows end on the grid (multiples of `stepMs`) at least `delayMs` behind now: their events are in, so
 * judging them is final and the checkpoint may move up to the newest one. An `until` later than that newest closed
 * grid point asks for the open window too: it ends at `until` itself (never later than now, so no alert is dated
 * in the future), off the grid, so its alert ids can never collide with those of the closed window judged later
 * with all its events; the checkpoint stays at the closed windows, so that later run judges it as usual.
 */

export interface GridInput {
  now: number;
  stepMs: number;
  delayMs: number;
  maxCatchUpMs: number;
  /** Judge window ends after this instant, whatever the checkpoint. */
  since?: number;
  /** Judge up to this instant; later than the newest closed grid point, it adds the open window. */
  until?: number;
  /** The stored checkpoint: the newest closed window end already judged. */
  checkpoint?: number;
}

export interface GridPlan {
  /** Window ends after this grid point are judged. */
  from: number;
  /** The newest closed window end judged (a grid point): where the checkpoint may move, never further. */
  closedTo: number;
  /** The end of the open window to judge on demand, off the grid; undefined when there is none. */
  openEnd?: number;
}

export function planWindows(input: GridInput): GridPlan {
  const { now, stepMs, delayMs, maxCatchUpMs } = input;
  const down = (at: number): number => Math.floor(at / stepMs) * stepMs;
  const newestClosed = down(now - delayMs);
  const until = input.until === undefined ? undefined : Math.min(input.until, now);
  // A past `until` keeps the meaning it always had: the windows covering it, on the grid.
  const closedTo = until === undefined ? newestClosed : Math.min(newestClosed, Math.ceil(until / stepMs) * stepMs);
  const since = input.since === undefined ? undefined : down(input.since);
  const from = Math.max(since ?? input.checkpoint ?? closedTo - stepMs, closedTo - maxCatchUpMs);
  const open = until !== undefined && until > closedTo && (since === undefined || until > since);
  return open ? { from, closedTo, openEnd: until } : { from, closedTo };
}

/**
 * Whether an alert stored at window end `at` already reports a finding at window end `end` of the same rule and
 * entity. Within the realert period it does, before or after (a backfill judges older windows after newer ones);
 * an open-window alert also covers the closed window that ends next on the grid, whatever the realert period, so
 * the closed window judged later with all its events never alerts again on what the on-demand run reported.
 */
export function alreadyReported(at: number, end: number, realertMs: number, stepMs: number): boolean {
  if (at === end) return false;
  if (Math.abs(end - at) < realertMs) return true;
  return at % stepMs !== 0 && at < end && end - at < stepMs;
}
