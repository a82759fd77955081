// Keepalive pings (websockify's --heartbeat), dropping peers that stopped
// answering, and the idle timeout. Timers are armed only when configured and
// re-armed lazily from timestamps, so busy sessions cost no timer work per
// message and idle ones no CPU beyond their own interval.
import type { WebSocket } from 'ws';
import type { SessionOptions } from '../config/types.js';

interface Closable {
  lastDataAt: number;
  close(code: number, reason: string): void;
  terminate(reason: string): void;
}

export class Liveness {
  #heartbeatTimer: NodeJS.Timeout | null = null;
  #idleTimer: NodeJS.Timeout | null = null;
  #answerTimer: NodeJS.Timeout | null = null;
  /** When the oldest ping still unanswered was sent. */
  #unansweredSince: number | null = null;

  constructor(session: Closable, ws: WebSocket, opts: SessionOptions) {
    if (opts.heartbeat > 0) {
      const timeout = opts.heartbeatTimeout || 2 * opts.heartbeat;
      // Anything heard from the peer answers every ping sent before it.
      const heard = () => {
        this.#unansweredSince = null;
      };
      ws.on('pong', heard);
      ws.on('ping', heard);
      ws.on('message', heard);
      const check = () => {
        if (this.#unansweredSince !== null && Date.now() - this.#unansweredSince >= timeout) {
          session.terminate(`no answer to a ping for ${timeout} ms`);
          return true;
        }
        return false;
      };
      this.#heartbeatTimer = setInterval(() => {
        if (check()) return;
        ws.ping();
        this.#unansweredSince ??= Date.now();
        // A timeout shorter than the interval is checked on its own, not at the next ping.
        if (timeout < opts.heartbeat) this.#answerTimer = setTimeout(check, timeout).unref();
      }, opts.heartbeat);
      this.#heartbeatTimer.unref();
    }
    if (opts.idleTimeout > 0) {
      const check = () => {
        const idleFor = Date.now() - session.lastDataAt;
        if (idleFor >= opts.idleTimeout) session.close(1001, 'idle timeout');
        else this.#idleTimer = setTimeout(check, opts.idleTimeout - idleFor).unref();
      };
      this.#idleTimer = setTimeout(check, opts.idleTimeout).unref();
    }
  }

  stop(): void {
    if (this.#heartbeatTimer) clearInterval(this.#heartbeatTimer);
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    if (this.#answerTimer) clearTimeout(this.#answerTimer);
    this.#heartbeatTimer = this.#idleTimer = this.#answerTimer = null;
  }
}
