// The plugin API, modelled on apache-websocket's: connect decides (and may
// prepare a backend) before the 101; open/message/close follow. The Session
// handed to open() may be used from timers and any async work: send(),
// stream() and close() are safe at any time and throw SessionClosedError
// once the session is closing.
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from '../observability/logger.js';
import type { RouteConfig } from '../config/types.js';
import type { FieldsSchema } from '../config/validate.js';
import type { CloseInfo, Session } from '../session/session.js';

export interface ConnectContext {
  /** The request URL (path and query). Both may hold secrets (a token in the query, or in the path): never log them whole. */
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Subprotocols the client offered, in its order. */
  readonly offeredProtocols: readonly string[];
  readonly route: RouteConfig;
  readonly log: Logger;
  /** Aborted if the client goes away before connect() has settled: release what you opened. */
  readonly signal: AbortSignal;
  /** Adds a header to the 101 response. */
  setResponseHeader(name: string, value: string): void;
}

export type ConnectResult<S> =
  | { accept: true; state: S; protocol?: string; target?: string; params?: Record<string, string> }
  | { accept: false; status: number; reason: string };

export interface Handler<S = unknown> {
  /**
   * Accept (with per-session state, a chosen subprotocol, and the target
   * for logs) or refuse with an HTTP status. Runs before the handshake
   * completes, so a refusal is an HTTP answer, not a close frame.
   */
  connect(ctx: ConnectContext): ConnectResult<S> | Promise<ConnectResult<S>>;
  /** The WebSocket is open. */
  open?(state: S, session: Session): void;
  /** One complete message from the client. */
  message?(state: S, session: Session, data: Buffer, isBinary: boolean): void;
  /** The session has ended (once). */
  close?(state: S, session: Session, info: CloseInfo): void;
  /**
   * connect() accepted but the session never opened (the handshake failed
   * or the client left): release what connect() opened.
   */
  abandon?(state: S): void;
  /**
   * The gateway is stopping and its sessions are closed: release what the
   * factory started (worker pools, timers). Called by Gateway.stop() (again
   * if stop() is called again), so it must be idempotent.
   */
  shutdown?(): void | Promise<void>;
}

/** What a handler factory receives: the route's own fields and shared services. */
export interface HandlerContext {
  route: RouteConfig;
  log: Logger;
  /**
   * The route's handler-specific fields, checked against a JSON Schema
   * (unknown fields refused); errors name routes[i].<field> and its line.
   */
  options<T>(schema: FieldsSchema): T;
  /** Throws a ConfigError naming routes[i].<field> (or a nested path) and its file line. */
  invalid(field: string | string[], message: string): never;
  /** Checks a nested value (e.g. the route's `resolver` block) against a JSON Schema; errors name routes[i].<path>. */
  validate(schema: object, value: unknown, path: string[]): void;
  /** Folder that relative paths in the route are resolved against (the config file's). */
  baseDir: string;
}

/** A handler module's default export (or its `createHandler` export). */
export type HandlerFactory = (ctx: HandlerContext) => Handler<any> | Promise<Handler<any>>;

export function accept<S>(state: S, extra: { protocol?: string; target?: string; params?: Record<string, string> } = {}): ConnectResult<S> {
  return { accept: true, state, ...extra };
}

export function refuse(status: number, reason: string): ConnectResult<never> {
  return { accept: false, status, reason };
}
