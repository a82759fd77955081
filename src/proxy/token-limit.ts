// maxSessionsPerToken: how many sessions one token may hold at once, on a
// tcp-proxy route with a resolver. A place is taken after the lookup and
// before the dial (so a refused client costs no backend connection) and
// given back when the session ends or never opens. Tokens are kept only as
// hashes. Per process: under --workers each process counts its own.
import { createHash } from 'node:crypto';

const hash = (token: string) => createHash('sha256').update(token).digest('base64url');

export class TokenSessionLimit {
  readonly #counts = new Map<string, number>();
  constructor(readonly max: number) {}

  /** Takes a place for `token`; null if it already holds `max`, else the give-back (idempotent). */
  take(token: string): (() => void) | null {
    const key = hash(token);
    const n = this.#counts.get(key) ?? 0;
    if (n >= this.max) return null;
    this.#counts.set(key, n + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = (this.#counts.get(key) ?? 1) - 1;
      if (left === 0) this.#counts.delete(key);
      else this.#counts.set(key, left);
    };
  }

  /** Tokens holding a place (0 once every session has ended). */
  get size(): number {
    return this.#counts.size;
  }
}
