// Checks an upgrade request before any handler work (and so before any
// backend is dialed): a request that `ws` would refuse must never cost a
// backend connection. Mirrors RFC 6455 §4.2.1.

import type { IncomingMessage } from 'node:http';

export interface HandshakeProblem {
  status: number;
  reason: string;
  headers?: Record<string, string>;
}

const KEY = /^[+/0-9A-Za-z]{22}==$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function checkHandshake(req: IncomingMessage): HandshakeProblem | null {
  if (req.method !== 'GET') return { status: 405, reason: `method ${req.method} cannot upgrade`, headers: { Allow: 'GET' } };
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return { status: 400, reason: 'Upgrade header is not "websocket"' };
  const key = req.headers['sec-websocket-key'];
  if (!key || !KEY.test(key)) return { status: 400, reason: 'missing or malformed Sec-WebSocket-Key' };
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') {
    return { status: 426, reason: `unsupported Sec-WebSocket-Version ${JSON.stringify(version ?? null)}`, headers: { 'Sec-WebSocket-Version': '13, 8' } };
  }
  if (offeredProtocols(req) === null) return { status: 400, reason: 'malformed Sec-WebSocket-Protocol' };
  return null;
}

/** The subprotocols offered, in order; null if the header is malformed or repeats one. */
export function offeredProtocols(req: IncomingMessage): string[] | null {
  const header = req.headers['sec-websocket-protocol'];
  if (header === undefined) return [];
  const list = header.split(',').map((p) => p.trim());
  if (list.some((p) => !TOKEN.test(p)) || new Set(list).size !== list.length) return null;
  return list;
}
