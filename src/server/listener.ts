// The HTTP server of one listen address: plain, or TLS when a certificate
// is configured.
//
// Decision: with a certificate the port speaks TLS only. websockify also
// accepts plain connections on the same port unless --ssl-only is given;
// that needs peeking at the first byte, which Node's HTTP server (it
// consumes the socket handle directly) does not allow cleanly. Listen on a
// second address for plain clients instead; --ssl-only is accepted as is.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import type { ListenAddress, TlsConfig } from '../config/types.js';
import { ConfigError } from '../config/errors.js';
import type { Logger } from '../observability/logger.js';

/**
 * Listens on `addr`, or on the listening socket `fd` (socket activation: systemd holds the port);
 * rejects if that fails (port in use, address not available, not a socket).
 */
export function listenOn(server: Server, addr: ListenAddress, fd?: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(fd === undefined ? { host: addr.host, port: addr.port } : { fd }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}

/** How a listener bounds requests (from GatewayConfig). */
export interface RequestBounds {
  handshakeTimeout: number;
  maxHeaderSize: number;
}

export function createListener(tls: TlsConfig | undefined, bounds: RequestBounds, log: Logger): http.Server {
  const options: http.ServerOptions = {
    noDelay: true,
    maxHeaderSize: bounds.maxHeaderSize,
    // Node checks its request timers on this interval (default 30 s, which let a
    // 10 s timeout run to 40 s); one pass over the waiting connections is cheap.
    connectionsCheckingInterval: Math.min(1000, bounds.handshakeTimeout),
  };
  const bound = (server: http.Server): http.Server => {
    server.headersTimeout = bounds.handshakeTimeout;
    server.requestTimeout = bounds.handshakeTimeout;
    return server;
  };
  if (!tls) return bound(http.createServer(options));
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new ConfigError(`tls.${what}: cannot read ${file}: ${(e as Error).message}`);
    }
  };
  const server = https.createServer({ ...options, cert: read(tls.cert, 'cert'), key: read(tls.key, 'key'), handshakeTimeout: bounds.handshakeTimeout });
  server.on('tlsClientError', (err, socket) => log.info({ remote: socket.remoteAddress, err: err.message }, 'TLS handshake failed'));
  return bound(server as unknown as http.Server);
}
