// The primary process of --workers N. It forks N workers, listens on the
// configured addresses itself and hands each accepted connection to the
// worker with the fewest open connections (ties in turn). Not node:cluster's
// round robin: that gives the next connection to whichever worker answered
// first, so a burst of long-lived sessions can all land on one process.
// It also keeps the whole gateway's session counts and the session limit,
// replaces a worker that dies (only that worker's sessions end), and on
// SIGTERM/SIGINT stops accepting, then stops every worker gracefully.
import cluster, { type Worker } from 'node:cluster';
import net from 'node:net';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { tlsMode, type ProcessesStatus } from '../server/gateway.js';
import { listenOn } from '../server/listener.js';
import { isWsgateMessage, WORKER_ID_ENV, type Collectable, type PrimaryMessage, type WorkerMessage } from './messages.js';
import { primaryMetrics, type MetricsSnapshot } from '../observability/metrics.js';
import { MetricsMerger } from '../observability/process-metrics.js';
import type { SessionSummary } from '../observability/session-list.js';

/** More deaths than this within CRASH_WINDOW_MS means the workers cannot run: give up. */
const CRASH_LIMIT = 5;
const CRASH_WINDOW_MS = 60_000;
/** A worker that has not sent its session list or metrics by then is left out of the answer. */
const COLLECT_TIMEOUT_MS = 1000;
/** Workers that are not all ready by then (a plugin hanging in its factory) fail the start. */
const STARTUP_TIMEOUT_MS = 60_000;

interface Member {
  id: number;
  worker: Worker;
  ready: boolean;
  /** Connections handed over and not yet reported closed. */
  connections: number;
  open: number;
  total: number;
  /** Session-limit slots this worker holds. */
  slots: number;
  /** Sockets sent and not yet acknowledged: the primary keeps its copy until then, and closes it if the worker dies first. */
  inFlight: Map<number, net.Socket>;
}

