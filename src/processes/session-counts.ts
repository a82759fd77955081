// The whole gateway's session counts for /healthz under --workers. Each
// worker reports its own open and lifetime counts when they change; a worker
// that exits leaves its lifetime count behind, so the total never falls.
import type { ProcessesStatus } from '../server/gateway.js';

export class SessionCounts {
  readonly #reported = new Map<number, { open: number; total: number }>();
  /** Sessions of workers that have exited, for the lifetime total. */
  #totalOfGone = 0;

  report(worker: number, open: number, total: number): void {
    this.#reported.set(worker, { open, total });
  }

  /** `worker` has exited; returns how many sessions it had open (they ended with it). */
  retire(worker: number): number {
    const last = this.#reported.get(worker) ?? { open: 0, total: 0 };
    this.#reported.delete(worker);
    this.#totalOfGone += last.total;
    return last.open;
  }

  /** The counts over `workers` (every worker process, ready or not), each listed with its own. */
  status(workers: ReadonlyArray<{ id: number; pid: number }>): ProcessesStatus {
    const listed = workers.map(({ id, pid }) => ({ id, pid, sessions: this.#reported.get(id)?.open ?? 0 }));
    const sessionsTotal = this.#totalOfGone + workers.reduce((a, w) => a + (this.#reported.get(w.id)?.total ?? 0), 0);
    return { sessions: listed.reduce((a, w) => a + w.sessions, 0), sessionsTotal, workers: listed };
  }
}
