/**
 * Time as the Redis store's units see it. Tests pass fakes (node:test's `mock.timers`, or any object of this
 * shape) and move time themselves instead of waiting on the wall clock.
 */
export interface StoreClock {
  /** Milliseconds on a monotonic clock: cache lifetimes, which a wall clock stepped back (NTP) must not stretch. */
  monotonic(): number;
  /** Milliseconds since the epoch: when the last error happened, as status() reports it. */
  wall(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The globals, looked up at each call: a test that enables `mock.timers` after this module loaded gets the mocks. */
export const SYSTEM_CLOCK: StoreClock = {
  monotonic: () => performance.now(),
  wall: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};
