/**
 * A bounded, approximately least-recently-used map: enrichment caches answers keyed by client-chosen text
 * (addresses, User-Agents), so the cache must never grow with what clients send. Two generations (the quick-lru
 * scheme): entries go into `recent`; when it holds `max`, it becomes `old` and the previous `old` is dropped; a hit in
 * `old` moves the entry back to `recent`. At most 2 × max entries, every operation O(1). (Evicting a Map's first key
 * one at a time looked simpler but costs microseconds per insertion: V8 walks the deleted slots at the map's start.
 * maxmind's own cache is keyed by record offset, not by address, and the lru-cache package is not a dependency.)
 * Values are never undefined: remember "nothing" as null, so undefined always means a miss.
 */
export class LruCache<K, V extends NonNullable<unknown> | null> {
  readonly #max: number;
  #recent = new Map<K, V>();
  #old = new Map<K, V>();

  constructor(max: number) {
    this.#max = max;
  }

  /** Entries held: between 0 and 2 × max. */
  get size(): number {
    return this.#recent.size + this.#old.size;
  }

  /** The value, or undefined on a miss; a hit keeps it for at least one more generation. */
  get(key: K): V | undefined {
    const value = this.#recent.get(key);
    if (value !== undefined) return value;
    const older = this.#old.get(key);
    if (older !== undefined) {
      this.#old.delete(key);
      this.#store(key, older);
    }
    return older;
  }

  set(key: K, value: V): void {
    if (this.#max <= 0) return;
    if (this.#recent.has(key)) this.#recent.set(key, value);
    else {
      this.#old.delete(key);
      this.#store(key, value);
    }
  }

  #store(key: K, value: V): void {
    if (this.#recent.size >= this.#max) {
      this.#old = this.#recent;
      this.#recent = new Map();
    }
    this.#recent.set(key, value);
  }
}
