// The live sessions of this process: for health output, graceful stop and
// websockify's --run-once / --idle-timeout behaviours.
import { EventEmitter } from 'node:events';

/** What the metrics read of how a session ended (the Session's CloseInfo has more). */
export interface SessionEnd {
  /** Who started the close: 'server', 'client', or 'network' (no close frame). */
  readonly by: 'server' | 'client' | 'network';
}

/**
 * What observability reads of a session: the fields of Session
 * (src/session/session.ts) it reports on. Declared here so that this layer,
 * below the session, does not import it; a Session satisfies it.
 */
export interface TrackedSession {
  readonly id: string;
  /** Date.now() when the session opened. */
  readonly startedAt: number;
  readonly meta: {
    readonly remoteAddress: string;
    readonly route: string;
    readonly path: string;
    readonly protocol: string;
    readonly identity?: Readonly<Record<string, string>>;
  };
  readonly target: string;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  /** False while the client takes bytes slower than they come (above the high-water mark). */
  readonly writable: boolean;
  /** Bytes accepted for the client and not yet with the kernel. */
  readonly bufferedAmount: number;
  /** 'close' is emitted once, when the session has ended. */
  on(event: 'close', listener: (info: SessionEnd) => void): unknown;
}

/** Sessions of the type the gateway adds (S: its Session), seen by observers as TrackedSession. */
export class SessionRegistry<S extends TrackedSession = TrackedSession> extends EventEmitter {
  readonly #sessions = new Set<S>();
  #total = 0;

  add(session: S): void {
    this.#sessions.add(session);
    this.#total++;
    this.emit('added', session);
    session.on('close', (info: SessionEnd) => {
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

  [Symbol.iterator](): IterableIterator<S> {
    return this.#sessions.values();
  }
}
