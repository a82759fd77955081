// The wsgate command: parse, start, run until a signal (or a websockify
// lifetime option) says stop, then stop gracefully and exit 0.
// Exit codes: 0 normal stop, 1 runtime failure (e.g. port in use), 2 bad usage or config.
import { createRequire } from 'node:module';
import cluster from 'node:cluster';
import { ConfigError } from '../config/errors.js';
import { createLogger, reopenLogFiles, useFingerprintKey } from '../observability/logger.js';
import { fingerprintKeyFromEnv } from '../config/fingerprint-key.js';
import { ConfigValueError } from '../config/units.js';
import { activatedSockets, monotonicUsec, notifyServiceManager, startWatchdog } from '../processes/systemd.js';
import { Gateway } from '../server/gateway.js';
import { parseCommandLine } from './args.js';
import { helpText } from './options.js';
import { releaseValidators } from '../config/validate.js';
import { runPrimary } from '../processes/primary.js';
import { PrimaryLink, workerId } from '../processes/worker.js';
import { readNextConfig, reloadGateway } from './reload.js';
import { AdminApi, type AdminOps } from '../server/admin.js';
import { summarize } from '../observability/session-list.js';
import type { GatewayConfig } from '../config/types.js';
import type { ReloadOutcome } from '../config/reload.js';
import type { Logger } from '../observability/logger.js';

/** The admin API's clients (src/cli/admin-command.ts, loaded only when used). */
const ADMIN_COMMANDS = ['sessions', 'kill', 'drain', 'reload'] as const;

export function version(): string {
  // The package's own name, resolved through its exports map: the same file whether
  // wsgate runs from this repository or from node_modules, whatever dist/'s layout.
  const pkg = createRequire(import.meta.url)('wsgate/package.json') as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  // `wsgate tokens ...` manages the built-in tokens table; loaded only when used.
  if (argv[0] === 'tokens') return (await import('./tokens-command.js')).runTokensCommand(argv.slice(1));
  // `wsgate cluster-proxy ...` runs the far end of the cluster hand-off instead of a gateway.
  if (argv[0] === 'cluster-proxy') return (await import('./cluster-proxy-command.js')).runClusterProxyCommand(argv.slice(1));
  // `wsgate replay FILE --port P` plays a session recording to WebSocket clients.
  if (argv[0] === 'replay') return (await import('./replay-command.js')).runReplayCommand(argv.slice(1));
  // `wsgate sessions | kill | drain | reload` talk to a running gateway's admin API.
  const adminCommand = ADMIN_COMMANDS.find((c) => c === argv[0]);
  if (adminCommand) return (await import('./admin-command.js')).runAdminCommand(adminCommand, argv.slice(1));
  let command;
  try {
    command = parseCommandLine(argv);
  } catch (e) {
    return usageError(e);
  }
  if (command.kind === 'help') {
    process.stdout.write(helpText());
    return 0;
  }
  if (command.kind === 'version') {
    process.stdout.write(`wsgate ${version()}\n`);
    return 0;
  }

  const { config, listenTimeout, logFile } = command;
  const dest = logFile ?? 1;
  // Token fingerprints in logs: the config file's key, else WSGATE_FINGERPRINT_KEY (also how a
  // --workers primary hands its key to its workers), else the random one this process made.
  try {
    const key = config.fingerprintKey ?? fingerprintKeyFromEnv();
    if (key) useFingerprintKey(key);
  } catch (e) {
    return usageError(e instanceof ConfigValueError ? new ConfigError(e.message) : e);
  }
  // --workers N: this process forks N workers that run the same command line; see src/processes/.
  if (config.workers > 1 && cluster.isPrimary) return runPrimary(config, createLogger(config.logLevel, dest).child({ role: 'primary' }), listenTimeout, (running) => readNextConfig(argv, running));
  const log = cluster.isWorker ? createLogger(config.logLevel, dest).child({ worker: workerId() }) : createLogger(config.logLevel, dest);
  // SIGUSR1 (logrotate's postrotate; the --workers primary passes it on): open --log-file again.
  process.on('SIGUSR1', reopenLogFiles);
  const link = cluster.isWorker ? new PrimaryLink(config.maxSessions, log) : null;
  const gateway = new Gateway(config, log, link);
  // Reloads run one at a time, and only once the gateway runs: a SIGHUP during the start
  // (the "listening" line is out, the routes not yet) waits for it instead of killing the process.
  let startDone!: () => void;
  let reloading: Promise<unknown> = new Promise<void>((resolve) => (startDone = resolve));
  const reload = () => {
    const next = reloading.then(async () => {
      notifyServiceManager(log, 'RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`);
      try {
        return await reloadGateway(argv, gateway, log);
      } finally {
        notifyServiceManager(log, 'READY=1');
      }
    });
    reloading = next.catch(() => {});
    return next;
  };
  // Under --workers the primary forwards SIGHUP; a worker ignores its own (a terminal's hang-up reaches the whole group).
  const onHangUp = () => {
    if (!link) void reload();
  };
  process.on('SIGHUP', onHangUp);
  try {
    await gateway.start({ listen: !link, fds: link ? [] : activatedSockets() });
  } catch (e) {
    if (e instanceof ConfigError) return usageError(e);
    process.stderr.write(`wsgate: cannot start: ${(e as Error).message}\n`);
    return 1;
  } finally {
    startDone();
  }
  releaseValidators(); // every config check is done: let the heap shrink
  const admin = await startAdmin(config, gateway, link, reload, log);
  if (admin instanceof Error) {
    await gateway.stop(0);
    process.stderr.write(`wsgate: cannot start the admin API: ${admin.message}\n`);
    return 1;
  }
  // Under --workers the primary tells systemd; one process tells it itself.
  const stopWatchdog = link ? () => {} : startWatchdog(log);
  if (!link) notifyServiceManager(log, 'READY=1', 'STATUS=serving');
  if (link) {
    link.serveAdmin({ reload, close: (id, code, reason) => gateway.closeSession(id, code, reason), drain: () => gateway.drain() });
    link.watch(gateway.registry, gateway.metrics);
    link.ready((listener, socket) => gateway.adopt(listener, socket));
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string, graceMs?: number) => {
      if (stopping) {
        // A second signal: do not wait for the grace period.
        void gateway.stop(0);
        return;
      }
      stopping = true;
      log.info({ why }, 'shutting down');
      admin?.close();
      stopWatchdog();
      if (!link) notifyServiceManager(log, 'STOPPING=1');
      void gateway.stop(graceMs).then(() => {
        log.info('stopped');
        resolve(0);
      });
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    // A worker stops when the primary says so (it owns --timeout and the signals' grace).
    // Its own signal may have come first (Ctrl-C reaches the whole process group): then only
    // the primary's second signal (grace 0) hurries it.
    link?.onStop((graceMs, why) => {
      if (!stopping) stop(why, graceMs ?? Infinity);
      else if (graceMs === 0) void gateway.stop(0);
    });
    if (link) return;
    if (config.runOnce) gateway.registry.once('ended', () => stop('--run-once: the session ended', 0));
    if (listenTimeout > 0) setTimeout(() => stop('--timeout reached', Infinity), listenTimeout).unref();
    if (config.exitWhenIdle > 0) watchIdle(gateway, config.exitWhenIdle, () => stop('--idle-timeout: no session', 0));
  });
}

