// Checks an upgrade request before any handler work (and so before any
// backend is dialed): a request that `ws` would refuse must never cost a
// backend connection. Mirrors RFC 6455 §4.2.1.

import type { IncomingMessage } from 'node:http';
import * as ws from 'ws';

// `ws` exports its extension parser and permessage-deflate negotiation (untyped in @types/ws).
const { extension, PerMessageDeflate } = ws as unknown as {
  extension: { parse(header: string): Record<string, unknown[]> };
  PerMessageDeflate: new (options: { isServer: boolean }) => { accept(offers: unknown[]): unknown };
};

export interface HandshakeProblem {
  status: number;
  reason: string;
  headers?: Record<string, string>;
}

const KEY = /^[+/0-9A-Za-z]{22}==$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** `perMessageDeflate`: the route's setting; only then does `ws` read (and may refuse) Sec-WebSocket-Extensions. */
export function checkHandshake(req: IncomingMessage, perMessageDeflate = false): HandshakeProblem | null {
  if (req.method !== 'GET') return { status: 405, reason: `method ${req.method} cannot upgrade`, headers: { Allow: 'GET' } };
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return { status: 400, reason: 'Upgrade header is not "websocket"' };
  const key = req.headers['sec-websocket-key'];
  if (!key || !KEY.test(key)) return { status: 400, reason: 'missing or malformed Sec-WebSocket-Key' };
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') {
    return { status: 426, reason: `unsupported Sec-WebSocket-Version ${JSON.stringify(version ?? null)}`, headers: { 'Sec-WebSocket-Version': '13, 8' } };
  }
  if (offeredProtocols(req) === null) return { status: 400, reason: 'malformed Sec-WebSocket-Protocol' };
  if (perMessageDeflate && !deflateOfferAcceptable(req.headers['sec-websocket-extensions'])) {
    return { status: 400, reason: 'malformed or unacceptable Sec-WebSocket-Extensions' };
  }
  return null;
}

/** The negotiation `ws` does after us, done first: an offer it would refuse must not cost a backend connection. */
function deflateOfferAcceptable(header: string | undefined): boolean {
  if (header === undefined) return true;
  try {
    const offers = extension.parse(header)['permessage-deflate'];
    if (offers) new PerMessageDeflate({ isServer: true }).accept(offers);
    return true;
  } catch {
    return false;
  }
}

/** The subprotocols offered, in order; null if the header is malformed or repeats one. */
export function offeredProtocols(req: IncomingMessage): string[] | null {
  const header = req.headers['sec-websocket-protocol'];
  if (header === undefined) return [];
  const list = header.split(',').map((p) => p.trim());
  if (list.some((p) => !TOKEN.test(p)) || new Set(list).size !== list.length) return null;
  return list;
}
