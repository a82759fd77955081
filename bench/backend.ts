// The TCP service behind the gateway. Scenarios either pull accepted sockets
// one at a time (to pair each with the WS session that caused it) or install
// a handler (echo, idle, one-byte).
import net from 'node:net';
import { chunks, StreamCheck } from './data.js';
import { nowNs } from './util.js';

export class Backend {
  accepted = 0;
  /** When set, new sockets go here instead of the queue read by next(). */
  handler: ((s: net.Socket) => void) | undefined;
  private readonly sockets = new Set<net.Socket>();
  private queue: net.Socket[] = [];
  private waiters: Array<(s: net.Socket) => void> = [];

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static start(): Promise<Backend> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ noDelay: true });
      server.maxConnections = 30000;
      server.once('error', reject);
      server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
        const b = new Backend(server, (server.address() as net.AddressInfo).port);
        server.on('connection', (s) => b.onConnection(s));
        resolve(b);
      });
    });
  }

  private onConnection(s: net.Socket): void {
    this.accepted++;
    this.sockets.add(s);
    s.on('error', () => {}); // resets are expected when gateways tear down
    s.on('close', () => this.sockets.delete(s));
    if (this.handler) return this.handler(s);
    const w = this.waiters.shift();
    if (w) w(s);
    else this.queue.push(s);
  }

  /** Next accepted socket (callers bound this with the scenario timeout). */
  next(): Promise<net.Socket> {
    const s = this.queue.shift();
    if (s) return Promise.resolve(s);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Drops queued sockets left over from the readiness probe. */
  reset(): void {
    for (const s of this.queue) s.destroy();
    this.queue = [];
    this.handler = undefined;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** Resolves on 'drain'; rejects if the socket dies first (no hang on a dead peer). */
function drained(s: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      s.off('drain', ok).off('close', bad);
      err ? reject(err) : resolve();
    };
    const ok = (): void => done();
    const bad = (): void => done(new Error('backend socket closed while sending'));
    s.on('drain', ok).on('close', bad);
  });
}

/** Writes stream `id` with backpressure, then ends the socket. */
export async function sendStream(s: net.Socket, id: number, total: number, size: number): Promise<void> {
  for (const c of chunks(id, total, size)) {
    if (!s.write(c)) await drained(s);
  }
  s.end();
}

export interface SinkResult {
  bytes: number;
  intact: boolean;
  firstBad: number | undefined;
  /** hrtime when `expected` bytes had arrived, or of the last byte if they never did. */
  tEnd: bigint | undefined;
}

export interface Sink {
  /** Resolves once `expected` bytes arrived or the socket closed. */
  done: Promise<SinkResult>;
  /** Bytes so far (to notice a stalled, short stream). */
  bytes(): number;
  /** Gives up waiting: resolves `done` with whatever arrived. */
  stop(): void;
}

/** Checks everything arriving on `s` against stream `id` until `expected` bytes arrived. */
export function sink(s: net.Socket, id: number, expected: number, size: number): Sink {
  const check = new StreamCheck(id, expected, size);
  let bytes = 0;
  let tLast: bigint | undefined;
  let finish!: () => void;
  const done = new Promise<SinkResult>((resolve) => {
    let finished = false;
    finish = () => {
      if (finished) return;
      finished = true;
      s.removeListener('data', onData);
      resolve({ bytes, intact: check.intact, firstBad: check.firstBad, tEnd: tLast });
    };
  });
  const onData = (d: Buffer): void => {
    check.add(d);
    bytes += d.length;
    tLast = nowNs();
    if (bytes >= expected) finish();
  };
  s.on('data', onData);
  s.once('close', () => finish());
  return { done, bytes: () => bytes, stop: () => finish() };
}