/**
 * The admin API of this process (null without `admin:`): on its own listener, or under `admin.path`
 * of the gateway's. A --workers worker serves only `admin.path`, asking the primary, which gathers
 * from every worker; `admin.listen` is then the primary's.
 */
async function startAdmin(config: GatewayConfig, gateway: Gateway, link: PrimaryLink | null, reload: () => Promise<ReloadOutcome>, log: Logger): Promise<AdminApi | null | Error> {
  if (!config.admin || (link && !config.admin.path)) return null;
  const ops: AdminOps = link
    ? link.adminOps()
    : {
        sessions: async () => summarize(gateway.registry),
        close: async (id, code, reason) => gateway.closeSession(id, code, reason),
        drain: async () => ({ sessions: gateway.drain() }),
        reload,
      };
  const api = new AdminApi(link ? { ...config.admin, listen: null } : config.admin, ops, log);
  gateway.serveAdmin(api);
  try {
    await api.listen();
  } catch (e) {
    return e as Error;
  }
  return api;
}

/** websockify's --idle-timeout: exit once no session has been open for `ms`. */
function watchIdle(gateway: Gateway, ms: number, onIdle: () => void): void {
  let timer: NodeJS.Timeout | null = null;
  const arm = () => {
    if (gateway.registry.size === 0 && !timer) timer = setTimeout(onIdle, ms);
  };
  gateway.registry.on('empty', arm);
  gateway.registry.on('added', () => {
    if (timer) clearTimeout(timer);
    timer = null;
  });
  arm();
}

function usageError(e: unknown): number {
  if (!(e instanceof ConfigError)) throw e;
  process.stderr.write(`wsgate: ${e.message}\n(wsgate --help lists the options)\n`);
  return 2;
}
