// Per-session targets for a route: find the client's token, look it up in
// the route's store (with a timeout, optional caching), check the target
// against the allowlist, use up single-use tokens, and remember live
// sessions by token so a revocation can close them. Every refusal is an
// HTTP status before the 101: 403 for a bad, unknown, expired, used, revoked
// or disallowed token (the same answer for all, so a client learns nothing;
// the log says which), 503 when the store cannot answer.
import type { IncomingHttpHeaders } from 'node:http';
import { fingerprint, type Logger } from '../observability/logger.js';
import type { Session } from '../session/session.js';
import { parseSeconds } from '../config/units.js';
import { formatHostPort } from '../config/host-port.js';
import { closedObject, type FieldsSchema } from '../config/validate.js';
import { loadResolverFactory, RESOLVER_TYPES } from './resolvers/index.js';
import { LookupCache } from './resolvers/cache.js';
import { isRefusal, refusal, StoreError, type LookupAnswer, type ResolvedTarget, type TargetResolver } from './resolvers/types.js';
import { TARGET_KEYS, type RecordKeySet } from './resolvers/record.js';
import { DOTTED_ALPHABET, findToken, ORIGINAL_ALPHABET, type Carrier, type TokenRules } from './token-carrier.js';
import { TargetPolicy } from './target-policy.js';
import { SessionsByToken } from './revocations.js';

/**
 * What building a route's TokenTargets needs from the route: the handler
 * context (src/handlers/types.ts) has all of it, but this layer does not
 * know handlers. Paths and fields are relative to the route.
 */
export interface RouteFields {
  baseDir: string;
  log: Logger;
  /** Checks a nested value against a JSON Schema; errors name the route's field at `path`. */
  validate(schema: object, value: unknown, path: string[]): void;
  /** Throws a configuration error naming the route's field (or nested path). */
  invalid(field: string | string[], message: string): never;
}

/** What a lookup reads of a connecting client (a handler's ConnectContext has it all). */
export interface ClientRequest {
  /** Path and query; the query may hold the token: never log it whole. */
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
  readonly log: Logger;
  /** Aborted when the client leaves before the lookup is done. */
  readonly signal: AbortSignal;
}

export interface TokenOptions {
  from?: Carrier | Carrier[];
  names?: string[];
  pattern?: string;
  maxLength?: number;
}

export interface ResolverBlock {
  type: string;
  timeout?: number;
  cache?: { ttl?: number; negativeTtl?: number };
  [field: string]: unknown;
}

export const tokenSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { anyOf: [{ enum: ['query', 'cookie', 'host'] }, { type: 'array', minItems: 1, items: { enum: ['query', 'cookie', 'host'] } }] },
    names: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    pattern: { type: 'string', minLength: 1 },
    maxLength: { type: 'integer', minimum: 1, maximum: 65536 },
  },
};

const resolverCommonSchema = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { type: 'string' },
    timeout: { type: 'number', exclusiveMinimum: 0 },
    cache: {
      type: 'object',
      additionalProperties: false,
      properties: { ttl: { type: 'number', minimum: 0 }, negativeTtl: { type: 'number', minimum: 0 } },
    },
  },
};

export type LookupOutcome = { ok: true; target: ResolvedTarget; token: string } | { ok: false; status: number; reason: string };

export class TokenTargets {
  readonly #resolver: TargetResolver;
  readonly #rules: TokenRules;
  readonly #policy: TargetPolicy | null;
  readonly #timeoutMs: number;
  readonly #cache: LookupCache;
  readonly #live = new SessionsByToken();
  readonly #log: Logger;
  readonly #fallback: { host: string; port: number } | null;

  private constructor(resolver: TargetResolver, rules: TokenRules, policy: TargetPolicy | null, timeoutMs: number, cache: LookupCache, log: Logger, fallback: { host: string; port: number } | null) {
    this.#fallback = fallback;
    this.#resolver = resolver;
    this.#rules = rules;
    this.#policy = policy;
    this.#timeoutMs = timeoutMs;
    this.#cache = cache;
    this.#log = log;
  }

