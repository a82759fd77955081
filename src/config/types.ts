// The one validated configuration that the CLI and the config file both
// produce. Every duration is in milliseconds and every size in bytes here;
// the user-facing units (seconds, "32MiB") are converted at load time.

export interface ListenAddress {
  /** undefined = all interfaces, IPv4 and IPv6 (Node's dual-stack default). */
  host?: string;
  port: number;
}

export interface TlsConfig {
  cert: string;
  key: string;
  /** Refuse plain-text clients (websockify's --ssl-only). */
  only: boolean;
}

/** Options every route has, whatever its handler. */
export interface SessionOptions {
  maxMessageSize: number;
  perMessageDeflate: boolean;
  /** Outbound bytes queued per session above which producers are told to pause. */
  highWaterMark: number;
  /** Outbound bytes at or below which paused producers resume. */
  lowWaterMark: number;
  /** Ping interval, 0 = off (websockify's --heartbeat). */
  heartbeat: number;
  /** Drop a peer that has not answered a ping for this long. */
  heartbeatTimeout: number;
  /** Close a session with no data either way for this long, 0 = off. */
  idleTimeout: number;
  /** How long a close handshake may take (from when the close frame is with the kernel) before the socket is destroyed. */
  closeTimeout: number;
  /** A closing session still delivering what was queued is cut once the client takes no bytes for this long. */
  drainTimeout: number;
}

export interface RouteConfig extends SessionOptions {
  /** Exact URL path, or "*" for every path (the websockify CLI form). */
  path: string;
  /** A built-in handler name or a module path. */
  handler: string;
  /** Everything else the route says, for the handler to read and check. */
  options: Record<string, unknown>;
  /** Position in the routes list, for error messages. */
  index: number;
  /** Where each field was written ("file.yaml:12"), for error messages. */
  sources: Record<string, string | undefined>;
}

export interface GatewayConfig {
  listen: ListenAddress[];
  tls?: TlsConfig;
  /** Path of the health endpoint, or null for none. */
  healthPath: string | null;
  /** Path of the live-session list (loopback clients only), or null for none. */
  sessionsPath: string | null;
  /** Path of the Prometheus metrics, or null for none (prom-client is then never loaded). */
  metricsPath: string | null;
  /** On SIGTERM, how long sessions may go on before they are closed with 1001. */
  gracePeriod: number;
  /** websockify --idle-timeout: exit after this long with no session, 0 = never. */
  exitWhenIdle: number;
  /** websockify --run-once: exit after the first session ends. */
  runOnce: boolean;
  /** A pino level; "trace" logs every frame (websockify --traffic, `traffic: true`). */
  logLevel: string;
  /** The key of token fingerprints in logs, read from `fingerprintKeyFile`; null = WSGATE_FINGERPRINT_KEY's, or one made at start. */
  fingerprintKey: string | null;
  routes: RouteConfig[];
  /** Processes serving the port (node:cluster); 1 = this process alone. */
  workers: number;
  /** Most sessions open at once across all workers, 0 = no limit; more are refused with 503. */
  maxSessions: number;
  /** A connection whose HTTP request has not fully arrived by then is answered 408 and closed. */
  handshakeTimeout: number;
  /** Most connections waiting for their HTTP request at once; past that the oldest is dropped. */
  maxPendingConnections: number;
  /** Largest HTTP request head accepted (431 otherwise). */
  maxHeaderSize: number;
  /** Static files on the listening port (websockify --web), or null for none. */
  web: WebConfig | null;
  /** Directory that relative module paths are resolved against. */
  baseDir: string;
  /** The admin API (sessions, close, drain, reload), or null for none (the default). */
  admin: AdminConfig | null;
}

/** Where the admin API answers and who may use it. */
export interface AdminConfig {
  /** Its own listener (loopback unless a host is given); null = under `path` on the main listeners. */
  listen: ListenAddress | null;
  /** The prefix on the main listeners (`/admin`); null with `listen`. */
  path: string | null;
  /** A file holding the bearer token, read at each request (so it can be rotated); null = loopback clients only. */
  tokenFile: string | null;
  /** Loopback clients need no token (default true); false = everyone shows the token. */
  trustLoopback: boolean;
}

/** A directory to serve, or the noVNC client (`web: novnc`, `--novnc`). */
export type WebConfig = { kind: 'directory'; root: string } | { kind: 'novnc'; app: NovncApp };

/**
 * Which noVNC client `--novnc` serves: `auto` is noVNC's own application if one
 * is installed on the machine, else wsgate's page; `builtin` is wsgate's page
 * on the @novnc/novnc library; `{ dir }` is a noVNC checkout (vnc.html, app/, core/).
 */
export type NovncApp = 'auto' | 'builtin' | { dir: string };

/** Bounds on connections before they become sessions. */
export const HANDSHAKE_DEFAULTS = {
  // Browsers send the whole upgrade request at once; seconds are plenty even on slow links.
  timeout: 10_000,
  // Far below the usual fd limits, so waiting connections cannot starve sessions of descriptors.
  maxPending: 1024,
  // Node's default: enough for long cookies and JWTs.
  maxHeaderSize: 16 * 1024,
};

export const SESSION_DEFAULTS: SessionOptions = {
  maxMessageSize: 32 * 1024 * 1024, // the original module's default
  perMessageDeflate: false,
  highWaterMark: 1024 * 1024,
  lowWaterMark: 256 * 1024,
  heartbeat: 0,
  heartbeatTimeout: 0, // 0 = twice the heartbeat interval
  idleTimeout: 0,
  closeTimeout: 5000,
  // A slow link or a client busy for a few seconds must still get the tail; a
  // peer that takes nothing for a minute is gone (heartbeats find it sooner).
  drainTimeout: 60_000,
};
