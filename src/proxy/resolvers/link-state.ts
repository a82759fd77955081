// The state of one connection a resolver keeps to its store (a lookup pool,
// a Redis client, a revocation LISTEN or subscriber), logged once per change
// of state and never once per attempt: a store that stays down for a day
// while its client retries with backoff leaves one warning, not thousands.
// The attempts themselves are debug lines.
import type { Logger } from '../../observability/logger.js';

export interface LinkMessages {
  /** The first success. */
  up: string;
  /** Success after a failure. */
  upAgain: string;
  /** The first attempt failed (the store was never reached). */
  neverUp: string;
  /** A connection that worked has failed. */
  lost: string;
  /** Another attempt is due (debug level). */
  retry: string;
}

/** What lookup connections (pools, the Redis client) say. */
export const LOOKUP_MESSAGES: LinkMessages = {
  up: 'store connected',
  upAgain: 'store reachable again',
  neverUp: 'store unreachable; lookups answer 503 until it is back',
  lost: 'store connection lost; lookups answer 503 until it is back',
  retry: 'store: reconnecting',
};

/** What a revocation watch (PostgreSQL LISTEN, Redis subscriber) says; it reconnects by itself. */
export const REVOCATION_MESSAGES: LinkMessages = {
  up: 'revocations: listening',
  upAgain: 'revocations: listening again',
  neverUp: 'revocations: cannot listen yet; retrying in the background',
  lost: 'revocations: connection lost; reconnecting',
  retry: 'revocations: reconnecting',
};

export class LinkState {
  readonly #log: Logger;
  readonly #fields: Record<string, unknown>;
  readonly #messages: LinkMessages;
  #state: 'new' | 'up' | 'down' | 'stopped' = 'new';

  /** `fields` go on every line (where the store is: never a URL, it may hold a password). */
  constructor(log: Logger, fields: Record<string, unknown>, messages: LinkMessages) {
    this.#log = log;
    this.#fields = fields;
    this.#messages = messages;
  }

  get isUp(): boolean {
    return this.#state === 'up';
  }

  up(): void {
    if (this.#state === 'up' || this.#state === 'stopped') return;
    this.#log.info(this.#fields, this.#state === 'new' ? this.#messages.up : this.#messages.upAgain);
    this.#state = 'up';
  }

  down(err: string): void {
    if (this.#state === 'down' || this.#state === 'stopped') return;
    this.#log.warn({ ...this.#fields, err }, this.#state === 'new' ? this.#messages.neverUp : this.#messages.lost);
    this.#state = 'down';
  }

  /** One more attempt is due in `delayMs` (debug level: the state has not changed). */
  retrying(delayMs: number, attempt: number): void {
    if (this.#state !== 'stopped') this.#log.debug({ ...this.#fields, delayMs, attempt }, this.#messages.retry);
  }

  /** Closed on purpose: what happens to the connection from now on is not news. */
  stop(): void {
    this.#state = 'stopped';
  }
}
