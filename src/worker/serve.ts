// The worker-thread side of a WorkerPool: serveTasks(fn) runs fn(session,
// data) for every task the pool sends this thread, each with its own
// session channel, many at once (they are async). When fn returns, the
// producer is released; when it throws, its session is closed with 1011 and
// the error is logged by the gateway; when it stops because the session
// closed (SessionClosedError), that is a normal end.
import { parentPort, type MessagePort } from 'node:worker_threads';
import { SessionClosedError } from '../session/errors.js';
import { connectSession, type WorkerSession } from './connect.js';

export type WorkerTask<D> = (session: WorkerSession, data: D) => Promise<void> | void;

/** What a WorkerPool posts to its threads. */
export interface TaskMessage<D = unknown> {
  t: 'task';
  port: MessagePort;
  data: D;
}

export function serveTasks<D>(task: WorkerTask<D>): void {
  if (!parentPort) throw new Error('serveTasks() runs in a worker thread started by a WorkerPool');
  const running = new Set<WorkerSession>();
  // An uncaught exception or process.exit() ends the thread at once: say why to the pool
  // (so it gives this thread no more tasks) and to every session the thread served.
  let uncaught: Error | null = null;
  process.on('uncaughtExceptionMonitor', (err) => (uncaught = err));
  process.on('exit', (code) => {
    const why = uncaught ? `thread died of ${uncaught.name}: ${uncaught.message}` : `thread exited with code ${code}`;
    parentPort!.postMessage({ t: 'exiting', why });
    for (const session of running) session.exiting(why);
  });
  parentPort.on('message', (msg: TaskMessage<D>) => {
    if (msg?.t !== 'task') return;
    const session = connectSession(msg.port);
    running.add(session);
    void (async () => {
      try {
        await task(session, msg.data);
      } catch (err) {
        const stopped = err instanceof SessionClosedError || (!session.isOpen && (err as Error)?.name === 'AbortError');
        if (!stopped) return session.fail(err);
      }
      return session.release();
    })().finally(() => running.delete(session));
  });
}
