/**
 * A bounded least-recently-used map: enrichment caches answers keyed by client-chosen text (addresses,
 * User-Agents), so the cache must never grow with what clients send. A Map keeps insertion order, so re-inserting on
 * a hit makes the first key the least recently used one. (maxmind's own cache is keyed by record offset, not by
 * address, and the lru-cache package is not a dependency of ours.) Values are never undefined: remember "nothing"
 * as null, so undefined always means a miss.
 */
export class LruCache<K, V extends NonNullable<unknown> | null> {
  readonly #max: number;
  readonly #entries = new Map<K, V>();

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value, or undefined on a miss; a hit makes it the most recently used. */
  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    if (this.#max <= 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as K);
  }
}