export async function runPrimary(config: GatewayConfig, log: Logger, listenTimeoutMs: number): Promise<number> {
  const members = new Map<number, Member>();
  /** Sessions of workers that have exited, for the lifetime total. */
  let totalOfGone = 0;
  let slots = 0;
  let stopping = false;
  let started = false;
  let turn = 0;
  const deaths: number[] = [];
  const listeners: net.Server[] = [];

  const status = (): ProcessesStatus => {
    const workers = [...members.values()].map((m) => ({ id: m.id, pid: m.worker.process.pid ?? 0, sessions: m.open }));
    const sessionsTotal = totalOfGone + [...members.values()].reduce((a, m) => a + m.total, 0);
    return { sessions: workers.reduce((a, w) => a + w.sessions, 0), sessionsTotal, workers };
  };
  const send = (m: Member, message: PrimaryMessage) => {
    if (m.worker.isConnected()) m.worker.send(message);
  };

  /** The ready worker with the fewest open connections; among equals, the next in turn. */
  const pick = (): Member | undefined => {
    const ready = [...members.values()].filter((m) => m.ready && m.worker.isConnected());
    if (ready.length === 0) return undefined;
    turn = (turn + 1) % ready.length;
    let best = ready[turn]!;
    for (const m of ready) if (m.connections < best.connections) best = m;
    return best;
  };
  /** Gatherings of every worker's sessions or metrics: each finishes when every worker replied, or on timeout. */
  const collecting = new Map<number, { what: Collectable; waiting: Set<number>; parts: unknown[]; done: () => void }>();
  let nextCollectId = 1;
  const collect = (what: Collectable, finish: (parts: unknown[]) => void) => {
    const id = nextCollectId++;
    const targets = [...members.values()].filter((m) => m.ready && m.worker.isConnected());
    const gathering = { what, waiting: new Set(targets.map((m) => m.id)), parts: [] as unknown[], done: () => {} };
    const timer = setTimeout(() => gathering.done(), COLLECT_TIMEOUT_MS);
    gathering.done = () => {
      clearTimeout(timer);
      collecting.delete(id);
      finish(gathering.parts);
    };
    collecting.set(id, gathering);
    if (targets.length === 0) gathering.done();
    for (const m of targets) send(m, { wsgate: 'collect', id, what });
  };
  const listSessions = (requester: Member, requestId: number) =>
    collect('sessions', (parts) => send(requester, { wsgate: 'list', id: requestId, sessions: (parts as SessionSummary[][]).flat() }));
  // The primary's own metrics (its process, worker restarts) join the workers' in the merge.
  const running = () => [...members.values()].filter((m) => m.ready && m.worker.isConnected()).length;
  const ownMetrics = config.metricsPath ? await primaryMetrics(running) : null;
  const merger = new MetricsMerger();
  /** The merge in progress: requests that come meanwhile share it, so a client asking in a loop costs one gathering at a time. */
  let merging: Promise<string | null> | null = null;
  const gatherAndMerge = () =>
    new Promise<MetricsSnapshot[]>((resolve) => collect('metrics', (parts) => resolve(parts as MetricsSnapshot[])))
      .then(async (parts) => merger.merge([...(ownMetrics ? [await ownMetrics.snapshot()] : []), ...parts]))
      .catch((err: unknown) => {
        log.error({ err }, 'merging metrics failed');
        return null;
      });
  const mergeMetrics = (requester: Member, requestId: number) => {
    merging ??= gatherAndMerge().finally(() => (merging = null));
    void merging.then((text) => send(requester, { wsgate: 'metrics', id: requestId, text }));
  };

  let nextConnectionId = 1;
  const handOver = (socket: net.Socket, listener: number) => {
    const member = pick();
    if (!member) {
      socket.destroy(); // no worker to take it (all restarting): the client retries
      return;
    }
    const id = nextConnectionId++;
    member.connections++;
    member.inFlight.set(id, socket);
    // keepOpen: our copy stays ours until the worker says it has its own ('adopted'), so a
    // worker that dies with handoffs queued cannot leave them open and unowned here.
    member.worker.send({ wsgate: 'connection', id, listener } satisfies PrimaryMessage, socket, { keepOpen: true }, (err) => {
      if (!err || !member.inFlight.delete(id)) return;
      member.connections--;
      socket.destroy();
    });
  };

  let settleStart: (code: number | null) => void = () => {};
  const startup = new Promise<number | null>((resolve) => (settleStart = resolve));
  let settleEnd: (code: number) => void = () => {};
  const ended = new Promise<number>((resolve) => (settleEnd = resolve));
  let exitCode = 0;

  const stopAll = (graceMs: number | null, why: string) => {
    if (!stopping) log.info({ why, workers: members.size }, 'shutting down');
    stopping = true;
    for (const l of listeners) l.close();
    for (const m of members.values()) send(m, { wsgate: 'stop', graceMs });
    if (members.size === 0) settleEnd(exitCode);
  };

  const fork = (id: number) => {
    const worker = cluster.fork({ [WORKER_ID_ENV]: String(id) });
    const member: Member = { id, worker, ready: false, connections: 0, open: 0, total: 0, slots: 0, inFlight: new Map() };
    members.set(id, member);
    worker.on('message', (m: unknown) => {
      // A dead worker's last messages may arrive after its 'exit': they must not move the counts.
      if (!isWsgateMessage<WorkerMessage>(m) || members.get(id) !== member) return;
      switch (m.wsgate) {
        case 'ready':
          member.ready = true;
          if (!started && [...members.values()].every((x) => x.ready)) settleStart(null);
          break;
        case 'adopted':
          member.inFlight.get(m.id)?.destroy(); // closes our descriptor only; the worker holds its own
          member.inFlight.delete(m.id);
          break;
        case 'closed':
          member.connections = Math.max(0, member.connections - 1);
          break;
        case 'sessions':
          member.open = m.open;
          member.total = m.total;
          break;
        case 'admit': {
          const ok = !stopping && slots < config.maxSessions;
          if (ok) {
            slots++;
            member.slots++;
          }
          send(member, { wsgate: 'admitted', id: m.id, ok });
          break;
        }
        case 'leave':
          if (member.slots > 0) {
            member.slots--;
            slots--;
          }
          break;
        case 'status':
          send(member, { wsgate: 'status', id: m.id, status: status() });
          break;
        case 'list':
          listSessions(member, m.id);
          break;
        case 'metrics':
          mergeMetrics(member, m.id);
          break;
        case 'collected': {
          const gathering = collecting.get(m.id);
          if (!gathering || !gathering.waiting.delete(id)) break;
          if (m.part !== null) gathering.parts.push(m.part);
          if (m.part !== null && gathering.what === 'metrics') merger.seen(id, m.part as MetricsSnapshot);
          if (gathering.waiting.size === 0) gathering.done();
          break;
        }
      }
    });
    worker.on('exit', (code, signal) => {
      members.delete(id);
      slots -= member.slots;
      member.slots = 0;
      totalOfGone += member.total;
      // Handoffs it never acknowledged: our copy is the last one, so this closes them for the client.
      for (const socket of member.inFlight.values()) socket.destroy();
      member.inFlight.clear();
      merger.retire(id);
      // Answers it will never give: a gathering waiting only for it finishes now, not at its timeout.
      for (const gathering of collecting.values()) if (gathering.waiting.delete(id) && gathering.waiting.size === 0) gathering.done();
      if (!started) {
        // A worker that cannot start (bad plugin, unreadable file) fails the whole start, with its exit code.
        settleStart(code || 1);
        return;
      }
      if (stopping) {
        if (code !== 0) exitCode = 1;
        if (members.size === 0) settleEnd(exitCode);
        return;
      }
      log.error({ worker: id, pid: worker.process.pid, code, signal, sessionsLost: member.open }, 'worker died; starting a new one');
      const now = Date.now();
      deaths.push(now);
      while (deaths.length > 0 && deaths[0]! < now - CRASH_WINDOW_MS) deaths.shift();
      if (deaths.length > CRASH_LIMIT) {
        log.fatal({ deaths: deaths.length, windowMs: CRASH_WINDOW_MS }, 'workers keep dying; stopping');
        exitCode = 1;
        stopAll(0, 'workers keep dying');
        return;
      }
      ownMetrics?.workerReplaced();
      fork(id);
    });
  };

  const killAll = () => {
    stopping = true;
    for (const m of members.values()) m.worker.kill('SIGKILL');
  };
  cluster.setupPrimary({ silent: false });
  for (let id = 1; id <= config.workers; id++) fork(id);
  const startupTimer = setTimeout(() => {
    log.fatal({ timeoutMs: STARTUP_TIMEOUT_MS, ready: [...members.values()].filter((m) => m.ready).length }, 'workers did not start in time');
    settleStart(1);
  }, STARTUP_TIMEOUT_MS);
  const failed = await startup;
  clearTimeout(startupTimer);
  started = true;
  if (failed !== null) {
    killAll();
    return failed;
  }
  try {
    for (const [index, addr] of config.listen.entries()) {
      const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => handOver(socket, index));
      await listenOn(server, addr);
      server.on('error', (err) => log.error({ err }, 'accept failed'));
      listeners.push(server);
      log.info({ address: server.address(), tls: tlsMode(config) }, 'listening');
    }
  } catch (e) {
    killAll();
    for (const l of listeners) l.close();
    process.stderr.write(`wsgate: cannot start: ${(e as Error).message}\n`);
    return 1;
  }
  log.info({ workers: config.workers, pids: [...members.values()].map((m) => m.worker.process.pid), maxSessions: config.maxSessions || undefined }, 'ready');

  let signals = 0;
  // A second signal, or one after --timeout began the stop, means: no more grace.
  const onSignal = (sig: string) => stopAll(signals++ === 0 && !stopping ? config.gracePeriod : 0, sig);
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  if (listenTimeoutMs > 0) setTimeout(() => stopAll(null, '--timeout reached'), listenTimeoutMs).unref();
  const code = await ended;
  log.info('stopped');
  return code;
}
