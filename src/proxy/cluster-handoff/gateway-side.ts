// The gateway's half of the cluster hand-off (a tcp-proxy route's
// `clusterHandoff`): after dialing the cluster proxy, read its greeting,
// answer with the signed document that names the session's parameters (the
// node to reach among them), and in version 2 wait for the proxy's result.
// It all happens inside connect(), before the 101, so a failed hand-off is
// an HTTP 502 for the client, not an accepted session that drops.
import { resolve } from 'node:path';
import type { Logger } from '../../observability/logger.js';
import { fingerprint } from '../../observability/logger.js';
import type { BackendConnection } from '../dial.js';
import { FrameCollector, GATEWAY_MAGIC, HandoffError, MAX_GREETING, MAX_PAYLOAD, PROXY_MAGIC, encodeFrame, type Frame, type FrameRules } from './frame.js';
import { loadSecret, type Secret, type SecretSource } from './secret.js';
import { encodeV1Document, v1Hash, v1Nonce, v1Unfit, type Params } from './v1.js';
import { decodeResult, encodeV2Document, MIN_NONCE, RESULT, resultName, v2PayloadSize } from './v2.js';

export interface ClusterHandoffOptions {
  version: 1 | 2;
  secretFile?: string;
  secretEnv?: string;
  secret?: string;
}

export const clusterHandoffSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['version'],
  properties: {
    version: { enum: [1, 2] },
    secretFile: { type: 'string', minLength: 1 },
    secretEnv: { type: 'string', minLength: 1 },
    secret: { type: 'string', minLength: 1 },
  },
};

/** What building a hand-off needs from its route (a HandlerContext has it). */
export interface HandoffRouteContext {
  baseDir: string;
  log: Logger;
  validate(schema: object, value: unknown, path: string[]): void;
  invalid(field: string | string[], message: string): never;
}

export type Prepared = { ok: true; handoff: PreparedHandoff } | { ok: false; reason: string };

export class ClusterHandoff {
  readonly version: 1 | 2;
  readonly #secret: Secret;

  private constructor(version: 1 | 2, secret: Secret) {
    this.version = version;
    this.#secret = secret;
  }

  /** Reads `clusterHandoff:` of a route; configuration errors name the field. */
  static fromRoute(ctx: HandoffRouteContext, raw: unknown): ClusterHandoff {
    ctx.validate(clusterHandoffSchema, raw, ['clusterHandoff']);
    const o = raw as ClusterHandoffOptions;
    const given = (['secretFile', 'secretEnv', 'secret'] as const).filter((k) => o[k] !== undefined);
    if (given.length !== 1) ctx.invalid(['clusterHandoff', given[1] ?? 'secretFile'], 'give exactly one of secretFile, secretEnv or secret');
    const source: SecretSource = o.secretFile !== undefined ? { file: resolve(ctx.baseDir, o.secretFile) } : o.secretEnv !== undefined ? { env: o.secretEnv } : { inline: o.secret! };
    let secret: Secret;
    try {
      secret = loadSecret(source);
    } catch (e) {
      ctx.invalid(['clusterHandoff', given[0]!], (e as Error).message);
    }
    if ('inline' in source) ctx.log.warn('clusterHandoff.secret is written in the config file: prefer secretFile or secretEnv');
    return new ClusterHandoff(o.version, secret);
  }

