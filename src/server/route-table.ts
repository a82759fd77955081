// Routes ready to serve: each with its handler and its own `ws` server
// (noServer mode), since message size and compression are per route.
import { WebSocketServer, type WebSocket } from 'ws';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RouteConfig } from '../config/types.js';
import type { Handler } from '../handlers/types.js';
import { loggedPath } from './logged-path.js';
import type { RoutePolicy } from './policy/route-policy.js';

/** What connect() decided for a request: the 101 carries exactly this subprotocol and these headers. */
export interface Decision {
  protocol?: string;
  /** Whole header lines ("Name: value"). */
  headers: string[];
}

export class ServedRoute {
  readonly config: RouteConfig;
  readonly handler: Handler<unknown>;
  /** Origin, authentication, limits and the refusal mode. */
  readonly policy: RoutePolicy;
  readonly #wss: WebSocketServer;
  /**
   * The upgrade that upgrade() is completing. `ws` asks for the protocol and
   * the headers while it writes the 101, from within handleUpgrade() (it
   * defers only for a verifyClient, and there is none), so the decision is
   * held just for that call.
   */
  #completing: { req: IncomingMessage; decision: Decision } | null = null;
  /** Upgrades in progress and sessions open on this route: a retired route's handler shuts down when none is left. */
  #inUse = 0;
  #idle: (() => void) | null = null;

  constructor(config: RouteConfig, handler: Handler<unknown>, policy: RoutePolicy) {
    this.config = config;
    this.handler = handler;
    this.policy = policy;
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.maxMessageSize,
      perMessageDeflate: config.perMessageDeflate,
      clientTracking: false, // the SessionRegistry tracks sessions
      handleProtocols: (_offered, req) => this.#decisionFor(req).protocol ?? false,
    });
    this.#wss.on('headers', (headers, req) => headers.push(...this.#decisionFor(req).headers));
  }

  /**
   * Writes the 101 with `decision`'s subprotocol and headers and calls
   * `opened` with the WebSocket. If `ws` refuses the handshake after all, it
   * answers or closes the socket and `opened` is never called.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, decision: Decision, opened: (ws: WebSocket) => void): void {
    this.#completing = { req, decision };
    try {
      this.#wss.handleUpgrade(req, socket, head, opened);
    } finally {
      this.#completing = null;
    }
  }

  /** Counts one upgrade (then its session) against this route; the returned release is idempotent. */
  hold(): () => void {
    this.#inUse++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (--this.#inUse === 0) this.#idle?.();
    };
  }

  /** Resolves once nothing holds this route (a reload removed or replaced it; no new upgrade will find it). */
  retired(): Promise<void> {
    if (this.#inUse === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }

  get inUse(): number {
    return this.#inUse;
  }

  #decisionFor(req: IncomingMessage): Decision {
    if (this.#completing?.req !== req) throw new Error(`route ${this.config.path}: ws asked for a handshake decision outside upgrade()`);
    return this.#completing.decision;
  }
}

export class RouteTable {
  readonly #exact = new Map<string, ServedRoute>();
  #catchAll: ServedRoute | null = null;

  constructor(routes: ServedRoute[]) {
    for (const r of routes) {
      if (r.config.path === '*') this.#catchAll = r;
      else this.#exact.set(r.config.path, r);
    }
  }

  /** Exact paths win over the catch-all "*". */
  match(pathname: string): ServedRoute | null {
    return this.#exact.get(pathname) ?? this.#catchAll;
  }

  /** `pathname` as log lines may show it: no more of it than a configured path (see logged-path.ts). */
  loggedPath(pathname: string): string {
    return loggedPath(pathname, (path) => this.#exact.has(path));
  }

  get all(): ServedRoute[] {
    return [...this.#exact.values(), ...(this.#catchAll ? [this.#catchAll] : [])];
  }
}
