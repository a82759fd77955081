// The `guacamole-lite` resolver: tokens made for guacamole-lite, so that an
// application that mints them keeps working when wsgate replaces it. The
// token is itself the connection, encrypted with a key both sides hold:
// base64(JSON {iv, value}), where value is AES-256-CBC of
// {"connection": {"type": "rdp", "settings": {...}}} (or {"join": "$id"}).
// Like a JWT there is no store to be down: a token that does not decrypt to
// such a connection resolves null (403). Only for `handler: guacamole`: the
// settings are Guacamole's, and name no target of their own.
import { createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fingerprint, type Logger } from '../../observability/logger.js';
import { targetFromRecord, type RecordKeys } from './record.js';
import type { ResolvedTarget, ResolverEnv, ResolverFactory, TargetResolver } from './types.js';

interface GuacamoleLiteConfig {
  /** A file holding the 32-byte key (a trailing newline is ignored). */
  keyFile?: string;
  /** An environment variable holding it. */
  keyEnv?: string;
}

/** guacamole-lite's documented cipher; its key is the 32 characters of a string. */
const CIPHER = 'aes-256-cbc';
const KEY_BYTES = 32;

export const create: ResolverFactory = (env: ResolverEnv) => {
  const opts = env.options<GuacamoleLiteConfig>({ properties: { keyFile: { type: 'string', minLength: 1 }, keyEnv: { type: 'string', minLength: 1 } } });
  if (!env.keys.json.optional) env.invalid('type', 'guacamole-lite tokens hold Guacamole connection settings: use them on a route with handler: guacamole');
  if ((opts.keyFile === undefined) === (opts.keyEnv === undefined)) env.invalid('keyFile', 'give keyFile or keyEnv (the key guacamole-lite was given), one of them');
  let key: Buffer;
  if (opts.keyFile !== undefined) {
    const file = path.resolve(env.baseDir, opts.keyFile);
    try {
      key = Buffer.from(readFileSync(file, 'utf8').replace(/\r?\n$/, ''));
    } catch (e) {
      env.invalid('keyFile', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } else {
    const value = process.env[opts.keyEnv!];
    if (value === undefined) env.invalid('keyEnv', `the environment has no ${opts.keyEnv}`);
    key = Buffer.from(value);
  }
  if (key.length !== KEY_BYTES) env.invalid(opts.keyFile !== undefined ? 'keyFile' : 'keyEnv', `the key must be ${KEY_BYTES} bytes for AES-256-CBC (got ${key.length})`);
  return new GuacamoleLiteResolver(key, env.log, env.keys.json);
};

class GuacamoleLiteResolver implements TargetResolver {
  readonly kind = 'guacamole-lite';
  readonly #key: Buffer;
  readonly #log: Logger;
  readonly #keys: RecordKeys;

  constructor(key: Buffer, log: Logger, keys: RecordKeys) {
    this.#key = key;
    this.#log = log;
    this.#keys = keys;
  }

  async resolve(token: string): Promise<ResolvedTarget | null> {
    let connection: { type?: unknown; join?: unknown; settings?: unknown };
    try {
      const sealed = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { iv?: unknown; value?: unknown };
      if (typeof sealed.iv !== 'string' || typeof sealed.value !== 'string') throw new Error('not {iv, value}');
      const decipher = createDecipheriv(CIPHER, this.#key, Buffer.from(sealed.iv, 'base64'));
      const plain = Buffer.concat([decipher.update(Buffer.from(sealed.value, 'base64')), decipher.final()]).toString('utf8');
      connection = (JSON.parse(plain) as { connection?: typeof connection }).connection ?? {};
    } catch (e) {
      // A wrong key mostly fails the padding check; the reason is not the client's business.
      this.#log.info({ token: fingerprint(token), why: (e as Error).message }, 'guacamole-lite token refused');
      return null;
    }
    const protocol = typeof connection.join === 'string' && connection.join ? connection.join : connection.type;
    const settings = connection.settings;
    if (typeof protocol !== 'string' || !protocol || (settings !== undefined && (typeof settings !== 'object' || settings === null || Array.isArray(settings)))) {
      this.#log.info({ token: fingerprint(token) }, 'guacamole-lite token holds no connection type and settings');
      return null;
    }
    return targetFromRecord({ ...(settings as Record<string, unknown>), protocol }, this.#keys);
  }

  async close(): Promise<void> {}
}
