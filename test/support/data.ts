// Test data: reproducible bytes and byte streams, random sizes, process memory.
import { readFileSync } from 'node:fs';
import { hashSink } from './hash.js';

/** Deterministic pseudo-random bytes (xorshift), so failures are reproducible. */
export function pseudoRandom(size: number, seed = 1): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf.writeUInt32LE(x >>> 0, i);
  }
  for (; i < size; i++) buf[i] = i & 0xff;
  return buf;
}

/**
 * A deterministic byte stream of `total` bytes (a 1 MiB + 7 pseudo-random pool
 * repeated, so chunk boundaries drift across the pool) that hashes what it hands out.
 */
export function byteStream(seed: number, total: number): { take(n: number): Buffer; readonly remaining: number; digest(): string } {
  const pool = pseudoRandom(1024 * 1024 + 7, seed);
  const hash = hashSink();
  let pos = 0;
  let remaining = total;
  return {
    take(n: number): Buffer {
      n = Math.min(n, remaining);
      let chunk: Buffer;
      if (pos + n <= pool.length) chunk = pool.subarray(pos, pos + n);
      else chunk = Buffer.concat([pool.subarray(pos), pool.subarray(0, n - (pool.length - pos))]);
      pos = (pos + n) % pool.length;
      remaining -= n;
      hash.add(chunk);
      return chunk;
    },
    get remaining() {
      return remaining;
    },
    digest: () => hash.digest(),
  };
}

/** Random sizes in 1..max from a seeded xorshift: half uniform, half log-uniform (many small ones). */
export function seededSizes(seed: number, max = 256 * 1024): () => number {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  return () => (next() & 1 ? 1 + (next() % max) : Math.min(max, Math.max(1, Math.floor(2 ** ((next() / 2 ** 32) * Math.log2(max))))));
}

/** Resident set size of a process in bytes, from /proc/<pid>/status (Linux). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}
