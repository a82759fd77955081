// The concurrency demo of apache-websocket's test plugin (design.md §4):
// P producers send "producer:<i> count:<n>" for n = count..1 at the same
// time on one connection, then the server closes with 1000. Each producer
// yields after every message so their messages really interleave, and waits
// for drain when the client reads slowly, so memory stays bounded.
//
// With `workers: true` each producer runs on a worker thread of a pool
// (threads-worker.js) and sends through the worker channel: a session's
// producers go to different threads, the pool's threads serve every
// session, and they are ended by the gateway's stop (shutdown()).
import { setImmediate as nextTurn } from 'node:timers/promises';
import { accept, refuse, type Handler, type HandlerFactory } from './types.js';
import { SessionClosedError } from '../session/errors.js';
import type { Session } from '../session/session.js';
import { WorkerFailure } from '../worker/bridge.js';
import { WorkerPool } from '../worker/pool.js';
import type { ProducerTask } from './threads-worker.js';

const LIMITS = { producers: { min: 1, max: 1000 }, count: { min: 1, max: 10_000_000 } };

interface ThreadsOptions {
  producers?: number;
  count?: number;
  workers?: boolean;
  /** Threads in the pool with `workers: true` (default: `producers`, at most 64, so each of a session's producers has its own). */
  workerThreads?: number;
}

interface ThreadsState {
  producers: number;
  count: number;
}

export const createThreads: HandlerFactory = (ctx) => {
  const opts = ctx.options<ThreadsOptions>({
    properties: {
      producers: { type: 'integer', minimum: LIMITS.producers.min, maximum: LIMITS.producers.max },
      count: { type: 'integer', minimum: LIMITS.count.min, maximum: LIMITS.count.max },
      workers: { type: 'boolean' },
      workerThreads: { type: 'integer', minimum: 1, maximum: 256 },
    },
  });
  const defaults = { producers: opts.producers ?? 10, count: opts.count ?? 1000 };
  if (opts.workerThreads !== undefined && !opts.workers) ctx.invalid('workerThreads', 'applies only with "workers: true"');
  const pool = opts.workers
    ? new WorkerPool(new URL('./threads-worker.js', import.meta.url), { size: opts.workerThreads ?? Math.min(defaults.producers, 64), log: ctx.log })
    : null;

  const handler: Handler<ThreadsState> = {
    connect(c) {
      const state = { ...defaults };
      for (const key of ['producers', 'count'] as const) {
        const raw = c.url.searchParams.get(key);
        if (raw === null) continue;
        const n = Number(raw);
        const { min, max } = LIMITS[key];
        if (!/^\d+$/.test(raw) || n < min || n > max) return refuse(400, `query parameter ${key} must be an integer ${min}..${max}`);
        state[key] = n;
      }
      return accept(state, { protocol: c.offeredProtocols[0] });
    },
    open(state, session) {
      const producers = Array.from({ length: state.producers }, (_, i) =>
        pool ? onWorker(pool, session, i + 1, state) : produce(session, i + 1, state.count),
      );
      void Promise.all(producers).then(
        () => session.close(1000, 'all producers done'),
        (err: Error) => {
          // A failed worker has already closed the session with 1011 and logged why.
          if (!(err instanceof SessionClosedError) && !(err instanceof WorkerFailure)) {
            ctx.log.error({ sid: session.id, err }, 'producer failed');
            session.close(1011, 'producer failed');
          }
        },
      );
    },
    // Incoming messages are read and ignored; `ws` answers pings.
    shutdown: () => pool?.close(),
  };
  return handler;
};

async function produce(session: Session, producer: number, count: number): Promise<void> {
  for (let n = count; n >= 1; n--) {
    if (!session.send(`producer:${producer} count:${n}`)) await session.drain();
    await nextTurn();
  }
}

/**
 * A worker's messages reach the session in runs of up to one credit window
 * (the main thread takes each thread's queued batches in turn), so the demo
 * uses a small window: runs of about 90 messages, still plainly interleaved.
 */
const DEMO_CREDIT = 2048;

/** One producer on a pool thread. */
async function onWorker(pool: WorkerPool, session: Session, producer: number, state: ThreadsState): Promise<void> {
  const task: ProducerTask = { producer, count: state.count };
  await pool.run(session, task, { label: `producer ${producer}`, credit: DEMO_CREDIT });
}
