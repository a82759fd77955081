// One Session per WebSocket, and the only code that writes to it.
//
// The seed's bug was two producers sharing one output queue. Here every
// producer (a backend socket, a timer, a plugin, a worker bridge) calls
// send() or stream(), and the session alone talks to `ws`. Node runs this on
// one thread, so calls cannot race; what can still go wrong is a whole
// message landing between the fragments of a streamed one, because `ws`
// tracks fragmentation per socket. So while a stream is active, other data
// messages wait in `pending`, in order; control frames (ping/pong/close) are
// sent by `ws` directly and may legally go between fragments.
//
// Backpressure: bufferedAmount = pending bytes + what `ws`/the socket hold.
// send() returns false at or above the high-water mark; 'drain' fires (and
// drain() resolves) once it is back at or below the low-water mark. Writes
// made while above the mark carry a completion callback, so a drain check
// always follows the last byte queued.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { SessionOptions } from '../config/types.js';
import { Fifo } from './outbound-queue.js';
import { SessionClosedError } from './errors.js';
import { MessageStream } from './message-stream.js';
import { Liveness } from './liveness.js';
import { closeCodeForWsError, fitCloseReason, isSendableCloseCode } from './close-codes.js';
import { CloseDeadline } from './close-deadline.js';

export type Payload = Buffer | Uint8Array | string;
type Outgoing =
  | { kind: 'message'; data: Payload; binary: boolean; size: number; written?: WrittenCallback }
  | { kind: 'stream'; stream: MessageStream }
  | { kind: 'close'; code: number; reason: string };

/** Called once a message's bytes are with the kernel (no error) or will never be (an error). */
export type WrittenCallback = (err?: Error) => void;

export type SessionState = 'open' | 'closing' | 'closed';

export interface CloseInfo {
  /** The code in the close frame we sent, or received if the peer closed first; 1006 if none. */
  code: number;
  reason: string;
  /** Who started the close: 'server', 'client', or 'network' (no close frame). */
  by: 'server' | 'client' | 'network';
}

export interface SessionMeta {
  remoteAddress: string;
  /** The route's path ("*" for the websockify form). */
  route: string;
  /** The path the client asked for, without the query. It may still carry a token: the gateway's log lines show a shortened one. */
  path: string;
  protocol: string;
  /** Who the route's authentication said the client is (`cn`, `user`, `sub`); absent without auth. */
  identity?: Readonly<Record<string, string>>;
}

export declare interface Session {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'drain', listener: () => void): this;
  on(event: 'close', listener: (info: CloseInfo) => void): this;
  once(event: 'drain', listener: () => void): this;
  once(event: 'close', listener: (info: CloseInfo) => void): this;
}
// 'close' is emitted exactly once, so listeners use on(): once() costs a bound
// wrapper and a state object per listener for the life of every session.

const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

export class Session extends EventEmitter {
  readonly id = randomBytes(6).toString('base64url');
  readonly startedAt = Date.now();
  readonly meta: SessionMeta;
  /** Where the handler connected this session to, for logs. */
  target = '';
  /** What the target lookup said about this session (SQL columns, JWT claims, JSON fields). */
  params: Readonly<Record<string, string>> = NO_PARAMS;
  bytesIn = 0;
  /** Bytes sent to the client; once closed, only those that reached the kernel. */
  bytesOut = 0;
  /** Bytes queued for the client that never reached the kernel (the session was cut); 0 otherwise. */
  bytesUndelivered = 0;
  messagesIn = 0;
  messagesOut = 0;
  lastDataAt = this.startedAt;

