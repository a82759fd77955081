// One message sent in fragments. While it is the session's active stream
// its chunks go straight out as continuation frames; while it waits behind
// another stream its chunks are held (and counted) until it becomes active.
import type { Payload } from './session.js';

/** What a stream needs from its session; passed in so the session's internals stay private. */
export interface StreamPort {
  write(chunk: Buffer | Uint8Array, fin: boolean): void;
  buffered(deltaBytes: number): void;
  ended(): void;
  /** False once the producer should wait for drain(). */
  canContinue(): boolean;
  drain(): Promise<void>;
}

const EMPTY = Buffer.alloc(0);

export class MessageStream {
  readonly #session: { id: string };
  readonly #port: StreamPort;
  #held: Array<Buffer | Uint8Array> = [];
  #heldBytes = 0;
  #active = false;
  #ended = false;
  #error: Error | null = null;

  constructor(session: { id: string }, port: StreamPort) {
    this.#session = session;
    this.#port = port;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Adds a fragment. Returns false when the producer should `await drain()`. */
  write(chunk: Payload): boolean {
    this.#assertWritable();
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (data.byteLength === 0) return true; // an empty non-final fragment says nothing
    if (this.#active) this.#port.write(data, false);
    else this.#hold(data);
    return this.#port.canContinue();
  }

  /** Ends the message, with an optional last fragment. */
  end(chunk?: Payload): void {
    this.#assertWritable();
    const data = chunk === undefined ? EMPTY : typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.#ended = true;
    if (this.#active) {
      this.#port.write(data, true);
      this.#port.ended();
    } else if (data.byteLength > 0) {
      this.#hold(data);
    }
  }

  /** Resolves when the producer may write more. Rejects if the session closed. */
  drain(): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    return this.#port.drain();
  }

  /** Called by the session when this stream's turn comes: sends what it held. */
  activate(): void {
    this.#active = true;
    const held = this.#held;
    this.#held = [];
    this.#port.buffered(-this.#heldBytes); // before writing, so the session's accounting is exact
    this.#heldBytes = 0;
    const last = held.length - 1;
    held.forEach((chunk, i) => this.#port.write(chunk, this.#ended && i === last));
    if (this.#ended) {
      if (held.length === 0) this.#port.write(EMPTY, true);
      this.#port.ended();
    }
  }

  /** Called by the session when it closes with this stream unfinished. */
  abort(error: Error): void {
    this.#error = error;
    this.#held = [];
  }

  #hold(data: Buffer | Uint8Array): void {
    this.#held.push(data);
    this.#heldBytes += data.byteLength;
    this.#port.buffered(data.byteLength);
  }

  #assertWritable(): void {
    if (this.#error) throw this.#error;
    if (this.#ended) throw new Error(`a message stream of session ${this.#session.id} was written after end()`);
  }
}
