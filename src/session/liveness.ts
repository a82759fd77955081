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
  #lastHeardAt = Date.now();

  constructor(session: Closable, ws: WebSocket, opts: SessionOptions) {
    if (opts.heartbeat > 0) {
      const timeout = opts.heartbeatTimeout || 2 * opts.heartbeat;
      const heard = () => {
        this.#lastHeardAt = Date.now();
      };
      ws.on('pong', heard);
      ws.on('ping', heard);
      ws.on('message', heard);
      this.#heartbeatTimer = setInterval(() => {
        if (Date.now() - this.#lastHeardAt > timeout) session.terminate(`no answer to pings for ${timeout} ms`);
        else ws.ping();
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
    this.#heartbeatTimer = this.#idleTimer = null;
  }
}
