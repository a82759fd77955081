// The primary process of --workers N. It listens on the configured
// addresses itself and hands each accepted connection to a worker, and it
// holds what no single worker can see: the session limit, the session
// counts and the metrics of the whole gateway. This file wires the parts:
// supervisor.ts (the worker processes), balancer.ts (which worker gets a
// connection), session-slots.ts and session-counts.ts (the limit and the
// counts across workers), gatherings.ts and merged-metrics.ts (answers
// gathered from every worker). On SIGTERM/SIGINT it stops accepting, then
// stops every worker gracefully.
import net from 'node:net';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { primaryMetrics } from '../observability/metrics.js';
import type { SessionSummary } from '../observability/session-list.js';
import { tlsMode } from '../server/gateway.js';
import { listenOn } from '../server/listener.js';
import { Balancer } from './balancer.js';
import { Gatherings } from './gatherings.js';
import { MergedMetrics } from './merged-metrics.js';
import { SessionCounts } from './session-counts.js';
import { SessionSlots } from './session-slots.js';
import { Supervisor } from './supervisor.js';
import { activatedSockets, monotonicUsec, notifyServiceManager, startWatchdog } from './systemd.js';
import { reopenLogFiles } from '../observability/logger.js';
import type { ReloadOutcome } from '../config/reload.js';
import type { AdminOp, CloseArgs, WorkerReload } from './messages.js';
import { AdminApi, type AdminOps } from '../server/admin.js';

/** A worker's reload opens token stores and plugins again: that may take longer than a session list. */
const RELOAD_TIMEOUT_MS = 30_000;

/** Reads the config again (the command line and its --config file): the next config, or why it cannot replace `running`. */
export type ReadNextConfig = (running: GatewayConfig) => { config: GatewayConfig } | { error: string };

/** An admin request a worker forwarded (under `admin.path`), carried out here over every worker. */
function runAdmin(ops: AdminOps, op: AdminOp, args: CloseArgs | undefined): Promise<unknown> {
  if (op === 'sessions') return ops.sessions();
  if (op === 'close') return args ? ops.close(args.session, args.code, args.reason) : Promise.resolve(false);
  if (op === 'drain') return ops.drain();
  return ops.reload();
}

