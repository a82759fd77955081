// Every command-line option, websockify's names first. One table drives
// parsing, --help, and the mapping to config fields, so they cannot drift.

export interface OptionSpec {
  name: string;
  short?: string;
  /** Placeholder for the value; absent for switches. */
  value?: string;
  help: string;
  /** A websockify option wsgate knows but does not offer (yet): refused with this reason. */
  unsupported?: string;
}

export const OPTIONS: OptionSpec[] = [
  { name: 'help', short: 'h', help: 'show this help and exit' },
  { name: 'version', help: 'print the version and exit' },
  { name: 'config', value: 'FILE', help: 'run the routes of a YAML config file (see README); no positional arguments then' },
  { name: 'verbose', short: 'v', help: 'log at debug level' },
  { name: 'traffic', help: 'log every frame and backend chunk (trace level)' },
  { name: 'log-level', value: 'LEVEL', help: 'trace, debug, info (default), warn, error, fatal or silent' },
  { name: 'cert', value: 'FILE', help: 'TLS certificate (PEM); the port then speaks TLS only' },
  { name: 'key', value: 'FILE', help: 'TLS private key (PEM), if not inside --cert' },
  { name: 'ssl-only', help: 'refuse plain connections (always so with --cert; accepted for websockify compatibility)' },
  { name: 'unix-target', value: 'FILE', help: 'connect to a Unix socket instead of target_host:target_port' },
  { name: 'heartbeat', value: 'SECONDS', help: 'send a ping every SECONDS; drop a client that leaves a ping unanswered for twice that' },
  { name: 'heartbeat-timeout', value: 'SECONDS', help: 'drop a client that leaves a ping unanswered for SECONDS (default 2 x --heartbeat)' },
  { name: 'idle-timeout', value: 'SECONDS', help: 'as websockify: exit after SECONDS with no session open' },
  { name: 'timeout', value: 'SECONDS', help: 'as websockify: stop accepting after SECONDS, exit when the sessions have ended' },
  { name: 'run-once', help: 'as websockify: serve one session, then exit' },
  { name: 'session-idle-timeout', value: 'SECONDS', help: 'close a session with no data either way for SECONDS (1001)' },
  { name: 'connect-timeout', value: 'SECONDS', help: 'backend connect timeout (default 30)' },
  { name: 'local-address', value: 'ADDR', help: 'local address to bind backend connections to' },
  { name: 'max-message-size', value: 'SIZE', help: 'largest message accepted from a client (default 32MiB); larger: close 1009' },
  { name: 'high-water-mark', value: 'SIZE', help: 'outbound bytes queued per session before the backend is paused (default 1MiB)' },
  { name: 'per-message-deflate', help: 'offer permessage-deflate compression (off by default)' },
  { name: 'close-timeout', value: 'SECONDS', help: 'how long a close handshake may take once the close frame is sent (default 5)' },
  { name: 'drain-timeout', value: 'SECONDS', help: 'a closing session still delivering data is cut after SECONDS without the client taking a byte (default 60)' },
  { name: 'grace-period', value: 'SECONDS', help: 'on SIGTERM/SIGINT, how long sessions may go on before close 1001 (default 3)' },
  { name: 'health', value: 'PATH', help: 'health endpoint path (default /healthz); "off" disables it' },
  { name: 'workers', value: 'N', help: 'serve the port from N processes ("auto": one per core); default 1 (README: Several processes)' },
  { name: 'handshake-timeout', value: 'SECONDS', help: 'answer 408 and close a connection whose HTTP request has not arrived within SECONDS (default 10)' },
  { name: 'max-pending-connections', value: 'N', help: 'most connections waiting for their HTTP request; past that the oldest is dropped (default 1024)' },
  { name: 'max-header-size', value: 'SIZE', help: 'largest HTTP request head (default 16KiB); larger: 431' },
  { name: 'max-sessions', value: 'N', help: 'most sessions open at once (across all workers); more are refused with 503' },
  { name: 'origin', value: 'POLICY', help: 'which pages may open sessions: same-host (default), same, off, or trusted origins a,b (https://*.example.com for subdomains)' },
  { name: 'origin-required', help: 'refuse handshakes without an Origin header (non-browser clients)' },
  { name: 'auth-plugin', value: 'NAME', help: "websockify's BasicHTTPAuth, ExpectOrigin or ClientCertCNAuth (with --auth-source)" },
  { name: 'auth-source', value: 'ARG', help: 'for the auth plugin: user:password, "ORIGIN ...", or "CN ..."' },
  { name: 'max-sessions-per-address', value: 'N', help: 'most sessions open at once from one client address (per process); more are refused with 429' },
  { name: 'rate-limit', value: 'N[/BURST]', help: 'new sessions per second per client address (per process), BURST at once; more get 429' },
  { name: 'refuse', value: 'MODE', help: 'how refusals are told: http (status), close (close frame with a reason), auto (default: close for browsers)' },
  { name: 'metrics-path', value: 'PATH', help: 'Prometheus metrics (all workers merged) at PATH; off by default' },
  { name: 'sessions-path', value: 'PATH', help: 'list live sessions (all workers) as JSON at PATH, to loopback clients only; off by default' },
  { name: 'web', value: 'DIR', help: 'serve the files in DIR on the same port (GET/HEAD; WebSocket paths win; no listings)' },
  { name: 'novnc', help: 'serve the noVNC client: open http://HOST:PORT/vnc.html (see docs/novnc.md)' },
  { name: 'novnc-app', value: 'APP', help: 'which noVNC client (implies --novnc): "builtin" (wsgate\'s page) or a noVNC DIR; default: /usr/share/novnc if installed, else builtin' },
  { name: 'file-only', help: 'accepted for websockify compatibility: directories are never listed anyway' },
  { name: 'prefer-ipv6', short: '6', help: 'accepted for websockify compatibility: a bare port listens on IPv6 and IPv4 anyway' },
  { name: 'record', value: 'FILE', help: 'as websockify: record each session, both ways, to FILE.1, FILE.2, ... (noVNC\'s playback format; keystrokes included)' },
  { name: 'token-plugin', value: 'NAME', help: 'look targets up by token: websockify\'s TokenFile, TokenRedis, JWTTokenApi, BaseTokenAPI, or sqlite, postgres, mysql, file, redis, jwt, http' },
  { name: 'token-source', value: 'ARG', help: 'where the token plugin looks: a file or folder, a URL, a key file' },
  { name: 'host-token', help: 'take the token from the Host header instead of the query parameter' },
  { name: 'target-config', value: 'FILE', help: 'deprecated websockify spelling of --token-plugin TokenFile --token-source FILE' },
  { name: 'daemon', short: 'D', help: 'daemonize', unsupported: 'run wsgate under a service manager instead (systemd, docker)' },
  { name: 'log-file', value: 'FILE', help: 'write the JSON log lines to FILE (appended) instead of stdout; SIGUSR1 opens it again (logrotate)' },
  { name: 'syslog', value: 'SERVER', help: 'log to syslog', unsupported: 'log to stdout (journald takes it under systemd) or to --log-file' },
];

