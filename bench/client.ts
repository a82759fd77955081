// WebSocket client side of the scenarios. Every gateway gets the same offer:
// no subprotocol and no permessage-deflate (websockify 0.10 accepts "no
// subprotocol" and would ignore the compression offer anyway).
import WebSocket, { type ClientOptions } from 'ws';
import { chunks, StreamCheck } from './data.js';
import { nowNs } from './util.js';

/** Starts a connection; listeners can be attached to `ws` before it opens. */
export function connectWs(url: string, options: ClientOptions = {}): { ws: WebSocket; opened: Promise<void> } {
  const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 15_000, ...options });
  // Errors after open (e.g. websockify's close code 1005, which ws rejects as
  // invalid) are reported through 'close'; without a listener they would throw.
  ws.on('error', () => {});
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('close', (code) => reject(new Error(`WebSocket closed before open (${code})`)));
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`handshake rejected: HTTP ${res.statusCode}`));
      ws.terminate();
    });
  });
  opened.catch(() => {}); // callers that never await it must not crash the process
  return { ws, opened };
}

export async function openWs(url: string): Promise<WebSocket> {
  const { ws, opened } = connectWs(url);
  await opened;
  return ws;
}

export interface RecvResult {
  bytes: number;
  /** Every byte as expected (checked as it arrived). */
  intact: boolean;
  firstBad: number | undefined;
  tFull: bigint | undefined;
  /** hrtime of the last message (end of transfer even when bytes went missing). */
  tLast: bigint | undefined;
  closeCode: number;
}

/** Checks every received byte against stream `id` until the gateway closes the session. */
export function receiveAll(ws: WebSocket, id: number, expected: number, size: number): Promise<RecvResult> {
  return new Promise((resolve) => {
    const check = new StreamCheck(id, expected, size);
    let bytes = 0;
    let tFull: bigint | undefined;
    let tLast: bigint | undefined;
    ws.on('message', (d: Buffer) => {
      check.add(d);
      bytes += d.length;
      tLast = nowNs();
      if (bytes >= expected && tFull === undefined) tFull = tLast;
    });
    ws.once('close', (code) => resolve({ bytes, intact: check.intact, firstBad: check.firstBad, tFull, tLast, closeCode: code }));
  });
}

/** Sends stream `id` as binary messages of `size` bytes, keeping ~2 MiB in flight. */
export function sendAll(ws: WebSocket, id: number, total: number, size: number): Promise<void> {
  const maxInflight = Math.max(1, (2 << 20) / size);
  return new Promise((resolve, reject) => {
    const it = chunks(id, total, size);
    let inflight = 0;
    let ended = false;
    const pump = (): void => {
      while (!ended && inflight < maxInflight) {
        const n = it.next();
        if (n.done) {
          ended = true;
          break;
        }
        inflight++;
        ws.send(n.value, { binary: true }, (err) => {
          inflight--;
          if (err) return reject(err);
          if (ended && inflight === 0) resolve();
          else pump();
        });
      }
      if (ended && inflight === 0) resolve();
    };
    ws.once('close', () => reject(new Error('closed while sending')));
    pump();
  });
}

/** Polite close; force it if the gateway never answers the close handshake. */
export function closeWs(ws: WebSocket, graceMs = 5_000): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    const t = setTimeout(() => ws.terminate(), graceMs);
    ws.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    ws.close(1000);
  });
}

/** Resolves with the next `n` bytes received (messages may split or merge). */
export function readBytes(ws: WebSocket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onMsg = (d: Buffer): void => {
      parts.push(d);
      got += d.length;
      if (got >= n) {
        cleanup();
        resolve(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
      }
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('closed while waiting for data'));
    };
    const cleanup = (): void => {
      ws.off('message', onMsg);
      ws.off('close', onClose);
    };
    ws.on('message', onMsg);
    ws.on('close', onClose);
  });
}
