// Session limits applied before the 101 (src/server/admission.ts holds the
// gateway-wide maxSessions): open sessions per client address, and a token
// bucket of new sessions per client address. All per process: under
// --workers each process counts its own clients (README, *On the open
// internet*).

/** Sessions open per key (a client address), each key with at most `max`. */
export class CountsByKey {
  readonly #counts = new Map<string, number>();
  constructor(readonly max: number) {}

  /** Takes a place for `key`; false if it already has `max`. */
  take(key: string): boolean {
    const n = this.#counts.get(key) ?? 0;
    if (n >= this.max) return false;
    this.#counts.set(key, n + 1);
    return true;
  }

  /** Gives back a place taken by take(). */
  leave(key: string): void {
    const n = this.#counts.get(key) ?? 0;
    if (n <= 1) this.#counts.delete(key);
    else this.#counts.set(key, n - 1);
  }

  /** Keys holding a place (an empty map once every session has ended). */
  get size(): number {
    return this.#counts.size;
  }
}

/** Buckets remembered at most; a full bucket is the same as none, so those go first. */
const MAX_BUCKETS = 10_000;

/**
 * A token bucket per client address: `burst` sessions at once, refilled at
 * `perSecond`. take() answers 0 (go) or the milliseconds until the next
 * token, for Retry-After.
 */
export class RateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(perSecond: number, burst: number) {
    this.#perMs = perSecond / 1000;
    this.#burst = burst;
  }

  take(address: string, now = Date.now()): number {
    let b = this.#buckets.get(address);
    if (!b) {
      this.#makeRoom(now);
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(address, b);
    }
    b.tokens = Math.min(this.#burst, b.tokens + (now - b.at) * this.#perMs);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    // (Less a hair, so that float error does not round a whole millisecond up.)
    return Math.max(1, Math.ceil((1 - b.tokens) / this.#perMs - 1e-6));
  }

  get size(): number {
    return this.#buckets.size;
  }

  #makeRoom(now: number): void {
    if (this.#buckets.size < MAX_BUCKETS) return;
    for (const [address, b] of this.#buckets) if (b.tokens + (now - b.at) * this.#perMs >= this.#burst) this.#buckets.delete(address);
    while (this.#buckets.size >= MAX_BUCKETS) this.#buckets.delete(this.#buckets.keys().next().value!);
  }
}
