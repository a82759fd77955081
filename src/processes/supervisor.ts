// The worker processes of --workers: forks them, knows which are ready,
// replaces one that dies (only its own sessions end), gives up when they
// keep dying, and stops them all gracefully. What a worker held
// (connections, session slots, counts, metrics) is kept by the parts that
// track it; they hear of its exit through hooks.gone() before it is replaced.
import cluster, { type Worker } from 'node:cluster';
import { FINGERPRINT_KEY_ENV } from '../config/fingerprint-key.js';
import { currentFingerprintKey, type Logger } from '../observability/logger.js';
import type { Recipient } from './balancer.js';
import { isWsgateMessage, WORKER_ID_ENV, type PrimaryMessage, type WorkerMessage } from './messages.js';

/** More deaths than this within CRASH_WINDOW_MS means the workers cannot run: give up. */
const CRASH_LIMIT = 5;
const CRASH_WINDOW_MS = 60_000;
/** Workers that are not all ready by then (a plugin hanging in its factory) fail the start. */
const STARTUP_TIMEOUT_MS = 60_000;

/** What a worker says to the primary, less 'ready' (the supervisor's own). */
export type WorkerRequest = Exclude<WorkerMessage, { wsgate: 'ready' }>;

export interface SupervisorHooks {
  /** A message from a running worker; `reply` reaches that very process (not a replacement with its id). */
  message(worker: number, message: WorkerRequest, reply: (answer: PrimaryMessage) => void): void;
  /** `worker` has exited: drop what it held. Returns how many sessions it had open, for the log. */
  gone(worker: number): number;
  /** A worker that died is being replaced. */
  replaced(): void;
  /** The stop has begun: accept no more connections. */
  stopping(): void;
}

interface Member {
  id: number;
  worker: Worker;
  ready: boolean;
}

/** Deaths in the last `windowMs`. */
export class CrashWindow {
  readonly #windowMs: number;
  readonly #deaths: number[] = [];

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Counts a death at `now` (ms); returns the deaths within the window, this one included. */
  record(now: number): number {
    this.#deaths.push(now);
    while (this.#deaths.length > 0 && this.#deaths[0]! < now - this.#windowMs) this.#deaths.shift();
    return this.#deaths.length;
  }
}

export class Supervisor {
  readonly #count: number;
  readonly #log: Logger;
  readonly #hooks: SupervisorHooks;
  readonly #members = new Map<number, Member>();
  readonly #crashes = new CrashWindow(CRASH_WINDOW_MS);
  #started = false;
  #stopping = false;
  #exitCode = 0;
  #settleStart: (code: number | null) => void = () => {};
  #settleEnd: (code: number) => void = () => {};
  /** Resolves with the exit code once stop() has begun and every worker has exited. */
  readonly ended = new Promise<number>((resolve) => (this.#settleEnd = resolve));

  constructor(count: number, log: Logger, hooks: SupervisorHooks) {
    this.#count = count;
    this.#log = log;
    this.#hooks = hooks;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /**
   * Forks the workers. Resolves null once every one is ready; if one exits
   * first or STARTUP_TIMEOUT_MS passes, kills them all and resolves the exit code.
   */
  async start(): Promise<number | null> {
    const startup = new Promise<number | null>((resolve) => (this.#settleStart = resolve));
    cluster.setupPrimary({ silent: false });
    for (let id = 1; id <= this.#count; id++) this.#fork(id);
    const timer = setTimeout(() => {
      this.#log.fatal({ timeoutMs: STARTUP_TIMEOUT_MS, ready: [...this.#members.values()].filter((m) => m.ready).length }, 'workers did not start in time');
      this.#settleStart(1);
    }, STARTUP_TIMEOUT_MS);
    const failed = await startup;
    clearTimeout(timer);
    this.#started = true;
    if (failed !== null) this.kill();
    return failed;
  }

  /** The workers that take connections and questions now (ready and connected), in the order they were forked. */
  serving(): Recipient[] {
    return [...this.#members.values()].filter((m) => m.ready && m.worker.isConnected());
  }

  /** Every worker process, ready or not. */
  processes(): Array<{ id: number; pid: number }> {
    return [...this.#members.values()].map((m) => ({ id: m.id, pid: m.worker.process.pid ?? 0 }));
  }

  /** For the 'ready' log line. */
  pids(): Array<number | undefined> {
    return [...this.#members.values()].map((m) => m.worker.process.pid);
  }

  send(worker: number, message: PrimaryMessage): void {
    const member = this.#members.get(worker);
    if (member) this.#send(member, message);
  }

  /** Stops every worker gracefully; graceMs null = let sessions run until they end (--timeout). */
  stop(graceMs: number | null, why: string): void {
    if (!this.#stopping) this.#log.info({ why, workers: this.#members.size }, 'shutting down');
    this.#stopping = true;
    this.#hooks.stopping();
    for (const m of this.#members.values()) this.#send(m, { wsgate: 'stop', graceMs });
    if (this.#members.size === 0) this.#settleEnd(this.#exitCode);
  }

  /** Ends every worker at once (a start that failed). */
  kill(): void {
    this.#stopping = true;
    for (const m of this.#members.values()) m.worker.kill('SIGKILL');
  }

  #fork(id: number): void {
    // The primary's fingerprint key goes along, so every process of one gateway fingerprints a token alike.
    const worker = cluster.fork({ [WORKER_ID_ENV]: String(id), [FINGERPRINT_KEY_ENV]: currentFingerprintKey() });
    const member: Member = { id, worker, ready: false };
    this.#members.set(id, member);
    worker.on('message', (m: unknown) => {
      // A dead worker's last messages may arrive after its 'exit': they must not move the counts.
      if (!isWsgateMessage<WorkerMessage>(m) || this.#members.get(id) !== member) return;
      if (m.wsgate !== 'ready') return this.#hooks.message(id, m, (answer) => this.#send(member, answer));
      member.ready = true;
      if (!this.#started && [...this.#members.values()].every((x) => x.ready)) this.#settleStart(null);
    });
    worker.on('exit', (code, signal) => {
      this.#members.delete(id);
      const sessionsLost = this.#hooks.gone(id);
      if (!this.#started) {
        // A worker that cannot start (bad plugin, unreadable file) fails the whole start, with its exit code.
        this.#settleStart(code || 1);
        return;
      }
      if (this.#stopping) {
        if (code !== 0) this.#exitCode = 1;
        if (this.#members.size === 0) this.#settleEnd(this.#exitCode);
        return;
      }
      this.#log.error({ worker: id, pid: worker.process.pid, code, signal, sessionsLost }, 'worker died; starting a new one');
      const deaths = this.#crashes.record(Date.now());
      if (deaths > CRASH_LIMIT) {
        this.#log.fatal({ deaths, windowMs: CRASH_WINDOW_MS }, 'workers keep dying; stopping');
        this.#exitCode = 1;
        this.stop(0, 'workers keep dying');
        return;
      }
      this.#hooks.replaced();
      this.#fork(id);
    });
  }

  #send(member: Member, message: PrimaryMessage): void {
    if (member.worker.isConnected()) member.worker.send(message);
  }
}
