// The `redis` resolver: websockify's TokenRedis values, plus what Redis can
// arbitrate between gateways that share it. Single use is one DEL (Redis runs
// them one at a time, so exactly one gateway gets 1 back), and revocation is
// a publish on REVOKE_CHANNEL that every gateway's subscriber hears. The
// client never queues commands while Redis is away (enableOfflineQueue:
// false), so a down Redis fails a lookup at once (503) instead of holding it
// until the timeout. Both connections (lookups, revocations) reconnect in the
// background with backoff and log each change of state once. Values, expiry
// and options are in docs/resolvers.md.
import { Redis, type RedisOptions } from 'ioredis';
import { formatHostPort, networkErrorMessage } from '../../config/host-port.js';
import { fingerprint, type Logger } from '../../observability/logger.js';
import { raceAbort, throwIfAborted } from './aborting.js';
import { LinkState, LOOKUP_MESSAGES, REVOCATION_MESSAGES } from './link-state.js';
import { urlOrParts } from './url-or-parts.js';
import { refusal, StoreError, type LookupAnswer, type ResolvedTarget, type ResolverFactory, type TargetResolver } from './types.js';
import { targetFromJson, targetFromText } from './websockify-values.js';
import type { RecordKeys } from './record.js';

export const REVOKE_CHANNEL = 'wsgate:revoke';
const DEFAULT_URL = 'redis://127.0.0.1:6379';
/**
 * ioredis's connectTimeout ends with the TCP connect: a server that accepts
 * and never answers would hold a client in its handshake for ever (and every
 * lookup until its timeout). A connection not ready by then is dropped and retried.
 */
const READY_TIMEOUT_MS = 2000;

interface RedisConfig {
  url?: string;
  host?: string;
  port?: number;
  db?: number;
  username?: string;
  password?: string;
  prefix?: string;
  singleUse?: boolean;
}

const CLIENT_OPTIONS: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  retryStrategy: (times: number) => Math.min(times * 200, 2000),
  // How long disconnect() waits for a socket to close before destroying it;
  // ioredis's 2 s timer outlives sockets that never connected and holds the process.
  disconnectTimeout: 200,
};

export const create: ResolverFactory = (env) => {
  const opts = env.options<RedisConfig>({
    properties: {
      url: { type: 'string', pattern: '^rediss?://' },
      host: { type: 'string', minLength: 1 },
      port: { type: 'integer', minimum: 1, maximum: 65535 },
      db: { type: 'integer', minimum: 0 },
      username: { type: 'string' },
      password: { type: 'string' },
      prefix: { type: 'string' },
      singleUse: { type: 'boolean' },
    },
  });
  const separate = urlOrParts(env, opts, ['host', 'port', 'db', 'username', 'password']);
  const client = separate
    ? new Redis({ ...CLIENT_OPTIONS, host: opts.host ?? '127.0.0.1', port: opts.port ?? 6379, db: opts.db ?? 0, username: opts.username, password: opts.password })
    : new Redis(opts.url ?? DEFAULT_URL, CLIENT_OPTIONS);
  return new RedisResolver(client, opts.prefix ?? '', opts.singleUse ?? false, env.log, env.keys.json);
};

/**
 * Follows one client's connection: a handshake that gets no answer is cut
 * after READY_TIMEOUT_MS, and `state` hears of every ready, close and retry.
 * Returns the last error, for messages.
 */
