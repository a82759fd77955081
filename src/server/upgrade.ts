// One upgrade request, from the raw HTTP request to an open Session:
// route -> handshake check -> admission -> handler.connect (may dial the
// backend) -> refusal with an HTTP status, or the 101 and the handler
// runtime (src/handlers/runtime.ts), which owns the session from there.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../observability/logger.js';
import type { SessionRegistry } from '../observability/session-registry.js';
import type { ConnectContext, ConnectResult } from '../handlers/types.js';
import { abandonSession, runSession } from '../handlers/runtime.js';
import { checkHandshake, offeredProtocols } from './handshake.js';
import { refuseUpgrade } from './http-answers.js';
import type { RouteTable, ServedRoute } from './route-table.js';
import type { Admission } from './admission.js';
import type { GatewayMetrics } from '../observability/metrics.js';

export interface UpgradeEnv {
  routes: RouteTable;
  registry: SessionRegistry;
  log: Logger;
  /** True once the gateway is stopping: new sessions are refused with 503. */
  stopping: () => boolean;
  /** The session limit (maxSessions), here or across workers. */
  admission: Admission;
  /** Counts refusals by status (--metrics-path); null when metrics are off. */
  metrics: GatewayMetrics | null;
}

export async function handleUpgrade(env: UpgradeEnv, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const remoteAddress = req.socket.remoteAddress ?? '?';
  const remotePort = req.socket.remotePort ?? 0;
  const url = requestUrl(req.url);
  // The query is never logged, and of the path only what a configured path accounts for: a client may put a token in it.
  const logPath = url ? env.routes.loggedPath(url.pathname) : undefined;
  const log = env.log.child({ remote: remoteAddress, path: logPath });
  const onSocketError = (err: Error) => log.debug({ err: err.message }, 'client socket error during handshake');
  socket.on('error', onSocketError);
  const refuse = (status: number, reason: string, headers?: Record<string, string>) => {
    log.info({ status, reason }, 'handshake refused');
    env.metrics?.refused(status);
    refuseUpgrade(socket, status, headers);
  };
  if (!url) return refuse(400, 'request target is not an absolute path');

  const route = env.routes.match(url.pathname);
  if (!route) return refuse(404, 'no route for this path');
  if (env.stopping()) return refuse(503, 'gateway is stopping');
  const problem = checkHandshake(req, route.config.perMessageDeflate);
  if (problem) return refuse(problem.status, problem.reason, problem.headers);

  // Held from here, so that a reload that retires the route shuts its handler down only after this upgrade and its session.
  const releaseRoute = route.hold();
  let admitted: boolean;
  try {
    admitted = await env.admission.admit();
  } catch (err) {
    releaseRoute();
    throw err;
  }
  if (!admitted) {
    releaseRoute();
    return refuse(503, 'session limit reached', { 'Retry-After': '5' });
  }
  const giveBackSlot = slotReleaser(env.admission, releaseRoute);
  try {
    // The client left while the slot was being granted (an IPC round trip under --workers).
    if (socket.destroyed) return giveBackSlot();
    await connectAndOpen(env, req, socket, head, { url, logPath: logPath!, route, log, refuse, remoteAddress, remotePort, giveBackSlot });
  } catch (err) {
    giveBackSlot();
    throw err;
  } finally {
    // Handshake over: `ws` handles the socket's errors from here, and this closure must not keep the request alive.
    socket.removeListener('error', onSocketError);
  }
}

/**
 * An idempotent "give the slot back", made here rather than inline so the
 * closure a session keeps until it ends holds only the admission, not the
 * request (URL, headers, loggers): that is memory per idle session.
 */
function slotReleaser(admission: Admission, releaseRoute: () => void): () => void {
  let held = true;
  return () => {
    if (held) admission.leave();
    held = false;
    releaseRoute();
  };
}

interface Pending {
  url: URL;
  /** The path as log lines show it. */
  logPath: string;
  route: ServedRoute;
  log: Logger;
  refuse: (status: number, reason: string, headers?: Record<string, string>) => void;
  remoteAddress: string;
  remotePort: number;
  /** Frees the session-limit slot and the hold on the route; idempotent. */
  giveBackSlot: () => void;
}

/** handler.connect, then the 101 and a Session, or a refusal; the slot is given back unless a session opened (then when it ends). */
async function connectAndOpen(env: UpgradeEnv, req: IncomingMessage, socket: Duplex, head: Buffer, p: Pending): Promise<void> {
  const { url, logPath, route, log, remoteAddress, remotePort, giveBackSlot } = p;
  const refuse = (status: number, reason: string) => {
    giveBackSlot();
    p.refuse(status, reason);
  };
  const offered = offeredProtocols(req)!;
  const responseHeaders: string[] = [];
  const gone = new AbortController();
  const onGone = () => gone.abort();
  socket.once('close', onGone);
  const ctx: ConnectContext = {
    url,
    headers: req.headers,
    remoteAddress,
    remotePort,
    offeredProtocols: offered,
    route: route.config,
    log,
    signal: gone.signal,
    setResponseHeader: (name, value) => {
      if (/[\r\n]/.test(name + value)) throw new Error('response header contains a line break');
      responseHeaders.push(`${name}: ${value}`);
    },
  };

  let result: ConnectResult<unknown>;
  try {
    result = await route.handler.connect(ctx);
  } catch (err) {
    log.error({ err }, 'handler connect() failed');
    return refuse(500, 'handler error');
  } finally {
    socket.removeListener('close', onGone);
  }
  if (!result.accept) return refuse(result.status, result.reason);
  const { state, protocol, target, params } = result;
  if (socket.destroyed || env.stopping()) {
    abandonSession(route.handler, state, log);
    giveBackSlot();
    if (!socket.destroyed) refuse(503, 'gateway is stopping');
    return;
  }
  if (protocol !== undefined && !offered.includes(protocol)) {
    abandonSession(route.handler, state, log);
    log.error({ protocol }, 'handler chose a subprotocol the client did not offer');
    return refuse(500, 'handler error');
  }

  // If `ws` refuses the handshake after all, it closes the socket without calling back.
  // (Removed once the session opens: from then on the session's close gives the slot back.)
  const onCloseBeforeOpen = () => {
    abandonSession(route.handler, state, log);
    giveBackSlot();
  };
  socket.once('close', onCloseBeforeOpen);
  route.upgrade(req, socket, head, { protocol, headers: responseHeaders }, (ws) => {
    socket.removeListener('close', onCloseBeforeOpen);
    // From here the runtime owns the session; the slot goes back once it has ended.
    runSession(env, route.config, route.handler, ws, { remoteAddress, path: url.pathname, logPath, protocol: protocol ?? '', target: target ?? '', params: params ?? {} }, state, giveBackSlot);
  });
}

/** The request target as a URL; null unless it is an origin-form path ("/a?b"). */
export function requestUrl(target: string | undefined): URL | null {
  if (!target?.startsWith('/')) return null;
  try {
    return new URL(`http://gateway.invalid${target}`);
  } catch {
    return null;
  }
}
