// Opens the backend connection: TCP (with timeout, local bind, keepalive,
// no-delay) or a Unix socket. Failures are classified so the gateway can
// answer the client with the right HTTP status before the 101.
import net from 'node:net';
import { formatHostPort } from '../config/host-port.js';
import { BackendReader } from './backend-reader.js';

export type DialTarget = { host: string; port: number } | { path: string };

export interface DialOptions {
  timeoutMs: number;
  localAddress?: string;
  /** TCP keepalive initial delay; 0 disables it. */
  keepAliveMs: number;
  noDelay: boolean;
  signal?: AbortSignal;
}

export class DialError extends Error {
  override name = 'DialError';
  constructor(
    message: string,
    readonly kind: 'refused' | 'timeout' | 'unreachable' | 'aborted',
    readonly code?: string,
  ) {
    super(message);
  }

  /** The HTTP status to refuse a handshake with. */
  get httpStatus(): number {
    return this.kind === 'timeout' ? 504 : 502;
  }
}

export function describeTarget(target: DialTarget): string {
  if ('path' in target) return `unix:${target.path}`;
  return formatHostPort(target.host, target.port);
}

export interface BackendConnection {
  socket: net.Socket;
  /** Reads the socket (into reused buffers); attach a consumer to start. */
  reader: BackendReader;
  /** An error the socket had after connecting and before anyone else listened (the relay starts only after the 101). */
  readonly earlyError: NodeJS.ErrnoException | null;
}

export function dial(target: DialTarget, opts: DialOptions): Promise<BackendConnection> {
  return new Promise((resolve, reject) => {
    const name = describeTarget(target);
    const reader = new BackendReader();
    const { onread } = reader;
    const socket =
      'path' in target
        ? net.connect({ path: target.path, allowHalfOpen: true, onread })
        : net.connect({ host: target.host, port: target.port, localAddress: opts.localAddress, allowHalfOpen: true, noDelay: opts.noDelay, onread });
    reader.bind(socket);
    const settle = (err: DialError | null) => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      socket.removeListener('connect', onConnect);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) {
        socket.destroy();
        reject(err);
      } else {
        // Until the relay takes over, an error (a reset during the handshake) must not
        // be thrown as an uncaught 'error' event: keep it for the relay to report.
        const connection: { -readonly [K in keyof BackendConnection]: BackendConnection[K] } = { socket, reader, earlyError: null };
        socket.on('error', (e: NodeJS.ErrnoException) => {
          connection.earlyError ??= e;
        });
        resolve(connection);
      }
    };
    const onConnect = () => {
      if (opts.keepAliveMs > 0 && !('path' in target)) socket.setKeepAlive(true, opts.keepAliveMs);
      settle(null);
    };
    const onError = (err: NodeJS.ErrnoException) => {
      const kind = err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'refused' : err.code === 'ETIMEDOUT' ? 'timeout' : 'unreachable';
      settle(new DialError(`cannot connect to ${name}: ${err.code ?? err.message}`, kind, err.code));
    };
    const onAbort = () => settle(new DialError(`connecting to ${name} was abandoned: the client left`, 'aborted'));
    const timer = setTimeout(() => settle(new DialError(`connecting to ${name} timed out after ${opts.timeoutMs} ms`, 'timeout', 'ETIMEDOUT')), opts.timeoutMs);
    socket.once('connect', onConnect);
    socket.once('error', onError);
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
