// The live sessions of this process: for health output, graceful stop and
// websockify's --run-once / --idle-timeout behaviours.
import { EventEmitter } from 'node:events';
import type { CloseInfo, Session } from '../session/session.js';

export class SessionRegistry extends EventEmitter {
  readonly #sessions = new Set<Session>();
  #total = 0;

  add(session: Session): void {
    this.#sessions.add(session);
    this.#total++;
    this.emit('added', session);
    session.on('close', (info: CloseInfo) => {
      this.#sessions.delete(session);
      this.emit('ended', session, info);
      if (this.#sessions.size === 0) this.emit('empty');
    });
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Sessions accepted since start. */
  get total(): number {
    return this.#total;
  }

  [Symbol.iterator](): IterableIterator<Session> {
    return this.#sessions.values();
  }
}
