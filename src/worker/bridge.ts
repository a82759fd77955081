// The main-thread end of a worker's channel to one Session.
//
// A worker thread never touches the Session: it posts ops (send, stream
// begin/write/end, close) on a MessagePort, and this bridge applies them on
// the main thread, in the order they were posted, through the Session's own
// send()/stream()/close(). The Session stays the single owner of the
// outbound path, so the seed's failure (two threads in one output queue)
// cannot happen: there is no second writer, only more producers.
//
// Flow control is credit: the worker may have at most `window` bytes posted
// and not yet credited back. Bytes are credited back once the Session has
// taken them and is below its high-water mark (or, for a stream, once that
// stream may continue), so a slow client stops the worker instead of growing
// the queue: the Session holds at most highWaterMark + window per channel.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Logger } from '../observability/logger.js';
import { payloadSize, type MainMessage, type WorkerOp } from './protocol.js';
import type { Session } from '../session/session.js';
import type { MessageStream } from '../session/message-stream.js';
import { SessionClosedError } from '../session/errors.js';
import { isSendableCloseCode } from '../session/close-codes.js';

export interface WorkerChannelOptions {
  /** Bytes the worker may have in flight before it waits for credit (default 256 KiB). */
  credit?: number;
  /** Where a failing worker is reported (error level, with the session id). */
  log?: Logger;
  /** Names the producer in that log line. */
  label?: string;
}

/** How a producer ended: it finished ('done'), or it stopped because the session closed ('closed'). */
export type ChannelOutcome = 'done' | 'closed';

/** The worker threw, exited, or broke the protocol; the session was closed with 1011. */
export class WorkerFailure extends Error {
  override name = 'WorkerFailure';
  readonly code = 'ERR_WORKER_FAILED';
}

export const DEFAULT_CREDIT = 256 * 1024;

/** One 'close' listener per session, however many channels it has (a listener each would trip MaxListeners). */
const onSessionClose = new WeakMap<Session, Set<() => void>>();

function watchClose(session: Session, callback: () => void): () => void {
  let callbacks = onSessionClose.get(session);
  if (!callbacks) {
    const set = (callbacks = new Set());
    onSessionClose.set(session, set);
    session.once('close', () => {
      onSessionClose.delete(session);
      for (const cb of set) cb();
    });
  }
  callbacks.add(callback);
  return () => callbacks.delete(callback);
}
const FAILURE_REASON = 'worker failed';

export class WorkerChannel {
  /** Transfer this port to the worker (postMessage(..., [port])); it calls connectSession(port). */
  readonly port: MessagePort;
  readonly window: number;
  /** Settles once the producer is done; rejects with WorkerFailure if it failed. */
  readonly done: Promise<ChannelOutcome>;
  /** Most bytes this worker ever had in flight: at most `window` unless one message was larger. */
  peakInFlight = 0;
  /** Most bytes the session held after one of this worker's batches. */
  peakBuffered = 0;
  /** How often credit was held back until the session (or the stream) drained. */
  drainWaits = 0;

  readonly #session: Session;
  readonly #local: MessagePort;
  readonly #log: Logger | undefined;
  readonly #label: string;
  readonly #streams = new Map<number, MessageStream>();
  #settle!: { resolve: (o: ChannelOutcome) => void; reject: (e: Error) => void };
  #settled = false;
  /** The session takes nothing more; the worker has been told. */
  #gone = false;
  #inFlight = 0;
  /** Bytes applied and not yet credited back. */
  #owed = 0;
  /** A write was refused room: wait for `#waitOn` (a stream, or the whole session) to drain. */
  #mustWait = false;
  #waitOn: MessageStream | null = null;
  #crediting = false;
  readonly #unwatch: () => void;