  /**
   * `keys`: which record fields name the target (default: connecthost/connectport,
   * host/port). With optional keys, a record that names none gets `fallback`'s.
   */
  static async create(
    ctx: RouteFields,
    opts: { token?: TokenOptions; resolver: ResolverBlock; allow?: string[]; keys?: RecordKeySet; fallback?: { host: string; port: number } },
  ): Promise<TokenTargets> {
    ctx.validate(resolverCommonSchema, opts.resolver, ['resolver']);
    const { type, timeout, cache, ...own } = opts.resolver;
    const factory = await loadResolverFactory(type);
    if (!factory) ctx.invalid(['resolver', 'type'], `unknown resolver type "${type}" (one of: ${RESOLVER_TYPES.join(', ')})`);
    const resolver = await factory({
      baseDir: ctx.baseDir,
      log: ctx.log.child({ store: type }),
      options<T>(schema: FieldsSchema): T {
        ctx.validate(closedObject(schema), own, ['resolver']);
        return own as T;
      },
      invalid: (field, message) => ctx.invalid(['resolver', field], message),
      keys: opts.keys ?? TARGET_KEYS,
    });

    const from = opts.token?.from === undefined ? ['query' as const] : Array.isArray(opts.token.from) ? opts.token.from : [opts.token.from];
    const dotted = type === 'jwt' || from.includes('host');
    let pattern: RegExp;
    try {
      pattern = new RegExp(opts.token?.pattern ?? (dotted ? DOTTED_ALPHABET : ORIGINAL_ALPHABET));
    } catch (e) {
      ctx.invalid(['token', 'pattern'], `not a regular expression: ${(e as Error).message}`);
    }
    const rules: TokenRules = {
      from,
      names: opts.token?.names ?? ['token', 'key'],
      pattern,
      // Self-contained tokens (signed or encrypted claims) are long.
      maxLength: opts.token?.maxLength ?? (type === 'jwt' || type === 'guacamole-lite' ? 8192 : 256),
    };

    let policy: TargetPolicy | null = null;
    if (opts.allow) {
      try {
        policy = new TargetPolicy(opts.allow);
      } catch (e) {
        ctx.invalid('allow', (e as Error).message);
      }
    } else {
      ctx.log.warn({ store: type }, 'no allowlist on this route: every target the store names will be dialed (set `allow:` to restrict)');
    }
    const targets = new TokenTargets(
      resolver,
      rules,
      policy,
      parseSeconds(timeout ?? 5),
      new LookupCache(parseSeconds(cache?.ttl ?? 0), parseSeconds(cache?.negativeTtl ?? 0)),
      ctx.log,
      opts.fallback ?? null,
    );
    // Not awaited: start-up never waits on a store. Until the watch first listens (its
    // "revocations: listening" line), a revocation closes no live session here; lookups
    // refuse a revoked token all the same.
    void resolver.watchRevocations?.((token) => targets.#revoked(token));
    return targets;
  }

  async lookup(c: ClientRequest): Promise<LookupOutcome> {
    const found = findToken(c.url, c.headers, this.#rules);
    if (!found.ok) {
      c.log.info({ carrier: found.carrier, why: found.why }, 'token refused before lookup');
      return { ok: false, status: 403, reason: `token refused (${found.why})` };
    }
    const { token } = found;
    const log = c.log.child({ carrier: found.carrier, token: fingerprint(token) });
    const signal = AbortSignal.any([c.signal, AbortSignal.timeout(this.#timeoutMs)]);
    let answer: LookupAnswer;
    try {
      const cached = this.#cache.get(token);
      if (cached !== undefined) answer = cached;
      else {
        answer = await this.#resolver.resolve(token, signal);
        this.#cache.set(token, answer);
      }
      if (answer?.singleUse && !(await this.#resolver.consume?.(token, signal) ?? true)) answer = refusal('used');
    } catch (e) {
      const why = c.signal.aborted ? 'client left during the lookup' : signal.aborted ? `no answer within ${this.#timeoutMs} ms` : (e as Error).message;
      log.warn({ store: this.#resolver.kind, err: why }, 'token store unavailable');
      if (!(e instanceof StoreError) && !signal.aborted) log.error({ err: e }, 'resolver failed unexpectedly');
      return { ok: false, status: 503, reason: `token store ${this.#resolver.kind} unavailable` };
    }
    if (answer === null || isRefusal(answer)) {
      // The log (and the refusal's line) says which; the client only ever sees 403.
      const reason = answer === null ? 'unknown token' : `token ${answer.refused}`;
      log.info(reason);
      return { ok: false, status: 403, reason };
    }
    let target: ResolvedTarget = answer;
    if (this.#fallback && (target.host === '' || target.port === 0)) {
      target = { ...target, host: target.host || this.#fallback.host, port: target.port || this.#fallback.port };
    }
    if (this.#policy && !this.#policy.allows(target.host, target.port)) {
      log.warn({ target: formatHostPort(target.host, target.port) }, 'target outside the allowlist');
      return { ok: false, status: 403, reason: 'target not allowed' };
    }
    return { ok: true, target, token };
  }

  /** Remembers a live session so that revoking its token closes it. */
  track(token: string, session: Session, revokedReason?: string): void {
    this.#live.add(token, session, revokedReason);
  }

  close(): Promise<void> {
    return this.#resolver.close();
  }

  #revoked(token: string): void {
    this.#cache.forget(token);
    const closed = this.#live.revoke(token);
    this.#log.info({ token: fingerprint(token), sessions: closed }, 'token revoked');
  }
}
