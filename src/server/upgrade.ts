// One upgrade request, from the raw HTTP request to an open Session:
// route -> handshake check -> the route's policy (origin, auth, limits:
// src/server/policy/) -> admission -> handler.connect (may dial the
// backend) -> refusal (an HTTP status, or on a close-mode route a close
// frame right after the 101: policy/refusal.ts), or the 101 and the handler
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
import { clientAddress, clientPort } from './client-address.js';
import { closeAfterHandshake, closeFrameFor, closeKindOf, type Refusal } from './policy/refusal.js';
import type { Identity } from './policy/auth.js';

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
  const remoteAddress = clientAddress(req);
  const remotePort = clientPort(req);
  const url = requestUrl(req.url);
  // The query is never logged, and of the path only what a configured path accounts for: a client may put a token in it.
  const logPath = url ? env.routes.loggedPath(url.pathname) : undefined;
  const log = env.log.child({ remote: remoteAddress, path: logPath });
  const onSocketError = (err: Error) => log.debug({ err: err.message }, 'client socket error during handshake');
  socket.on('error', onSocketError);
  // Once the route is known its refusal mode applies (a close frame instead of the status, for some refusals).
  let route: ServedRoute | null = null;
  const refuse = (r: Refusal) => {
    const frame = route && !socket.destroyed ? closeFrameFor(route.policy.refuse, r, req) : null;
    log[r.quiet ? 'debug' : 'info']({ status: r.status, reason: r.reason, ...r.fields, ...(frame ? { closeCode: frame.code } : {}) }, 'handshake refused');
    env.metrics?.refused(r.status);
    if (frame) closeAfterHandshake(route!, req, socket, head, frame);
    else refuseUpgrade(socket, r.status, r.headers);
  };
  if (!url) return refuse({ status: 400, reason: 'request target is not an absolute path' });

  const matched = env.routes.match(url.pathname);
  if (!matched) return refuse({ status: 404, reason: 'no route for this path' });
  if (env.stopping()) return refuse({ status: 503, reason: 'gateway is stopping' });
  const problem = checkHandshake(req, matched.config.perMessageDeflate);
  if (problem) return refuse(problem);
  route = matched;

  // Held from here, so that a reload that retires the route shuts its handler down only after this upgrade and its session.
  const releaseRoute = route.hold();
  let verdict: Awaited<ReturnType<typeof route.policy.admit>>;
  try {
    verdict = await route.policy.admit(req, remoteAddress, log);
  } catch (err) {
    releaseRoute();
    throw err;
  }
  if (!verdict.ok) {
    releaseRoute();
    return refuse(verdict.refusal);
  }
  const { leave: leavePolicy } = verdict;
  const leave = () => {
    leavePolicy();
    releaseRoute();
  };
  if (socket.destroyed) return leave(); // the client left during the checks
  let admitted: boolean;
  try {
    admitted = await env.admission.admit();
  } catch (err) {
    leave();
    throw err;
  }
  if (!admitted) {
    leave();
    return refuse({ status: 503, reason: 'session limit reached', headers: { 'Retry-After': '5' }, close: 'busy' });
  }
  const giveBackSlot = slotReleaser(env.admission, leave);
  try {
    // The client left while the slot was being granted (an IPC round trip under --workers).
    if (socket.destroyed) return giveBackSlot();
    await connectAndOpen(env, req, socket, head, { url, logPath: logPath!, route, log, refuse, remoteAddress, remotePort, identity: verdict.identity, giveBackSlot });
  } catch (err) {
    giveBackSlot();
    throw err;
  } finally {
    // Handshake over: `ws` handles the socket's errors from here, and this closure must not keep the request alive.
    socket.removeListener('error', onSocketError);
  }
}

/**
 * An idempotent "give the slot back" (the session limit's and the route
 * policy's places), made here rather than inline so the closure a session
 * keeps until it ends holds only those, not the request (URL, headers,
 * loggers): that is memory per idle session.
 */
function slotReleaser(admission: Admission, leavePolicy: () => void): () => void {
  let held = true;
  return () => {
    if (held) {
      admission.leave();
      leavePolicy();
    }
    held = false;
  };
}

interface Pending {
  url: URL;
  /** The path as log lines show it. */
  logPath: string;
  route: ServedRoute;
  log: Logger;
  refuse: (r: Refusal) => void;
  remoteAddress: string;
  remotePort: number;
  /** Who the route's authentication said the client is (empty without auth). */
  identity: Identity;
  /** Frees the session-limit slot; idempotent. */
  giveBackSlot: () => void;
}

/** handler.connect, then the 101 and a Session, or a refusal; the slot is given back unless a session opened (then when it ends). */
async function connectAndOpen(env: UpgradeEnv, req: IncomingMessage, socket: Duplex, head: Buffer, p: Pending): Promise<void> {
  const { url, logPath, route, log, remoteAddress, remotePort, giveBackSlot } = p;
  // A handler's refusal is only a status; what it means in a close frame follows from it.
  const refuse = (status: number, reason: string) => {
    giveBackSlot();
    p.refuse({ status, reason, close: closeKindOf(status) });
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
    if (!socket.destroyed) p.refuse({ status: 503, reason: 'gateway is stopping' });
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
    const start = { remoteAddress, path: url.pathname, logPath, protocol: protocol ?? '', target: target ?? '', params: params ?? {}, identity: p.identity };
    runSession(env, route.config, route.handler, ws, start, state, giveBackSlot);
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
