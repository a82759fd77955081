// The TCP service behind the soak's gateway. Each connection starts with the
// session id the client sent (4 bytes); from then on the backend checks the
// client's stream as it arrives, sends its own stream, and plays the
// backend's part of the session's fault (reset, half-close).
import net from 'node:net';
import { between, header, HEADER_BYTES, prng, PrefixCheck, slice } from './streams.js';
import type { SessionPlan } from './plan.js';

export interface BackendRecord {
  /** The client's stream as received (a correct prefix, or complete). */
  up: PrefixCheck;
  /** Bytes of the backend's stream written to the socket. */
  downSent: number;
  /** The gateway half-closed (FIN) the connection. */
  eof: boolean;
  /** The socket has closed (set last). */
  closed: boolean;
  error: string | undefined;
  /** Date.now() of the last data from the gateway and of the close, for reports. */
  lastDataAt: number;
  closedAt: number;
  /** When the backend accepted the connection, and when the id header arrived. */
  acceptedAt: number;
  identifiedAt: number;
}

export class SoakBackend {
  readonly records = new Map<number, BackendRecord>();
  /** What went wrong that belongs to no session record (a duplicate id, a bad header). */
  readonly problems: string[] = [];
  readonly #sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly plans: SessionPlan[],
  ) {}

  static async start(plans: SessionPlan[]): Promise<SoakBackend> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true });
    server.maxConnections = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => resolve());
    });
    const b = new SoakBackend(server, (server.address() as net.AddressInfo).port, plans);
    server.on('connection', (s) => b.#onConnection(s));
    return b;
  }

  /** Sockets still open (the gateway should close each one after its session). */
  get open(): number {
    return this.#sockets.size;
  }

  #onConnection(s: net.Socket): void {
    const acceptedAt = Date.now();
    this.#sockets.add(s);
    let head = Buffer.alloc(0);
    let rec: BackendRecord | undefined;
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (rec) rec.error ??= e.code ?? e.message;
    });
    s.on('close', () => {
      this.#sockets.delete(s);
      // (A connection whose id never came belongs to a client that reset at once: nothing to check.)
      if (rec) {
        rec.closed = true;
        rec.closedAt = Date.now();
      }
    });
    s.on('data', (d: Buffer) => {
      if (rec) {
        rec.lastDataAt = Date.now();
        return rec.up.add(d);
      }
      head = Buffer.concat([head, d]);
      if (head.length < HEADER_BYTES) return;
      const id = head.readUInt32BE(0);
      const plan = this.plans[id];
      if (!plan || this.records.has(id) || !head.subarray(0, HEADER_BYTES).equals(header(id))) {
        this.problems.push(`backend: bad or repeated session header ${head.subarray(0, HEADER_BYTES).toString('hex')}`);
        return s.destroy();
      }
      rec = { up: new PrefixCheck(id, 'up', plan.up), downSent: 0, eof: false, closed: false, error: undefined, lastDataAt: Date.now(), closedAt: 0, acceptedAt, identifiedAt: Date.now() };
      this.records.set(id, rec);
      if (head.length > HEADER_BYTES) rec.up.add(head.subarray(HEADER_BYTES));
      this.#play(s, plan, rec);
    });
    s.on('end', () => {
      if (rec) rec.eof = true;
      s.end();
    });
  }

  /** Sends the backend's stream and acts out the fault. */
  async #play(s: net.Socket, plan: SessionPlan, rec: BackendRecord): Promise<void> {
    const rand = prng(plan.seed ^ 0xbac);
    const until = plan.fault === 'backend-reset' ? plan.faultAt : plan.down;
    // To a stalled client, from faultAt on, a trickle (1-2 KiB every 2 ms): the gateway reads
    // each piece on its own and queues a copy, so data piles up in the gateway (see plan.ts).
    // At most 3 s of it, so late timers on a loaded machine cannot stretch the session.
    const trickleFrom = plan.fault === 'client-stall' ? plan.faultAt : Infinity;
    let trickleUntil = Infinity;
    while (rec.downSent < until && !s.destroyed && !s.writableEnded) {
      if (rec.downSent >= trickleFrom && trickleUntil === Infinity) trickleUntil = Date.now() + 3000;
      const trickle = rec.downSent >= trickleFrom && Date.now() < trickleUntil;
      const n = Math.min(until - rec.downSent, trickle ? between(rand, 1024, 2048) : between(rand, 1, 64 * 1024));
      const ok = s.write(slice(plan.id, 'down', rec.downSent, n));
      rec.downSent += n;
      if (!ok) await drained(s);
      else if (trickle) await new Promise((r) => setTimeout(r, 2));
    }
    if (s.destroyed || s.writableEnded) return;
    switch (plan.fault) {
      case 'backend-reset':
        // A few milliseconds later, so some resets find data still in flight.
        setTimeout(() => {
          if (!s.destroyed) s.resetAndDestroy();
        }, between(rand, 0, 5));
        break;
      case 'backend-half-close':
        s.end();
        break;
      case 'client-stall': {
        // Half-close once the client's stream is in, while the client is still not reading.
        const endWhenIn = (): void => {
          if (rec.up.bytes >= plan.up || s.destroyed) {
            s.off('data', endWhenIn);
            if (!s.destroyed) s.end();
          }
        };
        s.on('data', endWhenIn);
        endWhenIn();
        break;
      }
      default:
      // Wait for the gateway's FIN (answered in 'end').
    }
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** Resolves on 'drain' or 'close', whichever comes first. */
function drained(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      s.off('drain', done).off('close', done);
      resolve();
    };
    s.on('drain', done).on('close', done);
  });
}
