// The runtime that drives a handler once its connect() has accepted and the
// 101 is written: it makes the Session, registers it, writes the session's
// log lines, and calls the handler's open/message/close (or abandon, when
// the session never opened). A handler that throws is logged and its
// session closed with 1011; it never takes the gateway down.
//
// Teardown, when the Session emits 'close' (listeners run in the order they
// were added, all in one turn):
//   1. the registry forgets the session (its listener, added by add() before
//      the runtime's): 'ended' and, for the last one, 'empty' fire (metrics,
//      --run-once, a stop waiting for sessions);
//   2. the runtime logs "session closed" with the session's totals;
//   3. handler.close(): tcp-proxy ends the backend side there (FIN once every
//      byte already written has gone; destroyed after closeTimeout unless
//      the backend closes first);
//   4. `ended`: the upgrade gives the session-limit slot back;
//   5. listeners the handler itself added in open() (a token's revocation entry).
import type { WebSocket } from 'ws';
import type { RouteConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { SessionRegistry } from '../observability/session-registry.js';
import { Session } from '../session/session.js';
import type { Handler } from './types.js';

/** What the upgrade learned about the session before it opened. */
export interface SessionStart {
  remoteAddress: string;
  /** The path the client asked for (no query: it may carry a token). Never logged: it may carry one too. */
  path: string;
  /** The path as log lines show it (src/server/logged-path.ts). */
  logPath: string;
  /** The chosen subprotocol, '' for none. */
  protocol: string;
  /** Where the handler connected it, for logs; '' for none. */
  target: string;
  params: Record<string, string>;
  /** Who the route's authentication said the client is (`cn`, `user`, `sub`); empty without auth. */
  identity?: Readonly<Record<string, string>>;
}

export interface RuntimeEnv {
  registry: SessionRegistry;
  log: Logger;
}

/**
 * Opens a Session over `ws` and runs `handler` on it with the state its
 * connect() returned. `ended` runs once, last, when the session has ended.
 */
export function runSession<S>(
  env: RuntimeEnv,
  route: RouteConfig,
  handler: Handler<S>,
  ws: WebSocket,
  start: SessionStart,
  state: S,
  ended: () => void,
): Session {
  const identity = start.identity && Object.keys(start.identity).length > 0 ? start.identity : undefined;
  const session = new Session(ws, route, { remoteAddress: start.remoteAddress, route: route.path, path: start.path, protocol: start.protocol, identity });
  session.target = start.target;
  session.params = start.params;
  const { log } = env;
  const { logPath } = start;
  const logFields = () => sessionFields(session, logPath);
  env.registry.add(session);
  log.info({ ...logFields(), target: session.target || undefined, protocol: start.protocol || undefined, identity }, 'session open');
  // What these listeners capture lives as long as the session: the session, the handler and its
  // state, the shared logger, the logged path (a short string); no per-session logger or request
  // objects (memory per idle session).
  session.on('message', (data, isBinary) => {
    // The one line per frame of --traffic (trace level), for every handler.
    if (log.isLevelEnabled('trace')) log.trace({ ...logFields(), bytes: data.length, binary: isBinary }, 'message from client');
    try {
      handler.message?.(state, session, data, isBinary);
    } catch (err) {
      handlerFailed(log, logFields(), session, 'message', err);
    }
  });
  session.on('close', (closeInfo) => {
    log.info(
      {
        ...logFields(),
        target: session.target || undefined,
        identity: session.meta.identity,
        bytesIn: session.bytesIn,
        bytesOut: session.bytesOut,
        bytesUndelivered: session.bytesUndelivered || undefined,
        messagesIn: session.messagesIn,
        messagesOut: session.messagesOut,
        durationMs: Date.now() - session.startedAt,
        code: closeInfo.code,
        reason: closeInfo.reason,
        closedBy: closeInfo.by,
      },
      'session closed',
    );
    try {
      handler.close?.(state, session, closeInfo);
    } catch (err) {
      log.error({ ...logFields(), err }, 'handler close() threw');
    }
    ended();
  });
  try {
    handler.open?.(state, session);
  } catch (err) {
    handlerFailed(log, logFields(), session, 'open', err);
  }
  return session;
}

/** connect() accepted but no session will open: the handler releases what connect() opened. */
export function abandonSession<S>(handler: Handler<S>, state: S, log: Logger): void {
  try {
    handler.abandon?.(state);
  } catch (err) {
    log.error({ err }, 'handler abandon() threw');
  }
}

/** The fields every line about a session carries (made when a line is written, not kept). */
function sessionFields(session: Session, logPath: string): { remote: string; path: string; sid: string; route: string } {
  return { remote: session.meta.remoteAddress, path: logPath, sid: session.id, route: session.meta.route };
}

function handlerFailed(log: Logger, fields: ReturnType<typeof sessionFields>, session: Session, what: string, err: unknown): void {
  log.error({ ...fields, err }, `handler ${what}() threw`);
  session.close(1011, 'internal error');
}
