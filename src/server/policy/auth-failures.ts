// Failed authentications per client address: after `max` failures within
// `windowMs`, the address is answered 429 for `lockoutMs` before any check
// runs (so guessing costs no hashing either). Logged once, when the lockout
// starts. Only failures where credentials were offered count: a client that
// first tries without them, then answers the challenge, is not punished.
// Per process (under --workers, each process counts its own clients).
import type { AuthFailureLimit } from '../../config/types.js';

/** Addresses remembered at most; beyond, expired entries are dropped first, then the oldest. */
const MAX_ADDRESSES = 10_000;

interface Failures {
  failures: number;
  windowStart: number;
  lockedUntil: number;
}

export class AuthFailures {
  readonly #limit: AuthFailureLimit;
  readonly #byAddress = new Map<string, Failures>();

  constructor(limit: AuthFailureLimit) {
    this.#limit = limit;
  }

  /** Milliseconds until `address` may try again; 0 if it is not locked out. */
  lockedFor(address: string, now = Date.now()): number {
    const r = this.#byAddress.get(address);
    return r && r.lockedUntil > now ? r.lockedUntil - now : 0;
  }

  /** Counts a failure; true when it starts a lockout (the one time to log it). */
  failed(address: string, now = Date.now()): boolean {
    let r = this.#byAddress.get(address);
    if (!r || now - r.windowStart >= this.#limit.windowMs) {
      if (!r) this.#makeRoom(now);
      r = { failures: 0, windowStart: now, lockedUntil: r?.lockedUntil ?? 0 };
      this.#byAddress.set(address, r);
    }
    r.failures++;
    if (r.failures < this.#limit.max || r.lockedUntil > now) return false;
    r.lockedUntil = now + this.#limit.lockoutMs;
    r.failures = 0;
    r.windowStart = now;
    return true;
  }

  get lockoutMs(): number {
    return this.#limit.lockoutMs;
  }

  get size(): number {
    return this.#byAddress.size;
  }

  #makeRoom(now: number): void {
    if (this.#byAddress.size < MAX_ADDRESSES) return;
    for (const [address, r] of this.#byAddress) {
      if (r.lockedUntil <= now && now - r.windowStart >= this.#limit.windowMs) this.#byAddress.delete(address);
    }
    while (this.#byAddress.size >= MAX_ADDRESSES) this.#byAddress.delete(this.#byAddress.keys().next().value!);
  }
}