  /**
   * At lookup time, before anything is dialed: checks that this key and
   * these parameters can travel (names a version 1 document can carry, a
   * document within the 16-bit length). A refusal is the client's 403.
   */
  prepare(key: string, params: Readonly<Record<string, string>>, log: Logger): Prepared {
    const pairs: Params = Object.entries(params);
    let why = this.version === 1 ? v1Unfit(pairs) : null;
    if (!why) {
      const size = this.version === 1 ? encodeV1Document({ key, hash: '0'.repeat(64), params: pairs }).length : v2PayloadSize(key, pairs);
      if (size > MAX_PAYLOAD) why = `the hand-off document would be ${size} bytes, more than the 16-bit length allows (${MAX_PAYLOAD})`;
    }
    if (why) {
      log.warn({ token: fingerprint(key), why }, 'cluster hand-off impossible for this lookup');
      return { ok: false, reason: `cluster hand-off: ${why}` };
    }
    return { ok: true, handoff: new PreparedHandoff(this.version, this.#secret, key, pairs) };
  }
}

export class PreparedHandoff {
  readonly #version: 1 | 2;
  readonly #secret: Secret;
  readonly #key: string;
  readonly #params: Params;

  constructor(version: 1 | 2, secret: Secret, key: string, params: Params) {
    this.#version = version;
    this.#secret = secret;
    this.#key = key;
    this.#params = params;
  }

  /**
   * Runs the exchange on a freshly dialed backend, within `timeoutMs`.
   * On failure the backend is destroyed and the promise rejects with a
   * HandoffError whose message is fit for the log (never the secret). On
   * success every byte after the exchange waits in the backend's reader for
   * the relay.
   */
  async perform(backend: BackendConnection, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const exchange = new Exchange(backend, timeoutMs, signal);
    try {
      await this.#exchange(exchange, backend);
    } catch (e) {
      backend.socket.destroy();
      throw e;
    } finally {
      exchange.finish();
    }
  }

  async #exchange(exchange: Exchange, backend: BackendConnection): Promise<void> {
    const greeting = await exchange.next({ magic: PROXY_MAGIC, versions: this.#version === 1 ? [1] : [1, 2], maxPayload: MAX_GREETING, what: 'greeting' });
    if (this.#version === 1) {
      const nonce = v1Nonce(greeting.payload);
      if (nonce.length === 0) throw new HandoffError('greeting: empty nonce');
      const hash = v1Hash(this.#key, this.#secret, nonce, this.#params);
      backend.socket.write(encodeFrame(GATEWAY_MAGIC, 1, encodeV1Document({ key: this.#key, hash, params: this.#params })));
      return;
    }
    const nonce = greeting.payload;
    if (nonce.length < MIN_NONCE) throw new HandoffError(`greeting: a ${nonce.length}-byte nonce is too short for version 2 (at least ${MIN_NONCE})`);
    const timestamp = Math.floor(Date.now() / 1000);
    backend.socket.write(encodeV2Document({ timestamp, key: this.#key, params: this.#params }, this.#secret, nonce));
    const result = decodeResult((await exchange.next({ magic: PROXY_MAGIC, versions: [2], maxPayload: MAX_GREETING, what: 'result' })).payload);
    if (result.status !== RESULT.ok) throw new HandoffError(`cluster proxy refused (${resultName(result.status)}): ${result.reason}`);
  }
}

/**
 * Frames read from the backend's reader until finish(), which hands the
 * reader back with any bytes read beyond the last frame. Fails on EOF,
 * socket error, the deadline, or the client leaving.
 */
class Exchange {
  readonly #backend: BackendConnection;
  readonly #timer: NodeJS.Timeout;
  readonly #signal: AbortSignal;
  #pending: Buffer[] = [];
  #waiter: { collector: FrameCollector; resolve(frame: Frame): void; reject(e: Error): void } | null = null;
  #failure: HandoffError | null = null;
  #stage = 'greeting';
  readonly #onEnd = () => this.#fail(new HandoffError(`the cluster proxy closed the connection before its ${this.#stage} was complete`));
  readonly #onError = (err: NodeJS.ErrnoException) => this.#fail(new HandoffError(`cluster proxy connection failed during the hand-off: ${err.code ?? err.message}`));
  readonly #onAbort = () => this.#fail(new HandoffError('the client left during the cluster hand-off'));

  constructor(backend: BackendConnection, timeoutMs: number, signal: AbortSignal) {
    this.#backend = backend;
    this.#signal = signal;
    this.#timer = setTimeout(() => this.#fail(new HandoffError(`no ${this.#stage} from the cluster proxy within ${timeoutMs} ms`)), timeoutMs);
    backend.socket.on('end', this.#onEnd);
    backend.socket.on('error', this.#onError);
    backend.socket.on('close', this.#onEnd);
    if (signal.aborted) this.#onAbort();
    else signal.addEventListener('abort', this.#onAbort, { once: true });
    backend.reader.attach((chunk, release) => {
      // A lent chunk is the reader's own buffer: copy what the exchange keeps.
      this.#pending.push(release ? Buffer.from(chunk) : chunk);
      release?.();
      this.#pump();
    });
  }

  next(rules: FrameRules): Promise<Frame> {
    this.#stage = rules.what;
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiter = { collector: new FrameCollector(rules), resolve, reject };
      this.#pump();
    });
  }

  finish(): void {
    clearTimeout(this.#timer);
    const { socket, reader } = this.#backend;
    socket.removeListener('end', this.#onEnd);
    socket.removeListener('error', this.#onError);
    socket.removeListener('close', this.#onEnd);
    this.#signal.removeEventListener('abort', this.#onAbort);
    reader.detach(this.#pending.length ? Buffer.concat(this.#pending) : undefined);
    this.#pending = [];
  }

  #pump(): void {
    const waiter = this.#waiter;
    if (!waiter || this.#pending.length === 0) return;
    const chunks = this.#pending;
    this.#pending = [];
    try {
      for (let i = 0; i < chunks.length; i++) {
        const done = waiter.collector.push(chunks[i]!);
        if (done) {
          this.#pending = [done.rest, ...chunks.slice(i + 1)].filter((c) => c.length > 0);
          this.#waiter = null;
          waiter.resolve(done.frame);
          return;
        }
      }
    } catch (e) {
      this.#fail(e as HandoffError);
    }
  }

  #fail(e: HandoffError): void {
    this.#failure ??= e;
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.reject(this.#failure);
  }
}
