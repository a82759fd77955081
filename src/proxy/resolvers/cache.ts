// Optional positive and negative caching of lookups, so a busy gateway does
// not ask its store for the same token on every reconnect. Bounded in size;
// single-use tokens are never cached (their store must see every use).
import type { ResolvedTarget } from './types.js';

const MAX_ENTRIES = 10_000;

export class LookupCache {
  readonly #ttl: number;
  readonly #negativeTtl: number;
  readonly #entries = new Map<string, { value: ResolvedTarget | null; until: number }>();

  constructor(ttlMs: number, negativeTtlMs: number) {
    this.#ttl = ttlMs;
    this.#negativeTtl = negativeTtlMs;
  }

  /** The cached answer, or undefined when there is none (or it has expired). */
  get(token: string): ResolvedTarget | null | undefined {
    const entry = this.#entries.get(token);
    if (!entry) return undefined;
    if (entry.until > Date.now()) return entry.value;
    this.#entries.delete(token);
    return undefined;
  }

  set(token: string, value: ResolvedTarget | null): void {
    const ttl = value ? (value.singleUse ? 0 : this.#ttl) : this.#negativeTtl;
    if (ttl <= 0) return;
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(token, { value, until: Date.now() + ttl });
  }

  forget(token: string): void {
    this.#entries.delete(token);
  }
}
