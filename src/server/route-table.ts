// Routes ready to serve: each with its handler and its own `ws` server
// (noServer mode), since message size and compression are per route.
import { WebSocketServer } from 'ws';
import type { IncomingMessage } from 'node:http';
import type { RouteConfig } from '../config/types.js';
import type { Handler } from '../handlers/types.js';

export interface ServedRoute {
  config: RouteConfig;
  handler: Handler<unknown>;
  wss: WebSocketServer;
}

/** What connect() decided for a request, read back by `ws` while it writes the 101. */
export interface Decision {
  protocol?: string;
  headers: string[];
}

export const decisions = new WeakMap<IncomingMessage, Decision>();

export function serveRoute(config: RouteConfig, handler: Handler<unknown>): ServedRoute {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.maxMessageSize,
    perMessageDeflate: config.perMessageDeflate,
    clientTracking: false, // the SessionRegistry tracks sessions
    handleProtocols: (_offered, req) => decisions.get(req)?.protocol ?? false,
  });
  wss.on('headers', (headers, req) => {
    const extra = decisions.get(req)?.headers;
    if (extra) headers.push(...extra);
  });
  return { config, handler, wss };
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

  get all(): ServedRoute[] {
    return [...this.#exact.values(), ...(this.#catchAll ? [this.#catchAll] : [])];
  }
}
