// The handler bench/workers.ts measures: `producers` producers per session
// each send `count` binary messages of `size` bytes, then the session closes
// with 1000. mode 'main': producers are async loops on the main thread
// (send + drain); mode 'worker': each runs on a WorkerPool thread
// (workers-task.js) through the worker channel. Query parameters set
// producers, count, size and transfer (move a fresh buffer per message).
import { accept, type HandlerFactory } from '../src/handlers/types.js';
import type { Session } from '../src/session/session.js';
import { WorkerPool } from '../src/worker/pool.js';

export interface BenchTask {
  count: number;
  size: number;
  transfer: boolean;
}

interface BenchOptions {
  mode: 'main' | 'worker';
  poolSize?: number;
  reuse?: boolean;
  credit?: number;
}

const createBenchPlugin: HandlerFactory = (ctx) => {
  const opts = ctx.options<BenchOptions>({
    properties: {
      mode: { enum: ['main', 'worker'] },
      poolSize: { type: 'integer', minimum: 1 },
      reuse: { type: 'boolean' },
      credit: { type: 'integer', minimum: 1 },
    },
    required: ['mode'],
  });
  const pool = opts.mode === 'worker'
    ? new WorkerPool(new URL('./workers-task.js', import.meta.url), { size: opts.poolSize ?? 4, reuse: opts.reuse ?? true, credit: opts.credit })
    : null;
  return {
    connect(c) {
      const q = (k: string, d: number) => Number(c.url.searchParams.get(k) ?? d);
      return accept({ producers: q('producers', 4), task: { count: q('count', 1000), size: q('size', 64), transfer: q('transfer', 0) === 1 } });
    },
    open(s: { producers: number; task: BenchTask }, session) {
      const runs = Array.from({ length: s.producers }, () => (pool ? pool.run(session, s.task) : produce(session, s.task)));
      void Promise.all(runs).then(
        () => session.close(1000),
        () => session.close(1011, 'producer failed'),
      );
    },
    shutdown: () => pool?.close(),
  };
};

async function produce(session: Session, { count, size }: BenchTask): Promise<void> {
  const payload = Buffer.alloc(size, 1);
  for (let n = 0; n < count; n++) if (!session.send(payload)) await session.drain();
}

export default createBenchPlugin;
