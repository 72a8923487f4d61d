/**
 * The clock and timers the shipper's units take as options, so tests drive time with fakes (node:test's
 * `mock.timers`, or any object of this shape) instead of waiting on the wall clock.
 */

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The globals, looked up at each call rather than captured at import: a test that enables `mock.timers` after this
 * module loaded still gets the mocked functions.
 */
export const SYSTEM_TIMERS: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};

export const systemNow = (): number => Date.now();

/** A pending retry or batch timer must not keep a process alive that has nothing else to do. */
export function unref(handle: unknown): void {
  (handle as { unref?: () => void } | undefined)?.unref?.();
}
