// Live sessions by token, so that a revocation announced by the store
// (Redis pub/sub, PostgreSQL NOTIFY) closes them on this gateway. Tokens are
// kept only as hashes.
import { createHash } from 'node:crypto';
import type { Session } from '../session/session.js';

const hash = (token: string) => createHash('sha256').update(token).digest('base64url');

export class SessionsByToken {
  /** By token hash: each live session and the reason its close frame will carry. */
  readonly #sessions = new Map<string, Map<Session, string>>();

  /** `reason`: what a revocation's close says (a Guacamole tunnel needs a numeric status there). */
  add(token: string, session: Session, reason = 'token revoked'): void {
    const key = hash(token);
    let set = this.#sessions.get(key);
    if (!set) this.#sessions.set(key, (set = new Map()));
    set.set(session, reason);
    session.once('close', () => {
      set.delete(session);
      if (set.size === 0 && this.#sessions.get(key) === set) this.#sessions.delete(key);
    });
  }

  /** Closes every live session that was opened with `token` (1008, policy violation); returns how many. */
  revoke(token: string): number {
    const set = this.#sessions.get(hash(token));
    if (!set) return 0;
    for (const [session, reason] of set) session.close(1008, reason);
    return set.size;
  }
}
