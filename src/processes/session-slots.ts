// The session limit (maxSessions) across every worker. A worker asks the
// primary for a slot before its handler connects and gives it back when the
// session ends; the primary counts them here, per worker, so that the slots
// of a worker that dies come back at once: its sessions ended with it, and
// it will never say so.
import { LocalAdmission } from '../server/admission.js';

export class SessionSlots {
  /** The one counter the limit is checked against (the same rule as in one process). */
  readonly #limit: LocalAdmission;
  /** Slots each worker holds. */
  readonly #held = new Map<number, number>();

  constructor(maxSessions: number) {
    this.#limit = new LocalAdmission(maxSessions);
  }

  /** Takes a slot for `worker`; false when the limit is reached. */
  take(worker: number): boolean {
    if (!this.#limit.admit()) return false;
    this.#held.set(worker, (this.#held.get(worker) ?? 0) + 1);
    return true;
  }

  /** `worker` gives back one slot (a stray give-back from a worker holding none is ignored). */
  give(worker: number): void {
    const held = this.#held.get(worker) ?? 0;
    if (held === 0) return;
    this.#held.set(worker, held - 1);
    this.#limit.leave();
  }

  /** `worker` has exited: every slot it held is free again. */
  release(worker: number): void {
    for (let held = this.#held.get(worker) ?? 0; held > 0; held--) this.#limit.leave();
    this.#held.delete(worker);
  }
}
