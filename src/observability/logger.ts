// One pino logger for the process. Children carry a session id or a route,
// so every line can be followed back to its session.
import { createHmac, randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Synchronous writes: a gateway logs a few lines per session, not per byte,
 * and a line must not be lost when the process exits right after it.
 */
export function createLogger(level: string, destination: number | string = 1): Logger {
  const stream = pino.destination({ dest: destination, sync: true });
  // A file (--log-file) is opened again by reopenLogFiles(), after logrotate moved it away.
  if (typeof destination === 'string') files.add(stream);
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, stream);
}

const files = new Set<{ reopen(): void }>();

/** Opens every log file again under its name (SIGUSR1, after logrotate renamed it): new lines go to the new file. */
export function reopenLogFiles(): void {
  for (const f of files) f.reopen();
}

/** This process's fingerprint key: random until useFingerprintKey() sets the configured one (src/config/fingerprint-key.ts). */
let processKey = randomBytes(32).toString('base64url');

/** Fingerprints from now on use `key` (the configured one, or the --workers primary's). */
export function useFingerprintKey(key: string): void {
  processKey = key;
}

/** The key fingerprints use now, to hand to the --workers processes so every process of one gateway agrees. */
export function currentFingerprintKey(): string {
  return processKey;
}

/**
 * A short, stable fingerprint of a secret (token, key) that is safe to log:
 * HMAC-SHA-256 under the process's key (or `key`), 12 hex characters. It
 * tells lines about one token apart from lines about another, and cannot be
 * turned back into the token without the key.
 */
export function fingerprint(secret: string, key: string = processKey): string {
  return createHmac('sha256', key).update(secret).digest('hex').slice(0, 12);
}