  constructor(session: Session, opts: WorkerChannelOptions = {}) {
    this.#session = session;
    this.window = Math.max(1, Math.floor(opts.credit ?? DEFAULT_CREDIT));
    this.#log = opts.log;
    this.#label = opts.label ?? 'worker';
    this.done = new Promise((resolve, reject) => (this.#settle = { resolve, reject }));
    this.done.catch(() => {}); // a caller that only closes the session need not listen
    const { port1, port2 } = new MessageChannel();
    this.#local = port1;
    this.port = port2;
    port1.on('message', this.#onBatch);
    // A port closes without 'done' when its thread exits or crashes.
    port1.on('close', () => this.fail('the worker closed its channel before it was done (thread exited?)'));
    this.#unwatch = watchClose(session, () => this.#goneNow());
    this.#post({ t: 'open', sessionId: session.id, window: this.window });
    if (!session.isOpen) this.#goneNow();
  }

  /**
   * Ends the channel as failed: logs why, closes the session with 1011 and
   * rejects `done`. With a stream unfinished the close goes out at once
   * (the partial message is dropped), since that stream would never end.
   */
  fail(reason: string): void {
    if (this.#settled) return;
    const session = this.#session;
    this.#log?.error({ sid: session.id, producer: this.#label, reason }, 'worker producer failed; closing its session');
    if (session.state !== 'closed') {
      if (this.#streams.size > 0) session.closeNow(1011, FAILURE_REASON);
      else session.close(1011, FAILURE_REASON);
    }
    this.#goneNow();
    this.#finish();
    this.#settle.reject(new WorkerFailure(`session ${session.id}, ${this.#label}: ${reason}`));
  }

  readonly #onBatch = (ops: WorkerOp[]): void => {
    if (this.#settled) return;
    if (!Array.isArray(ops)) return this.fail('the worker posted something that is not a batch of ops');
    for (const op of ops) {
      this.#apply(op);
      if (this.#settled) return;
    }
    this.peakBuffered = Math.max(this.peakBuffered, this.#session.bufferedAmount);
    this.#credit();
  };

  #apply(op: WorkerOp): void {
    if (op.t === 'done') return this.#onDone(op.closed);
    if (op.t === 'fail') return this.fail(`worker ${op.message}`);
    const size = op.t === 'send' || op.t === 'write' || op.t === 'end' ? payloadSize(op.d) : 0;
    this.#inFlight += size;
    this.#owed += size;
    this.peakInFlight = Math.max(this.peakInFlight, this.#inFlight);
    if (this.#gone) return; // the worker has been told; it will stop
    let ok: boolean;
    let target: MessageStream | null = null;
    try {
      switch (op.t) {
        case 'send':
          // One producer, one order: its whole messages never wait behind its own stream.
          if (this.#streams.size > 0) return this.fail('the worker sent a whole message while its stream was open');
          ok = this.#session.send(op.d, op.b);
          break;
        case 'begin':
          if (this.#streams.size > 0) return this.fail('the worker began a stream while another was open');
          this.#streams.set(op.s, this.#session.stream(op.b));
          ok = true;
          break;
        case 'write':
          target = this.#stream(op.s);
          ok = target.write(op.d);
          break;
        case 'end':
          this.#stream(op.s).end(op.d);
          this.#streams.delete(op.s);
          ok = this.#session.writable;
          break;
        case 'close':
          // The Session's own rule: a code it may send, a reason cut to fit (as on the main thread).
          if (!isSendableCloseCode(op.code)) return this.fail(`invalid close code ${op.code}`);
          this.#session.close(op.code, String(op.reason ?? ''));
          ok = true;
          break;
        default:
          return this.fail(`unknown op ${JSON.stringify((op as { t?: unknown }).t)}`);
      }
    } catch (e) {
      if (e instanceof SessionClosedError) return this.#goneNow();
      return this.fail(`op ${op.t} failed: ${(e as Error).message}`);
    }
    if (!ok) {
      this.#mustWait = true;
      this.#waitOn = target;
    }
  }

  #stream(id: number): MessageStream {
    const s = this.#streams.get(id);
    if (!s) throw new Error(`no open stream ${id}`);
    return s;
  }

  /** Credits back what was applied: now if there is room, else after the drain it waits for. */
  #credit(): void {
    if (this.#crediting || this.#owed === 0) return;
    if (!this.#mustWait) return this.#returnOwed();
    this.#crediting = true;
    void this.#creditAfterDrain();
  }

  async #creditAfterDrain(): Promise<void> {
    try {
      // Ops applied while waiting may ask for another wait; credit only when none does.
      while (this.#mustWait && !this.#gone) {
        this.#mustWait = false;
        const on = this.#waitOn;
        this.drainWaits++;
        await (on && !on.ended ? on.drain() : this.#session.drain());
      }
    } catch (e) {
      if (!(e instanceof SessionClosedError)) this.#log?.warn({ sid: this.#session.id, err: e }, 'worker channel: drain failed');
      this.#goneNow();
    } finally {
      this.#crediting = false;
    }
    this.#returnOwed();
  }

  #returnOwed(): void {
    if (this.#gone || this.#settled || this.#owed === 0) return;
    this.#post({ t: 'credit', n: this.#owed });
    this.#inFlight -= this.#owed;
    this.#owed = 0;
  }

  #onDone(closed: boolean): void {
    if (this.#streams.size > 0 && !this.#gone) return this.fail('the worker finished with a streamed message not ended');
    const outcome: ChannelOutcome = closed || this.#gone ? 'closed' : 'done';
    this.#finish();
    this.#settle.resolve(outcome);
  }

  /** The session takes nothing more: tell the worker (once), so its sends reject and it stops. */
  #goneNow(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#streams.clear();
    const info = this.#session.closeInfo;
    this.#post({ t: 'closed', code: info?.code ?? 0, reason: info?.reason ?? 'session is closing' });
  }

  #finish(): void {
    this.#settled = true;
    this.#unwatch();
    this.#local.removeAllListeners('message');
    this.#local.close();
  }

  #post(msg: MainMessage): void {
    if (!this.#settled) this.#local.postMessage(msg);
  }
}

/**
 * Opens a channel for one producer on a worker thread. Transfer
 * `channel.port` to the worker; there, connectSession(port) gives the
 * send/stream/close API. Await `channel.done` to know when it has finished.
 */
export function openWorkerChannel(session: Session, opts: WorkerChannelOptions = {}): WorkerChannel {
  return new WorkerChannel(session, opts);
}
