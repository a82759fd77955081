// An example wsgate plugin that does its work on worker threads: every
// message the client sends comes back gzipped, as one binary message.
//
//   routes:
//     - path: /gzip
//       handler: ./dist/examples/gzip-worker-plugin.js   # relative to the config file
//       threads: 2        # worker threads in the pool (this plugin's option)
//       level: 6          # gzip level 0..9 (this plugin's option)
//
// The main thread never compresses: for each client message it runs a task
// on a WorkerPool (gzip-worker-plugin-worker.js), which streams the result to
// the session through its worker channel. Replies keep the order of the
// requests because a session's tasks run one after another. The pool is
// ended by shutdown() when the gateway stops. See docs/workers.md.
import { accept, SessionClosedError, type HandlerFactory } from 'wsgate';
import { WorkerFailure, WorkerPool } from 'wsgate/worker';
import type { GzipTask } from './gzip-worker-plugin-worker.js';

interface GzipOptions {
  threads?: number;
  level?: number;
}

interface GzipState {
  /** The session's tasks, chained so that replies come back in request order. */
  queue: Promise<unknown>;
  waiting: number;
}

/** Requests queued per session before we stop reading from the client (inbound backpressure). */
const MAX_WAITING = 4;

const createGzipPlugin: HandlerFactory = (ctx) => {
  const { threads = 2, level = 6 } = ctx.options<GzipOptions>({
    properties: {
      threads: { type: 'integer', minimum: 1, maximum: 64 },
      level: { type: 'integer', minimum: 0, maximum: 9 },
    },
  });
  // Threads start when first needed and are kept for later sessions.
  const pool = new WorkerPool(new URL('./gzip-worker-plugin-worker.js', import.meta.url), { size: threads, log: ctx.log });

  return {
    connect: (c) => accept<GzipState>({ queue: Promise.resolve(), waiting: 0 }, { protocol: c.offeredProtocols[0] }),

    message(state, session, data) {
      if (++state.waiting >= MAX_WAITING) session.pauseReading();
      const task: GzipTask = { data, level };
      state.queue = state.queue
        .then(() => (session.isOpen ? pool.run(session, task, { label: 'gzip' }) : undefined))
        .catch((err: Error) => {
          // A failed worker has closed the session with 1011 and logged why; a closed session is a normal end.
          if (!(err instanceof WorkerFailure) && !(err instanceof SessionClosedError)) ctx.log.error({ sid: session.id, err }, 'gzip task failed');
        })
        .finally(() => {
          if (--state.waiting === MAX_WAITING - 1) session.resumeReading();
        });
    },

    // The gateway is stopping: end the pool's threads.
    shutdown: () => pool.close(),
  };
};

export default createGzipPlugin;
