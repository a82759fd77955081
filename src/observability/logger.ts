// One pino logger for the process. Children carry a session id or a route,
// so every line can be followed back to its session.
import { createHash } from 'node:crypto';
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Synchronous writes: a gateway logs a few lines per session, not per byte,
 * and a line must not be lost when the process exits right after it.
 */
export function createLogger(level: string, destination: number | string = 1): Logger {
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: destination, sync: true }),
  );
}

/** A short, stable fingerprint of a secret (token, key) that is safe to log. */
export function fingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 12);
}
