// Deterministic-per-run pseudo-random streams, sliced zero-copy from one pool,
// with their expected sha256 computed once (outside any timed section).
import { createHash, randomBytes } from 'node:crypto';

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

const cache = new Map<string, string>();

/** sha256 (hex) of chunks(id, total, size). */
export function expectedHash(id: number, total: number, size: number): string {
  const key = `${id}/${total}/${size}`;
  let h = cache.get(key);
  if (!h) {
    const hash = createHash('sha256');
    for (const c of chunks(id, total, size)) hash.update(c);
    cache.set(key, (h = hash.digest('hex')));
  }
  return h;
}
