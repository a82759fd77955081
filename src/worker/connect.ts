// The worker-thread side of a session: connectSession(port) gives a
// producer send/stream/close, mirroring the Session, over the MessagePort a
// handler opened with openWorkerChannel() (src/worker/bridge.ts).
//
// Every call returns a promise that resolves once the data is handed over
// within the credit window (the bytes the main thread lets this producer
// have in flight); when the window is used up, calls wait, in order, until
// the session has room again. So awaiting each call is the backpressure: a
// slow client slows the worker. Once the session closes, everything rejects
// with SessionClosedError and `signal` aborts.
//
// One handle is one producer: its ops keep their order, and it has at most
// one streamed message open at a time (like a single async function on the
// main thread would). For concurrent producers, open one channel each.
import type { MessagePort } from 'node:worker_threads';
import { SessionClosedError } from '../session/errors.js';
import { payloadSize, type MainMessage, type WirePayload, type WorkerOp } from './protocol.js';

export type WorkerPayload = string | ArrayBuffer | ArrayBufferView;

export interface SendOptions {
  /** Default: true unless the payload is a string. */
  binary?: boolean;
  /**
   * Move the payload's ArrayBuffer to the main thread instead of copying it
   * (zero-copy). The buffer is detached at once: do not use it again. Only
   * done when the view spans its whole ArrayBuffer; otherwise it is copied.
   */
  transfer?: boolean;
}

export interface SessionEnd {
  code: number;
  reason: string;
}

/** Binary payloads at least this big are posted at once (copied or moved then), not batched. */
const POST_AT_ONCE = 4096;
const BATCH_OPS = 256;

