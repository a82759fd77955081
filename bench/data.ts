// Deterministic-per-run pseudo-random streams, sliced zero-copy from one pool.
// Receivers check every byte against the stream they expect (StreamCheck:
// memcmp, ~50 GB/s) rather than hashing it (sha256, ~1.8 GB/s here): the
// harness shares the machine's two cores with the gateway, and hashing took
// close to half of its core at the rates measured, capping every gateway at
// the harness's speed.
import { randomBytes } from 'node:crypto';

const POOL_SIZE = 16 * 1024 * 1024;
let pool: Buffer | undefined;

function getPool(): Buffer {
  return (pool ??= randomBytes(POOL_SIZE + 1024 * 1024));
}

/**
 * Chunks of stream `id` (total bytes, `size` per chunk). Each chunk starts at a
 * different pool offset, so streams differ from one another and a dropped,
 * duplicated or reordered chunk changes the hash.
 */
export function* chunks(id: number, total: number, size: number): Generator<Buffer> {
  const p = getPool();
  for (let i = 0, sent = 0; sent < total; i++) {
    const n = Math.min(size, total - sent);
    const off = ((id + 1) * 2_654_435_761 + i * 40_503 * 97) % (POOL_SIZE - n);
    yield p.subarray(off, off + n);
    sent += n;
  }
}

/** Compares arriving data, in order, with chunks(id, total, size); never buffers it. */
export class StreamCheck {
  readonly #expected: Generator<Buffer>;
  #chunk: Buffer | null = null;
  #at = 0;
  bytes = 0;
  /** Offset of the first byte that differs (or arrived beyond the end), if any. */
  firstBad: number | undefined;

  constructor(
    id: number,
    readonly total: number,
    size: number,
  ) {
    this.#expected = chunks(id, total, size);
  }

  add(d: Buffer): void {
    let pos = 0;
    while (pos < d.length && this.firstBad === undefined) {
      if (!this.#chunk || this.#at === this.#chunk.length) {
        const next = this.#expected.next();
        if (next.done) {
          this.firstBad = this.bytes + pos; // more than the stream holds
          break;
        }
        this.#chunk = next.value;
        this.#at = 0;
      }
      const n = Math.min(d.length - pos, this.#chunk.length - this.#at);
      if (!d.subarray(pos, pos + n).equals(this.#chunk.subarray(this.#at, this.#at + n))) {
        let k = 0;
        while (d[pos + k] === this.#chunk[this.#at + k]) k++;
        this.firstBad = this.bytes + pos + k;
      }
      pos += n;
      this.#at += n;
    }
    this.bytes += d.length;
  }

  /** Every expected byte arrived, none differs, nothing extra. */
  get intact(): boolean {
    return this.firstBad === undefined && this.bytes === this.total;
  }
}
