// Which worker gets an accepted connection: the ready one with the fewest
// open connections, ties in turn. Not node:cluster's round robin: that gives
// the next connection to whichever worker answered first, so a burst of
// long-lived sessions can all land on one process.
//
// The socket travels to the worker as a handle. Until the worker says it has
// its own copy ('adopted') the primary keeps its copy, so a worker that dies
// with handoffs queued cannot leave them open and unowned: the primary's
// copy is then the last one, and closing it ends the connection for the client.
import type { Worker } from 'node:cluster';
import type net from 'node:net';
import type { PrimaryMessage } from './messages.js';

/** A worker that takes connections now (ready and connected), as the supervisor lists them. */
export interface Recipient {
  id: number;
  worker: Pick<Worker, 'send'>;
}

/** One worker's share: connections handed over and not yet reported closed, and those not yet adopted. */
interface Load {
  connections: number;
  inFlight: Map<number, net.Socket>;
}

/**
 * The index of the least loaded of `loads`: `start` itself unless another
 * has fewer, else the first with the fewest. Moving `start` on each pick
 * spreads ties in turn.
 */
export function leastLoaded(loads: readonly number[], start: number): number {
  let best = start;
  for (const [i, load] of loads.entries()) if (load < loads[best]!) best = i;
  return best;
}

export class Balancer {
  readonly #recipients: () => readonly Recipient[];
  readonly #loads = new Map<number, Load>();
  #turn = 0;
  #nextConnectionId = 1;

  constructor(recipients: () => readonly Recipient[]) {
    this.#recipients = recipients;
  }

  /** Sends `socket` (accepted on config.listen[listener]) to the least loaded worker; closes it if none is ready. */
  handOver(socket: net.Socket, listener: number): void {
    const ready = this.#recipients();
    if (ready.length === 0) {
      socket.destroy(); // no worker to take it (all restarting): the client retries
      return;
    }
    this.#turn = (this.#turn + 1) % ready.length;
    const to = ready[leastLoaded(ready.map((r) => this.#load(r.id).connections), this.#turn)]!;
    const load = this.#load(to.id);
    const id = this.#nextConnectionId++;
    load.connections++;
    load.inFlight.set(id, socket);
    // keepOpen: our copy stays ours until 'adopted' (see the header).
    to.worker.send({ wsgate: 'connection', id, listener } satisfies PrimaryMessage, socket, { keepOpen: true }, (err) => {
      if (!err || !load.inFlight.delete(id)) return;
      load.connections--;
      socket.destroy();
    });
  }

  /** `worker` holds connection `id` now. */
  adopted(worker: number, id: number): void {
    const inFlight = this.#loads.get(worker)?.inFlight;
    inFlight?.get(id)?.destroy(); // closes our descriptor only; the worker holds its own
    inFlight?.delete(id);
  }

  /** A connection `worker` served has closed. */
  closed(worker: number): void {
    const load = this.#load(worker);
    load.connections = Math.max(0, load.connections - 1);
  }

  /** `worker` has exited: the handoffs it never acknowledged end here (our copy is the last one). */
  retire(worker: number): void {
    const load = this.#loads.get(worker);
    this.#loads.delete(worker);
    for (const socket of load?.inFlight.values() ?? []) socket.destroy();
    load?.inFlight.clear();
  }

  #load(worker: number): Load {
    let load = this.#loads.get(worker);
    if (!load) this.#loads.set(worker, (load = { connections: 0, inFlight: new Map() }));
    return load;
  }
}
