// How the relay reads its backend socket: into buffers it owns (net's
// `onread`), instead of Node's default of a fresh 64 KiB allocation per read.
//
// Measured (docs/performance.md): reading a bulk stream into a reused
// 512 KiB buffer and handing that memory to the WebSocket frame write
// without a copy halves the gateway's CPU per GiB against the default path;
// bigger reads are most of the gain (fewer reads, frames and writev calls),
// no per-read allocation and garbage the rest.
//
// Memory stays per-byte-in-flight, not per-session:
// - A quiet socket reads into one landing buffer shared by every socket, and
//   its data is copied out at once (small copies are cheap), so an idle
//   session holds no read buffer at all. Sharing is safe because libuv runs
//   each read's callback before the next read into the same memory.
// - A read that fills the landing buffer means more is waiting: the socket is
//   promoted to a buffer of its own from a small pool, whose memory goes to
//   the consumer as a view (zero copy). While a view is not yet written
//   (the consumer has not called release()), the socket does not read, so
//   nothing overwrites it; this is also the relay's read-side backpressure.
// - When reads come back small again, the socket returns to the landing
//   buffer and its own buffer to the pool once released.
import type { OnReadOpts, Socket } from 'node:net';

const LANDING_SIZE = 64 * 1024;
// 512 KiB: in the bench, CPU per GiB fell from ~0.5 s (256 KiB) to ~0.28 s, the same
// as with 1 MiB, which would double the memory of every streaming session.
const BULK_SIZE = 512 * 1024;
/** A bulk-mode read below this goes back to the landing buffer (half of what promotes, so it does not flap). */
const DEMOTE_BELOW = LANDING_SIZE / 2;
/** Free bulk buffers kept for reuse; more are left to the garbage collector. */
const POOL_KEEP = 16;

const landing = Buffer.allocUnsafeSlow(LANDING_SIZE);
const pool: Buffer[] = [];

function takeBulk(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(BULK_SIZE);
}

function giveBack(buffer: Buffer): void {
  if (pool.length < POOL_KEEP) pool.push(buffer);
}

/**
 * Receives what the backend sent. `release` is null for data the consumer
 * owns (a copy); otherwise the chunk is a view of a reused buffer and
 * release() must be called once it has been written or dropped.
 */
export type ChunkConsumer = (chunk: Buffer, release: (() => void) | null) => void;

export class BackendReader {

  #socket: Socket | null = null;
  #consumer: ChunkConsumer | null = null;
  /** Data that arrived before a consumer was attached (copies). */
  #early: Buffer[] = [];
  /**
   * The bulk buffer the next read goes into, or null for the landing buffer.
   * Node asks for the next read's buffer right after each callback, so this
   * must be settled before a callback returns.
   */
  #own: Buffer | null = null;
  /** A bulk buffer whose memory is out with the consumer; no read may reuse it. */
  #lent: Buffer | null = null;
  /** The lent buffer goes back to the pool when released (the socket has moved on). */
  #lentIsSpare = false;
  /** Paused by the consumer (e.g. the session is above its high-water mark). */
  #held = false;
  #paused = false;

  /** Pass as net.connect's `onread` option (made on request: the socket keeps its functions, not the object). */
  get onread(): OnReadOpts {
    return {
      buffer: () => this.#own ?? landing,
      callback: (n: number, buf: Uint8Array) => this.#onRead(n, buf as Buffer),
    };
  }

  /** Binds to the socket created with this reader's `onread`. */
  bind(socket: Socket): void {
    this.#socket = socket;
    socket.on('close', () => {
      // No more reads: the bulk buffer can serve another socket (once released, if lent).
      if (this.#own && this.#own !== this.#lent) giveBack(this.#own);
      if (this.#own === this.#lent) this.#lentIsSpare = true;
      this.#own = null;
    });
  }

  /** Starts delivering, beginning with whatever arrived before. */
  attach(consumer: ChunkConsumer): void {
    this.#consumer = consumer;
    const early = this.#early;
    this.#early = [];
    for (const chunk of early) consumer(chunk, null);
    this.#update();
  }

  /**
   * Takes the consumer away (a protocol exchange before the relay, such as
   * the cluster hand-off, is done): reading pauses, and `unread` (bytes the
   * consumer took but did not use) goes first to the next consumer.
   */
  detach(unread?: Buffer): void {
    this.#consumer = null;
    if (unread && unread.length > 0) this.#early.unshift(unread);
    this.#update();
  }

  /** Stops reading until unhold(); for backpressure from the consumer's side. */
  hold(): void {
    this.#held = true;
    this.#update();
  }

  unhold(): void {
    this.#held = false;
    this.#update();
  }

  #onRead(n: number, buf: Buffer): boolean {
    const consumer = this.#consumer;
    if (buf === landing || !consumer) {
      const copy = Buffer.allocUnsafe(n);
      buf.copy(copy, 0, 0, n);
      // A full landing buffer means more is waiting: read the rest in bulk.
      if (buf === landing && n === LANDING_SIZE && !this.#own) this.#own = takeBulk();
      if (consumer) consumer(copy, null);
      else this.#early.push(copy);
    } else {
      this.#lent = buf;
      // Reads have become small: the next one goes to the landing buffer again.
      this.#lentIsSpare = n < DEMOTE_BELOW;
      if (this.#lentIsSpare) this.#own = null;
      let released = false;
      consumer(buf.subarray(0, n), () => {
        if (released) return;
        released = true;
        this.#onReleased(buf);
      });
    }
    return this.#update();
  }

  #onReleased(buf: Buffer): void {
    if (this.#lent !== buf) return;
    if (this.#lentIsSpare) giveBack(buf);
    this.#lent = null;
    this.#lentIsSpare = false;
    this.#update();
  }

  /** Pauses or resumes the socket to match the state; returns whether it reads on. */
  #update(): boolean {
    const socket = this.#socket;
    const stop = !this.#consumer || this.#held || this.#lent !== null;
    if (!socket || stop === this.#paused) return !stop;
    this.#paused = stop;
    if (stop) socket.pause();
    else if (!socket.destroyed) socket.resume();
    return !stop;
  }
}
