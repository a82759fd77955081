// Clients of a gateway: WebSocket connections (open, refused, closed) and raw HTTP requests.
import net from 'node:net';
import { once } from 'node:events';
import { WebSocket, type ClientOptions } from 'ws';

/**
 * Opens a client and resolves once it is open (rejects on an HTTP refusal, with the status in the message).
 * Messages the server sends at once may be emitted before the caller attaches a listener: for
 * such routes, create the WebSocket yourself and listen before 'open'.
 */
export async function connect(url: string, protocols?: string | string[], options: ClientOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, options);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
      res.resume();
      ws.terminate();
    });
    ws.once('error', reject);
  });
  return ws;
}

/** The HTTP status a handshake is refused with (or 101 if it is accepted, after which the socket is closed). */
export async function handshakeStatus(url: string, protocols?: string | string[], options: ClientOptions = {}): Promise<number> {
  try {
    const ws = await connect(url, protocols, options);
    ws.terminate();
    return 101;
  } catch (e) {
    const status = (e as { status?: number }).status;
    if (status === undefined) throw e;
    return status;
  }
}

/** Resolves with the close code and reason the client sees. */
export function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve({ code: -1, reason: 'already closed' });
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** Sends a raw HTTP request over TCP and returns the whole response text (the server closes). */
export async function rawRequest(port: number, text: string | Buffer, timeoutMs = 5000): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const chunks: Buffer[] = [];
  socket.on('data', (c) => chunks.push(c));
  socket.write(text);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([once(socket, 'close'), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
  clearTimeout(timer);
  socket.destroy();
  return Buffer.concat(chunks).toString('latin1');
}
