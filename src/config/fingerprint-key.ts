// The key of the token fingerprints in logs (an HMAC, see fingerprint() in
// src/observability/logger.ts). Unkeyed, the fingerprint of a short token
// such as "my-desk" could be reversed by hashing guesses; keyed, only who
// holds the key can try. The key comes from the config file's
// `fingerprintKeyFile`, else from WSGATE_FINGERPRINT_KEY; with neither, a
// gateway makes a random one at start (its --workers share it), so its
// fingerprints match each other but no other run's.
import { readFileSync } from 'node:fs';
import { ConfigValueError } from './units.js';

export const FINGERPRINT_KEY_ENV = 'WSGATE_FINGERPRINT_KEY';

/** Shorter keys are refused: a short key and a short token together could again be guessed. */
const MIN_KEY_LENGTH = 16;

/** The key, trimmed; throws a ConfigValueError if it is too short. */
export function checkFingerprintKey(key: string): string {
  const trimmed = key.trim();
  if (trimmed.length < MIN_KEY_LENGTH) throw new ConfigValueError(`a fingerprint key needs at least ${MIN_KEY_LENGTH} characters (make one with: openssl rand -base64 32)`);
  return trimmed;
}

/** The key in `file` (its text, trimmed); throws a ConfigValueError naming the file. */
export function readFingerprintKeyFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigValueError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return checkFingerprintKey(text);
  } catch (e) {
    throw new ConfigValueError(`${file}: ${(e as Error).message}`);
  }
}

/** WSGATE_FINGERPRINT_KEY, or null when it is not set; throws a ConfigValueError naming it if it is too short. */
export function fingerprintKeyFromEnv(env: NodeJS.ProcessEnv = process.env): string | null {
  const key = env[FINGERPRINT_KEY_ENV];
  if (key === undefined || key === '') return null;
  try {
    return checkFingerprintKey(key);
  } catch (e) {
    throw new ConfigValueError(`${FINGERPRINT_KEY_ENV}: ${(e as Error).message}`);
  }
}
