// A test plugin whose producers run on a WorkerPool (workers-task.js): the
// route's `task` option (or ?task=, or ?tasks=a,b,c one per producer) picks
// what they do; other query parameters are passed on to the task. It records how each
// producer ended, and exposes its pools, so tests can check that no thread
// is left busy. The session closes with 1000 once every producer is done.
import { accept, type HandlerFactory } from '../../src/handlers/types.js';
import { WorkerPool } from '../../src/worker/pool.js';

interface PluginOptions {
  task: string;
  producers?: number;
  poolSize?: number;
  credit?: number;
}

export interface Outcome {
  sid: string;
  producer: number;
  outcome: 'done' | 'closed' | 'failed';
  error?: string;
}

export const pools = new Set<WorkerPool>();
export const outcomes: Outcome[] = [];

const createWorkersPlugin: HandlerFactory = (ctx) => {
  const opts = ctx.options<PluginOptions>({
    properties: {
      task: { type: 'string' },
      producers: { type: 'integer', minimum: 1 },
      poolSize: { type: 'integer', minimum: 1 },
      credit: { type: 'integer', minimum: 1 },
    },
    required: ['task'],
  });
  const pool = new WorkerPool(new URL('./workers-task.js', import.meta.url), { size: opts.poolSize ?? 4, credit: opts.credit, log: ctx.log });
  pools.add(pool);
  return {
    connect: (c) => accept(Object.fromEntries(c.url.searchParams) as Record<string, string>),
    open(params, session) {
      const producers = Number(params.producers ?? opts.producers ?? 1);
      const runs = Array.from({ length: producers }, (_, i) =>
        pool.run(session, { ...params, task: params.tasks?.split(',')[i] ?? params.task ?? opts.task, producer: i + 1 }, { label: `producer ${i + 1}` }).then(
          (outcome) => outcomes.push({ sid: session.id, producer: i + 1, outcome }),
          (err: Error) => outcomes.push({ sid: session.id, producer: i + 1, outcome: 'failed', error: err.message }),
        ),
      );
      void Promise.all(runs).then(() => {
        if (session.isOpen) session.close(1000, 'producers done');
      });
    },
    shutdown: async () => {
      await pool.close();
      pools.delete(pool);
    },
  };
};

export default createWorkersPlugin;
