// Live sessions by token, so that a revocation announced by the store
// (Redis pub/sub, PostgreSQL NOTIFY) closes them on this gateway. Tokens are
// kept only as hashes.
import { createHash } from 'node:crypto';
import type { Session } from '../session/session.js';

const hash = (token: string) => createHash('sha256').update(token).digest('base64url');

export class SessionsByToken {
  readonly #sessions = new Map<string, Set<Session>>();

  add(token: string, session: Session): void {
    const key = hash(token);
    let set = this.#sessions.get(key);
    if (!set) this.#sessions.set(key, (set = new Set()));
    set.add(session);
    session.once('close', () => {
      set.delete(session);
      if (set.size === 0 && this.#sessions.get(key) === set) this.#sessions.delete(key);
    });
  }

  /** Closes every live session that was opened with `token` (1008, policy violation); returns how many. */
  revoke(token: string): number {
    const set = this.#sessions.get(hash(token));
    if (!set) return 0;
    for (const session of set) session.close(1008, 'token revoked');
    return set.size;
  }
}
