// Connections that are not (yet) WebSocket sessions. Node's HTTP server answers
// a request that timed out with a 'clientError' and then leaves the socket to
// wait for a FIN that a silent client never sends, so connections that never
// send and never read held their descriptors until the gateway hit its fd
// limit and could serve neither new sessions nor /healthz. Here:
//  - every accepted socket gets TCP keepalive (a vanished peer is found);
//  - a connection whose request has not fully arrived within the handshake
//    timeout is answered 408 and destroyed (Node's own timers, checked often);
//  - at most `maxPending` connections may wait for their request: past that
//    the OLDEST is dropped, so a new client (a health check, a real user)
//    always gets in while an attacker's idle connections cycle out.
// A connection stops counting once its upgrade request has arrived: from then
// on the upgrade's own bounds (admission, connect timeout) apply.
import type { Socket } from 'node:net';
import type { Logger } from '../observability/logger.js';

/** Idle time before the first TCP keepalive probe on any accepted socket. */
export const KEEPALIVE_DELAY_MS = 30_000;
/** At most one "dropped" log line per this interval, with the count since the last. */
const DROP_LOG_INTERVAL_MS = 5_000;

export class ConnectionGuard {
  /** Insertion order is age: the first is the oldest. */
  readonly #pending = new Set<Socket>();
  readonly #max: number;
  readonly #log: Logger;
  #dropped = 0;
  #lastDropLog = 0;
  /** One listener shared by every socket (`this` is the socket): nothing allocated per connection. */
  readonly #onClose: (this: Socket) => void;

  constructor(maxPending: number, log: Logger) {
    this.#max = maxPending;
    this.#log = log;
    const pending = this.#pending;
    this.#onClose = function (this: Socket) {
      pending.delete(this);
    };
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** A connection was accepted (or handed over by the --workers primary). */
  admit(socket: Socket): void {
    socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    this.#pending.add(socket);
    socket.once('close', this.#onClose);
    if (this.#pending.size > this.#max) this.#dropOldest();
  }

  /** Its upgrade request arrived whole: no longer a waiting connection. */
  settled(socket: Socket): void {
    if (this.#pending.delete(socket)) socket.removeListener('close', this.#onClose);
  }

  #dropOldest(): void {
    const oldest = this.#pending.values().next().value as Socket;
    this.settled(oldest);
    oldest.destroy();
    this.#dropped++;
    const now = Date.now();
    if (now - this.#lastDropLog >= DROP_LOG_INTERVAL_MS) {
      this.#log.warn({ dropped: this.#dropped, maxPending: this.#max }, 'too many connections waiting for their request: dropped the oldest');
      this.#dropped = 0;
      this.#lastDropLog = now;
    }
  }
}

/** The status a malformed or too slow request is answered with. */
export function clientErrorStatus(code: string | undefined): number {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  return 400;
}
