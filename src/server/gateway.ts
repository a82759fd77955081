// The gateway: HTTP listeners (IPv4/IPv6, optional TLS), the route table,
// the session registry, and graceful stop.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { GatewayConfig, RouteConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { SessionRegistry } from '../observability/session-registry.js';
import type { Session } from '../session/session.js';
import { createHandler } from '../handlers/registry.js';
import { RouteTable, ServedRoute } from './route-table.js';
import { handleUpgrade, requestUrl } from './upgrade.js';
import { answer } from './http-answers.js';
import { createListener, listenOn } from './listener.js';
import { ConnectionGuard, clientErrorStatus } from './connection-guard.js';
import { refuseUpgrade } from './http-answers.js';
import { StaticFiles } from './static-files.js';
import { NovncFiles } from './novnc.js';
import { LoopMonitor } from '../observability/loop-stats.js';
import { MemoryRelease } from './memory-release.js';
import { localAdmission, type Admission } from './admission.js';
import { isLoopback, summarize, type SessionSummary } from '../observability/session-list.js';
import { GatewayMetrics } from '../observability/metrics.js';
import { GatewayLimits, RoutePolicy } from './policy/route-policy.js';
import { configError } from '../config/errors.js';
import { fixedFieldsError } from '../config/reload.js';
import type { UpgradeEnv } from './upgrade.js';
import type { AdminApi } from './admin.js';

/** What a worker process gets from the primary under --workers (src/processes/). */
export interface ProcessHooks {
  admission: Admission;
  /** Session counts over every worker, for the health answer. */
  status(): Promise<ProcessesStatus>;
  /** Every worker's live sessions, for the sessions endpoint. */
  sessions(): Promise<SessionSummary[]>;
  /** Every worker's metrics merged, with the primary's, as Prometheus text. */
  metrics(): Promise<string>;
}

export interface ProcessesStatus {
  sessions: number;
  sessionsTotal: number;
  workers: Array<{ id: number; pid: number; sessions: number }>;
}

/** How a listen address speaks TLS, for the "listening" log line. */
export function tlsMode(config: GatewayConfig): 'only' | 'optional' | 'off' {
  return config.tls ? (config.tls.only ? 'only' : 'optional') : 'off';
}

export class Gateway {
  readonly registry = new SessionRegistry<Session>();
  /** Replaced by reload() (only its routes and gracePeriod can differ). */
  #config: GatewayConfig;
  readonly #log: Logger;
  #routes: RouteTable | null = null;
  /** Per-address counts and rates, shared by every route and kept across reloads. */
  #limits: GatewayLimits | null = null;
  /** Routes a reload replaced or removed, until their last session has ended and their handler has shut down. */
  readonly #retiring = new Set<Promise<void>>();
  #env: UpgradeEnv | null = null;
  #web: StaticFiles | NovncFiles | null = null;
  #servers: http.Server[] = [];
  #stopping = false;
  /** Set by drain() (the admin API): new sessions are refused with 503, open ones go on. */
  #draining = false;
  /** With `admin.path`: answers the admin requests on the main listeners. */
  #admin: AdminApi | null = null;
  readonly #startedAt = Date.now();
  readonly #loop = new LoopMonitor();
  readonly #memory = new MemoryRelease(this.registry);
  /** With --metrics-path; null otherwise. */
  #metrics: GatewayMetrics | null = null;

  readonly #processes: ProcessHooks | null;

  constructor(config: GatewayConfig, log: Logger, processes: ProcessHooks | null = null) {
    this.#config = config;
    this.#log = log;
    this.#processes = processes;
  }

