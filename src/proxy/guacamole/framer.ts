// Turns the backend's Guacamole byte stream into WebSocket text messages
// that each hold whole instructions only: guacamole-common-js before 1.5.2
// parses every message on its own and fails on one that ends mid-instruction.
//
// Per read, every whole instruction goes out at once (no timer: latency is
// the read's), as few messages as the size cap allows, never one per
// instruction. Bytes are forwarded as they came (validated UTF-8, sent as a
// text frame), as views of the read buffer where possible: only a partial
// instruction at a read's end is copied, to wait for its rest.
import { InstructionError, InstructionParser } from './instruction-parser.js';

/**
 * A message is cut at the first instruction end at or past this many bytes.
 * Measured (docs/guacamole.md): relay CPU per GiB falls steeply up to ~16 KiB
 * and little beyond; a browser starts on a message only once all of it has
 * arrived, so a smaller cap means less waiting on a slow link (32 KiB is
 * 2.6 ms at 100 Mbit/s). Guacamole's own Java endpoint cuts at 8192 chars.
 */
export const DEFAULT_MESSAGE_BYTES = 32 * 1024;
/** The original module's bound on a partial instruction. */
export const DEFAULT_PENDING_BYTES = 16 * 1024 * 1024;

/**
 * Takes one message of whole instructions. `written` is set when the bytes
 * are borrowed: pass it to Session.send, which calls it once they are out.
 * Returns false when the consumer wants the producer to pause.
 */
export type MessageSink = (message: Buffer, written: (() => void) | undefined) => boolean;

export interface FramerOptions {
  maxMessageBytes?: number;
  /** How long a partial instruction may grow while it waits for its rest. */
  maxPendingBytes?: number;
}

export class InstructionFramer {
  readonly #parser: InstructionParser;
  readonly #maxMessage: number;
  readonly #maxPending: number;
  /** The partial instruction at the end of the last read (owned copies). */
  #carry: Buffer[] = [];
  #carryBytes = 0;
  #error: InstructionError | null = null;

  constructor(opts: FramerOptions = {}) {
    this.#maxMessage = opts.maxMessageBytes ?? DEFAULT_MESSAGE_BYTES;
    this.#maxPending = opts.maxPendingBytes ?? DEFAULT_PENDING_BYTES;
    // A value of more code points than the bound has bytes cannot fit in it.
    this.#parser = new InstructionParser(this.#maxPending);
  }

  /** Set once the stream is broken; everything before the broken instruction was passed on. */
  get error(): InstructionError | null {
    return this.#error;
  }

  /** Bytes of a partial instruction waiting for the rest. */
  get pendingBytes(): number {
    return this.#carryBytes;
  }

  /**
   * Scans one read. `release` is set when the chunk is borrowed (the
   * backend reader's buffer): it is called once every message made of it is
   * written and nothing of it is kept. Returns false if any sink call did.
   */
  push(chunk: Buffer, release: (() => void) | null, sink: MessageSink): boolean {
    if (this.#error) {
      release?.();
      return true;
    }
    const parser = this.#parser;
    let below = true;
    // This call holds the chunk, and so does every borrowed view until it is written.
    let holds = 1;
    const done = release
      ? () => {
          if (--holds === 0) release();
        }
      : undefined;
    const emit = (start: number, end: number) => {
      let message: Buffer;
      let written: (() => void) | undefined;
      if (this.#carryBytes > 0) {
        this.#carry.push(chunk.subarray(start, end));
        message = Buffer.concat(this.#carry, this.#carryBytes + end - start);
        this.#carry = [];
        this.#carryBytes = 0;
      } else {
        message = chunk.subarray(start, end);
        if (done) {
          holds++;
          written = done;
        }
      }
      if (!sink(message, written)) below = false;
    };

    const end = chunk.length;
    let pos = 0;
    let start = 0; // where the next message begins in this chunk (after the carry, if any)
    let last = -1; // end of the last whole instruction seen
    while (pos < end) {
      // A carried instruction is finished in a message of its own when the chunk is a
      // borrowed bulk read, so that only it is copied and the rest goes out as views.
      const cutAt = this.#carryBytes > 0 && release ? 0 : start + this.#maxMessage - this.#carryBytes;
      const cut = parser.scan(chunk, pos, end, cutAt);
      if (parser.lastEnd >= 0) last = parser.lastEnd;
      pos = parser.position;
      if (parser.error) break;
      if (cut) {
        emit(start, pos);
        start = pos;
      }
    }
    if (last > start) {
      emit(start, last);
      start = last;
    }
    if (parser.error) {
      this.#fail(parser.error);
    } else if (start < end) {
      const tail = chunk.subarray(start, end);
      this.#carry.push(release ? Buffer.from(tail) : tail);
      this.#carryBytes += tail.length;
      if (this.#carryBytes > this.#maxPending) this.#fail(new InstructionError('GUAC_ERR_TOO_LONG', `an instruction is still incomplete after ${this.#maxPending} bytes`));
    }
    done?.();
    return below;
  }

  #fail(error: InstructionError): void {
    this.#error = error;
    this.#carry = [];
    this.#carryBytes = 0;
  }
}
