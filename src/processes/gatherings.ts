// Questions the primary puts to every worker at once (their session lists,
// their metrics), for an answer that covers the whole gateway. Each
// gathering ends when every asked worker has replied, when the last one it
// waits for dies, or after COLLECT_TIMEOUT_MS: a worker that is stuck or
// dying costs the asker at most that long, and its part is left out.
import type { CloseArgs, Collectable, PrimaryMessage } from './messages.js';

/** A worker that has not sent its session list or metrics by then is left out of the answer. */
const COLLECT_TIMEOUT_MS = 1000;

interface Gathering {
  waiting: Set<number>;
  parts: unknown[];
  onPart: (worker: number, part: unknown) => void;
  done: () => void;
}

export class Gatherings {
  readonly #workers: () => readonly number[];
  readonly #send: (worker: number, message: PrimaryMessage) => void;
  readonly #open = new Map<number, Gathering>();
  #nextId = 1;

  /** `workers`: the ones to ask (those ready now); `send` reaches one of them. */
  constructor(workers: () => readonly number[], send: (worker: number, message: PrimaryMessage) => void) {
    this.#workers = workers;
    this.#send = send;
  }

  /**
   * Asks every ready worker for `what`; resolves with the parts that came
   * (a worker that could not make its part sends null, which is left out).
   * `onPart` sees each part as it arrives, with the worker that sent it.
   * `timeoutMs`: longer for a question that takes long (a reload opens token stores);
   * `args`: what the question needs ('close': which session).
   */
  gather<T>(what: Collectable, onPart: (worker: number, part: T) => void = () => {}, timeoutMs = COLLECT_TIMEOUT_MS, args?: CloseArgs): Promise<T[]> {
    return new Promise((resolve) => {
      const id = this.#nextId++;
      const workers = this.#workers();
      const gathering: Gathering = { waiting: new Set(workers), parts: [], onPart: onPart as Gathering['onPart'], done: () => {} };
      const timer = setTimeout(() => gathering.done(), timeoutMs);
      gathering.done = () => {
        clearTimeout(timer);
        this.#open.delete(id);
        resolve(gathering.parts as T[]);
      };
      this.#open.set(id, gathering);
      if (workers.length === 0) gathering.done();
      for (const worker of workers) this.#send(worker, { wsgate: 'collect', id, what, ...(args ? { args } : {}) });
    });
  }

  /** `worker`'s reply to gathering `id`. */
  answer(worker: number, id: number, part: unknown): void {
    const gathering = this.#open.get(id);
    if (!gathering || !gathering.waiting.delete(worker)) return;
    if (part !== null) {
      gathering.parts.push(part);
      gathering.onPart(worker, part);
    }
    if (gathering.waiting.size === 0) gathering.done();
  }

  /** `worker` has exited: answers it will never give. A gathering waiting only for it ends now, not at its timeout. */
  forget(worker: number): void {
    for (const gathering of this.#open.values()) if (gathering.waiting.delete(worker) && gathering.waiting.size === 0) gathering.done();
  }
}
