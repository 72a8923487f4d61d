/**
 * One task at a time per key, in this process. Login attempts for one account go through it, so a burst of
 * parallel guesses is judged one after another by the throttle (each sees the failures before it) instead of all
 * passing the first check together. Across instances the race is bounded by the number of instances.
 */
export interface KeyedMutex {
  /** Runs `task` when no other task for `key` runs; rejects with QueueFull when `maxQueue` already wait. */
  run<T>(key: string, task: () => Promise<T>): Promise<T>;
  readonly size: number;
}

export class QueueFull extends Error {
  constructor() {
    super('too many waiting tasks for this key');
    this.name = 'QueueFull';
  }
}

export function createKeyedMutex(maxQueue = 100): KeyedMutex {
  const tails = new Map<string, { promise: Promise<unknown>; waiting: number }>();
  return {
    get size() {
      return tails.size;
    },
    run(key, task) {
      const entry = tails.get(key);
      if (entry && entry.waiting >= maxQueue) return Promise.reject(new QueueFull());
      const previous = entry?.promise ?? Promise.resolve();
      const slot = entry ?? { promise: previous, waiting: 0 };
      slot.waiting += 1;
      const result = previous.then(task, task);
      const settled = result.then(() => undefined, () => undefined);
      slot.promise = settled;
      tails.set(key, slot);
      void settled.then(() => {
        slot.waiting -= 1;
        if (slot.waiting === 0 && tails.get(key) === slot) tails.delete(key);
      });
      return result;
    },
  };
}
