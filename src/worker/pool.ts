// Main-thread side: a pool of worker threads that run producers for
// sessions. run(session, data) opens a channel to the session (the bridge in
// src/worker/bridge.ts), hands its port to a thread, and settles
// when that producer is done. A thread runs many producers at once (they
// are async); a session's producers go to different threads while the pool
// has more than one. Threads are started on demand up to `size`, kept for
// later sessions (starting one costs milliseconds and megabytes; see
// docs/workers.md), unref'd while idle, and ended by close().
//
// A thread that crashes or exits fails the producers it was running (their
// sessions close with 1011); the pool starts a new thread when next needed.
import { Worker } from 'node:worker_threads';
import type { Logger } from '../observability/logger.js';
import type { Session } from '../session/session.js';
import { openWorkerChannel, type ChannelOutcome, type WorkerChannel } from './bridge.js';
import type { TaskMessage } from './serve.js';

export interface WorkerPoolOptions {
  /** Most threads at once (default 4). */
  size?: number;
  /** Credit window of each producer, in bytes (default: the bridge's, 256 KiB). */
  credit?: number;
  log?: Logger;
  /**
   * false: a fresh thread per producer, ended when it is done (no pool).
   * Kept for measurement; see docs/workers.md. Default true.
   */
  reuse?: boolean;
}

export interface WorkerPoolStats {
  threads: number;
  /** Threads running at least one producer. */
  busy: number;
  /** Producers running now. */
  tasks: number;
  tasksStarted: number;
  /** Most bytes any producer had in flight, and how many producers ever exceeded their window. */
  peakInFlight: number;
  creditExceeded: number;
  /** Most bytes a session held after applying a worker's batch. */
  peakBuffered: number;
  /** Times a producer's credit was held back until its session drained (backpressure at work). */
  drainWaits: number;
}

interface Thread {
  worker: Worker;
  tasks: Set<WorkerChannel>;
  /** Producers per session id on this thread. */
  sessions: Map<string, number>;
  error: Error | null;
}

let liveThreads = 0;
const openPools = new Set<WorkerPool>();

/** Worker threads started by any pool and not yet exited (for leak checks). */
export function liveWorkerThreads(): number {
  return liveThreads;
}

/** Every pool not yet closed, e.g. to read their stats. */
export function workerPools(): ReadonlySet<WorkerPool> {
  return openPools;
}

export class WorkerPool {
  readonly #script: URL | string;
  readonly #size: number;
  readonly #credit: number | undefined;
  readonly #log: Logger | undefined;
  readonly #reuse: boolean;
  readonly #threads = new Set<Thread>();
  readonly #exits = new Set<Promise<void>>();
  #closed = false;
  #stats = { tasksStarted: 0, peakInFlight: 0, creditExceeded: 0, peakBuffered: 0, drainWaits: 0 };

  /** `script` is the worker module (compiled JS) that calls serveTasks(). */
  constructor(script: URL | string, opts: WorkerPoolOptions = {}) {
    this.#script = script;
    this.#size = Math.max(1, Math.floor(opts.size ?? 4));
    this.#credit = opts.credit;
    this.#log = opts.log;
    this.#reuse = opts.reuse ?? true;
    openPools.add(this);
  }

  get stats(): WorkerPoolStats {
    const threads = [...this.#threads];
    return {
      threads: threads.length,
      busy: threads.filter((t) => t.tasks.size > 0).length,
      tasks: threads.reduce((n, t) => n + t.tasks.size, 0),
      ...this.#stats,
    };
  }

  /**
   * Runs one producer for `session` on a pool thread: the thread's
   * serveTasks() function gets a connected WorkerSession and `data`
   * (structured-cloned). Resolves 'done' (it returned) or 'closed' (it
   * stopped because the session closed); rejects with WorkerFailure if it
   * threw or its thread died; the session is then closed with 1011.
   */
  run(session: Session, data: unknown, opts: { label?: string; credit?: number } = {}): Promise<ChannelOutcome> {
    if (this.#closed) return Promise.reject(new Error('the worker pool is closed'));
    let thread: Thread;
    try {
      thread = this.#pick(session.id);
    } catch (e) {
      return Promise.reject(e as Error); // e.g. the script cannot be started
    }
    const channel = openWorkerChannel(session, { credit: opts.credit ?? this.#credit, log: this.#log, label: opts.label });
    thread.tasks.add(channel);
    thread.sessions.set(session.id, (thread.sessions.get(session.id) ?? 0) + 1);
    thread.worker.ref();
    this.#stats.tasksStarted++;
    const message: TaskMessage = { t: 'task', port: channel.port, data };
    thread.worker.postMessage(message, [channel.port]);
    const finished = () => this.#taskEnded(thread, channel, session.id);
    channel.done.then(finished, finished);
    return channel.done;
  }

  /** Ends every thread (running producers fail); later run() calls reject. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    openPools.delete(this);
    for (const t of this.#threads) void t.worker.terminate();
    await Promise.all(this.#exits);
  }

  #pick(sessionId: string): Thread {
    let best: Thread | null = null;
    let bestKey = [Infinity, Infinity];
    for (const t of this.#threads) {
      if (t.error) continue; // crashed, about to exit
      const key = [t.sessions.get(sessionId) ?? 0, t.tasks.size];
      if (key[0]! < bestKey[0]! || (key[0] === bestKey[0] && key[1]! < bestKey[1]!)) [best, bestKey] = [t, key];
    }
    const grow = this.#threads.size < this.#size && (!best || best.tasks.size > 0);
    return !this.#reuse || grow || !best ? this.#spawn() : best;
  }

  #spawn(): Thread {
    const worker = new Worker(this.#script);
    const thread: Thread = { worker, tasks: new Set(), sessions: new Map(), error: null };
    liveThreads++;
    this.#threads.add(thread);
    // serveTasks() says so when its thread is going down: no new task may land on it.
    worker.on('message', (msg: { t?: string; why?: string }) => {
      if (msg?.t === 'exiting') thread.error ??= new Error(msg.why);
    });
    worker.on('error', (err) => {
      thread.error = err;
      this.#log?.error({ err }, 'worker thread crashed');
      this.#failAll(thread, `worker thread crashed: ${err.message}`);
    });
    const exited = new Promise<void>((resolve) => {
      worker.once('exit', (code) => {
        liveThreads--;
        this.#threads.delete(thread);
        this.#failAll(thread, this.#closed ? 'the worker pool was closed' : `worker thread exited with code ${code}`);
        this.#exits.delete(exited);
        resolve();
      });
    });
    this.#exits.add(exited);
    return thread;
  }

  #failAll(thread: Thread, reason: string): void {
    for (const channel of [...thread.tasks]) channel.fail(reason);
  }

  #taskEnded(thread: Thread, channel: WorkerChannel, sessionId: string): void {
    thread.tasks.delete(channel);
    const left = (thread.sessions.get(sessionId) ?? 1) - 1;
    if (left > 0) thread.sessions.set(sessionId, left);
    else thread.sessions.delete(sessionId);
    const s = this.#stats;
    s.peakInFlight = Math.max(s.peakInFlight, channel.peakInFlight);
    s.peakBuffered = Math.max(s.peakBuffered, channel.peakBuffered);
    s.drainWaits += channel.drainWaits;
    if (channel.peakInFlight > channel.window) s.creditExceeded++;
    if (thread.tasks.size > 0 || !this.#threads.has(thread)) return;
    if (this.#reuse && !this.#closed) thread.worker.unref(); // an idle pool does not keep the process alive
    else void thread.worker.terminate();
  }
}
