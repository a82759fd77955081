// The soak's data: a seeded PRNG for every random choice, and one
// deterministic byte stream per (session, direction), defined by offset, so
// both ends can check every byte they receive without storing what was sent.
//
// Stream (id, dir) at offset o is POOL[(start(id, dir) + o) % POOL.length]:
// the pool is pseudo-random and longer than any stream the soak sends, so a
// lost, duplicated or reordered chunk lands on bytes at another offset and
// fails the comparison (memcmp per chunk, cheap enough to check everything).

/** mulberry32: a small, fast, seedable PRNG (uniform floats in [0, 1)). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [lo, hi]. */
export const between = (rand: () => number, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));

/** Larger than the largest stream (so no offset within a stream repeats), odd so streams drift across it. */
export const POOL_SIZE = 8 * 1024 * 1024 + 4093;
export const MAX_STREAM = 8 * 1024 * 1024;

let pool: Buffer | undefined;
function getPool(): Buffer {
  if (pool) return pool;
  const rand = prng(0x50a4);
  pool = Buffer.allocUnsafe(POOL_SIZE);
  for (let i = 0; i + 4 <= POOL_SIZE; i += 4) pool.writeUInt32LE(Math.floor(rand() * 4294967296), i);
  for (let i = POOL_SIZE & ~3; i < POOL_SIZE; i++) pool[i] = Math.floor(rand() * 256);
  return pool;
}

export type Direction = 'up' | 'down';

/** Where stream (id, dir) starts in the pool. */
function start(id: number, dir: Direction): number {
  const h = Math.imul(id + 1, 0x9e3779b1) ^ (dir === 'up' ? 0x85ebca6b : 0xc2b2ae35);
  return (h >>> 0) % POOL_SIZE;
}

/** `n` bytes of stream (id, dir) from `offset` (a view into the pool where it does not wrap). */
export function slice(id: number, dir: Direction, offset: number, n: number): Buffer {
  const p = getPool();
  const at = (start(id, dir) + offset) % POOL_SIZE;
  if (at + n <= POOL_SIZE) return p.subarray(at, at + n);
  return Buffer.concat([p.subarray(at), p.subarray(0, n - (POOL_SIZE - at))]);
}

/** The first 4 bytes a client sends: its session id, so the backend knows which plan it serves. */
export const HEADER_BYTES = 4;
export function header(id: number): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  b.writeUInt32BE(id);
  return b;
}

/**
 * Checks arriving bytes against stream (id, dir) of `total` bytes, in order:
 * `firstBad` is the offset of the first wrong byte, or of the first byte
 * beyond `total`. What arrived is a correct prefix while firstBad is unset.
 */
export class PrefixCheck {
  bytes = 0;
  firstBad: number | undefined;
  /** Up to 64 bytes received from firstBad on, to tell where they came from (whereFrom()). */
  badSample: Buffer | undefined;

  constructor(
    readonly id: number,
    readonly dir: Direction,
    readonly total: number,
  ) {}

  add(d: Buffer): void {
    if (this.firstBad === undefined) {
      const fits = Math.min(d.length, this.total - this.bytes);
      const want = slice(this.id, this.dir, this.bytes, fits);
      if (!d.subarray(0, fits).equals(want)) {
        let k = 0;
        while (d[k] === want[k]) k++;
        this.firstBad = this.bytes + k;
        this.badSample = Buffer.from(d.subarray(k, k + 64));
      } else if (fits < d.length) {
        this.firstBad = this.total; // more than the stream holds
        this.badSample = Buffer.from(d.subarray(fits, fits + 64));
      }
    }
    this.bytes += d.length;
  }

  get correct(): boolean {
    return this.firstBad === undefined;
  }

  get complete(): boolean {
    return this.firstBad === undefined && this.bytes === this.total;
  }
}

/**
 * Which streams `sample` could be part of: every (id, dir, offset) whose bytes
 * it matches, among `ids` and within `length(id, dir)` (for reports of wrong
 * bytes: data of another session, or of the other direction, says more than
 * "corrupted").
 */
export function whereFrom(sample: Buffer, ids: number[], length: (id: number, dir: Direction) => number): string[] {
  if (sample.length < 16) return [];
  const p = getPool();
  const out: string[] = [];
  for (let at = p.indexOf(sample); at !== -1 && out.length < 4; at = p.indexOf(sample, at + 1)) {
    for (const id of ids) {
      for (const dir of ['up', 'down'] as const) {
        const offset = (at - start(id, dir) + POOL_SIZE) % POOL_SIZE;
        if (offset + sample.length <= length(id, dir)) out.push(`session ${id}'s ${dir} stream at offset ${offset}`);
      }
    }
  }
  return out;
}
