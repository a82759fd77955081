// The `sealed` resolver: the token carries the connection itself, encrypted
// and authenticated with a key the gateway and the application that mints
// tokens share, and it expires. For sites whose application knows each
// connection when it hands out the link (a Guacamole portal, a VNC console
// button) and wants no store at all; unlike guacamole-lite's CBC tokens, a
// changed byte fails the tag instead of decrypting to something else.
//   token     = base64url( 0x01 | iv (12 bytes) | ciphertext | tag (16 bytes) )
//   cipher    = AES-256-GCM, additional data = the ASCII bytes "wsgate-sealed-1"
//   plaintext = a JSON object: "exp" (Unix seconds, required) and the
//               connection's fields (host/port for tcp-proxy; protocol and
//               the settings for handler: guacamole), as the JSON resolvers read them
// The format and a snippet that mints tokens are in docs/resolvers.md.
import { createDecipheriv } from 'node:crypto';
import { fingerprint, type Logger } from '../../observability/logger.js';
import { targetFromRecord, type RecordKeys } from './record.js';
import { KEY_SOURCE_SCHEMA, readKeyText, type KeySource } from './key-material.js';
import { refusal, type LookupAnswer, type ResolverEnv, type ResolverFactory, type TargetResolver } from './types.js';

export const SEALED_VERSION = 1;
export const SEALED_AAD = Buffer.from('wsgate-sealed-1', 'ascii');
const IV_BYTES = 12;
const TAG_BYTES = 16;

export const create: ResolverFactory = (env: ResolverEnv) => {
  const opts = env.options<KeySource>({ properties: KEY_SOURCE_SCHEMA });
  const { text, field } = readKeyText(env, opts, 'the 32-byte key as 64 hex digits, e.g. from `openssl rand -hex 32`');
  if (!/^[0-9a-fA-F]{64}$/.test(text.trim())) env.invalid(field, 'the key must be 64 hex digits (32 bytes for AES-256-GCM), e.g. from `openssl rand -hex 32`');
  return new SealedResolver(Buffer.from(text.trim(), 'hex'), env.log, env.keys.json);
};

/** Why a sealed token was refused, for the log; the client learns only 403. */
type Refused = 'not a sealed token' | 'does not open with this key' | 'no valid exp' | 'expired';

class SealedResolver implements TargetResolver {
  readonly kind = 'sealed';
  readonly #key: Buffer;
  readonly #log: Logger;
  readonly #keys: RecordKeys;

  constructor(key: Buffer, log: Logger, keys: RecordKeys) {
    this.#key = key;
    this.#log = log;
    this.#keys = keys;
  }

  async resolve(token: string): Promise<LookupAnswer> {
    const opened = this.#open(token);
    // An expired token is one the gateway knows: the refusal line then says "token expired".
    if (opened === 'expired') return refusal('expired');
    if (typeof opened === 'string') {
      this.#log.info({ token: fingerprint(token), why: opened }, 'sealed token refused');
      return null;
    }
    const { exp: _exp, ...fields } = opened;
    return targetFromRecord(fields, this.#keys);
  }

  #open(token: string): Record<string, unknown> | Refused {
    const raw = Buffer.from(token, 'base64url');
    if (raw.length < 1 + IV_BYTES + TAG_BYTES || raw[0] !== SEALED_VERSION) return 'not a sealed token';
    let record: unknown;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(1, 1 + IV_BYTES));
      decipher.setAAD(SEALED_AAD);
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(raw.subarray(1 + IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
      record = JSON.parse(plain.toString('utf8'));
    } catch {
      return 'does not open with this key';
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) return 'does not open with this key';
    const exp = (record as { exp?: unknown }).exp;
    if (typeof exp !== 'number' || !Number.isFinite(exp)) return 'no valid exp';
    if (exp * 1000 <= Date.now()) return 'expired';
    return record as Record<string, unknown>;
  }

  async close(): Promise<void> {}
}
