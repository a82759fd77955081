// How a route tells a client that it is refused (`refuse:`):
//  - http: an HTTP status before the 101 (what curl, scripts and proxies read);
//  - close: the 101, then at once a close frame with a code and a short
//    reason, because a browser's page never sees an HTTP status: a refused
//    handshake is a bare 1006 to it, while a close frame's code and reason
//    reach its `close` event;
//  - auto (the default): close for requests with an Origin header (browsers),
//    http for the others.
// Either way the refusal is decided before any backend is dialed (and no
// handler session opens for a close), and it is logged and counted by its
// HTTP status. Only refusals that carry a close kind can become a close:
// Origin and authentication refusals, bad handshakes and unknown paths are
// always HTTP, so a cross-site page learns nothing.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RefuseMode } from '../../config/types.js';
import type { ServedRoute } from '../route-table.js';
import { offeredProtocols } from '../handshake.js';
import { requestOrigin } from './origin.js';
import { GuacamoleStatus, statusReason, webSocketCodeOf } from '../../proxy/guacamole/status.js';

/** What a refusal means to a person, when told in a close frame. */
export type CloseKind = 'busy' | 'token' | 'backend' | 'backend-timeout' | 'unavailable' | 'internal';

export interface Refusal {
  status: number;
  /** For the log; the client sees only the status (or the close kind's text). */
  reason: string;
  headers?: Record<string, string>;
  /** More fields for the log line (the origin, the user, a token's fingerprint). */
  fields?: Record<string, unknown>;
  /** How a close-mode route tells it; absent: always an HTTP status. */
  close?: CloseKind;
  /** Log at debug: a repeat of a refusal already logged once (a locked-out address). */
  quiet?: boolean;
}

/**
 * The close frame of each kind. Guacamole's web client reads a close reason
 * as a decimal Guacamole status, so on the `guacamole` subprotocol the
 * reason is that status, with the close code Guacamole pairs with it
 * (src/proxy/guacamole/status.ts).
 */
const CLOSE_FRAMES: Record<CloseKind, { code: number; text: string; guacamole: number }> = {
  busy: { code: 1013, text: 'too many sessions', guacamole: GuacamoleStatus.CLIENT_TOO_MANY },
  token: { code: 1008, text: 'unknown or expired token', guacamole: GuacamoleStatus.CLIENT_UNAUTHORIZED },
  backend: { code: 1011, text: 'backend unreachable', guacamole: GuacamoleStatus.UPSTREAM_NOT_FOUND },
  'backend-timeout': { code: 1011, text: 'backend unreachable', guacamole: GuacamoleStatus.UPSTREAM_TIMEOUT },
  unavailable: { code: 1013, text: 'try again later', guacamole: GuacamoleStatus.UPSTREAM_UNAVAILABLE },
  internal: { code: 1011, text: 'internal error', guacamole: GuacamoleStatus.SERVER_ERROR },
};

/** A handler's refusal carries only a status: what it means told in a close frame (400 and the like stay HTTP). */
export function closeKindOf(status: number): CloseKind | undefined {
  switch (status) {
    case 403: return 'token';
    case 429: return 'busy';
    case 500: return 'internal';
    case 502: return 'backend';
    case 503: return 'unavailable';
    case 504: return 'backend-timeout';
    default: return undefined;
  }
}

export interface CloseFrame {
  code: number;
  reason: string;
  /** The subprotocol the 101 names (a browser fails a handshake that names none of those it offered). */
  protocol: string | undefined;
}

/** The close frame `refusal` is told with on a route in `mode`; null for an HTTP answer. */
export function closeFrameFor(mode: RefuseMode, refusal: Refusal, req: IncomingMessage): CloseFrame | null {
  if (!refusal.close || mode === 'http' || (mode === 'auto' && requestOrigin(req) === undefined)) return null;
  const offered = offeredProtocols(req) ?? [];
  const protocol = offered.includes('guacamole') ? 'guacamole' : offered[0];
  const frame = CLOSE_FRAMES[refusal.close];
  if (protocol === 'guacamole') return { code: webSocketCodeOf(frame.guacamole), reason: statusReason(frame.guacamole), protocol };
  return { code: frame.code, reason: frame.text, protocol };
}

/**
 * Completes the handshake only to close it at once: no handler, no Session,
 * no registry entry, no backend. A client that does not answer the close is
 * dropped after the route's closeTimeout.
 */
export function closeAfterHandshake(route: ServedRoute, req: IncomingMessage, socket: Duplex, head: Buffer, frame: CloseFrame): void {
  route.upgrade(req, socket, head, { protocol: frame.protocol, headers: [] }, (ws) => {
    ws.on('error', () => {}); // a client's protocol error: `ws` closes the socket itself
    const timer = setTimeout(() => ws.terminate(), route.config.closeTimeout);
    ws.once('close', () => clearTimeout(timer));
    ws.close(frame.code, frame.reason);
  });
}
