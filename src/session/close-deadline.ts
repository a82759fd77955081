// How long a closing session may take: two phases, each with its own bound.
//   delivery:  what was queued before close() still goes to the client, for as
//              long as the client keeps taking bytes; `drainTimeout` without
//              progress cuts it (the log then says 1006 and what was lost)
//   handshake: once the close frame is with the kernel, the peer has
//              `closeTimeout` to answer it
// A fixed timer from close() cut slow clients that were still reading: after a
// backend's EOF they lost the queued tail while the log said 1000.
// Progress is sampled on a coarse timer (no per-write work on the relay's
// path); only closing sessions have one.

export interface ClosingPort {
  /** Bytes handed to the kernel so far; it grows while the client takes data. */
  delivered(): number;
  /** True once the close frame and everything queued before it are with the kernel. */
  closeFrameOut(): boolean;
  /** Ends the connection: the client stopped taking bytes, or did not answer the close frame. */
  cut(why: 'no-progress' | 'no-close-answer'): void;
}

/** How often a delivering session's progress is sampled. */
const SAMPLE_MS = 250;

export class CloseDeadline {
  readonly #port: ClosingPort;
  readonly #drainTimeout: number;
  readonly #closeTimeout: number;
  #timer: NodeJS.Timeout | null = null;
  #phase: 'delivery' | 'handshake' | 'over' = 'delivery';
  #lastDelivered: number;
  #lastProgressAt = Date.now();

  constructor(port: ClosingPort, drainTimeout: number, closeTimeout: number) {
    this.#port = port;
    this.#drainTimeout = drainTimeout;
    this.#closeTimeout = closeTimeout;
    this.#lastDelivered = port.delivered();
    this.#arm(Math.min(SAMPLE_MS, drainTimeout));
  }

  /** Re-examines at once (the close frame was just handed over): often it went straight to the kernel. */
  check(): void {
    if (this.#phase !== 'delivery') return;
    if (this.#port.closeFrameOut()) {
      this.#phase = 'handshake';
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.#port.cut('no-close-answer'), this.#closeTimeout);
      this.#timer.unref();
      return;
    }
    const delivered = this.#port.delivered();
    const now = Date.now();
    if (delivered !== this.#lastDelivered) {
      this.#lastDelivered = delivered;
      this.#lastProgressAt = now;
    } else if (now - this.#lastProgressAt >= this.#drainTimeout) {
      this.stop();
      this.#port.cut('no-progress');
    }
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#phase = 'over';
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      this.check();
      if (this.#phase === 'delivery') this.#arm(Math.min(SAMPLE_MS, this.#drainTimeout));
    }, ms);
    this.#timer.unref();
  }
}