  readonly #ws: WebSocket;
  readonly #opts: SessionOptions;
  readonly #pending = new Fifo<Outgoing>();
  #pendingBytes = 0;
  #active: MessageStream | null = null;
  #state: SessionState = 'open';
  #aboveHighWater = false;
  /** Producers waiting for drain; a stream's waiter counts only the socket once that stream is active. */
  #drainWaiters: Array<{ resolve: () => void; reject: (e: Error) => void; stream: MessageStream | null }> = [];
  /** What went out on the wire as our close: a close frame's code, or 1006 when the connection was dropped. */
  #closeSent: { code: number; reason: string; by?: CloseInfo['by'] } | null = null;
  #deadline: CloseDeadline | null = null;
  /** What `ws` still held when the connection was cut (destroying the socket may forget it). */
  #heldWhenCut: number | null = null;
  #closeInfo: CloseInfo | null = null;
  /** Timers for heartbeat and idle timeout; none when neither is configured. */
  readonly #liveness: Liveness | null;

  constructor(ws: WebSocket, opts: SessionOptions, meta: SessionMeta) {
    super();
    this.#ws = ws;
    this.#opts = opts;
    this.meta = meta;
    this.#liveness = opts.heartbeat > 0 || opts.idleTimeout > 0 ? new Liveness(this, ws, opts) : null;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.bytesIn += data.length;
      this.messagesIn++;
      this.lastDataAt = Date.now();
      this.emit('message', data, isBinary);
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // `ws` has already sent the matching close frame (1002/1007/1009) or will drop the socket.
      if (!this.#closeSent) this.#closeSent = { code: closeCodeForWsError(err.code), reason: err.message };
      this.#beginClosing();
    });
    ws.on('close', (code: number, reason: Buffer) => this.#finish(code, reason.toString()));
  }

  get state(): SessionState {
    return this.#state;
  }

  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /** Bytes accepted but not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.#pendingBytes + this.#ws.bufferedAmount;
  }

  /** False while producers should hold back (above the high-water mark). */
  get writable(): boolean {
    return this.#state === 'open' && !this.#aboveHighWater;
  }

  /** How the session ended, once it has. */
  get closeInfo(): CloseInfo | null {
    return this.#closeInfo;
  }

