// Optional positive and negative caching of lookups, so a busy gateway does
// not ask its store for the same token on every reconnect. Bounded in size;
// single-use tokens are never cached (their store must see every use).
import { isRefusal, type LookupAnswer } from './types.js';

const MAX_ENTRIES = 10_000;

export class LookupCache {
  readonly #ttl: number;
  readonly #negativeTtl: number;
  readonly #entries = new Map<string, { value: LookupAnswer; until: number }>();

  constructor(ttlMs: number, negativeTtlMs: number) {
    this.#ttl = ttlMs;
    this.#negativeTtl = negativeTtlMs;
  }

  /** The cached answer, or undefined when there is none (or it has expired). */
  get(token: string): LookupAnswer | undefined {
    const entry = this.#entries.get(token);
    if (!entry) return undefined;
    if (entry.until > Date.now()) return entry.value;
    this.#entries.delete(token);
    return undefined;
  }

  /** Refusals and unknown tokens are kept for negativeTtl, targets for ttl. */
  set(token: string, value: LookupAnswer): void {
    const ttl = value === null || isRefusal(value) ? this.#negativeTtl : value.singleUse ? 0 : this.#ttl;
    if (ttl <= 0) return;
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(token, { value, until: Date.now() + ttl });
  }

  forget(token: string): void {
    this.#entries.delete(token);
  }
}
