// SHA-256 for byte-exact checks: of one buffer, or of a stream of chunks as they arrive.
import { createHash } from 'node:crypto';

/** The hex SHA-256 of `data`. */
export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Counts and hashes received bytes. */
export function hashSink(): { add(chunk: Uint8Array): void; readonly bytes: number; digest(): string } {
  const hash = createHash('sha256');
  let bytes = 0;
  return {
    add(chunk: Uint8Array) {
      bytes += chunk.length;
      hash.update(chunk);
    },
    get bytes() {
      return bytes;
    },
    digest: () => hash.digest('hex'),
  };
}