  /**
   * Loads every handler (a bad plugin fails here), then listens on every
   * address; with `listen: false` (a --workers worker) connections come
   * through adopt() instead. `fds`: listening sockets handed over (systemd
   * socket activation), used in place of the listen addresses in order.
   */
  async start({ listen = true, fds = [] as number[] } = {}): Promise<AddressInfo[]> {
    if (fds.length > this.#config.listen.length) throw new Error(`${fds.length} sockets were passed (LISTEN_FDS) for ${this.#config.listen.length} listen addresses`);
    this.#limits = new GatewayLimits(this.#config);
    this.#routes = new RouteTable(await this.#serve(this.#config));
    const web = this.#config.web;
    if (web?.kind === 'directory') this.#web = new StaticFiles(web.root);
    if (web?.kind === 'novnc') {
      const novnc = new NovncFiles(web.app);
      this.#web = novnc;
      this.#log.info({ novnc: novnc.description }, 'serving the noVNC client');
    }
    const admission = this.#processes?.admission ?? localAdmission(this.#config.maxSessions);
    if (this.#config.metricsPath) this.#metrics = await GatewayMetrics.create(this.registry, this.#config.routes.map((r) => r.path));
    const guard = new ConnectionGuard(this.#config.maxPendingConnections, this.#log);
    const env: UpgradeEnv = (this.#env = { routes: this.#routes, registry: this.registry, log: this.#log, stopping: () => this.#stopping || this.#draining, admission, metrics: this.#metrics });
    const addresses: AddressInfo[] = [];
    for (const [index, addr] of this.#config.listen.entries()) {
      const server = createListener(this.#config.tls, this.#config, this.#log);
      // With TLS, the HTTP layer sees the TLS socket; the TLS handshake has its own timeout.
      server.on(this.#config.tls ? 'secureConnection' : 'connection', (socket: Socket) => guard.admit(socket));
      server.on('request', (req, res) => this.#onRequest(req, res));
      server.on('upgrade', (req, socket, head) => {
        guard.settled(socket as Socket);
        handleUpgrade(env, req, socket, head).catch((err) => {
          this.#log.error({ err }, 'upgrade failed');
          socket.destroy();
        });
      });
      // A request that is malformed, too large or too slow: answered if the socket can still
      // take it, and destroyed either way (end() alone waits for a FIN a silent client never sends).
      server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
        const status = clientErrorStatus(err.code);
        this.#log.info({ remote: (socket as Socket).remoteAddress, status, err: err.code ?? err.message }, 'bad or slow HTTP request');
        if (err.code === 'ECONNRESET') socket.destroy();
        else refuseUpgrade(socket, status);
      });
      this.#servers.push(server);
      if (!listen) {
        // Node starts an HTTP server's connection tracking (headersTimeout, requestTimeout,
        // closeIdleConnections) on 'listening'; a worker's servers never listen, so start it here.
        // Without it, a client that sends half a request would hold its connection forever.
        server.emit('listening');
        continue;
      }
      await listenOn(server, addr, fds[index]);
      // Accept errors (ENFILE; EMFILE when libuv cannot shed the connection) must not crash the process.
      server.on('error', (err: NodeJS.ErrnoException) => this.#log.warn({ err: err.code ?? err.message }, 'accepting a connection failed'));
      addresses.push(server.address() as AddressInfo);
      this.#log.info({ address: server.address(), tls: tlsMode(this.#config) }, 'listening');
    }
    for (const r of this.#routes.all) this.#log.info({ path: r.config.path, handler: r.config.handler }, 'route ready');
    return addresses;
  }

  /** A route's policy; a users or key file that cannot be read stops startup, naming the route's `auth`. */
  async #policyFor(route: RouteConfig, limits: GatewayLimits): Promise<RoutePolicy> {
    if (route.policy.auth.some((a) => a.type === 'cert') && !this.#config.tls) {
      this.#log.warn({ path: route.path }, 'client-certificate auth on a gateway without TLS: every client will be refused');
    }
    try {
      return await RoutePolicy.create(route, limits, this.#log.child({ route: route.path }));
    } catch (e) {
      throw configError(() => route.sources.auth, ['routes', route.index, 'auth'], (e as Error).message);
    }
  }

  /** Every route of `config` with its handler; a handler that fails to load shuts down those made before it. */
  async #serve(config: GatewayConfig): Promise<ServedRoute[]> {
    const served: ServedRoute[] = [];
    try {
      for (const route of config.routes) {
        const handler = await createHandler(route, config.baseDir, this.#log);
        try {
          served.push(new ServedRoute(route, handler, await this.#policyFor(route, this.#limits!)));
        } catch (e) {
          await handler.shutdown?.();
          throw e;
        }
      }
    } catch (e) {
      await Promise.allSettled(served.map(async (r) => (r.policy.close(), r.handler.shutdown?.())));
      throw e;
    }
    return served;
  }

  /**
   * Serves `next`'s routes to new sessions: every route gets a new handler
   * (token sources and policies are opened again); the previous routes stop
   * taking upgrades at once, and each one's handler shuts down once its last
   * session has ended. Throws (nothing changed) if `next` changes a field that
   * is fixed at start (listen addresses, TLS, workers, ...) or a handler
   * refuses its route.
   */
  async reload(next: GatewayConfig): Promise<{ routes: string[]; retiring: number }> {
    if (this.#stopping || !this.#routes || !this.#env) throw new Error(this.#stopping ? 'the gateway is stopping' : 'the gateway has not started');
    const fixed = fixedFieldsError(this.#config, next);
    if (fixed) throw new Error(fixed);
    const served = await this.#serve(next);
    if (this.#stopping) {
      await Promise.allSettled(served.map(async (r) => (r.policy.close(), r.handler.shutdown?.())));
      throw new Error('the gateway is stopping');
    }
    const previous = this.#routes;
    this.#routes = new RouteTable(served);
    this.#env.routes = this.#routes;
    this.#config = next;
    let retiring = 0;
    for (const r of previous.all) {
      if (r.inUse > 0) retiring += r.inUse;
      const done = r
        .retired()
        .then(async () => (r.policy.close(), r.handler.shutdown?.()))
        .catch((err) => this.#log.error({ err, path: r.config.path }, 'handler shutdown failed'))
        .finally(() => this.#retiring.delete(done));
      this.#retiring.add(done);
    }
    const paths = served.map((r) => r.config.path);
    this.#log.info({ routes: paths, sessionsOnPreviousRoutes: retiring }, 'config reloaded');
    return { routes: paths, retiring };
  }

  /** Serves the admin API under `admin.path` on this gateway's listeners. */
  serveAdmin(api: AdminApi): void {
    this.#admin = api;
  }

  /** Stops taking new sessions (503, /healthz says "draining"); the open ones go on. Returns how many are open. */
  drain(): number {
    if (!this.#draining) this.#log.info({ sessions: this.registry.size }, 'draining: no new sessions');
    this.#draining = true;
    return this.registry.size;
  }

  /** Closes session `id` with `code` and `reason` (after what it has queued); false if it is not here. */
  closeSession(id: string, code: number, reason: string): boolean {
    for (const session of this.registry) {
      if (session.id !== id) continue;
      session.close(code, reason);
      return true;
    }
    return false;
  }

  /** The configuration serving new sessions (the latest reload's). */
  get config(): GatewayConfig {
    return this.#config;
  }

  /** This process's metrics (a --workers worker sends them to the primary); null without --metrics-path. */
  get metrics(): GatewayMetrics | null {
    return this.#metrics;
  }

  /** Serves a connection accepted elsewhere (by the --workers primary) on listen address `index`. */
  adopt(index: number, socket: Socket): void {
    const server = this.#servers[index];
    if (!server || this.#stopping) {
      socket.destroy();
      return;
    }
    server.emit('connection', socket);
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = requestUrl(req.url);
    if (!url) return answer(res, 400, 'Bad Request\n');
    if (this.#admin?.handle(req, res, url.pathname)) return;
    const readOnly = req.method === 'GET' || req.method === 'HEAD';
    if (url.pathname === this.#config.healthPath && readOnly) return this.#answerWith(res, 'health', () => this.#health(url));
    if (url.pathname === this.#config.sessionsPath && readOnly) {
      if (!isLoopback(req.socket.remoteAddress)) return answer(res, 403, 'Forbidden\n');
      return this.#answerWith(res, 'session list', async () => ({
        status: 200,
        body: { sessions: this.#processes ? await this.#processes.sessions() : summarize(this.registry) },
      }));
    }
    if (url.pathname === this.#config.metricsPath && readOnly && this.#metrics) {
      const metrics = this.#metrics;
      return this.#answerWith(res, 'metrics', async () => ({
        status: 200,
        body: this.#processes ? await this.#processes.metrics() : await metrics.text(),
        headers: { 'Content-Type': metrics.contentType },
      }));
    }
    // A route's own path is WebSocket only, even if a file has its name; the catch-all "*" yields to files.
    const route = this.#routes?.match(url.pathname);
    const web = this.#web;
    if (!web || (route && route.config.path !== '*')) return this.#notFile(res, Boolean(route));
    web.serve(req, res, url).then(
      (served) => served || this.#notFile(res, false), // with a web root, a missing file is a 404 even under "*"
      (err) => {
        this.#log.error({ err, path: this.#routes?.loggedPath(url.pathname) }, 'static file failed');
        if (res.headersSent) res.destroy();
        else answer(res, 500, 'Internal Server Error\n');
      },
    );
  }

  /** Answers with what `produce` resolves to (may ask the --workers primary), or 500 if it fails. */
  #answerWith(res: http.ServerResponse, what: string, produce: () => Promise<{ status: number; body: unknown; headers?: Record<string, string> }>): void {
    produce().then(
      ({ status, body, headers }) => answer(res, status, body, headers),
      (err) => {
        this.#log.error({ err }, `${what} failed`);
        answer(res, 500, 'Internal Server Error\n');
      },
    );
  }

  async #health(url: URL): Promise<{ status: number; body: unknown }> {
    const local = { sessions: this.registry.size, sessionsTotal: this.registry.total };
    // Under --workers the counts are the whole gateway's; `workers` shows each process.
    const counts = this.#processes ? await this.#processes.status() : local;
    return {
      status: this.#stopping || this.#draining ? 503 : 200,
      body: {
        status: this.#stopping ? 'stopping' : this.#draining ? 'draining' : 'ok',
        ...counts,
        uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000),
        // ?loop=1: event-loop utilization and delay (of the process that answered) since the previous ?loop=1 request.
        ...(url.searchParams.has('loop') ? { eventLoop: this.#loop.take() } : {}),
        // ?memory=1: where this process's memory is (RSS vs V8 heap vs buffers), in bytes.
        ...(url.searchParams.has('memory') ? { memory: process.memoryUsage() } : {}),
      },
    };
  }

  #notFile(res: http.ServerResponse, webSocketPath: boolean): void {
    if (webSocketPath) {
      // RFC 9110 §15.5.22: a 426 names the protocol in Upgrade (and so in Connection); then we close.
      return answer(res, 426, 'This path speaks WebSocket only.\n', { Upgrade: 'websocket', Connection: 'Upgrade, close' });
    }
    answer(res, 404, 'Not Found\n');
  }

  /**
   * Stops accepting, lets sessions run for up to `graceMs`, closes the rest
   * with 1001, and resolves once every session has ended. A closing session
   * first delivers what it had queued, as any close does (cut when its client
   * takes no bytes for drainTimeout), then has closeTimeout for the handshake;
   * the stop waits for that, at most drainTimeout + closeTimeout, so that a
   * slow link loses nothing to the stop. A second stop(0) (a second signal)
   * cuts what is left at once.
   */
  async stop(graceMs = this.#config.gracePeriod): Promise<void> {
    const hurry = this.#stopping && graceMs === 0;
    if (!this.#stopping) {
      this.#stopping = true;
      this.#log.info({ sessions: this.registry.size, graceMs }, 'stopping');
      for (const server of this.#servers) {
        server.close();
        server.closeIdleConnections();
      }
    }
    await this.#whenEmpty(graceMs);
    for (const session of this.registry) session.close(1001, 'server shutting down');
    const closingLimit = Math.max(0, ...this.#config.routes.map((r) => r.drainTimeout + r.closeTimeout));
    await this.#whenEmpty(hurry ? 0 : closingLimit);
    // Cut through the session, so that its log line says 1006 and what was not delivered.
    for (const session of this.registry) session.terminate(hurry ? 'stopped by a second signal' : `still closing ${closingLimit} ms after the stop`);
    for (const server of this.#servers) server.closeAllConnections();
    // Handlers release what they started (worker threads), so nothing outlives the stop.
    this.#loop.stop();
    this.#memory.stop();
    for (const r of this.#routes?.all ?? []) r.policy.close();
    await Promise.allSettled([...this.#retiring]);
    const shutdowns = await Promise.allSettled((this.#routes?.all ?? []).map(async (r) => r.handler.shutdown?.()));
    for (const s of shutdowns) if (s.status === 'rejected') this.#log.error({ err: s.reason }, 'handler shutdown failed');
  }

  #whenEmpty(timeoutMs: number): Promise<void> {
    if (this.registry.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.registry.removeListener('empty', done);
        resolve();
      };
      // Infinity (websockify's --timeout: wait for every session) must not become Node's 1 ms.
      const timer = Number.isFinite(timeoutMs) ? setTimeout(done, timeoutMs) : undefined;
      this.registry.once('empty', done);
    });
  }
}
