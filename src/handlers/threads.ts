// The concurrency demo of apache-websocket's test plugin (design.md §4):
// P producers send "producer:<i> count:<n>" for n = count..1 at the same
// time on one connection, then the server closes with 1000. Each producer
// yields after every message so their messages really interleave, and waits
// for drain when the client reads slowly, so memory stays bounded.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { accept, refuse, type Handler, type HandlerFactory } from './types.js';
import { SessionClosedError } from '../session/errors.js';
import type { Session } from '../session/session.js';

const LIMITS = { producers: { min: 1, max: 1000 }, count: { min: 1, max: 10_000_000 } };

interface ThreadsOptions {
  producers?: number;
  count?: number;
  workers?: boolean;
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
    },
  });
  if (opts.workers) ctx.invalid('workers', 'producers on worker threads are not available yet; remove "workers: true"');
  const defaults = { producers: opts.producers ?? 10, count: opts.count ?? 1000 };

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
      const producers = Array.from({ length: state.producers }, (_, i) => produce(session, i + 1, state.count));
      void Promise.all(producers).then(
        () => session.close(1000, 'all producers done'),
        (err: Error) => {
          if (!(err instanceof SessionClosedError)) {
            ctx.log.error({ sid: session.id, err }, 'producer failed');
            session.close(1011, 'producer failed');
          }
        },
      );
    },
    // Incoming messages are read and ignored; `ws` answers pings.
  };
  return handler;
};

async function produce(session: Session, producer: number, count: number): Promise<void> {
  for (let n = count; n >= 1; n--) {
    if (!session.send(`producer:${producer} count:${n}`)) await session.drain();
    await nextTurn();
  }
}