interface Waiting {
  op: WorkerOp;
  size: number;
  transfer: ArrayBuffer | null;
  /** 'done'/'fail' go out even after the session has closed. */
  always: boolean;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class WorkerSession {
  /** The session's id (for logs), known once the main thread's opening grant has arrived. */
  id = '';
  /** Aborts when the session can take nothing more. */
  readonly signal: AbortSignal;
  /** Resolves when the session is closing or closed, with its close code if known (0 if not yet). */
  readonly closed: Promise<SessionEnd>;
  readonly #port: MessagePort;
  readonly #abort = new AbortController();
  #resolveClosed!: (end: SessionEnd) => void;
  #end: SessionEnd | null = null;
  #window = 0;
  #available = 0;
  readonly #queue: Waiting[] = [];
  #batch: WorkerOp[] = [];
  #batchTransfer: ArrayBuffer[] = [];
  #batchBytes = 0;
  #flushTimer: NodeJS.Immediate | null = null;
  #stream: WorkerStream | null = null;
  #nextStreamId = 1;
  #released = false;

  constructor(port: MessagePort) {
    this.#port = port;
    this.signal = this.#abort.signal;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    port.on('message', this.#onMessage);
  }

  /** True while the session is open and a send would not wait for credit. */
  get writable(): boolean {
    return !this.#end && this.#window > 0 && this.#queue.length === 0 && this.#available > 0;
  }

  get isOpen(): boolean {
    return !this.#end;
  }

  /** Queues one whole message. */
  send(data: WorkerPayload, opts: SendOptions = {}): Promise<void> {
    if (this.#end) return Promise.reject(new SessionClosedError(this.id));
    if (this.#stream) return Promise.reject(new Error('send() while this producer has a stream open: end() it first (the message would wait behind it)'));
    const binary = opts.binary ?? typeof data !== 'string';
    return this.#enqueue('send', data, opts.transfer === true, (d) => ({ t: 'send', d: d!, b: binary }));
  }

  /** Starts a message sent in fragments; other data messages wait until it ends. */
  stream(binary = true): WorkerStream {
    if (this.#stream) throw new Error('this producer already has a stream open: end() it first');
    if (this.#released) throw new Error('stream() after release()');
    const id = this.#nextStreamId++;
    const stream: WorkerStream = new WorkerStream(this, id, () => {
      if (this.#stream === stream) this.#stream = null;
    });
    this.#stream = stream;
    // Rejections surface on the stream's own write()/end().
    this.#enqueue('begin', undefined, false, () => ({ t: 'begin', s: id, b: binary })).catch(() => {});
    return stream;
  }

  /** Closes the session after everything queued so far (by every producer); resolves with its close once it has closed. */
  close(code = 1000, reason = ''): Promise<SessionEnd> {
    if (!this.#end && !this.#released) this.#enqueue('close', undefined, false, () => ({ t: 'close', code, reason })).catch(() => {});
    return this.closed;
  }

  /** Posts what is batched now instead of when this thread next goes idle. */
  flush(): void {
    if (this.#flushTimer) clearImmediate(this.#flushTimer);
    this.#flushTimer = null;
    if (this.#batch.length === 0) return;
    const batch = this.#batch;
    const transfer = this.#batchTransfer;
    this.#batch = [];
    this.#batchTransfer = [];
    this.#batchBytes = 0;
    this.#port.postMessage(batch, transfer);
  }

  /** This producer is done: posted after everything it queued; then the port is closed. */
  release(): Promise<void> {
    return this.#last({ t: 'done', closed: this.#end !== null });
  }

  /** This producer failed: the session is closed with 1011 and `message` is logged by the gateway. */
  fail(error: unknown): Promise<void> {
    const message = error instanceof Error ? `threw ${error.name}: ${error.message}` : `threw ${String(error)}`;
    // What still waits for credit will never be sent: the session is failing anyway.
    for (const w of this.#queue.splice(0)) w.reject(new SessionClosedError(this.id));
    return this.#last({ t: 'fail', message });
  }

  /** @internal The thread is exiting (process.exit): a last word, posted synchronously. */
  exiting(why: string): void {
    if (this.#released) return;
    this.#released = true;
    this.flush();
    this.#port.postMessage([{ t: 'fail', message: why } satisfies WorkerOp]);
  }

  /** @internal for WorkerStream */
  enqueueStreamOp(kind: 'write' | 'end', id: number, data: WorkerPayload | undefined, transfer: boolean): Promise<void> {
    return this.#enqueue(kind, data, transfer, (d) => (kind === 'write' ? { t: 'write', s: id, d: d! } : { t: 'end', s: id, d }));
  }

  #last(op: WorkerOp): Promise<void> {
    if (this.#released) return Promise.resolve();
    this.#released = true;
    return new Promise<void>((resolve) => {
      this.#queue.push({ op, size: 0, transfer: null, always: true, resolve, reject: () => resolve() });
      this.#pump();
    }).then(() => {
      this.flush();
      this.#port.close();
    });
  }

  #enqueue(kind: string, data: WorkerPayload | undefined, transfer: boolean, make: (d: WirePayload | undefined) => WorkerOp): Promise<void> {
    if (this.#end) return Promise.reject(new SessionClosedError(this.id));
    if (this.#released) return Promise.reject(new Error(`${kind} after release()`));
    const wire = toWire(data, transfer);
    const op = make(wire.data);
    const size = payloadSize(wire.data);
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ op, size, transfer: wire.transfer, always: false, resolve, reject });
      this.#pump();
    });
  }

  /** Hands over what fits in the credit window, in order. */
  #pump(): void {
    while (this.#queue.length > 0) {
      const w = this.#queue[0]!;
      // A message larger than the whole window goes alone, once nothing else is in flight.
      const fits = w.always || (this.#window > 0 && (w.size <= this.#available || this.#available === this.#window));
      if (!fits) return;
      this.#queue.shift();
      this.#available -= w.size;
      this.#addToBatch(w);
      w.resolve();
    }
  }

  #addToBatch(w: Waiting): void {
    this.#batch.push(w.op);
    this.#batchBytes += w.size;
    if (w.transfer && !this.#batchTransfer.includes(w.transfer)) this.#batchTransfer.push(w.transfer);
    const d = 'd' in w.op ? w.op.d : undefined;
    const big = d !== undefined && typeof d !== 'string' && d.byteLength >= POST_AT_ONCE;
    // A big or moved binary payload is posted now: copied (so the caller may reuse its buffer as soon as
    // the promise resolves) or detached (so a moved buffer is visibly gone).
    if (big || w.transfer || w.always || this.#batch.length >= BATCH_OPS || this.#batchBytes >= this.#window / 4) this.flush();
    else this.#flushTimer ??= setImmediate(() => this.flush());
  }

  readonly #onMessage = (msg: MainMessage): void => {
    if (msg.t === 'open') {
      this.id = msg.sessionId;
      this.#window = msg.window;
      this.#available += msg.window;
    } else if (msg.t === 'credit') {
      this.#available += msg.n;
    } else if (msg.t === 'closed') {
      this.#onClosed({ code: msg.code, reason: msg.reason });
      return;
    }
    this.#pump();
  };

  #onClosed(end: SessionEnd): void {
    if (this.#end) return;
    this.#end = end;
    const error = new SessionClosedError(this.id);
    const keep = this.#queue.filter((w) => w.always);
    for (const w of this.#queue.splice(0)) if (!w.always) w.reject(error);
    this.#queue.push(...keep);
    // Batched ops would only be dropped on arrival.
    this.#batch = this.#batch.filter((op) => op.t === 'done' || op.t === 'fail');
    this.#batchTransfer = [];
    this.#batchBytes = 0;
    this.#abort.abort(error);
    this.#resolveClosed(end);
    this.#pump();
  }
}

/** One message in fragments, from a worker. Obtain it with WorkerSession.stream(). */
export class WorkerStream {
  readonly #session: WorkerSession;
  readonly #id: number;
  readonly #onEnd: () => void;
  #ended = false;

  constructor(session: WorkerSession, id: number, onEnd: () => void) {
    this.#session = session;
    this.#id = id;
    this.#onEnd = onEnd;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Adds a fragment; resolves once it is handed over within the credit window. */
  write(chunk: WorkerPayload, opts: { transfer?: boolean } = {}): Promise<void> {
    if (this.#ended) return Promise.reject(new Error('write() after end()'));
    return this.#session.enqueueStreamOp('write', this.#id, chunk, opts.transfer === true);
  }

  /** Ends the message, with an optional last fragment. */
  end(chunk?: WorkerPayload, opts: { transfer?: boolean } = {}): Promise<void> {
    if (this.#ended) return Promise.reject(new Error('end() after end()'));
    this.#ended = true;
    this.#onEnd();
    return this.#session.enqueueStreamOp('end', this.#id, chunk, opts.transfer === true);
  }
}

/** Connects a producer on this thread to the session whose channel port it was given. */
export function connectSession(port: MessagePort): WorkerSession {
  return new WorkerSession(port);
}

function toWire(data: WorkerPayload | undefined, transfer: boolean): { data: WirePayload | undefined; transfer: ArrayBuffer | null } {
  if (data === undefined || typeof data === 'string') return { data, transfer: null };
  const view = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  // Shared memory is always copied: the main thread must own what it sends.
  if (!(view.buffer instanceof ArrayBuffer)) return { data: view.slice(), transfer: null };
  const whole = view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
  if (transfer && whole) return { data: view, transfer: view.buffer };
  // Small payloads are batched: copy them now, so the caller's buffer is free when the promise resolves.
  return { data: view.byteLength < POST_AT_ONCE ? view.slice() : view, transfer: null };
}