function follow(client: Redis, state: LinkState, onReady: () => void): () => Error | null {
  let lastError: Error | null = null;
  let attempts = 0;
  let handshake: NodeJS.Timeout | null = null;
  const stopWaiting = () => {
    if (handshake) clearTimeout(handshake);
    handshake = null;
  };
  client.on('error', (err: Error) => (lastError = err));
  client.on('connect', () => {
    stopWaiting();
    handshake = setTimeout(() => {
      handshake = null;
      client.stream?.destroy(new Error(`connected, but no answer within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    handshake.unref();
  });
  client.on('ready', () => {
    stopWaiting();
    attempts = 0;
    lastError = null;
    onReady();
  });
  client.on('close', () => {
    stopWaiting();
    state.down(lastError ? networkErrorMessage(lastError) : 'connection closed');
  });
  client.on('reconnecting', (delayMs: number) => state.retrying(delayMs, ++attempts));
  client.on('end', stopWaiting);
  return () => lastError;
}

class RedisResolver implements TargetResolver {
  readonly kind = 'redis';
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #singleUse: boolean;
  readonly #log: Logger;
  readonly #keys: RecordKeys;
  /** Where Redis is, for log lines (the address only: a URL may hold a password). */
  readonly #where: { server: string };
  readonly #state: LinkState;
  readonly #lastError: () => Error | null;
  #subscriber: { client: Redis; state: LinkState; listening: Promise<void> } | null = null;
  readonly #listeners: Array<(token: string) => void> = [];

  constructor(client: Redis, prefix: string, singleUse: boolean, log: Logger, keys: RecordKeys) {
    this.#keys = keys;
    this.#client = client;
    this.#prefix = prefix;
    this.#singleUse = singleUse;
    this.#log = log;
    this.#where = { server: formatHostPort(client.options.host ?? 'localhost', client.options.port ?? 6379) };
    this.#state = new LinkState(log, this.#where, LOOKUP_MESSAGES);
    this.#lastError = follow(client, this.#state, () => this.#state.up());
  }

  async resolve(token: string, signal: AbortSignal): Promise<LookupAnswer> {
    const raw = await this.#command((c) => c.get(this.#prefix + token), signal);
    return raw === null ? null : this.#target(raw, token);
  }

  async consume(token: string, signal: AbortSignal): Promise<boolean> {
    return (await this.#command((c) => c.del(this.#prefix + token), signal)) === 1;
  }

  watchRevocations(onRevoke: (token: string) => void): Promise<void> {
    this.#listeners.push(onRevoke);
    this.#subscriber ??= this.#subscribe();
    return this.#subscriber.listening;
  }

  async close(): Promise<void> {
    this.#state.stop();
    this.#subscriber?.state.stop();
    this.#client.disconnect();
    this.#subscriber?.client.disconnect();
  }

  /**
   * Subscribing needs a connection of its own. It connects now, in the
   * background, and subscribes again each time it is ready (after every
   * reconnection); it is "listening" once Redis has confirmed the SUBSCRIBE.
   */
  #subscribe(): { client: Redis; state: LinkState; listening: Promise<void> } {
    const client = this.#client.duplicate({ autoResubscribe: false });
    const state = new LinkState(this.#log, { ...this.#where, channel: REVOKE_CHANNEL }, REVOCATION_MESSAGES);
    let settle: () => void = () => {};
    const listening = new Promise<void>((resolve) => (settle = resolve));
    follow(client, state, () => {
      client.subscribe(REVOKE_CHANNEL).then(
        () => {
          state.up();
          settle();
        },
        () => {}, // the connection went away again; its close is logged, the next ready subscribes
      );
    });
    client.on('message', (channel: string, message: string) => {
      if (channel !== REVOKE_CHANNEL) return;
      for (const listener of this.#listeners) {
        try {
          listener(message);
        } catch (err) {
          this.#log.error({ err }, 'revocation listener failed');
        }
      }
    });
    client.connect().catch(() => {}); // a failure is logged by follow(); the client keeps retrying
    return { client, state, listening };
  }

  /** Runs one command once the client is ready, failing fast (StoreError) if Redis is not there. */
  async #command<T>(run: (client: Redis) => Promise<T>, signal: AbortSignal): Promise<T> {
    throwIfAborted(signal, this.kind);
    try {
      await raceAbort(this.#ready(), signal, this.kind);
      return await raceAbort(run(this.#client), signal, this.kind);
    } catch (err) {
      throw err instanceof StoreError ? err : new StoreError(this.kind, networkErrorMessage(err));
    }
  }

  #ready(): Promise<void> {
    const client = this.#client;
    switch (client.status) {
      case 'ready':
        return Promise.resolve();
      case 'wait':
        return client.connect().catch((err: Error) => {
          throw this.#lastError() ?? err; // "connect ECONNREFUSED ..." says more than "Connection is closed"
        });
      case 'connecting':
      case 'connect':
        // An attempt is under way: its outcome decides.
        return new Promise<void>((resolve, reject) => {
          const done = (err?: Error): void => {
            client.off('ready', done).off('error', done).off('end', done);
            if (err) reject(err);
            else if (client.status === 'ready') resolve();
            else reject(new Error('connection closed'));
          };
          client.on('ready', done).on('error', done).on('end', done);
        });
      default:
        // reconnecting, close, end: Redis went away; the background retry will bring it back.
        return Promise.reject(new Error(client.status === 'end' ? 'resolver closed' : `not connected (${networkErrorMessage(this.#lastError() ?? 'reconnecting')})`));
    }
  }

  #target(raw: string, token: string): LookupAnswer {
    const text = raw.trim();
    let record: Record<string, unknown> | null = null;
    let target: ResolvedTarget | null = null;
    if (text.startsWith('{')) {
      try {
        record = JSON.parse(text) as Record<string, unknown>;
        target = targetFromJson(record, this.#keys);
      } catch {
        // handled below with the same warning
      }
    } else {
      target = targetFromText(text);
    }
    if (!target) {
      this.#log.warn({ token: fingerprint(token) }, 'redis value is neither host:port nor JSON with host and port');
      return null;
    }
    if (record?.expiresAt !== undefined && record.expiresAt !== null) {
      const expiresAt = Number(record.expiresAt);
      if (!Number.isFinite(expiresAt) || Date.now() >= expiresAt * 1000) return refusal('expired');
    }
    if (this.#singleUse || record?.singleUse === true || record?.singleUse === 'true') target.singleUse = true;
    return target;
  }
}

/**
 * Revokes a token for every gateway sharing this Redis: deletes its key (no
 * new session can use it) and publishes it (live sessions are closed).
 * Resolves whether the key existed; rejects with a StoreError if Redis cannot be reached.
 */
export async function revokeToken(redisUrl: string, prefix: string, token: string): Promise<boolean> {
  const client = new Redis(redisUrl, { ...CLIENT_OPTIONS, retryStrategy: () => null });
  let lastError: Error | null = null;
  client.on('error', (err: Error) => (lastError = err));
  try {
    await client.connect().catch((err: Error) => {
      throw lastError ?? err;
    });
    const results = await client.multi().del(prefix + token).publish(REVOKE_CHANNEL, token).exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('transaction aborted');
    return results[0]![1] === 1;
  } catch (err) {
    throw new StoreError('redis', networkErrorMessage(err));
  } finally {
    client.disconnect();
  }
}