export function helpText(): string {
  const lines = OPTIONS.filter((o) => !o.unsupported).map((o) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.value ? ` ${o.value}` : ''}`;
    return `  ${flag.padEnd(34)} ${o.help}`;
  });
  const refused = OPTIONS.filter((o) => o.unsupported).map((o) => `--${o.name}`);
  return [
    'Usage:',
    '  wsgate [options] [listen_host:]listen_port target_host:target_port',
    '  wsgate [options] [listen_host:]listen_port --unix-target FILE',
    '  wsgate [options] --config FILE.yaml',
    '  wsgate tokens add|list|remove|revoke ...   (manage the built-in tokens table; wsgate tokens --help)',
    '  wsgate replay FILE --port PORT [--speed N]   (play a session recording to WebSocket clients; wsgate replay --help)',
    '  wsgate cluster-proxy --listen HOST:PORT --secret-file FILE --allow NODES ...   (the far end of a clusterHandoff; wsgate cluster-proxy --help)',
    '',
    'Proxies WebSocket sessions (every path, like websockify) to a TCP or Unix-socket',
    'target. target_port may be a service name from /etc/services. SIZE takes units',
    '(64KiB, 32MiB). Logs are JSON lines on stdout.',
    '',
    'Options:',
    ...lines,
    '',
    `websockify options not offered yet (refused with a reason): ${refused.join(' ')}`,
    '',
  ].join('\n');
}
