// Target resolvers: turn the token a client presents into the backend its
// session goes to. One resolver instance serves a route for the gateway's
// lifetime (pools and clients are created once, not per lookup).
import type { FieldsSchema } from '../../config/validate.js';
import type { Logger } from '../../observability/logger.js';
import type { RecordKeySet } from './record.js';

/** Where a token says a session goes, and what else the store said about it. */
export interface ResolvedTarget {
  host: string;
  port: number;
  /**
   * Every other non-null field the store returned (SQL columns, JWT claims,
   * JSON fields), as strings, in the store's order. Handlers and the cluster
   * handshake read them.
   */
  params: Record<string, string>;
  /** The token may be used by one session only (checked with consume()). */
  singleUse?: boolean;
}

/** Why a store refuses a token it knows. The client gets 403 whatever it is; the log says which. */
export type RefusalReason = 'expired' | 'used' | 'revoked';

/** A refusal names no target: its target fields are typed absent, so `answer?.host` reads undefined as for null. */
export interface Refusal {
  refused: RefusalReason;
  host?: never;
  port?: never;
  params?: never;
  singleUse?: never;
}

export const refusal = (refused: RefusalReason): Refusal => ({ refused });

/** What a lookup comes to: a target, a refusal, or null for a token the store does not know. */
export type LookupAnswer = ResolvedTarget | Refusal | null;

export const isRefusal = (answer: LookupAnswer): answer is Refusal => answer !== null && 'refused' in answer;

export interface TargetResolver {
  /** For logs and errors: "sqlite", "postgres", "mysql", "redis", "file", "jwt", "http", "static". */
  readonly kind: string;
  /**
   * Looks a token up. Resolves a Refusal for a token the store knows but
   * refuses (expired, used, revoked), null for one it does not know (the
   * client gets 403 for both); rejects when the store cannot answer (503).
   * `signal` aborts when the lookup timeout passes or the client leaves.
   */
  resolve(token: string, signal: AbortSignal): Promise<LookupAnswer>;
  /**
   * Marks a single-use token as used, atomically in the store (so a second
   * gateway sharing the store sees it). Resolves false if it was used already.
   */
  consume?(token: string, signal: AbortSignal): Promise<boolean>;
  /**
   * Calls `onRevoke(token)` whenever any gateway revokes a token in this
   * store, from now until close(). The watch connects in the background and
   * reconnects with backoff, logging each change of its state; the promise
   * resolves the first time it listens and never rejects. Start-up does not
   * wait for it (a store that is down or hung must not keep the gateway from
   * listening); tests may.
   */
  watchRevocations?(onRevoke: (token: string) => void): Promise<void>;
  /** Releases pools, clients and watchers. */
  close(): Promise<void>;
}

/** Thrown by a resolver when its store is unreachable or misbehaves; the client gets 503. */
export class StoreError extends Error {
  override name = 'StoreError';
  constructor(
    readonly store: string,
    message: string,
  ) {
    super(`${store}: ${message}`);
  }
}

/** What a resolver factory gets besides its own config block. */
export interface ResolverEnv {
  /** Folder that relative paths in the config are resolved against. */
  baseDir: string;
  log: Logger;
  /**
   * The resolver's own fields (everything in its `resolver:` block except
   * type, timeout and cache), checked against a JSON Schema; unknown fields
   * are refused. Errors name routes[i].resolver.<field> and its line.
   */
  options<T>(schema: FieldsSchema): T;
  /** Throws a ConfigError naming routes[i].resolver.<field>. */
  invalid(field: string, message: string): never;
  /** Which fields of a record name the target (TARGET_KEYS unless the handler reads settings). */
  keys: RecordKeySet;
}

/**
 * Builds a resolver from its route config, once at startup. It must neither
 * fail nor wait because a store is down or hung (the gateway starts anyway
 * and answers 503 until the store is back): connect lazily or in the
 * background, fail on bad configuration only.
 */
export type ResolverFactory = (env: ResolverEnv) => TargetResolver | Promise<TargetResolver>;
