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
  /** Who may open a session here, and how refusals are told (src/server/policy/). */
  policy: RoutePolicyConfig;
}

/**
 * How a browser's Origin header is checked: `same-host` (the Origin names the
 * host the client connected to, any port), `same` (scheme, host and port as
 * the client addressed the gateway), a list of trusted origins, or `off`.
 */
export type OriginPolicy = { kind: 'same-host' } | { kind: 'same' } | { kind: 'off' } | { kind: 'list'; origins: TrustedOrigin[] };

export interface TrustedOrigin {
  /** "https:", as URL.protocol has it. */
  scheme: string;
  /** Lower case; without the "*." of a wildcard. */
  host: string;
  /** "" for the scheme's default port, as URL.port has it. */
  port: string;
  /** `https://*.example.com`: any subdomain of `host` (not `host` itself). */
  subdomains: boolean;
}

/** How a route tells a client it is refused (src/server/policy/refusal.ts). */
export type RefuseMode = 'http' | 'close' | 'auto';

/** A token bucket per client address: `perAddress` new sessions a second on average, `burst` at once. */
export interface RateLimit {
  perAddress: number;
  burst: number;
}

/** One authentication check of a route (src/server/policy/auth.ts); files are absolute paths. */
export type AuthCheckConfig =
  | { type: 'cert'; subjects: string[] }
  | { type: 'basic'; realm: string; cacheTtl: number; users: string }
  | { type: 'basic'; realm: string; cacheTtl: number; user: string; password: string }
  | {
      type: 'jwt';
      secret?: string;
      publicKey?: string;
      /** A JWKS file, or an http(s) URL. */
      jwks?: string;
      keyFile?: string;
      algorithms?: string[];
      audience: string | string[];
      issuer?: string | string[];
      clockTolerance: number;
      /** Also read the token from this cookie (besides `Authorization: Bearer`). */
      cookie?: string;
    };

export interface RoutePolicyConfig {
  origin: OriginPolicy;
  /** Refuse handshakes that carry no Origin header (non-browser clients). */
  originRequired: boolean;
  /** Every check must pass; run in the order cert, basic, jwt. */
  auth: AuthCheckConfig[];
  /** Most sessions open at once on this route (this process), 0 = no limit. */
  maxSessions: number;
  /** Most sessions open at once on this route from one client address, 0 = no limit. */
  maxSessionsPerAddress: number;
  rateLimit: RateLimit | null;
  refuse: RefuseMode;
}

/** After `max` failed authentications from one address within `windowMs`, refuse it with 429 for `lockoutMs`. */
export interface AuthFailureLimit {
  max: number;
  windowMs: number;
  lockoutMs: number;
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
  /** Most sessions open at once from one client address over every route (this process), 0 = no limit. */
  maxSessionsPerAddress: number;
  /** New sessions per client address over every route (this process); null = none. */
  rateLimit: RateLimit | null;
  authFailures: AuthFailureLimit;
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
