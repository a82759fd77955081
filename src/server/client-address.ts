// Who is connecting, as the gateway should see it: the one place that
// decides a request's client address and the scheme it was addressed with.
// Today that is the TCP peer and whether the socket is TLS; behind a trusted
// proxy (PROXY protocol, X-Forwarded-For) this is where the real client is
// read instead, so every limit, log line and policy follows.
import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';

/** The client's IP address ("?" if the socket is already gone). */
export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? '?';
}

/** The client's port (0 if the socket is already gone). */
export function clientPort(req: IncomingMessage): number {
  return req.socket.remotePort ?? 0;
}

/** The scheme the client used to reach the gateway, as an Origin writes it. */
export function requestScheme(req: IncomingMessage): 'http:' | 'https:' {
  return req.socket instanceof TLSSocket ? 'https:' : 'http:';
}
