// The relay of a Guacamole tunnel: backend bytes become text messages of
// whole instructions (framer.ts); each browser message is checked to be
// whole instructions and written to the backend, its internal instructions
// answered (ping) or dropped. Backpressure as in the binary relay: a browser
// that reads slowly pauses the backend reads, a backend that reads slowly
// pauses the browser's. Driven by the handler's hooks: start() at open,
// fromClient() per message, clientClosed() at close.
//
// With a handshake (the guacamole handler), the backend's first
// instructions go to it instead of the browser until it is done; the
// browser's instructions wait for it (their pings are answered meanwhile).
//
// Every close carries a decimal Guacamole status as its reason (the web
// client reads nothing else); what happened is logged.
import type { BackendConnection } from '../dial.js';
import type { Logger } from '../../observability/logger.js';
import type { Session } from '../../session/session.js';
import { InstructionFramer, type FramerOptions } from './framer.js';
import { ClientMessageChecker } from './client-messages.js';
import { GuacamoleStatus, statusReason, webSocketCodeOf } from './status.js';
import type { HandshakeStep } from './guacd-handshake.js';
import type { Relay } from '../relay.js';
import type { Recorder } from '../recording/recorder.js';

export interface GuacamoleRelayOptions {
  /** After the session ends, how long the backend may take to finish before it is destroyed. */
  closeTimeoutMs: number;
  log: Logger;
  /** Log every backend chunk (websockify --traffic; the runtime logs the client's messages). */
  traffic: boolean;
  /** Close when the backend has sent nothing for this long; 0 = never. */
  backendIdleMs: number;
  /** Send `nop` when nothing has gone to the browser for this long; 0 = never. */
  nopIntervalMs: number;
  framing: FramerOptions;
  /** Sent to the browser first (the tunnel UUID instruction). */
  greeting?: string;
  /** Runs on the backend's first instructions before the browser sees any. */
  handshake?: RelayHandshake;
  /** The session's recording: what goes to the browser after the handshake, and what the browser sends on. */
  recorder?: Recorder | null;
}

export interface RelayHandshake {
  /** What to write to the backend first. */
  begin(): string;
  /** Whole instructions from the backend, while the handshake runs. */
  receive(message: Buffer): HandshakeStep;
}

const NOP = Buffer.from('3.nop;');
/** Browser bytes held while a handshake runs; past this the browser is paused. */
const EARLY_LIMIT = 64 * 1024;

export class GuacamoleRelay implements Relay {
  readonly #session: Session;
  readonly #backend: BackendConnection;
  readonly #opts: GuacamoleRelayOptions;
  readonly #framer: InstructionFramer;
  readonly #checker: ClientMessageChecker;
  #handshake: RelayHandshake | null;
  /** Browser instructions that arrived during the handshake. */
  #early: Buffer[] = [];
  #earlyBytes = 0;
  #backendPaused = false;
  #clientPaused = false;
  #backendError: NodeJS.ErrnoException | null = null;
  #lastBackendAt = Date.now();
  #lastSentAt = Date.now();
  #idleTimer: NodeJS.Timeout | null = null;
  #nopTimer: NodeJS.Timeout | null = null;

  constructor(session: Session, backend: BackendConnection, opts: GuacamoleRelayOptions) {
    this.#session = session;
    this.#backend = backend;
    this.#opts = opts;
    this.#framer = new InstructionFramer(opts.framing);
    this.#checker = new ClientMessageChecker(opts.framing.maxPendingBytes);
    this.#handshake = opts.handshake ?? null;
    // An error between the dial and the 101 (dial() kept it for us).
    this.#backendError = backend.earlyError;
  }

