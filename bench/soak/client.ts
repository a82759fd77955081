// The client side of one soak session: opens the WebSocket from the
// session's own loopback address, sends its id and its stream, checks the
// backend's stream as it arrives, and plays the client's part of the fault.
import type net from 'node:net';
import WebSocket from 'ws';
import { between, header, prng, PrefixCheck, slice } from './streams.js';
import { clientAddress, type SessionPlan } from './plan.js';

export interface ClientResult {
  opened: boolean;
  /** The HTTP status of a refused handshake. */
  httpStatus: number | undefined;
  /** The close code the client saw (1006 when the connection dropped without a close frame). */
  closeCode: number | undefined;
  /** The backend's stream as received. */
  down: PrefixCheck;
  /** Bytes of the client's stream written to the socket. */
  upSent: number;
  /** The session did not end within the session timeout (the client then terminated it). */
  timedOut: boolean;
  error: string | undefined;
  /** Date.now() when the client called close() or reset (0 if it did neither), for reports. */
  closingAt: number;
  openedAt: number;
  /** Date.now() when the client started connecting and when its WebSocket closed. */
  startedAt: number;
  endedAt: number;
}

export interface ClientOptions {
  /** The gateway's close timeout: a stalled client stops reading for longer than this. */
  closeTimeoutMs: number;
  /** A session still going after this long is a failure (it is then terminated). */
  sessionTimeoutMs: number;
}

/** Messages in flight while sending (each at most 64 KiB). */
const MAX_IN_FLIGHT = 8;

/** How long a stalled client does not read: the backend's trickle (1-3 s) plus the close timeout, and a margin. */
export const stallMs = (closeTimeoutMs: number): number => closeTimeoutMs + 6000;

export function pathFor(plan: SessionPlan): string {
  if (plan.fault === 'backend-refused') return '/dead';
  if (plan.fault === 'backend-hang') return '/hang';
  return `/soak/${plan.id}`;
}

export function runSession(baseUrl: string, plan: SessionPlan, o: ClientOptions): Promise<ClientResult> {
  const rand = prng(plan.seed ^ 0xc11e);
  const r: ClientResult = { opened: false, httpStatus: undefined, closeCode: undefined, down: new PrefixCheck(plan.id, 'down', plan.down), upSent: 0, timedOut: false, error: undefined, closingAt: 0, openedAt: 0, startedAt: Date.now(), endedAt: 0 };
  const ws = new WebSocket(`${baseUrl}${pathFor(plan)}`, ['binary'], {
    perMessageDeflate: false,
    localAddress: clientAddress(plan.id),
    handshakeTimeout: o.sessionTimeoutMs,
  });
  let socket: net.Socket | undefined;
  ws.on('upgrade', (res) => (socket = res.socket as net.Socket));
  ws.on('error', (e) => (r.error ??= e.message));
  ws.on('unexpected-response', (_req, res) => {
    r.httpStatus = res.statusCode;
    res.resume();
    ws.terminate();
  });

  return new Promise<ClientResult>((resolve) => {
    const timer = setTimeout(() => {
      r.timedOut = true;
      ws.terminate();
    }, o.sessionTimeoutMs);
    ws.on('close', (code) => {
      clearTimeout(timer);
      r.endedAt = Date.now();
      r.closeCode = r.opened ? code : undefined;
      resolve(r);
    });
    ws.on('message', (d: Buffer) => {
      r.down.add(d);
      if (!r.down.correct) ws.terminate(); // broken already; no need to wait for more
      else maybeClose();
    });

    // The part of the client's stream this session sends, and what happens once it is out.
    const upLimit = plan.fault === 'client-reset' ? plan.faultAt : plan.up;
    let queued = 0;
    let inFlight = 0;
    let failed = false;
    const sentAll = (): boolean => queued === upLimit && inFlight === 0 && !failed;
    const maybeClose = (): void => {
      if (ws.readyState !== WebSocket.OPEN) return;
      if (plan.fault === 'none' && sentAll() && r.down.complete) {
        r.closingAt = Date.now();
        ws.close(1000);
      }
    };
    const afterSending = (): void => {
      if (plan.fault === 'client-close-after-sending') {
        r.closingAt = Date.now();
        ws.close(1000);
      } else if (plan.fault === 'client-reset') {
        setTimeout(() => {
          r.closingAt = Date.now();
          socket?.resetAndDestroy();
        }, between(rand, 0, 5));
      } else maybeClose();
    };
    const pump = (): void => {
      while (queued < upLimit && inFlight < MAX_IN_FLIGHT && ws.readyState === WebSocket.OPEN) {
        const n = Math.min(upLimit - queued, between(rand, 1, 64 * 1024));
        const chunk = slice(plan.id, 'up', queued, n);
        queued += n;
        inFlight++;
        ws.send(chunk, { binary: true }, (err) => {
          inFlight--;
          if (err) failed = true;
          if (failed) return;
          r.upSent += n;
          if (sentAll()) afterSending();
          else pump();
        });
      }
    };

    ws.on('open', () => {
      r.opened = true;
      r.openedAt = Date.now();
      if (plan.fault === 'client-stall') {
        // Long enough for the backend's whole stream to reach the gateway and a close timeout to run out after it.
        ws.pause();
        setTimeout(() => ws.resume(), stallMs(o.closeTimeoutMs));
      }
      ws.send(header(plan.id), { binary: true });
      if (upLimit === 0) afterSending();
      else pump();
    });
  });
}