  /**
   * Queues one whole message. Returns false when the caller should wait for
   * 'drain' (or `await drain()`) before sending more. Throws
   * SessionClosedError once the session is closing or closed.
   * `written` lets a caller lend memory it will reuse (the relay's read
   * buffers): the session holds `data` until then, and calls it exactly once.
   */
  send(data: Payload, binary: boolean = typeof data !== 'string', written?: WrittenCallback): boolean {
    if (this.#state !== 'open') throw new SessionClosedError(this.id);
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (this.#active || this.#pending.length > 0) {
      this.#pending.push({ kind: 'message', data, binary, size, written });
      this.#pendingBytes += size;
    } else {
      this.#write(data, binary, true, size, written);
    }
    return this.#checkHighWater();
  }

  /**
   * Starts a message sent in fragments. Until it ends, other data messages
   * wait behind it; finish it with end(). Throws if the session is closing.
   */
  stream(binary = true): MessageStream {
    if (this.#state !== 'open') throw new SessionClosedError(this.id);
    const stream: MessageStream = new MessageStream(this, {
      write: (chunk, fin) => this.#write(chunk, binary, fin, chunk.byteLength),
      buffered: (delta) => {
        this.#pendingBytes += delta;
      },
      ended: () => {
        if (this.#active === stream) {
          this.#active = null;
          this.#flush();
        }
      },
      canContinue: (): boolean => this.#checkHighWater(stream),
      drain: () => this.#waitForDrain(stream),
    });
    if (this.#active || this.#pending.length > 0) this.#pending.push({ kind: 'stream', stream });
    else this.#activate(stream);
    return stream;
  }

  /** Resolves when the queue is back at or below the low-water mark. */
  drain(): Promise<void> {
    if (this.#state !== 'open') return Promise.reject(new SessionClosedError(this.id));
    return this.#waitForDrain(null);
  }

  /**
   * Closes after everything already queued (including an active stream) has
   * been sent. Idempotent. Delivery goes on while the client takes bytes (cut
   * after drainTimeout without progress); the socket is destroyed if the
   * close handshake has not completed within closeTimeout of the close frame.
   */
  close(code = 1000, reason = ''): void {
    if (!isSendableCloseCode(code)) throw new RangeError(`close code ${code} may not be sent (RFC 6455 §7.4: 1000-1003, 1007-1014, 3000-4999)`);
    reason = fitCloseReason(reason);
    if (this.#state !== 'open') return;
    this.#beginClosing();
    if (this.#active || this.#pending.length > 0) this.#pending.push({ kind: 'close', code, reason });
    else this.#sendClose(code, reason);
  }

  /**
   * Closes at once, for when what is queued can never finish (a worker died
   * mid-stream): the close frame goes out now (RFC 6455 lets a control frame
   * go between fragments, so the client drops the partial message), and
   * everything still queued is dropped. Waiting producers get
   * SessionClosedError. A no-op once a close frame has been sent.
   */
  closeNow(code: number, reason = ''): void {
    if (!isSendableCloseCode(code)) throw new RangeError(`close code ${code} may not be sent`);
    if (this.#state === 'closed' || this.#closeSent) return;
    this.#beginClosing();
    this.#dropQueued();
    this.#sendClose(code, fitCloseReason(reason));
  }

  /** Drops the connection at once, without a close handshake. */
  terminate(reason: string): void {
    if (this.#state === 'closed') return;
    if (!this.#closeSent) this.#closeSent = { code: 1006, reason };
    this.#beginClosing();
    this.#heldWhenCut = this.#ws.bufferedAmount;
    this.#ws.terminate();
  }

  /** Stops reading from the client (inbound backpressure), e.g. while a backend is slow. */
  pauseReading(): void {
    if (this.#state !== 'closed') this.#ws.pause();
  }

  resumeReading(): void {
    if (this.#state !== 'closed') this.#ws.resume();
  }

  #write(data: Payload, binary: boolean, fin: boolean, size: number, written?: WrittenCallback): void {
    const needsCallback = this.#aboveHighWater || this.bufferedAmount + size >= this.#opts.highWaterMark;
    this.bytesOut += size;
    if (fin) {
      this.messagesOut++;
      this.lastDataAt = Date.now();
    }
    if (written) {
      let done = false;
      const once = (err?: Error) => {
        if (done) return;
        done = true;
        written(err);
      };
      this.#ws.send(data, { binary, fin }, (err) => {
        once(err);
        if (needsCallback) this.#afterWrite(err);
      });
      // Nothing left in ws or the socket: the kernel took every byte during
      // send(), so the lender may reuse its memory now rather than a tick
      // later (the relay reads on without pausing). With compression zlib
      // reads the data on another thread after send() returns; ws counts
      // those bytes as buffered, and we do not rely on that alone.
      if (this.#ws.bufferedAmount === 0 && !this.#ws.extensions) once();
    } else if (needsCallback) this.#ws.send(data, { binary, fin }, (err) => this.#afterWrite(err));
    else this.#ws.send(data, { binary, fin });
  }

  // A method, not a per-session arrow: the callback is made only for writes above the mark.
  #afterWrite(err?: Error): void {
    // A failed write means the connection is going down; 'close' rejects the waiters.
    if (!err) this.#checkDrain();
  }

  #activate(stream: MessageStream): void {
    this.#active = stream;
    stream.activate();
  }

  /** Sends what waited behind a finished stream, up to the next stream. */
  #flush(): void {
    while (!this.#active && this.#pending.length > 0) {
      const item = this.#pending.shift()!;
      if (item.kind === 'message') {
        this.#pendingBytes -= item.size;
        this.#write(item.data, item.binary, true, item.size, item.written);
      } else if (item.kind === 'stream') {
        this.#activate(item.stream);
      } else {
        this.#sendClose(item.code, item.reason);
      }
    }
    this.#checkDrain();
  }

  #checkHighWater(stream?: MessageStream): boolean {
    const buffered = stream && stream === this.#active ? this.#ws.bufferedAmount : this.bufferedAmount;
    if (buffered < this.#opts.highWaterMark) return true;
    this.#aboveHighWater = true;
    return false;
  }

  #checkDrain(): void {
    if (this.#drainWaiters.length === 0 && !this.#aboveHighWater) return;
    const lowWater = this.#opts.lowWaterMark;
    const socketLow = this.#ws.bufferedAmount <= lowWater;
    const allLow = socketLow && this.#pendingBytes + this.#ws.bufferedAmount <= lowWater;
    if (allLow && this.#aboveHighWater) {
      this.#aboveHighWater = false;
      if (this.#state === 'open') this.emit('drain');
    }
    if (!socketLow || this.#drainWaiters.length === 0) return;
    const ready = (w: { stream: MessageStream | null }) => allLow || (w.stream !== null && w.stream === this.#active);
    const waiters = this.#drainWaiters;
    this.#drainWaiters = waiters.filter((w) => !ready(w));
    for (const w of waiters) if (ready(w)) w.resolve();
  }

  #waitForDrain(stream: MessageStream | null): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new SessionClosedError(this.id));
    const buffered = stream && stream === this.#active ? this.#ws.bufferedAmount : this.bufferedAmount;
    if (buffered <= this.#opts.lowWaterMark) return Promise.resolve();
    this.#aboveHighWater = true; // makes every further write report its completion
    return new Promise((resolve, reject) => this.#drainWaiters.push({ resolve, reject, stream }));
  }

  #sendClose(code: number, reason: string): void {
    this.#closeSent ??= { code, reason };
    this.#ws.close(code, reason);
    this.#deadline?.check();
  }

  #beginClosing(): void {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    this.#liveness?.stop();
    this.#deadline = new CloseDeadline(
      {
        delivered: () => this.bytesOut - this.#ws.bufferedAmount,
        closeFrameOut: () => this.#closeSent !== null && this.#pending.length === 0 && this.#ws.bufferedAmount === 0,
        cut: (why) => this.#cut(why),
      },
      this.#opts.drainTimeout,
      this.#opts.closeTimeout,
    );
    // Producers waiting for the whole session can never send again; a stream may still finish.
    const closed = new SessionClosedError(this.id);
    for (const w of this.#drainWaiters.filter((w) => !w.stream)) w.reject(closed);
    this.#drainWaiters = this.#drainWaiters.filter((w) => w.stream);
  }

  /** Drops a closing connection, recording what the client really got: no close frame is 1006. */
  #cut(why: 'no-progress' | 'no-close-answer'): void {
    if (why === 'no-progress') this.#closeSent = { code: 1006, reason: `client took no data for ${this.#opts.drainTimeout} ms`, by: 'server' };
    this.#heldWhenCut = this.#ws.bufferedAmount;
    this.#ws.terminate();
  }

  #finish(receivedCode: number, receivedReason: string): void {
    if (this.#state === 'closed') return;
    const byClient = !this.#closeSent && receivedCode !== 1006;
    this.#beginClosing();
    this.#state = 'closed';
    this.#deadline?.stop();
    const sent = this.#closeSent;
    this.#closeInfo = byClient || !sent
      ? { code: receivedCode, reason: receivedReason, by: receivedCode === 1006 ? 'network' : 'client' }
      : { code: sent.code, reason: sent.reason, by: sent.by ?? (sent.code === 1006 ? 'network' : 'server') };
    // What never left this process (frame headers included, so an upper bound by a few bytes per message).
    const inWs = Math.min(this.bytesOut, this.#heldWhenCut ?? this.#ws.bufferedAmount);
    this.bytesOut -= inWs;
    this.bytesUndelivered = inWs + this.#pendingBytes;
    this.#dropQueued();
    this.emit('close', this.#closeInfo);
  }

  /** Rejects every waiting producer, aborts every stream and forgets what was queued. */
  #dropQueued(): void {
    const closed = new SessionClosedError(this.id);
    for (const w of this.#drainWaiters) w.reject(closed);
    this.#drainWaiters = [];
    this.#active?.abort(closed);
    this.#active = null;
    for (let item = this.#pending.shift(); item; item = this.#pending.shift()) {
      if (item.kind === 'stream') item.stream.abort(closed);
      else if (item.kind === 'message') item.written?.(closed);
    }
    this.#pendingBytes = 0;
  }
}