  start(): void {
    const session = this.#session;
    const { socket, reader } = this.#backend;
    if (this.#opts.greeting) this.#send(Buffer.from(this.#opts.greeting), undefined);
    if (this.#handshake) this.#write(Buffer.from(this.#handshake.begin()));
    const sink = (message: Buffer, written: (() => void) | undefined) => (this.#handshake ? this.#duringHandshake(message, written) : this.#send(message, written));
    reader.attach((chunk, release) => {
      this.#lastBackendAt = Date.now();
      if (this.#opts.traffic) this.#opts.log.trace({ sid: session.id, dir: 'backend>client', bytes: chunk.length }, 'traffic');
      if (!session.isOpen) {
        release?.();
        return;
      }
      const below = this.#framer.push(chunk, release, sink);
      const error = this.#framer.error;
      if (error) {
        this.#fail(GuacamoleStatus.UPSTREAM_ERROR, `malformed stream from the backend: ${error.message}`, error.closeCode);
        socket.destroy();
        return;
      }
      if (!below && !this.#backendPaused && session.isOpen) {
        this.#backendPaused = true;
        reader.hold();
        session.once('drain', this.#resumeBackend);
      }
    });
    socket.on('drain', () => {
      if (!this.#clientPaused) return;
      this.#clientPaused = false;
      session.resumeReading();
    });
    socket.on('end', () => {
      if (this.#framer.pendingBytes > 0) this.#fail(GuacamoleStatus.UPSTREAM_ERROR, `the backend closed inside an instruction (${this.#framer.pendingBytes} bytes dropped)`, 1002);
      else if (this.#handshake) this.#fail(GuacamoleStatus.UPSTREAM_ERROR, 'the backend closed during the handshake');
      else this.#close(GuacamoleStatus.SUCCESS, 'backend closed the connection');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.#backendError = err;
    });
    const backendGone = () => {
      if (this.#backendError) this.#fail(GuacamoleStatus.UPSTREAM_ERROR, `backend error: ${this.#backendError.code ?? this.#backendError.message}`);
      else if (this.#handshake) this.#fail(GuacamoleStatus.UPSTREAM_ERROR, 'the backend closed during the handshake');
      else this.#close(GuacamoleStatus.SUCCESS, 'backend closed the connection');
    };
    socket.on('close', backendGone);
    // It may be gone already: it failed or closed between the dial and the 101.
    if (socket.destroyed) backendGone();
    if (this.#opts.backendIdleMs > 0) this.#idleTimer = setTimeout(this.#checkIdle, this.#opts.backendIdleMs);
    if (this.#opts.nopIntervalMs > 0) this.#nopTimer = setTimeout(this.#checkNop, this.#opts.nopIntervalMs);
  }

  /** One message from the browser. */
  fromClient(data: Buffer, isBinary: boolean): void {
    const session = this.#session;
    if (!session.isOpen) return;
    if (isBinary) return this.#clientFailed(GuacamoleStatus.CLIENT_BAD_TYPE, 'the browser sent a binary message (Guacamole is text)');
    const split = this.#checker.check(data);
    if (split instanceof Error) return this.#clientFailed(GuacamoleStatus.CLIENT_BAD_REQUEST, `malformed message from the browser: ${split.message}`, split.closeCode);
    for (const ping of split.pings) this.#send(ping, undefined);
    if (!split.forward) return;
    if (this.#handshake) {
      this.#early.push(split.forward);
      this.#earlyBytes += split.forward.length;
      if (this.#earlyBytes > EARLY_LIMIT) this.#pauseClient();
      return;
    }
    this.#write(split.forward);
  }

  /** The session has ended: the backend gets what it was sent, then FIN. */
  clientClosed(): void {
    const { socket, reader } = this.#backend;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    if (this.#nopTimer) clearTimeout(this.#nopTimer);
    if (this.#backendPaused) this.#session.removeListener('drain', this.#resumeBackend);
    reader.unhold();
    this.#opts.recorder?.end();
    if (socket.destroyed) return;
    socket.end();
    const timer = setTimeout(() => socket.destroy(), this.#opts.closeTimeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  #duringHandshake(message: Buffer, written: (() => void) | undefined): boolean {
    const step = this.#handshake!.receive(message);
    if (step.kind === 'continue') {
      if (step.send) this.#write(Buffer.from(step.send));
      written?.();
      return true;
    }
    if (step.kind === 'failed') {
      if (step.forward) this.#send(step.forward, undefined);
      written?.();
      this.#fail(step.status, step.reason);
      this.#backend.socket.destroy();
      return true;
    }
    this.#handshake = null;
    this.#opts.log.info({ sid: this.#session.id, connection: step.connectionId, version: step.version }, 'guacd handshake done');
    const early = this.#early;
    this.#early = [];
    this.#earlyBytes = 0;
    for (const bytes of early) this.#write(bytes);
    if (!this.#backend.socket.writableNeedDrain && this.#clientPaused) {
      this.#clientPaused = false;
      this.#session.resumeReading();
    }
    if (step.rest) return this.#send(step.rest, written);
    written?.();
    return true;
  }

  #send(message: Buffer, written: (() => void) | undefined): boolean {
    this.#lastSentAt = Date.now();
    // The gateway's own nop is no part of the session (the format leaves out the tunnel's instructions).
    if (message !== NOP) this.#opts.recorder?.toClient(message);
    return this.#session.send(message, false, written);
  }

  #write(bytes: Buffer): void {
    const socket = this.#backend.socket;
    if (socket.destroyed || socket.writableEnded) return;
    this.#opts.recorder?.fromClient(bytes);
    if (!socket.write(bytes)) this.#pauseClient();
  }

  #pauseClient(): void {
    if (this.#clientPaused) return;
    this.#clientPaused = true;
    this.#session.pauseReading();
  }

  readonly #resumeBackend = (): void => {
    this.#backendPaused = false;
    this.#backend.reader.unhold();
  };

  // Timers re-armed for what is left rather than reset per read: a busy tunnel costs no timer work.
  readonly #checkIdle = (): void => {
    if (!this.#session.isOpen) return;
    const left = this.#lastBackendAt + this.#opts.backendIdleMs - Date.now();
    if (left > 0) {
      this.#idleTimer = setTimeout(this.#checkIdle, left);
      return;
    }
    this.#fail(GuacamoleStatus.UPSTREAM_TIMEOUT, `the backend sent nothing for ${this.#opts.backendIdleMs} ms`);
    this.#backend.socket.destroy();
  };

  readonly #checkNop = (): void => {
    const session = this.#session;
    if (!session.isOpen) return;
    const left = this.#lastSentAt + this.#opts.nopIntervalMs - Date.now();
    // A paused stream is not idle: a nop would only queue behind it.
    if (left <= 0 && session.writable) this.#send(NOP, undefined);
    this.#nopTimer = setTimeout(this.#checkNop, left > 0 ? left : this.#opts.nopIntervalMs);
  };

  #clientFailed(status: number, why: string, closeCode?: number): void {
    this.#opts.log.info({ sid: this.#session.id, status, err: why }, 'closing Guacamole tunnel');
    this.#session.close(closeCode ?? webSocketCodeOf(status), statusReason(status));
  }

  #fail(status: number, why: string, closeCode?: number): void {
    if (!this.#session.isOpen) return;
    this.#opts.log.warn({ sid: this.#session.id, status, err: why }, 'closing Guacamole tunnel');
    this.#session.close(closeCode ?? webSocketCodeOf(status), statusReason(status));
  }

  #close(status: number, why: string): void {
    if (!this.#session.isOpen) return;
    this.#opts.log.debug({ sid: this.#session.id, status, why }, 'closing Guacamole tunnel');
    this.#session.close(webSocketCodeOf(status), statusReason(status));
  }
}