export async function runPrimary(config: GatewayConfig, log: Logger, listenTimeoutMs: number, readNext: ReadNextConfig): Promise<number> {
  const listeners: net.Server[] = [];
  // The parts ask the supervisor only from callbacks, which run once it has forked the workers.
  const serving = () => supervisor.serving();
  const balancer = new Balancer(serving);
  const slots = new SessionSlots(config.maxSessions);
  const counts = new SessionCounts();
  const gatherings = new Gatherings(
    () => serving().map((w) => w.id),
    (worker, message) => supervisor.send(worker, message),
  );
  // The primary's own metrics (its process, worker restarts) join the workers' in the merge.
  const ownMetrics = config.metricsPath ? await primaryMetrics(() => serving().length) : null;
  const metrics = new MergedMetrics(gatherings, ownMetrics, log);

  const supervisor: Supervisor = new Supervisor(config.workers, log, {
    message(worker, m, reply) {
      switch (m.wsgate) {
        case 'adopted':
          return balancer.adopted(worker, m.id);
        case 'closed':
          return balancer.closed(worker);
        case 'sessions':
          return counts.report(worker, m.open, m.total);
        case 'admit':
          return reply({ wsgate: 'admitted', id: m.id, ok: !supervisor.stopping && slots.take(worker) });
        case 'leave':
          return slots.give(worker);
        case 'status':
          return reply({ wsgate: 'status', id: m.id, status: counts.status(supervisor.processes()) });
        case 'list':
          return void gatherings.gather<SessionSummary[]>('sessions').then((parts) => reply({ wsgate: 'list', id: m.id, sessions: parts.flat() }));
        case 'metrics':
          return void metrics.text().then((text) => reply({ wsgate: 'metrics', id: m.id, text }));
        case 'collected':
          return gatherings.answer(worker, m.id, m.part);
        case 'admin':
          return void runAdmin(adminOps, m.op, m.args).then((result) => reply({ wsgate: 'admin', id: m.id, result }));
      }
    },
    gone(worker) {
      slots.release(worker);
      balancer.retire(worker);
      metrics.retire(worker);
      gatherings.forget(worker);
      return counts.retire(worker);
    },
    replaced: () => ownMetrics?.workerReplaced(),
    stopping() {
      notifyServiceManager(log, 'STOPPING=1');
      for (const l of listeners) l.close();
      admin?.close();
    },
  });

  // SIGHUP from the start on (its default would kill the process); a reload waits until every worker is up.
  let becameReady!: () => void;
  const ready = new Promise<void>((resolve) => (becameReady = resolve));
  let reloading: Promise<unknown> = ready;
  const reloadInTurn = (): Promise<ReloadOutcome> => {
    const next = reloading.then(reload);
    reloading = next.catch(() => {});
    return next;
  };
  process.on('SIGHUP', () => void reloadInTurn());
  // SIGUSR1 (logrotate's postrotate): this process and every worker open their --log-file again.
  process.on('SIGUSR1', () => {
    reopenLogFiles();
    for (const pid of supervisor.pids()) if (pid !== undefined) process.kill(pid, 'SIGUSR1');
  });

  // The admin API over every worker: sessions gathered, a close or a drain asked of each, a reload as SIGHUP.
  const adminOps: AdminOps = {
    sessions: async () => (await gatherings.gather<SessionSummary[]>('sessions')).flat(),
    close: async (session, code, reason) => (await gatherings.gather<boolean>('close', undefined, undefined, { session, code, reason })).some(Boolean),
    drain: async () => ({ sessions: (await gatherings.gather<number>('drain')).reduce((a, b) => a + b, 0) }),
    reload: reloadInTurn,
  };
  const admin = config.admin?.listen ? new AdminApi(config.admin, adminOps, log) : null;

  const failed = await supervisor.start();
  if (failed !== null) return failed;
  try {
    const fds = activatedSockets();
    if (fds.length > config.listen.length) throw new Error(`${fds.length} sockets were passed (LISTEN_FDS) for ${config.listen.length} listen addresses`);
    for (const [index, addr] of config.listen.entries()) {
      const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => balancer.handOver(socket, index));
      await listenOn(server, addr, fds[index]);
      server.on('error', (err) => log.error({ err }, 'accept failed'));
      listeners.push(server);
      log.info({ address: server.address(), tls: tlsMode(config) }, 'listening');
    }
    await admin?.listen();
  } catch (e) {
    admin?.close();
    supervisor.kill();
    for (const l of listeners) l.close();
    process.stderr.write(`wsgate: cannot start: ${(e as Error).message}\n`);
    return 1;
  }
  log.info({ workers: config.workers, pids: supervisor.pids(), maxSessions: config.maxSessions || undefined }, 'ready');
  becameReady();
  notifyServiceManager(log, 'READY=1', `STATUS=serving with ${config.workers} workers`);
  const stopWatchdog = startWatchdog(log);

  // SIGHUP: the primary checks the new config (so a bad file is refused once, with its FILE:LINE),
  // then every worker reads and applies it; success only when all did.
  const reload = async (): Promise<ReloadOutcome> => {
    notifyServiceManager(log, 'RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`);
    try {
      return await reloadWorkers();
    } finally {
      notifyServiceManager(log, 'READY=1');
    }
  };
  const reloadWorkers = async (): Promise<ReloadOutcome> => {
    log.info('reloading the config');
    const next = readNext(config);
    if ('error' in next) {
      log.error({ error: next.error }, 'reload refused: the running config stays');
      return { ok: false, error: next.error };
    }
    const asked = serving().length;
    const parts = await gatherings.gather<WorkerReload>('reload', undefined, RELOAD_TIMEOUT_MS);
    const failed = parts.filter((p) => !p.ok);
    if (failed.length === 0 && parts.length === asked) {
      config = next.config;
      const routes = next.config.routes.map((r) => r.path);
      log.info({ routes, workers: parts.length }, 'config reloaded by every worker');
      return { ok: true, routes, workers: parts };
    }
    const error = `${asked - parts.length + failed.length} of ${asked} workers did not reload`;
    log.error({ error, workers: parts }, 'reload incomplete');
    return { ok: false, error, workers: parts };
  };

  let signals = 0;
  // A second signal, or one after --timeout began the stop, means: no more grace.
  const onSignal = (sig: string) => supervisor.stop(signals++ === 0 && !supervisor.stopping ? config.gracePeriod : 0, sig);
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  if (listenTimeoutMs > 0) setTimeout(() => supervisor.stop(null, '--timeout reached'), listenTimeoutMs).unref();
  const code = await supervisor.ended;
  stopWatchdog();
  log.info('stopped');
  return code;
}
